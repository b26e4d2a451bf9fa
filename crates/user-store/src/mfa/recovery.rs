//! Spending a recovery code.

use uuid::Uuid;

use crate::error::DbResultExt;
use crate::{Store, StoreError, Timestamp};

/// Conditional: only an unused code is spent, so of two requests with one code exactly
/// one changes a row.
const SPEND: &str = "UPDATE recovery_codes SET used_at = $1 \
                     WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL";

impl Store {
    /// Spends the user's unused recovery code with this hash; `false` when there is none
    /// (unknown, or already used).
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn use_recovery_code(
        &self,
        user_id: Uuid,
        code_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let spent = self
            .sql(SPEND)
            .bind(Timestamp::now())
            .bind(user_id)
            .bind(&code_hash[..])
            .execute()
            .await
            .db("spend recovery code")?;
        Ok(spent == 1)
    }

    /// How many of the user's recovery codes are still unused.
    pub async fn unused_recovery_codes(&self, user_id: Uuid) -> Result<i64, StoreError> {
        const SQL: &str =
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";
        self.sql(SQL)
            .bind(user_id)
            .fetch_one_scalar::<i64>()
            .await
            .db("count recovery codes")
    }
}
