/// What can go wrong in the store, one variant per failure a caller acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("that username is taken")]
    UsernameTaken,
    /// The database did not answer in time or could not be reached: retry later (503).
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Too much password hashing is queued already: retry later (503). Refusing at once
    /// keeps memory and waiting bounded under a flood of logins.
    #[error("the password hashing queue is full")]
    Busy,
    /// A new password was refused by the strength check (400 `weak_password`).
    #[error(transparent)]
    WeakPassword(#[from] crate::PasswordError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StoreError {
    /// Sorts a sqlx error into "unavailable" (retry later: 503) or "unexpected" (a bug: 500).
    pub(crate) fn from_sqlx(err: sqlx::Error, context: &'static str) -> Self {
        if is_unavailable(&err) {
            StoreError::Unavailable(err)
        } else {
            StoreError::Unexpected(anyhow::Error::new(err).context(context))
        }
    }
}

/// Whether the database is unreachable, restarting or overloaded, rather than the query
/// being wrong: no connection in time, a broken or refused connection (a server that goes
/// away mid-handshake shows up as a protocol error), and the server's own "not now" codes.
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            if code.len() == 5 {
                // A PostgreSQL SQLSTATE (Appendix A): 08 connection exception, 53
                // insufficient resources (too many connections), 57P01-57P03 shutting
                // down or starting up.
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
            } else {
                // A SQLite result code, possibly extended: SQLITE_BUSY (5) or
                // SQLITE_LOCKED (6) once the busy timeout has passed.
                code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
            }
        }),
        _ => false,
    }
}

/// `.db(context)?` on a sqlx result: the one place sqlx errors become [`StoreError`].
pub(crate) trait DbResultExt<T> {
    fn db(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn db(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::from_sqlx(e, context))
    }
}
