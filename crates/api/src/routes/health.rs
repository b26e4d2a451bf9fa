//! Liveness, readiness and the public key set.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// `{"status": "ok"}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process is alive (no dependency checked).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Status)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Status),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::Unavailable)
        }
    }
}

/// A JWK Set (RFC 7517 §5): public keys only.
#[derive(utoipa::ToSchema)]
pub struct Jwks {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// The public verification keys (RFC 7517 §5). HS256 has none to publish: its key is a
/// shared secret. Cached by verifiers for `JWKS_MAX_AGE` (RFC 9111 §5.2.2.1): a new key is
/// announced before it signs, and a retired key's removal reaches them within that.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations",
    responses((status = 200, description = "The public keys that verify access tokens; empty for HS256", body = Jwks)))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", state.jwks_cache_control.as_str()))
        .json(state.keys.current().verifier.keys().jwks())
}
