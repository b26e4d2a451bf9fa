//! The answer to a login or a refresh: a signed access token for the session, and the
//! session's one live refresh token.

use auth_core::{IssuedAccessToken, TokenSubject};
use user_store::User;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// What a transport renders (a JSON token pair today).
pub struct Tokens {
    pub access: IssuedAccessToken,
    pub refresh_token: String,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}

/// Signs an access token for `user` in `session_id` (roles as read with the session).
pub fn issue(
    state: &AppState,
    user: &User,
    session_id: Uuid,
    refresh_token: String,
) -> Result<Tokens, ApiError> {
    let subject = TokenSubject {
        user_id: user.id,
        session_id,
        username: user.username.clone(),
        roles: user.roles.0.clone(),
    };
    let access = state.keys.current().issuer.issue(&subject).map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("signing an access token"))
    })?;
    Ok(Tokens {
        access,
        refresh_token,
        refresh_expires_in: state.refresh_token_ttl.as_secs(),
    })
}
