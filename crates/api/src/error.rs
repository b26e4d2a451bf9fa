//! The one mapping from failures to HTTP: every error body is the contract's
//! `{"error", "error_description"}` (RFC 6749 §5.2 shape).

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use auth_core::VerifyError;
use serde::Serialize;
use user_store::{PasswordError, StoreError, UsernameError};

/// The realm of the protected scope, in every `WWW-Authenticate` challenge (RFC 6750 §3).
pub const REALM: &str = "api";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    InvalidUsername(#[from] UsernameError),
    #[error(transparent)]
    WeakPassword(#[from] PasswordError),
    #[error("that username is already taken")]
    UsernameTaken,
    #[error("sign-up is disabled on this server")]
    SignupDisabled,
    #[error("the username or password is wrong")]
    InvalidCredentials,
    /// A wrong `current_password` on the protected scope: the token is fine, so the
    /// challenge carries no error attribute.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("too many failed logins for this username; retry after {retry_after} seconds")]
    TooManyAttempts { retry_after: u64 },
    #[error("too many registrations from this address; retry after {retry_after} seconds")]
    TooManyRegistrations { retry_after: u64 },
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// 401 on the protected scope; `None` when no bearer token was sent.
    #[error("{}", .0.as_ref().map_or_else(|| "this endpoint needs a bearer token in the Authorization header".to_owned(), |e| e.to_string()))]
    Unauthorized(Option<TokenProblem>),
    /// 403 on the admin scope: the token is valid but lacks the role (RFC 6750 §3.1).
    #[error("this endpoint needs the admin role")]
    InsufficientScope,
    #[error("no route matches this path")]
    NotFound,
    #[error("no user has this id")]
    UserNotFound,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the service is temporarily unavailable, retry shortly")]
    Unavailable,
    /// Load shedding: the password hashing queue is full.
    #[error("the server is busy, retry shortly")]
    Busy,
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
    #[error("the Authorization header is malformed")]
    MalformedHeader,
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    #[error("the session has been revoked")]
    Revoked,
    #[error("the user no longer exists")]
    UnknownUser,
}

/// Every error, at every status (RFC 6749 §5.2 shape).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A code such as `invalid_request`, `invalid_token`, `unavailable`.
    error: &'a str,
    /// One human sentence.
    error_description: String,
}

impl ApiError {
    /// The contract's `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::InvalidUsername(_) => "invalid_username",
            ApiError::WeakPassword(_) => "weak_password",
            ApiError::UsernameTaken => "username_taken",
            ApiError::SignupDisabled => "signup_disabled",
            ApiError::InvalidCredentials | ApiError::WrongCurrentPassword => "invalid_credentials",
            ApiError::AccountDisabled => "account_disabled",
            ApiError::TooManyAttempts { .. } | ApiError::TooManyRegistrations { .. } => {
                "too_many_attempts"
            }
            ApiError::InvalidGrant(_) => "invalid_grant",
            ApiError::Unauthorized(_) => "invalid_token",
            ApiError::InsufficientScope => "insufficient_scope",
            ApiError::NotFound | ApiError::UserNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable | ApiError::Busy | ApiError::TimedOut => "unavailable",
            ApiError::BodyTimeout => "request_timeout",
            ApiError::Internal(_) => "server_error",
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
        match self {
            ApiError::InvalidRequest(_)
            | ApiError::InvalidUsername(_)
            | ApiError::WeakPassword(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidCredentials
            | ApiError::WrongCurrentPassword
            | ApiError::InvalidGrant(_)
            | ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::SignupDisabled | ApiError::AccountDisabled | ApiError::InsufficientScope => {
                StatusCode::FORBIDDEN
            }
            ApiError::UsernameTaken => StatusCode::CONFLICT,
            ApiError::TooManyAttempts { .. } | ApiError::TooManyRegistrations { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::NotFound | ApiError::UserNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable | ApiError::Busy | ApiError::TimedOut => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = self.to_string();
        match self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            ApiError::Unavailable => tracing::warn!("request failed: database unavailable"),
            ApiError::Busy => tracing::warn!("request shed: the password hashing queue is full"),
            ApiError::TimedOut => {
                tracing::warn!("request failed: took longer than REQUEST_TIMEOUT")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::Unauthorized(problem) => {
                let challenge = bearer_challenge(problem.as_ref(), &description);
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            ApiError::InsufficientScope => {
                let challenge = format!(
                    r#"Bearer realm="{REALM}", error="insufficient_scope", error_description="{description}""#
                );
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            // The token was fine; only the password in the body was not.
            ApiError::WrongCurrentPassword => {
                response.insert_header((header::WWW_AUTHENTICATE, bearer_challenge(None, "")));
            }
            ApiError::Unavailable | ApiError::Busy | ApiError::TimedOut => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            // RFC 9110 §15.5.9: the server closes the connection after a 408.
            ApiError::BodyTimeout => {
                response.insert_header((header::CONNECTION, "close"));
            }
            ApiError::TooManyAttempts { retry_after }
            | ApiError::TooManyRegistrations { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: description,
        })
    }
}

/// RFC 6750 §3: no error attributes when no token was sent, `invalid_token` when one was.
fn bearer_challenge(problem: Option<&TokenProblem>, description: &str) -> String {
    match problem {
        None => format!(r#"Bearer realm="{REALM}""#),
        Some(_) => {
            // Quoted-string: our descriptions have no quotes or backslashes, but be sure.
            let safe: String = description
                .chars()
                .filter(|c| *c != '"' && *c != '\\')
                .collect();
            format!(r#"Bearer realm="{REALM}", error="invalid_token", error_description="{safe}""#)
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UsernameTaken => ApiError::UsernameTaken,
            StoreError::Unavailable(_) => ApiError::Unavailable,
            StoreError::Busy => ApiError::Busy,
            StoreError::WeakPassword(e) => ApiError::WeakPassword(e),
            StoreError::Unexpected(e) => ApiError::Internal(e),
        }
    }
}

impl From<TokenProblem> for ApiError {
    fn from(problem: TokenProblem) -> Self {
        ApiError::Unauthorized(Some(problem))
    }
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

/// Last line of defence: any error response that is not already JSON (actix's router's
/// 404/405, payload errors, ...) is rewritten into the contract's shape, keeping its
/// status and headers.
pub fn render_non_json_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
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
