//! `/api/admin/clients`: registered OAuth clients (service accounts), for holders of the
//! `admin` role.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::Claims;
use serde::{Deserialize, Serialize};
use user_store::{Actor, Client};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::AccountError;
use crate::accounts::clients::{self, NewClient};
use crate::error::{ApiError, ErrorBody};
use crate::routes::{JsonBody, origin};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    /// 1 to 64 characters without control characters; not necessarily unique.
    #[schema(min_length = 1, max_length = 64)]
    name: String,
    /// The roles its tokens carry (as a user's: at most 32, without whitespace).
    roles: Option<Vec<String>>,
}

/// A registered client, never its secret's hash.
#[derive(Serialize, ToSchema)]
pub struct ClientView {
    client_id: Uuid,
    name: String,
    roles: Vec<String>,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<Client> for ClientView {
    fn from(client: Client) -> Self {
        Self {
            client_id: client.id,
            name: client.name,
            roles: client.roles.0,
            created_at: client.created_at.rfc3339(),
        }
    }
}

/// A new client with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedClientView {
    #[serde(flatten)]
    client: ClientView,
    /// 256 random bits, base64url; stored only as a hash.
    client_secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct ClientList {
    clients: Vec<ClientView>,
}

/// `POST /api/admin/clients`: registers a client; its secret is in this answer only.
#[utoipa::path(post, path = "/api/admin/clients", tag = "admin", request_body = ClientRegistration,
    security(("bearer" = ["admin"])),
    responses(
        (status = 201, description = "The client and its secret (`Cache-Control: no-store`)", body = CreatedClientView),
        (status = 400, description = "`invalid_request`: a bad name or roles", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not JSON", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    JsonBody(body): JsonBody<ClientRegistration>,
) -> Result<HttpResponse, ApiError> {
    let new = NewClient {
        name: body.name,
        roles: body.roles.unwrap_or_default(),
    };
    let origin = origin(&state, &req, Actor::Admin(claims.sub));
    let created = clients::create(&state.accounts.users.store, new, &origin).await?;
    tracing::info!(admin = %claims.sub, client_id = %created.client.id, "client registered by an admin");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(CreatedClientView {
            client: created.client.into(),
            client_secret: created.secret,
        }))
}

/// `GET /api/admin/clients`: every registered client, oldest first.
#[utoipa::path(get, path = "/api/admin/clients", tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The clients", body = ClientList),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let clients = clients::list(&state.accounts.users.store).await?;
    Ok(HttpResponse::Ok().json(ClientList {
        clients: clients.into_iter().map(ClientView::from).collect(),
    }))
}

/// `DELETE /api/admin/clients/{client_id}`: its tokens are refused everywhere within 2 s.
#[utoipa::path(delete, path = "/api/admin/clients/{client_id}", tag = "admin",
    params(("client_id" = Uuid, Path, description = "The client's id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 204, description = "Deleted; its tokens are revoked"),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(client_id = %id))]
pub async fn delete(
    state: web::Data<AppState>,
    claims: web::ReqData<Arc<Claims>>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: Uuid = id.parse().map_err(|_| AccountError::ClientNotFound)?;
    let origin = origin(&state, &req, Actor::Admin(claims.sub));
    clients::delete(&state.accounts.sessions, id, &origin).await?;
    tracing::info!(admin = %claims.sub, "client deleted by an admin");
    Ok(HttpResponse::NoContent().finish())
}
