//! Sessions and their refresh tokens: opening one after a login ([`open`]), rotating a
//! refresh token ([`rotate`]), revoking ([`revoke`]), and reading a refresh token's state
//! ([`inspect`]).

mod inspect;
mod open;
mod revoke;
mod rotate;

pub use inspect::RefreshTokenState;
pub use open::SessionOpening;
pub(crate) use revoke::REVOKE_USER_SESSIONS;
pub use revoke::RevocationReason;
pub use rotate::Rotation;

/// Stores a refresh token (only its secret's hash) in its session.
const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens \
                                    (id, session_id, secret_hash, issued_at, expires_at) \
                                    VALUES ($1, $2, $3, $4, $5)";
