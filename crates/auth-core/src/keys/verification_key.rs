//! A key that checks signatures, with or without its private half.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::Jwk;
use sha2::Sha256;

use super::Algorithm;
use crate::VerifyError;

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
