//! `/auth`: register, refresh, logout, and the token response they share with login;
//! each parses, calls its use case in [`crate::accounts`], and renders.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::Claims;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use user_store::{Actor, User};
use utoipa::ToSchema;

use crate::accounts::{self, Registration, Tokens};
use crate::error::{ApiError, ErrorBody};
use crate::routes::{Body, JsonBody, is_blank, origin, parse_json_object};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// 3 to 64 characters as sent, and again once trimmed and NFKC-normalised; no control
    /// characters; compared case-insensitively.
    #[schema(min_length = 3, max_length = 64)]
    pub username: String,
    /// 8 to 128 characters; on registration, rated by a strength estimate.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128)]
    pub password: SecretString,
}

/// A sign-up: the credentials and an optional email address.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3 to 64 characters as sent, and again once trimmed and NFKC-normalised; no control
    /// characters; compared case-insensitively.
    #[schema(min_length = 3, max_length = 64)]
    pub username: String,
    /// 8 to 128 characters, rated by a strength estimate.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128)]
    pub password: SecretString,
    /// Stored as pending and sent a verification message (when email is on).
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
}

/// The token response (RFC 6749 §5.1), never cached.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    refresh_expires_in: u64,
}

/// Creates a user.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 400, description = "`invalid_request`, `invalid_username`, `weak_password` or `invalid_email`", body = ErrorBody),
        (status = 403, description = "`signup_disabled`", body = ErrorBody),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the body did not arrive within `REQUEST_BODY_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many registrations from this address; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: retry after `Retry-After`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let RegisterRequest {
        username,
        password,
        email,
    } = body;
    let registration = Registration {
        username,
        password,
        email,
        client: state.trusted_proxies.client_address(&req),
    };
    let user = accounts::register(&state.accounts, registration).await?;
    Ok(HttpResponse::Created().json(user))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String)]
    refresh_token: SecretString,
}

/// Trades a refresh token for a new pair; the presented token is spent (rotation with
/// reuse detection).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_grant`: unknown, expired, revoked or reused", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the body did not arrive within `REQUEST_BODY_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let origin = origin(&state, &req, Actor::Client);
    let tokens = accounts::refresh(&state.accounts, &body.refresh_token, &origin).await?;
    Ok(token_response(tokens))
}

/// Which sessions a logout ends: this one, all of the user's, or all but this one.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogoutScope {
    #[default]
    Local,
    Global,
    Others,
}

impl From<LogoutScope> for accounts::LogoutScope {
    fn from(scope: LogoutScope) -> Self {
        match scope {
            LogoutScope::Local => accounts::LogoutScope::Local,
            LogoutScope::Global => accounts::LogoutScope::Global,
            LogoutScope::Others => accounts::LogoutScope::Others,
        }
    }
}

#[derive(Deserialize, Default, ToSchema)]
pub struct LogoutRequest {
    #[serde(default)]
    scope: LogoutScope,
}

/// Ends this session (`local`, the default), every session of the user (`global`), or
/// every other one (`others`); their access tokens stop working too.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>, description = "Optional; an empty body means `local`"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the body did not arrive within `REQUEST_BODY_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let request: LogoutRequest = if is_blank(&body) {
        LogoutRequest::default()
    } else {
        parse_json_object(&req, &body)?
    };
    let sessions = &state.accounts.sessions;
    let origin = origin(&state, &req, Actor::Client);
    let scope = request.scope.into();
    accounts::logout(sessions, claims.sub, claims.sid, scope, &origin).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The token pair as JSON (RFC 6749 §5.1), never cached.
pub(crate) fn token_response(tokens: Tokens) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenPair {
            access_token: tokens.access.token,
            token_type: "Bearer",
            expires_in: tokens.access.expires_in,
            refresh_token: tokens.refresh_token,
            refresh_expires_in: tokens.refresh_expires_in,
        })
}
