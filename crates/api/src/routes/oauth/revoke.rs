//! `POST /oauth/revoke` (RFC 7009).

use actix_web::{HttpRequest, HttpResponse, web};
use user_store::Actor;

use crate::accounts::oauth;
use crate::error::{ApiError, ErrorBody};
use crate::routes::oauth::{Form, caller_is_authenticated, presented};
use crate::routes::{Body, origin};
use crate::state::AppState;

/// Revokes a token: a user's token its whole session, a client's token every token
/// issued to that client so far. 200 also for an unknown or already revoked token.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content = super::introspect::TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("basic" = []), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (empty body)"),
        (status = 400, description = "`invalid_request`: no `token`, a repeated parameter, Basic and form credentials together", body = ErrorBody),
        (status = 401, description = "`invalid_client`: wrong client credentials, or an access token without a client's or an admin's authentication", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not a form", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let form = Form::parse(&req, &body)?;
    let accounts = &state.accounts;
    let authenticated = caller_is_authenticated(accounts, &presented(&req, &form)?).await?;
    let origin = origin(&state, &req, Actor::Client);
    oauth::revoke(accounts, form.required("token")?, authenticated, &origin).await?;
    Ok(HttpResponse::Ok().finish())
}
