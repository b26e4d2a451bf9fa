use std::time::Duration;

use auth_core::{PresentedRefreshToken, RefreshSecret};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::store::{begin_write, on_pool};
use crate::{Store, StoreError, Timestamp, User};

/// A session just created at login.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub session_id: Uuid,
    pub refresh_expires_at: Timestamp,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Rotation {
    /// The token was spent (or spent moments ago, within the reuse grace) and a new one is
    /// stored in the same session; `user` is read in the same transaction.
    Rotated { session_id: Uuid, user: User },
    /// Unknown token, wrong secret, expired, or its session is revoked or expired, or its
    /// user is disabled. Nothing changed.
    Invalid,
    /// A spent token came back after the grace: taken as theft, the session is revoked.
    ReuseDetected { session_id: Uuid },
}

/// Why a session was revoked, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    Logout,
    PasswordChange,
    RefreshTokenReuse,
    Admin,
    UserDisabled,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Logout => "logout",
            RevocationReason::PasswordChange => "password_change",
            RevocationReason::RefreshTokenReuse => "refresh_token_reuse",
            RevocationReason::Admin => "admin",
            RevocationReason::UserDisabled => "user_disabled",
        }
    }
}

#[derive(sqlx::FromRow)]
struct PresentedTokenRow {
    session_id: Uuid,
    secret_hash: Vec<u8>,
    token_expires_at: Timestamp,
    spent_at: Option<Timestamp>,
    session_revoked_at: Option<Timestamp>,
    session_expires_at: Timestamp,
    #[sqlx(flatten)]
    user: User,
}

const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens (id, session_id, secret_hash, issued_at, expires_at) \
                                    VALUES ($1, $2, $3, $4, $5)";

impl Store {
    /// Opens a session for `user_id` with its first refresh token (one transaction).
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn create_session(
        &self,
        user_id: Uuid,
        refresh: &RefreshSecret,
        refresh_ttl: Duration,
    ) -> Result<NewSession, StoreError> {
        let now = Timestamp::now();
        let expires_at = now.plus(refresh_ttl);
        let session_id = Uuid::now_v7();
        on_pool!(self, pool => {
            let mut tx = begin_write(pool).await?;
            sqlx::query("INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at) VALUES ($1, $2, $3, $3, $4)")
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await
                .db("insert session")?;
            sqlx::query(INSERT_REFRESH_TOKEN)
                .bind(refresh.id)
                .bind(session_id)
                .bind(&refresh.secret_hash[..])
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await
                .db("insert refresh token")?;
            tx.commit().await.db("commit session")?;
        });
        Ok(NewSession {
            session_id,
            refresh_expires_at: expires_at,
        })
    }

