//! Verification keys that come without their private half: from a JWK Set (RFC 7517 §5)
//! or a pinned public key. Tokens are checked by [`Verifier::verify_with`], the very code
//! authd's own [`Verifier`] runs.

use std::collections::HashMap;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse, ThumbprintHash,
};
use serde::Deserialize;

use super::JwksError;
use crate::keys::{VerificationKey, check_key_parameters};
use crate::{Algorithm, Claims, KeyError, Verifier, VerifierConfig, VerifyError};

/// Public verification keys by `kid`, with the validations of their algorithms.
pub(crate) struct PublicKeys {
    keys: HashMap<String, VerificationKey>,
    config: VerifierConfig,
}

impl PublicKeys {
    /// No key at all: every token is [`VerifyError::UnknownKey`].
    pub(crate) fn empty() -> Self {
        Self {
            keys: HashMap::new(),
            config: VerifierConfig::new("", ""),
        }
    }

    /// The usable keys of a JWK Set document; the others are skipped (see [`usable_key`]).
    /// Each key is read on its own, so one key of a kind we do not know spoils nothing.
    pub(crate) fn from_jwks(document: &[u8], config: &VerifierConfig) -> Result<Self, JwksError> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(document).map_err(JwksError::NotAKeySet)?;
        let mut keys = HashMap::new();
        for jwk in document.keys {
            let Some((kid, key)) = serde_json::from_value(jwk).ok().and_then(usable_key) else {
                continue;
            };
            // RFC 7517 §4.5: a kid names one key; on a duplicate the first one stays.
            keys.entry(kid).or_insert(key);
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Self::new(keys, config))
    }

    /// One pinned public key (PEM: SubjectPublicKeyInfo, or PKCS#1 for RSA). Its `kid` is
    /// the RFC 7638 thumbprint, as authd names its keys.
    pub(crate) fn from_public_key_pem(
        alg: Algorithm,
        pem: &[u8],
        config: &VerifierConfig,
    ) -> Result<Self, KeyError> {
        let invalid = |e: jsonwebtoken::errors::Error| KeyError::InvalidPem {
            alg,
            reason: e.to_string(),
        };
        let decoding = match alg {
            Algorithm::HS256 => return Err(KeyError::NotAsymmetric(alg)),
            Algorithm::RS256 => DecodingKey::from_rsa_pem(pem),
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
        }
        .map_err(invalid)?;
        let mut jwk = Jwk::from_decoding_key(&decoding, Some(alg.to_jwt())).map_err(invalid)?;
        check_key_parameters(alg, &jwk.algorithm)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(invalid)?;
        jwk.common.key_id = Some(kid);
        let (kid, key) = usable_key(jwk).ok_or(KeyError::WrongKeyType {
            alg,
            reason: "not a public key of this algorithm",
        })?;
        Ok(Self::new(HashMap::from([(kid, key)]), config))
    }

    fn new(keys: HashMap<String, VerificationKey>, config: &VerifierConfig) -> Self {
        Self {
            keys,
            config: config.clone(),
        }
    }

    /// Exactly the checks of [`Verifier::verify`], against these keys.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        Verifier::verify_with(token, &self.config, |kid| self.keys.get(kid))
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// A JWK we verify with, and its `kid`; `None` for anything else: no `kid` or `alg`, an
/// algorithm other than RS256, ES256 or EdDSA, a key meant for encryption (RFC 7517 §4.2,
/// §4.3), a key that does not fit its `alg` (RSA under 2048 bits, a curve other than P-256
/// or Ed25519), and above all a symmetric (`oct`) key: a JWKS is public, so an HMAC secret
/// in it would let anyone sign (RFC 8725 §3.1).
fn usable_key(jwk: Jwk) -> Option<(String, VerificationKey)> {
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let alg = match jwk.common.key_algorithm? {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    };
    let kid = jwk.common.key_id.clone().filter(|kid| !kid.is_empty())?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
        || jwk
            .common
            .key_operations
            .as_ref()
            .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    check_key_parameters(alg, &jwk.algorithm).ok()?;
    let decoding = DecodingKey::from_jwk(&jwk).ok()?;
    let key = VerificationKey {
        alg,
        decoding,
        public_jwk: Some(jwk),
        hmac: None,
    };
    Some((kid, key))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::Header;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
    use secrecy::{ExposeSecret, SecretString};
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::*;
    use crate::{KeySet, SigningKey, TokenIssuer, TokenSubject, unix_now};

    const ASYMMETRIC: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

    fn config() -> VerifierConfig {
        VerifierConfig::new("authd", "api")
    }

    fn issuer(key: SigningKey) -> TokenIssuer {
        TokenIssuer::new(
            KeySet::new(key),
            "authd".into(),
            "api".into(),
            Duration::from_secs(600),
        )
    }

    fn subject() -> TokenSubject {
        TokenSubject {
            user_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            username: "alice".into(),
            roles: vec!["admin".into()],
            amr: Some(vec!["pwd".into()]),
            client_id: None,
        }
    }

    fn jwks_of(keys: &[&SigningKey]) -> Vec<u8> {
        let keys: Vec<&Jwk> = keys.iter().filter_map(|k| k.public_jwk()).collect();
        serde_json::to_vec(&json!({ "keys": keys })).unwrap()
    }

    fn public_key_pem(alg: Algorithm, private_pem: &str) -> String {
        match alg {
            Algorithm::RS256 => rsa::RsaPrivateKey::from_pkcs8_pem(private_pem)
                .unwrap()
                .to_public_key()
                .to_public_key_pem(LineEnding::LF),
            Algorithm::ES256 => p256::SecretKey::from_pkcs8_pem(private_pem)
                .unwrap()
                .public_key()
                .to_public_key_pem(LineEnding::LF),
            Algorithm::EdDSA => ed25519_dalek::SigningKey::from_pkcs8_pem(private_pem)
                .unwrap()
                .verifying_key()
                .to_public_key_pem(LineEnding::LF),
            Algorithm::HS256 => unreachable!(),
        }
        .unwrap()
    }

    #[test]
    fn tokens_verify_with_the_jwks_of_their_key() {
        for alg in ASYMMETRIC {
            let (_, key) = SigningKey::generate(alg).unwrap();
            let (_, other) = SigningKey::generate(alg).unwrap();
            let keys = PublicKeys::from_jwks(&jwks_of(&[&key, &other]), &config()).unwrap();
            assert_eq!(keys.len(), 2);
            let issued = issuer(key).issue(&subject()).unwrap();
            assert_eq!(keys.verify(&issued.token).unwrap(), issued.claims, "{alg}");
        }
    }

    #[test]
    fn the_same_checks_as_the_verifier_apply() {
        let (_, key) = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let keys = PublicKeys::from_jwks(&jwks_of(&[&key]), &config()).unwrap();
        let kid = key.kid().to_owned();
        let sign = |header: Header, claims: &Value| key.sign(&header, claims).unwrap();
        let now = unix_now();
        let claims = json!({
            "iss": "authd", "aud": "api", "sub": Uuid::now_v7(), "sid": Uuid::now_v7(),
            "jti": Uuid::now_v7(), "iat": now, "nbf": now, "exp": now + 600,
            "roles": [], "username": "alice"
        });
        let header = |typ: &str| {
            let mut h = Header::new(jsonwebtoken::Algorithm::EdDSA);
            h.typ = Some(typ.into());
            h.kid = Some(kid.clone());
            h
        };
        assert!(keys.verify(&sign(header("at+jwt"), &claims)).is_ok());
        assert_eq!(
            keys.verify(&sign(header("JWT"), &claims)),
            Err(VerifyError::WrongType)
        );
        let mut jku = header("at+jwt");
        jku.jku = Some("https://evil.example/jwks.json".into());
        assert_eq!(
            keys.verify(&sign(jku, &claims)),
            Err(VerifyError::ForbiddenHeader)
        );
        for (claim, value, expected) in [
            ("iss", json!("someone"), VerifyError::WrongIssuer),
            ("aud", json!("other"), VerifyError::WrongAudience),
            ("exp", json!(now - 120), VerifyError::Expired),
            ("nbf", json!(now + 120), VerifyError::NotYetValid),
        ] {
            let mut claims = claims.clone();
            claims[claim] = value;
            assert_eq!(keys.verify(&sign(header("at+jwt"), &claims)), Err(expected));
        }
    }

    #[test]
    fn an_hmac_key_in_a_jwks_is_never_used() {
        let secret = "s".repeat(32);
        let hs = SigningKey::hs256(&SecretString::from(secret.clone())).unwrap();
        let k = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            secret.as_bytes(),
        );
        let document = json!({"keys": [
            {"kty": "oct", "kid": hs.kid(), "alg": "HS256", "k": k},
            {"kty": "oct", "kid": "as-eddsa", "alg": "EdDSA", "k": k},
            {"kty": "oct", "kid": "as-rsa", "alg": "RS256", "k": k},
        ]});
        assert!(matches!(
            PublicKeys::from_jwks(document.to_string().as_bytes(), &config()),
            Err(JwksError::NoUsableKey)
        ));
        // Next to a good key, the secret is still not taken up.
        let (_, ed) = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let mut document = document;
        document["keys"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::to_value(ed.public_jwk().unwrap()).unwrap());
        let keys = PublicKeys::from_jwks(document.to_string().as_bytes(), &config()).unwrap();
        assert_eq!(keys.len(), 1);
        let token = issuer(hs).issue(&subject()).unwrap().token;
        assert_eq!(keys.verify(&token), Err(VerifyError::UnknownKey));
    }

    #[test]
    fn keys_without_kid_or_alg_or_of_other_kinds_are_skipped() {
        let (_, ed) = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let (_, es) = SigningKey::generate(Algorithm::ES256).unwrap();
        let good = serde_json::to_value(ed.public_jwk().unwrap()).unwrap();
        let variant = |f: &dyn Fn(&mut Value)| {
            let mut jwk = good.clone();
            f(&mut jwk);
            jwk
        };
        let mut es_as_p384 = serde_json::to_value(es.public_jwk().unwrap()).unwrap();
        es_as_p384["crv"] = json!("P-384");
        let document = json!({"keys": [
            variant(&|j| { j.as_object_mut().unwrap().remove("kid"); }),
            variant(&|j| { j["kid"] = json!(""); }),
            variant(&|j| { j.as_object_mut().unwrap().remove("alg"); }),
            variant(&|j| { j["alg"] = json!("ES256"); }),
            variant(&|j| { j["alg"] = json!("none"); }),
            variant(&|j| { j["use"] = json!("enc"); }),
            variant(&|j| { j["key_ops"] = json!(["encrypt"]); }),
            variant(&|j| { j["kty"] = json!("unknown"); }),
            variant(&|j| { j["kid"] = json!(42); }),
            es_as_p384,
            {"kty": "RSA", "kid": "small", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            "not an object",
        ]});
        assert!(matches!(
            PublicKeys::from_jwks(document.to_string().as_bytes(), &config()),
            Err(JwksError::NoUsableKey)
        ));
        for not_a_set in [&b"[]"[..], b"{}", b"{\"keys\": {}}", b"<html>"] {
            assert!(matches!(
                PublicKeys::from_jwks(not_a_set, &config()),
                Err(JwksError::NotAKeySet(_))
            ));
        }
    }

    #[test]
    fn a_pinned_public_key_verifies_its_tokens_under_its_thumbprint_kid() {
        for alg in ASYMMETRIC {
            let (pem, key) = SigningKey::generate(alg).unwrap();
            let public = public_key_pem(alg, pem.expose_secret());
            let keys = PublicKeys::from_public_key_pem(alg, public.as_bytes(), &config()).unwrap();
            assert_eq!(keys.keys.keys().next().map(String::as_str), Some(key.kid()));
            let issued = issuer(key).issue(&subject()).unwrap();
            assert_eq!(keys.verify(&issued.token).unwrap(), issued.claims, "{alg}");
        }
    }

    #[test]
    fn a_pinned_rsa_key_may_be_pkcs1() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let (pem, key) = SigningKey::generate(Algorithm::RS256).unwrap();
        let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_pem(pem.expose_secret())
            .unwrap()
            .to_public_key()
            .to_pkcs1_pem(LineEnding::LF)
            .unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        let keys =
            PublicKeys::from_public_key_pem(Algorithm::RS256, pkcs1.as_bytes(), &config()).unwrap();
        let issued = issuer(key).issue(&subject()).unwrap();
        assert_eq!(keys.verify(&issued.token).unwrap(), issued.claims);
    }

    #[test]
    fn a_pinned_key_of_the_wrong_kind_is_refused() {
        let (ed, _) = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let ed_public = public_key_pem(Algorithm::EdDSA, ed.expose_secret());
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::HS256] {
            assert!(PublicKeys::from_public_key_pem(alg, ed_public.as_bytes(), &config()).is_err());
        }
        assert!(
            PublicKeys::from_public_key_pem(Algorithm::EdDSA, b"not a pem", &config()).is_err()
        );
    }
}
