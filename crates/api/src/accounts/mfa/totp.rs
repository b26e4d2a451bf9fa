//! RFC 6238 TOTP as authenticator apps compute it: HMAC-SHA-1, 6 digits, 30-second steps
//! from the Unix epoch (RFC 6238 §4), with the dynamic truncation of HOTP (RFC 4226 §5.3);
//! secrets of 160 bits (RFC 4226 §4 R6), written in base32 without padding (RFC 4648 §6),
//! as the `otpauth://` key URI format expects.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// RFC 6238 §4.1 X: the step length in seconds.
pub const PERIOD: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Secret length in bytes: 160 bits, the length of an HMAC-SHA-1 output (RFC 4226 §4 R6).
pub const SECRET_BYTES: usize = 20;
/// Steps either side of the current one that are accepted (RFC 6238 §5.2: "at most one
/// time step is allowed as the network delay").
pub const WINDOW: i64 = 1;

/// The time step `T` of `unix_seconds` (RFC 6238 §4.2, T0 = 0).
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(PERIOD as i64)
}

/// The code of time step `step` under `secret` (RFC 4226 §5.3 over T, RFC 6238 §4.2).
pub fn code_for_step(secret: &[u8], step: i64) -> u32 {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // RFC 4226 §5.3: the low 4 bits of the last byte choose where 31 bits are read.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let bits = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    bits % 10u32.pow(DIGITS)
}

/// The code at `unix_seconds`, as six digits (what an authenticator shows).
pub fn code_at(secret: &[u8], unix_seconds: i64) -> String {
    format!("{:06}", code_for_step(secret, step_at(unix_seconds)))
}

/// Whether `input` looks like a TOTP code: exactly six ASCII digits (API.md: "a 6-digit
/// input is always a TOTP code").
pub fn is_totp_code(input: &str) -> bool {
    input.len() == DIGITS as usize && input.bytes().all(|b| b.is_ascii_digit())
}

/// The step within [`WINDOW`] of `now` whose code is `code`, if any; each candidate is
/// compared in constant time. The caller still refuses a step not later than the last one
/// accepted (RFC 6238 §5.2).
pub fn matching_step(secret: &[u8], code: &str, unix_seconds: i64) -> Option<i64> {
    if !is_totp_code(code) {
        return None;
    }
    let now = step_at(unix_seconds);
    let mut found = None;
    for step in now - WINDOW..=now + WINDOW {
        let candidate = format!("{:06}", code_for_step(secret, step));
        if bool::from(candidate.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 §6 base32, without padding: how `otpauth://` URIs carry a secret.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    encode_base32(bytes, ALPHABET)
}

/// The bytes of an RFC 4648 base32 text (no padding, case-insensitive); `None` for any
/// other character. For clients and tests that hold a secret as the enrolment showed it.
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// Five bits at a time, most significant first; the last group is padded with zero bits.
pub(super) fn encode_base32(bytes: &[u8], alphabet: &[u8; 32]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(alphabet[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(alphabet[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The key URI an authenticator app scans:
/// `otpauth://totp/<issuer>:<username>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`,
/// issuer and username percent-encoded (RFC 3986 §2.1, all but the unreserved characters).
pub fn otpauth_uri(issuer: &str, username: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        percent_encode(username),
        base32(secret),
    )
}

/// Every byte but RFC 3986 §2.3's unreserved characters as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn the_rfc_6238_appendix_b_sha1_vectors_hold() {
        // Appendix B gives 8 digits; the 6-digit code is the same number mod 10^6.
        for (time, eight_digits) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(code_at(RFC_SEED, time), eight_digits[2..], "T = {time}");
        }
    }

    #[test]
    fn the_rfc_6238_time_steps_hold() {
        // Appendix B's T column, in hex.
        assert_eq!(step_at(59), 0x1);
        assert_eq!(step_at(1111111109), 0x23523EC);
        assert_eq!(step_at(20000000000), 0x27BC86AA);
    }

    #[test]
    fn one_step_either_side_is_accepted_and_two_are_not() {
        let now = 1_700_000_000;
        let step = step_at(now);
        for offset in -1..=1 {
            let code = code_at(RFC_SEED, now + offset * PERIOD as i64);
            assert_eq!(matching_step(RFC_SEED, &code, now), Some(step + offset));
        }
        for offset in [-2, 2] {
            let code = code_at(RFC_SEED, now + offset * PERIOD as i64);
            assert_eq!(matching_step(RFC_SEED, &code, now), None);
        }
        assert_eq!(matching_step(RFC_SEED, "12345", now), None);
        assert_eq!(matching_step(RFC_SEED, "１２３４５６", now), None);
    }

    #[test]
    fn base32_matches_rfc_4648_without_padding() {
        // RFC 4648 §10 test vectors, padding removed.
        for (input, expected) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), expected);
        }
        assert_eq!(base32(&[0u8; SECRET_BYTES]).len(), 32);
        let secret: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_base32(&base32(&secret)), Some(secret));
        assert_eq!(decode_base32("mzxw6ytboi").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(decode_base32("MZ1"), None);
    }

    #[test]
    fn the_key_uri_is_spelled_as_the_contract_says() {
        assert_eq!(
            otpauth_uri("auth.example.com", "Alice Smith", b"foobar"),
            "otpauth://totp/auth.example.com:Alice%20Smith?secret=MZXW6YTBOI\
             &issuer=auth.example.com&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri("A&B:C", "zoë", b"f"),
            "otpauth://totp/A%26B%3AC:zo%C3%AB?secret=MY&issuer=A%26B%3AC\
             &algorithm=SHA1&digits=6&period=30"
        );
    }
}
