//! Tokens: who issues them for whom, how long they live, and how verification treats
//! them (leeway, the verified-token cache, how soon a revocation reaches every replica).

use std::time::Duration;

use super::ConfigError;
use super::key::Fallback::Value;
use super::key::Key;
use super::reader::Env;
use super::values::{MS, YEAR, ZERO, hours, mins, secs};

const JWT_ISSUER: Key<String> = Key::text(
    "JWT_ISSUER",
    Value("authd"),
    "`iss` of issued tokens, required on verification",
);

const JWT_AUDIENCE: Key<String> = Key::text(
    "JWT_AUDIENCE",
    Value("api"),
    "`aud` of issued tokens, required on verification",
);

const JWT_LEEWAY: Key<Duration> = Key::duration(
    "JWT_LEEWAY",
    Value("30s"),
    ZERO..=mins(5),
    "clock skew tolerated on exp and nbf",
);

const ACCESS_TOKEN_TTL: Key<Duration> = Key::duration(
    "ACCESS_TOKEN_TTL",
    Value("15m"),
    secs(1)..=hours(24),
    "access token lifetime, and the longest lifetime a presented token may claim",
);

const REFRESH_TOKEN_TTL: Key<Duration> = Key::duration(
    "REFRESH_TOKEN_TTL",
    Value("30d"),
    secs(1)..=YEAR,
    "refresh token lifetime (each rotation starts a new one)",
);

const REFRESH_REUSE_GRACE: Key<Duration> = Key::duration(
    "REFRESH_REUSE_GRACE",
    Value("10s"),
    ZERO..=mins(5),
    "how long a spent refresh token presented again still gets the session's live one",
);

const VERIFIED_TOKEN_CACHE: Key<usize> = Key::count(
    "VERIFIED_TOKEN_CACHE",
    Value("4096"),
    0..=1_000_000,
    "access tokens remembered once verified, per generation (0: none)",
);

const REVOCATION_POLL_INTERVAL: Key<Duration> = Key::duration(
    "REVOCATION_POLL_INTERVAL",
    Value("1s"),
    MS..=mins(10),
    "how often each replica reads new revocations from the database",
);

/// The tokens' settings.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    /// Verified tokens remembered per generation (0: none), see `Verifier::verify_cached`.
    pub verified_token_cache: usize,
    pub revocation_poll_interval: Duration,
}

impl Tokens {
    pub(super) fn read(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: env.value(&JWT_ISSUER)?,
            audience: env.value(&JWT_AUDIENCE)?,
            leeway: env.value(&JWT_LEEWAY)?,
            access_ttl: env.value(&ACCESS_TOKEN_TTL)?,
            refresh_ttl: env.value(&REFRESH_TOKEN_TTL)?,
            refresh_reuse_grace: env.value(&REFRESH_REUSE_GRACE)?,
            verified_token_cache: env.value(&VERIFIED_TOKEN_CACHE)?,
            revocation_poll_interval: env.value(&REVOCATION_POLL_INTERVAL)?,
        })
    }
}
