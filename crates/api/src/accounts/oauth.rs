//! What RFC 7662 introspection and RFC 7009 revocation decide, for any transport: whether
//! a token is live, and what revoking it revokes.

use std::sync::Arc;

use auth_core::{Claims, PresentedRefreshToken};
use user_store::{Origin, RefreshTokenState, RevocationReason, Store, Timestamp};
use uuid::Uuid;

use crate::accounts::sessions::Revoke;
use crate::accounts::{AccountError, Accounts};

/// What introspection found (RFC 7662 §2.2).
pub enum Introspection {
    /// Expired, forged, malformed, spent, revoked or unknown: all answered alike.
    Inactive,
    /// A live access token, with its verified claims.
    Access(Arc<Claims>),
    /// A live refresh token of the user `sub`'s session `sid`, expiring at `exp`.
    Refresh { sub: Uuid, sid: Uuid, exp: i64 },
}

/// The access token's claims when it is live: the protected-request check (signature,
/// time, then the in-memory revoked set), so no database is read and a revocation shows
/// within the revocation feed's 2 s.
pub fn live_access_token(accounts: &Accounts, token: &str) -> Option<Arc<Claims>> {
    let claims = accounts.keys.current().verifier.verify_cached(token).ok()?;
    (!accounts.sessions.revoked().contains(&claims.sid)).then_some(claims)
}

/// Introspects `token` (RFC 7662 §2.1). An access token costs no database read; a refresh
/// token (never a JWT) one read by its selector.
pub async fn introspect(accounts: &Accounts, token: &str) -> Result<Introspection, AccountError> {
    if let Some(claims) = live_access_token(accounts, token) {
        return Ok(Introspection::Access(claims));
    }
    let Some(state) = refresh_token(&accounts.users.store, token).await? else {
        return Ok(Introspection::Inactive);
    };
    if !state.is_live(Timestamp::now()) {
        return Ok(Introspection::Inactive);
    }
    Ok(Introspection::Refresh {
        sub: state.user_id,
        sid: state.session_id,
        exp: state.expires_at.unix_seconds(),
    })
}

/// Revokes `token` (RFC 7009 §2.1): a user's refresh or access token revokes its session;
/// a client's own access token revokes the client's current token generation (every
/// token issued to it so far; it can obtain new ones). An unknown, invalid or already
/// revoked token is no error. Revoking an access token needs an authenticated caller
/// (`caller_authenticated`, else [`AccountError::InvalidClient`]); a refresh token issued
/// without a client needs none: holding it is the proof.
pub async fn revoke(
    accounts: &Accounts,
    token: &str,
    caller_authenticated: bool,
    origin: &Origin,
) -> Result<(), AccountError> {
    let sessions = &accounts.sessions;
    if let Some(state) = refresh_token(&accounts.users.store, token).await? {
        sessions
            .revoke(
                Revoke::Session(state.session_id),
                RevocationReason::Logout,
                origin,
            )
            .await?;
        return Ok(());
    }
    if !looks_like_jwt(token) {
        return Ok(());
    }
    if !caller_authenticated {
        return Err(AccountError::InvalidClient);
    }
    let Ok(claims) = accounts.keys.current().verifier.verify_cached(token) else {
        return Ok(());
    };
    if claims.is_client_token() {
        sessions
            .revoke_client_generation(claims.sub, claims.sid)
            .await?;
    } else {
        sessions
            .revoke(
                Revoke::Session(claims.sid),
                RevocationReason::Logout,
                origin,
            )
            .await?;
    }
    Ok(())
}

/// The stored state of a refresh token whose secret matches; `None` for anything else.
async fn refresh_token(
    store: &Store,
    token: &str,
) -> Result<Option<RefreshTokenState>, AccountError> {
    let Some(presented) = PresentedRefreshToken::parse(token) else {
        return Ok(None);
    };
    let found = store.find_refresh_token(presented.id()).await?;
    Ok(found.filter(|state| presented.matches(&state.secret_hash)))
}

/// A JWS compact serialisation has three dot-separated parts (RFC 7515 §7.1); a refresh
/// token is base64url, which has no dots.
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}
