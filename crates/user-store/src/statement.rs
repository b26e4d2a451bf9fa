//! One statement text, run on whichever database the store holds.
//!
//! The schema is the same on both databases and SQLite accepts PostgreSQL's `$n`
//! placeholders, so every query is written once, as ordinary code: [`Store::sql`] (on the
//! pool) or [`WriteTx::sql`] (in a transaction) starts a [`Statement`], `bind` adds its
//! arguments, and only the last step (`execute`, `fetch_*`) looks at which database runs
//! it. The one place the two texts differ, PostgreSQL's explicit row locks, is
//! [`WriteTx::sql_locking`].
//!
//! ```ignore
//! let mut tx = store.begin_write().await?;
//! let spent = tx.sql(SPEND).bind(now).bind(id).execute().await.db("spend")?;
//! tx.commit().await.db("commit")?;
//! ```

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{
    Arguments, AssertSqlSafe, Database, Encode, FromRow, Pool, Postgres, SqlSafeStr, SqlStr,
    Sqlite, Transaction, Type,
};

use crate::error::DbResultExt;
use crate::{Store, StoreError};

/// A row type (or a tuple of columns) that both databases can decode.
pub(crate) trait FromEitherRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> FromEitherRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A value that both databases can bind.
pub(crate) trait BindEither<'t>:
    Encode<'t, Sqlite> + Type<Sqlite> + Encode<'t, Postgres> + Type<Postgres>
{
}

impl<'t, T> BindEither<'t> for T where
    T: Encode<'t, Sqlite> + Type<Sqlite> + Encode<'t, Postgres> + Type<Postgres>
{
}

/// A write transaction on either database; dropped without [`WriteTx::commit`], it rolls
/// back.
pub(crate) enum WriteTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Where a statement runs: the pool (each statement its own transaction) or the connection
/// of an open transaction.
enum On<'a, DB: Database> {
    Pool(&'a Pool<DB>),
    Tx(&'a mut DB::Connection),
}

/// The executor and the arguments bound so far (or the first encoding error, reported
/// when the statement runs, as `sqlx::Query::bind` does: [`sqlx::Error::Encode`]).
enum Bound<'a> {
    Sqlite(On<'a, Sqlite>, Result<SqliteArguments, BoxDynError>),
    Postgres(On<'a, Postgres>, Result<PgArguments, BoxDynError>),
}

/// One statement with its arguments, ready to run on one database.
#[must_use = "a statement does nothing until it is executed or fetched"]
pub(crate) struct Statement<'a> {
    sql: SqlStr,
    bound: Bound<'a>,
}

impl Store {
    /// A statement run on the pool.
    pub(crate) fn sql(&self, sql: &'static str) -> Statement<'_> {
        let bound = match self {
            Store::Sqlite(pool) => Bound::Sqlite(On::Pool(pool), Ok(Default::default())),
            Store::Postgres(pool) => Bound::Postgres(On::Pool(pool), Ok(Default::default())),
        };
        Statement {
            sql: sql.into_sql_str(),
            bound,
        }
    }

    /// Starts a transaction that will write. SQLite: `BEGIN IMMEDIATE` takes the write
    /// lock up front, so a transaction that reads and then writes cannot fail with
    /// SQLITE_BUSY on the upgrade (the busy timeout queues writers instead). PostgreSQL:
    /// row locks ([`WriteTx::sql_locking`]) and READ COMMITTED do the work.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        match self {
            Store::Sqlite(pool) => pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map(WriteTx::Sqlite),
            Store::Postgres(pool) => pool.begin_with("BEGIN").await.map(WriteTx::Postgres),
        }
        .db("begin transaction")
    }
}

impl WriteTx {
    /// A statement run in this transaction.
    pub(crate) fn sql(&mut self, sql: &'static str) -> Statement<'_> {
        self.statement(sql.into_sql_str(), sql.into_sql_str())
    }

    /// `sql`, with `postgres_lock` (`FOR SHARE`, `FOR UPDATE OF …`) appended on PostgreSQL:
    /// the row lock that SQLite has no syntax for and no need of (`BEGIN IMMEDIATE`
    /// serialises its writers).
    pub(crate) fn sql_locking(
        &mut self,
        sql: &'static str,
        postgres_lock: &'static str,
    ) -> Statement<'_> {
        let locking = AssertSqlSafe(format!("{sql} {postgres_lock}"));
        self.statement(sql.into_sql_str(), locking.into_sql_str())
    }

