//! Opaque refresh tokens (RFC 6749 §1.5): generated or derived here, stored only as a
//! selector and a hash ([`StoredRefreshToken`]), checked when presented
//! ([`PresentedRefreshToken`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

const SELECTOR_LEN: usize = 16;
const VERIFIER_LEN: usize = 32;
const TOKEN_BYTES: usize = SELECTOR_LEN + VERIFIER_LEN;
/// Length of the encoded token: base64url without padding of 48 bytes.
const ENCODED_LEN: usize = TOKEN_BYTES * 4 / 3;

/// A refresh token as it is stored: a public selector (the row's key) and the SHA-256 of
/// its secret part. The plaintext exists only in the response that hands it out.
///
/// The token is the "split token" pattern: 128 random bits to find the row and 256 random
/// bits of secret, compared in constant time, so neither a lookup's timing nor a database
/// read reveals a usable token.
#[derive(Debug, Clone)]
pub struct StoredRefreshToken {
    /// The row key (random, not time-ordered: it must not be guessable).
    pub id: Uuid,
    /// SHA-256 of the secret part.
    pub secret_hash: [u8; 32],
}

impl StoredRefreshToken {
    /// A new random token: the value to give the client, and what to store.
    pub fn generate() -> Result<(String, StoredRefreshToken), getrandom::Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The token that replaces `spent` when it is rotated: derived from it under `key`
    /// rather than drawn at random, so that a replay of `spent` within the reuse grace
    /// can be answered with the very string the first rotation returned, by any replica,
    /// although only hashes are stored. A session therefore has one chain of tokens and
    /// never forks (RFC 9700 §4.14.2: rotation detects reuse only if there is one chain).
    ///
    /// Without `key`, nobody can compute a successor from a token: holding the token is
    /// no more than holding the token.
    pub fn successor(key: &RefreshChainKey, spent: &PresentedRefreshToken) -> (String, Self) {
        // Selector and secret from separate HMAC outputs (domain-separated), so that the
        // selector, which is stored and logged in clear, says nothing of the secret.
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = key.mac();
            mac.update(label);
            mac.update(spent.id.as_bytes());
            mac.update(&spent.secret);
            mac.finalize().into_bytes().into()
        };
        let selector = derive(b"authd refresh-token successor v1: selector\0");
        let secret = derive(b"authd refresh-token successor v1: secret\0");
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..SELECTOR_LEN].copy_from_slice(&selector[..SELECTOR_LEN]);
        bytes[SELECTOR_LEN..].copy_from_slice(&secret);
        Self::from_bytes(bytes)
    }

    fn from_bytes(bytes: [u8; TOKEN_BYTES]) -> (String, Self) {
        let (selector, secret) = bytes.split_at(SELECTOR_LEN);
        let stored = StoredRefreshToken {
            id: Uuid::from_slice(selector).expect("16 bytes"),
            secret_hash: Sha256::digest(secret).into(),
        };
        (URL_SAFE_NO_PAD.encode(bytes), stored)
    }
}

/// The server key that derives each refresh token's successor (see
/// [`StoredRefreshToken::successor`]); every replica of one deployment holds the same one.
#[derive(Clone)]
pub struct RefreshChainKey(Hmac<Sha256>);

impl RefreshChainKey {
    /// Key bytes of at least 32 bytes (256 bits, the HMAC-SHA-256 block strength).
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() < 32 {
            return None;
        }
        Hmac::<Sha256>::new_from_slice(key).ok().map(Self)
    }

    /// A key from the deployment's stored random bytes, bound to a configured secret when
    /// there is one (`JWT_SECRET`), so that whoever reads the database alone cannot
    /// compute successors: HMAC-SHA-256(stored, label ‖ configured).
    pub fn from_parts(stored: &[u8], configured: Option<&[u8]>) -> Option<Self> {
        let Some(configured) = configured else {
            return Self::new(stored);
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(stored).ok()?;
        mac.update(b"authd refresh-token chain key v1\0");
        mac.update(configured);
        let derived: [u8; 32] = mac.finalize().into_bytes().into();
        Self::new(&derived)
    }

    /// 32 fresh random bytes for a new key.
    pub fn generate_bytes() -> Result<[u8; 32], getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(bytes)
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }
}

