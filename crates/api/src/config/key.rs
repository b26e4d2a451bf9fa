//! One configuration key, declared once: its name, its default, what it means, how its
//! value is parsed and bounded, and how `authd config check` shows it. Parsing, the
//! check command and the test that `.env.example` and the README list every key all read
//! these declarations, so none of them can list a key the others miss.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::values::{parse_duration, parse_whole};

/// What a key is worth when the environment does not set it (or sets it empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// This text, read exactly as the same text in the environment would be.
    Value(&'static str),
    /// Nothing: the feature is off or provided otherwise; `config check` shows this text.
    Unset(&'static str),
    /// Worked out at start (from another key or the machine), as the text says.
    Computed(&'static str),
}

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// About the value, which the message quotes first: `"soon": expected a duration`.
    Value(String),
    /// A message that does not quote the value (a secret, a URL with a password in it).
    Plain(String),
}

impl Problem {
    /// The message after `invalid KEY: `.
    pub(super) fn message(self, raw: &str) -> String {
        match self {
            Problem::Value(message) => format!("{raw:?}: {message}"),
            Problem::Plain(message) => message,
        }
    }
}

/// The inclusive range a duration or a count must lie in.
pub(super) struct Bounds<T: 'static> {
    pub(super) range: RangeInclusive<T>,
    pub(super) contains: fn(&RangeInclusive<T>, &T) -> bool,
    /// How the ends are written in the error message.
    pub(super) show: fn(&T) -> String,
}

/// A rule a value must meet besides its bounds.
type Check<T> = fn(&T) -> Result<(), Problem>;

/// A configuration key whose value is a `T`.
pub struct Key<T: 'static> {
    pub name: &'static str,
    pub fallback: Fallback,
    /// One line: what the key means.
    pub doc: &'static str,
    pub(super) parse: fn(&str) -> Result<T, Problem>,
    pub(super) bounds: Option<Bounds<T>>,
    /// A rule checked once the value is within its bounds.
    pub(super) check: Option<Check<T>>,
    /// How `authd config check` shows the value (secrets masked).
    pub(super) show: fn(&T) -> String,
}

impl<T: 'static> Key<T> {
    /// A key read by `parse` and shown by `show`.
    pub const fn parsed(
        name: &'static str,
        fallback: Fallback,
        parse: fn(&str) -> Result<T, Problem>,
        show: fn(&T) -> String,
        doc: &'static str,
    ) -> Self {
        Self::bounded(name, fallback, parse, None, show, doc)
    }

    const fn bounded(
        name: &'static str,
        fallback: Fallback,
        parse: fn(&str) -> Result<T, Problem>,
        bounds: Option<Bounds<T>>,
        show: fn(&T) -> String,
        doc: &'static str,
    ) -> Self {
        Self {
            name,
            fallback,
            doc,
            parse,
            bounds,
            check: None,
            show,
        }
    }
}

/// Adjustments of a declaration, for values that own no memory (a const fn cannot drop
/// one that does).
impl<T: Copy + 'static> Key<T> {
    /// Shows the value with `show` instead.
    pub const fn shown_as(self, show: fn(&T) -> String) -> Self {
        Self { show, ..self }
    }

    /// Refuses a value (within its bounds) that `check` refuses.
    pub const fn checked(self, check: Check<T>) -> Self {
        Self {
            check: Some(check),
            ..self
        }
    }
}

impl Key<String> {
    /// Free text, taken as it is.
    pub const fn text(name: &'static str, fallback: Fallback, doc: &'static str) -> Self {
        Self::parsed(name, fallback, |v| Ok(v.to_owned()), String::clone, doc)
    }
}

impl Key<PathBuf> {
    /// A file or directory.
    pub const fn path(name: &'static str, fallback: Fallback, doc: &'static str) -> Self {
        Self::parsed(
            name,
            fallback,
            |v| Ok(PathBuf::from(v)),
            |p| p.display().to_string(),
            doc,
        )
    }
}

impl<T: FromStr + Display + 'static> Key<T>
where
    T::Err: Display,
{
    /// A value of a type that parses itself (`FromStr`) and shows itself (`Display`).
    pub const fn from_str(name: &'static str, fallback: Fallback, doc: &'static str) -> Self {
        Self::parsed(name, fallback, parse_from_str, T::to_string, doc)
    }
}

impl<T: FromStr + Display + PartialOrd + 'static> Key<T> {
    /// A whole number (a count or a size) within `range`, both ends included.
    pub const fn count(
        name: &'static str,
        fallback: Fallback,
        range: RangeInclusive<T>,
        doc: &'static str,
    ) -> Self {
        let bounds = Bounds {
            range,
            contains: within,
            show: T::to_string,
        };
        Self::bounded(name, fallback, parse_whole, Some(bounds), T::to_string, doc)
    }
}

impl Key<Duration> {
    /// A duration (`15m`, `30d`, `10s`, or plain seconds) within `range`, both ends
    /// included.
    pub const fn duration(
        name: &'static str,
        fallback: Fallback,
        range: RangeInclusive<Duration>,
        doc: &'static str,
    ) -> Self {
        let bounds = Bounds {
            range,
            contains: within,
            show: show_duration,
        };
        let parse = parse_duration_value;
        Self::bounded(name, fallback, parse, Some(bounds), show_duration, doc)
    }
}

fn within<T: PartialOrd>(range: &RangeInclusive<T>, value: &T) -> bool {
    range.contains(value)
}

fn parse_from_str<T: FromStr>(value: &str) -> Result<T, Problem>
where
    T::Err: Display,
{
    value
        .parse()
        .map_err(|e: T::Err| Problem::Value(e.to_string()))
}

fn parse_duration_value(value: &str) -> Result<Duration, Problem> {
    parse_duration(value).map_err(Problem::Value)
}

/// `15m`, `1day`, `500ms`: humantime's spelling, as in the bounds of error messages.
pub(super) fn show_duration(d: &Duration) -> String {
    humantime::format_duration(*d).to_string()
}
