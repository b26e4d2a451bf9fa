//! The parsers that several keys share, and the units their bounds are written in.

use std::str::FromStr;
use std::time::Duration;

use super::key::Problem;

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

/// The default of the thread counts: one per core, within their bound of 1024.
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(1024))
}

/// `15m`, `30d`, `10s`, `1h 30m`, or plain seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(value)
        .map_err(|_| "expected a duration such as 15m, 30d, 10s or plain seconds".to_owned())
}

/// A whole number of the key's own type: `-1`, `1e9` or one past the type's range are
/// refused here, before the key's bounds are looked at.
pub(super) fn parse_whole<T: FromStr>(value: &str) -> Result<T, Problem> {
    value
        .parse()
        .map_err(|_| Problem::Value("expected a whole number".to_owned()))
}

pub(super) fn parse_bool(value: &str) -> Result<bool, Problem> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Problem::Value("expected true or false".to_owned())),
    }
}