    /// Spends `presented` and stores `next` in its session, in one transaction.
    ///
    /// The spend is a conditional update (`spent_at IS NULL`), so of concurrent requests
    /// with one token exactly one spends it. The others find it spent: within `grace` of
    /// the spend they get a sibling token (two tabs refreshing at once); after it, the
    /// token is taken as stolen and the whole session is revoked.
    #[tracing::instrument(skip_all, fields(token_id = %presented.id()))]
    pub async fn rotate_refresh_token(
        &self,
        presented: &PresentedRefreshToken,
        next: &RefreshSecret,
        refresh_ttl: Duration,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        const FIND: &str = "SELECT rt.session_id, rt.secret_hash, rt.expires_at AS token_expires_at, rt.spent_at, \
                s.revoked_at AS session_revoked_at, s.expires_at AS session_expires_at, \
                u.id, u.username, u.roles, u.disabled, u.created_at \
             FROM refresh_tokens rt \
             JOIN sessions s ON s.id = rt.session_id \
             JOIN users u ON u.id = s.user_id \
             WHERE rt.id = $1";
        const SPEND: &str =
            "UPDATE refresh_tokens SET spent_at = $1 WHERE id = $2 AND spent_at IS NULL";
        const SPENT_AT: &str = "SELECT spent_at FROM refresh_tokens WHERE id = $1";
        const SLIDE_SESSION: &str =
            "UPDATE sessions SET refreshed_at = $1, expires_at = $2 WHERE id = $3";
        const REVOKE: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL";

        let now = Timestamp::now();
        let next_expires_at = now.plus(refresh_ttl);
        on_pool!(self, pool => {
            let mut tx = begin_write(pool).await?;
            let Some(row) = sqlx::query_as::<_, PresentedTokenRow>(FIND)
                .bind(presented.id())
                .fetch_optional(&mut *tx)
                .await
                .db("find refresh token")?
            else {
                return Ok(Rotation::Invalid);
            };
            if !presented.matches(&row.secret_hash)
                || row.token_expires_at <= now
                || row.session_expires_at <= now
                || row.session_revoked_at.is_some()
                || row.user.disabled
            {
                return Ok(Rotation::Invalid);
            }

            let spent_at = match row.spent_at {
                Some(spent_at) => Some(spent_at),
                None => {
                    let spent = sqlx::query(SPEND)
                        .bind(now)
                        .bind(presented.id())
                        .execute(&mut *tx)
                        .await
                        .db("spend refresh token")?
                        .rows_affected();
                    if spent == 1 {
                        None
                    } else {
                        // Lost a race: another request spent it after our read.
                        sqlx::query_scalar::<_, Option<Timestamp>>(SPENT_AT)
                            .bind(presented.id())
                            .fetch_one(&mut *tx)
                            .await
                            .db("re-read refresh token")?
                    }
                }
            };

            if let Some(spent_at) = spent_at
                && now.since(spent_at) >= grace
            {
                sqlx::query(REVOKE)
                    .bind(now)
                    .bind(RevocationReason::RefreshTokenReuse.as_str())
                    .bind(row.session_id)
                    .execute(&mut *tx)
                    .await
                    .db("revoke session on reuse")?;
                tx.commit().await.db("commit revocation")?;
                tracing::warn!(session_id = %row.session_id, "refresh token reused after the grace period: session revoked");
                return Ok(Rotation::ReuseDetected { session_id: row.session_id });
            }

            sqlx::query(INSERT_REFRESH_TOKEN)
                .bind(next.id)
                .bind(row.session_id)
                .bind(&next.secret_hash[..])
                .bind(now)
                .bind(next_expires_at)
                .execute(&mut *tx)
                .await
                .db("insert refresh token")?;
            sqlx::query(SLIDE_SESSION)
                .bind(now)
                .bind(next_expires_at)
                .bind(row.session_id)
                .execute(&mut *tx)
                .await
                .db("slide session expiry")?;
            tx.commit().await.db("commit rotation")?;
            Ok(Rotation::Rotated { session_id: row.session_id, user: row.user })
        })
    }

    /// Revokes one session; returns it when it was live.
    #[tracing::instrument(skip_all, fields(session_id = %session_id, reason = reason.as_str()))]
    pub async fn revoke_session(
        &self,
        session_id: Uuid,
        reason: RevocationReason,
    ) -> Result<Vec<Uuid>, StoreError> {
        const SQL: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                           WHERE id = $3 AND revoked_at IS NULL RETURNING id";
        on_pool!(self, pool => sqlx::query_scalar::<_, Uuid>(SQL)
            .bind(Timestamp::now())
            .bind(reason.as_str())
            .bind(session_id)
            .fetch_all(pool)
            .await
            .db("revoke session"))
    }

    /// Revokes every live session of a user, but `except` when given; returns the ids revoked.
    #[tracing::instrument(skip_all, fields(user_id = %user_id, reason = reason.as_str()))]
    pub async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        reason: RevocationReason,
    ) -> Result<Vec<Uuid>, StoreError> {
        on_pool!(self, pool => sqlx::query_scalar::<_, Uuid>(REVOKE_USER_SESSIONS)
            .bind(Timestamp::now())
            .bind(reason.as_str())
            .bind(user_id)
            .bind(except.unwrap_or(Uuid::nil()))
            .fetch_all(pool)
            .await
            .db("revoke user sessions"))
    }

    /// Sets a new password hash and revokes every session of the user, atomically.
    /// Returns the revoked session ids.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn change_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
    ) -> Result<Vec<Uuid>, StoreError> {
        let now = Timestamp::now();
        on_pool!(self, pool => {
            let mut tx = begin_write(pool).await?;
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .db("update password")?;
            let revoked = sqlx::query_scalar::<_, Uuid>(REVOKE_USER_SESSIONS)
                .bind(now)
                .bind(RevocationReason::PasswordChange.as_str())
                .bind(user_id)
                .bind(Uuid::nil())
                .fetch_all(&mut *tx)
                .await
                .db("revoke sessions on password change")?;
            tx.commit().await.db("commit password change")?;
            Ok(revoked)
        })
    }

    /// Sessions revoked after `since`, with when: what each replica polls to keep its
    /// in-memory revoked set current (served by the `sessions_revoked_at` index).
    pub async fn revoked_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(Uuid, Timestamp)>, StoreError> {
        const SQL: &str = "SELECT id, revoked_at FROM sessions WHERE revoked_at > $1";
        on_pool!(self, pool => sqlx::query_as::<_, (Uuid, Timestamp)>(SQL)
            .bind(since)
            .fetch_all(pool)
            .await
            .db("read revocations"))
    }
}

pub(crate) const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                                    WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4 RETURNING id";
