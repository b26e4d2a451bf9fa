//! Typed settings from the environment (and `.env`), validated once at start.

mod values;

use std::path::PathBuf;
use std::time::Duration;

use auth_core::Algorithm;
use secrecy::SecretString;

use crate::client_address::TrustedProxies;
use crate::cors::AllowedOrigins;
use crate::rate_limit::Rate;
pub use values::parse_duration;
use values::{
    KIB, MIB, MS, YEAR, ZERO, count_in, days, duration_in, hours, invalid, mins, parse, parse_bool,
    secs,
};

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid {key}: {message}")]
pub struct ConfigError {
    pub key: &'static str,
    pub message: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything authd is configured with. See `.env.example` for each key.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind_addr: String,
    pub database_url: SecretString,
    pub data_dir: PathBuf,
    pub jwt_algorithm: Algorithm,
    pub jwt_secret: Option<SecretString>,
    pub jwt_private_key_file: Option<PathBuf>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_leeway: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    pub signup_enabled: bool,
    /// Failed logins per username before each further failure blocks the name.
    pub login_free_failures: u32,
    /// The longest block after repeated failures (the delay doubles up to it).
    pub login_max_delay: Duration,
    /// Failed logins from one client address before the address is throttled like a
    /// username; `None`: no per-address limit.
    pub login_ip_free_failures: Option<u32>,
    /// Registrations admitted per client address (in this process); `None`: no limit.
    pub register_rate_per_address: Option<Rate>,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, reverse proxies).
    pub trusted_proxies: TrustedProxies,
    /// `None`: pretty on a terminal, else JSON.
    pub log_format: Option<LogFormat>,
    pub request_body_limit: usize,
    pub http_workers: usize,
    pub password_hash_concurrency: usize,
    /// Hashes waiting for a thread beyond those running; more are refused with 503.
    pub password_hash_queue: usize,
    /// Argon2id memory cost in KiB and iterations (parallelism is 1).
    pub password_hash_memory_kib: u32,
    pub password_hash_iterations: u32,
    /// Nice levels the hashing threads run below the HTTP workers (Linux; 0: none).
    pub password_hash_nice: u8,
    /// Longest wait for the request head (header timeout) and for the body.
    pub request_header_timeout: Duration,
    pub request_body_timeout: Duration,
    /// Longest time a request may take in all; past it the client gets 503.
    pub request_timeout: Duration,
    /// Open connections at most, over all workers.
    pub max_connections: usize,
    /// Origins whose pages may call the API from a browser (CORS); empty: none.
    pub cors_allowed_origins: AllowedOrigins,
    /// HTTPS: a PEM certificate chain and its private key; both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Where `GET /metrics` is served: `None`, on the main listener; else only here.
    pub metrics_addr: Option<String>,
    /// How long in-flight requests may take to finish after SIGTERM or SIGINT.
    pub shutdown_timeout: Duration,
    pub database_max_connections: u32,
    pub database_timeout: Duration,
    /// How long start-up waits for the database to accept connections (0: one attempt).
    pub database_connect_timeout: Duration,
    pub revocation_poll_interval: Duration,
    /// Verified tokens remembered per generation (0: none), see `Verifier::verify_cached`.
    pub verified_token_cache: usize,
    pub key_reload_interval: Duration,
    /// How often the server deletes expired rows (sessions, refresh tokens, throttle rows).
    pub purge_interval: Duration,
    /// The JWKS's `Cache-Control: max-age`: how long verifiers may use it before
    /// refetching, so how late they learn that a key was retired.
    pub jwks_max_age: Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Empty values
    /// count as unset, so `.env.example` can list every key.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let database_url = match get("DATABASE_URL") {
            Some(url) => {
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres:")
                    || url.starts_with("postgresql:"))
                {
                    return Err(invalid(
                        "DATABASE_URL",
                        "must start with sqlite:// or postgres://",
                    ));
                }
                url
            }
            None => format!("sqlite://{}", data_dir.join("auth.db").display()),
        };
        let jwt_algorithm = parse(&get, "JWT_ALGORITHM", Algorithm::HS256, |v| v.parse())?;
        let jwt_secret = get("JWT_SECRET").map(SecretString::from);
        if let Some(secret) = &jwt_secret {
            use secrecy::ExposeSecret;
            let len = secret.expose_secret().len();
            if len < auth_core::SigningKey::MIN_HS256_SECRET {
                return Err(invalid(
                    "JWT_SECRET",
                    &format!(
                        "must be at least 32 bytes, got {len} (generate one: openssl rand -base64 48)"
                    ),
                ));
            }
        }
        let settings = Self {
            bind_addr: get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            database_url: SecretString::from(database_url),
            data_dir,
            jwt_algorithm,
            jwt_secret,
            jwt_private_key_file: get("JWT_PRIVATE_KEY_FILE").map(PathBuf::from),
            jwt_issuer: get("JWT_ISSUER").unwrap_or_else(|| "authd".to_owned()),
            jwt_audience: get("JWT_AUDIENCE").unwrap_or_else(|| "api".to_owned()),
            jwt_leeway: duration_in(&get, "JWT_LEEWAY", secs(30), ZERO..=mins(5))?,
            access_token_ttl: duration_in(&get, "ACCESS_TOKEN_TTL", mins(15), secs(1)..=hours(24))?,
            refresh_token_ttl: duration_in(&get, "REFRESH_TOKEN_TTL", days(30), secs(1)..=YEAR)?,
            refresh_reuse_grace: duration_in(
                &get,
                "REFRESH_REUSE_GRACE",
                secs(10),
                ZERO..=mins(5),
            )?,
            signup_enabled: parse(&get, "SIGNUP_ENABLED", true, parse_bool)?,
            login_free_failures: count_in(&get, "LOGIN_FREE_FAILURES", 5, 0..=1_000_000)?,
            login_max_delay: duration_in(&get, "LOGIN_MAX_DELAY", mins(15), secs(1)..=hours(24))?,
            login_ip_free_failures: match count_in(
                &get,
                "LOGIN_IP_FREE_FAILURES",
                0,
                0..=1_000_000,
            )? {
                0 => None,
                n => Some(n),
            },
            register_rate_per_address: parse(
                &get,
                "REGISTER_RATE_PER_ADDRESS",
                Some(Rate {
                    count: 10,
                    period: Duration::from_secs(3600),
                }),
                |v| match v {
                    "off" | "0" => Ok(None),
                    v => v.parse().map(Some),
                },
            )?,
            trusted_proxies: parse(&get, "TRUSTED_PROXIES", TrustedProxies::default(), |v| {
                v.parse()
            })?,
            log_format: match get("LOG_FORMAT").as_deref() {
                None => None,
                Some("pretty") => Some(LogFormat::Pretty),
                Some("json") => Some(LogFormat::Json),
                Some(_) => return Err(invalid("LOG_FORMAT", "must be pretty or json")),
            },
            request_body_limit: count_in(&get, "REQUEST_BODY_LIMIT", 16 * KIB, KIB..=4 * MIB)?,
            http_workers: count_in(&get, "HTTP_WORKERS", cores.min(1024), 1..=1024)?,
            password_hash_concurrency: count_in(
                &get,
                "PASSWORD_HASH_CONCURRENCY",
                cores.min(1024),
                1..=1024,
            )?,
            password_hash_queue: count_in(&get, "PASSWORD_HASH_QUEUE", 64, 1..=100_000)?,
            password_hash_memory_kib: count_in(
                &get,
                "PASSWORD_HASH_MEMORY",
                19_456,
                8..=user_store::MAX_HASH_MEMORY_KIB,
            )?,
            password_hash_iterations: count_in(
                &get,
                "PASSWORD_HASH_ITERATIONS",
                2,
                1..=user_store::MAX_HASH_ITERATIONS,
            )?,
            password_hash_nice: count_in(&get, "PASSWORD_HASH_NICE", 10, 0..=19)?,
            request_header_timeout: duration_in(
                &get,
                "REQUEST_HEADER_TIMEOUT",
                secs(5),
                MS..=mins(5),
            )?,
            request_body_timeout: duration_in(
                &get,
                "REQUEST_BODY_TIMEOUT",
                secs(10),
                MS..=mins(5),
            )?,
            request_timeout: duration_in(&get, "REQUEST_TIMEOUT", secs(30), MS..=mins(10))?,
            max_connections: count_in(&get, "MAX_CONNECTIONS", 10_000, 1..=1_000_000)?,
            shutdown_timeout: duration_in(&get, "SHUTDOWN_TIMEOUT", secs(30), ZERO..=mins(10))?,
            metrics_addr: get("METRICS_ADDR"),
            tls: match (get("TLS_CERT_FILE"), get("TLS_KEY_FILE")) {
                (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(invalid("TLS_KEY_FILE", "must be set with TLS_CERT_FILE"));
                }
                (None, Some(_)) => {
                    return Err(invalid("TLS_CERT_FILE", "must be set with TLS_KEY_FILE"));
                }
            },
            cors_allowed_origins: parse(
                &get,
                "CORS_ALLOWED_ORIGINS",
                AllowedOrigins::default(),
                |v| v.parse(),
            )?,
            database_max_connections: count_in(&get, "DATABASE_MAX_CONNECTIONS", 10, 1..=1000)?,
            database_timeout: duration_in(&get, "DATABASE_TIMEOUT", secs(5), MS..=mins(5))?,
            database_connect_timeout: duration_in(
                &get,
                "DATABASE_CONNECT_TIMEOUT",
                secs(30),
                ZERO..=mins(10),
            )?,
            revocation_poll_interval: duration_in(
                &get,
                "REVOCATION_POLL_INTERVAL",
                secs(1),
                MS..=mins(10),
            )?,
            verified_token_cache: count_in(&get, "VERIFIED_TOKEN_CACHE", 4096, 0..=1_000_000)?,
            key_reload_interval: duration_in(&get, "KEY_RELOAD_INTERVAL", secs(5), MS..=hours(1))?,
            // Purging more often only adds load; less often lets a day's rows pile up.
            purge_interval: duration_in(&get, "PURGE_INTERVAL", mins(10), secs(10)..=hours(24))?,
            jwks_max_age: duration_in(&get, "JWKS_MAX_AGE", secs(30), secs(1)..=hours(1))?,
        };
        settings.password_hash_params()?;
        settings.check_jwks_max_age()?;
        Ok(settings)
    }
}

