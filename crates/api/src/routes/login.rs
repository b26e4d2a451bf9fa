//! `POST /auth/login`: credentials from a JSON body or HTTP Basic, handed to
//! [`accounts::login`], which decides.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;

use crate::accounts::{self, LoginRequest, SignedIn};
use crate::error::{ApiError, ErrorBody};
use crate::routes::auth::{Credentials, TokenPair, token_response};
use crate::routes::mfa::{MfaRequiredBody, mfa_required_response};
use crate::routes::{Body, is_blank, parse_json_object, user_agent};
use crate::state::AppState;

/// Checks a username and password (a JSON body, or HTTP Basic with an empty body) and
/// opens a session.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body(content = Option<Credentials>, description = "Or HTTP Basic credentials with an empty body"),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "A token pair (`Cache-Control: no-store`); or, for a user with a second factor, `{\"mfa_required\": true, \"mfa_token\", \"expires_in\"}` (then `POST /auth/login/mfa`)", content(
            (TokenPair = "application/json"),
            (MfaRequiredBody = "application/json"),
        )),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: unknown user or wrong password alike", body = ErrorBody),
        (status = 403, description = "`account_disabled`", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the body did not arrive within `REQUEST_BODY_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: busy or no database; see `Retry-After`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let Credentials { username, password } = login_credentials(&req, &body)?;
    let client = state.trusted_proxies.client_address(&req);
    let signed_in = accounts::login(
        &state.accounts,
        LoginRequest {
            username,
            password,
            client,
            user_agent: user_agent(&req),
        },
    )
    .await?;
    Ok(match signed_in {
        SignedIn::Tokens(tokens) => token_response(*tokens),
        SignedIn::MfaRequired(required) => mfa_required_response(required),
    })
}

/// JSON body, or an empty body with HTTP Basic credentials (RFC 7617).
fn login_credentials(req: &HttpRequest, body: &[u8]) -> Result<Credentials, ApiError> {
    if !is_blank(body) {
        return parse_json_object(req, body);
    }
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim());
    let Some(encoded) = basic else {
        return Err(ApiError::InvalidRequest(
            "send a JSON body with username and password, or HTTP Basic credentials".to_owned(),
        ));
    };
    let malformed = || ApiError::InvalidRequest("the Basic credentials are malformed".to_owned());
    let decoded = STANDARD.decode(encoded).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    // RFC 7617 §2: the user-id cannot contain a colon; the password may.
    let (username, password) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Credentials {
        username: username.to_owned(),
        password: SecretString::from(password),
    })
}
