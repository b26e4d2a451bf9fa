//! A user's TOTP factor: enrolled (pending), confirmed (active), removed.

use std::fmt;

use uuid::Uuid;

use crate::error::DbResultExt;
use crate::events::{self, EventType, NewEvent, Origin};
use crate::{Store, StoreError, Timestamp};

/// The shared TOTP key (RFC 6238 §5.1: "keys SHOULD be ... protected against unauthorized
/// access"). Its `Debug` shows nothing, and it is neither `Serialize` nor `Display`, so it
/// cannot reach a log line or an answer by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct FactorSecret(Vec<u8>);

impl FactorSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The key's bytes, to compute a code with.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for FactorSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FactorSecret([redacted])")
    }
}

/// A user's TOTP factor as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct TotpFactor {
    pub id: Uuid,
    #[sqlx(try_from = "Vec<u8>")]
    pub secret: FactorSecret,
    /// `None` while pending (enrolled, not yet confirmed).
    pub confirmed_at: Option<Timestamp>,
    /// The RFC 6238 time step of the last code accepted.
    pub last_step: Option<i64>,
}

impl From<Vec<u8>> for FactorSecret {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl TotpFactor {
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// Inserts a pending factor, or replaces a pending one's secret; an active one stays
/// (the update's `WHERE`), and then nothing changes.
const ENROL: &str = "INSERT INTO mfa_factors (id, user_id, kind, secret, created_at) \
                     VALUES ($1, $2, 'totp', $3, $4) \
                     ON CONFLICT (user_id, kind) DO UPDATE \
                     SET id = excluded.id, secret = excluded.secret, \
                         created_at = excluded.created_at, last_step = NULL \
                     WHERE mfa_factors.confirmed_at IS NULL";
const FIND: &str = "SELECT id, secret, confirmed_at, last_step FROM mfa_factors \
                    WHERE user_id = $1 AND kind = 'totp'";
/// Activates the pending factor `$2` if its secret is still `$3` (not replaced by a new
/// enrolment since the code was checked); the confirming code's step `$4` counts as used.
const CONFIRM: &str = "UPDATE mfa_factors SET confirmed_at = $1, last_step = $4 \
                       WHERE id = $2 AND secret = $3 AND confirmed_at IS NULL";
/// RFC 6238 §5.2: a code is accepted once. Only a step later than every step accepted
/// before moves `last_step`; under READ COMMITTED a concurrent second update waits for the
/// first, re-checks the condition and updates nothing.
const ACCEPT_STEP: &str = "UPDATE mfa_factors SET last_step = $1 \
                           WHERE id = $2 AND confirmed_at IS NOT NULL \
                           AND (last_step IS NULL OR last_step < $1)";
const ACTIVE_KINDS: &str = "SELECT kind FROM mfa_factors \
                            WHERE user_id = $1 AND confirmed_at IS NOT NULL ORDER BY kind";
const DELETE_FACTORS: &str = "DELETE FROM mfa_factors WHERE user_id = $1";
const DELETE_CODES: &str = "DELETE FROM recovery_codes WHERE user_id = $1";
const DELETE_CHALLENGES: &str = "DELETE FROM mfa_challenges WHERE user_id = $1";
const INSERT_CODE: &str = "INSERT INTO recovery_codes (id, user_id, code_hash, created_at) \
                           VALUES ($1, $2, $3, $4)";

impl Store {
    /// Stores `secret` as the user's pending TOTP factor (replacing a pending one);
    /// `false` when the user already has an active factor (nothing changed).
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn enrol_totp(
        &self,
        user_id: Uuid,
        secret: &FactorSecret,
    ) -> Result<bool, StoreError> {
        let written = self
            .sql(ENROL)
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(secret.expose())
            .bind(Timestamp::now())
            .execute()
            .await
            .db("enrol totp factor")?;
        Ok(written == 1)
    }

    /// The user's TOTP factor, pending or active.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn totp_factor(&self, user_id: Uuid) -> Result<Option<TotpFactor>, StoreError> {
        self.sql(FIND)
            .bind(user_id)
            .fetch_optional::<TotpFactor>()
            .await
            .db("find totp factor")
    }

    /// Activates the pending factor (if its secret is still `secret`) with `step` counted
    /// as used, and replaces the user's recovery codes by `code_hashes`, in one
    /// transaction with its `mfa_enabled` event; `false` when the factor is no longer that
    /// pending one.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn confirm_totp(
        &self,
        user_id: Uuid,
        factor: &TotpFactor,
        step: i64,
        code_hashes: &[[u8; 32]],
        origin: &Origin,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let confirmed = tx
            .sql(CONFIRM)
            .bind(now)
            .bind(factor.id)
            .bind(factor.secret.expose())
            .bind(step)
            .execute()
            .await
            .db("confirm totp factor")?;
        if confirmed == 0 {
            return Ok(false);
        }
        tx.sql(DELETE_CODES)
            .bind(user_id)
            .execute()
            .await
            .db("delete old recovery codes")?;
        for hash in code_hashes {
            tx.sql(INSERT_CODE)
                .bind(Uuid::now_v7())
                .bind(user_id)
                .bind(&hash[..])
                .bind(now)
                .execute()
                .await
                .db("insert recovery code")?;
        }
        let event = NewEvent::new(EventType::MfaEnabled, Some(user_id), origin)
            .with("factor", "totp")
            .with("recovery_codes", code_hashes.len());
        events::insert(&mut tx, &event).await?;
        tx.commit().await.db("commit totp confirmation")?;
        Ok(true)
    }

    /// Records `step` as the factor's last accepted one, if it is later than every step
    /// accepted so far; `false` (nothing written) for a replay or an older step.
    #[tracing::instrument(skip_all, fields(factor_id = %factor_id))]
    pub async fn accept_totp_step(&self, factor_id: Uuid, step: i64) -> Result<bool, StoreError> {
        let accepted = self
            .sql(ACCEPT_STEP)
            .bind(step)
            .bind(factor_id)
            .execute()
            .await
            .db("accept totp step")?;
        Ok(accepted == 1)
    }

    /// The kinds of the user's active factors (`["totp"]` or none), for the user object.
    pub async fn active_factors(&self, user_id: Uuid) -> Result<Vec<String>, StoreError> {
        self.sql(ACTIVE_KINDS)
            .bind(user_id)
            .fetch_all_scalar::<String>()
            .await
            .db("list active factors")
    }

    /// Removes every factor of the user, their recovery codes and open challenges, in one
    /// transaction with its `mfa_disabled` event (when an active factor went); returns how
    /// many factors there were (pending ones included).
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn remove_factors(&self, user_id: Uuid, origin: &Origin) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let active = tx
            .sql(ACTIVE_KINDS)
            .bind(user_id)
            .fetch_all_scalar::<String>()
            .await
            .db("read active factors")?;
        let removed = tx
            .sql(DELETE_FACTORS)
            .bind(user_id)
            .execute()
            .await
            .db("delete factors")?;
        for (sql, what) in [
            (DELETE_CODES, "delete recovery codes"),
            (DELETE_CHALLENGES, "delete mfa challenges"),
        ] {
            tx.sql(sql).bind(user_id).execute().await.db(what)?;
        }
        if !active.is_empty() {
            let event = NewEvent::new(EventType::MfaDisabled, Some(user_id), origin)
                .with("factors", &active);
            events::insert(&mut tx, &event).await?;
        }
        tx.commit().await.db("commit factor removal")?;
        Ok(removed)
    }
}
