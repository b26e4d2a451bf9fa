//! The signing keys: the algorithm, where the key comes from, how often replicas reload
//! it, and how long verifiers may cache the published public keys.

use std::path::PathBuf;
use std::time::Duration;

use auth_core::Algorithm;
use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::key::Fallback::{Unset, Value};
use super::key::{Key, Problem};
use super::reader::Env;
use super::values::{MS, hours, secs};

const JWT_ALGORITHM: Key<Algorithm> = Key::parsed(
    "JWT_ALGORITHM",
    Value("HS256"),
    |v| {
        v.parse::<Algorithm>()
            .map_err(|e| Problem::Value(e.to_string()))
    },
    |alg| alg.as_str().to_owned(),
    "signing algorithm: HS256, RS256, ES256 or EdDSA",
);

const JWT_SECRET: Key<SecretString> = Key::parsed(
    "JWT_SECRET",
    Unset("(generated into DATA_DIR)"),
    parse_secret,
    |secret| format!("(set, {} bytes)", secret.expose_secret().len()),
    "HS256 secret, used as its UTF-8 bytes, at least 32 of them",
);

const JWT_PRIVATE_KEY_FILE: Key<PathBuf> = Key::path(
    "JWT_PRIVATE_KEY_FILE",
    Unset("(generated into DATA_DIR)"),
    "PEM private key for RS256, ES256 or EdDSA",
);

const KEY_RELOAD_INTERVAL: Key<Duration> = Key::duration(
    "KEY_RELOAD_INTERVAL",
    Value("5s"),
    MS..=hours(1),
    "how often each replica reloads the signing keys from the database",
);

/// `JWKS_MAX_AGE` is sent as HTTP `max-age`, whole seconds (RFC 9111 §1.2.2), at most
/// [`Signing::LONGEST_JWKS_MAX_AGE`].
const JWKS_MAX_AGE: Key<Duration> = Key::duration(
    "JWKS_MAX_AGE",
    Value("30s"),
    secs(1)..=Signing::LONGEST_JWKS_MAX_AGE,
    "how long verifiers may cache /.well-known/jwks.json (its max-age)",
)
.checked(|age| {
    if age.subsec_nanos() == 0 {
        Ok(())
    } else {
        Err(Problem::Plain(
            "must be whole seconds, at least 1s".to_owned(),
        ))
    }
});

/// The signing keys' settings.
#[derive(Debug, Clone)]
pub struct Signing {
    pub algorithm: Algorithm,
    pub secret: Option<SecretString>,
    pub private_key_file: Option<PathBuf>,
    pub reload_interval: Duration,
    /// The JWKS's `Cache-Control: max-age`: how long verifiers may use it before
    /// refetching, so how late they learn that a key was retired.
    pub jwks_max_age: Duration,
}

impl Signing {
    /// The most a verifier may cache the JWKS (`auth_core::RemoteVerifier` caches no longer
    /// whatever it is told): a retired key must stop being trusted soon.
    pub const LONGEST_JWKS_MAX_AGE: Duration = hours(1);

    pub(super) fn read(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            algorithm: env.value(&JWT_ALGORITHM)?,
            secret: env.optional(&JWT_SECRET)?,
            private_key_file: env.optional(&JWT_PRIVATE_KEY_FILE)?,
            reload_interval: env.value(&KEY_RELOAD_INTERVAL)?,
            jwks_max_age: env.value(&JWKS_MAX_AGE)?,
        })
    }
}

/// The secret is never quoted, only its length.
fn parse_secret(secret: &str) -> Result<SecretString, Problem> {
    let len = secret.len();
    if len < auth_core::SigningKey::MIN_HS256_SECRET {
        return Err(Problem::Plain(format!(
            "must be at least 32 bytes, got {len} (generate one: openssl rand -base64 48)"
        )));
    }
    Ok(SecretString::from(secret))
}
