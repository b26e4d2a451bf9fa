//! The OpenAPI 3 document of the HTTP contract, generated from the handlers' and types'
//! annotations (utoipa), served at `GET /openapi.json`.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, auth, health, login, me};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "authd",
        description = "A JWT authentication service: users, sessions, access and refresh tokens. \
                       Every error, at every status, is `{\"error\", \"error_description\"}`.",
    ),
    paths(
        auth::register,
        login::login,
        auth::refresh,
        auth::logout,
        me::session,
        me::me,
        me::change_password,
        admin::list_users,
        admin::update_user,
        admin::revoke_sessions,
        health::jwks,
        health::healthz,
        health::readyz,
        openapi_json,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Register, log in, refresh, log out"),
        (name = "api", description = "The caller's own session and account (bearer token)"),
        (name = "admin", description = "Users and sessions (bearer token with the admin role)"),
        (name = "operations", description = "Health, readiness, keys and this document"),
    )
)]
pub struct ApiDoc;

/// `bearer`: an access token in `Authorization: Bearer` (RFC 6750 §2.1, the only place
/// tokens are read from); `basic`: HTTP Basic on `/auth/login` (RFC 7617).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// The document, rendered once at start-up.
pub struct OpenApiJson(pub String);

impl OpenApiJson {
    pub fn render() -> anyhow::Result<Self> {
        Ok(Self(ApiDoc::openapi().to_pretty_json()?))
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document of this API", content_type = "application/json")))]
pub async fn openapi_json(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}
