//! The JSON endpoints of account recovery by email: `PUT /api/me/email`,
//! `POST /auth/email/verify`, `POST /auth/password/forgot`, `POST /auth/password/reset`.
//! Each parses, calls its use case in [`crate::accounts`], and renders.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::Claims;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::email::{self, EmailChange};
use crate::accounts::recovery::{self, ResetTarget};
use crate::error::{ApiError, ErrorBody};
use crate::routes::{JsonBody, origin};
use crate::state::AppState;
use user_store::Actor;

#[derive(Deserialize, ToSchema)]
pub struct EmailChangeRequest {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// The account's password (counts against the login throttle).
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Sets a new (pending) address: a verification message goes to it, a notice to the
/// verified address, which stays in force until the new one is verified.
#[utoipa::path(put, path = "/api/me/email", tag = "api", request_body = EmailChangeRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Pending; a verification message is on its way"),
        (status = 400, description = "`invalid_request`, `invalid_email`, or `invalid_credentials` for a wrong password", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`email_disabled`: no SMTP_URL", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: wrong passwords count against the login throttle, and a user has a few email changes, then one per block (up to an hour); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn change_email(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    JsonBody(body): JsonBody<EmailChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = EmailChange {
        user_id: claims.sub,
        email: body.email,
        password: body.password,
        origin: origin(&state, &req, Actor::Client),
    };
    email::change_email(&state.accounts, change).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({})))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The token from the message's link.
    #[schema(value_type = String)]
    token: SecretString,
}

/// Verifies the address the token was sent to, if it is still the pending one.
#[utoipa::path(post, path = "/auth/email/verify", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 204, description = "Verified"),
        (status = 400, description = "`invalid_request`, or `invalid_grant`: an unknown, used or expired token", body = ErrorBody),
        (status = 403, description = "`email_disabled`: no SMTP_URL", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn verify_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let origin = origin(&state, &req, Actor::Client);
    email::verify_email(&state.accounts, &body.token, &origin).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `{"email"}` or `{"username"}`, exactly one.
#[derive(Deserialize, ToSchema)]
pub struct ForgotRequest {
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    username: Option<String>,
}

/// Asks for a reset message. The answer is the same, in body and time, whether or not the
/// account exists; a message goes only to a verified address.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotRequest,
    responses(
        (status = 202, description = "`{}`, whatever the account", body = Object),
        (status = 400, description = "`invalid_request` or `invalid_email`", body = ErrorBody),
        (status = 403, description = "`email_disabled`: no SMTP_URL", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: per client address and per target; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn forgot_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<ForgotRequest>,
) -> Result<HttpResponse, ApiError> {
    let target = match (body.email, body.username) {
        (Some(email), None) => ResetTarget::Email(email),
        (None, Some(username)) => ResetTarget::Username(username),
        _ => {
            return Err(ApiError::InvalidRequest(
                "send either \"email\" or \"username\"".to_owned(),
            ));
        }
    };
    let origin = origin(&state, &req, Actor::Client);
    recovery::forgot_password(&state.accounts, target, origin).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({})))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(value_type = String)]
    token: SecretString,
    /// 8 to 128 characters, rated by a strength estimate.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128)]
    new_password: SecretString,
}

/// Sets a new password with a reset token; every session of the user is revoked.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 204, description = "Set; every session of the user is revoked"),
        (status = 400, description = "`invalid_request`, `weak_password`, or `invalid_grant`: an unknown, used or expired token", body = ErrorBody),
        (status = 403, description = "`email_disabled`: no SMTP_URL", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let origin = origin(&state, &req, Actor::Client);
    recovery::reset_password(&state.accounts, &body.token, body.new_password, &origin).await?;
    Ok(HttpResponse::NoContent().finish())
}