    fn statement(&mut self, sqlite: SqlStr, postgres: SqlStr) -> Statement<'_> {
        match self {
            WriteTx::Sqlite(tx) => Statement {
                sql: sqlite,
                bound: Bound::Sqlite(On::Tx(&mut **tx), Ok(Default::default())),
            },
            WriteTx::Postgres(tx) => Statement {
                sql: postgres,
                bound: Bound::Postgres(On::Tx(&mut **tx), Ok(Default::default())),
            },
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await,
            WriteTx::Postgres(tx) => tx.commit().await,
        }
    }
}

impl Statement<'_> {
    /// Binds the next `$n`.
    pub(crate) fn bind<'t>(mut self, value: impl BindEither<'t>) -> Self {
        match &mut self.bound {
            Bound::Sqlite(_, args) => add(args, value),
            Bound::Postgres(_, args) => add(args, value),
        }
        self
    }

    /// Runs the statement; returns how many rows it changed.
    pub(crate) async fn execute(self) -> Result<u64, sqlx::Error> {
        match self.bound {
            Bound::Sqlite(on, args) => {
                let query = sqlx::query_with(self.sql, args.map_err(sqlx::Error::Encode)?);
                match on {
                    On::Pool(pool) => query.execute(pool).await,
                    On::Tx(conn) => query.execute(conn).await,
                }
                .map(|done| done.rows_affected())
            }
            Bound::Postgres(on, args) => {
                let query = sqlx::query_with(self.sql, args.map_err(sqlx::Error::Encode)?);
                match on {
                    On::Pool(pool) => query.execute(pool).await,
                    On::Tx(conn) => query.execute(conn).await,
                }
                .map(|done| done.rows_affected())
            }
        }
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<O: FromEitherRow>(self) -> Result<Option<O>, sqlx::Error> {
        match self.bound {
            Bound::Sqlite(on, args) => {
                let query = sqlx::query_as_with(self.sql, args.map_err(sqlx::Error::Encode)?);
                match on {
                    On::Pool(pool) => query.fetch_optional(pool).await,
                    On::Tx(conn) => query.fetch_optional(conn).await,
                }
            }
            Bound::Postgres(on, args) => {
                let query = sqlx::query_as_with(self.sql, args.map_err(sqlx::Error::Encode)?);
                match on {
                    On::Pool(pool) => query.fetch_optional(pool).await,
                    On::Tx(conn) => query.fetch_optional(conn).await,
                }
            }
        }
    }

    /// Every row.
    pub(crate) async fn fetch_all<O: FromEitherRow>(self) -> Result<Vec<O>, sqlx::Error> {
        match self.bound {
            Bound::Sqlite(on, args) => {
                let query = sqlx::query_as_with(self.sql, args.map_err(sqlx::Error::Encode)?);
                match on {
                    On::Pool(pool) => query.fetch_all(pool).await,
                    On::Tx(conn) => query.fetch_all(conn).await,
                }
            }
            Bound::Postgres(on, args) => {
                let query = sqlx::query_as_with(self.sql, args.map_err(sqlx::Error::Encode)?);
                match on {
                    On::Pool(pool) => query.fetch_all(pool).await,
                    On::Tx(conn) => query.fetch_all(conn).await,
                }
            }
        }
    }

    /// The first row; [`sqlx::Error::RowNotFound`] when there is none.
    pub(crate) async fn fetch_one<O: FromEitherRow>(self) -> Result<O, sqlx::Error> {
        self.fetch_optional().await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the first row, if any.
    pub(crate) async fn fetch_optional_scalar<T>(self) -> Result<Option<T>, sqlx::Error>
    where
        (T,): FromEitherRow,
    {
        Ok(self.fetch_optional::<(T,)>().await?.map(|(value,)| value))
    }

    /// The first column of the first row; [`sqlx::Error::RowNotFound`] when there is none.
    pub(crate) async fn fetch_one_scalar<T>(self) -> Result<T, sqlx::Error>
    where
        (T,): FromEitherRow,
    {
        Ok(self.fetch_one::<(T,)>().await?.0)
    }

    /// The first column of every row.
    pub(crate) async fn fetch_all_scalar<T>(self) -> Result<Vec<T>, sqlx::Error>
    where
        (T,): FromEitherRow,
    {
        let rows = self.fetch_all::<(T,)>().await?;
        Ok(rows.into_iter().map(|(value,)| value).collect())
    }
}

/// Adds `value` to `args`, keeping the first encoding error.
fn add<'t, A: Arguments>(
    args: &mut Result<A, BoxDynError>,
    value: impl Encode<'t, A::Database> + Type<A::Database>,
) {
    if let Ok(arguments) = args
        && let Err(error) = arguments.add(value)
    {
        *args = Err(error);
    }
}
