//! Client secrets (RFC 6749 §2.3.1): 256 random bits shown once, stored as a SHA-256.
//!
//! No slow hash: a password needs argon2 because people choose guessable ones, but a
//! 256-bit random secret cannot be guessed, and a leaked SHA-256 of it cannot be inverted.
//! A fast hash keeps the client credentials grant cheap (no hashing thread, no queue), and
//! the comparison is constant-time so its timing says nothing of the stored hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a client secret.
const SECRET_BYTES: usize = 32;

/// A client secret's stored form: the SHA-256 of the string the client presents.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecretHash(pub [u8; 32]);

impl ClientSecretHash {
    /// A new random secret (base64url, 43 characters): the value to show once, and what
    /// to store.
    pub fn generate() -> Result<(String, ClientSecretHash), getrandom::Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        let hash = Self::of(&secret);
        Ok((secret, hash))
    }

    /// The hash of a presented secret.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Whether `presented` is the secret this is the hash of, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        Self::of(presented).0.ct_eq(&self.0).into()
    }

    /// A stored hash read back; `None` when it is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl std::fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecretHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_matches_its_hash_and_nothing_else() {
        let (secret, hash) = ClientSecretHash::generate().unwrap();
        assert_eq!(secret.len(), 43, "256 bits in base64url");
        assert!(hash.matches(&secret));
        assert!(!hash.matches(&format!("{secret}x")));
        assert!(!hash.matches(""));
        let (other, _) = ClientSecretHash::generate().unwrap();
        assert_ne!(secret, other);
    }
}
