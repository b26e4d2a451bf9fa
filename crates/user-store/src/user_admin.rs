//! What operators do to users (`authd users …`, `/admin/users`): list them a page at a
//! time, change roles, disable and enable (disabling, or removing a role, revokes every
//! session in the same transaction).

use sqlx::types::Json;
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::sessions::{REVOKE_USER_SESSIONS, RevocationReason};
use crate::{Store, StoreError, Timestamp, User};

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub disabled: Option<bool>,
    pub roles: Option<Vec<String>>,
}

/// One page of users in id order (ids are UUID v7, so that is creation order).
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<User>,
    /// The id to pass as `after` for the next page; `None` on the last page.
    pub next: Option<Uuid>,
}

impl Store {
    /// Up to `limit` users with an id greater than `after` (from the start when `None`).
    #[tracing::instrument(skip_all, fields(limit))]
    pub async fn list_users(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<UserPage, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id > $1 ORDER BY id LIMIT $2"
        );
        // One more than asked: whether it comes tells if there is a next page.
        let mut users = self
            .sql(SQL)
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(i64::from(limit) + 1)
            .fetch_all::<User>()
            .await
            .db("list users")?;
        let more = users.len() > limit as usize;
        users.truncate(limit as usize);
        let next = if more {
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next })
    }

    /// Applies `change` to the user `id` in one transaction; disabling, or removing any
    /// role, also revokes every live session of the user (a session must not keep a role
    /// or a login that has been taken away; an added role reaches tokens at the next
    /// refresh). Returns the user as it now is and the sessions revoked, or `None` when
    /// there is no such user.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn update_user(
        &self,
        id: Uuid,
        change: &UserChange,
    ) -> Result<Option<(User, Vec<Uuid>)>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        // The roles before the change, with the row locked on PostgreSQL so that the
        // comparison below is with what this update replaces.
        let Some(Json(before)) = tx
            .sql_locking(ROLES, "FOR UPDATE")
            .bind(id)
            .fetch_optional_scalar::<Json<Vec<String>>>()
            .await
            .db("read user roles")?
        else {
            return Ok(None);
        };
        let user = tx
            .sql(UPDATE)
            .bind(change.disabled)
            .bind(change.roles.clone().map(Json))
            .bind(now)
            .bind(id)
            .fetch_one::<User>()
            .await
            .db("update user")?;
        let reason = if change.disabled == Some(true) {
            Some(RevocationReason::UserDisabled)
        } else if before.iter().any(|role| !user.roles.0.contains(role)) {
            Some(RevocationReason::RolesRemoved)
        } else {
            None
        };
        let revoked = match reason {
            Some(reason) => tx
                .sql(REVOKE_USER_SESSIONS)
                .bind(now)
                .bind(reason.as_str())
                .bind(id)
                .bind(Uuid::nil())
                .fetch_all_scalar::<Uuid>()
                .await
                .db("revoke sessions of a changed user")?,
            None => Vec::new(),
        };
        tx.commit().await.db("commit user change")?;
        Ok(Some((user, revoked)))
    }
}

const ROLES: &str = "SELECT roles FROM users WHERE id = $1";
/// Each field set where `change` has one (`COALESCE` keeps the others).
const UPDATE: &str = concat!(
    "UPDATE users SET \
                          disabled = COALESCE($1, disabled), \
                          roles = COALESCE($2, roles), \
                          updated_at = $3 \
                      WHERE id = $4 \
                      RETURNING ",
    user_columns!()
);
