//! Housekeeping: deleting the rows that can no longer matter, a small batch at a time, so
//! that the database does not grow without bound (API.md, "Housekeeping").
//!
//! Each kind of row that goes is one [`PurgeRule`] in [`PURGE_RULES`]: one statement that
//! deletes at most `batch_size` rows past the rule's cutoff, by primary key. A new table
//! (email or MFA tokens) is one more rule. Deletes are idempotent, so replicas may
//! purge at the same time; each batch is its own short statement, so a purge never holds
//! SQLite's write lock for long.
//!
//! ```no_run
//! # async fn run(store: user_store::Store) -> Result<(), user_store::StoreError> {
//! use std::time::Duration;
//! use user_store::{PURGE_RULES, PurgePolicy, Timestamp};
//!
//! let policy = PurgePolicy::new(Duration::from_secs(15 * 60 + 30), Duration::from_secs(15 * 60));
//! for rule in PURGE_RULES {
//!     let purged = store.purge_rule(rule, &policy, Timestamp::now()).await?;
//!     println!("{}: {} rows", rule.table, purged.rows);
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::error::DbResultExt;
use crate::{Store, StoreError, Timestamp};

/// How long an ended session is kept beyond its last access token: covers clock
/// differences between replicas, a refresh that commits just after a concurrent
/// revocation (its access token is a moment younger than `revoked_at`), and the revocation
/// feed's look-back.
pub const ENDED_SESSION_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What a purge keeps, and how much it deletes at once.
#[derive(Debug, Clone)]
pub struct PurgePolicy {
    /// The longest an access token can still be accepted after it was issued: its lifetime
    /// plus the verification leeway (the revocation feed's `retention`).
    pub token_retention: Duration,
    /// The login throttle's window: a throttle row whose last failure and block both
    /// ended longer ago than this can no longer block or count.
    pub throttle_window: Duration,
    /// Rows deleted by one statement at most.
    pub batch_size: u32,
    /// Statements per rule and run at most; what is left waits for the next run.
    pub max_batches: u32,
    /// The wait between two batches, in which other writers get the database.
    pub pause: Duration,
    /// How long security events are kept (`EVENT_RETENTION`).
    pub event_retention: Duration,
}

impl PurgePolicy {
    pub const DEFAULT_BATCH_SIZE: u32 = 500;
    pub const DEFAULT_MAX_BATCHES: u32 = 200;
    pub const DEFAULT_PAUSE: Duration = Duration::from_millis(50);
    /// The contract's default `EVENT_RETENTION`: 90 days.
    pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

    /// The default batches (500 rows, at most 200 per rule and run, 50 ms apart), events
    /// kept for [`Self::DEFAULT_EVENT_RETENTION`].
    pub fn new(token_retention: Duration, throttle_window: Duration) -> Self {
        Self {
            token_retention,
            throttle_window,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            max_batches: Self::DEFAULT_MAX_BATCHES,
            pause: Self::DEFAULT_PAUSE,
            event_retention: Self::DEFAULT_EVENT_RETENTION,
        }
    }

    /// Keeps security events for `retention` (`EVENT_RETENTION`).
    pub fn with_event_retention(self, retention: Duration) -> Self {
        Self {
            event_retention: retention,
            ..self
        }
    }

    /// How long a session is kept after it ended (revoked, or expired).
    ///
    /// Every replica's in-memory revoked set is loaded at start from `sessions.revoked_at`
    /// (the revocations of the last `token_retention`): the row must outlive the last
    /// access token of its session, or a replica that restarts would accept that token
    /// again. An expired session's last access token was issued before it expired, so the
    /// same span after its expiry covers it too.
    pub fn ended_session_retention(&self) -> Duration {
        self.token_retention + ENDED_SESSION_MARGIN
    }
}

/// One kind of row that goes: a batch statement and the cutoff it is run with.
#[derive(Debug)]
pub struct PurgeRule {
    /// The table rows are deleted from (the metrics label).
    pub table: &'static str,
    /// What goes, for logs.
    pub what: &'static str,
    /// Deletes at most `$2` rows past the cutoff `$1`, by primary key. The condition is
    /// repeated outside the subquery where a concurrent write can move a row back out of
    /// reach: PostgreSQL re-checks the outer condition on a row updated meanwhile.
    batch: &'static str,
    /// Rows older than this go, as of `now`.
    cutoff: fn(&PurgePolicy, Timestamp) -> Timestamp,
}

/// What one rule deleted in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub rows: u64,
    pub batches: u32,
    /// Whether the last batch was short, i.e. nothing past the cutoff is left; `false`
    /// when the run stopped at `max_batches`.
    pub complete: bool,
}