impl Settings {
    /// Every setting as `(KEY, value)`, secrets masked, for `authd config check`. The
    /// destructuring names every field: a new setting does not compile until it is here.
    pub fn effective(&self) -> Vec<(&'static str, String)> {
        let Settings {
            bind_addr,
            database_url,
            data_dir,
            jwt_algorithm,
            jwt_secret,
            jwt_private_key_file,
            jwt_issuer,
            jwt_audience,
            jwt_leeway,
            access_token_ttl,
            refresh_token_ttl,
            refresh_reuse_grace,
            signup_enabled,
            login_free_failures,
            login_max_delay,
            login_ip_free_failures,
            register_rate_per_address,
            trusted_proxies,
            log_format,
            request_body_limit,
            http_workers,
            password_hash_concurrency,
            password_hash_queue,
            password_hash_memory_kib,
            password_hash_iterations,
            password_hash_nice,
            request_header_timeout,
            request_body_timeout,
            request_timeout,
            max_connections,
            shutdown_timeout,
            metrics_addr,
            tls,
            cors_allowed_origins,
            database_max_connections,
            database_timeout,
            database_connect_timeout,
            revocation_poll_interval,
            verified_token_cache,
            key_reload_interval,
            purge_interval,
            jwks_max_age,
        } = self;
        let secs = |d: &Duration| humantime::format_duration(*d).to_string();
        let path = |p: &Option<PathBuf>| {
            p.as_ref().map_or_else(
                || "(generated into DATA_DIR)".to_owned(),
                |p| p.display().to_string(),
            )
        };
        use secrecy::ExposeSecret;
        vec![
            ("BIND_ADDR", bind_addr.clone()),
            (
                "DATABASE_URL",
                mask_url_password(database_url.expose_secret()),
            ),
            ("DATA_DIR", data_dir.display().to_string()),
            ("JWT_ALGORITHM", jwt_algorithm.as_str().to_owned()),
            (
                "JWT_SECRET",
                jwt_secret.as_ref().map_or_else(
                    || "(generated into DATA_DIR)".to_owned(),
                    |s| format!("(set, {} bytes)", s.expose_secret().len()),
                ),
            ),
            ("JWT_PRIVATE_KEY_FILE", path(jwt_private_key_file)),
            ("JWT_ISSUER", jwt_issuer.clone()),
            ("JWT_AUDIENCE", jwt_audience.clone()),
            ("JWT_LEEWAY", secs(jwt_leeway)),
            ("ACCESS_TOKEN_TTL", secs(access_token_ttl)),
            ("REFRESH_TOKEN_TTL", secs(refresh_token_ttl)),
            ("REFRESH_REUSE_GRACE", secs(refresh_reuse_grace)),
            ("SIGNUP_ENABLED", signup_enabled.to_string()),
            ("LOGIN_FREE_FAILURES", login_free_failures.to_string()),
            ("LOGIN_MAX_DELAY", secs(login_max_delay)),
            (
                "LOGIN_IP_FREE_FAILURES",
                login_ip_free_failures.map_or_else(|| "0 (off)".to_owned(), |n| n.to_string()),
            ),
            (
                "REGISTER_RATE_PER_ADDRESS",
                register_rate_per_address.map_or_else(|| "off".to_owned(), |r| r.to_string()),
            ),
            ("TRUSTED_PROXIES", trusted_proxies.to_string()),
            (
                "LOG_FORMAT",
                match log_format {
                    None => "(pretty on a terminal, else json)".to_owned(),
                    Some(LogFormat::Pretty) => "pretty".to_owned(),
                    Some(LogFormat::Json) => "json".to_owned(),
                },
            ),
            ("REQUEST_BODY_LIMIT", request_body_limit.to_string()),
            ("HTTP_WORKERS", http_workers.to_string()),
            (
                "PASSWORD_HASH_CONCURRENCY",
                password_hash_concurrency.to_string(),
            ),
            ("PASSWORD_HASH_QUEUE", password_hash_queue.to_string()),
            ("PASSWORD_HASH_MEMORY", password_hash_memory_kib.to_string()),
            (
                "PASSWORD_HASH_ITERATIONS",
                password_hash_iterations.to_string(),
            ),
            ("PASSWORD_HASH_NICE", password_hash_nice.to_string()),
            ("REQUEST_HEADER_TIMEOUT", secs(request_header_timeout)),
            ("REQUEST_BODY_TIMEOUT", secs(request_body_timeout)),
            ("REQUEST_TIMEOUT", secs(request_timeout)),
            ("MAX_CONNECTIONS", max_connections.to_string()),
            ("SHUTDOWN_TIMEOUT", secs(shutdown_timeout)),
            ("CORS_ALLOWED_ORIGINS", cors_allowed_origins.to_string()),
            (
                "TLS_CERT_FILE",
                tls.as_ref().map_or_else(
                    || "(plain HTTP)".to_owned(),
                    |(c, _)| c.display().to_string(),
                ),
            ),
            (
                "TLS_KEY_FILE",
                tls.as_ref().map_or_else(
                    || "(plain HTTP)".to_owned(),
                    |(_, k)| k.display().to_string(),
                ),
            ),
            (
                "METRICS_ADDR",
                metrics_addr
                    .clone()
                    .unwrap_or_else(|| "(the main listener)".to_owned()),
            ),
            (
                "DATABASE_MAX_CONNECTIONS",
                database_max_connections.to_string(),
            ),
            ("DATABASE_TIMEOUT", secs(database_timeout)),
            ("DATABASE_CONNECT_TIMEOUT", secs(database_connect_timeout)),
            ("REVOCATION_POLL_INTERVAL", secs(revocation_poll_interval)),
            ("VERIFIED_TOKEN_CACHE", verified_token_cache.to_string()),
            ("KEY_RELOAD_INTERVAL", secs(key_reload_interval)),
            ("PURGE_INTERVAL", secs(purge_interval)),
            ("JWKS_MAX_AGE", secs(jwks_max_age)),
        ]
    }

