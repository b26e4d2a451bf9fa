use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The signing algorithms authd knows (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HS256,
    RS256,
    ES256,
    EdDSA,
}

impl Algorithm {
    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
            Algorithm::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// Exact names only: JOSE algorithm names are case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HS256" => Ok(Algorithm::HS256),
            "RS256" => Ok(Algorithm::RS256),
            "ES256" => Ok(Algorithm::ES256),
            "EdDSA" => Ok(Algorithm::EdDSA),
            other => Err(format!(
                "unknown algorithm {other:?}: expected HS256, RS256, ES256 or EdDSA"
            )),
        }
    }
}

/// Why a key could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("an HS256 secret must be at least {min} bytes, got {got}")]
    SecretTooShort { min: usize, got: usize },
    #[error("{0} keys are not supported yet")]
    Unsupported(Algorithm),
}

/// One key able to sign: its id, algorithm and the jsonwebtoken key material.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    verification: VerificationKey,
}

/// One key able to verify.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    pub(crate) alg: Algorithm,
    pub(crate) decoding: DecodingKey,
}

impl SigningKey {
    /// Minimum HS256 secret: the hash output size (RFC 7518 §3.2).
    pub const MIN_HS256_SECRET: usize = 32;

    /// An HS256 key from a secret, used as its UTF-8 bytes.
    ///
    /// The `kid` is the RFC 7638 thumbprint of the secret's `oct` JWK: stable across
    /// restarts and replicas that share the secret, and revealing nothing a signed token
    /// does not already allow an attacker to test offline.
    pub fn hs256(secret: &SecretString) -> Result<Self, KeyError> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < Self::MIN_HS256_SECRET {
            return Err(KeyError::SecretTooShort {
                min: Self::MIN_HS256_SECRET,
                got: bytes.len(),
            });
        }
        // RFC 7638 §3.2: members in lexicographic order, no whitespace.
        let jwk = format!(r#"{{"k":"{}","kty":"oct"}}"#, URL_SAFE_NO_PAD.encode(bytes));
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()));
        Ok(Self {
            kid,
            alg: Algorithm::HS256,
            encoding: EncodingKey::from_secret(bytes),
            verification: VerificationKey {
                alg: Algorithm::HS256,
                decoding: DecodingKey::from_secret(bytes),
            },
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Exactly one signing key and any number of verification keys, looked up by `kid`.
///
/// Rotation: a new key signs while the old ones stay in the verification set until the
/// last token they signed has expired.
#[derive(Clone)]
pub struct KeySet {
    signing: Arc<SigningKey>,
    verification: Arc<HashMap<String, VerificationKey>>,
}

impl KeySet {
    /// A key set whose only key is `signing`.
    pub fn new(signing: SigningKey) -> Self {
        Self::with_verification_keys(signing, std::iter::empty())
    }

    /// A key set that signs with `signing` and also verifies with `others`.
    pub fn with_verification_keys(
        signing: SigningKey,
        others: impl IntoIterator<Item = SigningKey>,
    ) -> Self {
        let mut verification: HashMap<String, VerificationKey> = others
            .into_iter()
            .map(|k| (k.kid.clone(), k.verification.clone()))
            .collect();
        verification.insert(signing.kid.clone(), signing.verification.clone());
        Self {
            signing: Arc::new(signing),
            verification: Arc::new(verification),
        }
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub(crate) fn verification_key(&self, kid: &str) -> Option<&VerificationKey> {
        self.verification.get(kid)
    }

    /// The algorithms of the verification keys: the only ones a token may name.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut algs: Vec<Algorithm> = self.verification.values().map(|k| k.alg).collect();
        algs.sort_by_key(|a| a.as_str());
        algs.dedup();
        algs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hs256_secret_shorter_than_32_bytes_is_refused() {
        let err = SigningKey::hs256(&SecretString::from("x".repeat(31))).unwrap_err();
        assert!(matches!(err, KeyError::SecretTooShort { min: 32, got: 31 }));
    }

    #[test]
    fn the_hs256_kid_is_stable_and_depends_on_the_secret() {
        let a = SigningKey::hs256(&SecretString::from("a".repeat(32))).unwrap();
        let a2 = SigningKey::hs256(&SecretString::from("a".repeat(32))).unwrap();
        let b = SigningKey::hs256(&SecretString::from("b".repeat(32))).unwrap();
        assert_eq!(a.kid(), a2.kid());
        assert_ne!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 43, "base64url of a SHA-256 digest");
    }

    #[test]
    fn algorithm_names_are_case_sensitive() {
        assert_eq!("EdDSA".parse::<Algorithm>().unwrap(), Algorithm::EdDSA);
        assert!("hs256".parse::<Algorithm>().is_err());
        assert!("none".parse::<Algorithm>().is_err());
    }
}
