//! The OAuth 2.0 endpoints (API.md, "OAuth 2.0 endpoints and service accounts"): form
//! bodies in, RFC 6749 shapes out. This module reads the form and the caller's
//! credentials; the decisions are in `crate::accounts::{clients, oauth}`.

pub mod introspect;
pub mod metadata;
pub mod revoke;
pub mod token;

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use user_store::Client;

use crate::accounts::{AccountError, Accounts, clients, oauth};
use crate::error::ApiError;
use crate::routes::admin::ADMIN_ROLE;

/// `/oauth/*` and the metadata document.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/oauth")
            .service(web::resource("/token").route(web::post().to(token::token)))
            .service(web::resource("/introspect").route(web::post().to(introspect::introspect)))
            .service(web::resource("/revoke").route(web::post().to(revoke::revoke))),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .route(web::get().to(metadata::metadata)),
    );
}

/// A form body (`application/x-www-form-urlencoded`, RFC 6749 §3.2): anything else is 415;
/// a parameter sent twice is 400 `invalid_request`, even when one of the two is empty
/// (accepting "last wins" would let a proxy and authd read different values); a parameter
/// sent empty counts as absent.
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn parse(req: &HttpRequest, body: &[u8]) -> Result<Form, ApiError> {
        let is_form = req.mime_type().ok().flatten().is_some_and(|m| {
            m.essence_str()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        if !is_form {
            return Err(ApiError::FormExpected);
        }
        let mut seen = std::collections::HashSet::new();
        let mut values = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if !seen.insert(name.clone()) {
                return Err(ApiError::InvalidRequest(
                    "a parameter is sent more than once (RFC 6749 §3.2)".to_owned(),
                ));
            }
            if !value.is_empty() {
                values.insert(name.into_owned(), value.into_owned());
            }
        }
        Ok(Form(values))
    }

    /// The parameter's value; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter the request cannot do without (400 `invalid_request`).
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::InvalidRequest(format!("the parameter {name} is missing")))
    }
}

/// The credentials a caller presented: HTTP Basic (`client_secret_basic`) or
/// `client_id` + `client_secret` in the form (`client_secret_post`), RFC 6749 §2.3.1.
pub enum Presented {
    Nothing,
    Client {
        id: String,
        secret: Option<String>,
    },
    /// An access token in `Authorization: Bearer` (introspection and revocation accept an
    /// admin's).
    Bearer(String),
}

/// What the request authenticates with; both Basic and form credentials is 400
/// `invalid_request` (RFC 6749 §2.3: one method per request).
pub fn presented(req: &HttpRequest, form: &Form) -> Result<Presented, ApiError> {
    let in_form = form.get("client_secret").is_some();
    let Some((scheme, rest)) = authorization(req) else {
        return Ok(match form.get("client_id") {
            Some(id) => Presented::Client {
                id: id.to_owned(),
                secret: form.get("client_secret").map(str::to_owned),
            },
            None if in_form => Presented::Client {
                id: String::new(),
                secret: None,
            },
            None => Presented::Nothing,
        });
    };
    if in_form {
        return Err(ApiError::InvalidRequest(
            "send client credentials either in the Authorization header or in the form, not both"
                .to_owned(),
        ));
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Presented::Bearer(rest.to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AccountError::InvalidClient.into());
    }
    let (id, secret) = basic(rest).ok_or(AccountError::InvalidClient)?;
    if form.get("client_id").is_some_and(|form_id| form_id != id) {
        return Err(ApiError::InvalidRequest(
            "the client_id in the form is not the one in the Authorization header".to_owned(),
        ));
    }
    Ok(Presented::Client {
        id,
        secret: Some(secret),
    })
}

/// The `Authorization` header's scheme and the rest, trimmed.
fn authorization(req: &HttpRequest) -> Option<(&str, &str)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let value = value.trim();
    Some(
        value
            .split_once(' ')
            .map_or((value, ""), |(scheme, rest)| (scheme, rest.trim())),
    )
}

/// `client_id:client_secret`, each form-urlencoded before base64 (RFC 6749 §2.3.1).
fn basic(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decoded(id), form_decoded(secret)))
}

fn form_decoded(part: &str) -> String {
    url::form_urlencoded::parse(format!("v={part}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// The client the caller authenticated as, if it presented client credentials: a
/// `client_id` without a secret, a wrong one or an unknown client is 401 `invalid_client`
/// (every client is confidential, RFC 6749 §2.3.1).
pub async fn authenticated_client(
    accounts: &Accounts,
    id: &str,
    secret: Option<&str>,
) -> Result<Client, ApiError> {
    let secret = secret.ok_or(AccountError::InvalidClient)?;
    Ok(clients::authenticate(&accounts.users.store, id, secret).await?)
}

/// The caller of introspection, or of revoking an access token: a registered client, or a
/// live access token with the admin role; otherwise 401 `invalid_client`. `Ok(false)` when
/// nothing at all was presented.
pub async fn caller_is_authenticated(
    accounts: &Accounts,
    presented: &Presented,
) -> Result<bool, ApiError> {
    match presented {
        Presented::Nothing => Ok(false),
        Presented::Client { id, secret } => {
            authenticated_client(accounts, id, secret.as_deref()).await?;
            Ok(true)
        }
        Presented::Bearer(token) => match oauth::live_access_token(accounts, token) {
            Some(claims) if claims.has_role(ADMIN_ROLE) => Ok(true),
            _ => Err(AccountError::InvalidClient.into()),
        },
    }
}
