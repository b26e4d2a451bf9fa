use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use rand_core::OsRng;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::VerifyError;
use crate::signer::{Signer, rsa_from_pem};

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

/// One key able to sign: its id, algorithm, what signs with it and how to verify it.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    signer: Signer,
    verification: VerificationKey,
}

/// One key able to verify, with its public JWK when it has one (never for HS256).
#[derive(Clone)]
pub(crate) struct VerificationKey {
    pub(crate) alg: Algorithm,
    pub(crate) decoding: DecodingKey,
    pub(crate) public_jwk: Option<Jwk>,
    /// HS256 only: HMAC-SHA256 already keyed (RFC 2104's inner and outer pads hashed
    /// once), cloned for each token instead of keyed again.
    pub(crate) hmac: Option<Hmac<Sha256>>,
}

impl VerificationKey {
    /// Checks a JWS signature (RFC 7515 §5.2 steps 8-9) over `message` (the encoded header,
    /// a dot, the encoded payload). HMAC comparisons are constant-time.
    pub(crate) fn verify_signature(
        &self,
        message: &[u8],
        signature: &str,
    ) -> Result<(), VerifyError> {
        match &self.hmac {
            Some(mac) => {
                let mut decoded = [0u8; 32];
                match URL_SAFE_NO_PAD.decode_slice(signature, &mut decoded) {
                    Ok(32) => {}
                    Ok(_) | Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                        return Err(VerifyError::BadSignature);
                    }
                    Err(base64::DecodeSliceError::DecodeError(_)) => {
                        return Err(VerifyError::Malformed);
                    }
                }
                mac.clone()
                    .chain_update(message)
                    .verify_slice(&decoded)
                    .map_err(|_| VerifyError::BadSignature)
            }
            None => match jsonwebtoken::crypto::verify(
                signature,
                message,
                &self.decoding,
                self.alg.to_jwt(),
            ) {
                Ok(true) => Ok(()),
                Ok(false) => Err(VerifyError::BadSignature),
                Err(_) => Err(VerifyError::Malformed),
            },
        }
    }
}

/// Smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
const MIN_RSA_MODULUS_BYTES: usize = 256;

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
            signer: Signer::Jwt(EncodingKey::from_secret(bytes)),
            verification: VerificationKey {
                alg: Algorithm::HS256,
                decoding: DecodingKey::from_secret(bytes),
                public_jwk: None,
                hmac: Some(
                    Hmac::<Sha256>::new_from_slice(bytes)
                        .map_err(|_| KeyError::SecretTooShort { min: 1, got: 0 })?,
                ),
            },
        })
    }

    /// An RS256, ES256 or EdDSA key from its PEM private key (PKCS#8; also PKCS#1 for RSA
    /// and SEC1 for P-256). The `kid` is the RFC 7638 thumbprint of the public JWK.
    pub fn from_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let invalid = |e: jsonwebtoken::errors::Error| KeyError::InvalidPem {
            alg,
            reason: e.to_string(),
        };
        let from_encoding = |encoding: EncodingKey| {
            let jwk = Jwk::from_encoding_key(&encoding, alg.to_jwt()).map_err(invalid)?;
            Ok::<_, KeyError>((Signer::Jwt(encoding), jwk))
        };
        let (signer, mut jwk) = match alg {
            Algorithm::HS256 => return Err(KeyError::NotAsymmetric(alg)),
            Algorithm::RS256 => {
                // The JWK is built from ring's public components: jsonwebtoken's would parse
                // the private key with the `rsa` crate (see `crate::signer`).
                let (signer, n, e) = rsa_from_pem(pem)?;
                let public = DecodingKey::from_rsa_raw_components(&n, &e);
                let jwk = Jwk::from_decoding_key(&public, Some(alg.to_jwt())).map_err(invalid)?;
                (signer, jwk)
            }
            Algorithm::ES256 => from_encoding(EncodingKey::from_ec_der(
                &p256_pkcs8_der(pem).map_err(invalid)?,
            ))?,
            Algorithm::EdDSA => from_encoding(EncodingKey::from_ed_der(
                &ed25519_pkcs8_v1_der(pem).map_err(invalid)?,
            ))?,
        };
        check_key_parameters(alg, &jwk.algorithm)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(invalid)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        Ok(Self {
            kid,
            alg,
            signer,
            verification: VerificationKey {
                alg,
                decoding,
                public_jwk: Some(jwk),
                hmac: None,
            },
        })
    }

    /// A new random RS256 (2048-bit), ES256 (P-256) or EdDSA (Ed25519) key, with its
    /// PKCS#8 PEM to store.
    ///
    /// RSA keys are generated with the `rsa` crate (ring cannot generate them), which then
    /// never touches them again: signing is ring's (see `crate::signer`). Generation runs
    /// once, on the operator's machine (`authd keys generate`) or at a first start, on no
    /// input from anyone, which is outside what RUSTSEC-2023-0071 is about: a private-key
    /// operation repeated on attacker-chosen input while its timing is watched.
    pub fn generate(alg: Algorithm) -> Result<(SecretString, Self), KeyError> {
        let failed = |reason: String| KeyError::Generation { alg, reason };
        let pem = match alg {
            Algorithm::HS256 => return Err(KeyError::NotAsymmetric(alg)),
            Algorithm::RS256 => rsa::RsaPrivateKey::new(&mut OsRng, 2048)
                .map_err(|e| failed(e.to_string()))?
                .to_pkcs8_pem(LineEnding::LF),
            Algorithm::ES256 => p256::SecretKey::random(&mut OsRng).to_pkcs8_pem(LineEnding::LF),
            Algorithm::EdDSA => ed25519_keypair(&ed25519_dalek::SigningKey::generate(&mut OsRng))
                .to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| failed(e.to_string()))?;
        let key = Self::from_pem(alg, pem.as_bytes())?;
        Ok((SecretString::from(pem.to_string()), key))
    }

    /// The public JWK (RFC 7517) of an asymmetric key; `None` for HS256.
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.verification.public_jwk.as_ref()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    #[cfg(test)]
    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The compact JWS (RFC 7515 §7.1) of `claims` under `header`, signed with this key.
    /// The header must name this key's algorithm.
    pub(crate) fn sign<T: Serialize>(
        &self,
        header: &Header,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        if header.alg != self.alg.to_jwt() {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into());
        }
        let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut token);
        let signature = self.signer.sign(self.alg, token.as_bytes())?;
        token.push('.');
        token.push_str(&signature);
        Ok(token)
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

/// Ed25519 private keys come as PKCS#8 v1 (RFC 8410, what `openssl genpkey` writes) or v2
/// (with the public key). jsonwebtoken derives the public key from v1 only, so read either
/// and hand it v1.
fn ed25519_pkcs8_v1_der(pem: &[u8]) -> Result<Vec<u8>, jsonwebtoken::errors::Error> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let invalid =
        || jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidEddsaKey);
    let pem = std::str::from_utf8(pem).map_err(|_| invalid())?;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|_| invalid())?;
    let der = ed25519_keypair(&key)
        .to_pkcs8_der()
        .map_err(|_| invalid())?;
    Ok(der.as_bytes().to_vec())
}

/// P-256 private keys come as PKCS#8 or as SEC1 (`EC PRIVATE KEY`, what
/// `openssl ecparam -genkey` writes); jsonwebtoken reads PKCS#8 only.
fn p256_pkcs8_der(pem: &[u8]) -> Result<Vec<u8>, jsonwebtoken::errors::Error> {
    use p256::pkcs8::DecodePrivateKey;
    let invalid =
        || jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey);
    let pem = std::str::from_utf8(pem).map_err(|_| invalid())?;
    let key = p256::SecretKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
        .map_err(|_| invalid())?;
    let der = key.to_pkcs8_der().map_err(|_| invalid())?;
    Ok(der.as_bytes().to_vec())
}

