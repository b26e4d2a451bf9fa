//! Keys that every replica of one deployment must share and that no setting provides:
//! the first server to start creates each one, every other reads it back.

use auth_core::RefreshChainKey;

use crate::error::DbResultExt;
use crate::{Store, StoreError, Timestamp};

const REFRESH_CHAIN: &str = "refresh_chain";

impl Store {
    /// The key that derives refresh tokens' successors: random bytes created on first use
    /// and shared through the database, bound to `configured` (the HS256 secret) when
    /// there is one, so that the database alone does not give it away.
    pub async fn refresh_chain_key(
        &self,
        configured: Option<&[u8]>,
    ) -> Result<RefreshChainKey, StoreError> {
        let bytes = self
            .shared_secret(REFRESH_CHAIN, || {
                RefreshChainKey::generate_bytes().map(Vec::from)
            })
            .await?;
        RefreshChainKey::from_parts(&bytes, configured).ok_or_else(|| {
            anyhow::anyhow!("the stored refresh_chain key is shorter than 32 bytes").into()
        })
    }

    /// The secret called `name`: whichever replica inserts first wins (`ON CONFLICT DO
    /// NOTHING`), and every one reads back the stored value.
    async fn shared_secret(
        &self,
        name: &'static str,
        generate: impl FnOnce() -> Result<Vec<u8>, getrandom::Error>,
    ) -> Result<Vec<u8>, StoreError> {
        const INSERT: &str = "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                              ON CONFLICT (name) DO NOTHING";
        const READ: &str = "SELECT value FROM server_secrets WHERE name = $1";
        let fresh = generate().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        self.sql(INSERT)
            .bind(name)
            .bind(&fresh)
            .bind(Timestamp::now())
            .execute()
            .await
            .db("store a server secret")?;
        self.sql(READ)
            .bind(name)
            .fetch_one_scalar::<Vec<u8>>()
            .await
            .db("read a server secret")
    }
}
