//! authd's tokens, with no HTTP server and no database.
//!
//! - [`Claims`]: the access token's claims (RFC 9068 §2.2 plus `sid`, `roles`, `username`).
//! - [`KeySet`]: exactly one signing key and any number of verification keys, by `kid`.
//! - [`TokenIssuer`]: signs access tokens; [`Verifier`]: checks them (RFC 8725 practices).
//! - [`RefreshSecret`]: opaque refresh tokens, stored only as a hash.
//! - [`RevokedSessions`]: the in-memory set of revoked, not yet expired session ids.
//! - [`RemoteVerifier`]: the same checks in another service, with the keys of authd's JWKS,
//!   cached for the JWKS's `Cache-Control: max-age` and never trusted past a hard limit.

mod cache;
mod claims;
mod issuer;
mod jwks;
mod keys;
mod refresh;
mod remote;
mod revoked;
mod signer;
pub mod verifier;

pub use claims::Claims;
pub use issuer::{IssuedAccessToken, TokenIssuer, TokenSubject};
pub use keys::{Algorithm, KeyError, KeySet, SigningKey};
pub use refresh::{PresentedRefreshToken, RefreshChainKey, RefreshSecret};
pub use remote::{JwksError, RemoteVerifier, RemoteVerifyError};
pub use revoked::RevokedSessions;
pub use verifier::{Verifier, VerifierConfig, VerifyError};

/// Seconds since the Unix epoch, the unit of every time claim (RFC 7519 §2 "NumericDate").
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
