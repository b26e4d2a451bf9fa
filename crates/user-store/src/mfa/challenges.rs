//! The challenge behind an `mfa_token`: a login whose password was right, waiting for its
//! second factor.

use std::time::Duration;

use uuid::Uuid;

use crate::error::DbResultExt;
use crate::{Store, StoreError, Timestamp};

/// Wrong codes that spend a challenge (API.md: "Five wrong codes spend the `mfa_token`").
pub const MFA_MAX_FAILURES: i32 = 5;

/// A live challenge (unspent, unexpired), with its user's name for the login throttle.
#[derive(sqlx::FromRow)]
pub struct MfaChallenge {
    pub user_id: Uuid,
    pub username: String,
    /// The hash the password was verified against (never shown).
    pub password_hash: String,
}

const INSERT: &str = "INSERT INTO mfa_challenges \
                      (token_hash, user_id, password_hash, created_at, expires_at) \
                      VALUES ($1, $2, $3, $4, $5)";
const FIND_LIVE: &str = "SELECT c.user_id, u.username, c.password_hash \
                         FROM mfa_challenges c JOIN users u ON u.id = c.user_id \
                         WHERE c.token_hash = $1 AND c.spent_at IS NULL AND c.expires_at > $2";
/// One more wrong code; the fifth spends the challenge. Conditional on it being unspent,
/// so concurrent wrong codes each count.
const FAILED: &str = "UPDATE mfa_challenges SET failures = failures + 1, \
                      spent_at = CASE WHEN failures + 1 >= $3 THEN $2 ELSE spent_at END \
                      WHERE token_hash = $1 AND spent_at IS NULL";
/// Single use: of two requests completing one challenge, one spends it.
const SPEND: &str = "UPDATE mfa_challenges SET spent_at = $2 \
                     WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > $2";

impl Store {
    /// Stores a challenge for `user_id` under the hash of its token, living `ttl`.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn create_mfa_challenge(
        &self,
        token_hash: &[u8; 32],
        user_id: Uuid,
        verified_hash: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        self.sql(INSERT)
            .bind(&token_hash[..])
            .bind(user_id)
            .bind(verified_hash)
            .bind(now)
            .bind(now.plus(ttl))
            .execute()
            .await
            .db("insert mfa challenge")
            .map(|_| ())
    }

    /// The live challenge with this token hash: `None` when unknown, spent or expired.
    #[tracing::instrument(skip_all)]
    pub async fn find_mfa_challenge(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<MfaChallenge>, StoreError> {
        self.sql(FIND_LIVE)
            .bind(&token_hash[..])
            .bind(Timestamp::now())
            .fetch_optional::<MfaChallenge>()
            .await
            .db("find mfa challenge")
    }

    /// Counts a wrong code against the challenge; the [`MFA_MAX_FAILURES`]th spends it.
    #[tracing::instrument(skip_all)]
    pub async fn mfa_challenge_failed(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.sql(FAILED)
            .bind(&token_hash[..])
            .bind(Timestamp::now())
            .bind(MFA_MAX_FAILURES)
            .execute()
            .await
            .db("count mfa failure")
            .map(|_| ())
    }

    /// Spends the challenge; `false` when it was spent (or expired) meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn spend_mfa_challenge(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let spent = self
            .sql(SPEND)
            .bind(&token_hash[..])
            .bind(Timestamp::now())
            .execute()
            .await
            .db("spend mfa challenge")?;
        Ok(spent == 1)
    }
}
