//! Rotating a refresh token: spending the presented one and storing its successor, or
//! answering a replay (RFC 9700 §4.14.2: refresh token rotation with reuse detection).

use std::time::Duration;

use auth_core::{PresentedRefreshToken, RefreshChainKey, StoredRefreshToken};
use sqlx::types::Json;
use uuid::Uuid;

use super::{INSERT_REFRESH_TOKEN, RevocationReason};
use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
use crate::statement::WriteTx;
use crate::{Store, StoreError, Timestamp, User};

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
        /// How the session was authenticated (RFC 8176), as stored when it was opened.
        amr: Vec<String>,
    },
    /// Unknown token, wrong secret, expired, or its session is revoked or expired, or its
    /// user is disabled. Nothing changed.
    Invalid,
    /// A spent token came back after the grace: taken as theft, the session is revoked.
    ReuseDetected { session_id: Uuid },
}

/// The presented token with its session and user.
#[derive(sqlx::FromRow)]
struct PresentedTokenRow {
    session_id: Uuid,
    secret_hash: Vec<u8>,
    token_expires_at: Timestamp,
    spent_at: Option<Timestamp>,
    session_revoked_at: Option<Timestamp>,
    session_expires_at: Timestamp,
    amr: Json<Vec<String>>,
    #[sqlx(flatten)]
    user: User,
}

impl PresentedTokenRow {
    /// Whether `presented` is this token and it, its session and its user may still be
    /// used at `now` (spent or not).
    fn accepts(&self, presented: &PresentedRefreshToken, now: Timestamp) -> bool {
        presented.matches(&self.secret_hash)
            && self.token_expires_at > now
            && self.session_expires_at > now
            && self.session_revoked_at.is_none()
            && !self.user.disabled
    }
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

const FIND: &str = "SELECT rt.session_id, rt.secret_hash, rt.expires_at AS token_expires_at, \
                        rt.spent_at, s.revoked_at AS session_revoked_at, \
                        s.expires_at AS session_expires_at, s.amr, \
                        u.id, u.username, u.roles, u.disabled, u.created_at, \
                        COALESCE(u.email, u.pending_email) AS email, \
                        (u.email IS NOT NULL) AS email_verified \
                    FROM refresh_tokens rt \
                    JOIN sessions s ON s.id = rt.session_id \
                    JOIN users u ON u.id = s.user_id \
                    WHERE rt.id = $1";
/// On PostgreSQL the token row waits for a concurrent rotation of it; the user row, as in
/// `open_session`, for a concurrent change of the user (always locked in the order user,
/// then sessions, as the changes do: no deadlock).
const FIND_LOCK: &str = "FOR UPDATE OF rt FOR SHARE OF u";
const SPEND: &str = "UPDATE refresh_tokens SET spent_at = $1 WHERE id = $2 AND spent_at IS NULL";
const SPENT_AT: &str = "SELECT spent_at FROM refresh_tokens WHERE id = $1";
/// Conditional: on PostgreSQL a revocation committed while this transaction waited for
/// the user row is not in the row version read above; then nothing is rotated.
const SLIDE_SESSION: &str = "UPDATE sessions SET refreshed_at = $1, expires_at = $2 \
                             WHERE id = $3 AND revoked_at IS NULL";
const REVOKE: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                      WHERE id = $3 AND revoked_at IS NULL";
const CHAIN_LINK: &str = "SELECT secret_hash, spent_at, expires_at FROM refresh_tokens \
                          WHERE id = $1 AND session_id = $2";

impl Store {
    /// Spends `presented` and stores its successor (derived under `chain`) in its
    /// session, in one transaction.
    ///
    /// The spend is a conditional update (`spent_at IS NULL`; on PostgreSQL the row is
    /// also locked up front), so of concurrent requests with one token exactly one
    /// spends it. The others find it spent: within `grace` of the spend they get the
    /// session's live token, the same string the spend returned (two tabs refreshing at
    /// once); after it, the token is taken as stolen and the whole session is revoked,
    /// with the `refresh_reuse_detected` event (from `origin`, the presenter) in the same
    /// transaction.
    #[tracing::instrument(skip_all, fields(token_id = %presented.id()))]
    pub async fn rotate_refresh_token(
        &self,
        presented: &PresentedRefreshToken,
        chain: &RefreshChainKey,
        refresh_ttl: Duration,
        grace: Duration,
        origin: &Origin,
    ) -> Result<Rotation, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let found = tx
            .sql_locking(FIND, FIND_LOCK)
            .bind(presented.id())
            .fetch_optional::<PresentedTokenRow>()
            .await
            .db("find refresh token")?;
        let Some(row) = found.filter(|row| row.accepts(presented, now)) else {
            return Ok(Rotation::Invalid);
        };
        let spent_at = match row.spent_at {
            Some(spent_at) => Some(spent_at),
            None => spend(&mut tx, presented, now).await?,
        };
        let Some(spent_at) = spent_at else {
            let (refresh_token, next) = StoredRefreshToken::successor(chain, presented);
            return store_successor(tx, row, refresh_token, &next, now, now.plus(refresh_ttl))
                .await;
        };
        if now.since(spent_at) >= grace {
            let event = NewEvent::new(EventType::RefreshReuseDetected, Some(row.user.id), origin)
                .with("session_id", row.session_id);
            return revoke_on_reuse(tx, row.session_id, now, &event).await;
        }
        // A replay within the grace: answer with the session's live token. Nothing is
        // written, and the transaction rolls back when dropped.
        live_successor(&mut tx, presented, chain, row, now).await
    }
}

