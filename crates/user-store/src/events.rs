//! Security events (API.md, "Security events"): what happened to an account, who did it
//! and from where, kept for `EVENT_RETENTION` (the purge rule `events`).
//!
//! An event that records a change is written **in the transaction of that change**, by
//! the store call that makes it ([`insert`], with the caller's [`Origin`]): it exists
//! exactly when its change committed. An event that records no change (a failed or
//! throttled login) is one insert of its own ([`Store::record_event`]).
//!
//! `detail` is a small JSON object: never a password, a token, a hash or any secret.
//!
//! ```ignore
//! // In a store function that changes something, before its commit:
//! let event = NewEvent::new(EventType::PasswordReset, Some(user_id), origin)
//!     .with("sessions_revoked", revoked.len());
//! events::insert(&mut tx, &event).await?;
//! tx.commit().await.db("commit password reset")?;
//! ```

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::statement::{Statement, WriteTx};
use crate::{Store, StoreError, Timestamp};

/// What happened; the names are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    MfaFailed,
    RefreshReuseDetected,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailVerified,
    MfaEnabled,
    MfaDisabled,
    UserDisabled,
    UserEnabled,
    RolesChanged,
    SessionsRevoked,
    ClientCreated,
    ClientDeleted,
}

impl EventType {
    /// Every type, in the contract's order.
    pub const ALL: [EventType; 17] = [
        EventType::LoginSucceeded,
        EventType::LoginFailed,
        EventType::LoginThrottled,
        EventType::MfaFailed,
        EventType::RefreshReuseDetected,
        EventType::PasswordChanged,
        EventType::PasswordResetRequested,
        EventType::PasswordReset,
        EventType::EmailVerified,
        EventType::MfaEnabled,
        EventType::MfaDisabled,
        EventType::UserDisabled,
        EventType::UserEnabled,
        EventType::RolesChanged,
        EventType::SessionsRevoked,
        EventType::ClientCreated,
        EventType::ClientDeleted,
    ];

    /// The stored and shown name (`login_succeeded`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LoginSucceeded => "login_succeeded",
            EventType::LoginFailed => "login_failed",
            EventType::LoginThrottled => "login_throttled",
            EventType::MfaFailed => "mfa_failed",
            EventType::RefreshReuseDetected => "refresh_reuse_detected",
            EventType::PasswordChanged => "password_changed",
            EventType::PasswordResetRequested => "password_reset_requested",
            EventType::PasswordReset => "password_reset",
            EventType::EmailVerified => "email_verified",
            EventType::MfaEnabled => "mfa_enabled",
            EventType::MfaDisabled => "mfa_disabled",
            EventType::UserDisabled => "user_disabled",
            EventType::UserEnabled => "user_enabled",
            EventType::RolesChanged => "roles_changed",
            EventType::SessionsRevoked => "sessions_revoked",
            EventType::ClientCreated => "client_created",
            EventType::ClientDeleted => "client_deleted",
        }
    }

    /// The type with this name, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Who made a change, besides the user it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The request's own client: the user themself, or whoever tries to be them.
    Client,
    /// An admin through the admin API; `detail` gets `"by": "admin"` and `"admin_id"`.
    Admin(Uuid),
    /// An operator through the CLI; `detail` gets `"by": "operator"`.
    Operator,
}

/// Where a change or an attempt came from, recorded with its event.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The client's address as `TRUSTED_PROXIES` resolves it; `None` for the CLI.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, cut to [`MAX_USER_AGENT_CHARS`] when stored.
    pub user_agent: Option<String>,
    pub actor: Actor,
}

/// A `User-Agent` is the client's to choose: only this much of it is kept.
pub const MAX_USER_AGENT_CHARS: usize = 256;

impl Origin {
    /// A request's own client.
    pub fn client(ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Self {
            ip,
            user_agent,
            actor: Actor::Client,
        }
    }

    /// An operator at the command line: no address, no user agent.
    pub fn operator() -> Self {
        Self {
            ip: None,
            user_agent: None,
            actor: Actor::Operator,
        }
    }
}

/// An event to record: built with [`NewEvent::new`], `detail` added with [`NewEvent::with`].
#[derive(Debug, Clone)]
#[must_use = "an event is recorded by `events::insert` or `Store::record_event`"]
pub struct NewEvent<'a> {
    kind: EventType,
    user_id: Option<Uuid>,
    origin: &'a Origin,
    detail: Map<String, Value>,
}

