//! Chat records search (SPEC §5.5): the [`RecordStore`] part of every [`crate::Store`].
//!
//! The index lives in the database, so one node on SQLite and several on PostgreSQL search the
//! same way, and a message and its index row are written in one transaction (see
//! `index_event` in `chat_sql.rs`, and the batches of `sqlite_appends.rs`): nothing is ever
//! stored but not findable, or findable but not stored. What a message is indexed by is
//! `kefu_bot::search_terms` (jieba over the folded text); which messages are indexed is
//! [`kefu_core::chat::EventBody::searchable_text`].
//!
//! - SQLite: an FTS5 table keyed by the `conversation_events` rowid (migration 0010), each
//!   row's terms plus two marker tokens, the shop's and the month's (see [`sqlite_document`]),
//!   so that the index itself narrows a search to the shop and the time range. A search walks
//!   the index newest first and stops at the page's end; with a buyer, it starts from the
//!   buyer's chats instead (a handful of events, each checked against the index).
//! - PostgreSQL: a table of `tsvector`s with a GIN index, queried with
//!   `plainto_tsquery('simple', …)` (the terms bound as one parameter: no query syntax to escape).
//!
//! Results are newest first in the order stored (the order messages were sent, as each is
//! stored when it arrives); the cursor is the last result's place in that order.
//!
//! Messages stored before the index existed are indexed in the background after the store
//! opens (`search_backfill`, filled by migration 0010), a few conversations per transaction.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, Utc};
use kefu_core::chat::Sender;
use kefu_core::ids::{AccountId, ConversationId, ShopId};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use uuid::Uuid;

use crate::rows::EventRow;
use crate::{PgStore, Result, SqliteStore};

/// What to look for; every filter given must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageSearch {
    /// All of them must occur (`kefu_bot::search_terms::query_terms`). Empty: every message
    /// (only sensible with a buyer).
    pub terms: Vec<String>,
    /// The buyer's nick, exactly.
    pub buyer: Option<String>,
    /// Only conversations this agent was ever assigned (routing or 转接).
    pub agent: Option<AccountId>,
    /// Sent at or after.
    pub from: Option<DateTime<Utc>>,
    /// Sent before.
    pub to: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: i64,
    /// The previous page's [`Found::next_cursor`].
    pub cursor: Option<i64>,
}

/// One message found.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundMessage {
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender: Sender,
    pub buyer_nick: String,
    /// The conversation's (last) agent.
    pub agent_id: Option<AccountId>,
    pub agent_name: Option<String>,
    pub at: DateTime<Utc>,
    /// As written.
    pub text: String,
}

/// A page of results, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub items: Vec<FoundMessage>,
    /// Give it back as [`MessageSearch::cursor`] for the next page; `None` on the last one.
    pub next_cursor: Option<i64>,
}

/// Chat records (SPEC §5.5), part of every [`crate::Store`].
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// The shop's messages (people's and the bot's text messages) that hold every term and
    /// match every filter, newest first.
    async fn search_messages(&self, shop: ShopId, q: &MessageSearch) -> Result<Found>;
}

/// Marks no query term can be: query terms are letters and digits only, and `§` is neither.
const MARK: char = '§';

/// More months than this in a time range are not narrowed by the index, only filtered.
const MAX_MONTHS: usize = 36;

fn shop_token(shop: ShopId) -> String {
    format!("{MARK}s{}", shop.0.simple())
}

fn month_token(year: i32, month: u32) -> String {
    format!("{MARK}m{year:04}{month:02}")
}

/// The text an SQLite index row holds: the message's terms, the shop's mark and the month's.
pub(crate) fn sqlite_document(shop: ShopId, at: DateTime<Utc>, text: &str) -> String {
    let terms = kefu_bot::search_terms::index_terms(text);
    let marks = format!("{} {}", shop_token(shop), month_token(at.year(), at.month()));
    if terms.is_empty() {
        marks
    } else {
        format!("{terms} {marks}")
    }
}

