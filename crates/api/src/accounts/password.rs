//! Where a password is changed: the current password is checked like a login's (it
//! counts against the same throttle, so a stolen access token is no faster a password
//! oracle than the login form), and the new hash replaces the verified one only if that
//! is still the stored one, with every session revoked in the same transaction, and the
//! `password_changed` event with them. A wrong or throttled current password is recorded
//! as a failed or throttled login (`detail.check`: `password_change`).

use std::net::IpAddr;

use secrecy::SecretString;
use user_store::{Origin, Username};
use uuid::Uuid;

use crate::accounts::attempts::Attempt;
use crate::accounts::events::{self, CHECK_PASSWORD_CHANGE, FailureReason};
use crate::accounts::{AccountError, Accounts};
use crate::metrics::LoginOutcome;

/// A password change by the signed-in user.
pub struct PasswordChange {
    pub user_id: Uuid,
    pub current_password: SecretString,
    pub new_password: SecretString,
    pub client: Option<IpAddr>,
    /// The `User-Agent` header, for the security events.
    pub user_agent: Option<String>,
}

/// Changes the password and revokes every session of the user; returns how many. A
/// throttled attempt is counted in `logins_total` as a throttled login, since it spends
/// the login throttle's budget.
pub async fn change_password(
    accounts: &Accounts,
    change: PasswordChange,
) -> Result<usize, AccountError> {
    let outcome = decide(accounts, change).await;
    if let Err(AccountError::TooManyAttempts { .. }) = &outcome {
        accounts.metrics.login(LoginOutcome::Throttled);
    }
    outcome
}

async fn decide(accounts: &Accounts, change: PasswordChange) -> Result<usize, AccountError> {
    let PasswordChange {
        user_id,
        current_password,
        new_password,
        client,
        user_agent,
    } = change;
    let origin = Origin::client(client, user_agent);
    let users = &accounts.users;
    let credentials = users
        .store
        .find_credentials_by_id(user_id)
        .await?
        .ok_or(AccountError::AccountGone)?;
    let name = Username::of_stored_user(&credentials.user.username);
    let store = &users.store;
    let check = Some(CHECK_PASSWORD_CHANGE);
    let attempt = Attempt::admit(accounts, Some(&name), client).await;
    if let Err(AccountError::TooManyAttempts { .. }) = &attempt {
        events::login_throttled(store, Some(&name), &origin, check).await;
    }
    let attempt = attempt?;
    let stored_hash = Some(credentials.password_hash.clone());
    let (attempt, verified) = attempt
        .check(accounts, users.hasher.verify(current_password, stored_hash))
        .await?;
    if !verified {
        tracing::debug!("password change refused: wrong current password");
        let reason = FailureReason::WrongPassword;
        events::login_failed(store, Some(user_id), &origin, reason, check).await;
        return Err(AccountError::WrongCurrentPassword);
    }
    attempt.succeeded(accounts).await;
    // The strength check runs with the hash, off the HTTP workers (its cost is bounded).
    let hash = users
        .hasher
        .hash_new(new_password, &credentials.user.username)
        .await?;
    let Some(revoked) = accounts
        .sessions
        .change_password(user_id, &credentials.password_hash, &hash, &origin)
        .await?
    else {
        // Changed by another request since it was verified.
        return Err(AccountError::WrongCurrentPassword);
    };
    tracing::info!(
        sessions = revoked.len(),
        "password changed; sessions revoked"
    );
    Ok(revoked.len())
}
