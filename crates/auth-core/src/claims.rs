use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of an authd access token.
///
/// The registered claims follow RFC 9068 §2.2 (JWT profile for OAuth 2.0 access tokens);
/// `sid` names the session (and is what revocation acts on), `roles` and `username` are
/// copied from the user at issue time. Time claims are integer seconds: a string, float or
/// missing `exp`/`nbf`/`iat` fails deserialisation and so fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub roles: Vec<String>,
    pub username: String,
    /// How the user authenticated (RFC 8176 §2): `["pwd"]`, or `["pwd", "otp"]` after a
    /// second factor. Absent on tokens issued without a user's login (and on tokens
    /// issued before authd wrote it), so optional on verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The registered client that obtained the token (RFC 9068 §2.2), or [`AUTHD_CLIENT`]
    /// for authd's own login endpoints. A token issued before authd wrote this claim was
    /// issued by those endpoints, so that is what its absence means.
    #[serde(default = "authd_client")]
    pub client_id: String,
}

/// The `client_id` of tokens issued by authd's own login endpoints (no registered client).
pub const AUTHD_CLIENT: &str = "authd";

fn authd_client() -> String {
    AUTHD_CLIENT.to_owned()
}

impl Claims {
    /// Whether the token carries `role` (exact, case-sensitive match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether this is a client's own token (client credentials grant) rather than a
    /// user's: exactly when `sub` equals `client_id` (API.md, Tokens).
    pub fn is_client_token(&self) -> bool {
        self.client_id
            .parse::<Uuid>()
            .is_ok_and(|id| id == self.sub)
    }
}
