//! Where a login is decided, for every transport: admit the attempt (throttle), find the
//! user, verify the password off the workers (a dummy hash for an unknown name, so
//! timing does not tell who exists), then open the session in one transaction that
//! confirms what was checked (the hash verified is still the stored one, the user is not
//! disabled) and reads the roles the tokens carry.

use std::net::IpAddr;

use auth_core::StoredRefreshToken;
use secrecy::SecretString;
use user_store::{SessionOpening, Username};
use uuid::Uuid;

use crate::accounts::attempts::Attempt;
use crate::accounts::tokens::{self, Tokens};
use crate::error::ApiError;
use crate::metrics::LoginOutcome;
use crate::state::AppState;

/// A username and password, from whichever transport.
pub struct LoginRequest {
    pub username: String,
    pub password: SecretString,
    /// The client's address as `TRUSTED_PROXIES` resolves it, for the per-address limit.
    pub client: Option<IpAddr>,
}

/// Checks the credentials and opens a session: 401 `invalid_credentials` for an unknown
/// user and a wrong password alike, 403 `account_disabled` for a disabled user with the
/// right password, 429 while the name (or address) is throttled.
pub async fn login(state: &AppState, request: LoginRequest) -> Result<Tokens, ApiError> {
    let LoginRequest {
        username,
        password,
        client,
    } = request;
    // A name that cannot exist is treated like an unknown user, dummy hash included; it
    // needs no username throttle, since no password can be right for it.
    let name = Username::parse(&username).ok();
    let attempt = Attempt::admit(state, name.as_ref(), client).await?;
    let (attempt, (found, verified)) = attempt
        .check(state, async {
            let found = match &name {
                Some(name) => state.store.find_credentials(name).await?,
                None => None,
            };
            let stored_hash = found.as_ref().map(|c| c.password_hash.clone());
            let verified = state.hasher.verify(password.clone(), stored_hash).await?;
            Ok::<_, ApiError>((found, verified))
        })
        .await?;
    let (Some(found), true) = (found, verified) else {
        return Err(failed(state));
    };
    let (refresh_token, refresh) = new_refresh_secret()?;
    let opening = state
        .store
        .open_session(
            found.user.id,
            &found.password_hash,
            &refresh,
            state.refresh_token_ttl,
        )
        .await?;
    let (session_id, user) = match opening {
        SessionOpening::Opened {
            session_id, user, ..
        } => (session_id, user),
        // Changed since it was verified: the password checked is no longer the password.
        SessionOpening::CredentialsChanged => return Err(failed(state)),
        SessionOpening::Disabled => {
            attempt.succeeded(state).await;
            state.metrics.login(LoginOutcome::Disabled);
            return Err(ApiError::AccountDisabled);
        }
    };
    attempt.succeeded(state).await;
    if state.hasher.needs_rehash(&found.password_hash) {
        rehash_in_background(state, user.id, found.password_hash, password);
    }
    state.metrics.login(LoginOutcome::Succeeded);
    tracing::info!(user_id = %user.id, session_id = %session_id, "login succeeded");
    tokens::issue(state, &user, session_id, refresh_token)
}

/// A wrong password (or unknown user): already counted when it was admitted.
fn failed(state: &AppState) -> ApiError {
    state.metrics.login(LoginOutcome::Failed);
    tracing::debug!("login failed");
    ApiError::InvalidCredentials
}

pub(crate) fn new_refresh_secret() -> Result<(String, StoredRefreshToken), ApiError> {
    StoredRefreshToken::generate()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("no randomness: {e}")))
}

/// Replaces a hash made with older settings by one with the configured ones, after the
/// response: the login does not wait for a second argon2 run. Skipped when the hashing
/// queue is full (the next login tries again) or the password changed meanwhile.
fn rehash_in_background(state: &AppState, user_id: Uuid, old_hash: String, password: SecretString) {
    let store = state.store.clone();
    let hasher = state.hasher.clone();
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
