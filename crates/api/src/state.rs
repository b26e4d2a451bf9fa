use std::time::Duration;

use crate::accounts::Accounts;
use crate::client_address::TrustedProxies;
use crate::metrics::Metrics;
use crate::routes::oauth::metadata::Metadata;

/// What every handler shares, passed as `web::Data<AppState>` (no globals): the accounts
/// layer, and what only the HTTP transport needs.
pub struct AppState {
    pub accounts: Accounts,
    /// The JWKS's `Cache-Control` (`JWKS_MAX_AGE`).
    pub jwks_cache_control: String,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Longest wait for a request body.
    pub request_body_timeout: Duration,
    /// The registry `/metrics` renders (the accounts layer counts into a clone of it).
    pub metrics: Metrics,
    /// `GET /.well-known/oauth-authorization-server`, rendered at start.
    pub oauth_metadata: Metadata,
}
