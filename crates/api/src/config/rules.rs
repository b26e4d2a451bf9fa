//! Every rule that involves more than one key, in one place. Each is applied as its group
//! is read (through `Env::rule`, which reports a broken rule after every key's own
//! problems), so no value is used unvalidated.

use std::path::PathBuf;

use super::ConfigError;
use super::http::{TLS_CERT_FILE, TLS_KEY_FILE};
use super::passwords::{PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_ITERATIONS, PASSWORD_HASH_MEMORY};

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

/// OWASP's minimum argon2id settings (Password Storage Cheat Sheet, "Argon2id"), as
/// (memory in KiB, iterations) pairs of equal strength for parallelism 1: less memory
/// needs more passes.
pub(super) const OWASP_ARGON2ID_MINIMUMS: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// `PASSWORD_HASH_MEMORY` with `PASSWORD_HASH_ITERATIONS`: parameters argon2 accepts
/// (RFC 9106 §3.1), parallelism 1, and at least one of [`OWASP_ARGON2ID_MINIMUMS`]: weaker
/// hashes stay in the database, cheap to crack, long after the setting is fixed.
pub(super) fn hash_params(
    memory_kib: u32,
    iterations: u32,
) -> Result<user_store::HashParams, ConfigError> {
    if !OWASP_ARGON2ID_MINIMUMS
        .iter()
        .any(|&(m, t)| memory_kib >= m && iterations >= t)
    {
        return Err(ConfigError::new(
            PASSWORD_HASH_MEMORY.name,
            format!(
                "{memory_kib} KiB with {}={iterations} is below OWASP's minimum for \
                 argon2id: at least 47104 KiB with 1 iteration, 19456 with 2, 12288 with 3, \
                 9216 with 4 or 7168 with 5",
                PASSWORD_HASH_ITERATIONS.name
            ),
        ));
    }
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

/// `PASSWORD_HASH_MEMORY` × `PASSWORD_HASH_CONCURRENCY`, the argon2 memory in use when
/// every hashing thread runs (which unauthenticated logins can bring about), at most
/// `limit_kib`: see [`hash_memory_limit_kib`].
pub(super) fn hash_memory(
    memory_kib: u32,
    concurrency: usize,
    limit_kib: u64,
) -> Result<(), ConfigError> {
    let total = u64::from(memory_kib).saturating_mul(concurrency as u64);
    if total <= limit_kib {
        return Ok(());
    }
    Err(ConfigError::new(
        PASSWORD_HASH_MEMORY.name,
        format!(
            "{memory_kib} KiB × {}={concurrency} is {} MiB of argon2 memory at once, over \
             the limit of {} MiB (half this machine's memory): lower one of them",
            PASSWORD_HASH_CONCURRENCY.name,
            total / 1024,
            limit_kib / 1024
        ),
    ))
}

/// Half the memory this process may use: the smaller of the machine's (`MemTotal` in
/// `/proc/meminfo`) and its cgroup's limit (`memory.max`, cgroup v2), so the hashers leave
/// room for everything else; [`HASH_MEMORY_CEILING_KIB`] where neither can be read.
pub(super) fn hash_memory_limit_kib() -> u64 {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|max| max.trim().parse::<u64>().ok())
        .map(|bytes| bytes / 1024);
    match (machine, cgroup) {
        (None, None) => HASH_MEMORY_CEILING_KIB,
        (machine, cgroup) => machine.into_iter().chain(cgroup).min().unwrap_or_default() / 2,
    }
}

/// The limit of [`hash_memory`] where the machine's memory cannot be read: 16 GiB.
pub(super) const HASH_MEMORY_CEILING_KIB: u64 = 16 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_settings_below_owasps_minimum_are_refused_naming_the_key() {
        for (m, t) in [
            (8, 1),
            (8192, 1),
            (19_455, 2),
            (47_103, 1),
            (7_168, 4),
            (4096, 32),
        ] {
            let err = hash_params(m, t).unwrap_err();
            assert_eq!(err.key, "PASSWORD_HASH_MEMORY", "{m} {t}");
            assert!(err.message.contains("OWASP"), "{err}");
        }
        for (m, t) in OWASP_ARGON2ID_MINIMUMS
            .into_iter()
            .chain([(65_536, 8), (7_168, 32)])
        {
            assert!(hash_params(m, t).is_ok(), "{m} {t}");
        }
    }

    #[test]
    fn argon2_memory_at_full_concurrency_is_bounded() {
        let gib = 1 << 20;
        assert!(hash_memory(19_456, 2, gib).is_ok());
        assert!(hash_memory(1 << 20, 1, gib).is_ok());
        let err = hash_memory(1 << 20, 1024, 8 * gib).unwrap_err();
        assert_eq!(err.key, "PASSWORD_HASH_MEMORY");
        assert!(
            err.message.contains("PASSWORD_HASH_CONCURRENCY=1024")
                && err.message.contains("1048576 MiB"),
            "{err}"
        );
        let limit = hash_memory_limit_kib();
        assert!(limit > 0 && limit <= 1 << 40, "{limit} KiB");
    }
}
