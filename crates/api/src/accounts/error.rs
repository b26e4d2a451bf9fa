//! What a use case can refuse, one variant per failure a caller acts on, with no HTTP in
//! it: the JSON API maps these to statuses in `crate::error`, the CLI prints them, and an
//! OAuth token endpoint would map the same variants to RFC 6749 §5.2 codes.

use user_store::{PasswordError, StoreError, UsernameError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// An unknown user and a wrong password alike, so the answer does not tell who exists.
    #[error("the username or password is wrong")]
    InvalidCredentials,
    /// The current password given to change it was wrong (the caller is signed in).
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// The password given to confirm a change (the email address) was wrong.
    #[error("the password is wrong")]
    PasswordMismatch,
    /// An address that does not meet the contract's syntax.
    #[error("the email address is not valid")]
    InvalidEmail,
    /// `SMTP_URL` is not set: no email can be sent, so none of its endpoints works.
    #[error("email is not configured on this server")]
    EmailDisabled,
    /// A verification or reset token that buys nothing: unknown, used, expired, or no
    /// longer bound to the account's state.
    #[error("the token is invalid, used or expired")]
    InvalidEmailToken,
    #[error("this account is disabled")]
    AccountDisabled,
    /// The login throttle (per username, or per address) holds password checks back.
    #[error("too many failed logins for this username; retry after {retry_after} seconds")]
    TooManyAttempts { retry_after: u64 },
    /// `REGISTER_RATE_PER_ADDRESS`.
    #[error("too many registrations from this address; retry after {retry_after} seconds")]
    TooManyRegistrations { retry_after: u64 },
    #[error("sign-up is disabled on this server")]
    SignupDisabled,
    #[error("that username is already taken")]
    UsernameTaken,
    #[error(transparent)]
    InvalidUsername(#[from] UsernameError),
    #[error(transparent)]
    WeakPassword(#[from] PasswordError),
    #[error(transparent)]
    InvalidRoles(#[from] RolesError),
    /// A refresh token that buys nothing (RFC 6749 §5.2 `invalid_grant`).
    #[error(transparent)]
    InvalidGrant(#[from] GrantProblem),
    /// An operator named a user that does not exist.
    #[error("no user has this id")]
    UserNotFound,
    /// The signed-in user's own account is gone (deleted after the token was issued).
    #[error("the user no longer exists")]
    AccountGone,
    /// Client authentication failed (RFC 6749 §5.2 `invalid_client`): an unknown client,
    /// a wrong secret, or no secret.
    #[error("client authentication failed")]
    InvalidClient,
    /// An operator named a client that does not exist.
    #[error("no client has this id")]
    ClientNotFound,
    #[error("a client name must be 1 to {max_chars} characters without control characters")]
    InvalidClientName { max_chars: usize },
    /// No stored signing key of this algorithm has this id.
    #[error("no {alg} key with kid {kid}")]
    UnknownKey { alg: String, kid: String },
    /// The key signs tokens now: retiring it would leave nothing to sign with.
    #[error("{kid} signs tokens now")]
    KeyInUse { kid: String },
    /// A password given to change the second factor (confirm, disable) was wrong; the
    /// caller is signed in, so this is the body's fault, not the token's.
    #[error("the password is wrong")]
    WrongPassword,
    /// Enrolling while a factor is active: disable it first.
    #[error("a second factor is already enabled; disable it first")]
    MfaAlreadyEnabled,
    /// Disabling a factor the user does not have.
    #[error("no second factor is enabled")]
    NoActiveFactor,
    /// Confirming with no enrolment waiting (never enrolled, or replaced meanwhile).
    #[error("no second factor is waiting for confirmation; enrol first")]
    NoPendingFactor,
    /// A wrong, reused or malformed code to confirm or disable a factor.
    #[error("the code is wrong or was already used")]
    InvalidCode,
    /// A wrong, reused or malformed code to complete a login (RFC 6238 §5.2 for reuse).
    #[error("the code is wrong or was already used")]
    WrongSecondFactor,
    /// The database did not answer: retry later.
    #[error("the service is temporarily unavailable, retry shortly")]
    Unavailable,
    /// Load shedding: the password hashing queue is full; retry later.
    #[error("the server is busy, retry shortly")]
    Busy,
    #[error("an internal error occurred")]
    Internal(#[source] anyhow::Error),
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantProblem {
    /// Unknown, expired, or of a revoked session.
    #[error("the refresh token is invalid, expired or revoked")]
    Invalid,
    /// Spent already, after the reuse grace: the session has been revoked (RFC 9700 §4.14.2).
    #[error("the refresh token was already used; the session has been revoked")]
    Reused,
    /// An `mfa_token` that is unknown, spent (used, or five wrong codes) or expired.
    #[error("the mfa_token is unknown, spent or expired; log in again")]
    MfaToken,
}

/// Why a list of roles was refused (see `accounts::admin::check_roles`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolesError {
    #[error("a user can have at most {max} roles")]
    TooMany { max: usize },
    #[error("each role must be 1 to {max_chars} characters without spaces or control characters")]
    BadRole { max_chars: usize },
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UsernameTaken => AccountError::UsernameTaken,
            StoreError::Unavailable(_) => AccountError::Unavailable,
            StoreError::Busy => AccountError::Busy,
            StoreError::WeakPassword(e) => AccountError::WeakPassword(e),
            StoreError::Unexpected(e) => AccountError::Internal(e),
        }
    }
}
