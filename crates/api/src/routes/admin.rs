//! `/api/admin`: users and their sessions, for holders of the `admin` role.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use auth_core::Claims;
use serde::{Deserialize, Serialize};
use user_store::{Actor, User, UserChange};
use utoipa::openapi::schema::{
    AnyOfBuilder, Array, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::AccountError;
use crate::accounts::admin::{self as accounts_admin, MAX_ROLE_CHARS, MAX_ROLES};
use crate::error::{ApiError, ErrorBody};
use crate::routes::{JsonBody, clients, events, origin};
use crate::state::AppState;

/// The routes of the admin scope, mounted at `/api/admin` behind the bearer guard and
/// [`require_admin`].
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::get().to(list_users)))
        .service(web::resource("/events").route(web::get().to(events::list_events)))
        .service(web::resource("/users/{id}").route(web::patch().to(update_user)))
        .service(web::resource("/users/{id}/sessions").route(web::delete().to(revoke_sessions)))
        .service(web::resource("/users/{id}/mfa").route(web::delete().to(reset_mfa)))
        .service(
            web::resource("/clients")
                .route(web::get().to(clients::list))
                .route(web::post().to(clients::create)),
        )
        .service(web::resource("/clients/{client_id}").route(web::delete().to(clients::delete)));
}

/// The role that opens the admin scope.
pub const ADMIN_ROLE: &str = "admin";

/// Guards the admin scope, inside the bearer guard: a valid token without the role gets
/// 403 with `error="insufficient_scope"` (RFC 6750 §3.1). Roles come from the token, which
/// took them from the store when it was issued.
pub async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_admin = req
        .extensions()
        .get::<Arc<Claims>>()
        .is_some_and(|claims| claims.has_role(ADMIN_ROLE));
    if !is_admin {
        // A response rather than an error, so outer middleware sees it like any other.
        return Ok(req.error_response(ApiError::InsufficientScope));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Users per page, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next` of the previous page; empty or absent for the first page.
    #[param(schema_with = after_param)]
    after: Option<String>,
}

/// `after` in the document: an id from the previous page, or empty (as `list_users` and
/// `list_events` read it).
pub(crate) fn after_param() -> Schema {
    AnyOfBuilder::new()
        .description(Some(
            "The `next` of the previous page; empty or absent for the first page.",
        ))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(0)),
        )
        .build()
        .into()
}

/// A page of users; `next` is the `after` of the following page, `null` on the last.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<User>,
    next: Option<Uuid>,
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// `GET /api/admin/users?limit=&after=`: a page of users in creation order; `next` is the
/// `after` of the following page, `null` on the last.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(ListQuery),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, description = "`invalid_request`: a bad `limit` or `after`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`: the token lacks the admin role", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_users(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit.as_deref())?;
    let after = page_after(query.after.as_deref(), "a user id")?;
    let page = accounts_admin::list_users(&state.accounts.users.store, after, limit).await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: page.users,
        next: page.next,
    }))
}

/// A page's `limit`: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when absent.
pub(crate) fn page_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_PAGE);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            ApiError::InvalidRequest(format!("limit must be a whole number from 1 to {MAX_PAGE}"))
        })
}

/// A page's cursor: the `next` of the previous page (`what`: an id of what is listed);
/// empty or absent for the first page.
pub(crate) fn page_after(raw: Option<&str>, what: &str) -> Result<Option<Uuid>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(raw) => raw.parse::<Uuid>().map(Some).map_err(|_| {
            ApiError::InvalidRequest(format!("after must be {what} from a previous page"))
        }),
    }
}

/// What to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    disabled: Option<bool>,
    #[schema(schema_with = role_list)]
    roles: Option<Vec<String>>,
}

/// The characters a role may not contain, as [`accounts_admin::check_roles`] refuses them: whitespace
/// (Unicode `White_Space`) and control characters (`Cc`). A test checks the two agree.
const ROLE_REFUSED: [(char, char); 8] = [
    ('\u{0}', ' '),
    ('\u{7f}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// `roles` in the document: what [`accounts_admin::check_roles`] accepts, so that a client (or a fuzzer)
/// can tell a valid list without asking.
fn role_list() -> Array {
    let refused: String = ROLE_REFUSED
        .iter()
        .map(|&(from, to)| format!("\\u{:04x}-\\u{:04x}", u32::from(from), u32::from(to)))
        .collect();
    let role = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ROLE_CHARS))
        .pattern(Some(format!("^[^{refused}]+$")));
    ArrayBuilder::new()
        .description(Some(format!(
            "The user's roles become exactly these: at most {MAX_ROLES}, each 1 to \
             {MAX_ROLE_CHARS} characters without whitespace or control characters."
        )))
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(role)
        .max_items(Some(MAX_ROLES))
        .build()
}

/// `PATCH /api/admin/users/{id}`: roles and the disabled flag. Disabling revokes every
/// session of the user, access tokens included.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin", request_body = UserPatch,
    params(("id" = Uuid, Path, description = "The user's id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The user as it now is", body = User),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the body did not arrive within `REQUEST_BODY_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn update_user(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    id: web::Path<String>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&id)?;
    // The API takes roles as a set: sorted, each once.
    let change = UserChange {
        disabled: patch.disabled,
        roles: patch.roles.map(|mut roles| {
            roles.sort();
            roles.dedup();
            roles
        }),
    };
    let origin = origin(&state, &req, Actor::Admin(claims.sub));
    let sessions = &state.accounts.sessions;
    let updated = accounts_admin::update_user(sessions, id, change, &origin).await?;
    tracing::info!(admin = %claims.sub, "user updated by an admin");
    Ok(HttpResponse::Ok().json(updated.user))
}

/// `DELETE /api/admin/users/{id}/sessions`: revokes every session of the user.
#[utoipa::path(delete, path = "/api/admin/users/{id}/sessions", tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 204, description = "Every session of the user is revoked"),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&id)?;
    let accounts = &state.accounts;
    let origin = origin(&state, &req, Actor::Admin(claims.sub));
    accounts_admin::revoke_sessions(&accounts.users.store, &accounts.sessions, id, &origin).await?;
    tracing::info!(admin = %claims.sub, "sessions revoked by an admin");
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/admin/users/{id}/mfa`: removes every second factor of the user (and the
/// recovery codes); sessions are kept.
#[utoipa::path(delete, path = "/api/admin/users/{id}/mfa", tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 204, description = "Every factor of the user is removed; sessions are kept"),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn reset_mfa(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&id)?;
    let origin = origin(&state, &req, Actor::Admin(claims.sub));
    crate::accounts::mfa::reset_mfa(&state.accounts.users.store, id, &origin).await?;
    tracing::info!(admin = %claims.sub, "second factor reset by an admin");
    Ok(HttpResponse::NoContent().finish())
}

/// A path id that is not a UUID names no user.
fn user_id(raw: &str) -> Result<Uuid, ApiError> {
    Ok(raw.parse().map_err(|_| AccountError::UserNotFound)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_role_pattern_refuses_exactly_what_check_roles_refuses() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let listed = ROLE_REFUSED
                .iter()
                .any(|&(from, to)| (from..=to).contains(&c));
            assert_eq!(
                listed,
                accounts_admin::check_roles(&[c.to_string()]).is_err(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }
}
