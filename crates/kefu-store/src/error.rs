use thiserror::Error;

/// What can go wrong in storage, in terms callers act on.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The row does not exist in the caller's shop.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken (a taken username, SKU, order number …).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A rule of the data refuses the change (a category still in use, an answer rated twice).
    #[error("{0}")]
    Refused(String),
    /// The row changed since it was read (its version moved on): read it again and decide anew.
    #[error("it was changed meanwhile; reload and try again")]
    Stale,
    /// The database URL or options are unusable.
    #[error("database configuration: {0}")]
    Config(String),
    /// A stored value no longer parses as a domain value: a bug or a hand-edited database.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(
                db.constraint()
                    .map(str::to_string)
                    .unwrap_or_else(|| db.message().to_string()),
            ),
            _ => StoreError::Database(e),
        }
    }
}
