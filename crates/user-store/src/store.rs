use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};
use tokio::time::Instant;

use crate::StoreError;
use crate::error::{DbResultExt, is_unavailable};

/// The database: SQLite or PostgreSQL, chosen by the URL's scheme.
///
/// Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// Longest wait for a connection; past it the store answers [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Tries single connections to PostgreSQL until one succeeds, `patience` has passed, or
/// the server gives an answer that waiting will not change. One attempt at least, each
/// bounded by `attempt_timeout` (a partition hangs rather than refuses). Single
/// connections rather than the pool: the pool retries a refused connection by itself
/// until its timeout and then reports only that it timed out, not why.
async fn wait_for_postgres(
    connect: &PgConnectOptions,
    address: &str,
    attempt_timeout: Duration,
    patience: Duration,
) -> Result<(), StoreError> {
    const FIRST_PAUSE: Duration = Duration::from_millis(100);
    const LONGEST_PAUSE: Duration = Duration::from_secs(2);
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut attempt = 0u32;
    loop {
        attempt = attempt.saturating_add(1);
        let left = patience.saturating_sub(started.elapsed());
        let limit = attempt_timeout.min(left.max(Duration::from_secs(1)));
        let error = match tokio::time::timeout(limit, connect.connect()).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                return Ok(());
            }
            Ok(Err(e)) if is_unavailable(&e) => cause(&e),
            Ok(Err(e)) => {
                return Err(
                    anyhow!("cannot connect to the database at {address}: {}", cause(&e)).into(),
                );
            }
            Err(_) => format!("no answer within {limit:?}"),
        };
        let left = patience.saturating_sub(started.elapsed());
        if left.is_zero() {
            let waited = if patience.is_zero() {
                String::new()
            } else {
                format!(" after {patience:?}")
            };
            return Err(
                anyhow!("could not reach the database at {address}{waited}: {error}").into(),
            );
        }
        let retry_in = pause.min(left);
        tracing::warn!(
            attempt,
            address,
            error,
            retry_in = ?retry_in,
            "the database cannot be reached yet; retrying"
        );
        tokio::time::sleep(retry_in).await;
        pause = pause.saturating_mul(2).min(LONGEST_PAUSE);
    }
}

/// What went wrong, in the words of the layer that knows: the operating system's for a
/// refused or unresolvable connection, the server's for a refusal it explains. sqlx's
/// messages carry neither the URL nor the password.
fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`), trying once. SQLite files
    /// and their folder are created when missing.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        Self::connect_within(url, options, Duration::ZERO).await
    }

    /// [`Self::connect`], waiting up to `patience` for a PostgreSQL server that does not
    /// accept connections yet (starting up, restarting, or its host not resolvable yet, as
    /// when a compose file starts both at once): each failed attempt is logged and retried
    /// with backoff, and giving up names the address and the last cause. A URL that does
    /// not parse, and an answer that waiting will not change (a wrong password, a database
    /// that does not exist), fail at once. The error never shows the password.
    pub async fn connect_within(
        url: &str,
        options: &StoreOptions,
        patience: Duration,
    ) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Self::open_sqlite(url, options).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| anyhow!("invalid DATABASE_URL: {}", cause(&e)))?;
            let address = format!("{}:{}", connect.get_host(), connect.get_port());
            wait_for_postgres(&connect, &address, options.acquire_timeout, patience).await?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(|e| {
                    anyhow!("cannot connect to the database at {address}: {}", cause(&e))
                })?;
            Ok(Store::Postgres(pool))
        } else {
            Err(anyhow!("invalid DATABASE_URL: must start with sqlite:// or postgres://").into())
        }
    }

    async fn open_sqlite(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow!("invalid DATABASE_URL: not a valid sqlite:// URL: {e}"))?
            .create_if_missing(true)
            // WAL: readers never block the writer. FULL: a commit is on disk before
            // we answer, so an acknowledged registration or revocation survives a crash.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| anyhow::Error::new(e).context("cannot open the SQLite database"))?;
        Ok(Store::Sqlite(pool))
    }

    /// Applies the embedded migrations for this database (idempotent; on PostgreSQL
    /// concurrent replicas serialise on an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("../../migrations/sqlite").run(pool).await,
            Store::Postgres(pool) => sqlx::migrate!("../../migrations/postgres").run(pool).await,
        }
        .context("cannot apply database migrations")?;
        Ok(())
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.sql("SELECT 1").execute().await.db("ping").map(|_| ())
    }

    /// Which database this is, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool) => pool.close().await,
            Store::Postgres(pool) => pool.close().await,
        }
    }
}
