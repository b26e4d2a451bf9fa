//! `/api`: the caller's own session and account.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use auth_core::Claims;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use user_store::check_password_strength;
use uuid::Uuid;

use crate::error::{ApiError, TokenProblem};
use crate::routes::JsonBody;
use crate::state::AppState;

#[derive(Serialize)]
struct SessionView<'a> {
    sub: Uuid,
    sid: Uuid,
    username: &'a str,
    roles: &'a [String],
    exp: i64,
    iat: i64,
    jti: Uuid,
}

/// The verified claims, straight from the token: no database read.
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

#[derive(Deserialize)]
pub struct PasswordChange {
    current_password: SecretString,
    new_password: SecretString,
}

/// Changes the password and revokes every session of the user, this one included.
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
    check_password_strength(new_password.expose_secret(), &credentials.user.username)?;
    let hash = state.hasher.hash(new_password).await?;
    let revoked = state.store.change_password(claims.sub, &hash).await?;
    state.remember_revoked(&revoked);
    tracing::info!(
        sessions = revoked.len(),
        "password changed; sessions revoked"
    );
    Ok(HttpResponse::NoContent().finish())
}
