//! Signing and verification keys: the [`Algorithm`]s authd knows, a [`SigningKey`] (from a
//! secret, a PEM file or generated), and the [`KeySet`] a server signs and verifies with.
//!
//! - `algorithm`: the JOSE algorithm names;
//! - `signing_key`: building a key that signs, and signing;
//! - `verification_key`: checking a signature with a key;
//! - `private_pem`: private keys' PEM forms, and whether a key fits its algorithm.

mod algorithm;
mod private_pem;
mod signing_key;
mod verification_key;

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, JwkSet};

pub use algorithm::Algorithm;
#[cfg(feature = "remote")]
pub(crate) use private_pem::check_key_parameters;
pub use signing_key::SigningKey;
pub(crate) use verification_key::VerificationKey;

/// Why a key could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("an HS256 secret must be at least {min} bytes, got {got}")]
    SecretTooShort { min: usize, got: usize },
    #[error("not a usable {alg} private key in PEM form: {reason}")]
    InvalidPem { alg: Algorithm, reason: String },
    #[error("the key does not fit {alg}: {reason}")]
    WrongKeyType {
        alg: Algorithm,
        reason: &'static str,
    },
    #[error("{0} uses a shared secret, not a private key")]
    NotAsymmetric(Algorithm),
    #[error("cannot generate a {alg} key: {reason}")]
    Generation { alg: Algorithm, reason: String },
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
            .map(|k| (k.kid().to_owned(), k.verification().clone()))
            .collect();
        verification.insert(signing.kid().to_owned(), signing.verification().clone());
        Self {
            signing: Arc::new(signing),
            verification: Arc::new(verification),
        }
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub(crate) fn verification_key(&self, kid: &str) -> Option<&VerificationKey> {
        self.verification.get(kid)
    }

    /// The public keys, as a JWK Set (RFC 7517 §5): never a private member, never an HMAC
    /// secret (an HS256 key set publishes nothing).
    pub fn jwks(&self) -> JwkSet {
        let mut keys: Vec<Jwk> = self
            .verification
            .values()
            .filter_map(|k| k.public_jwk.clone())
            .collect();
        keys.sort_by(|a, b| a.common.key_id.cmp(&b.common.key_id));
        JwkSet { keys }
    }

    /// The ids of every verification key, sorted.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.verification.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
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
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn the_jwks_publishes_public_keys_only_and_nothing_for_hmac() {
        let hs = KeySet::new(SigningKey::hs256(&SecretString::from("k".repeat(32))).unwrap());
        assert!(hs.jwks().keys.is_empty());
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let (_, key) = SigningKey::generate(alg).unwrap();
            let kid = key.kid().to_owned();
            let set = KeySet::new(key);
            let json = serde_json::to_value(set.jwks()).unwrap();
            let jwk = &json["keys"][0];
            assert_eq!(jwk["kid"], kid.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(jwk.get(private).is_none(), "{alg} JWK has {private}: {jwk}");
            }
        }
    }
}
