//! The second factor: how authenticator apps label authd's entries.

use super::ConfigError;
use super::key::Fallback::Computed;
use super::key::Key;
use super::reader::Env;
use crate::public_url::PublicUrl;

const MFA_ISSUER: Key<String> = Key::text(
    "MFA_ISSUER",
    Computed("PUBLIC_URL's host name"),
    "the issuer authenticator apps show beside a TOTP entry",
);

/// Second-factor settings.
#[derive(Debug, Clone)]
pub struct Mfa {
    /// The `issuer` of `otpauth://` URIs (and their label's prefix).
    pub issuer: String,
}

impl Mfa {
    pub(super) fn read(env: &mut Env, public_url: &PublicUrl) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: env.computed(&MFA_ISSUER, public_url.host().to_owned())?,
        })
    }
}
