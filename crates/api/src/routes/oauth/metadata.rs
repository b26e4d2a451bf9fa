//! `GET /.well-known/oauth-authorization-server` (RFC 8414 §3): where the endpoints are
//! and what they accept, rendered once at start from `PUBLIC_URL` and `JWT_ISSUER`.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::public_url::PublicUrl;
use crate::state::AppState;

/// The authorization server's metadata (RFC 8414 §2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Metadata {
    /// `JWT_ISSUER`, the tokens' `iss`.
    issuer: String,
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    jwks_uri: String,
    grant_types_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: [&'static str; 3],
    introspection_endpoint_auth_methods_supported: [&'static str; 3],
    revocation_endpoint_auth_methods_supported: [&'static str; 3],
    /// Empty: there is no authorization endpoint.
    response_types_supported: [&'static str; 0],
}

impl Metadata {
    /// The document for a server reached at `public_url` whose tokens carry `issuer`.
    /// RFC 8414 §3.3 wants `issuer` to be that URL: authd warns at start when it is not.
    pub fn new(public_url: &PublicUrl, issuer: &str) -> Self {
        if issuer != public_url.as_str() {
            tracing::warn!(
                issuer,
                public_url = public_url.as_str(),
                "JWT_ISSUER differs from PUBLIC_URL: OAuth clients that check the metadata's \
                 issuer (RFC 8414 §3.3) will refuse it; set JWT_ISSUER to PUBLIC_URL for them"
            );
        }
        Self {
            issuer: issuer.to_owned(),
            token_endpoint: public_url.join("/oauth/token"),
            introspection_endpoint: public_url.join("/oauth/introspect"),
            revocation_endpoint: public_url.join("/oauth/revoke"),
            jwks_uri: public_url.join("/.well-known/jwks.json"),
            grant_types_supported: vec!["client_credentials"],
            token_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            introspection_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "Bearer",
            ],
            revocation_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            response_types_supported: [],
        }
    }
}

/// The OAuth 2.0 authorization server metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "RFC 8414 metadata", body = Metadata)))]
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&state.oauth_metadata)
}
