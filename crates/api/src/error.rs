//! The one mapping from failures to HTTP: every error body is the contract's
//! `{"error", "error_description"}` (RFC 6749 §5.2 shape).

use crate::accounts::AccountError;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use auth_core::VerifyError;
use serde::Serialize;

/// The realm of the protected scope, in every `WWW-Authenticate` challenge (RFC 6750 §3).
pub const REALM: &str = "api";
/// The realm of the `Basic` challenge of the OAuth endpoints' `invalid_client`.
pub const OAUTH_REALM: &str = "authd";

/// Every failure an HTTP request can end in: the accounts layer's refusals, and what only
/// a transport can get wrong (the request's shape, its bearer token, its timing).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 on the protected scope.
    #[error(transparent)]
    Unauthorized(#[from] TokenProblem),
    /// 403 on the admin scope: the token is valid but lacks the role (RFC 6750 §3.1).
    #[error("this endpoint needs the admin role")]
    InsufficientScope,
    /// 403 on `/api/me`: a client's own token stands for no user.
    #[error("this endpoint needs a user's token, not a client's")]
    NotAUser,
    #[error("no route matches this path")]
    NotFound,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The OAuth endpoints take form bodies only (RFC 6749 §3.2).
    #[error("the request body must be a form (Content-Type: application/x-www-form-urlencoded)")]
    FormExpected,
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    #[error("this grant type is not supported")]
    UnsupportedGrantType,
    /// The database does not answer (readiness), or a 503 from outside our handlers.
    #[error("the service is temporarily unavailable, retry shortly")]
    Unavailable,
    /// The request as a whole took longer than `REQUEST_TIMEOUT`.
    #[error("the request took too long to complete, retry shortly")]
    TimedOut,
    /// The client sent its body more slowly than `REQUEST_BODY_TIMEOUT` allows.
    #[error("the request body was not received in time")]
    BodyTimeout,
    #[error("an internal error occurred")]
    Internal(#[source] anyhow::Error),
}

/// Why a presented bearer token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenProblem {
    /// No bearer token was sent: the challenge carries no error attributes.
    #[error("this endpoint needs a bearer token in the Authorization header")]
    Missing,
    #[error("the Authorization header is malformed")]
    MalformedHeader,
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    #[error("the session has been revoked")]
    Revoked,
}

/// Every error, at every status (RFC 6749 §5.2 shape).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A code such as `invalid_request`, `invalid_token`, `unavailable`.
    error: &'a str,
    /// One human sentence.
    error_description: String,
}

/// How one error is answered: its status, the contract's `error` code, and the one header
/// it adds besides `Cache-Control: no-store`.
struct Answer {
    status: StatusCode,
    code: &'static str,
    header: Extra,
}

/// The header an error answer carries, if any.
enum Extra {
    None,
    /// `WWW-Authenticate` (RFC 6750 §3).
    Challenge(Challenge),
    /// `Retry-After` in seconds (RFC 9110 §10.2.3).
    RetryAfter(u64),
    /// RFC 9110 §15.5.9: the server closes the connection after a 408.
    CloseConnection,
}

/// The bearer challenge of a 401 or 403 on the protected scope (RFC 6750 §3).
enum Challenge {
    /// No token was sent, or the token was fine and only the password in the body was
    /// not: no error attributes.
    Bare,
    InvalidToken,
    InsufficientScope,
    /// `invalid_client` at the OAuth endpoints: HTTP Basic is how a client authenticates
    /// (RFC 6749 §5.2).
    Basic,
}