    /// The argon2id parameters for new hashes (OWASP's minimum by default).
    pub fn password_hash_params(&self) -> Result<user_store::HashParams, ConfigError> {
        user_store::HashParams::new(
            self.password_hash_memory_kib,
            self.password_hash_iterations,
            1,
            None,
        )
        .map_err(|e| {
            invalid(
                "PASSWORD_HASH_MEMORY",
                &format!("with PASSWORD_HASH_ITERATIONS, not valid argon2 parameters: {e}"),
            )
        })
    }

    /// The most a verifier may cache the JWKS (`auth_core::RemoteVerifier` caches no longer
    /// whatever it is told): a retired key must stop being trusted soon.
    pub const LONGEST_JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

    /// `JWKS_MAX_AGE` is sent as HTTP `max-age`, whole seconds (RFC 9111 §1.2.2), from 1 s
    /// to [`Self::LONGEST_JWKS_MAX_AGE`].
    fn check_jwks_max_age(&self) -> Result<(), ConfigError> {
        let age = self.jwks_max_age;
        if age < Duration::from_secs(1) || age.subsec_nanos() != 0 {
            return Err(invalid(
                "JWKS_MAX_AGE",
                "must be whole seconds, at least 1s",
            ));
        }
        if age > Self::LONGEST_JWKS_MAX_AGE {
            return Err(invalid(
                "JWKS_MAX_AGE",
                "must be at most 1h: verifiers trust a retired key this long",
            ));
        }
        Ok(())
    }

