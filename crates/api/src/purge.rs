//! Housekeeping in the server: every `PURGE_INTERVAL` the rows that can no longer matter
//! are deleted (user-store's `PURGE_RULES`), and `authd purge` runs the same once.

use std::time::Duration;

use tokio::task::JoinHandle;
use user_store::{PURGE_RULES, PurgePolicy, PurgeRule, Purged, Store, StoreError, Timestamp};

use crate::accounts::Accounts;
use crate::metrics::Metrics;

/// The first run, shortly after start: a replica that restarts often still purges.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(1);

/// What this server keeps: ended sessions as long as their access tokens could verify
/// (the same retention as the revoked set), throttle rows as long as either throttle's
/// window, security events for `event_retention` (`EVENT_RETENTION`).
pub fn purge_policy(accounts: &Accounts, event_retention: Duration) -> PurgePolicy {
    PurgePolicy::new(
        accounts.sessions.retention(),
        accounts.policy.throttle_window(),
    )
    .with_event_retention(event_retention)
}

/// Purges every `interval` until aborted (on shutdown, with the other background tasks).
/// Failures are logged and counted, and retried at the next run; several replicas may
/// purge at once (deletes are idempotent).
pub fn spawn_purge(
    store: Store,
    policy: PurgePolicy,
    metrics: Metrics,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + FIRST_RUN_AFTER.min(interval);
        let mut ticker = tokio::time::interval_at(start, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            purge_once(&store, &policy, Some(&metrics)).await;
        }
    })
}

/// One full purge as of now: every rule, each on its own (one that fails does not stop
/// the others), logged and counted. Returns what each rule did.
pub async fn purge_once(
    store: &Store,
    policy: &PurgePolicy,
    metrics: Option<&Metrics>,
) -> Vec<(&'static PurgeRule, Result<Purged, StoreError>)> {
    let now = Timestamp::now();
    let mut report = Vec::with_capacity(PURGE_RULES.len());
    for rule in PURGE_RULES {
        let outcome = store.purge_rule(rule, policy, now).await;
        record(rule, &outcome, metrics);
        report.push((rule, outcome));
    }
    report
}

fn record(rule: &PurgeRule, outcome: &Result<Purged, StoreError>, metrics: Option<&Metrics>) {
    match outcome {
        Ok(purged) => {
            if purged.rows > 0 {
                tracing::info!(
                    table = rule.table,
                    rows = purged.rows,
                    "purged {}",
                    rule.what
                );
            }
            if !purged.complete {
                tracing::info!(
                    table = rule.table,
                    "more {} than one run deletes: the rest goes at the next run",
                    rule.what
                );
            }
            if let Some(metrics) = metrics {
                metrics.purged(rule.table, purged.rows);
            }
        }
        Err(e) => {
            tracing::warn!(
                table = rule.table,
                error = %e,
                "cannot purge {}; will retry at the next run",
                rule.what
            );
            if let Some(metrics) = metrics {
                metrics.purge_failed(rule.table);
            }
        }
    }
}
