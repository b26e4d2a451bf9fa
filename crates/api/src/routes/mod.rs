//! HTTP handlers, one module per area of the contract, and the one way request bodies
//! are read.

pub mod admin;
pub mod auth;
pub mod clients;
pub mod email;
pub mod events;
pub mod health;
pub mod jwks;
pub mod login;
pub mod me;
pub mod mfa;
pub mod oauth;
pub mod pages;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;
use user_store::{Actor, Origin};

use crate::error::{ApiError, describe_json_error};
use crate::ijson;
use crate::state::AppState;

/// A JSON object request body, deserialised into `T`.
///
/// Every endpoint reads its body through this (or [`parse_json_object`] where the body is
/// optional), so the rules are the same everywhere: `Content-Type: application/json` (else
/// 415), at most `REQUEST_BODY_LIMIT` bytes (else 413), I-JSON (no member name twice in an
/// object, see [`crate::ijson`]), a JSON *object* (serde's derived structs would also accept
/// an array of the fields in order), and the fields `T` needs (else 400 `invalid_request`).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Body::from_request(&req, payload);
        Box::pin(async move {
            let Body(body) = body.await?;
            Ok(JsonBody(parse_json_object(&req, &body)?))
        })
    }
}

/// The raw request body, read within `REQUEST_BODY_TIMEOUT` (else 408: a client that
/// trickles its body cannot hold a worker's attention for long) and at most
/// `REQUEST_BODY_LIMIT` bytes (else 413).
pub struct Body(pub web::Bytes);

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let timeout = req
            .app_data::<web::Data<AppState>>()
            .map_or(Duration::from_secs(10), |state| state.request_body_timeout);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            match tokio::time::timeout(timeout, body).await {
                Ok(body) => Ok(Body(body?)),
                Err(_) => Err(ApiError::BodyTimeout.into()),
            }
        })
    }
}

/// Parses a body already read as bytes by the rules of [`JsonBody`].
pub(crate) fn parse_json_object<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    let is_json = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let value = ijson::from_slice(body).map_err(|e| match e {
        ijson::Error::Json(e) => describe_json_error(&e),
        ijson::Error::NotIJson(violation) => ApiError::InvalidRequest(violation.to_string()),
    })?;
    if !value.is_object() {
        return Err(ApiError::InvalidRequest(
            "the request body must be a JSON object".to_owned(),
        ));
    }
    serde_json::from_value(value).map_err(|e| describe_json_error(&e))
}

/// Whether a body is absent (empty or only whitespace).
pub(crate) fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// The caller as a security event records it: the client's address (as `TRUSTED_PROXIES`
/// resolves it), its `User-Agent`, and whom it acts as.
pub(crate) fn origin(state: &AppState, req: &HttpRequest, actor: Actor) -> Origin {
    Origin {
        ip: state.trusted_proxies.client_address(req),
        user_agent: user_agent(req),
        actor,
    }
}

/// The `User-Agent` header, when it is visible ASCII (the store keeps its first
/// [`user_store::MAX_USER_AGENT_CHARS`] characters).
pub(crate) fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
