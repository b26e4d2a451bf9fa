//! A key that signs: built from an HS256 secret, read from a PEM private key, or
//! generated; named by its RFC 7638 thumbprint.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use rand_core::OsRng;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::private_pem::{
    check_key_parameters, ed25519_keypair, ed25519_pkcs8_v1_der, p256_pkcs8_der,
};
use super::{Algorithm, KeyError, VerificationKey};
use crate::signer::{Signer, rsa_from_pem};

/// One key able to sign: its id, algorithm, what signs with it and how to verify it.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    signer: Signer,
    verification: VerificationKey,
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

    /// The key id (`kid`, RFC 7515 §4.1.4): the RFC 7638 thumbprint of the key's JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key signs and verifies with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// How tokens signed by this key are verified.
    pub(super) fn verification(&self) -> &VerificationKey {
        &self.verification
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
}
