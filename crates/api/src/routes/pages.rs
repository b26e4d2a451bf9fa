//! The two pages the links in messages open: `GET /verify-email` and
//! `GET /reset-password`. Each shows a plain HTML form (no script, a strict
//! `Content-Security-Policy`, `Referrer-Policy: no-referrer` so the token in the URL goes
//! nowhere else) that posts back to the same path, form-encoded (`token`, and
//! `new_password` for a reset). Only that POST spends the token, through the same use case
//! as the JSON endpoints, so mail scanners that follow links spend nothing. The POST
//! answers a small HTML page too (200 on success, 400 with the reason otherwise).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;

use crate::accounts::AccountError;
use crate::accounts::email::verify_email;
use crate::accounts::recovery::reset_password;
use crate::error::{ApiError, ErrorBody, RenderedPage};
use crate::routes::{Body, origin};
use crate::state::AppState;

/// `/verify-email` and `/reset-password`, the pages the links in messages open.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/verify-email")
            .route(web::get().to(verify_page))
            .route(web::post().to(verify_submit)),
    )
    .service(
        web::resource("/reset-password")
            .route(web::get().to(reset_page))
            .route(web::post().to(reset_submit)),
    );
}
use user_store::Actor;

/// Nothing but the page's own form: no script, style, frame or other origin.
const CSP: &str = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The verification page's form (documentation only: the handler reads the form itself).
#[derive(utoipa::ToSchema)]
pub struct VerifyForm {
    /// The token from the message.
    pub token: String,
}

/// The reset page's form (documentation only).
#[derive(utoipa::ToSchema)]
pub struct ResetForm {
    /// The token from the message.
    pub token: String,
    /// 8 to 128 characters, rated by a strength estimate.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    pub new_password: String,
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /verify-email?token=...`: a button that confirms the address.
#[utoipa::path(get, path = "/verify-email", tag = "pages",
    params(("token" = Option<String>, Query, description = "The token from the message")),
    responses((status = 200, description = "An HTML form that posts the token back", content_type = "text/html", body = String)))]
pub async fn verify_page(query: web::Query<TokenQuery>) -> HttpResponse {
    let token = escape(query.token.as_deref().unwrap_or_default());
    page(
        StatusCode::OK,
        "Confirm your email address",
        &format!(
            "<form method=\"post\" action=\"/verify-email\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <button type=\"submit\">Confirm my address</button></form>"
        ),
    )
}

/// `GET /reset-password?token=...`: a new-password form.
#[utoipa::path(get, path = "/reset-password", tag = "pages",
    params(("token" = Option<String>, Query, description = "The token from the message")),
    responses((status = 200, description = "An HTML new-password form", content_type = "text/html", body = String)))]
pub async fn reset_page(query: web::Query<TokenQuery>) -> HttpResponse {
    let token = escape(query.token.as_deref().unwrap_or_default());
    page(
        StatusCode::OK,
        "Choose a new password",
        &format!(
            "<form method=\"post\" action=\"/reset-password\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <label>New password <input type=\"password\" name=\"new_password\" \
             autocomplete=\"new-password\" minlength=\"8\" maxlength=\"128\" required></label>\
             <button type=\"submit\">Set the password</button></form>"
        ),
    )
}

/// `POST /verify-email` (form-encoded `token`): verifies, answering an HTML page.
#[utoipa::path(post, path = "/verify-email", tag = "pages",
    request_body(content = VerifyForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Verified (HTML)", content_type = "text/html", body = String),
        (status = 400, description = "An invalid, used or expired token (an HTML page), or `invalid_request` (JSON): the form lacks a field",
            content((String = "text/html"), (ErrorBody = "application/json"))),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not form-encoded", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn verify_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let form = Form::parse(&req, &body)?;
    let token = SecretString::from(form.get("token")?);
    let origin = origin(&state, &req, Actor::Client);
    Ok(match verify_email(&state.accounts, &token, &origin).await {
        Ok(_) => page(
            StatusCode::OK,
            "Address confirmed",
            "<p>Your email address is confirmed.</p>",
        ),
        Err(e) => refusal(e)?,
    })
}

/// `POST /reset-password` (form-encoded `token` and `new_password`): resets, answering an
/// HTML page.
#[utoipa::path(post, path = "/reset-password", tag = "pages",
    request_body(content = ResetForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Reset; every session revoked (HTML)", content_type = "text/html", body = String),
        (status = 400, description = "An invalid, used or expired token, or a weak password (an HTML page), or `invalid_request` (JSON): the form lacks a field",
            content((String = "text/html"), (ErrorBody = "application/json"))),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not form-encoded", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn reset_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let form = Form::parse(&req, &body)?;
    let token = SecretString::from(form.get("token")?);
    let origin = origin(&state, &req, Actor::Client);
    let password = SecretString::from(form.get("new_password")?);
    Ok(
        match reset_password(&state.accounts, &token, password, &origin).await {
            Ok(_) => page(
                StatusCode::OK,
                "Password changed",
                "<p>Your password is changed, and every device is signed out.</p>",
            ),
            Err(e) => refusal(e)?,
        },
    )
}

/// A refusal the person at the page can act on, as a page; anything else (503, 500)
/// goes to the one error table.
fn refusal(error: AccountError) -> Result<HttpResponse, ApiError> {
    let text = match &error {
        AccountError::InvalidEmailToken => {
            "This link is invalid, already used or expired. Ask for a new one.".to_owned()
        }
        AccountError::WeakPassword(why) => format!("That password cannot be used: {why}"),
        AccountError::EmailDisabled => "Email is not configured on this server.".to_owned(),
        _ => return Err(error.into()),
    };
    Ok(page(
        StatusCode::BAD_REQUEST,
        "That did not work",
        &format!("<p>{}</p>", escape(&text)),
    ))
}

/// A form-encoded body (`application/x-www-form-urlencoded`, else 415); a repeated field
/// is refused, as on the OAuth endpoints.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(req: &HttpRequest, body: &[u8]) -> Result<Self, ApiError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(ApiError::UnsupportedMediaType);
        }
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (i, (name, _)) in fields.iter().enumerate() {
            if fields[..i].iter().any(|(n, _)| n == name) {
                return Err(ApiError::InvalidRequest(format!(
                    "the field {name:?} is repeated"
                )));
            }
        }
        Ok(Self(fields))
    }

    fn get(&self, name: &str) -> Result<String, ApiError> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ApiError::InvalidRequest(format!("the field {name:?} is missing")))
    }
}

fn page(status: StatusCode, title: &str, content: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    // A refusal here is the page the person should read, not an error to rewrite as JSON.
    response.extensions_mut().insert(RenderedPage);
    response
        .content_type(ContentType::html())
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
             </head><body><h1>{title}</h1>{content}</body></html>"
        ))
}

/// HTML-escapes text for an element or a quoted attribute.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
