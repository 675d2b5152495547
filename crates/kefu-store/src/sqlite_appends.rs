//! SQLite: the chat's common messages, stored in batches (group commit).
//!
//! Every statement sqlx runs on SQLite is a round trip to the connection's own thread: two
//! thread wake-ups, which on this kind of machine cost more than the insert itself (measured
//! with `perf` under `kefu bench chat`: two thirds of the server's time in the kernel's task
//! switching). One message at a time, the single writer keeps up with 2,000 messages/s only
//! just, and a hiccup leaves a backlog that never drains. So the messages that queue while a
//! batch is being written are written together, by one task: one `INSERT … SELECT` over all of
//! them and one read of their conversations. A quiet shop's message is a batch of one, with no
//! waiting for company; a busy moment makes batches larger instead of the queue longer.
//!
//! What a batch may hold is what `append_fast` may store alone (see migration 0007): a
//! message whose conversation needs nothing but its sequence advanced. A message the batch's
//! condition leaves out (a closed chat, an agent's first reply, a retried client id) comes back
//! as `None` and takes the full transaction. Two messages of one conversation never share a
//! batch, so each gets its own number from the trigger, in the order they were sent.
//!
//! A batch with messages search finds (text) is a transaction: the events' statement, then
//! their rows in the search index by the rowids it returned, then the commit — a message is
//! never stored without its index row, nor the other way round. Two round trips more than a
//! batch of images alone, once per batch.

use crate::Result;
use crate::rows::{ConversationRow, sender_columns};
use chrono::{DateTime, Utc};
use kefu_core::chat::{Conversation, Sender};
use kefu_core::ids::{ConversationId, ShopId};
// Built only from fixed text and placeholder counts; every value is bound.
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Connection, SqlitePool};
use std::collections::{HashMap, HashSet, VecDeque};
use tokio::sync::{mpsc, oneshot};

pub(crate) type Stored = (i64, Option<Conversation>);

/// At most this many messages in one statement (7 parameters each, far below SQLite's limit).
const MAX_BATCH: usize = 64;

/// A message to store, with where to send the outcome: its sequence number and the
/// conversation after it (`None` if reading it back failed: the caller reads it), or `None`
/// when the full path must decide.
pub(crate) struct Append {
    pub shop: ShopId,
    pub conversation: ConversationId,
    pub sender: Sender,
    pub client_id: Option<String>,
    pub body: serde_json::Value,
    /// Its row in the search index (`search_sql::sqlite_document`), if search finds it.
    pub document: Option<String>,
    pub at: DateTime<Utc>,
    pub reply: oneshot::Sender<Option<Stored>>,
}

/// Starts the task that writes batches through `writer`; it ends when the sender is dropped.
pub(crate) fn start(writer: SqlitePool) -> mpsc::UnboundedSender<Append> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(writer, rx));
    tx
}

async fn run(writer: SqlitePool, mut rx: mpsc::UnboundedReceiver<Append>) {
    // Messages put off because their conversation was already in the batch: first next time.
    let mut later: VecDeque<Append> = VecDeque::new();
    loop {
        let first = match later.pop_front() {
            Some(a) => a,
            None => match rx.recv().await {
                Some(a) => a,
                None => return,
            },
        };
        let mut batch = vec![first];
        let mut taken: HashSet<ConversationId> = HashSet::from([batch[0].conversation]);
        let mut put_off = VecDeque::new();
        while batch.len() < MAX_BATCH {
            let Some(a) = later.pop_front().or_else(|| rx.try_recv().ok()) else {
                break;
            };
            if taken.insert(a.conversation) {
                batch.push(a);
            } else {
                put_off.push_back(a);
            }
        }
        put_off.append(&mut later);
        later = put_off;
        let mut stored = match write(&writer, &batch).await {
            Ok(stored) => stored,
            Err(e) => {
                // The statement is atomic: nothing of the batch was stored. Each message is
                // tried again alone on the full path, which reports its own error.
                tracing::warn!(error = %e, messages = batch.len(), "storing a batch of chat messages");
                HashMap::new()
            }
        };
        for a in batch {
            let _ = a.reply.send(stored.remove(&a.conversation));
        }
    }
}

