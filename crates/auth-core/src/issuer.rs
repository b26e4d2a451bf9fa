use jsonwebtoken::Header;
use uuid::Uuid;

use crate::{AUTHD_CLIENT, Claims, KeySet, unix_now};

/// Who an access token is for: copied from the store at issue time.
#[derive(Debug, Clone)]
pub struct TokenSubject {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub username: String,
    pub roles: Vec<String>,
    /// The `amr` claim (RFC 8176), when the token stands for a user's login.
    pub amr: Option<Vec<String>>,
    /// The registered client the token is issued to (its `client_id` claim), or `None`
    /// for authd's own login endpoints ([`AUTHD_CLIENT`]).
    pub client_id: Option<Uuid>,
}

/// A freshly signed access token and what a client needs to know about it.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    pub token: String,
    pub claims: Claims,
    /// Lifetime in seconds, for the token response's `expires_in`.
    pub expires_in: i64,
}

/// Signs access tokens with the key set's signing key.
#[derive(Clone)]
pub struct TokenIssuer {
    keys: KeySet,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

/// The media type of an access token (RFC 9068 §2.1).
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";

impl TokenIssuer {
    pub fn new(keys: KeySet, issuer: String, audience: String, ttl: std::time::Duration) -> Self {
        Self {
            keys,
            issuer,
            audience,
            ttl_secs: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Signs a new access token for `subject`, with a fresh `jti`.
    ///
    /// ```
    /// # use auth_core::*;
    /// # use secrecy::SecretString;
    /// let keys = KeySet::new(SigningKey::hs256(&SecretString::from("k".repeat(32))).unwrap());
    /// let issuer = TokenIssuer::new(keys.clone(), "authd".into(), "api".into(),
    ///     std::time::Duration::from_secs(900));
    /// let subject = TokenSubject { user_id: uuid::Uuid::now_v7(), session_id: uuid::Uuid::now_v7(),
    ///     username: "alice".into(), roles: vec![], amr: Some(vec!["pwd".into()]),
    ///     client_id: None };
    /// let issued = issuer.issue(&subject).unwrap();
    /// let verifier = Verifier::new(keys, VerifierConfig::new("authd", "api"));
    /// assert_eq!(verifier.verify(&issued.token).unwrap().sub, subject.user_id);
    /// ```
    pub fn issue(
        &self,
        subject: &TokenSubject,
    ) -> Result<IssuedAccessToken, jsonwebtoken::errors::Error> {
        let key = self.keys.signing_key();
        let now = unix_now();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.user_id,
            sid: subject.session_id,
            jti: Uuid::now_v7(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(self.ttl_secs),
            roles: subject.roles.clone(),
            username: subject.username.clone(),
            amr: subject.amr.clone(),
            client_id: subject
                .client_id
                .map_or_else(|| AUTHD_CLIENT.to_owned(), |id| id.to_string()),
        };
        let mut header = Header::new(key.algorithm().to_jwt());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(key.kid().to_owned());
        let token = key.sign(&header, &claims)?;
        Ok(IssuedAccessToken {
            token,
            claims,
            expires_in: self.ttl_secs,
        })
    }
}
