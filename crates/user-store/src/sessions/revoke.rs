//! Revoking sessions, and reading the revocations back for every replica's in-memory set.

use uuid::Uuid;

use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
use crate::{Store, StoreError, Timestamp};

/// Why a session was revoked, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    Logout,
    PasswordChange,
    RefreshTokenReuse,
    Admin,
    UserDisabled,
    RolesRemoved,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Logout => "logout",
            RevocationReason::PasswordChange => "password_change",
            RevocationReason::RefreshTokenReuse => "refresh_token_reuse",
            RevocationReason::Admin => "admin",
            RevocationReason::UserDisabled => "user_disabled",
            RevocationReason::RolesRemoved => "roles_removed",
        }
    }
}

/// Revokes every live session of user `$3` but `$4` (the nil UUID for none) at `$1` for
/// reason `$2`; returns the ids revoked.
pub(crate) const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                                               WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4 \
                                               RETURNING id";

impl Store {
    /// Revokes one session; returns it when it was live.
    #[tracing::instrument(skip_all, fields(session_id = %session_id, reason = reason.as_str()))]
    pub async fn revoke_session(
        &self,
        session_id: Uuid,
        reason: RevocationReason,
    ) -> Result<Vec<Uuid>, StoreError> {
        const SQL: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                           WHERE id = $3 AND revoked_at IS NULL RETURNING id";
        self.sql(SQL)
            .bind(Timestamp::now())
            .bind(reason.as_str())
            .bind(session_id)
            .fetch_all_scalar::<Uuid>()
            .await
            .db("revoke session")
    }

    /// Revokes every live session of a user, but `except` when given, and records
    /// `sessions_revoked` (from `origin`, with `reason` and the count) in the same
    /// transaction when any was live; returns the ids revoked.
    #[tracing::instrument(skip_all, fields(user_id = %user_id, reason = reason.as_str()))]
    pub async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        reason: RevocationReason,
        origin: &Origin,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.begin_write().await?;
        let revoked = tx
            .sql(REVOKE_USER_SESSIONS)
            .bind(Timestamp::now())
            .bind(reason.as_str())
            .bind(user_id)
            .bind(except.unwrap_or(Uuid::nil()))
            .fetch_all_scalar::<Uuid>()
            .await
            .db("revoke user sessions")?;
        if revoked.is_empty() {
            return Ok(revoked);
        }
        let event = NewEvent::new(EventType::SessionsRevoked, Some(user_id), origin)
            .with("reason", reason.as_str())
            .with("sessions_revoked", revoked.len());
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit session revocation")?;
        Ok(revoked)
    }

    /// Sessions and client token generations revoked after `since`, with when: what each
    /// replica polls to keep its in-memory revoked set current (served by the
    /// `sessions_revoked_at` and `client_generations_revoked_at` indexes). A client's
    /// tokens carry its generation as `sid`, so one set serves both.
    pub async fn revoked_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(Uuid, Timestamp)>, StoreError> {
        const SQL: &str = "SELECT id, revoked_at FROM sessions WHERE revoked_at > $1 \
                           UNION ALL \
                           SELECT id, revoked_at FROM client_generations WHERE revoked_at > $1";
        self.sql(SQL)
            .bind(since)
            .fetch_all::<(Uuid, Timestamp)>()
            .await
            .db("read revocations")
    }
}