/// One statement for the batch's messages (and one for their index rows, in one transaction
/// with it), one read of their conversations. An error means nothing was stored.
async fn write(writer: &SqlitePool, batch: &[Append]) -> Result<HashMap<ConversationId, Stored>> {
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; batch.len()].join(", ");
    // `WHERE` before `ON CONFLICT` keeps SQLite's parser from reading it as the join's.
    let sql = format!(
        "INSERT INTO conversation_events (conversation_id, seq, shop_id, sender, sender_id, client_id, body, at)
         SELECT c.id, c.last_seq + 1, c.shop_id, v.column4, v.column5, v.column6, v.column7, v.column3
         FROM (VALUES {rows}) AS v
         JOIN conversations c ON c.shop_id = v.column1 AND c.id = v.column2
         WHERE CASE v.column4
             WHEN 'buyer' THEN c.state <> 'closed'
             WHEN 'agent' THEN c.state = 'assigned' AND c.agent_id = v.column5 AND c.agent_answered
                               AND c.buyer_waiting_since IS NULL
             ELSE 1 END
         ON CONFLICT DO NOTHING
         RETURNING rowid, conversation_id, seq"
    );
    let mut insert = sqlx::query_as::<_, (i64, uuid::Uuid, i64)>(AssertSqlSafe(sql));
    for a in batch {
        let (role, sender_id) = sender_columns(&a.sender);
        insert = insert
            .bind(a.shop.0)
            .bind(a.conversation.0)
            .bind(a.at)
            .bind(role)
            .bind(sender_id)
            .bind(a.client_id.as_deref())
            .bind(Json(&a.body));
    }
    let mut conn = writer.acquire().await?;
    let documents: HashMap<uuid::Uuid, &str> = batch
        .iter()
        .filter_map(|a| Some((a.conversation.0, a.document.as_deref()?)))
        .collect();
    let inserted = if documents.is_empty() {
        // One statement: atomic alone.
        insert.fetch_all(&mut *conn).await?
    } else {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = insert.fetch_all(&mut *tx).await?;
        let indexed: Vec<(i64, &str)> = inserted
            .iter()
            .filter_map(|(rowid, id, _)| Some((*rowid, *documents.get(id)?)))
            .collect();
        if !indexed.is_empty() {
            let rows = vec!["(?, ?)"; indexed.len()].join(", ");
            let sql = format!(
                concat!(
                    "INSERT INTO message_search (rowid, terms) SELECT v.column1, v.column2 || ",
                    crate::search_sql::sqlite_buyer_mark!(),
                    " FROM (VALUES {}) AS v JOIN conversation_events e ON e.rowid = v.column1
                     JOIN conversations c ON c.id = e.conversation_id"
                ),
                rows
            );
            // The months the shop has messages in (search narrows time ranges by them), in the
            // same round trip.
            let months: HashSet<(uuid::Uuid, i64)> = batch
                .iter()
                .filter(|a| a.document.is_some())
                .map(|a| (a.shop.0, crate::search_sql::month_number(a.at)))
                .collect();
            let sql = format!(
                "{sql}; INSERT OR IGNORE INTO search_months (shop_id, month) VALUES {}",
                vec!["(?, ?)"; months.len()].join(", ")
            );
            let mut index = sqlx::query(AssertSqlSafe(sql));
            for (rowid, document) in indexed {
                index = index.bind(rowid).bind(document);
            }
            for (shop, month) in months {
                index = index.bind(shop).bind(month);
            }
            index.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        inserted
    };
    let seqs: Vec<(uuid::Uuid, i64)> = inserted.into_iter().map(|(_, id, seq)| (id, seq)).collect();
    if seqs.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = vec!["?"; seqs.len()].join(", ");
    let sql = format!(
        concat!(
            "SELECT ",
            crate::chat_sql::conversation_columns!(),
            " FROM conversations WHERE id IN ({})"
        ),
        ids
    );
    let mut read = sqlx::query_as::<_, ConversationRow>(AssertSqlSafe(sql));
    for (id, _) in &seqs {
        read = read.bind(id);
    }
    // The messages are stored now: a failure here only leaves the conversations to the caller.
    let mut conversations: HashMap<uuid::Uuid, Conversation> = HashMap::new();
    match read.fetch_all(&mut *conn).await {
        Ok(rows) => {
            for row in rows {
                match Conversation::try_from(row) {
                    Ok(c) => {
                        conversations.insert(c.id.0, c);
                    }
                    Err(e) => tracing::warn!(error = %e, "reading a conversation back after its message"),
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading conversations back after their messages"),
    }
    Ok(seqs
        .into_iter()
        .map(|(id, seq)| (ConversationId(id), (seq, conversations.remove(&id))))
        .collect())
}
