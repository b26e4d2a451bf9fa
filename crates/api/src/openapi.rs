//! The OpenAPI 3 document of the HTTP contract, generated from the handlers' and types'
//! annotations (utoipa), served at `GET /openapi.json`.

use actix_web::{HttpResponse, web};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    admin, auth, clients, email, events, health, jwks, login, me, mfa, oauth, pages,
};

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
        mfa::login_mfa,
        auth::refresh,
        auth::logout,
        me::session,
        me::me,
        me::change_password,
        mfa::enrol,
        mfa::confirm,
        mfa::disable,
        email::change_email,
        email::verify_email,
        email::forgot_password,
        email::reset_password,
        pages::verify_page,
        pages::verify_submit,
        pages::reset_page,
        pages::reset_submit,
        admin::list_users,
        admin::update_user,
        admin::revoke_sessions,
        admin::reset_mfa,
        clients::create,
        clients::list,
        clients::delete,
        oauth::token::token,
        oauth::introspect::introspect,
        oauth::revoke::revoke,
        oauth::metadata::metadata,
        events::list_events,
        jwks::jwks,
        health::healthz,
        health::readyz,
        openapi_json,
    ),
    modifiers(&SecuritySchemes, &OptionalBodies),
    tags(
        (name = "auth", description = "Register, log in, refresh, log out"),
        (name = "api", description = "The caller's own session and account (bearer token)"),
        (name = "admin", description = "Users, sessions, security events and OAuth clients (bearer token with the admin role)"),
        (name = "oauth", description = "OAuth 2.0: token (RFC 6749), introspection (RFC 7662), revocation (RFC 7009), metadata (RFC 8414); form bodies"),
        (name = "pages", description = "The HTML pages the links in messages open"),
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

/// An optional request body (`Option<T>` in an annotation) is one that may be *absent*:
/// utoipa also declares it `null`, but a `null` body is not a JSON object and is refused
/// with 400 `invalid_request` like any other non-object body. So the body stays optional
/// and its schema is the object alone.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                drop_null_body(operation);
            }
        }
    }
}

fn drop_null_body(operation: &mut Operation) {
    let Some(body) = operation.request_body.as_mut() else {
        return;
    };
    if matches!(body.required, Some(Required::True)) {
        return;
    }
    for content in body.content.values_mut() {
        let Some(RefOr::T(Schema::OneOf(one_of))) = &mut content.schema else {
            continue;
        };
        one_of.items.retain(|item| !is_null_type(item));
        if one_of.items.len() == 1 {
            content.schema = one_of.items.pop();
        }
    }
}

fn is_null_type(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object))
        if matches!(object.schema_type, SchemaType::Type(Type::Null)))
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
