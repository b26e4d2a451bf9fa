//! Reading keys from the environment: each value is parsed, bounded and checked as it is
//! read, and each key read is recorded with its value as `authd config check` shows it.

use super::ConfigError;
use super::key::{Fallback, Key};

/// A key as read: its declaration and its value, shown with secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    pub fallback: Fallback,
    pub doc: &'static str,
    pub shown: String,
    /// For a duration or a count, whether `0` lies within its bounds; `None` for the rest.
    pub zero_allowed: Option<bool>,
}

/// The environment (or a map in tests) and the keys read from it so far.
pub(super) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(super) read: Vec<Entry>,
    /// The first rule over several keys that failed, reported once every key is read.
    broken_rule: Option<ConfigError>,
}

impl<'a> Env<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            read: Vec::new(),
            broken_rule: None,
        }
    }

    /// The outcome of a rule over several keys (see `rules`). Its error is held back until
    /// every key has been read ([`Self::finish`]), so that each key's own problem comes
    /// first (`authd config check` sets bad keys aside one by one, and cannot set aside a
    /// rule); meanwhile the group is built with `fallback`.
    pub(super) fn rule<T>(&mut self, outcome: Result<T, ConfigError>, fallback: T) -> T {
        outcome.unwrap_or_else(|e| {
            self.broken_rule.get_or_insert(e);
            fallback
        })
    }

    /// Every key read, or the first rule broken.
    pub(super) fn finish(self) -> Result<Vec<Entry>, ConfigError> {
        match self.broken_rule {
            Some(e) => Err(e),
            None => Ok(self.read),
        }
    }

    /// A key that has a [`Fallback::Value`]: the environment's value, or that one.
    pub(super) fn value<T>(&mut self, key: &Key<T>) -> Result<T, ConfigError> {
        let Fallback::Value(fallback) = key.fallback else {
            return Err(ConfigError::new(
                key.name,
                "has no default (a bug in authd)",
            ));
        };
        let raw = self.raw(key.name);
        let value = parse(key, raw.as_deref().unwrap_or(fallback))?;
        self.record(key, (key.show)(&value));
        Ok(value)
    }

    /// A key that has a [`Fallback::Unset`]: `None` when the environment does not set it.
    pub(super) fn optional<T>(&mut self, key: &Key<T>) -> Result<Option<T>, ConfigError> {
        let Some(raw) = self.raw(key.name) else {
            let shown = match key.fallback {
                Fallback::Unset(shown) => shown.to_owned(),
                Fallback::Value(_) | Fallback::Computed(_) => {
                    return Err(ConfigError::new(
                        key.name,
                        "is not optional (a bug in authd)",
                    ));
                }
            };
            self.record(key, shown);
            return Ok(None);
        };
        let value = parse(key, &raw)?;
        self.record(key, (key.show)(&value));
        Ok(Some(value))
    }

    /// A key that has a [`Fallback::Computed`]: the environment's value, or `computed`.
    pub(super) fn computed<T>(&mut self, key: &Key<T>, computed: T) -> Result<T, ConfigError> {
        let value = match self.raw(key.name) {
            Some(raw) => parse(key, &raw)?,
            None => computed,
        };
        self.record(key, (key.show)(&value));
        Ok(value)
    }

    /// A key whose [`Fallback::Computed`] default is worked out from other keys by
    /// `derive`, which runs only when the key is not set; its error names this key.
    pub(super) fn derived<T>(
        &mut self,
        key: &Key<T>,
        derive: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = match self.raw(key.name) {
            Some(raw) => parse(key, &raw)?,
            None => derive().map_err(|message| ConfigError::new(key.name, message))?,
        };
        self.record(key, (key.show)(&value));
        Ok(value)
    }

    /// The value as set, trimmed; an empty value counts as unset, so that `.env.example`
    /// can list every key.
    fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn record<T>(&mut self, key: &Key<T>, shown: String) {
        let zero_allowed = key.bounds.as_ref().map(|bounds| {
            (key.parse)("0").is_ok_and(|zero| (bounds.contains)(&bounds.range, &zero))
        });
        self.read.push(Entry {
            name: key.name,
            fallback: key.fallback,
            doc: key.doc,
            shown,
            zero_allowed,
        });
    }
}

/// The one path every value takes: parsed, then within its bounds (so nothing unbounded
/// can overflow the time arithmetic or the allocations it feeds), then its own check. The
/// error names the key and, unless the value is a secret, quotes it.
fn parse<T>(key: &Key<T>, raw: &str) -> Result<T, ConfigError> {
    let refused = |problem: super::key::Problem| ConfigError::new(key.name, problem.message(raw));
    let value = (key.parse)(raw).map_err(refused)?;
    if let Some(bounds) = &key.bounds
        && !(bounds.contains)(&bounds.range, &value)
    {
        let (low, high) = (
            (bounds.show)(bounds.range.start()),
            (bounds.show)(bounds.range.end()),
        );
        return Err(ConfigError::new(
            key.name,
            format!("{raw:?}: must be from {low} to {high}"),
        ));
    }
    if let Some(check) = key.check {
        check(&value).map_err(refused)?;
    }
    Ok(value)
}
