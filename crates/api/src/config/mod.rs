//! Typed settings from the environment (and `.env`), validated once at start.
//!
//! Every key is declared once, as a [`key::Key`] in the module of its group, with its
//! default, its parser and bounds, and a one-line meaning. Reading a group parses and
//! validates each of its keys ([`reader`]), the rules that involve several keys live in
//! [`rules`], and the record of what was read drives `authd config check` and the test
//! that `.env.example` and the README list every key.

mod database;
mod email;
mod http;
mod key;
#[cfg(test)]
mod listed;
mod login;
mod mfa;
mod observability;
mod passwords;
mod reader;
mod rules;
mod signing;
mod tokens;
mod values;

use std::time::Duration;

pub use database::Database;
pub use email::Email;
pub use http::Http;
pub use key::Fallback;
pub use login::Login;
pub use mfa::Mfa;
pub use observability::{LogFormat, Observability};
pub use passwords::Passwords;
pub use reader::Entry;
pub use signing::Signing;
pub use tokens::Tokens;
pub use values::parse_duration;

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid {key}: {message}")]
pub struct ConfigError {
    pub key: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

/// Everything authd is configured with, by concern. See `.env.example` for each key.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http: Http,
    pub database: Database,
    pub signing: Signing,
    pub tokens: Tokens,
    pub login: Login,
    pub mfa: Mfa,
    pub passwords: Passwords,
    pub observability: Observability,
    pub email: Email,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Empty values
    /// count as unset, so `.env.example` can list every key.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(lookup).map(|(settings, _)| settings)
    }

    /// [`Self::from_lookup`], with every key read and its value as `authd config check`
    /// shows it (secrets masked), in the order of the groups.
    pub fn read(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, Vec<Entry>), ConfigError> {
        let mut env = reader::Env::new(&lookup);
        let http = Http::read(&mut env)?;
        let database = Database::read(&mut env)?;
        let signing = Signing::read(&mut env)?;
        let tokens = Tokens::read(&mut env)?;
        let login = Login::read(&mut env)?;
        let passwords = Passwords::read(&mut env)?;
        let observability = Observability::read(&mut env)?;
        let email = Email::read(&mut env, &http.public_url)?;
        let mfa = Mfa::read(&mut env, &http.public_url)?;
        let settings = Self {
            http,
            database,
            signing,
            tokens,
            login,
            passwords,
            observability,
            email,
            mfa,
        };
        Ok((settings, env.finish()?))
    }

    /// Every key authd reads, with its default and meaning, in the order of the groups.
    pub fn keys() -> Result<Vec<Entry>, ConfigError> {
        Self::read(|_| None).map(|(_, keys)| keys)
    }

    /// The JWKS's `Cache-Control` value.
    pub fn jwks_cache_control(&self) -> String {
        format!("public, max-age={}", self.signing.jwks_max_age.as_secs())
    }

    /// How long after its issue a token can still be accepted, with room to spare: the
    /// TTL (the longest lifetime the verifier lets a token claim, whatever TTL it was issued
    /// under), the leeway, and [`Self::CLOCK_MARGIN`]. Revoked sessions and superseded keys
    /// are remembered this long, counted from the revocation (or the key's replacement),
    /// which is never before the issue of a token it covers: a revocation is forgotten only
    /// after every token of its session has become [`auth_core::VerifyError::Expired`].
    pub fn token_retention(&self) -> Duration {
        self.tokens
            .access_ttl
            .saturating_add(self.tokens.leeway)
            .saturating_add(Self::CLOCK_MARGIN)
    }

    /// Slack in [`Self::token_retention`] for what the claims' whole seconds round off and
    /// for clocks that differ between replicas and the database.
    pub const CLOCK_MARGIN: Duration = Duration::from_secs(10);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use auth_core::Algorithm;

    use super::*;
    use crate::rate_limit::Rate;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    /// What `authd config check` shows, key by key.
    fn shown(pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        let (_, entries) = Settings::read(|k| map.get(k).map(|v| v.to_string())).unwrap();
        entries.into_iter().map(|e| (e.name, e.shown)).collect()
    }

    #[test]
    fn nothing_configured_gives_the_contracts_defaults() {
        use secrecy::ExposeSecret;
        let s = settings(&[]).unwrap();
        assert_eq!(s.http.bind_addr, "127.0.0.1:8080");
        assert_eq!(s.database.url.expose_secret(), "sqlite://./data/auth.db");
        assert_eq!(s.signing.algorithm, Algorithm::HS256);
        assert_eq!(s.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(s.tokens.refresh_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(s.tokens.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(s.tokens.leeway, Duration::from_secs(30));
        assert_eq!(s.http.body_limit, 16384);
        assert_eq!(s.database.purge_interval, Duration::from_secs(600));
        assert_eq!(s.jwks_cache_control(), "public, max-age=30");
        assert_eq!(s.passwords.nice, 10);
        assert_eq!(s.mfa.issuer, "127.0.0.1");
        let s = settings(&[("PUBLIC_URL", "https://auth.example.com:8443/authd")]).unwrap();
        assert_eq!(s.mfa.issuer, "auth.example.com");
        assert!(s.login.signup_enabled);
        assert_eq!(
            s.login
                .register_rate_per_address
                .map(|r| r.to_string())
                .as_deref(),
            Some("10/1h")
        );
        assert_eq!(
            (s.tokens.issuer.as_str(), s.tokens.audience.as_str()),
            ("authd", "api")
        );
    }

    #[test]
    fn durations_take_units_or_plain_seconds() {
        let s = settings(&[
            ("ACCESS_TOKEN_TTL", "90"),
            ("REFRESH_TOKEN_TTL", "7d"),
            ("REFRESH_REUSE_GRACE", "0"),
        ])
        .unwrap();
        assert_eq!(s.tokens.access_ttl, Duration::from_secs(90));
        assert_eq!(s.tokens.refresh_ttl, Duration::from_secs(7 * 86400));
        assert_eq!(s.tokens.refresh_reuse_grace, Duration::ZERO);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        for (key, value) in [
            ("ACCESS_TOKEN_TTL", "soon"),
            ("JWT_SECRET", "too-short"),
            ("JWT_ALGORITHM", "none"),
            ("SIGNUP_ENABLED", "maybe"),
            ("DATABASE_URL", "mysql://x"),
            ("LOG_FORMAT", "xml"),
            ("HTTP_WORKERS", "0"),
            ("PASSWORD_HASH_QUEUE", "0"),
            ("PASSWORD_HASH_MEMORY", "1"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("REQUEST_TIMEOUT", "0"),
            ("LOGIN_IP_FREE_FAILURES", "-1"),
            ("PURGE_INTERVAL", "1s"),
            ("PURGE_INTERVAL", "2d"),
            ("PURGE_INTERVAL", "often"),
            ("REGISTER_RATE_PER_ADDRESS", "10"),
            ("REGISTER_RATE_PER_ADDRESS", "0/1h"),
            ("JWKS_MAX_AGE", "0"),
            ("JWKS_MAX_AGE", "1500ms"),
            ("JWKS_MAX_AGE", "2h"),
            ("PASSWORD_HASH_NICE", "20"),
            ("PASSWORD_HASH_NICE", "-5"),
        ] {
            let err = settings(&[(key, value)]).unwrap_err();
            assert_eq!(err.key, key);
            assert!(
                err.to_string().starts_with(&format!("invalid {key}:")),
                "{err}"
            );
        }
    }

    /// Every duration and size, from its declaration (its bounds say whether `0` is in),
    /// and `REGISTER_RATE_PER_ADDRESS` and `REGISTER_RATE_TOTAL`, `COUNT/PERIOD` pairs that `Rate`'s parser bounds
    /// (`0` turns it off).
    fn bounded_keys() -> Vec<(&'static str, bool)> {
        let keys = Settings::keys().unwrap();
        let declared = keys.iter().filter_map(|k| Some((k.name, k.zero_allowed?)));
        declared
            .chain([
                ("REGISTER_RATE_PER_ADDRESS", true),
                ("REGISTER_RATE_TOTAL", true),
            ])
            .collect()
    }

    #[test]
    fn every_key_that_takes_a_number_is_declared_with_bounds() {
        // A new key whose default is a number or a duration must come with a range.
        for key in Settings::keys().unwrap() {
            if let Fallback::Value(default) = key.fallback
                && parse_duration(default).is_ok()
            {
                assert!(key.zero_allowed.is_some(), "{}: give it a range", key.name);
            }
        }
        assert!(bounded_keys().len() > 20);
    }

    #[test]
    fn every_duration_and_size_refuses_absurd_values_naming_its_key() {
        for (key, zero_allowed) in bounded_keys() {
            let mut absurd = vec![
                "18446744073709551615",
                "99999999999999999999999",
                "10000y",
                "584942417356y",
                "-1",
                "1e9",
            ];
            if zero_allowed {
                assert!(settings(&[(key, "0")]).is_ok(), "{key}=0 is allowed");
            } else {
                absurd.push("0");
            }
            for value in absurd {
                let err = settings(&[(key, value)]).unwrap_err();
                assert_eq!(err.key, key, "{key}={value}: {err}");
                let text = err.to_string();
                assert!(text.starts_with(&format!("invalid {key}: ")), "{text}");
                assert!(!text.contains('\n'), "one line: {text}");
            }
        }
    }

    #[test]
    fn every_key_is_read_once_and_shown() {
        let keys = Settings::keys().unwrap();
        let mut names: Vec<&str> = keys.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), keys.len(), "a key read twice");
        assert!(keys.iter().all(|k| !k.doc.is_empty()));
        let shown = shown(&[]);
        let get = |key: &str| shown.iter().find(|(k, _)| *k == key).unwrap().1.clone();
        assert_eq!(get("DATABASE_URL"), "sqlite://./data/auth.db");
        assert_eq!(get("JWT_SECRET"), "(generated into DATA_DIR)");
        assert_eq!(get("TLS_KEY_FILE"), "(plain HTTP)");
        assert_eq!(get("LOGIN_IP_FREE_FAILURES"), "0 (off)");
        assert_eq!(get("ACCESS_TOKEN_TTL"), "15m");
        assert_eq!(get("REFRESH_TOKEN_TTL"), "30days");
    }

    #[test]
    fn the_documented_bounds_are_inclusive() {
        for (key, highest, beyond) in [
            ("ACCESS_TOKEN_TTL", "24h", "24h 1s"),
            ("REFRESH_TOKEN_TTL", "1y", "366d"),
            ("JWT_LEEWAY", "5m", "301"),
            ("REQUEST_BODY_LIMIT", "4194304", "4194305"),
            ("HTTP_WORKERS", "1024", "1025"),
            ("PASSWORD_HASH_MEMORY", "1048576", "1048577"),
            ("PASSWORD_HASH_ITERATIONS", "32", "33"),
            ("DATABASE_CONNECT_TIMEOUT", "10m", "601"),
        ] {
            // One hashing thread, so the largest memory is within any machine's bound.
            let one = ("PASSWORD_HASH_CONCURRENCY", "1");
            assert!(settings(&[(key, highest), one]).is_ok(), "{key}={highest}");
            let err = settings(&[(key, beyond), one]).unwrap_err();
            assert_eq!(err.key, key);
            assert!(err.message.contains("must be from"), "{err}");
        }
        let err = settings(&[("ACCESS_TOKEN_TTL", "10000y")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid ACCESS_TOKEN_TTL: "10000y": must be from 1s to 1day"#
        );
    }

    #[test]
    fn revocations_outlast_every_token_they_cover() {
        for (ttl, leeway) in [("1s", "0"), ("15m", "30s"), ("24h", "5m")] {
            let s = settings(&[("ACCESS_TOKEN_TTL", ttl), ("JWT_LEEWAY", leeway)]).unwrap();
            // A token is accepted until iat + ttl + leeway, inclusive, in whole seconds
            // (auth-core's `no_token_is_accepted_past_its_iat_plus_the_limit_and_the_leeway`);
            // the revoked set must hold it at least one second longer.
            let last_accepted = s.tokens.access_ttl.as_secs() + s.tokens.leeway.as_secs();
            assert!(
                s.token_retention().as_secs() > last_accepted,
                "{ttl} {leeway}"
            );
        }
    }

    #[test]
    fn the_registration_limit_can_be_turned_off() {
        for off in ["off", "0"] {
            let s = settings(&[("REGISTER_RATE_PER_ADDRESS", off)]).unwrap();
            assert_eq!(s.login.register_rate_per_address, None);
        }
        let s = settings(&[("REGISTER_RATE_PER_ADDRESS", "3/15m")]).unwrap();
        assert_eq!(
            s.login.register_rate_per_address,
            Some(Rate {
                count: 3,
                period: Duration::from_secs(900)
            })
        );
    }

    #[test]
    fn the_hashing_threads_niceness_spans_the_whole_range() {
        for (value, expected) in [("0", 0), ("19", 19)] {
            let s = settings(&[("PASSWORD_HASH_NICE", value)]).unwrap();
            assert_eq!(s.passwords.nice, expected);
        }
    }

    #[test]
    fn the_effective_settings_mask_secrets() {
        let shown = format!(
            "{:?}",
            shown(&[
                ("JWT_SECRET", "a-very-secret-value-of-32-bytes-or-more"),
                (
                    "DATABASE_URL",
                    "postgres://authd:hunter2@db:5432/authd?sslmode=require",
                ),
            ])
        );
        assert!(
            !shown.contains("a-very-secret-value") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://authd:***@db:5432/authd?sslmode=require"),
            "{shown}"
        );
        assert_eq!(
            database::mask_url_password("sqlite://./data/auth.db"),
            "sqlite://./data/auth.db"
        );
    }

    #[test]
    fn the_secret_is_never_printed() {
        let s = settings(&[("JWT_SECRET", "a-very-secret-value-of-32-bytes-or-more")]).unwrap();
        assert!(!format!("{s:?}").contains("a-very-secret-value"));
    }
}