impl ApiError {
    /// The one table from error to answer.
    fn answer(&self) -> Answer {
        use AccountError as A;
        use Extra::{Challenge as Ch, CloseConnection, None as No, RetryAfter};
        let (status, code, header) = match self {
            ApiError::Account(error) => match error {
                A::InvalidCredentials => (401, "invalid_credentials", No),
                A::WrongCurrentPassword => (401, "invalid_credentials", Ch(Challenge::Bare)),
                A::AccountDisabled => (403, "account_disabled", No),
                A::PasswordMismatch => (400, "invalid_credentials", No),
                A::InvalidEmail => (400, "invalid_email", No),
                A::EmailDisabled => (403, "email_disabled", No),
                A::InvalidEmailToken => (400, "invalid_grant", No),
                A::TooManyAttempts { retry_after } | A::TooManyRegistrations { retry_after } => {
                    (429, "too_many_attempts", RetryAfter(*retry_after))
                }
                A::SignupDisabled => (403, "signup_disabled", No),
                A::UsernameTaken => (409, "username_taken", No),
                A::InvalidUsername(_) => (400, "invalid_username", No),
                A::WeakPassword(_) => (400, "weak_password", No),
                A::InvalidRoles(_) => (400, "invalid_request", No),
                A::InvalidGrant(_) => (401, "invalid_grant", No),
                A::InvalidClient => (401, "invalid_client", Ch(Challenge::Basic)),
                A::InvalidClientName { .. } => (400, "invalid_request", No),
                A::UserNotFound | A::ClientNotFound | A::UnknownKey { .. } => {
                    (404, "not_found", No)
                }
                A::AccountGone => (401, "invalid_token", Ch(Challenge::InvalidToken)),
                A::KeyInUse { .. } => (400, "invalid_request", No),
                A::WrongPassword => (400, "invalid_credentials", No),
                A::MfaAlreadyEnabled => (409, "mfa_already_enabled", No),
                A::NoActiveFactor => (404, "not_found", No),
                A::NoPendingFactor | A::InvalidCode => (400, "invalid_code", No),
                A::WrongSecondFactor => (401, "invalid_code", No),
                A::Unavailable | A::Busy => (503, "unavailable", RetryAfter(1)),
                A::Internal(_) => (500, "server_error", No),
            },
            ApiError::InvalidRequest(_) => (400, "invalid_request", No),
            ApiError::Unauthorized(TokenProblem::Missing) => {
                (401, "invalid_token", Ch(Challenge::Bare))
            }
            ApiError::Unauthorized(_) => (401, "invalid_token", Ch(Challenge::InvalidToken)),
            ApiError::InsufficientScope | ApiError::NotAUser => {
                (403, "insufficient_scope", Ch(Challenge::InsufficientScope))
            }
            ApiError::NotFound => (404, "not_found", No),
            ApiError::MethodNotAllowed => (405, "method_not_allowed", No),
            ApiError::PayloadTooLarge => (413, "payload_too_large", No),
            ApiError::UnsupportedMediaType | ApiError::FormExpected => {
                (415, "unsupported_media_type", No)
            }
            ApiError::UnsupportedGrantType => (400, "unsupported_grant_type", No),
            ApiError::Unavailable | ApiError::TimedOut => (503, "unavailable", RetryAfter(1)),
            ApiError::BodyTimeout => (408, "request_timeout", CloseConnection),
            ApiError::Internal(_) => (500, "server_error", No),
        };
        Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            header,
        }
    }

    /// The contract's `error` code.
    pub fn code(&self) -> &'static str {
        self.answer().code
    }

    /// Logs what the operator must see: the cause of a 500, and every shed or failed
    /// request (the client only sees an opaque message).
    fn log(&self) {
        match self {
            ApiError::Internal(cause) | ApiError::Account(AccountError::Internal(cause)) => {
                tracing::error!(error = ?cause, "request failed")
            }
            ApiError::Unavailable | ApiError::Account(AccountError::Unavailable) => {
                tracing::warn!("request failed: database unavailable")
            }
            ApiError::Account(AccountError::Busy) => {
                tracing::warn!("request shed: the password hashing queue is full")
            }
            ApiError::TimedOut => {
                tracing::warn!("request failed: took longer than REQUEST_TIMEOUT")
            }
            _ => {}
        }
    }

    /// The error for a status produced outside our handlers (actix's router, extractors).
    fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
            StatusCode::REQUEST_TIMEOUT => ApiError::BodyTimeout,
            s if s.is_client_error() => ApiError::InvalidRequest(format!(
                "the request was rejected: {}",
                s.canonical_reason()
                    .unwrap_or("client error")
                    .to_lowercase()
            )),
            s => ApiError::Internal(anyhow::anyhow!("unhandled error status {s}")),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.answer().status
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let description = self.to_string();
        let Answer {
            status,
            code,
            header,
        } = self.answer();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match header {
            Extra::None => {}
            Extra::Challenge(challenge) => {
                let challenge = bearer_challenge(challenge, &description);
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            Extra::RetryAfter(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            Extra::CloseConnection => {
                response.insert_header((header::CONNECTION, "close"));
            }
        }
        response.json(ErrorBody {
            error: code,
            error_description: description,
        })
    }
}

