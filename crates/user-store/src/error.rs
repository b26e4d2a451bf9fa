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
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StoreError {
    /// Sorts a sqlx error into "unavailable" (pool timeout, I/O) or "unexpected".
    pub(crate) fn from_sqlx(err: sqlx::Error, context: &'static str) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(err)
            }
            other => StoreError::Unexpected(anyhow::Error::new(other).context(context)),
        }
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
