//! The HTTP server: where it listens, what it accepts, how long it waits, who it trusts.

use std::path::PathBuf;
use std::time::Duration;

use super::key::Fallback::{Computed, Unset, Value};
use super::key::Key;
use super::reader::Env;
use super::values::{KIB, MIB, MS, ZERO, cores, mins};
use super::{ConfigError, rules};
use crate::client_address::TrustedProxies;
use crate::cors::AllowedOrigins;
use crate::public_url::PublicUrl;

const BIND_ADDR: Key<String> = Key::text("BIND_ADDR", Value("127.0.0.1:8080"), "listen address");

const PUBLIC_URL: Key<PublicUrl> = Key::from_str(
    "PUBLIC_URL",
    Computed("http://<BIND_ADDR> (https:// with TLS)"),
    "the address clients reach authd at: the base of the links and URLs authd writes",
);

const TRUSTED_PROXIES: Key<TrustedProxies> = Key::from_str(
    "TRUSTED_PROXIES",
    Value(""),
    "proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client",
);

const REQUEST_BODY_LIMIT: Key<usize> = Key::count(
    "REQUEST_BODY_LIMIT",
    Value("16384"),
    KIB..=4 * MIB,
    "largest request body in bytes (413 beyond)",
);

const HTTP_WORKERS: Key<usize> = Key::count(
    "HTTP_WORKERS",
    Computed("the number of cores"),
    1..=1024,
    "HTTP worker threads",
);

const REQUEST_HEADER_TIMEOUT: Key<Duration> = Key::duration(
    "REQUEST_HEADER_TIMEOUT",
    Value("5s"),
    MS..=mins(5),
    "longest wait for a request's head, and for an idle keep-alive connection",
);

const REQUEST_BODY_TIMEOUT: Key<Duration> = Key::duration(
    "REQUEST_BODY_TIMEOUT",
    Value("10s"),
    MS..=mins(5),
    "longest wait for a request's body (then 408)",
);

const REQUEST_TIMEOUT: Key<Duration> = Key::duration(
    "REQUEST_TIMEOUT",
    Value("30s"),
    MS..=mins(10),
    "longest a request may take in all (then 503)",
);

const MAX_CONNECTIONS: Key<usize> = Key::count(
    "MAX_CONNECTIONS",
    Value("10000"),
    1..=1_000_000,
    "open client connections at most, over all workers",
);

const SHUTDOWN_TIMEOUT: Key<Duration> = Key::duration(
    "SHUTDOWN_TIMEOUT",
    Value("30s"),
    ZERO..=mins(10),
    "how long requests in flight may take to finish after SIGTERM or SIGINT",
);

const CORS_ALLOWED_ORIGINS: Key<AllowedOrigins> = Key::from_str(
    "CORS_ALLOWED_ORIGINS",
    Value(""),
    "origins whose pages may call the API from a browser",
);

pub(super) const TLS_CERT_FILE: Key<PathBuf> = Key::path(
    "TLS_CERT_FILE",
    Unset("(plain HTTP)"),
    "HTTPS: a PEM certificate chain, leaf first; with TLS_KEY_FILE",
);

pub(super) const TLS_KEY_FILE: Key<PathBuf> = Key::path(
    "TLS_KEY_FILE",
    Unset("(plain HTTP)"),
    "HTTPS: the certificate's PEM private key; with TLS_CERT_FILE",
);

/// The HTTP server's settings.
#[derive(Debug, Clone)]
pub struct Http {
    pub bind_addr: String,
    /// Where clients reach authd (`PUBLIC_URL`), behind any proxy.
    pub public_url: PublicUrl,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, reverse proxies).
    pub trusted_proxies: TrustedProxies,
    pub body_limit: usize,
    pub workers: usize,
    /// Longest wait for the request head (header timeout) and for the body.
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// Longest time a request may take in all; past it the client gets 503.
    pub request_timeout: Duration,
    /// Open connections at most, over all workers.
    pub max_connections: usize,
    /// How long in-flight requests may take to finish after SIGTERM or SIGINT.
    pub shutdown_timeout: Duration,
    /// Origins whose pages may call the API from a browser (CORS); empty: none.
    pub cors_allowed_origins: AllowedOrigins,
    /// HTTPS: a PEM certificate chain and its private key.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Http {
    pub(super) fn read(env: &mut Env) -> Result<Self, ConfigError> {
        let bind_addr = env.value(&BIND_ADDR)?;
        let tls = {
            let pair = rules::tls_pair(env.optional(&TLS_CERT_FILE)?, env.optional(&TLS_KEY_FILE)?);
            env.rule(pair, None)
        };
        let public_url = env.derived(&PUBLIC_URL, || {
            PublicUrl::for_bind_addr(&bind_addr, tls.is_some())
                .map_err(|e| format!("cannot be derived from BIND_ADDR ({e}): set it"))
        })?;
        Ok(Self {
            bind_addr,
            public_url,
            trusted_proxies: env.value(&TRUSTED_PROXIES)?,
            body_limit: env.value(&REQUEST_BODY_LIMIT)?,
            workers: env.computed(&HTTP_WORKERS, cores())?,
            header_timeout: env.value(&REQUEST_HEADER_TIMEOUT)?,
            body_timeout: env.value(&REQUEST_BODY_TIMEOUT)?,
            request_timeout: env.value(&REQUEST_TIMEOUT)?,
            max_connections: env.value(&MAX_CONNECTIONS)?,
            shutdown_timeout: env.value(&SHUTDOWN_TIMEOUT)?,
            cors_allowed_origins: env.value(&CORS_ALLOWED_ORIGINS)?,
            tls,
        })
    }
}