impl std::fmt::Debug for RefreshChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshChainKey(..)")
    }
}

/// A refresh token as a client presented it, parsed but not yet checked.
pub struct PresentedRefreshToken {
    id: Uuid,
    secret: [u8; VERIFIER_LEN],
}

impl PresentedRefreshToken {
    /// Parses a presented token; `None` when it cannot be one of ours.
    pub fn parse(token: &str) -> Option<Self> {
        if token.len() != ENCODED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (selector, secret) = bytes.split_at_checked(SELECTOR_LEN)?;
        Some(Self {
            id: Uuid::from_slice(selector).ok()?,
            secret: secret.try_into().ok()?,
        })
    }

    /// The row to look up.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Whether the secret matches the stored hash, compared in constant time.
    pub fn matches(&self, stored_hash: &[u8]) -> bool {
        let hash: [u8; 32] = Sha256::digest(self.secret).into();
        hash.ct_eq(stored_hash).into()
    }
}

impl std::fmt::Debug for PresentedRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedRefreshToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_and_matches_its_stored_hash() {
        let (token, stored) = StoredRefreshToken::generate().unwrap();
        assert_eq!(token.len(), 64);
        let presented = PresentedRefreshToken::parse(&token).unwrap();
        assert_eq!(presented.id(), stored.id);
        assert!(presented.matches(&stored.secret_hash));
    }

    #[test]
    fn tokens_are_unique_and_carry_256_secret_bits() {
        let (a, sa) = StoredRefreshToken::generate().unwrap();
        let (b, sb) = StoredRefreshToken::generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(sa.secret_hash, sb.secret_hash);
        assert_eq!(VERIFIER_LEN * 8, 256);
    }

    #[test]
    fn a_changed_secret_does_not_match() {
        let (token, stored) = StoredRefreshToken::generate().unwrap();
        let mut chars: Vec<char> = token.chars().collect();
        let last = chars.len() - 2;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        let presented = PresentedRefreshToken::parse(&altered).unwrap();
        assert!(!presented.matches(&stored.secret_hash));
    }

    #[test]
    fn a_successor_is_the_same_for_the_same_token_and_key_and_matches_its_hash() {
        let key = RefreshChainKey::new(&[7u8; 32]).unwrap();
        let (token, _) = StoredRefreshToken::generate().unwrap();
        let spent = PresentedRefreshToken::parse(&token).unwrap();
        let (next, stored) = StoredRefreshToken::successor(&key, &spent);
        let (again, _) = StoredRefreshToken::successor(&key, &spent);
        assert_eq!(next, again);
        assert_ne!(next, token);
        let presented = PresentedRefreshToken::parse(&next).unwrap();
        assert_eq!(presented.id(), stored.id);
        assert!(presented.matches(&stored.secret_hash));
    }

    #[test]
    fn a_successor_depends_on_the_key_and_on_the_whole_token() {
        let a = RefreshChainKey::new(&[7u8; 32]).unwrap();
        let b = RefreshChainKey::new(&[8u8; 32]).unwrap();
        let (token, _) = StoredRefreshToken::generate().unwrap();
        let spent = PresentedRefreshToken::parse(&token).unwrap();
        assert_ne!(
            StoredRefreshToken::successor(&a, &spent).0,
            StoredRefreshToken::successor(&b, &spent).0
        );
        let other = PresentedRefreshToken {
            id: spent.id,
            secret: [0u8; VERIFIER_LEN],
        };
        assert_ne!(
            StoredRefreshToken::successor(&a, &spent).0,
            StoredRefreshToken::successor(&a, &other).0
        );
        assert!(RefreshChainKey::new(&[1u8; 31]).is_none());
        let bound = RefreshChainKey::from_parts(&[7u8; 32], Some(b"a configured secret")).unwrap();
        assert_ne!(
            StoredRefreshToken::successor(&bound, &spent).0,
            StoredRefreshToken::successor(&a, &spent).0,
            "a configured secret changes every successor"
        );
    }

    #[test]
    fn garbage_does_not_parse() {
        for s in [
            "",
            "short",
            &"!".repeat(64),
            &"A".repeat(65),
            &"A".repeat(63),
        ] {
            assert!(PresentedRefreshToken::parse(s).is_none(), "{s}");
        }
    }
}
