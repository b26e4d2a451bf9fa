//! Recovery codes: ten per confirmed factor, each 50 bits from the system's random source
//! written as 10 Crockford-base32 characters and shown `XXXXX-XXXXX`; compared
//! case-insensitively, ignoring `-` and spaces (and Crockford's look-alikes `I`, `L` for
//! `1` and `O` for `0`). Only a hash is stored: SHA-256 over the user id and the
//! normalised code, so one precomputed table cannot serve every user.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::totp::encode_base32;
use crate::accounts::AccountError;

/// Codes issued at each confirmation.
pub const COUNT: usize = 10;
/// Characters of a code, without the dash: 10 × 5 bits = 50 bits.
const CHARS: usize = 10;
/// Crockford's alphabet: no I, L, O, U.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh code as shown to the user.
pub fn generate() -> Result<String, AccountError> {
    let mut bytes = [0u8; 7];
    getrandom::fill(&mut bytes)
        .map_err(|e| AccountError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    // 56 random bits, of which the first 50 make the code.
    let mut code = encode_base32(&bytes, CROCKFORD);
    code.truncate(CHARS);
    code.insert(5, '-');
    Ok(code)
}

/// The canonical form of what a user typed: `None` when it cannot be a recovery code.
pub fn normalise(input: &str) -> Option<String> {
    let mut code = String::with_capacity(CHARS);
    for c in input.chars().filter(|c| *c != '-' && *c != ' ') {
        let c = match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
            return None;
        }
        code.push(c);
    }
    (code.len() == CHARS).then_some(code)
}

/// What is stored for `code` (already normalised) of `user_id`.
pub fn hash(user_id: Uuid, normalised: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(user_id.as_bytes());
    hasher.update(normalised.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_crockford_characters_around_a_dash() {
        for _ in 0..100 {
            let code = generate().unwrap();
            assert_eq!(code.len(), 11);
            assert_eq!(&code[5..6], "-");
            assert_eq!(
                normalise(&code).as_deref(),
                Some(code.replace('-', "").as_str())
            );
        }
        assert_ne!(generate().unwrap(), generate().unwrap());
    }

    #[test]
    fn typing_is_forgiven_but_other_characters_are_not() {
        assert_eq!(normalise("abcde-fghjk").as_deref(), Some("ABCDEFGHJK"));
        assert_eq!(normalise(" ab cde fghjk ").as_deref(), Some("ABCDEFGHJK"));
        assert_eq!(
            normalise("oIl23-45678").as_deref(),
            Some("01123-45678".replace('-', "").as_str())
        );
        assert_eq!(normalise("ABCDE-FGHJ"), None);
        assert_eq!(normalise("ABCDE-FGHJU"), None);
        assert_eq!(normalise("123456"), None);
    }

    #[test]
    fn the_hash_depends_on_the_user() {
        let code = normalise("ABCDE-FGHJK").unwrap();
        assert_ne!(hash(Uuid::nil(), &code), hash(Uuid::max(), &code));
    }
}
