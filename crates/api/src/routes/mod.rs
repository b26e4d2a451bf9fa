//! HTTP handlers, one module per area of the contract.

pub mod auth;
pub mod health;
pub mod me;

use actix_web::{HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, describe_json_error};

/// Parses a JSON body read as bytes, for the endpoints whose body is optional (login with
/// HTTP Basic, logout). Same rules and errors as the `web::Json` extractor elsewhere.
pub(crate) fn json_body<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    let is_json = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| describe_json_error(&e))
}

/// Whether a body is absent (empty or only whitespace).
pub(crate) fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}