/// Every rule, in the order a run applies them: refresh tokens before their sessions, so
/// that deleting a session cascades to few rows.
pub static PURGE_RULES: &[PurgeRule] = &[
    // A spent token is kept until its own expiry so that its reuse is still seen as theft
    // (RFC 9700 §4.14.2); an expired one is refused whatever it is.
    PurgeRule {
        table: "refresh_tokens",
        what: "expired refresh tokens",
        batch: "DELETE FROM refresh_tokens WHERE id IN \
                (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2) \
                AND expires_at < $1",
        cutoff: |_, now| now,
    },
    // A revoked session's tokens are refused whatever they are: its end is theirs.
    PurgeRule {
        table: "refresh_tokens",
        what: "refresh tokens of revoked sessions",
        batch: "DELETE FROM refresh_tokens WHERE id IN (SELECT rt.id FROM sessions s \
                JOIN refresh_tokens rt ON rt.session_id = s.id WHERE s.revoked_at < $1 LIMIT $2)",
        cutoff: |_, now| now,
    },
    PurgeRule {
        table: "sessions",
        what: "sessions revoked long enough ago",
        batch: "DELETE FROM sessions WHERE id IN \
                (SELECT id FROM sessions WHERE revoked_at < $1 LIMIT $2) \
                AND revoked_at < $1",
        cutoff: |policy, now| now.minus(policy.ended_session_retention()),
    },
    PurgeRule {
        table: "sessions",
        what: "sessions expired long enough ago",
        batch: "DELETE FROM sessions WHERE id IN \
                (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2) \
                AND expires_at < $1",
        cutoff: |policy, now| now.minus(policy.ended_session_retention()),
    },
    // A revoked client generation matters as long as a revoked session: until its last
    // access token has expired, every replica must be able to load it at start.
    PurgeRule {
        table: "client_generations",
        what: "client token generations revoked long enough ago",
        batch: "DELETE FROM client_generations WHERE id IN \
                (SELECT id FROM client_generations WHERE revoked_at < $1 LIMIT $2) \
                AND revoked_at < $1",
        cutoff: |policy, now| now.minus(policy.ended_session_retention()),
    },
    // Stale once `max(last_failure_at, blocked_until) + window < now`: the window counts
    // from the end of the block.
    PurgeRule {
        table: "login_failures",
        what: "stale login throttle rows",
        batch: "DELETE FROM login_failures WHERE username_key IN \
                (SELECT username_key FROM login_failures \
                 WHERE last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $1) \
                 LIMIT $2) \
                AND last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $1)",
        cutoff: |policy, now| now.minus(policy.throttle_window),
    },
    // An `mfa_token` is refused once spent (a right code, or five wrong ones) or expired:
    // nothing is left to recognise (unlike a refresh token, a replay is not theft).
    PurgeRule {
        table: "mfa_challenges",
        what: "spent or expired mfa challenges",
        batch: "DELETE FROM mfa_challenges WHERE token_hash IN \
                (SELECT token_hash FROM mfa_challenges \
                 WHERE expires_at < $1 OR spent_at < $1 LIMIT $2) \
                AND (expires_at < $1 OR spent_at < $1)",
        cutoff: |_, now| now,
    },
    PurgeRule {
        table: "address_login_failures",
        what: "stale address throttle rows",
        batch: "DELETE FROM address_login_failures WHERE address IN \
                (SELECT address FROM address_login_failures \
                 WHERE last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $1) \
                 LIMIT $2) \
                AND last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $1)",
        cutoff: |policy, now| now.minus(policy.throttle_window),
    },
    // Append-only: nothing moves an event back out of reach, so the condition is not
    // repeated outside the subquery.
    PurgeRule {
        table: "events",
        what: "security events past EVENT_RETENTION",
        batch: "DELETE FROM events WHERE id IN \
                (SELECT id FROM events WHERE at < $1 LIMIT $2)",
        cutoff: |policy, now| now.minus(policy.event_retention),
    },
    PurgeRule {
        table: "recovery_requests",
        what: "stale password-reset throttle rows",
        batch: "DELETE FROM recovery_requests WHERE request_key IN \
                (SELECT request_key FROM recovery_requests \
                 WHERE last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $1) \
                 LIMIT $2) \
                AND last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $1)",
        cutoff: |policy, now| now.minus(policy.throttle_window),
    },
    // An email token is refused once expired or spent, whatever it is: a spent one need
    // not be kept (presenting it again is `invalid_grant` either way).
    PurgeRule {
        table: "email_tokens",
        what: "expired email tokens",
        batch: "DELETE FROM email_tokens WHERE token_hash IN \
                (SELECT token_hash FROM email_tokens WHERE expires_at < $1 LIMIT $2) \
                AND expires_at < $1",
        cutoff: |_, now| now,
    },
    PurgeRule {
        table: "email_tokens",
        what: "spent email tokens",
        batch: "DELETE FROM email_tokens WHERE token_hash IN \
                (SELECT token_hash FROM email_tokens WHERE spent_at < $1 LIMIT $2) \
                AND spent_at < $1",
        cutoff: |_, now| now,
    },
];

impl Store {
    /// Applies `rule` as of `now`: batch after batch until one is short or `max_batches`
    /// ran, pausing between them. `now` is a parameter so that a purge can be run as of
    /// another instant (tests).
    #[tracing::instrument(skip_all, fields(table = rule.table, what = rule.what))]
    pub async fn purge_rule(
        &self,
        rule: &PurgeRule,
        policy: &PurgePolicy,
        now: Timestamp,
    ) -> Result<Purged, StoreError> {
        let cutoff = (rule.cutoff)(policy, now);
        let batch_size = policy.batch_size.max(1);
        let mut purged = Purged {
            rows: 0,
            batches: 0,
            complete: false,
        };
        while purged.batches < policy.max_batches {
            if purged.batches > 0 {
                tokio::time::sleep(policy.pause).await;
            }
            let deleted = self
                .sql(rule.batch)
                .bind(cutoff)
                .bind(i64::from(batch_size))
                .execute()
                .await
                .db("purge a batch")?;
            purged.batches += 1;
            purged.rows += deleted;
            if deleted < u64::from(batch_size) {
                purged.complete = true;
                break;
            }
        }
        Ok(purged)
    }

    /// Applies every rule of [`PURGE_RULES`] as of `now`, stopping at the first failure.
    pub async fn purge(
        &self,
        policy: &PurgePolicy,
        now: Timestamp,
    ) -> Result<Vec<(&'static PurgeRule, Purged)>, StoreError> {
        let mut done = Vec::with_capacity(PURGE_RULES.len());
        for rule in PURGE_RULES {
            done.push((rule, self.purge_rule(rule, policy, now).await?));
        }
        Ok(done)
    }
}
