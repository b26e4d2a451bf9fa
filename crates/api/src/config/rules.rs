//! Every rule that involves more than one key, in one place. Each is applied as its group
//! is read (through `Env::rule`, which reports a broken rule after every key's own
//! problems), so no value is used unvalidated.

use std::path::PathBuf;

use super::ConfigError;
use super::http::{TLS_CERT_FILE, TLS_KEY_FILE};
use super::passwords::{PASSWORD_HASH_ITERATIONS, PASSWORD_HASH_MEMORY};

/// `TLS_CERT_FILE` and `TLS_KEY_FILE`: both (HTTPS) or neither (plain HTTP); the error
/// names the one missing.
pub(super) fn tls_pair(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
    let missing = |absent: &'static str, present: &str| {
        ConfigError::new(absent, format!("must be set with {present}"))
    };
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some((cert, key))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(missing(TLS_KEY_FILE.name, TLS_CERT_FILE.name)),
        (None, Some(_)) => Err(missing(TLS_CERT_FILE.name, TLS_KEY_FILE.name)),
    }
}

/// `PASSWORD_HASH_MEMORY` with `PASSWORD_HASH_ITERATIONS`: parameters argon2 accepts
/// (RFC 9106 §3.1), parallelism 1.
pub(super) fn hash_params(
    memory_kib: u32,
    iterations: u32,
) -> Result<user_store::HashParams, ConfigError> {
    user_store::HashParams::new(memory_kib, iterations, 1, None).map_err(|e| {
        ConfigError::new(
            PASSWORD_HASH_MEMORY.name,
            format!(
                "with {}, not valid argon2 parameters: {e}",
                PASSWORD_HASH_ITERATIONS.name
            ),
        )
    })
}
