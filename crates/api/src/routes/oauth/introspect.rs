//! `POST /oauth/introspect` (RFC 7662).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::AccountError;
use crate::accounts::oauth::{self, Introspection};
use crate::error::{ApiError, ErrorBody};
use crate::routes::Body;
use crate::routes::oauth::token::no_store;
use crate::routes::oauth::{Form, caller_is_authenticated, presented};
use crate::state::AppState;

/// The form of an introspection or revocation request.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the form; the handlers read it through `Form`
pub struct TokenForm {
    /// An access token or a refresh token.
    #[schema(format = Password)]
    token: String,
    /// Only a hint (`access_token`, `refresh_token`); an unknown value is ignored.
    token_type_hint: Option<String>,
    /// With `client_secret`: `client_secret_post`. Or HTTP Basic.
    client_id: Option<String>,
    #[schema(format = Password)]
    client_secret: Option<String>,
}

/// RFC 7662 §2.2: `{"active": false}` alone for anything not live; for a live token its
/// claims, and `token_use` saying which kind it is.
#[derive(Serialize, ToSchema, Default)]
pub struct IntrospectionAnswer {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_use: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
    /// The roles, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<Uuid>,
}

/// Whether a token is live, and its claims. An access token's answer reads no database.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security(("basic" = []), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The token's state (`Cache-Control: no-store`)", body = IntrospectionAnswer),
        (status = 400, description = "`invalid_request`: no `token`, a repeated parameter, Basic and form credentials together", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no registered client's credentials nor an admin's token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not a form", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let form = Form::parse(&req, &body)?;
    let accounts = &state.accounts;
    if !caller_is_authenticated(accounts, &presented(&req, &form)?).await? {
        return Err(AccountError::InvalidClient.into());
    }
    let found = oauth::introspect(accounts, form.required("token")?).await?;
    Ok(no_store(HttpResponse::Ok()).json(answer(found)))
}

fn answer(found: Introspection) -> IntrospectionAnswer {
    match found {
        Introspection::Inactive => IntrospectionAnswer::default(),
        Introspection::Refresh { sub, sid, exp } => IntrospectionAnswer {
            active: true,
            token_use: Some("refresh_token"),
            sub: Some(sub),
            sid: Some(sid),
            exp: Some(exp),
            ..IntrospectionAnswer::default()
        },
        Introspection::Access(claims) => IntrospectionAnswer {
            active: true,
            token_type: Some("Bearer"),
            token_use: Some("access_token"),
            sub: Some(claims.sub),
            sid: Some(claims.sid),
            username: Some(claims.username.clone()),
            roles: Some(claims.roles.clone()),
            scope: Some(claims.roles.join(" ")),
            client_id: Some(claims.client_id.clone()),
            iss: Some(claims.iss.clone()),
            aud: Some(claims.aud.clone()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.nbf),
            jti: Some(claims.jti),
        },
    }
}
