//! Where a login is decided, for every transport: admit the attempt (throttle), find the
//! user, verify the password off the workers (a dummy hash for an unknown name, so
//! timing does not tell who exists), then open the session in one transaction that
//! confirms what was checked (the hash verified is still the stored one, the user is not
//! disabled) and reads the roles the tokens carry. A user with an active second factor
//! gets an `mfa_token` instead (see [`crate::accounts::mfa::second_step`]). Each outcome
//! is a security event: `login_succeeded` in the session's transaction, `login_failed` or
//! `login_throttled` otherwise (see [`crate::accounts::events`]).

use std::net::IpAddr;

use auth_core::StoredRefreshToken;
use secrecy::SecretString;
use user_store::{Origin, SessionOpening, Username};
use uuid::Uuid;

use crate::accounts::attempts::Attempt;
use crate::accounts::events::{self, FailureReason};
use crate::accounts::mfa::{self, MfaRequired};
use crate::accounts::tokens::{self, Tokens};
use crate::accounts::{AccountError, Accounts, Users};
use crate::metrics::LoginOutcome;

/// A username and password, from whichever transport.
pub struct LoginRequest {
    pub username: String,
    pub password: SecretString,
    /// The client's address as `TRUSTED_PROXIES` resolves it, for the per-address limit
    /// and the security events.
    pub client: Option<IpAddr>,
    /// The `User-Agent` header, for the security events.
    pub user_agent: Option<String>,
}

/// What a right password earns.
pub enum SignedIn {
    /// A session: the user has no second factor.
    Tokens(Box<Tokens>),
    /// The second factor is due (`POST /auth/login/mfa`); no session yet.
    MfaRequired(MfaRequired),
}

/// Checks the credentials and opens a session (or asks for the second factor): [`AccountError::InvalidCredentials`] for
/// an unknown user and a wrong password alike, [`AccountError::AccountDisabled`] for a
/// disabled user with the right password, [`AccountError::TooManyAttempts`] while the
/// name (or address) is throttled. Counted once in `logins_total` by its outcome.
pub async fn login(accounts: &Accounts, request: LoginRequest) -> Result<SignedIn, AccountError> {
    let outcome = decide(accounts, request).await;
    let counted = match &outcome {
        Ok(SignedIn::Tokens(_)) => Some(LoginOutcome::Succeeded),
        Ok(SignedIn::MfaRequired(_)) => Some(LoginOutcome::MfaRequired),
        Err(AccountError::InvalidCredentials) => Some(LoginOutcome::Failed),
        Err(AccountError::TooManyAttempts { .. }) => Some(LoginOutcome::Throttled),
        Err(AccountError::AccountDisabled) => Some(LoginOutcome::Disabled),
        // The password could not be checked (the store or the hashing queue).
        Err(_) => None,
    };
    if let Some(counted) = counted {
        accounts.metrics.login(counted);
    }
    outcome
}

async fn decide(accounts: &Accounts, request: LoginRequest) -> Result<SignedIn, AccountError> {
    let LoginRequest {
        username,
        password,
        client,
        user_agent,
    } = request;
    let users = &accounts.users;
    let origin = Origin::client(client, user_agent);
    // A name that cannot exist is treated like an unknown user, dummy hash included; it
    // needs no username throttle, since no password can be right for it.
    let name = Username::parse(&username).ok();
    let attempt = admit(accounts, name.as_ref(), &origin).await?;
    let (attempt, (found, verified)) = attempt
        .check(accounts, async {
            let found = match &name {
                Some(name) => users.store.find_credentials(name).await?,
                None => None,
            };
            let stored_hash = found.as_ref().map(|c| c.password_hash.clone());
            let verified = users.hasher.verify(password.clone(), stored_hash).await?;
            Ok::<_, AccountError>((found, verified))
        })
        .await?;
    let user_id = found.as_ref().map(|c| c.user.id);
    let (Some(found), true) = (found, verified) else {
        // A wrong password (or unknown user): already counted when it was admitted.
        tracing::debug!("login failed");
        return Err(failed(accounts, user_id, &origin, FailureReason::WrongPassword).await);
    };
    if !found.user.disabled
        && users
            .store
            .totp_factor(found.user.id)
            .await?
            .is_some_and(|f| f.is_active())
    {
        // The password alone opens nothing: its attempt is given back, but the failures
        // counted so far stay until the second factor is right too.
        attempt.refund(accounts).await;
        let required = mfa::second_step::challenge(accounts, found.user.id, &found.password_hash);
        return required.await.map(SignedIn::MfaRequired);
    }
    let amr = [mfa::AMR_PASSWORD.to_owned()];
    match open_session(accounts, found.user.id, &found.password_hash, &amr, &origin).await? {
        Opened::Tokens(tokens) => {
            attempt.succeeded(accounts).await;
            if users.hasher.needs_rehash(&found.password_hash) {
                rehash_in_background(users, found.user.id, found.password_hash, password);
            }
            Ok(SignedIn::Tokens(tokens))
        }
        Opened::Refused(reason) => {
            if let FailureReason::AccountDisabled = reason {
                attempt.succeeded(accounts).await;
            }
            Err(failed(accounts, user_id, &origin, reason).await)
        }
    }
}

