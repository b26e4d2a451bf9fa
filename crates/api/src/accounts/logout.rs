//! Which sessions a logout ends: this one, all of the user's, or all but this one. Their
//! access tokens stop working too (see [`crate::accounts::sessions`]). Ending every
//! session, or every other one, is recorded as `sessions_revoked`; ending this one is not.

use user_store::{Origin, RevocationReason};
use uuid::Uuid;

use crate::accounts::sessions::Revoke;
use crate::accounts::{AccountError, Sessions};

/// The scope of a logout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogoutScope {
    /// This session (the default).
    #[default]
    Local,
    /// Every session of the user.
    Global,
    /// Every session of the user but this one.
    Others,
}

/// Ends the sessions `scope` names, from the session `session_id` of `user_id`; returns
/// how many were live. `origin` is the client, for the event.
pub async fn logout(
    sessions: &Sessions,
    user_id: Uuid,
    session_id: Uuid,
    scope: LogoutScope,
    origin: &Origin,
) -> Result<usize, AccountError> {
    let which = match scope {
        LogoutScope::Local => Revoke::Session(session_id),
        LogoutScope::Global => Revoke::User {
            user_id,
            except: None,
        },
        LogoutScope::Others => Revoke::User {
            user_id,
            except: Some(session_id),
        },
    };
    let revoked = sessions
        .revoke(which, RevocationReason::Logout, origin)
        .await?;
    tracing::info!(user_id = %user_id, sessions = revoked.len(), "logged out");
    Ok(revoked.len())
}
