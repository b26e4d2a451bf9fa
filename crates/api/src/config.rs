//! Typed settings from the environment (and `.env`), validated once at start.

use std::path::PathBuf;
use std::time::Duration;

use auth_core::Algorithm;
use secrecy::SecretString;

use crate::client_address::TrustedProxies;
use crate::cors::AllowedOrigins;

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
    pub revocation_poll_interval: Duration,
    /// Verified tokens remembered per generation (0: none), see `Verifier::verify_cached`.
    pub verified_token_cache: usize,
    pub key_reload_interval: Duration,
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
            jwt_leeway: duration(&get, "JWT_LEEWAY", 30)?,
            access_token_ttl: duration(&get, "ACCESS_TOKEN_TTL", 15 * 60)?,
            refresh_token_ttl: duration(&get, "REFRESH_TOKEN_TTL", 30 * 24 * 3600)?,
            refresh_reuse_grace: duration(&get, "REFRESH_REUSE_GRACE", 10)?,
            signup_enabled: parse(&get, "SIGNUP_ENABLED", true, parse_bool)?,
            login_free_failures: parse(&get, "LOGIN_FREE_FAILURES", 5, |v| v.parse::<u32>())?,
            login_max_delay: duration(&get, "LOGIN_MAX_DELAY", 15 * 60)?,
            login_ip_free_failures: match parse(&get, "LOGIN_IP_FREE_FAILURES", 0, |v| {
                v.parse::<u32>()
            })? {
                0 => None,
                n => Some(n),
            },
            trusted_proxies: parse(&get, "TRUSTED_PROXIES", TrustedProxies::default(), |v| {
                v.parse()
            })?,
            log_format: match get("LOG_FORMAT").as_deref() {
                None => None,
                Some("pretty") => Some(LogFormat::Pretty),
                Some("json") => Some(LogFormat::Json),
                Some(_) => return Err(invalid("LOG_FORMAT", "must be pretty or json")),
            },
            request_body_limit: parse(&get, "REQUEST_BODY_LIMIT", 16 * 1024, positive)?,
            http_workers: parse(&get, "HTTP_WORKERS", cores, positive)?,
            password_hash_concurrency: parse(&get, "PASSWORD_HASH_CONCURRENCY", cores, positive)?,
            password_hash_queue: parse(&get, "PASSWORD_HASH_QUEUE", 64, positive)?,
            password_hash_memory_kib: parse(&get, "PASSWORD_HASH_MEMORY", 19_456, positive)?,
            password_hash_iterations: parse(&get, "PASSWORD_HASH_ITERATIONS", 2, positive)?,
            password_hash_nice: parse(&get, "PASSWORD_HASH_NICE", 10, nice)?,
            request_header_timeout: duration(&get, "REQUEST_HEADER_TIMEOUT", 5)?,
            request_body_timeout: duration(&get, "REQUEST_BODY_TIMEOUT", 10)?,
            request_timeout: duration(&get, "REQUEST_TIMEOUT", 30)?,
            max_connections: parse(&get, "MAX_CONNECTIONS", 10_000, positive)?,
            shutdown_timeout: duration(&get, "SHUTDOWN_TIMEOUT", 30)?,
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
            database_max_connections: parse(&get, "DATABASE_MAX_CONNECTIONS", 10, positive)?,
            database_timeout: duration(&get, "DATABASE_TIMEOUT", 5)?,
            revocation_poll_interval: duration(&get, "REVOCATION_POLL_INTERVAL", 1)?,
            verified_token_cache: parse(&get, "VERIFIED_TOKEN_CACHE", 4096, |v| {
                v.parse::<usize>()
            })?,
            key_reload_interval: duration(&get, "KEY_RELOAD_INTERVAL", 5)?,
        };
        if settings.access_token_ttl.is_zero() {
            return Err(invalid("ACCESS_TOKEN_TTL", "must be longer than zero"));
        }
        if settings.refresh_token_ttl.is_zero() {
            return Err(invalid("REFRESH_TOKEN_TTL", "must be longer than zero"));
        }
        if settings.login_max_delay.is_zero() {
            return Err(invalid("LOGIN_MAX_DELAY", "must be longer than zero"));
        }
        if settings.database_timeout.is_zero() {
            return Err(invalid("DATABASE_TIMEOUT", "must be longer than zero"));
        }
        for (key, value) in [
            ("REQUEST_HEADER_TIMEOUT", settings.request_header_timeout),
            ("REQUEST_BODY_TIMEOUT", settings.request_body_timeout),
            ("REQUEST_TIMEOUT", settings.request_timeout),
        ] {
            if value.is_zero() {
                return Err(invalid(key, "must be longer than zero"));
            }
        }
        settings.password_hash_params()?;
        if settings.key_reload_interval.is_zero() {
            return Err(invalid("KEY_RELOAD_INTERVAL", "must be longer than zero"));
        }
        if settings.revocation_poll_interval.is_zero() {
            return Err(invalid(
                "REVOCATION_POLL_INTERVAL",
                "must be longer than zero",
            ));
        }
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
            revocation_poll_interval,
            verified_token_cache,
            key_reload_interval,
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
            ("REVOCATION_POLL_INTERVAL", secs(revocation_poll_interval)),
            ("VERIFIED_TOKEN_CACHE", verified_token_cache.to_string()),
            ("KEY_RELOAD_INTERVAL", secs(key_reload_interval)),
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

    /// How long a token issued now can still be accepted: its lifetime plus the leeway.
    /// Revoked sessions and superseded keys are remembered that long.
    pub fn token_retention(&self) -> Duration {
        self.access_token_ttl + self.jwt_leeway
    }
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

fn invalid(key: &'static str, message: &str) -> ConfigError {
    ConfigError {
        key,
        message: message.to_owned(),
    }
}

fn parse<T, E: std::fmt::Display>(
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

fn duration(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default_secs: u64,
) -> Result<Duration, ConfigError> {
    parse(get, key, Duration::from_secs(default_secs), parse_duration)
}

/// `15m`, `30d`, `10s`, `1h 30m`, or plain seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(value)
        .map_err(|_| "expected a duration such as 15m, 30d, 10s or plain seconds".to_owned())
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// A nice-value increment: 0 (none) to 19 (the whole range, setpriority(2)).
fn nice(value: &str) -> Result<u8, String> {
    match value.parse::<u8>() {
        Ok(n) if n <= 19 => Ok(n),
        _ => Err("expected a whole number from 0 to 19".to_owned()),
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(value: &str) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err("expected a positive whole number".to_owned()),
    }
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
        assert_eq!(s.password_hash_nice, 10);
        assert!(s.signup_enabled);
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
