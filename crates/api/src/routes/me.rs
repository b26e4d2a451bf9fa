//! `/api`: the caller's own session and account.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use auth_core::Claims;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use user_store::User;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody, TokenProblem};
use crate::routes::JsonBody;
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
    })
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
    let user = state
        .store
        .find_user(claims.sub)
        .await?
        .ok_or(TokenProblem::UnknownUser)?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

/// Changes the password and revokes every session of the user, this one included.
#[utoipa::path(put, path = "/api/me/password", tag = "api", request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed; every session of the user is revoked"),
        (status = 400, description = "`invalid_request` or `weak_password`", body = ErrorBody),
        (status = 401, description = "`invalid_token`, or `invalid_credentials` for a wrong current password", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn change_password(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        current_password,
        new_password,
    } = body;
    let credentials = state
        .store
        .find_credentials_by_id(claims.sub)
        .await?
        .ok_or(TokenProblem::UnknownUser)?;
    if !state
        .hasher
        .verify(current_password, Some(credentials.password_hash))
        .await?
    {
        return Err(ApiError::WrongCurrentPassword);
    }
    let hash = state
        .hasher
        .hash_new(new_password, &credentials.user.username)
        .await?;
    let revoked = state.store.change_password(claims.sub, &hash).await?;
    state.remember_revoked(&revoked);
    tracing::info!(
        sessions = revoked.len(),
        "password changed; sessions revoked"
    );
    Ok(HttpResponse::NoContent().finish())
}
