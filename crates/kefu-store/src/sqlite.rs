//! SQLite: the embedded default. One file on disk, write-ahead log for concurrent readers,
//! foreign keys enforced.

use crate::sql::impl_store;
use crate::sqlite_appends::{self, Append};
use crate::{Appended, ChatStore, NewEvent, Result, StoreError};
use kefu_core::chat::{Event, EventBody};
use kefu_core::ids::{ConversationId, ShopId};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The one connection that writes (see `sql.rs`).
    pub(crate) writer: SqlitePool,
    /// The chat's common messages, written in batches (`sqlite_appends.rs`).
    appends: tokio::sync::mpsc::UnboundedSender<Append>,
}

impl SqliteStore {
    /// One node: nobody else to tell.
    fn make_broker(&self) -> Option<std::sync::Arc<dyn crate::broker::Broker>> {
        None
    }

    /// Opens (creating if missing) the database file a `sqlite://` URL names and migrates it.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Checkpoints are not left to whichever commit crosses the threshold: that commit
            // would wait for the database file's sync (measured: stalls of ~0.5 s, the chat's
            // p99 at 2,000 messages/s). A task checkpoints in the background instead.
            .pragma("wal_autocheckpoint", "0");
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
        tokio::spawn(checkpoints(pool.clone()));
        let appends = sqlite_appends::start(writer.clone());
        tokio::task::spawn_blocking(kefu_bot::search_terms::warm);
        Self::check_search_version(&writer).await?;
        Self::start_backfill(writer.clone());
        Ok(SqliteStore { pool, writer, appends })
    }

    /// An event's row in the search index (`search_sql.rs`) and its month in the shop's:
    /// $1 shop, $2 conversation, $3 seq, $4 time, $5 the document (the shop's and the time's
    /// marks are in it; the buyer's is added here).
    const INDEX_EVENT: &'static str = concat!(
        "INSERT INTO message_search (rowid, terms) SELECT e.rowid, $5 || ",
        crate::search_sql::sqlite_buyer_mark!(),
        " FROM conversation_events e JOIN conversations c ON c.id = e.conversation_id
         WHERE e.conversation_id = $2 AND e.seq = $3;
         INSERT OR IGNORE INTO search_months (shop_id, month) VALUES ($1, CAST(strftime('%Y%m', $4) AS INTEGER))"
    );

    /// The single writer makes this claim atomic: $1 now, $2 until, $3 token, $4 limit.
    const CLAIM_DELIVERIES: &'static str = concat!(
        "UPDATE webhook_deliveries SET claimed_until = $2, claim_token = $3 WHERE id IN (SELECT d.id ",
        crate::hook_sql::due_deliveries!(),
        " ORDER BY d.next_attempt_at LIMIT $4)"
    );
    const CLAIM_MAILS: &'static str = concat!(
        "UPDATE mail_outbox SET claimed_until = $2, claim_token = $3 WHERE id IN (SELECT id ",
        crate::hook_sql::due_mails!(),
        " ORDER BY next_attempt_at LIMIT $4)"
    );

    const BACKFILL_PICK: &'static str = "SELECT conversation_id, up_to_seq FROM search_backfill LIMIT $1";
    const SEARCH_VERSION: &'static str = "SELECT terms_version FROM search_meta";
    const CLEAR_INDEX: &'static str = "INSERT INTO message_search (message_search) VALUES ('delete-all')";

    fn search_document(shop: ShopId, at: chrono::DateTime<chrono::Utc>, text: &str) -> String {
        crate::search_sql::sqlite_document(shop, at, text)
    }

    /// A message that changes nothing but its conversation's sequence (see migration 0007),
    /// stored in the next batch. `None` when it does not apply (a first reply, a closed chat,
    /// a retried client id …): the full transaction then decides.
    async fn append_fast(&self, shop: ShopId, id: ConversationId, new: &NewEvent) -> Result<Option<Appended>> {
        // A message the compliance guard warned about is counted (a statistics event): the
        // full transaction stores it.
        let EventBody::Message { compliance, .. } = &new.body else {
            return Ok(None);
        };
        if !compliance.is_empty() {
            return Ok(None);
        }
        let body = serde_json::to_value(&new.body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?;
        // Segmented here, on the caller's task: the batch's writer only writes.
        let document = new
            .body
            .searchable_text(&new.sender)
            .map(|text| Self::search_document(shop, new.at, text));
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let append = Append {
            shop,
            conversation: id,
            sender: new.sender,
            client_id: new.client_id.clone(),
            body,
            document,
            at: new.at,
            reply,
        };
        if self.appends.send(append).is_err() {
            return Ok(None);
        }
        let Ok(Some((seq, conversation))) = outcome.await else {
            return Ok(None);
        };
        let conversation = match conversation {
            Some(c) => c,
            None => self.conversation(shop, id).await?.ok_or(StoreError::NotFound)?,
        };
        let event = Event {
            conversation_id: id,
            seq,
            sender: new.sender,
            client_id: new.client_id.clone(),
            body: new.body.clone(),
            at: new.at,
        };
        Ok(Some(Appended {
            event,
            conversation,
            duplicate: false,
        }))
    }
}

/// Copies the write-ahead log into the database file every second, without blocking readers
/// or the writer (PASSIVE), until the store closes.
async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "checkpointing the SQLite log");
        }
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
