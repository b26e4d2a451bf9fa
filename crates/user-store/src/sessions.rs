use std::time::Duration;

use auth_core::{PresentedRefreshToken, RefreshChainKey, StoredRefreshToken};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::store::{begin_write, dialect, on_pool};
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

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Rotation {
    /// A new access token may be issued for `session_id`, with `user` read in the same
    /// transaction, and `refresh_token` is the session's one live refresh token: the
    /// presented token's successor, just stored; or, for a replay within the reuse grace,
    /// the successor that the first rotation stored (or its own successor, if that has
    /// been rotated since).
    Rotated {
        session_id: Uuid,
        user: User,
        refresh_token: String,
    },
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

/// A token of the chain, looked up while walking to the live one.
#[derive(sqlx::FromRow)]
struct ChainRow {
    secret_hash: Vec<u8>,
    spent_at: Option<Timestamp>,
    expires_at: Timestamp,
}

/// How far a replay within the grace may walk its chain to the live token: tabs that
/// refresh at once rotate a few times within the grace, not more; each step is one
/// indexed read, and the walk is bounded so a replay stays cheap.
const MAX_CHAIN_WALK: usize = 8;

const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens (id, session_id, secret_hash, issued_at, expires_at) \
                                    VALUES ($1, $2, $3, $4, $5)";

// The user row, read in the transaction that opens a session. On PostgreSQL `FOR SHARE`
// makes a concurrent password change, disable or role change (an UPDATE of this row)
// wait for this transaction, or this one wait for it and then read its result (READ
// COMMITTED re-reads a locked row's newest version): either way no session is opened on
// state that a change has already replaced, and a session committed first is one the
// change's revocation, a later statement, sees and revokes.
macro_rules! lock_user {
    () => {
        "SELECT id, username, roles, disabled, created_at, password_hash FROM users WHERE id = $1"
    };
}
const LOCK_USER_SQLITE: &str = lock_user!();
const LOCK_USER_POSTGRES: &str = concat!(lock_user!(), " FOR SHARE");

impl Store {
    /// Opens a session for `user_id` with its first refresh token, only if the user's
    /// password hash is still `verified_hash` (the one the login checked) and the user is
    /// not disabled, both read in the same transaction that writes the session; the
    /// roles returned are read there too.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn open_session(
        &self,
        user_id: Uuid,
        verified_hash: &str,
        refresh: &StoredRefreshToken,
        refresh_ttl: Duration,
    ) -> Result<SessionOpening, StoreError> {
        let now = Timestamp::now();
        let expires_at = now.plus(refresh_ttl);
        let session_id = Uuid::now_v7();
        on_pool!(self, pool => {
            let mut tx = begin_write(pool).await?;
            let current = sqlx::query_as::<_, UserCredentials>(dialect(pool, LOCK_USER_SQLITE, LOCK_USER_POSTGRES))
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await
                .db("read user for a new session")?;
            let Some(current) = current.filter(|c| c.password_hash == verified_hash) else {
                return Ok(SessionOpening::CredentialsChanged);
            };
            if current.user.disabled {
                return Ok(SessionOpening::Disabled);
            }
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
            Ok(SessionOpening::Opened { session_id, user: current.user, refresh_expires_at: expires_at })
        })
    }

    /// Spends `presented` and stores its successor (derived under `chain`) in its
    /// session, in one transaction.
    ///
    /// The spend is a conditional update (`spent_at IS NULL`; on PostgreSQL the row is
    /// also locked up front), so of concurrent requests with one token exactly one
    /// spends it. The others find it spent: within `grace` of the spend they get the
    /// session's live token, the same string the spend returned (two tabs refreshing at
    /// once); after it, the token is taken as stolen and the whole session is revoked.
    #[tracing::instrument(skip_all, fields(token_id = %presented.id()))]
    pub async fn rotate_refresh_token(
        &self,
        presented: &PresentedRefreshToken,
        chain: &RefreshChainKey,
        refresh_ttl: Duration,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        macro_rules! find {
            () => {
                "SELECT rt.session_id, rt.secret_hash, rt.expires_at AS token_expires_at, rt.spent_at, \
                    s.revoked_at AS session_revoked_at, s.expires_at AS session_expires_at, \
                    u.id, u.username, u.roles, u.disabled, u.created_at \
                 FROM refresh_tokens rt \
                 JOIN sessions s ON s.id = rt.session_id \
                 JOIN users u ON u.id = s.user_id \
                 WHERE rt.id = $1"
            };
        }
        const FIND: &str = find!();
        // The token row waits for a concurrent rotation of it; the user row, as in
        // `open_session`, for a concurrent change of the user (always locked in the
        // order user, then sessions, as the changes do: no deadlock).
        const FIND_POSTGRES: &str = concat!(find!(), " FOR UPDATE OF rt FOR SHARE OF u");
        const SPEND: &str =
            "UPDATE refresh_tokens SET spent_at = $1 WHERE id = $2 AND spent_at IS NULL";
        const SPENT_AT: &str = "SELECT spent_at FROM refresh_tokens WHERE id = $1";
        // Conditional: on PostgreSQL a revocation committed while this transaction waited
        // for the user row is not in the row version read above; then nothing is rotated.
        const SLIDE_SESSION: &str = "UPDATE sessions SET refreshed_at = $1, expires_at = $2 \
                                     WHERE id = $3 AND revoked_at IS NULL";
        const REVOKE: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL";

        let now = Timestamp::now();
        let next_expires_at = now.plus(refresh_ttl);
        on_pool!(self, pool => {
            let mut tx = begin_write(pool).await?;
            let Some(row) = sqlx::query_as::<_, PresentedTokenRow>(dialect(pool, FIND, FIND_POSTGRES))
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

            let Some(spent_at) = spent_at else {
                let (refresh_token, next) = StoredRefreshToken::successor(chain, presented);
                sqlx::query(INSERT_REFRESH_TOKEN)
                    .bind(next.id)
                    .bind(row.session_id)
                    .bind(&next.secret_hash[..])
                    .bind(now)
                    .bind(next_expires_at)
                    .execute(&mut *tx)
                    .await
                    .db("insert refresh token")?;
                let slid = sqlx::query(SLIDE_SESSION)
                    .bind(now)
                    .bind(next_expires_at)
                    .bind(row.session_id)
                    .execute(&mut *tx)
                    .await
                    .db("slide session expiry")?
                    .rows_affected();
                if slid == 0 {
                    // Revoked meanwhile: roll back the spend and the successor.
                    return Ok(Rotation::Invalid);
                }
                tx.commit().await.db("commit rotation")?;
                return Ok(Rotation::Rotated { session_id: row.session_id, user: row.user, refresh_token });
            };

            if now.since(spent_at) >= grace {
                sqlx::query(REVOKE)
                    .bind(now)
                    .bind(RevocationReason::RefreshTokenReuse.as_str())
                    .bind(row.session_id)
                    .execute(&mut *tx)
                    .await
                    .db("revoke session on reuse")?;
                tx.commit().await.db("commit revocation")?;
                tracing::debug!(session_id = %row.session_id, "refresh token reused after the grace period: session revoked");
                return Ok(Rotation::ReuseDetected { session_id: row.session_id });
            }

            // A replay within the grace: walk the chain from the presented token to the
            // session's live one and answer with it. Nothing is written.
            let mut current = None::<PresentedRefreshToken>;
            for _ in 0..MAX_CHAIN_WALK {
                let from = current.as_ref().unwrap_or(presented);
                let (token, next) = StoredRefreshToken::successor(chain, from);
                let Some(link) = sqlx::query_as::<_, ChainRow>(
                    "SELECT secret_hash, spent_at, expires_at FROM refresh_tokens WHERE id = $1 AND session_id = $2")
                    .bind(next.id)
                    .bind(row.session_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .db("walk refresh token chain")?
                else {
                    return Ok(Rotation::Invalid);
                };
                if link.secret_hash != next.secret_hash || link.expires_at <= now {
                    return Ok(Rotation::Invalid);
                }
                if link.spent_at.is_none() {
                    return Ok(Rotation::Rotated { session_id: row.session_id, user: row.user, refresh_token: token });
                }
                current = PresentedRefreshToken::parse(&token);
                if current.is_none() {
                    return Ok(Rotation::Invalid);
                }
            }
            Ok(Rotation::Invalid)
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

    /// Replaces the password hash `verified_hash` (the one the caller checked the
    /// current password against) by `new_hash` and revokes every session of the user,
    /// atomically. `None` when the hash is no longer `verified_hash` (changed meanwhile):
    /// nothing was written. Otherwise the revoked session ids.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn change_password(
        &self,
        user_id: Uuid,
        verified_hash: &str,
        new_hash: &str,
    ) -> Result<Option<Vec<Uuid>>, StoreError> {
        let now = Timestamp::now();
        on_pool!(self, pool => {
            let mut tx = begin_write(pool).await?;
            let changed = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4")
                .bind(new_hash)
                .bind(now)
                .bind(user_id)
                .bind(verified_hash)
                .execute(&mut *tx)
                .await
                .db("update password")?
                .rows_affected();
            if changed == 0 {
                return Ok(None);
            }
            let revoked = sqlx::query_scalar::<_, Uuid>(REVOKE_USER_SESSIONS)
                .bind(now)
                .bind(RevocationReason::PasswordChange.as_str())
                .bind(user_id)
                .bind(Uuid::nil())
                .fetch_all(&mut *tx)
                .await
                .db("revoke sessions on password change")?;
            tx.commit().await.db("commit password change")?;
            Ok(Some(revoked))
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
