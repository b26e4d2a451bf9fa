//! What authd tells its operators: the log format and where metrics are served. The log
//! filter, `RUST_LOG`, is read by `tracing`'s `EnvFilter` itself (see `telemetry`).

use super::ConfigError;
use super::key::Fallback::Unset;
use super::key::{Key, Problem};
use super::reader::Env;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

const LOG_FORMAT: Key<LogFormat> = Key::parsed(
    "LOG_FORMAT",
    Unset("(pretty on a terminal, else json)"),
    |v| match v {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err(Problem::Plain("must be pretty or json".to_owned())),
    },
    |format| match format {
        LogFormat::Pretty => "pretty".to_owned(),
        LogFormat::Json => "json".to_owned(),
    },
    "log format, pretty or json (logs go to stderr)",
);

const METRICS_ADDR: Key<String> = Key::text(
    "METRICS_ADDR",
    Unset("(the main listener)"),
    "serve GET /metrics only on this address, e.g. 127.0.0.1:9100",
);

/// Logging and metrics settings.
#[derive(Debug, Clone)]
pub struct Observability {
    /// `None`: pretty on a terminal, else JSON.
    pub log_format: Option<LogFormat>,
    /// Where `GET /metrics` is served: `None`, on the main listener; else only here.
    pub metrics_addr: Option<String>,
}

impl Observability {
    pub(super) fn read(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            log_format: env.optional(&LOG_FORMAT)?,
            metrics_addr: env.optional(&METRICS_ADDR)?,
        })
    }
}
