//! PostgreSQL: the server for several kefu nodes and many shops.

use crate::sql::impl_store;
use crate::{Result, StoreError};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct PgStore {
    pool: PgPool,
    /// The same pool: PostgreSQL's own locks order concurrent writers.
    writer: PgPool,
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names and migrates it.
    pub async fn open(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(format!("{url}: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            writer: pool.clone(),
            pool,
        })
    }

    fn make_broker(&self) -> Option<std::sync::Arc<dyn crate::broker::Broker>> {
        Some(std::sync::Arc::new(crate::broker::PgBroker::new(self.pool.clone())))
    }

    /// SQLite's batched path for common messages; PostgreSQL takes the full transaction,
    /// whose row lock orders a conversation's writers across nodes.
    async fn append_fast(
        &self,
        _shop: crate::ShopId,
        _id: crate::ConversationId,
        _new: &crate::NewEvent,
    ) -> Result<Option<crate::Appended>> {
        Ok(None)
    }
}

// The shop's lock is its row, locked so as not to block the key-share locks that inserting
// rows referring to the shop takes. Phrase edits and routing take it: concurrent hand-overs,
// on any node, then see each other's assignments and never exceed an agent's capacity.
impl_store!(
    PgStore,
    sqlx::Postgres,
    "postgres",
    "BEGIN",
    "SELECT id FROM shops WHERE id = $1 FOR NO KEY UPDATE"
);
