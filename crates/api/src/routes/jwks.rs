//! `GET /.well-known/jwks.json`: the public key set.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

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
        .json(state.accounts.keys.current().verifier.keys().jwks())
}
