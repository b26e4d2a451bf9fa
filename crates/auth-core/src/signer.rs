//! Producing JWS signatures (RFC 7515 §5.1), and reading RSA private keys into ring.
//!
//! RS256 signs with ring, never with the `rsa` crate: the `rsa` crate's private-key
//! operations take time that depends on the key (RUSTSEC-2023-0071, the Marvin attack: the
//! key can be recovered from timings observed over the network; no fixed version exists).
//! ring's RSA signing is constant-time (Montgomery exponentiation over fixed-size limbs,
//! with blinding) and is the code rustls already uses. The other algorithms sign through
//! jsonwebtoken's RustCrypto backend, whose HMAC, P-256 and Ed25519 are constant-time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::errors::{Error, ErrorKind};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use crate::keys::{Algorithm, KeyError};

/// What computes a key's signatures.
pub(crate) enum Signer {
    /// HS256, ES256 and EdDSA, through jsonwebtoken.
    Jwt(EncodingKey),
    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3), through ring. Boxed: ring's
    /// key pair (its primes in Montgomery form) is far larger than the other variant.
    Rsa(Box<RsaKeyPair>, SystemRandom),
}

impl Signer {
    /// The base64url signature of `message` (the encoded header, a dot, the encoded payload).
    pub(crate) fn sign(&self, alg: Algorithm, message: &[u8]) -> Result<String, Error> {
        match self {
            Signer::Jwt(key) => jsonwebtoken::crypto::sign(message, key, alg.to_jwt()),
            Signer::Rsa(pair, rng) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, rng, message, &mut signature)
                    .map_err(|_| Error::from(ErrorKind::RsaFailedSigning))?;
                Ok(URL_SAFE_NO_PAD.encode(signature))
            }
        }
    }
}

/// An RSA private key in PEM form, PKCS#8 (`PRIVATE KEY`, what `openssl genpkey` and
/// `authd keys generate` write) or PKCS#1 (`RSA PRIVATE KEY`), and its public modulus and
/// exponent (big-endian, no leading zeros, as RFC 7518 §6.3.1 wants them in a JWK).
///
/// ring accepts moduli of 2048, 3072 or 4096 bits (two primes of a multiple of 512 bits)
/// and a public exponent of at least 65537: what every current tool generates.
pub(crate) fn rsa_from_pem(pem: &[u8]) -> Result<(Signer, Vec<u8>, Vec<u8>), KeyError> {
    let alg = Algorithm::RS256;
    let invalid = |reason: String| KeyError::InvalidPem { alg, reason };
    let pem = pem::parse(pem).map_err(|e| invalid(e.to_string()))?;
    let pair = match pem.tag() {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(pem.contents()),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(pem.contents()),
        other => {
            return Err(invalid(format!(
                "expected a PRIVATE KEY (PKCS#8) or an RSA PRIVATE KEY (PKCS#1), not {other}"
            )));
        }
    }
    .map_err(|rejected| {
        let wrong = |reason| KeyError::WrongKeyType { alg, reason };
        match rejected.to_string().as_str() {
            "TooSmall" => wrong("an RSA key must have at least 2048 bits"),
            "TooLarge" => wrong("an RSA key may have at most 4096 bits"),
            "PrivateModulusLenNotMultipleOf512Bits" => {
                wrong("an RSA key must have 2048, 3072 or 4096 bits")
            }
            "WrongAlgorithm" => wrong("not an RSA key"),
            other => invalid(format!("the RSA key is refused: {other}")),
        }
    })?;
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((
        Signer::Rsa(Box::new(pair), SystemRandom::new()),
        public.n,
        public.e,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
    use jsonwebtoken::{DecodingKey, Validation};
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{DecodePrivateKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::{Claims, KeySet, SigningKey, TokenIssuer, TokenSubject, Verifier, VerifierConfig};

    fn issue(key: SigningKey) -> (KeySet, String, Claims) {
        let keys = KeySet::new(key);
        let issuer = TokenIssuer::new(
            keys.clone(),
            "authd".into(),
            "api".into(),
            Duration::from_secs(600),
        );
        let subject = TokenSubject {
            user_id: uuid::Uuid::now_v7(),
            session_id: uuid::Uuid::now_v7(),
            username: "alice".into(),
            roles: vec!["admin".into()],
            amr: Some(vec!["pwd".into()]),
            client_id: None,
        };
        let issued = issuer.issue(&subject).unwrap();
        (keys, issued.token, issued.claims)
    }

    #[test]
    fn rs256_tokens_are_signed_by_ring_and_verify_everywhere() {
        let (pem, key) = SigningKey::generate(Algorithm::RS256).unwrap();
        assert!(
            matches!(key.signer(), Signer::Rsa(..)),
            "RS256 signs with ring"
        );
        let (keys, token, claims) = issue(key);

        // authd's own verifier.
        let verifier = Verifier::new(keys.clone(), VerifierConfig::new("authd", "api"));
        assert_eq!(verifier.verify(&token).unwrap(), claims);

        // An independent verifier: jsonwebtoken's `decode` (the `rsa` crate's public-key
        // verification) with nothing but the published JWK.
        let jwk: &Jwk = &keys.jwks().keys[0];
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["api"]);
        validation.set_issuer(&["authd"]);
        let decoded = jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims, claims);

        // RSASSA-PKCS1-v1_5 is deterministic (RFC 8017 §8.2): the very bytes the `rsa`
        // crate, which signed before, makes of the same message with the same key.
        let (message, signature) = token.rsplit_once('.').unwrap();
        let reference = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::RS256,
        )
        .unwrap();
        assert_eq!(signature, reference);
    }

    #[test]
    fn the_kid_of_an_rsa_key_is_its_rfc_7638_thumbprint_in_pkcs8_and_pkcs1_alike() {
        // Computed without ring, as authd named RSA keys before it signed with ring: the
        // keys already stored in `signing_keys` keep their ids.
        let (pem, key) = SigningKey::generate(Algorithm::RS256).unwrap();
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem.expose_secret()).unwrap();
        let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
        let thumbprint_input = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            b64(private.e().to_bytes_be()),
            b64(private.n().to_bytes_be())
        );
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
        assert_eq!(key.kid(), expected);
        let AlgorithmParameters::RSA(params) = &key.public_jwk().unwrap().algorithm else {
            panic!("not an RSA JWK");
        };
        assert_eq!(params.e, "AQAB");

        let pkcs1 = private.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let again = SigningKey::from_pem(Algorithm::RS256, pkcs1.as_bytes()).unwrap();
        assert_eq!(again.kid(), expected);
        let (_, token, claims) = issue(again);
        let verifier = Verifier::new(KeySet::new(key), VerifierConfig::new("authd", "api"));
        assert_eq!(verifier.verify(&token).unwrap(), claims);
    }

    #[test]
    fn rsa_keys_ring_cannot_use_are_refused_with_the_reason() {
        let (ec, _) = SigningKey::generate(Algorithm::ES256).unwrap();
        assert!(matches!(
            rsa_from_pem(ec.expose_secret().as_bytes()),
            Err(KeyError::WrongKeyType {
                reason: "not an RSA key",
                ..
            })
        ));
        let public = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            rsa_from_pem(public.as_bytes()),
            Err(KeyError::InvalidPem { .. })
        ));
        assert!(matches!(
            rsa_from_pem(b"not a pem"),
            Err(KeyError::InvalidPem { .. })
        ));
    }
}
