//! Who may sign up and log in, and how fast: registration, and the throttling of failed
//! logins per username and per client address.

use std::time::Duration;

use super::ConfigError;
use super::key::Fallback::Value;
use super::key::{Key, Problem};
use super::reader::Env;
use super::values::{hours, parse_bool, secs};
use crate::rate_limit::Rate;

const SIGNUP_ENABLED: Key<bool> = Key::parsed(
    "SIGNUP_ENABLED",
    Value("true"),
    parse_bool,
    bool::to_string,
    "whether POST /auth/register is open",
);

const LOGIN_FREE_FAILURES: Key<u32> = Key::count(
    "LOGIN_FREE_FAILURES",
    Value("5"),
    0..=1_000_000,
    "failed logins per username before throttling starts",
);

const LOGIN_MAX_DELAY: Key<Duration> = Key::duration(
    "LOGIN_MAX_DELAY",
    Value("15m"),
    secs(1)..=hours(24),
    "longest block after repeated failures (the delay doubles up to it)",
);

const LOGIN_IP_FREE_FAILURES: Key<u32> = Key::count(
    "LOGIN_IP_FREE_FAILURES",
    Value("0"),
    0..=1_000_000,
    "failed logins from one client address before the address is throttled (0: never)",
)
.shown_as(|n| match n {
    0 => "0 (off)".to_owned(),
    n => n.to_string(),
});

const REGISTER_RATE_PER_ADDRESS: Key<Option<Rate>> = Key::parsed(
    "REGISTER_RATE_PER_ADDRESS",
    Value("10/1h"),
    parse_rate_or_off,
    show_rate_or_off,
    "registrations per client address and process, as COUNT/PERIOD (off: no limit)",
);

const REGISTER_RATE_TOTAL: Key<Option<Rate>> = Key::parsed(
    "REGISTER_RATE_TOTAL",
    Value("1000/10m"),
    parse_rate_or_off,
    show_rate_or_off,
    "registrations per process from all addresses together, as COUNT/PERIOD (off: no limit)",
);

fn parse_rate_or_off(value: &str) -> Result<Option<Rate>, Problem> {
    match value {
        "off" | "0" => Ok(None),
        v => v.parse().map(Some).map_err(Problem::Value),
    }
}

fn show_rate_or_off(rate: &Option<Rate>) -> String {
    rate.map_or_else(|| "off".to_owned(), |r| r.to_string())
}

/// Sign-up and login throttling settings.
#[derive(Debug, Clone)]
pub struct Login {
    pub signup_enabled: bool,
    /// Failed logins per username before each further failure blocks the name.
    pub free_failures: u32,
    /// The longest block after repeated failures (the delay doubles up to it).
    pub max_delay: Duration,
    /// Failed logins from one client address before the address is throttled like a
    /// username; `None`: no per-address limit.
    pub ip_free_failures: Option<u32>,
    /// Registrations admitted per client address (in this process); `None`: no limit.
    pub register_rate_per_address: Option<Rate>,
    /// Registrations admitted from all addresses together (in this process); `None`: no
    /// limit.
    pub register_rate_total: Option<Rate>,
}

impl Login {
    pub(super) fn read(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            signup_enabled: env.value(&SIGNUP_ENABLED)?,
            free_failures: env.value(&LOGIN_FREE_FAILURES)?,
            max_delay: env.value(&LOGIN_MAX_DELAY)?,
            ip_free_failures: Some(env.value(&LOGIN_IP_FREE_FAILURES)?).filter(|&n| n > 0),
            register_rate_per_address: env.value(&REGISTER_RATE_PER_ADDRESS)?,
            register_rate_total: env.value(&REGISTER_RATE_TOTAL)?,
        })
    }
}
