//! authd's tokens, with no HTTP server and no database.
//!
//! - [`Claims`]: the access token's claims (RFC 9068 §2.2 plus `sid`, `roles`, `username`).
//! - [`KeySet`]: exactly one signing key and any number of verification keys, by `kid`.
//! - [`TokenIssuer`]: signs access tokens; [`Verifier`]: checks them (RFC 8725 practices).
//! - [`StoredRefreshToken`]: an opaque refresh token as it is stored (its selector and the
//!   hash of its secret); [`PresentedRefreshToken`]: one as a client sent it.
//! - [`ClientSecretHash`]: a registered client's secret as it is stored (SHA-256).
//! - [`RevokedSessions`]: the in-memory set of revoked, not yet expired session ids.
//! - `RemoteVerifier` (feature `remote`): the same checks in another service, with the keys
//!   of authd's JWKS, cached for the JWKS's `Cache-Control: max-age` and never trusted past
//!   a hard limit.
//!
//! # Features
//!
//! - `remote` (off by default): `RemoteVerifier`, `RemoteVerifyError` and `JwksError`, for
//!   a service that verifies authd's tokens with nothing but its JWKS URL. It brings
//!   `reqwest` (the JWKS fetch), `tokio` (background refetches) and `tracing`; the authd
//!   server does not use it, so it does not compile them in. Enable it with
//!   `auth-core = { ..., features = ["remote"] }`.

mod cache;
mod claims;
mod client_secret;
mod issuer;
mod keys;
mod refresh;
#[cfg(feature = "remote")]
mod remote;
mod revoked;
mod signer;
pub mod verifier;

pub use claims::{AUTHD_CLIENT, Claims};
pub use client_secret::ClientSecretHash;
pub use issuer::{IssuedAccessToken, TokenIssuer, TokenSubject};
pub use keys::{Algorithm, KeyError, KeySet, SigningKey};
pub use refresh::{PresentedRefreshToken, RefreshChainKey, StoredRefreshToken};
#[cfg(feature = "remote")]
pub use remote::{JwksError, RemoteVerifier, RemoteVerifyError};
pub use revoked::RevokedSessions;
pub use verifier::{Verifier, VerifierConfig, VerifyError};

/// Seconds since the Unix epoch, the unit of every time claim (RFC 7519 §2 "NumericDate").
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