/// Spends `presented` unless a concurrent request did after our read: `None` when this
/// request spent it, otherwise when the other one did.
async fn spend(
    tx: &mut WriteTx,
    presented: &PresentedRefreshToken,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let spent = tx
        .sql(SPEND)
        .bind(now)
        .bind(presented.id())
        .execute()
        .await
        .db("spend refresh token")?;
    if spent == 1 {
        return Ok(None);
    }
    // Lost a race: another request spent it after our read.
    tx.sql(SPENT_AT)
        .bind(presented.id())
        .fetch_one_scalar::<Option<Timestamp>>()
        .await
        .db("re-read refresh token")
}

/// Stores `next`, the spent token's successor, and slides the session's expiry; commits
/// unless the session was revoked meanwhile (then the spend and the successor roll back).
async fn store_successor(
    mut tx: WriteTx,
    row: PresentedTokenRow,
    refresh_token: String,
    next: &StoredRefreshToken,
    now: Timestamp,
    next_expires_at: Timestamp,
) -> Result<Rotation, StoreError> {
    tx.sql(INSERT_REFRESH_TOKEN)
        .bind(next.id)
        .bind(row.session_id)
        .bind(&next.secret_hash[..])
        .bind(now)
        .bind(next_expires_at)
        .execute()
        .await
        .db("insert refresh token")?;
    let slid = tx
        .sql(SLIDE_SESSION)
        .bind(now)
        .bind(next_expires_at)
        .bind(row.session_id)
        .execute()
        .await
        .db("slide session expiry")?;
    if slid == 0 {
        return Ok(Rotation::Invalid);
    }
    tx.commit().await.db("commit rotation")?;
    Ok(Rotation::Rotated {
        session_id: row.session_id,
        user: row.user,
        refresh_token,
        amr: row.amr.0,
    })
}

/// A spent token came back after the grace: revokes its session and records `event`.
async fn revoke_on_reuse(
    mut tx: WriteTx,
    session_id: Uuid,
    now: Timestamp,
    event: &NewEvent<'_>,
) -> Result<Rotation, StoreError> {
    tx.sql(REVOKE)
        .bind(now)
        .bind(RevocationReason::RefreshTokenReuse.as_str())
        .bind(session_id)
        .execute()
        .await
        .db("revoke session on reuse")?;
    events::insert(&mut tx, event).await?;
    tx.commit().await.db("commit revocation")?;
    tracing::debug!(%session_id, "refresh token reused after the grace period: session revoked");
    Ok(Rotation::ReuseDetected { session_id })
}

/// Walks the chain from `presented` to the session's live token, at most
/// [`MAX_CHAIN_WALK`] steps, and answers with it.
async fn live_successor(
    tx: &mut WriteTx,
    presented: &PresentedRefreshToken,
    chain: &RefreshChainKey,
    row: PresentedTokenRow,
    now: Timestamp,
) -> Result<Rotation, StoreError> {
    let mut current = None::<PresentedRefreshToken>;
    for _ in 0..MAX_CHAIN_WALK {
        let from = current.as_ref().unwrap_or(presented);
        let (token, next) = StoredRefreshToken::successor(chain, from);
        let Some(link) = tx
            .sql(CHAIN_LINK)
            .bind(next.id)
            .bind(row.session_id)
            .fetch_optional::<ChainRow>()
            .await
            .db("walk refresh token chain")?
        else {
            return Ok(Rotation::Invalid);
        };
        if link.secret_hash != next.secret_hash || link.expires_at <= now {
            return Ok(Rotation::Invalid);
        }
        if link.spent_at.is_none() {
            return Ok(Rotation::Rotated {
                session_id: row.session_id,
                user: row.user,
                refresh_token: token,
                amr: row.amr.0,
            });
        }
        current = PresentedRefreshToken::parse(&token);
        if current.is_none() {
            return Ok(Rotation::Invalid);
        }
    }
    Ok(Rotation::Invalid)
}
