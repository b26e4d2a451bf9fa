//! Where a refresh token is rotated: the presented token is spent and its successor
//! stored, in one transaction (`Store::rotate_refresh_token`, through
//! [`crate::accounts::Sessions`]); a replay within the reuse grace gets the session's live
//! token again, never a sibling; a replay after it revokes the whole session
//! (RFC 9700 §4.14.2) and records `refresh_reuse_detected`.

use auth_core::PresentedRefreshToken;
use secrecy::{ExposeSecret, SecretString};
use user_store::{Origin, Rotation};

use crate::accounts::tokens::{self, Tokens};
use crate::accounts::{AccountError, Accounts, GrantProblem};
use crate::metrics::RefreshOutcome;

/// Trades a refresh token for an access token and the session's live refresh token:
/// [`AccountError::InvalidGrant`] for anything but a live token of a live session.
/// Counted once in `refreshes_total` by its outcome. `origin` is the presenter, named in
/// the event of a reuse.
pub async fn refresh(
    accounts: &Accounts,
    presented: &SecretString,
    origin: &Origin,
) -> Result<Tokens, AccountError> {
    let outcome = rotate(accounts, presented, origin).await;
    let counted = match &outcome {
        Ok(_) => Some(RefreshOutcome::Rotated),
        Err(AccountError::InvalidGrant(GrantProblem::Invalid)) => Some(RefreshOutcome::Invalid),
        Err(AccountError::InvalidGrant(GrantProblem::Reused)) => {
            Some(RefreshOutcome::ReuseDetected)
        }
        Err(_) => None,
    };
    if let Some(counted) = counted {
        accounts.metrics.refresh(counted);
    }
    outcome
}

async fn rotate(
    accounts: &Accounts,
    presented: &SecretString,
    origin: &Origin,
) -> Result<Tokens, AccountError> {
    let presented =
        PresentedRefreshToken::parse(presented.expose_secret()).ok_or(GrantProblem::Invalid)?;
    let policy = &accounts.policy;
    let rotation = accounts
        .sessions
        .rotate_refresh_token(
            &presented,
            &policy.refresh_chain,
            policy.refresh_token_ttl,
            policy.refresh_reuse_grace,
            origin,
        )
        .await?;
    match rotation {
        Rotation::Rotated {
            session_id,
            user,
            refresh_token,
            amr,
        } => tokens::issue(accounts, &user, session_id, refresh_token, &amr),
        Rotation::ReuseDetected { .. } => Err(GrantProblem::Reused.into()),
        Rotation::Invalid => Err(GrantProblem::Invalid.into()),
    }
}
