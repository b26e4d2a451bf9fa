//! Where a refresh token is rotated: the presented token is spent and its successor
//! stored, in one transaction (`Store::rotate_refresh_token`); a replay within the reuse
//! grace gets the session's live token again, never a sibling; a replay after it revokes
//! the whole session (RFC 9700 §4.14.2).

use auth_core::PresentedRefreshToken;
use secrecy::{ExposeSecret, SecretString};
use user_store::Rotation;

use crate::accounts::tokens::{self, Tokens};
use crate::error::ApiError;
use crate::metrics::RefreshOutcome;
use crate::state::AppState;

const INVALID: &str = "the refresh token is invalid, expired or revoked";

/// Trades a refresh token for an access token and the session's live refresh token:
/// 401 `invalid_grant` for anything but a live token of a live session.
pub async fn refresh(state: &AppState, presented: &SecretString) -> Result<Tokens, ApiError> {
    let Some(presented) = PresentedRefreshToken::parse(presented.expose_secret()) else {
        state.metrics.refresh(RefreshOutcome::Invalid);
        return Err(ApiError::InvalidGrant(INVALID));
    };
    let rotation = state
        .store
        .rotate_refresh_token(
            &presented,
            &state.refresh_chain,
            state.refresh_token_ttl,
            state.refresh_reuse_grace,
        )
        .await?;
    match rotation {
        Rotation::Rotated {
            session_id,
            user,
            refresh_token,
        } => {
            state.metrics.refresh(RefreshOutcome::Rotated);
            tokens::issue(state, &user, session_id, refresh_token)
        }
        Rotation::ReuseDetected { session_id } => {
            state.metrics.refresh(RefreshOutcome::ReuseDetected);
            state.remember_revoked(&[session_id]);
            Err(ApiError::InvalidGrant(
                "the refresh token was already used; the session has been revoked",
            ))
        }
        Rotation::Invalid => {
            state.metrics.refresh(RefreshOutcome::Invalid);
            Err(ApiError::InvalidGrant(INVALID))
        }
    }
}
