//! What operators do to users (`authd users …`, `/admin/users`): list them a page at a
//! time, change roles, disable and enable (disabling, or removing a role, revokes every
//! session in the same transaction), each change recorded as a security event in it.

use sqlx::types::Json;
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
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
        if let Some(last) = users.last().map(|u| u.id) {
            // One read for the page: its ids are the range (after, last].
            let factors = self
                .sql(PAGE_FACTORS)
                .bind(after.unwrap_or(Uuid::nil()))
                .bind(last)
                .fetch_all::<(Uuid, String)>()
                .await
                .db("list active factors of a page")?;
            for user in &mut users {
                user.mfa = factors
                    .iter()
                    .filter(|(id, _)| *id == user.id)
                    .map(|(_, kind)| kind.clone())
                    .collect();
            }
        }
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
    /// refresh). What actually changed is recorded in the same transaction, from `origin`:
    /// `user_disabled` or `user_enabled`, and `roles_changed` with the roles before and
    /// after (setting a field to what it was records nothing). Returns the user as it now
    /// is and the sessions revoked, or `None` when there is no such user.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn update_user(
        &self,
        id: Uuid,
        change: &UserChange,
        origin: &Origin,
    ) -> Result<Option<(User, Vec<Uuid>)>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        // The state before the change, with the row locked on PostgreSQL so that the
        // comparison below is with what this update replaces.
        let Some((Json(roles_before), disabled_before)) = tx
            .sql_locking(BEFORE, "FOR UPDATE")
            .bind(id)
            .fetch_optional::<(Json<Vec<String>>, bool)>()
            .await
            .db("read user before a change")?
        else {
            return Ok(None);
        };
        let mut user = tx
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
        } else if roles_before.iter().any(|role| !user.roles.0.contains(role)) {
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
        let before = Before {
            roles: roles_before,
            disabled: disabled_before,
        };
        for event in before.events(&user, reason, revoked.len(), origin) {
            events::insert(&mut tx, &event).await?;
        }
        tx.commit().await.db("commit user change")?;
        user.mfa = self.active_factors(id).await?;
        Ok(Some((user, revoked)))
    }
}

/// A user's roles and flag before a change.
struct Before {
    roles: Vec<String>,
    disabled: bool,
}

impl Before {
    /// The events of the change from `self` to `user`, which revoked `revoked` sessions
    /// for `reason`: the count goes in the event that caused it (the disable, the roles'
    /// change), or in a `sessions_revoked` of its own when neither changed.
    fn events<'o>(
        &self,
        user: &User,
        reason: Option<RevocationReason>,
        revoked: usize,
        origin: &'o Origin,
    ) -> Vec<NewEvent<'o>> {
        let mut recorded = Vec::new();
        let mut revoked = Some(revoked).filter(|n| *n > 0 && reason.is_some());
        if user.disabled != self.disabled {
            let kind = if user.disabled {
                EventType::UserDisabled
            } else {
                EventType::UserEnabled
            };
            let event = NewEvent::new(kind, Some(user.id), origin);
            recorded.push(match kind {
                EventType::UserDisabled => {
                    event.with("sessions_revoked", revoked.take().unwrap_or(0))
                }
                _ => event,
            });
        }
        let mut before = self.roles.clone();
        let mut after = user.roles.0.clone();
        before.sort();
        after.sort();
        if before != after {
            let event = NewEvent::new(EventType::RolesChanged, Some(user.id), origin)
                .with("before", &before)
                .with("after", &after)
                .with("sessions_revoked", revoked.take().unwrap_or(0));
            recorded.push(event);
        }
        if let (Some(count), Some(reason)) = (revoked, reason) {
            let event = NewEvent::new(EventType::SessionsRevoked, Some(user.id), origin)
                .with("reason", reason.as_str())
                .with("sessions_revoked", count);
            recorded.push(event);
        }
        recorded
    }
}

const BEFORE: &str = "SELECT roles, disabled FROM users WHERE id = $1";
/// The active factors of the users with ids in ($1, $2].
const PAGE_FACTORS: &str = "SELECT user_id, kind FROM mfa_factors \
                            WHERE confirmed_at IS NOT NULL AND user_id > $1 AND user_id <= $2 \
                            ORDER BY user_id, kind";
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
