use std::time::Duration;

use auth_core::RevokedSessions;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{Store, StoreError, Timestamp};

/// How far back each poll looks again: covers transactions that commit a little after the
/// timestamp they wrote, and modest clock differences between replicas.
const OVERLAP: Duration = Duration::from_secs(10);

/// The PostgreSQL channel on which every revocation is announced (migration 0005's trigger).
const CHANNEL: &str = "authd_revocations";

/// Keeps `revoked` current from the database: loads the revocations that still matter
/// (those younger than `retention`, the longest an access token lives plus leeway), then
/// polls for new ones every `interval`. On PostgreSQL it also listens for each revocation
/// as it commits (`LISTEN authd_revocations`), so other replicas learn of a logout within
/// milliseconds; the poll remains the catch-up for notifications lost while the listening
/// connection was down, and the only feed on SQLite. Every replica runs one, so a logout on
/// any replica is enforced by all of them within about `interval` at worst.
///
/// The initial load happens before this returns, so a restarted replica never accepts a
/// token of a session revoked before the restart. The returned tasks run until aborted.
pub async fn spawn_revocation_feed(
    store: Store,
    revoked: RevokedSessions,
    retention: Duration,
    interval: Duration,
) -> Result<Vec<JoinHandle<()>>, StoreError> {
    // On PostgreSQL, listen before the initial load: a revocation committed after LISTEN
    // is announced, one committed before it is loaded, so none falls between the two while
    // the server starts (a logout in the first moments would otherwise wait for the poll).
    let listening = match &store {
        Store::Postgres(pool) => Some((pool.clone(), start_listening(pool, interval).await)),
        Store::Sqlite(_) => None,
    };
    let mut since = Timestamp::now().minus(retention);
    since = catch_up(&store, &revoked, retention, since).await?;
    let mut tasks = Vec::with_capacity(2);
    if let Some((pool, listener)) = listening {
        tasks.push(tokio::spawn(listen(
            pool,
            listener,
            revoked.clone(),
            retention,
            interval,
        )));
    }
    tasks.push(tokio::spawn(async move {
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
    }));
    Ok(tasks)
}

/// A connection listening on [`CHANNEL`], or `None` (with a warning) when it cannot be
/// had now. A connection of its own, not one of the pool's: listening holds it for good,
/// and the requests keep every pooled connection.
async fn start_listening(pool: &PgPool, retry: Duration) -> Option<PgListener> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(retry.max(Duration::from_secs(1)))
        .connect_lazy_with(pool.connect_options().as_ref().clone());
    let listening = async {
        let mut listener = PgListener::connect_with(&own).await?;
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => {
            tracing::debug!("listening for revocations");
            Some(listener)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for revocations; will retry");
            None
        }
    }
}

/// Adds each session announced on [`CHANNEL`] to the set, starting with `listener` when
/// start-up could open one. Connection trouble is retried every `retry` (the poll covers
/// what is missed meanwhile).
async fn listen(
    pool: PgPool,
    mut listener: Option<PgListener>,
    revoked: RevokedSessions,
    retention: Duration,
    retry: Duration,
) {
    loop {
        let mut listener = match listener.take() {
            Some(listener) => listener,
            None => match start_listening(&pool, retry).await {
                Some(listener) => listener,
                None => {
                    tokio::time::sleep(retry).await;
                    continue;
                }
            },
        };
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match notification.payload().parse::<Uuid>() {
                    Ok(session_id) => {
                        let forget_after = Timestamp::now().plus(retention).unix_seconds();
                        revoked.insert(session_id, forget_after);
                    }
                    Err(_) => tracing::warn!("ignoring a malformed revocation notification"),
                },
                // The connection dropped and was re-established: what was announced
                // meanwhile is lost, and the next poll reads it.
                Ok(None) => tracing::warn!("revocation listener reconnected"),
                Err(e) => {
                    tracing::warn!(error = %e, "revocation listener lost its connection; will retry");
                    tokio::time::sleep(retry).await;
                    break;
                }
            }
        }
    }
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
