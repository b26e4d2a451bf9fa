//! `/api`: the caller's own session and account.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use auth_core::Claims;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use user_store::User;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{JsonBody, user_agent};
use crate::state::AppState;

/// The verified claims of the presented access token.
#[derive(Serialize, ToSchema)]
pub struct SessionView<'a> {
    sub: Uuid,
    sid: Uuid,
    username: &'a str,
    roles: &'a [String],
    exp: i64,
    iat: i64,
    jti: Uuid,
    /// How the user authenticated (RFC 8176): `["pwd"]`, or `["pwd", "otp"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [String]>,
    /// The client that obtained the token (`authd` for the login endpoints).
    client_id: &'a str,
}

/// The verified claims, straight from the token: no database read.
#[utoipa::path(get, path = "/api/session", tag = "api", security(("bearer" = [])),
    responses(
        (status = 200, description = "The token's claims", body = SessionView),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
    ))]
pub async fn session(claims: web::ReqData<Arc<Claims>>) -> HttpResponse {
    HttpResponse::Ok().json(SessionView {
        sub: claims.sub,
        sid: claims.sid,
        username: &claims.username,
        roles: &claims.roles,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        amr: claims.amr.as_deref(),
        client_id: &claims.client_id,
    })
}

/// Guards `/api/me` and its sub-resources, inside the bearer guard: a client's own token
/// (client credentials grant) stands for no user, so it gets 403 `insufficient_scope`.
pub async fn require_user(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_client = req
        .extensions()
        .get::<Arc<Claims>>()
        .is_some_and(|claims| claims.is_client_token());
    if is_client {
        return Ok(req.error_response(ApiError::NotAUser));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The caller's user, from the store.
#[utoipa::path(get, path = "/api/me", tag = "api", security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn me(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.users.own_account(claims.sub).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// 8 to 128 characters, rated by a strength estimate.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128)]
    new_password: SecretString,
}

/// Changes the password and revokes every session of the user, this one included.
#[utoipa::path(put, path = "/api/me/password", tag = "api", request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed; every session of the user is revoked"),
        (status = 400, description = "`invalid_request` or `weak_password`", body = ErrorBody),
        (status = 401, description = "`invalid_token`, or `invalid_credentials` for a wrong current password", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the body did not arrive within `REQUEST_BODY_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: wrong passwords count against the login throttle; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn change_password(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        current_password,
        new_password,
    } = body;
    accounts::change_password(
        &state.accounts,
        accounts::PasswordChange {
            user_id: claims.sub,
            current_password,
            new_password,
            client: state.trusted_proxies.client_address(&req),
            user_agent: user_agent(&req),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
