//! Where a password is changed: the current password is checked like a login's (it
//! counts against the same throttle, so a stolen access token is no faster a password
//! oracle than the login form), and the new hash replaces the verified one only if that
//! is still the stored one, with every session revoked in the same transaction.

use std::net::IpAddr;

use secrecy::SecretString;
use user_store::Username;
use uuid::Uuid;

use crate::accounts::attempts::Attempt;
use crate::error::{ApiError, TokenProblem};
use crate::state::AppState;

/// A password change by the signed-in user.
pub struct PasswordChange {
    pub user_id: Uuid,
    pub current_password: SecretString,
    pub new_password: SecretString,
    pub client: Option<IpAddr>,
}

/// Changes the password and revokes every session of the user; returns how many.
pub async fn change_password(state: &AppState, change: PasswordChange) -> Result<usize, ApiError> {
    let PasswordChange {
        user_id,
        current_password,
        new_password,
        client,
    } = change;
    let credentials = state
        .store
        .find_credentials_by_id(user_id)
        .await?
        .ok_or(TokenProblem::UnknownUser)?;
    let name = Username::of_stored_user(&credentials.user.username);
    let attempt = Attempt::admit(state, Some(&name), client).await?;
    let stored_hash = Some(credentials.password_hash.clone());
    let (attempt, verified) = attempt
        .check(state, state.hasher.verify(current_password, stored_hash))
        .await?;
    if !verified {
        tracing::debug!("password change refused: wrong current password");
        return Err(ApiError::WrongCurrentPassword);
    }
    attempt.succeeded(state).await;
    // The strength check runs with the hash, off the HTTP workers (its cost is bounded).
    let hash = state
        .hasher
        .hash_new(new_password, &credentials.user.username)
        .await?;
    let Some(revoked) = state
        .store
        .change_password(user_id, &credentials.password_hash, &hash)
        .await?
    else {
        // Changed by another request since it was verified.
        return Err(ApiError::WrongCurrentPassword);
    };
    state.remember_revoked(&revoked);
    tracing::info!(
        sessions = revoked.len(),
        "password changed; sessions revoked"
    );
    Ok(revoked.len())
}
