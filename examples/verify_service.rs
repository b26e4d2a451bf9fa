//! Another service that accepts authd's access tokens, with nothing shared but authd's
//! public JWKS (authd on RS256, ES256 or EdDSA; an HS256 authd publishes no key).
//!
//! ```sh
//! JWT_ALGORITHM=EdDSA cargo run --release      # authd, on 127.0.0.1:8080
//! AUTHD_JWKS_URL=http://127.0.0.1:8080/.well-known/jwks.json BIND_ADDR=127.0.0.1:8081 \
//!   cargo run -p api --example verify_service
//! curl -s http://127.0.0.1:8081/hello -H "Authorization: Bearer $ACCESS"   # {"hello":"alice"}
//! ```
//!
//! `AUTHD_ISSUER` and `AUTHD_AUDIENCE` must match authd's `JWT_ISSUER` and `JWT_AUDIENCE`
//! (default `authd` and `api`). Revocation does not reach this service: a token is good
//! here until it expires, so keep authd's `ACCESS_TOKEN_TTL` short. A retired signing key
//! is: the verifier caches the JWKS for authd's `JWKS_MAX_AGE` and then refetches it (see
//! `RemoteVerifier`), so a key authd stops publishing stops being accepted here soon after.
//!
//! `RemoteVerifier` is behind auth-core's `remote` feature; `crates/api` turns it on for its
//! examples and tests (its dev-dependencies), not for the authd binary.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::{Payload, Server};
use actix_web::http::{StatusCode, header};
use actix_web::{App, FromRequest, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use auth_core::{Claims, RemoteVerifier, RemoteVerifyError, VerifierConfig, VerifyError};
use serde_json::json;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();
    let env = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.into());
    let config = VerifierConfig::new(env("AUTHD_ISSUER", "authd"), env("AUTHD_AUDIENCE", "api"));
    let jwks_url = env(
        "AUTHD_JWKS_URL",
        "http://127.0.0.1:8080/.well-known/jwks.json",
    );
    let verifier = RemoteVerifier::new(&jwks_url, config).map_err(std::io::Error::other)?;
    // Not fatal: the first token fetches again.
    if let Err(e) = verifier.refresh().await {
        tracing::warn!(
            error = &e as &dyn std::error::Error,
            "authd's JWKS is not available yet"
        );
    }
    let listener = std::net::TcpListener::bind(env("BIND_ADDR", "127.0.0.1:8081"))?;
    serve(listener, verifier)?.await
}

/// The service on `listener`: `GET /hello`, for bearers of a valid authd access token.
pub fn serve(listener: std::net::TcpListener, verifier: RemoteVerifier) -> std::io::Result<Server> {
    let verifier = web::Data::new(verifier);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/hello", web::get().to(hello))
    })
    .listen(listener)?
    .run();
    Ok(server)
}

/// A handler that takes `Authenticated` only runs for a valid token.
async fn hello(Authenticated(claims): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "hello": claims.username }))
}

/// The verified claims of the request's `Authorization: Bearer` token.
struct Authenticated(Claims);

impl FromRequest for Authenticated {
    type Error = Unauthorized;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Unauthorized>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<RemoteVerifier>>().cloned();
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        Box::pin(async move {
            let (Some(verifier), Some(token)) = (verifier, token) else {
                return Err(Unauthorized(None));
            };
            match verifier.verify(&token).await {
                Ok(claims) => Ok(Authenticated(claims)),
                Err(e) => {
                    if let RemoteVerifyError::KeysUnavailable(_)
                    | RemoteVerifyError::KeysExpired { .. } = &e
                    {
                        // authd is out of reach: worth an alert, not only a 401.
                        tracing::warn!(error = &e as &dyn std::error::Error, "JWKS refetch failed");
                    }
                    Err(Unauthorized(Some(e.verify_error().clone())))
                }
            }
        })
    }
}

/// 401 with the RFC 6750 §3 challenge (`error="invalid_token"` when a token was sent) and
/// authd's error body.
#[derive(Debug)]
struct Unauthorized(Option<VerifyError>);

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(e) => e.fmt(f),
            None => f.write_str("a bearer token is required"),
        }
    }
}

impl ResponseError for Unauthorized {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        let challenge = match &self.0 {
            Some(e) => {
                format!(r#"Bearer realm="api", error="invalid_token", error_description="{e}""#)
            }
            None => r#"Bearer realm="api""#.to_owned(),
        };
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .json(json!({ "error": "invalid_token", "error_description": self.to_string() }))
    }
}