/// The months a time range touches, for the index to narrow by; `None` when there are too
/// many or the range is open at its start. An open end is taken as a month after `now`: a
/// message stored later than that by a clock gone that far wrong is not found by it.
fn months(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<Vec<String>> {
    let from = from?;
    let last = match to {
        Some(to) => to - Duration::microseconds(1),
        None => from.max(now) + Duration::days(31),
    };
    let (mut y, mut m) = (from.year(), from.month());
    let end = (last.year(), last.month());
    let mut out = Vec::new();
    while (y, m) <= end {
        if out.len() == MAX_MONTHS {
            return None;
        }
        out.push(month_token(y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    Some(out)
}

/// An FTS5 query string: every term, the shop's mark, and one of the months. Each token is a
/// quoted string (quotes doubled), so nothing in a term is read as query syntax.
fn fts_query(shop: ShopId, terms: &[String], months: Option<&[String]>) -> String {
    let quote = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
    let mut q = quote(&shop_token(shop));
    for t in terms {
        q.push_str(" AND ");
        q.push_str(&quote(t));
    }
    if let Some(months) = months {
        let any: Vec<String> = months.iter().map(|m| quote(m)).collect();
        q.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    q
}

#[derive(sqlx::FromRow)]
struct FoundRow {
    place: i64,
    conversation_id: Uuid,
    seq: i64,
    sender: String,
    sender_id: Option<Uuid>,
    body: Json<serde_json::Value>,
    at: DateTime<Utc>,
    buyer_nick: String,
    agent_id: Option<Uuid>,
    agent_name: Option<String>,
}

const FOUND_COLUMNS: &str = "e.conversation_id, e.seq, e.sender, e.sender_id, e.body, e.at, c.buyer_nick, c.agent_id,
    a.display_name AS agent_name";

/// The page from rows fetched with one more than the limit: that one only says there is more.
fn page(rows: Vec<FoundRow>, limit: i64) -> Result<Found> {
    let more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for r in rows.into_iter().take(limit as usize) {
        last = Some(r.place);
        let event: kefu_core::chat::Event = EventRow {
            conversation_id: r.conversation_id,
            seq: r.seq,
            sender: r.sender,
            sender_id: r.sender_id,
            client_id: None,
            body: r.body,
            at: r.at,
        }
        .try_into()?;
        let Some(text) = event.body.searchable_text(&event.sender) else {
            continue;
        };
        items.push(FoundMessage {
            text: text.to_string(),
            conversation_id: event.conversation_id,
            seq: event.seq,
            sender: event.sender,
            buyer_nick: r.buyer_nick,
            agent_id: r.agent_id.map(AccountId),
            agent_name: r.agent_name,
            at: event.at,
        });
    }
    Ok(Found {
        items,
        next_cursor: if more { last } else { None },
    })
}

fn nothing_to_find(q: &MessageSearch) -> bool {
    q.limit < 1 || matches!((q.from, q.to), (Some(f), Some(t)) if f >= t)
}

#[async_trait]
impl RecordStore for SqliteStore {
    async fn search_messages(&self, shop: ShopId, q: &MessageSearch) -> Result<Found> {
        if nothing_to_find(q) {
            return Ok(Found::default());
        }
        let months = months(q.from, q.to, crate::now());
        let matched = fts_query(shop, &q.terms, months.as_deref());
        // The join order is spelled out (CROSS JOIN): from the index, newest first, when it
        // alone decides; from the buyer's chats when there is a buyer.
        let mut b = QueryBuilder::<sqlx::Sqlite>::new("SELECT e.rowid AS place, ");
        b.push(FOUND_COLUMNS);
        if let Some(buyer) = &q.buyer {
            b.push(
                " FROM conversations c
                  CROSS JOIN conversation_events e ON e.conversation_id = c.id
                  CROSS JOIN message_search s ON s.rowid = e.rowid
                  LEFT JOIN accounts a ON a.id = c.agent_id
                  WHERE c.shop_id = ",
            )
            .push_bind(shop.0)
            .push(" AND c.buyer_nick = ")
            .push_bind(buyer.as_str());
        } else {
            b.push(
                " FROM message_search s
                  CROSS JOIN conversation_events e ON e.rowid = s.rowid
                  CROSS JOIN conversations c ON c.id = e.conversation_id
                  LEFT JOIN accounts a ON a.id = c.agent_id
                  WHERE e.shop_id = ",
            )
            .push_bind(shop.0);
        }
        b.push(" AND message_search MATCH ").push_bind(matched);
        if let Some(cursor) = q.cursor {
            b.push(" AND s.rowid < ").push_bind(cursor);
        }
        if let Some(from) = q.from {
            b.push(" AND e.at >= ").push_bind(from);
        }
        if let Some(to) = q.to {
            b.push(" AND e.at < ").push_bind(to);
        }
        if let Some(agent) = q.agent {
            b.push(" AND EXISTS (SELECT 1 FROM conversation_agents ca WHERE ca.conversation_id = e.conversation_id AND ca.account_id = ")
                .push_bind(agent.0)
                .push(")");
        }
        b.push(" ORDER BY s.rowid DESC LIMIT ").push_bind(q.limit + 1);
        let rows: Vec<FoundRow> = b.build_query_as().fetch_all(&self.pool).await?;
        page(rows, q.limit)
    }
}

#[async_trait]
impl RecordStore for PgStore {
    async fn search_messages(&self, shop: ShopId, q: &MessageSearch) -> Result<Found> {
        if nothing_to_find(q) {
            return Ok(Found::default());
        }
        let mut b = QueryBuilder::<sqlx::Postgres>::new("SELECT s.id AS place, ");
        b.push(FOUND_COLUMNS);
        b.push(
            " FROM message_search s
              JOIN conversation_events e ON e.conversation_id = s.conversation_id AND e.seq = s.seq
              JOIN conversations c ON c.id = s.conversation_id
              LEFT JOIN accounts a ON a.id = c.agent_id
              WHERE s.shop_id = ",
        )
        .push_bind(shop.0);
        if !q.terms.is_empty() {
            b.push(" AND s.terms @@ plainto_tsquery('simple', ")
                .push_bind(q.terms.join(" "))
                .push(")");
        }
        if let Some(buyer) = &q.buyer {
            b.push(" AND c.buyer_nick = ").push_bind(buyer.as_str());
        }
        if let Some(cursor) = q.cursor {
            b.push(" AND s.id < ").push_bind(cursor);
        }
        if let Some(from) = q.from {
            b.push(" AND s.at >= ").push_bind(from);
        }
        if let Some(to) = q.to {
            b.push(" AND s.at < ").push_bind(to);
        }
        if let Some(agent) = q.agent {
            b.push(" AND EXISTS (SELECT 1 FROM conversation_agents ca WHERE ca.conversation_id = s.conversation_id AND ca.account_id = ")
                .push_bind(agent.0)
                .push(")");
        }
        b.push(" ORDER BY s.id DESC LIMIT ").push_bind(q.limit + 1);
        let rows: Vec<FoundRow> = b.build_query_as().fetch_all(&self.pool).await?;
        page(rows, q.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_time_range_is_the_months_it_touches() {
        let now = day(2026, 11, 20);
        assert_eq!(
            months(Some(day(2026, 11, 3)), Some(day(2026, 12, 1)), now).unwrap(),
            ["§m202611"],
            "the end is not included"
        );
        assert_eq!(
            months(Some(day(2025, 12, 31)), Some(day(2026, 2, 1) + Duration::hours(1)), now).unwrap(),
            ["§m202512", "§m202601", "§m202602"]
        );
        // Open at the end: up to a month after now.
        assert_eq!(
            months(Some(day(2026, 11, 3)), None, now).unwrap(),
            ["§m202611", "§m202612"]
        );
        assert_eq!(months(None, Some(day(2026, 1, 1)), now), None);
        assert_eq!(months(Some(day(2020, 1, 1)), Some(day(2026, 1, 1)), now), None);
    }

    #[test]
    fn queries_quote_every_token() {
        let shop = ShopId(Uuid::nil());
        let q = fts_query(
            shop,
            &["顺丰".into(), "a\"b".into()],
            Some(&["§m202611".into(), "§m202612".into()]),
        );
        assert_eq!(
            q,
            format!(
                "\"§s{}\" AND \"顺丰\" AND \"a\"\"b\" AND (\"§m202611\" OR \"§m202612\")",
                Uuid::nil().simple()
            )
        );
        let doc = sqlite_document(shop, day(2026, 11, 3), "能发顺丰吗");
        assert!(doc.starts_with("能") && doc.contains("顺丰"), "{doc}");
        assert!(doc.ends_with(&format!("§s{} §m202611", Uuid::nil().simple())), "{doc}");
        assert_eq!(
            sqlite_document(shop, day(2026, 11, 3), "😊"),
            format!("§s{} §m202611", Uuid::nil().simple())
        );
    }
}