/// RFC 6750 §3: no error attributes when no token was sent, the error and its
/// description when one was refused; a `Basic` challenge for a client (RFC 7617 §2).
fn bearer_challenge(challenge: Challenge, description: &str) -> String {
    let error = match challenge {
        Challenge::Bare => return format!(r#"Bearer realm="{REALM}""#),
        Challenge::Basic => return format!(r#"Basic realm="{OAUTH_REALM}""#),
        Challenge::InvalidToken => "invalid_token",
        Challenge::InsufficientScope => "insufficient_scope",
    };
    // Quoted-string: our descriptions have no quotes or backslashes, but be sure.
    let safe: String = description
        .chars()
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    format!(r#"Bearer realm="{REALM}", error="{error}", error_description="{safe}""#)
}

/// A client-safe description of a JSON body that did not parse: serde's messages for
/// wrong-typed fields quote the offending value, which could be a secret, so only the
/// field-naming messages are passed through.
pub fn describe_json_error(err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let description = match err.classify() {
        Category::Syntax | Category::Eof => "the request body is not valid JSON".to_owned(),
        Category::Data => {
            let message = err.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            if message.starts_with("missing field") || message.starts_with("unknown field") {
                format!("the request body is invalid: {message}")
            } else {
                "the request body has a field of the wrong type".to_owned()
            }
        }
        Category::Io => "the request body could not be read".to_owned(),
    };
    ApiError::InvalidRequest(description)
}

/// Marks a response that is an HTML page rendered for a person (the `/verify-email` and
/// `/reset-password` pages, their refusals included): [`render_non_json_errors`] leaves
/// it as it is, so the reason on the page reaches its reader.
#[derive(Debug, Clone, Copy)]
pub struct RenderedPage;

/// Last line of defence: any error response that is not already JSON (actix's router's
/// 404/405, payload errors, ...) is rewritten into the contract's shape, keeping its
/// status and headers; a [`RenderedPage`] is kept whole.
pub fn render_non_json_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let is_page = res.response().extensions().contains::<RenderedPage>();
    if is_json || is_page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut fresh = ApiError::for_status(status).error_response();
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, fresh).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;
    use crate::accounts::GrantProblem;

    fn answered(error: ApiError) -> (u16, Option<String>, Option<String>, serde_json::Value) {
        let response = error.error_response();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (challenge, retry) = (
            header(header::WWW_AUTHENTICATE),
            header(header::RETRY_AFTER),
        );
        let status = response.status().as_u16();
        let body = response.into_body().try_into_bytes().unwrap();
        (
            status,
            challenge,
            retry,
            serde_json::from_slice(&body).unwrap(),
        )
    }

    #[test]
    fn no_token_gets_a_bare_challenge_and_a_refused_one_names_the_error() {
        let (status, challenge, _, body) = answered(TokenProblem::Missing.into());
        assert_eq!(status, 401);
        assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="api""#));
        assert_eq!(body["error"], "invalid_token");
        let (_, challenge, _, _) = answered(TokenProblem::Revoked.into());
        assert_eq!(
            challenge.as_deref(),
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="the session has been revoked""#
            )
        );
    }

    #[test]
    fn account_errors_keep_their_status_code_and_headers() {
        let (status, challenge, _, body) = answered(AccountError::WrongCurrentPassword.into());
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_credentials"))
        );
        assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="api""#));
        let (status, _, retry, body) =
            answered(AccountError::TooManyRegistrations { retry_after: 7 }.into());
        assert_eq!((status, retry.as_deref()), (429, Some("7")));
        assert_eq!(body["error"], "too_many_attempts");
        let (status, _, _, body) = answered(AccountError::from(GrantProblem::Reused).into());
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_grant"))
        );
        let (status, _, retry, _) = answered(AccountError::Busy.into());
        assert_eq!((status, retry.as_deref()), (503, Some("1")));
        let (status, challenge, _, body) = answered(AccountError::AccountGone.into());
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_token"))
        );
        assert!(challenge.unwrap().contains("the user no longer exists"));
    }

    #[test]
    fn second_factor_errors_answer_as_the_contract_says() {
        for (error, status, code) in [
            (AccountError::WrongPassword, 400, "invalid_credentials"),
            (AccountError::MfaAlreadyEnabled, 409, "mfa_already_enabled"),
            (AccountError::NoActiveFactor, 404, "not_found"),
            (AccountError::NoPendingFactor, 400, "invalid_code"),
            (AccountError::InvalidCode, 400, "invalid_code"),
            (AccountError::WrongSecondFactor, 401, "invalid_code"),
            (GrantProblem::MfaToken.into(), 401, "invalid_grant"),
        ] {
            let (answered, challenge, _, body) = answered(error.into());
            assert_eq!((answered, body["error"].as_str()), (status, Some(code)));
            assert_eq!(challenge, None, "{code}");
        }
    }
}