    /// The JWKS's `Cache-Control` value.
    pub fn jwks_cache_control(&self) -> String {
        format!("public, max-age={}", self.jwks_max_age.as_secs())
    }

    /// How long after its issue a token can still be accepted, with room to spare: the
    /// TTL (the longest lifetime the verifier lets a token claim, whatever TTL it was issued
    /// under), the leeway, and [`Self::CLOCK_MARGIN`]. Revoked sessions and superseded keys
    /// are remembered this long, counted from the revocation (or the key's replacement),
    /// which is never before the issue of a token it covers: a revocation is forgotten only
    /// after every token of its session has become [`auth_core::VerifyError::Expired`].
    pub fn token_retention(&self) -> Duration {
        self.access_token_ttl
            .saturating_add(self.jwt_leeway)
            .saturating_add(Self::CLOCK_MARGIN)
    }

    /// Slack in [`Self::token_retention`] for what the claims' whole seconds round off and
    /// for clocks that differ between replicas and the database.
    pub const CLOCK_MARGIN: Duration = Duration::from_secs(10);
}

/// `postgres://user:secret@host/db?sslpassword=x` shown as
/// `postgres://user:***@host/db?sslpassword=***`: the userinfo password and any query
/// parameter that carries one. A URL that does not parse is not shown at all.
fn mask_url_password(url: &str) -> String {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_configured_gives_the_contracts_defaults() {
        use secrecy::ExposeSecret;
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind_addr, "127.0.0.1:8080");
        assert_eq!(s.database_url.expose_secret(), "sqlite://./data/auth.db");
        assert_eq!(s.jwt_algorithm, Algorithm::HS256);
        assert_eq!(s.access_token_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(s.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(s.jwt_leeway, Duration::from_secs(30));
        assert_eq!(s.request_body_limit, 16384);
        assert_eq!(s.purge_interval, Duration::from_secs(600));
        assert_eq!(s.jwks_cache_control(), "public, max-age=30");
        assert_eq!(s.password_hash_nice, 10);
        assert!(s.signup_enabled);
        assert_eq!(
            s.register_rate_per_address
                .map(|r| r.to_string())
                .as_deref(),
            Some("10/1h")
        );
        assert_eq!(
            (s.jwt_issuer.as_str(), s.jwt_audience.as_str()),
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
        assert_eq!(s.access_token_ttl, Duration::from_secs(90));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(7 * 86400));
        assert_eq!(s.refresh_reuse_grace, Duration::ZERO);
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

    /// Every duration and size, and whether 0 is refused.
    const BOUNDED: &[(&str, bool)] = &[
        ("JWT_LEEWAY", false),
        ("PASSWORD_HASH_NICE", false),
        ("PURGE_INTERVAL", true),
        ("JWKS_MAX_AGE", true),
        // `0` turns it off.
        ("REGISTER_RATE_PER_ADDRESS", false),
        ("ACCESS_TOKEN_TTL", true),
        ("REFRESH_TOKEN_TTL", true),
        ("REFRESH_REUSE_GRACE", false),
        ("LOGIN_FREE_FAILURES", false),
        ("LOGIN_MAX_DELAY", true),
        ("LOGIN_IP_FREE_FAILURES", false),
        ("REQUEST_BODY_LIMIT", true),
        ("HTTP_WORKERS", true),
        ("PASSWORD_HASH_CONCURRENCY", true),
        ("PASSWORD_HASH_QUEUE", true),
        ("PASSWORD_HASH_MEMORY", true),
        ("PASSWORD_HASH_ITERATIONS", true),
        ("REQUEST_HEADER_TIMEOUT", true),
        ("REQUEST_BODY_TIMEOUT", true),
        ("REQUEST_TIMEOUT", true),
        ("MAX_CONNECTIONS", true),
        ("SHUTDOWN_TIMEOUT", false),
        ("DATABASE_MAX_CONNECTIONS", true),
        ("DATABASE_TIMEOUT", true),
        ("DATABASE_CONNECT_TIMEOUT", false),
        ("REVOCATION_POLL_INTERVAL", true),
        ("VERIFIED_TOKEN_CACHE", false),
        ("KEY_RELOAD_INTERVAL", true),
    ];

    /// The keys that are neither a duration nor a size.
    const NOT_A_NUMBER: &[&str] = &[
        "BIND_ADDR",
        "DATABASE_URL",
        "DATA_DIR",
        "JWT_ALGORITHM",
        "JWT_SECRET",
        "JWT_PRIVATE_KEY_FILE",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "SIGNUP_ENABLED",
        "TRUSTED_PROXIES",
        "LOG_FORMAT",
        "CORS_ALLOWED_ORIGINS",
        "TLS_CERT_FILE",
        "TLS_KEY_FILE",
        "METRICS_ADDR",
    ];

    #[test]
    fn every_duration_and_size_refuses_absurd_values_naming_its_key() {
        // A new key must be sorted into one list or the other.
        for (key, _) in settings(&[]).unwrap().effective() {
            assert!(
                BOUNDED.iter().any(|(k, _)| *k == key) || NOT_A_NUMBER.contains(&key),
                "{key}: a duration or size (give it a range) or not a number?"
            );
        }
        for &(key, zero_invalid) in BOUNDED {
            let mut absurd = vec![
                "18446744073709551615",
                "99999999999999999999999",
                "10000y",
                "584942417356y",
                "-1",
                "1e9",
            ];
            if zero_invalid {
                absurd.push("0");
            } else {
                assert!(settings(&[(key, "0")]).is_ok(), "{key}=0 is allowed");
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
            assert!(settings(&[(key, highest)]).is_ok(), "{key}={highest}");
            let err = settings(&[(key, beyond)]).unwrap_err();
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
            let last_accepted = s.access_token_ttl.as_secs() + s.jwt_leeway.as_secs();
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
            assert_eq!(s.register_rate_per_address, None);
        }
        let s = settings(&[("REGISTER_RATE_PER_ADDRESS", "3/15m")]).unwrap();
        assert_eq!(
            s.register_rate_per_address,
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
            assert_eq!(s.password_hash_nice, expected);
        }
    }

    #[test]
    fn the_effective_settings_mask_secrets() {
        let s = settings(&[
            ("JWT_SECRET", "a-very-secret-value-of-32-bytes-or-more"),
            (
                "DATABASE_URL",
                "postgres://authd:hunter2@db:5432/authd?sslmode=require",
            ),
        ])
        .unwrap();
        let shown = format!("{:?}", s.effective());
        assert!(
            !shown.contains("a-very-secret-value") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://authd:***@db:5432/authd?sslmode=require"),
            "{shown}"
        );
        assert_eq!(
            mask_url_password("sqlite://./data/auth.db"),
            "sqlite://./data/auth.db"
        );
    }

    #[test]
    fn the_secret_is_never_printed() {
        let s = settings(&[("JWT_SECRET", "a-very-secret-value-of-32-bytes-or-more")]).unwrap();
        assert!(!format!("{s:?}").contains("a-very-secret-value"));
    }
}
