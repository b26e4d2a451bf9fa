use std::time::Duration;

use auth_core::RevokedSessions;
use tokio::task::JoinHandle;

use crate::{Store, StoreError, Timestamp};

/// How far back each poll looks again: covers transactions that commit a little after the
/// timestamp they wrote, and modest clock differences between replicas.
const OVERLAP: Duration = Duration::from_secs(10);

/// Keeps `revoked` current from the database: loads the revocations that still matter
/// (those younger than `retention`, the longest an access token lives plus leeway), then
/// polls for new ones every `interval`. Every replica runs one, so a logout on any replica
/// is enforced by all of them within about `interval`.
///
/// The initial load happens before this returns, so a restarted replica never accepts a
/// token of a session revoked before the restart.
pub async fn spawn_revocation_feed(
    store: Store,
    revoked: RevokedSessions,
    retention: Duration,
    interval: Duration,
) -> Result<JoinHandle<()>, StoreError> {
    let mut since = Timestamp::now().minus(retention);
    since = catch_up(&store, &revoked, retention, since).await?;
    Ok(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match catch_up(&store, &revoked, retention, since).await {
                Ok(next) => since = next,
                Err(e) => tracing::warn!(error = %e, "cannot read revocations; will retry"),
            }
            revoked.purge_expired();
        }
    }))
}

/// Reads revocations after `since` into the set; returns where the next poll starts.
async fn catch_up(
    store: &Store,
    revoked: &RevokedSessions,
    retention: Duration,
    since: Timestamp,
) -> Result<Timestamp, StoreError> {
    let started = Timestamp::now();
    for (session_id, revoked_at) in store.revoked_since(since).await? {
        revoked.insert(
            session_id,
            revoked_at.max(started).plus(retention).unix_seconds(),
        );
    }
    Ok(started.minus(OVERLAP))
}