impl<'a> NewEvent<'a> {
    /// An event of `kind` about `user_id` (`None`: no known user), from `origin`; an admin
    /// or operator actor is written into `detail`.
    pub fn new(kind: EventType, user_id: Option<Uuid>, origin: &'a Origin) -> Self {
        let mut detail = Map::new();
        match origin.actor {
            Actor::Client => {}
            Actor::Admin(admin_id) => {
                detail.insert("by".to_owned(), Value::from("admin"));
                detail.insert("admin_id".to_owned(), Value::from(admin_id.to_string()));
            }
            Actor::Operator => {
                detail.insert("by".to_owned(), Value::from("operator"));
            }
        }
        Self {
            kind,
            user_id,
            origin,
            detail,
        }
    }

    /// Adds `key` to `detail`. Never a password, token, hash or secret: admins read these,
    /// and they are kept for months.
    pub fn with(mut self, key: &'static str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.detail.insert(key.to_owned(), value);
        self
    }

    pub fn kind(&self) -> EventType {
        self.kind
    }

    /// Binds the columns of [`INSERT`] to `statement`.
    fn bind<'s>(&self, statement: Statement<'s>) -> Statement<'s> {
        let user_agent = self
            .origin
            .user_agent
            .as_deref()
            .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
        statement
            .bind(Uuid::now_v7())
            .bind(Timestamp::now())
            .bind(self.kind.as_str())
            .bind(self.user_id)
            .bind(self.origin.ip.map(|ip| ip.to_canonical().to_string()))
            .bind(user_agent)
            .bind(Json(&self.detail))
    }
}

const INSERT: &str = "INSERT INTO events (id, at, type, user_id, ip, user_agent, detail) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Records `event` in `tx`, the transaction of the change it records: it commits or rolls
/// back with that change.
pub(crate) async fn insert(tx: &mut WriteTx, event: &NewEvent<'_>) -> Result<(), StoreError> {
    event
        .bind(tx.sql(INSERT))
        .execute()
        .await
        .db("record an event")
        .map(|_| ())
}

/// [`INSERT`] unless an equal event (same type, user, `detail`; for no user, the same
/// address) has an id past `$8`, the earliest id of the quiet period: one statement, so
/// that no request can add a row while an equal one is recent. The `id` bound keeps the
/// look-up on the index range of the quiet period (`events_user_id_id`, `events_type_id`).
const INSERT_UNLESS_RECENT_FOR_USER: &str = "INSERT INTO events (id, at, type, user_id, ip, user_agent, detail) \
     SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM events \
     WHERE user_id = $4 AND id > $8 AND type = $3 AND detail = $7)";
const INSERT_UNLESS_RECENT_FOR_ADDRESS: &str = "INSERT INTO events (id, at, type, user_id, ip, user_agent, detail) \
     SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM events \
     WHERE type = $3 AND id > $8 AND user_id IS NULL AND ip = $5 AND detail = $7)";

/// The smallest UUID v7 of the moment `quiet` ago: every event recorded since has a
/// larger id (ids are time-ordered, [`Uuid::now_v7`]).
fn first_id_since(quiet: Duration) -> Uuid {
    let since = SystemTime::now()
        .checked_sub(quiet)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let millis = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid()
}

/// A recorded event, as `GET /api/admin/events` shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Event {
    /// UUID v7: time-ordered.
    pub id: Uuid,
    /// RFC 3339, UTC.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The type's name. Text rather than [`EventType`] so that a replica of an older
    /// version still lists what a newer one wrote.
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    #[schema(value_type = EventType)]
    pub kind: String,
    /// The user concerned; `null` for a failed login with an unknown name.
    pub user_id: Option<Uuid>,
    /// The client's address; `null` for the CLI.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A small object, e.g. the roles before and after; never a secret.
    #[schema(value_type = Object)]
    pub detail: Json<Value>,
}

/// Which events to list; `None` matches any.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilter {
    pub user_id: Option<Uuid>,
    pub kind: Option<EventType>,
}

/// One page of events, newest first.
#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The id to pass as `after` for the next (older) page; `None` on the last page.
    pub next: Option<Uuid>,
}

/// One statement per filter, each served by its own index (`events_user_id_id`,
/// `events_type_id`, the primary key): `$x IS NULL OR ...` would leave PostgreSQL's
/// generic plan a scan of every event. `$1` is the cursor, `$2` the row limit.
const LIST_ALL: &str = "SELECT id, at, type, user_id, ip, user_agent, detail FROM events \
                        WHERE id < $1 ORDER BY id DESC LIMIT $2";
