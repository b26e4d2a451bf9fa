//! The answer to a login or a refresh: a signed access token for the session, and the
//! session's one live refresh token.

use auth_core::{IssuedAccessToken, TokenSubject};
use user_store::User;
use uuid::Uuid;

use crate::accounts::{AccountError, Accounts};

/// What a transport renders (a JSON token pair today).
pub struct Tokens {
    pub access: IssuedAccessToken,
    pub refresh_token: String,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}

/// Signs an access token for `user` in `session_id` (roles as read with the session;
/// `amr`, RFC 8176, as stored with it).
pub fn issue(
    accounts: &Accounts,
    user: &User,
    session_id: Uuid,
    refresh_token: String,
    amr: &[String],
) -> Result<Tokens, AccountError> {
    let subject = TokenSubject {
        user_id: user.id,
        session_id,
        username: user.username.clone(),
        roles: user.roles.0.clone(),
        amr: Some(amr.to_vec()),
        client_id: None,
    };
    let access = accounts
        .keys
        .current()
        .issuer
        .issue(&subject)
        .map_err(|e| {
            AccountError::Internal(anyhow::Error::new(e).context("signing an access token"))
        })?;
    Ok(Tokens {
        access,
        refresh_token,
        refresh_expires_in: accounts.policy.refresh_token_ttl.as_secs(),
    })
}
