//! Reading one value: the parsers and the one bounds check every duration and size goes
//! through.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

pub(super) fn invalid(key: &'static str, message: &str) -> ConfigError {
    ConfigError {
        key,
        message: message.to_owned(),
    }
}

pub(super) fn parse<T, E: std::fmt::Display>(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: T,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    match get(key) {
        None => Ok(default),
        Some(value) => parse(&value).map_err(|e| invalid(key, &format!("{value:?}: {e}"))),
    }
}

/// A duration setting within `range` (both ends included).
pub(super) fn duration_in(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: Duration,
    range: RangeInclusive<Duration>,
) -> Result<Duration, ConfigError> {
    bounded(get, key, default, range, parse_duration, |d| {
        humantime::format_duration(*d).to_string()
    })
}

/// A whole-number setting (a count or a size) within `range` (both ends included).
pub(super) fn count_in<T: FromStr + PartialOrd + Display>(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: T,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let whole = |v: &str| {
        v.parse::<T>()
            .map_err(|_| "expected a whole number".to_owned())
    };
    bounded(get, key, default, range, whole, T::to_string)
}

/// The one bounds check of every duration and size: the value parses and lies in `range`,
/// else the error names the key, the value as given and the range. Nothing unbounded gets
/// past it, so no setting can overflow the time arithmetic or the allocations it feeds.
fn bounded<T: PartialOrd>(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: T,
    range: RangeInclusive<T>,
    parse: impl Fn(&str) -> Result<T, String>,
    show: impl Fn(&T) -> String,
) -> Result<T, ConfigError> {
    let Some(raw) = get(key) else {
        return Ok(default);
    };
    let value = parse(&raw).map_err(|e| invalid(key, &format!("{raw:?}: {e}")))?;
    if range.contains(&value) {
        Ok(value)
    } else {
        let (low, high) = (show(range.start()), show(range.end()));
        Err(invalid(
            key,
            &format!("{raw:?}: must be from {low} to {high}"),
        ))
    }
}

pub(super) const KIB: usize = 1024;
pub(super) const MIB: usize = 1024 * KIB;
pub(super) const ZERO: Duration = Duration::ZERO;
pub(super) const MS: Duration = Duration::from_millis(1);
/// humantime's year (365.25 days), so that `1y` itself is accepted.
pub(super) const YEAR: Duration = Duration::from_secs(31_557_600);

pub(super) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(super) const fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub(super) const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

pub(super) const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// `15m`, `30d`, `10s`, `1h 30m`, or plain seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(value)
        .map_err(|_| "expected a duration such as 15m, 30d, 10s or plain seconds".to_owned())
}

pub(super) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}
