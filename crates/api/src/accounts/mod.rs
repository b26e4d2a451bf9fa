//! The rules of authd's accounts, apart from any transport: each use case is a function
//! or method that takes typed input and returns a typed result or an [`AccountError`], with
//! no actix and no clap in it. The HTTP handlers (`crate::routes`) and the CLI
//! (`crate::cli`) parse, call one of these, and render.
//!
//! Where each rule lives:
//!
//! - [`login`]: where a login is decided (throttle, password, disabled, session).
//! - [`refresh`]: where a refresh token is rotated (and a replay revokes the session).
//! - [`register`]: who may sign up (`SIGNUP_ENABLED`, `REGISTER_RATE_PER_ADDRESS`).
//! - [`users`]: what a new user must satisfy (username and password rules), lookups.
//! - [`password`]: where a password is changed.
//! - [`mfa`]: the second factor: TOTP enrolment, recovery codes, the login's second step.
//! - [`logout`]: which sessions a logout ends (local, global, others).
//! - [`admin`]: what an operator does to users (list, roles, disable, enable, revoke).
//! - [`sessions`]: where a session is revoked: the one call that writes the store and
//!   updates this replica's revoked set.
//! - [`clients`]: registered OAuth clients: create, list, delete, authenticate, and the
//!   client credentials grant.
//! - [`oauth`]: what introspection (RFC 7662) and revocation (RFC 7009) decide.
//! - [`keys`]: where a signing key is listed, rotated and retired.
//! - [`email`]: users' addresses: their syntax, changing one, verifying it.
//! - [`recovery`]: a forgotten password: the reset request, the reset, the operator's
//!   `set-password`.
//! - [`attempts`]: how every password check counts against the login throttle.
//! - [`events`]: which security events are recorded where, and their listing.
//! - [`tokens`]: the access token issued with a session's refresh token.
//! - [`error`]: every refusal, free of HTTP.
//!
//! State is split so that each caller builds only what it needs: [`users::Users`] (store
//! and hasher) is enough to create a user, [`sessions::Sessions`] to revoke, and
//! [`Accounts`] (what the server holds) adds the keys, the policy and the metrics.

pub mod admin;
pub mod attempts;
pub mod clients;
pub mod email;
pub mod error;
pub mod events;
pub mod keys;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod oauth;
pub mod password;
pub mod recovery;
pub mod refresh;
pub mod register;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use auth_core::RefreshChainKey;
use user_store::ThrottlePolicy;

pub use error::{AccountError, GrantProblem, RolesError};
pub use login::{LoginRequest, SignedIn, login};
pub use logout::{LogoutScope, logout};
pub use password::{PasswordChange, change_password};
pub use refresh::refresh;
pub use register::{Registration, register};
pub use sessions::Sessions;
pub use tokens::Tokens;
pub use users::{NewUser, Users};

use crate::keyring::KeyRing;
use crate::metrics::Metrics;
use crate::rate_limit::AddressRateLimiter;

/// Everything the account use cases of a serving process work with.
pub struct Accounts {
    pub users: Users,
    pub sessions: Sessions,
    /// The signing and verification keys in force (replaced as keys rotate).
    pub keys: Arc<KeyRing>,
    pub policy: Policy,
    pub metrics: Metrics,
    /// Email, when `SMTP_URL` is set.
    pub email: Option<email::EmailService>,
}

/// The configured rules: how long refresh tokens live, who may sign up, how password
/// checks are throttled.
pub struct Policy {
    pub signup_enabled: bool,
    pub refresh_token_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    /// Derives each refresh token's successor; shared by every replica (in the database).
    pub refresh_chain: RefreshChainKey,
    /// Failed logins per username.
    pub login_throttle: ThrottlePolicy,
    /// Failed logins per client address, when that limit is on.
    pub address_throttle: Option<ThrottlePolicy>,
    /// Registrations per client address, when that limit is on.
    pub register_limit: Option<AddressRateLimiter>,
    /// The issuer of `otpauth://` URIs (`MFA_ISSUER`).
    pub mfa_issuer: String,
}

impl Policy {
    /// How long a throttle row can still matter: the longest window of either throttle.
    pub fn throttle_window(&self) -> Duration {
        self.address_throttle
            .iter()
            .map(|policy| policy.window)
            .fold(self.login_throttle.window, Duration::max)
    }
}
