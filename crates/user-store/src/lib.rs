//! authd's users, sessions and refresh tokens on SQLite or PostgreSQL, password hashing,
//! registered OAuth clients, and the housekeeping that deletes what can no longer matter.
//!
//! [`Store`] is one type over both databases: the schema is the same on each (see
//! `migrations/`), so every query is written once and run on whichever pool is configured.
//! Anything that must be atomic (rotating a refresh token, revoking sessions) is one
//! transaction or one conditional statement, and the security event that records a change
//! is written in that change's transaction ([`events`]).

/// The columns of a [`User`], for every statement that reads one (`email` is the verified
/// address, else the pending one).
macro_rules! user_columns {
    () => {
        "id, username, roles, disabled, created_at, \
         COALESCE(email, pending_email) AS email, (email IS NOT NULL) AS email_verified"
    };
}

mod clients;
mod email;
mod error;
pub mod events;
mod mfa;
mod password;
mod purge;
mod revocation_feed;
mod server_secrets;
mod sessions;
mod signing_keys;
mod statement;
mod store;
mod strength;
mod throttle;
mod timestamp;
mod user_admin;
mod username;
mod users;

/// Argon2id cost parameters (memory in KiB, iterations, parallelism).
pub use argon2::Params as HashParams;
pub use clients::{Client, ClientCredentials, GenerationRevocation};
pub use email::{
    OneTimeToken, RecoveryTarget, ResetHolder, TokenIssue, TokenPurpose, email_key, password_stamp,
    token_hash,
};
pub use error::StoreError;
pub use events::{
    Actor, Event, EventFilter, EventPage, EventType, MAX_USER_AGENT_CHARS, NewEvent, Origin,
};
pub use mfa::{FactorSecret, MFA_MAX_FAILURES, MfaChallenge, TotpFactor};
pub use password::{HasherOptions, MAX_HASH_ITERATIONS, MAX_HASH_MEMORY_KIB, PasswordHasher};
pub use purge::{ENDED_SESSION_MARGIN, PURGE_RULES, PurgePolicy, PurgeRule, Purged};
pub use revocation_feed::spawn_revocation_feed;
pub use sessions::{RefreshTokenState, RevocationReason, Rotation, SessionOpening};
pub use signing_keys::StoredKey;
pub use store::{Store, StoreOptions};
pub use strength::{PasswordError, check_password_strength};
pub use throttle::{Admission, ThrottleKey, ThrottlePolicy};
pub use timestamp::Timestamp;
pub use user_admin::{UserChange, UserPage};
pub use username::{Username, UsernameError};
pub use users::{User, UserCredentials};
