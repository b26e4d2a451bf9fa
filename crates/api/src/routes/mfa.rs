//! The second factor over HTTP: `/api/me/mfa/totp*` (enrol, confirm, disable) and
//! `POST /auth/login/mfa`; each parses, calls its use case in [`accounts::mfa`], renders.
//! Answers that carry a secret, recovery codes or a token are never cached (RFC 6749 §5.1).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use auth_core::Claims;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use user_store::Actor;
use utoipa::ToSchema;

use crate::accounts::mfa::{self, MfaRequired, MfaStep, TotpConfirmation, TotpDisable};
use crate::error::{ApiError, ErrorBody};
use crate::routes::auth::{TokenPair, token_response};
use crate::routes::{JsonBody, origin};
use crate::state::AppState;

/// A new pending factor: what an authenticator app needs, shown this once.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The 160-bit secret, base32 without padding (RFC 4648 §6).
    secret: String,
    /// `otpauth://totp/<issuer>:<username>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
    otpauth_uri: String,
}

/// Starts enrolling a TOTP factor (RFC 6238: SHA-1, 6 digits, 30 s); a pending one is
/// replaced.
#[utoipa::path(post, path = "/api/me/mfa/totp", tag = "api", security(("bearer" = [])),
    responses(
        (status = 200, description = "A new pending factor (`Cache-Control: no-store`)", body = TotpEnrolment),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 409, description = "`mfa_already_enabled`: disable the active factor first", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn enrol(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
) -> Result<HttpResponse, ApiError> {
    let enrolment = mfa::enrol_totp(&state.accounts, claims.sub).await?;
    Ok(no_store(HttpResponse::Ok()).json(TotpEnrolment {
        secret: enrolment.secret.expose_secret().to_owned(),
        otpauth_uri: enrolment.otpauth_uri.expose_secret().to_owned(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct TotpConfirm {
    /// A current 6-digit code of the pending factor.
    #[schema(value_type = String, example = "123456")]
    code: SecretString,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// The recovery codes, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, `XXXXX-XXXXX` (Crockford base32).
    recovery_codes: Vec<String>,
}

/// Activates the pending factor with a current code and the password.
#[utoipa::path(post, path = "/api/me/mfa/totp/confirm", tag = "api", request_body = TotpConfirm,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active; the recovery codes (`Cache-Control: no-store`)", body = RecoveryCodes),
        (status = 400, description = "`invalid_request`, `invalid_code` (wrong code, or nothing pending) or `invalid_credentials` (wrong password)", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: wrong passwords count against the login throttle; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn confirm(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    JsonBody(body): JsonBody<TotpConfirm>,
) -> Result<HttpResponse, ApiError> {
    let confirmation = TotpConfirmation {
        user_id: claims.sub,
        code: body.code,
        password: body.password,
        origin: origin(&state, &req, Actor::Client),
    };
    let recovery_codes = mfa::confirm_totp(&state.accounts, confirmation).await?;
    Ok(no_store(HttpResponse::Ok()).json(RecoveryCodes { recovery_codes }))
}

#[derive(Deserialize, ToSchema)]
pub struct TotpDisableRequest {
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// A current 6-digit code, or an unused recovery code.
    #[schema(value_type = String)]
    code: SecretString,
}

/// Turns the second factor off (the recovery codes go with it); sessions are kept.
#[utoipa::path(post, path = "/api/me/mfa/totp/disable", tag = "api", request_body = TotpDisableRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Disabled"),
        (status = 400, description = "`invalid_request`, `invalid_credentials` (wrong password) or `invalid_code`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 404, description = "`not_found`: no active factor", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
pub async fn disable(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    JsonBody(body): JsonBody<TotpDisableRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = TotpDisable {
        user_id: claims.sub,
        password: body.password,
        code: body.code,
        origin: origin(&state, &req, Actor::Client),
    };
    mfa::disable_totp(&state.accounts, request).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct MfaLogin {
    /// From the login's `mfa_required` answer.
    #[schema(value_type = String)]
    mfa_token: SecretString,
    /// A current 6-digit TOTP code, or an unused recovery code.
    #[schema(value_type = String)]
    code: SecretString,
}

/// A login's answer when the second factor is due: no tokens yet.
#[derive(Serialize, ToSchema)]
pub struct MfaRequiredBody {
    mfa_required: bool,
    /// Opaque, single use; send it with a code to `POST /auth/login/mfa`.
    mfa_token: String,
    /// Seconds the `mfa_token` lives (300).
    expires_in: u64,
}

/// The `mfa_required` answer, never cached: it carries a token.
pub(crate) fn mfa_required_response(required: MfaRequired) -> HttpResponse {
    no_store(HttpResponse::Ok()).json(MfaRequiredBody {
        mfa_required: true,
        mfa_token: required.mfa_token.expose_secret().to_owned(),
        expires_in: required.expires_in,
    })
}

/// Completes a login with a TOTP code or a recovery code.
#[utoipa::path(post, path = "/auth/login/mfa", tag = "auth", request_body = MfaLogin,
    responses(
        (status = 200, description = "A token pair (`Cache-Control: no-store`); `amr` is `[\"pwd\", \"otp\"]`", body = TokenPair),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_code` (wrong or reused code), or `invalid_grant` (unknown, spent or expired `mfa_token`)", body = ErrorBody),
        (status = 403, description = "`account_disabled`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: wrong codes count against the login throttle; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login_mfa(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<MfaLogin>,
) -> Result<HttpResponse, ApiError> {
    let step = MfaStep {
        mfa_token: body.mfa_token,
        code: body.code,
        origin: origin(&state, &req, Actor::Client),
    };
    let tokens = mfa::complete_login(&state.accounts, step).await?;
    Ok(token_response(tokens))
}

fn no_store(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}
