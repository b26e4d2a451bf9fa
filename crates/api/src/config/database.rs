//! The store: where it is, how many connections it may take, how long to wait for it, and
//! how often the server clears out what can no longer matter (and keeps events).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::key::Fallback::{Computed, Value};
use super::key::{Key, Problem};
use super::reader::Env;
use super::values::{MS, YEAR, ZERO, hours, mins, secs};

const DATA_DIR: Key<PathBuf> = Key::path(
    "DATA_DIR",
    Value("./data"),
    "directory for the SQLite file and generated keys",
);

const DATABASE_URL: Key<SecretString> = Key::parsed(
    "DATABASE_URL",
    Computed("sqlite://<DATA_DIR>/auth.db"),
    parse_url,
    |url| mask_url_password(url.expose_secret()),
    "the store: sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB",
);

const DATABASE_MAX_CONNECTIONS: Key<u32> = Key::count(
    "DATABASE_MAX_CONNECTIONS",
    Value("10"),
    1..=1000,
    "pool size",
);

const DATABASE_TIMEOUT: Key<Duration> = Key::duration(
    "DATABASE_TIMEOUT",
    Value("5s"),
    MS..=mins(5),
    "longest wait for a database connection before answering 503",
);

const DATABASE_CONNECT_TIMEOUT: Key<Duration> = Key::duration(
    "DATABASE_CONNECT_TIMEOUT",
    Value("30s"),
    ZERO..=mins(10),
    "at start, how long to wait for the database to accept connections (0: one attempt)",
);

/// Purging more often only adds load; less often lets a day's rows pile up.
const PURGE_INTERVAL: Key<Duration> = Key::duration(
    "PURGE_INTERVAL",
    Value("10m"),
    secs(10)..=hours(24),
    "how often the server deletes expired rows, in small batches",
);

/// Shorter than a day loses the evidence before anyone looks; the upper bound keeps the
/// table's size (and a typo such as `90y`) in check.
const EVENT_RETENTION: Key<Duration> = Key::duration(
    "EVENT_RETENTION",
    Value("90d"),
    hours(24)..=YEAR.saturating_mul(10),
    "how long security events are kept (see Audit events)",
);

/// The store's settings.
#[derive(Debug, Clone)]
pub struct Database {
    pub data_dir: PathBuf,
    pub url: SecretString,
    pub max_connections: u32,
    pub timeout: Duration,
    /// How long start-up waits for the database to accept connections (0: one attempt).
    pub connect_timeout: Duration,
    /// How often the server deletes expired rows (sessions, refresh tokens, throttle rows,
    /// events).
    pub purge_interval: Duration,
    /// How long security events are kept.
    pub event_retention: Duration,
}

impl Database {
    pub(super) fn read(env: &mut Env) -> Result<Self, ConfigError> {
        let data_dir = env.value(&DATA_DIR)?;
        let sqlite_in_data_dir = format!("sqlite://{}", data_dir.join("auth.db").display());
        Ok(Self {
            url: env.computed(&DATABASE_URL, SecretString::from(sqlite_in_data_dir))?,
            data_dir,
            max_connections: env.value(&DATABASE_MAX_CONNECTIONS)?,
            timeout: env.value(&DATABASE_TIMEOUT)?,
            connect_timeout: env.value(&DATABASE_CONNECT_TIMEOUT)?,
            purge_interval: env.value(&PURGE_INTERVAL)?,
            event_retention: env.value(&EVENT_RETENTION)?,
        })
    }
}

/// The URL is not quoted in the error: it may hold a password.
fn parse_url(url: &str) -> Result<SecretString, Problem> {
    if ["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        Ok(SecretString::from(url))
    } else {
        Err(Problem::Plain(
            "must start with sqlite:// or postgres://".to_owned(),
        ))
    }
}

/// `postgres://user:secret@host/db?sslpassword=x` shown as
/// `postgres://user:***@host/db?sslpassword=***`: the userinfo password and any query
/// parameter that carries one. A URL that does not parse is not shown at all.
pub(super) fn mask_url_password(url: &str) -> String {
    if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        return url.to_owned();
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(not shown: cannot be parsed)".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let secret = k.to_ascii_lowercase().contains("password");
            (
                k.into_owned(),
                if secret {
                    "***".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}
