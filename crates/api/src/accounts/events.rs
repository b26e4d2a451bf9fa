//! Security events (API.md, "Security events"): which ones are recorded, and the listing
//! for admins.
//!
//! An event that records a change is written by the store call that makes the change, in
//! its transaction, from the caller's [`Origin`]: `login_succeeded` (the session opened),
//! `password_changed`, `refresh_reuse_detected`, `user_disabled`, `user_enabled`,
//! `roles_changed`, `sessions_revoked`. What changes nothing else is recorded here, one
//! insert each: `login_failed` and `login_throttled`, from a login or from any other check
//! of a password (`detail.check` names which, e.g. `password_change`).
//!
//! `sessions_revoked` records a revocation that is an action of its own: an admin's or an
//! operator's, and a user's logout of every session (`global`) or every other one
//! (`others`). A local logout records nothing (routine, and the session's own choice), and
//! a revocation that is part of another change (a password change, a disable, a role
//! taken away, a refresh token reused) is counted in that change's event
//! (`detail.sessions_revoked`) rather than recorded twice.

use user_store::{EventFilter, EventPage, EventType, NewEvent, Origin, Store, Username};
use uuid::Uuid;

use crate::accounts::AccountError;

/// Why a password check failed, as `login_failed`'s `detail.reason` says it.
#[derive(Debug, Clone, Copy)]
pub enum FailureReason {
    /// No user has this name: `user_id` is null. The name itself is not kept: a password
    /// typed into the username field must not end up in the events.
    UnknownUser,
    WrongPassword,
    /// The right password for a disabled user.
    AccountDisabled,
    /// The password was right when checked, but changed before the session opened.
    CredentialsChanged,
}

impl FailureReason {
    fn as_str(self) -> &'static str {
        match self {
            FailureReason::UnknownUser => "unknown_user",
            FailureReason::WrongPassword => "wrong_password",
            FailureReason::AccountDisabled => "account_disabled",
            FailureReason::CredentialsChanged => "credentials_changed",
        }
    }
}

/// Which password check an event is about, in `detail.check` (a login has none).
pub const CHECK_PASSWORD_CHANGE: &str = "password_change";
/// The password checked by `PUT /api/me/email`.
pub const CHECK_EMAIL_CHANGE: &str = "email_change";

/// Records `login_failed` for `user_id` (`None`: unknown name). `check` names a check
/// other than a login.
pub async fn login_failed(
    store: &Store,
    user_id: Option<Uuid>,
    origin: &Origin,
    reason: FailureReason,
    check: Option<&'static str>,
) {
    let mut event =
        NewEvent::new(EventType::LoginFailed, user_id, origin).with("reason", reason.as_str());
    if let Some(check) = check {
        event = event.with("check", check);
    }
    record(store, &event).await;
}

/// Records `login_throttled` for the user named `name` (looked up, so that the event
/// names them; `None` when the name cannot exist or no user has it), at most once per
/// [`THROTTLED_EVENT_QUIET`] for the same user (no user: the same address) and check.
pub async fn login_throttled(
    store: &Store,
    name: Option<&Username>,
    origin: &Origin,
    check: Option<&'static str>,
) {
    let user_id = match name {
        Some(name) => store.find_user_id(name).await.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "cannot look up the throttled user");
            None
        }),
        None => None,
    };
    let mut event = NewEvent::new(EventType::LoginThrottled, user_id, origin);
    if let Some(check) = check {
        event = event.with("check", check);
    }
    if let Err(e) = store
        .record_event_unless_recent(&event, THROTTLED_EVENT_QUIET)
        .await
    {
        tracing::warn!(error = %e, "cannot record a security event");
    }
}

/// How long one `login_throttled` stands for every equal refusal after it. A refusal
/// costs the client nothing (no hashing), so recording each one would let anyone grow
/// the events table at request rate; once a minute per user (or per address, for an
/// unknown name) still shows an attack and its length, within a block's minute.
pub const THROTTLED_EVENT_QUIET: std::time::Duration = std::time::Duration::from_secs(60);

/// Records an event that changes nothing else. Best effort: the caller's answer (a
/// refusal already decided) does not depend on it, so a failure is logged, not returned.
pub async fn record(store: &Store, event: &NewEvent<'_>) {
    if let Err(e) = store.record_event(event).await {
        tracing::warn!(error = %e, kind = event.kind().as_str(), "cannot record a security event");
    }
}

/// Up to `limit` events matching `filter`, newest first, older than the event `after`.
pub async fn list(
    store: &Store,
    filter: EventFilter,
    after: Option<Uuid>,
    limit: u32,
) -> Result<EventPage, AccountError> {
    Ok(store.list_events(filter, after, limit).await?)
}
