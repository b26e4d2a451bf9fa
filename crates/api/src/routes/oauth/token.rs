//! `POST /oauth/token` (RFC 6749 §3.2). This phase speaks the client credentials grant
//! (§4.4); the password and refresh token grants answer `unsupported_grant_type` until
//! they are wired to the login and refresh use cases.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{AccountError, clients};
use crate::error::{ApiError, ErrorBody};
use crate::routes::Body;
use crate::routes::oauth::{Form, Presented, authenticated_client, presented};
use crate::state::AppState;

/// The form of a token request (`application/x-www-form-urlencoded`). An empty parameter
/// counts as absent; a repeated one is refused.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the form; the handler reads it through `Form`
pub struct TokenRequest {
    /// `client_credentials` (`password` and `refresh_token` are refused with
    /// `unsupported_grant_type` in this version).
    grant_type: String,
    /// With `client_secret`: `client_secret_post`. Or send both as HTTP Basic.
    client_id: Option<String>,
    #[schema(format = Password)]
    client_secret: Option<String>,
    /// Ignored: a token carries the client's roles.
    scope: Option<String>,
}

/// A token answer (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct OAuthToken {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds the access token lives.
    expires_in: i64,
    /// The granted roles, space-separated.
    scope: String,
}

/// Issues an access token to a registered client (client credentials grant).
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "A token (`Cache-Control: no-store`)", body = OAuthToken),
        (status = 400, description = "`invalid_request` (missing `grant_type`, a repeated parameter, Basic and form credentials together) or `unsupported_grant_type`", body = ErrorBody),
        (status = 401, description = "`invalid_client`, with `WWW-Authenticate: Basic realm=\"authd\"`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 408, description = "`request_timeout`: the body did not arrive within `REQUEST_BODY_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not a form", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let form = Form::parse(&req, &body)?;
    let caller = presented(&req, &form)?;
    match form.required("grant_type")? {
        "client_credentials" => client_credentials(&state, &caller).await,
        _ => Err(ApiError::UnsupportedGrantType),
    }
}

/// RFC 6749 §4.4: client authentication required; no refresh token.
async fn client_credentials(
    state: &AppState,
    caller: &Presented,
) -> Result<HttpResponse, ApiError> {
    let Presented::Client { id, secret } = caller else {
        return Err(AccountError::InvalidClient.into());
    };
    let accounts = &state.accounts;
    let client = authenticated_client(accounts, id, secret.as_deref()).await?;
    let issued = clients::grant(accounts, &client)?;
    Ok(no_store(HttpResponse::Ok()).json(OAuthToken {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: issued.claims.roles.join(" "),
    }))
}

/// Every answer that carries a token is never cached (RFC 6749 §5.1).
pub(crate) fn no_store(
    mut response: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}