const LIST_BY_USER: &str = "SELECT id, at, type, user_id, ip, user_agent, detail FROM events \
                            WHERE user_id = $3 AND id < $1 ORDER BY id DESC LIMIT $2";
const LIST_BY_TYPE: &str = "SELECT id, at, type, user_id, ip, user_agent, detail FROM events \
                            WHERE type = $3 AND id < $1 ORDER BY id DESC LIMIT $2";
const LIST_BY_USER_AND_TYPE: &str = "SELECT id, at, type, user_id, ip, user_agent, detail \
                                     FROM events WHERE user_id = $3 AND type = $4 AND id < $1 \
                                     ORDER BY id DESC LIMIT $2";

impl Store {
    /// Records `event` on its own: for what changes nothing else (a failed or throttled
    /// login). An event that records a change is written in its transaction instead.
    #[tracing::instrument(skip_all, fields(kind = event.kind.as_str()))]
    pub async fn record_event(&self, event: &NewEvent<'_>) -> Result<(), StoreError> {
        event
            .bind(self.sql(INSERT))
            .execute()
            .await
            .db("record an event")
            .map(|_| ())
    }

    /// Records `event` on its own unless an equal one was recorded within `quiet`: for a
    /// refusal that an unauthenticated client can repeat at no cost (`login_throttled`),
    /// so that a flood of them adds a row per user (or, with no user, per address) per
    /// `quiet`, not a row per request. Returns whether it was recorded. Concurrent calls
    /// may each find no equal row (PostgreSQL, READ COMMITTED): at most one row per
    /// connection then, still bounded.
    #[tracing::instrument(skip_all, fields(kind = event.kind.as_str()))]
    pub async fn record_event_unless_recent(
        &self,
        event: &NewEvent<'_>,
        quiet: Duration,
    ) -> Result<bool, StoreError> {
        let sql = if event.user_id.is_some() {
            INSERT_UNLESS_RECENT_FOR_USER
        } else {
            INSERT_UNLESS_RECENT_FOR_ADDRESS
        };
        let done = event
            .bind(self.sql(sql))
            .bind(first_id_since(quiet))
            .execute()
            .await
            .db("record an event")?;
        Ok(done > 0)
    }

    /// Up to `limit` events matching `filter`, newest first, older than the event `after`
    /// (from the newest when `None`).
    #[tracing::instrument(skip_all, fields(limit))]
    pub async fn list_events(
        &self,
        filter: EventFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<EventPage, StoreError> {
        let sql = match (filter.user_id, filter.kind) {
            (None, None) => LIST_ALL,
            (Some(_), None) => LIST_BY_USER,
            (None, Some(_)) => LIST_BY_TYPE,
            (Some(_), Some(_)) => LIST_BY_USER_AND_TYPE,
        };
        // One more than asked: whether it comes tells if there is a next page.
        let mut statement = self
            .sql(sql)
            .bind(after.unwrap_or(Uuid::max()))
            .bind(i64::from(limit) + 1);
        if let Some(user_id) = filter.user_id {
            statement = statement.bind(user_id);
        }
        if let Some(kind) = filter.kind {
            statement = statement.bind(kind.as_str());
        }
        let mut events = statement.fetch_all::<Event>().await.db("list events")?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let next = if more {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(EventPage { events, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_named_as_the_contract_names_it_and_parses_back() {
        for kind in EventType::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventType::parse("LOGIN_SUCCEEDED"), None);
        assert_eq!(EventType::parse(""), None);
    }

    #[test]
    fn an_admin_or_operator_is_named_in_detail_and_a_client_is_not() {
        let admin = Uuid::now_v7();
        let by_admin = Origin {
            actor: Actor::Admin(admin),
            ..Origin::operator()
        };
        let event = NewEvent::new(EventType::UserDisabled, None, &by_admin);
        assert_eq!(event.detail["by"], "admin");
        assert_eq!(event.detail["admin_id"], admin.to_string());
        let operator = Origin::operator();
        let event = NewEvent::new(EventType::UserDisabled, None, &operator);
        assert_eq!(
            Value::Object(event.detail),
            serde_json::json!({"by": "operator"})
        );
        let client = Origin::client(None, None);
        let event = NewEvent::new(EventType::LoginFailed, None, &client).with("reason", "x");
        assert_eq!(
            Value::Object(event.detail),
            serde_json::json!({"reason": "x"})
        );
    }
}
