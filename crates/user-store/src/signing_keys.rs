use crate::error::DbResultExt;
use crate::{Store, StoreError, Timestamp};

/// A signing key as stored (see `migrations/*/0003_signing_keys.sql`).
#[derive(Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// PKCS#8 PEM.
    pub private_key: String,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Every key of `alg`, retired ones included, oldest activation first.
    pub async fn signing_keys(&self, alg: &str) -> Result<Vec<StoredKey>, StoreError> {
        const SQL: &str = "SELECT kid, alg, private_key, created_at, activates_at, retired_at \
                           FROM signing_keys WHERE alg = $1 ORDER BY activates_at, kid";
        self.sql(SQL)
            .bind(alg)
            .fetch_all::<StoredKey>()
            .await
            .db("read signing keys")
    }

    /// Adds a key; a key already present (same kid) is left as it is. Returns whether it
    /// was added.
    pub async fn add_signing_key(
        &self,
        kid: &str,
        alg: &str,
        private_key: &str,
        activates_at: Timestamp,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO signing_keys (kid, alg, private_key, created_at, activates_at) \
                           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING";
        let added = self
            .sql(SQL)
            .bind(kid)
            .bind(alg)
            .bind(private_key)
            .bind(Timestamp::now())
            .bind(activates_at)
            .execute()
            .await
            .db("add signing key")?;
        Ok(added == 1)
    }

    /// Stops a key from verifying (and signing). Returns whether a live key was retired.
    pub async fn retire_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        const SQL: &str =
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL";
        let retired = self
            .sql(SQL)
            .bind(Timestamp::now())
            .bind(kid)
            .execute()
            .await
            .db("retire signing key")?;
        Ok(retired == 1)
    }
}
