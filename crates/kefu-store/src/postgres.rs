//! PostgreSQL: the server for several kefu nodes and many shops.

use crate::sql::impl_store;
use crate::{Result, StoreError};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct PgStore {
    pub(crate) pool: PgPool,
    /// The same pool: PostgreSQL's own locks order concurrent writers.
    pub(crate) writer: PgPool,
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
        tokio::task::spawn_blocking(kefu_bot::search_terms::warm);
        Self::check_search_version(&pool).await?;
        Self::start_backfill(pool.clone());
        Ok(PgStore {
            writer: pool.clone(),
            pool,
        })
    }

    fn make_broker(&self) -> Option<std::sync::Arc<dyn crate::broker::Broker>> {
        Some(std::sync::Arc::new(crate::broker::PgBroker::new(self.pool.clone())))
    }

    /// An event's row in the search index (`search_sql.rs`): $1 shop, $2 conversation, $3 seq,
    /// $4 time, $5 the document (its terms). A backfill meeting a row the live path wrote skips it.
    const INDEX_EVENT: &'static str = "INSERT INTO message_search (conversation_id, seq, shop_id, at, terms)
         VALUES ($2, $3, $1, $4, to_tsvector('simple', $5)) ON CONFLICT DO NOTHING";

    /// Nodes claiming at once take different rows: $1 now, $2 until, $3 token, $4 limit.
    const CLAIM_DELIVERIES: &'static str = concat!(
        "UPDATE webhook_deliveries SET claimed_until = $2, claim_token = $3 WHERE id IN (SELECT d.id ",
        crate::hook_sql::due_deliveries!(),
        " ORDER BY d.next_attempt_at LIMIT $4 FOR UPDATE OF d SKIP LOCKED)"
    );
    const CLAIM_MAILS: &'static str = concat!(
        "UPDATE mail_outbox SET claimed_until = $2, claim_token = $3 WHERE id IN (SELECT id ",
        crate::hook_sql::due_mails!(),
        " ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)"
    );

    /// Several nodes may backfill at once: each takes conversations the others have not.
    const BACKFILL_PICK: &'static str =
        "SELECT conversation_id, up_to_seq FROM search_backfill LIMIT $1 FOR UPDATE SKIP LOCKED";
    /// Nodes starting together: the first one decides, the others then see its version.
    const SEARCH_VERSION: &'static str = "SELECT terms_version FROM search_meta FOR UPDATE";
    const CLEAR_INDEX: &'static str = "DELETE FROM message_search";

    fn search_document(_shop: crate::ShopId, _at: chrono::DateTime<chrono::Utc>, text: &str) -> String {
        kefu_bot::search_terms::index_terms(text)
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
