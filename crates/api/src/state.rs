use std::time::Duration;

use std::sync::Arc;

use auth_core::{RefreshChainKey, RevokedSessions};
use user_store::{PasswordHasher, Store, ThrottlePolicy, Timestamp};
use uuid::Uuid;

use crate::client_address::TrustedProxies;
use crate::keyring::KeyRing;
use crate::metrics::Metrics;
use crate::rate_limit::AddressRateLimiter;

/// What every handler shares, passed as `web::Data<AppState>` (no globals).
pub struct AppState {
    pub store: Store,
    pub hasher: PasswordHasher,
    /// The signing and verification keys in force (replaced as keys rotate).
    pub keys: Arc<KeyRing>,
    /// The JWKS's `Cache-Control` (`JWKS_MAX_AGE`).
    pub jwks_cache_control: String,
    pub revoked: RevokedSessions,
    pub refresh_token_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    /// Derives each refresh token's successor; shared by every replica (in the database).
    pub refresh_chain: RefreshChainKey,
    pub signup_enabled: bool,
    /// Failed logins per username.
    pub login_throttle: ThrottlePolicy,
    /// Failed logins per client address, when that limit is on.
    pub address_throttle: Option<ThrottlePolicy>,
    /// Registrations per client address, when that limit is on.
    pub register_limit: Option<AddressRateLimiter>,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Longest wait for a request body.
    pub request_body_timeout: Duration,
    /// How long a revoked session must stay in the revoked set: the longest an access
    /// token lives, plus the verification leeway and a margin
    /// ([`crate::Settings::token_retention`]).
    pub revocation_retention: Duration,
    pub metrics: Metrics,
}

impl AppState {
    /// Makes revocations done by this replica take effect here at once (the others learn
    /// of them from the database within their poll interval).
    pub fn remember_revoked(&self, sessions: &[Uuid]) {
        // As the revocation feed computes it: saturating, so no setting can wrap it into
        // the past and forget the revocation at once.
        let forget_after = Timestamp::now()
            .plus(self.revocation_retention)
            .unix_seconds();
        for sid in sessions {
            self.revoked.insert(*sid, forget_after);
        }
    }
}
