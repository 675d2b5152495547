//! SQLite: the embedded default. One file on disk, write-ahead log for concurrent readers,
//! foreign keys enforced.

use crate::sql::impl_store;
use crate::{Result, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that writes (see `sql.rs`).
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file a `sqlite://` URL names and migrates it.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, writer })
    }
}

// Write transactions take the write lock when they begin: a deferred one that has read
// cannot wait for the lock when it then writes (SQLite answers "database is locked" at once
// rather than risk a deadlock), so a busy moment would fail a request instead of queueing it.
//
// The immediate transaction already excludes every other writer, so taking the shop's lock
// (phrase edits, routing) is only checking the shop exists.
impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    "BEGIN IMMEDIATE",
    "SELECT id FROM shops WHERE id = $1"
);
