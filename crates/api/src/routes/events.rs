//! `GET /api/admin/events`: the security events, newest first, a page at a time, for
//! holders of the `admin` role (the admin scope's guard).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use user_store::{Event, EventFilter, EventType};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::events;
use crate::error::{ApiError, ErrorBody};
use crate::routes::admin::{after_param, page_after, page_limit};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only the events of this user.
    #[param(value_type = Option<Uuid>)]
    user: Option<String>,
    /// Only the events of this type.
    #[serde(rename = "type")]
    #[param(value_type = Option<EventType>)]
    kind: Option<String>,
    /// Events per page, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next` of the previous page; empty or absent for the first page.
    #[param(schema_with = after_param)]
    after: Option<String>,
}

/// A page of events, newest first; `next` is the `after` of the following (older) page,
/// `null` on the last.
#[derive(Serialize, ToSchema)]
pub struct EventList {
    events: Vec<Event>,
    next: Option<Uuid>,
}

/// `GET /api/admin/events?user=&type=&limit=&after=`: security events, newest first.
#[utoipa::path(get, path = "/api/admin/events", tag = "admin", params(EventQuery),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of events, newest first", body = EventList),
        (status = 400, description = "`invalid_request`: an unknown parameter or type, a bad `user`, `limit` or `after`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`: the token lacks the admin role", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_events(
    state: web::Data<AppState>,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = EventFilter {
        user_id: query.user.as_deref().map(user_filter).transpose()?,
        kind: query.kind.as_deref().map(type_filter).transpose()?,
    };
    let limit = page_limit(query.limit.as_deref())?;
    let after = page_after(query.after.as_deref(), "an event id")?;
    let page = events::list(&state.accounts.users.store, filter, after, limit).await?;
    Ok(HttpResponse::Ok().json(EventList {
        events: page.events,
        next: page.next,
    }))
}

fn user_filter(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::InvalidRequest("user must be a user id".to_owned()))
}

fn type_filter(raw: &str) -> Result<EventType, ApiError> {
    EventType::parse(raw)
        .ok_or_else(|| ApiError::InvalidRequest("type is not an event type".to_owned()))
}