fn ed25519_keypair(key: &ed25519_dalek::SigningKey) -> ed25519_dalek::pkcs8::KeypairBytes {
    ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
}

/// The key must be of the algorithm's type and strong enough: RSA of 2048 bits or more
/// (RFC 7518 §3.3), P-256 for ES256 (§3.4), Ed25519 for EdDSA (RFC 8037 §3.1).
pub(crate) fn check_key_parameters(
    alg: Algorithm,
    params: &AlgorithmParameters,
) -> Result<(), KeyError> {
    let wrong = |reason| Err(KeyError::WrongKeyType { alg, reason });
    match (alg, params) {
        (Algorithm::RS256, AlgorithmParameters::RSA(rsa)) => {
            let modulus = URL_SAFE_NO_PAD.decode(&rsa.n).unwrap_or_default();
            let bytes = modulus.iter().skip_while(|b| **b == 0).count();
            if bytes < MIN_RSA_MODULUS_BYTES {
                return wrong("an RSA key must have at least 2048 bits");
            }
            Ok(())
        }
        (Algorithm::ES256, AlgorithmParameters::EllipticCurve(ec))
            if ec.curve == EllipticCurve::P256 =>
        {
            Ok(())
        }
        (Algorithm::ES256, _) => wrong("ES256 needs a P-256 key"),
        (Algorithm::EdDSA, AlgorithmParameters::OctetKeyPair(okp))
            if okp.curve == EllipticCurve::Ed25519 =>
        {
            Ok(())
        }
        (Algorithm::EdDSA, _) => wrong("EdDSA needs an Ed25519 key"),
        _ => wrong("not a key of this algorithm's family"),
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
    fn generated_keys_round_trip_through_pem_with_a_thumbprint_kid() {
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let (pem, key) = SigningKey::generate(alg).unwrap();
            assert!(
                pem.expose_secret()
                    .starts_with("-----BEGIN PRIVATE KEY-----")
            );
            let again = SigningKey::from_pem(alg, pem.expose_secret().as_bytes()).unwrap();
            assert_eq!(key.kid(), again.kid(), "{alg}");
            assert_eq!(key.kid().len(), 43, "base64url SHA-256 thumbprint");
            let jwk = key.public_jwk().unwrap();
            assert_eq!(jwk.common.key_id.as_deref(), Some(key.kid()));
            assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), key.kid());
        }
    }

    #[test]
    fn a_key_of_the_wrong_type_is_refused() {
        let (ed, _) = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let (ec, _) = SigningKey::generate(Algorithm::ES256).unwrap();
        assert!(SigningKey::from_pem(Algorithm::ES256, ed.expose_secret().as_bytes()).is_err());
        assert!(SigningKey::from_pem(Algorithm::RS256, ec.expose_secret().as_bytes()).is_err());
        assert!(SigningKey::from_pem(Algorithm::EdDSA, b"not a pem").is_err());
        assert!(matches!(
            SigningKey::from_pem(Algorithm::HS256, ec.expose_secret().as_bytes()),
            Err(KeyError::NotAsymmetric(_))
        ));
    }

    #[test]
    fn an_rsa_key_under_2048_bits_is_refused() {
        let small = rsa::RsaPrivateKey::new(&mut OsRng, 1024)
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        assert!(matches!(
            SigningKey::from_pem(Algorithm::RS256, small.as_bytes()),
            Err(KeyError::WrongKeyType { .. })
        ));
    }

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

    #[test]
    fn algorithm_names_are_case_sensitive() {
        assert_eq!("EdDSA".parse::<Algorithm>().unwrap(), Algorithm::EdDSA);
        assert!("hs256".parse::<Algorithm>().is_err());
        assert!("none".parse::<Algorithm>().is_err());
    }
}
