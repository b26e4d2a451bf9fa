//! What an operator does to users, from the admin API or the CLI alike: list them, replace
//! their roles, disable or enable them, revoke their sessions. Disabling, or taking a role
//! away, revokes the user's sessions at once. Each change is recorded as a security event
//! in its transaction, naming the admin (`Actor::Admin`) or the operator (`Actor::Operator`)
//! through the caller's `Origin`.

use user_store::{Origin, RevocationReason, Store, User, UserChange, UserPage};
use uuid::Uuid;

use crate::accounts::sessions::Revoke;
use crate::accounts::{AccountError, RolesError, Sessions};

pub const MAX_ROLES: usize = 32;
pub const MAX_ROLE_CHARS: usize = 64;

/// A user's changed state, and how many of their sessions the change revoked.
pub struct Updated {
    pub user: User,
    pub sessions_revoked: usize,
}

/// Up to `limit` users in creation order, after the user `after` (from the start when
/// `None`).
pub async fn list_users(
    store: &Store,
    after: Option<Uuid>,
    limit: u32,
) -> Result<UserPage, AccountError> {
    Ok(store.list_users(after, limit).await?)
}

/// Applies `change` (roles as given, checked by [`check_roles`]; the disabled flag) to
/// the user `id`, on behalf of `origin`.
pub async fn update_user(
    sessions: &Sessions,
    id: Uuid,
    change: UserChange,
    origin: &Origin,
) -> Result<Updated, AccountError> {
    if let Some(roles) = &change.roles {
        check_roles(roles)?;
    }
    let (user, revoked) = sessions
        .update_user(id, &change, origin)
        .await?
        .ok_or(AccountError::UserNotFound)?;
    tracing::info!(
        user_id = %user.id,
        disabled = user.disabled,
        sessions_revoked = revoked.len(),
        "user updated by an operator"
    );
    Ok(Updated {
        user,
        sessions_revoked: revoked.len(),
    })
}

/// Revokes every session of the user `id` on behalf of `origin`; returns how many were
/// live.
pub async fn revoke_sessions(
    store: &Store,
    sessions: &Sessions,
    id: Uuid,
    origin: &Origin,
) -> Result<usize, AccountError> {
    if store.find_user(id).await?.is_none() {
        return Err(AccountError::UserNotFound);
    }
    let which = Revoke::User {
        user_id: id,
        except: None,
    };
    let revoked = sessions
        .revoke(which, RevocationReason::Admin, origin)
        .await?;
    tracing::info!(user_id = %id, sessions = revoked.len(), "sessions revoked by an operator");
    Ok(revoked.len())
}

/// Roles are short names: 1 to 64 characters, no whitespace or control characters, at
/// most 32 of them.
pub fn check_roles(roles: &[String]) -> Result<(), RolesError> {
    if roles.len() > MAX_ROLES {
        return Err(RolesError::TooMany { max: MAX_ROLES });
    }
    for role in roles {
        let chars = role.chars().count();
        if chars == 0
            || chars > MAX_ROLE_CHARS
            || role.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(RolesError::BadRole {
                max_chars: MAX_ROLE_CHARS,
            });
        }
    }
    Ok(())
}