/// What opening a session for checked credentials came to.
pub(crate) enum Opened {
    Tokens(Box<Tokens>),
    /// The user was disabled, or the password changed, since the check: nothing opened.
    Refused(FailureReason),
}

/// Opens a session for a login whose credentials were checked against `verified_hash`,
/// in one transaction that confirms that hash is still the stored one and the user is not
/// disabled, and records `login_succeeded` from `origin`. `amr` (RFC 8176) says how the
/// user authenticated.
pub(crate) async fn open_session(
    accounts: &Accounts,
    user_id: Uuid,
    verified_hash: &str,
    amr: &[String],
    origin: &Origin,
) -> Result<Opened, AccountError> {
    let (refresh_token, refresh) = new_refresh_token()?;
    let ttl = accounts.policy.refresh_token_ttl;
    let opening = accounts
        .users
        .store
        .open_session(user_id, verified_hash, &refresh, ttl, amr, origin)
        .await?;
    match opening {
        SessionOpening::Opened {
            session_id, user, ..
        } => {
            tracing::info!(user_id = %user.id, session_id = %session_id, "login succeeded");
            let tokens = tokens::issue(accounts, &user, session_id, refresh_token, amr)?;
            Ok(Opened::Tokens(Box::new(tokens)))
        }
        // Changed since it was verified: the password checked is no longer the password.
        SessionOpening::CredentialsChanged => {
            tracing::debug!("login failed: the password changed meanwhile");
            Ok(Opened::Refused(FailureReason::CredentialsChanged))
        }
        SessionOpening::Disabled => Ok(Opened::Refused(FailureReason::AccountDisabled)),
    }
}

/// Admits the attempt against the throttle ([`Attempt::admit`]); a refusal is recorded
/// as `login_throttled`.
async fn admit<'a>(
    accounts: &'a Accounts,
    name: Option<&'a Username>,
    origin: &Origin,
) -> Result<Attempt<'a>, AccountError> {
    let admitted = Attempt::admit(accounts, name, origin.ip).await;
    if let Err(AccountError::TooManyAttempts { .. }) = &admitted {
        events::login_throttled(&accounts.users.store, name, origin, None).await;
    }
    admitted
}

/// Records `login_failed` (an unknown name when `user_id` is `None`) and returns the
/// refusal: [`AccountError::AccountDisabled`] for a disabled user's right password, else
/// [`AccountError::InvalidCredentials`] whatever the reason, so that the answer does not
/// tell who exists.
pub(crate) async fn failed(
    accounts: &Accounts,
    user_id: Option<Uuid>,
    origin: &Origin,
    reason: FailureReason,
) -> AccountError {
    let reason = match (user_id, reason) {
        (None, FailureReason::WrongPassword) => FailureReason::UnknownUser,
        (_, reason) => reason,
    };
    events::login_failed(&accounts.users.store, user_id, origin, reason, None).await;
    match reason {
        FailureReason::AccountDisabled => AccountError::AccountDisabled,
        _ => AccountError::InvalidCredentials,
    }
}

/// A new session's first refresh token: the value for the client and what is stored.
fn new_refresh_token() -> Result<(String, StoredRefreshToken), AccountError> {
    StoredRefreshToken::generate()
        .map_err(|e| AccountError::Internal(anyhow::anyhow!("no randomness: {e}")))
}

/// Replaces a hash made with older settings by one with the configured ones, after the
/// response: the login does not wait for a second argon2 run. Skipped when the hashing
/// queue is full (the next login tries again) or the password changed meanwhile.
fn rehash_in_background(users: &Users, user_id: Uuid, old_hash: String, password: SecretString) {
    let Users { store, hasher } = users.clone();
    tokio::spawn(async move {
        let result = async {
            let new_hash = hasher.hash(password).await?;
            store
                .replace_password_hash(user_id, &old_hash, &new_hash)
                .await
        }
        .await;
        match result {
            Ok(true) => tracing::info!(%user_id, "password rehashed with the current parameters"),
            Ok(false) => {}
            Err(e) => tracing::debug!(%user_id, error = %e, "password rehash skipped"),
        }
    });
}
