//! Password hashing: argon2id's cost, and how many hashes run or wait at once.

use super::ConfigError;
use super::key::Fallback::{Computed, Value};
use super::key::Key;
use super::reader::Env;
use super::rules;
use super::values::cores;

pub(super) const PASSWORD_HASH_CONCURRENCY: Key<usize> = Key::count(
    "PASSWORD_HASH_CONCURRENCY",
    Computed("the number of cores"),
    1..=1024,
    "argon2 hashes computed at once (each uses PASSWORD_HASH_MEMORY)",
);

const PASSWORD_HASH_QUEUE: Key<usize> = Key::count(
    "PASSWORD_HASH_QUEUE",
    Value("64"),
    1..=100_000,
    "hashes waiting for a thread beyond those running; more get 503 at once",
);

pub(super) const PASSWORD_HASH_MEMORY: Key<u32> = Key::count(
    "PASSWORD_HASH_MEMORY",
    Value("19456"),
    8..=user_store::MAX_HASH_MEMORY_KIB,
    "argon2id memory cost of new hashes, KiB (OWASP's minimum with 2 iterations)",
);

pub(super) const PASSWORD_HASH_ITERATIONS: Key<u32> = Key::count(
    "PASSWORD_HASH_ITERATIONS",
    Value("2"),
    1..=user_store::MAX_HASH_ITERATIONS,
    "argon2id iterations of new hashes (parallelism is 1)",
);

const PASSWORD_HASH_NICE: Key<u8> = Key::count(
    "PASSWORD_HASH_NICE",
    Value("10"),
    0..=19,
    "nice levels the hashing threads run below the HTTP workers (Linux; 0: none)",
);

/// The password hasher's settings.
#[derive(Debug, Clone)]
pub struct Passwords {
    pub concurrency: usize,
    /// Hashes waiting for a thread beyond those running; more are refused with 503.
    pub queue: usize,
    /// The argon2id parameters of new hashes.
    pub params: user_store::HashParams,
    /// Nice levels the hashing threads run below the HTTP workers (Linux; 0: none).
    pub nice: u8,
}

impl Passwords {
    pub(super) fn read(env: &mut Env) -> Result<Self, ConfigError> {
        let concurrency = env.computed(&PASSWORD_HASH_CONCURRENCY, cores())?;
        let queue = env.value(&PASSWORD_HASH_QUEUE)?;
        let memory_kib = env.value(&PASSWORD_HASH_MEMORY)?;
        let params = rules::hash_params(memory_kib, env.value(&PASSWORD_HASH_ITERATIONS)?);
        let params = env.rule(params, user_store::HashParams::default());
        let total = rules::hash_memory(memory_kib, concurrency, rules::hash_memory_limit_kib());
        env.rule(total, ());
        Ok(Self {
            concurrency,
            queue,
            params,
            nice: env.value(&PASSWORD_HASH_NICE)?,
        })
    }
}
