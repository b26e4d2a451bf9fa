//! Reading a refresh token without spending it: what RFC 7662 introspection and RFC 7009
//! revocation need to know of it.

use uuid::Uuid;

use crate::error::DbResultExt;
use crate::{Store, StoreError, Timestamp};

/// A stored refresh token and the state of its session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenState {
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 of the token's secret, for the caller's constant-time check.
    pub secret_hash: Vec<u8>,
    pub expires_at: Timestamp,
    pub spent_at: Option<Timestamp>,
    pub session_revoked_at: Option<Timestamp>,
}

impl RefreshTokenState {
    /// Whether the token would buy a new access token now (unspent, unexpired, of a live
    /// session); the caller has checked its secret.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.spent_at.is_none() && self.session_revoked_at.is_none() && self.expires_at > now
    }
}

impl Store {
    /// The refresh token with this selector and its session's state; `None` when unknown.
    #[tracing::instrument(skip_all, fields(token_id = %id))]
    pub async fn find_refresh_token(
        &self,
        id: Uuid,
    ) -> Result<Option<RefreshTokenState>, StoreError> {
        const SQL: &str = "SELECT rt.session_id, s.user_id, rt.secret_hash, rt.expires_at, \
                               rt.spent_at, s.revoked_at AS session_revoked_at \
                           FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id \
                           WHERE rt.id = $1";
        self.sql(SQL)
            .bind(id)
            .fetch_optional::<RefreshTokenState>()
            .await
            .db("find refresh token")
    }
}
