//! Opening a session after a verified password.

use std::time::Duration;

use auth_core::StoredRefreshToken;
use sqlx::types::Json;
use uuid::Uuid;

use super::INSERT_REFRESH_TOKEN;
use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
use crate::users::UserCredentials;
use crate::{Store, StoreError, Timestamp, User};

/// What opening a session after a verified password found.
#[derive(Debug)]
pub enum SessionOpening {
    /// The session and its first refresh token are stored; `user` (roles included) is
    /// read in the same transaction.
    Opened {
        session_id: Uuid,
        user: User,
        refresh_expires_at: Timestamp,
    },
    /// The password hash is no longer the one that was verified (changed, reset or
    /// rehashed meanwhile), or the user is gone: nothing was written.
    CredentialsChanged,
    /// The user is disabled: nothing was written.
    Disabled,
}

/// The user row, read in the transaction that opens a session.
const READ_USER: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", password_hash FROM users WHERE id = $1"
);

/// On PostgreSQL `FOR SHARE` makes a concurrent password change, disable or role change
/// (an UPDATE of this row) wait for this transaction, or this one wait for it and then
/// read its result (READ COMMITTED re-reads a locked row's newest version): either way no
/// session is opened on state that a change has already replaced, and a session committed
/// first is one the change's revocation, a later statement, sees and revokes.
const READ_USER_LOCK: &str = "FOR SHARE";

const INSERT_SESSION: &str = "INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at, amr) \
                              VALUES ($1, $2, $3, $3, $4, $5)";

impl Store {
    /// Opens a session for `user_id` with its first refresh token, only if the user's
    /// password hash is still `verified_hash` (the one the login checked) and the user is
    /// not disabled, both read in the same transaction that writes the session; the
    /// roles returned are read there too. `amr` (RFC 8176) says how the session was
    /// authenticated; every access token of the session, refreshed or not, carries it. The
    /// `login_succeeded` event (from `origin`, with the session's id) is written in the
    /// same transaction.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn open_session(
        &self,
        user_id: Uuid,
        verified_hash: &str,
        refresh: &StoredRefreshToken,
        refresh_ttl: Duration,
        amr: &[String],
        origin: &Origin,
    ) -> Result<SessionOpening, StoreError> {
        let now = Timestamp::now();
        let expires_at = now.plus(refresh_ttl);
        let session_id = Uuid::now_v7();
        let mut tx = self.begin_write().await?;
        let current = tx
            .sql_locking(READ_USER, READ_USER_LOCK)
            .bind(user_id)
            .fetch_optional::<UserCredentials>()
            .await
            .db("read user for a new session")?;
        let Some(current) = current.filter(|c| c.password_hash == verified_hash) else {
            return Ok(SessionOpening::CredentialsChanged);
        };
        if current.user.disabled {
            return Ok(SessionOpening::Disabled);
        }
        tx.sql(INSERT_SESSION)
            .bind(session_id)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .bind(Json(amr))
            .execute()
            .await
            .db("insert session")?;
        tx.sql(INSERT_REFRESH_TOKEN)
            .bind(refresh.id)
            .bind(session_id)
            .bind(&refresh.secret_hash[..])
            .bind(now)
            .bind(expires_at)
            .execute()
            .await
            .db("insert refresh token")?;
        let event = NewEvent::new(EventType::LoginSucceeded, Some(user_id), origin)
            .with("session_id", session_id)
            .with("amr", amr);
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit session")?;
        Ok(SessionOpening::Opened {
            session_id,
            user: current.user,
            refresh_expires_at: expires_at,
        })
    }
}
