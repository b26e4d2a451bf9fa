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
}

impl Claims {
    /// Whether the token carries `role` (exact, case-sensitive match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}
