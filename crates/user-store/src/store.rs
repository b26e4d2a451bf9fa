use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Pool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::StoreError;
use crate::error::DbResultExt;

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

/// Runs `$body` with `$pool` bound to whichever pool `$store` holds. The schema is the
/// same on both databases, so one query text serves both (`$n` placeholders are accepted
/// by SQLite too).
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// How each database starts a transaction that will write.
pub(crate) trait WriteTransaction: sqlx::Database {
    /// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that
    /// reads and then writes cannot fail with SQLITE_BUSY on the upgrade (the busy timeout
    /// queues writers instead). PostgreSQL: row locks and READ COMMITTED do the work.
    const BEGIN: &'static str;
    /// Which of two texts of one statement this database runs: they differ only where
    /// PostgreSQL needs an explicit row lock (`FOR SHARE`, `FOR UPDATE`) that SQLite has
    /// no syntax for and no need of (`BEGIN IMMEDIATE` serialises its writers).
    fn pick(sqlite: &'static str, postgres: &'static str) -> &'static str;
}

impl WriteTransaction for Sqlite {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    fn pick(sqlite: &'static str, _: &'static str) -> &'static str {
        sqlite
    }
}

impl WriteTransaction for Postgres {
    const BEGIN: &'static str = "BEGIN";
    fn pick(_: &'static str, postgres: &'static str) -> &'static str {
        postgres
    }
}

/// The text of a statement for `pool`'s database (see [`WriteTransaction::pick`]).
pub(crate) fn dialect<DB: WriteTransaction>(
    _pool: &Pool<DB>,
    sqlite: &'static str,
    postgres: &'static str,
) -> &'static str {
    DB::pick(sqlite, postgres)
}

pub(crate) async fn begin_write<DB: WriteTransaction>(
    pool: &Pool<DB>,
) -> Result<Transaction<'static, DB>, StoreError> {
    pool.begin_with(DB::BEGIN).await.db("begin transaction")
}

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`). SQLite files and their
    /// folder are created when missing.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid sqlite:// URL")?
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
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the database folder {}", dir.display())
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(|e| anyhow::Error::new(e).context("cannot open the SQLite database"))?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect(url)
                .await
                .map_err(|e| anyhow::Error::new(e).context("cannot connect to PostgreSQL"))?;
            Ok(Store::Postgres(pool))
        } else {
            Err(anyhow::anyhow!("DATABASE_URL must start with sqlite:// or postgres://").into())
        }
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
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.db("ping").map(|_| ()))
    }

    /// Which database this is, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}
