//! Reading private keys in their common PEM forms into what jsonwebtoken accepts, and the
//! checks that a key fits its algorithm. RSA private keys are read by `crate::signer`,
//! into ring.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};

use super::{Algorithm, KeyError};

/// Smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Ed25519 private keys come as PKCS#8 v1 (RFC 8410, what `openssl genpkey` writes) or v2
/// (with the public key). jsonwebtoken derives the public key from v1 only, so read either
/// and hand it v1.
pub(super) fn ed25519_pkcs8_v1_der(pem: &[u8]) -> Result<Vec<u8>, Error> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let invalid = || Error::from(ErrorKind::InvalidEddsaKey);
    let pem = std::str::from_utf8(pem).map_err(|_| invalid())?;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|_| invalid())?;
    let der = ed25519_keypair(&key)
        .to_pkcs8_der()
        .map_err(|_| invalid())?;
    Ok(der.as_bytes().to_vec())
}

/// P-256 private keys come as PKCS#8 or as SEC1 (`EC PRIVATE KEY`, what
/// `openssl ecparam -genkey` writes); jsonwebtoken reads PKCS#8 only.
pub(super) fn p256_pkcs8_der(pem: &[u8]) -> Result<Vec<u8>, Error> {
    use p256::pkcs8::DecodePrivateKey;
    let invalid = || Error::from(ErrorKind::InvalidEcdsaKey);
    let pem = std::str::from_utf8(pem).map_err(|_| invalid())?;
    let key = p256::SecretKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
        .map_err(|_| invalid())?;
    let der = key.to_pkcs8_der().map_err(|_| invalid())?;
    Ok(der.as_bytes().to_vec())
}

/// An Ed25519 key as PKCS#8 v1 key-pair bytes (RFC 8410: the private key alone).
pub(super) fn ed25519_keypair(
    key: &ed25519_dalek::SigningKey,
) -> ed25519_dalek::pkcs8::KeypairBytes {
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
