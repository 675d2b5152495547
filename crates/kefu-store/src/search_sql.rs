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
//!   row's terms plus marker tokens for the shop, the month and the buyer (see
//!   [`sqlite_document`] and `sqlite_buyer_mark!`), so that the index itself narrows a search
//!   to the shop, the time range and the buyer. A search walks the index newest first and stops
//!   at the page's end; the agent's chats are a filter on what it yields.
//! - PostgreSQL: a table of `tsvector`s with a GIN index, queried with
//!   `plainto_tsquery('simple', …)` (the terms bound as one parameter: no query syntax to
//!   escape), and an index of the shop's messages by time.
//!
//! Results are newest first: on SQLite in the order stored (the order messages were sent, as
//! each is stored when it arrives), on PostgreSQL by time. The cursor is the last result's
//! place in that order.
//!
//! Messages stored before the index existed are indexed in the background after the store
//! opens (`search_backfill`, filled by migration 0010), a few conversations per transaction.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
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

/// A time range needing more year and month marks than this is not narrowed by the index,
/// only filtered.
const MAX_TIME_MARKS: usize = 48;

fn shop_token(shop: ShopId) -> String {
    format!("{MARK}s{}", shop.0.simple())
}

fn month_token(year: i32, month: u32) -> String {
    format!("{MARK}m{year:04}{month:02}")
}

fn year_token(year: i32) -> String {
    format!("{MARK}y{year:04}")
}

fn day_token(day: chrono::NaiveDate) -> String {
    format!("{MARK}d{}", day.format("%Y%m%d"))
}

/// The buyer's mark, which SQLite adds to an index row from the conversation (`c`) the event
/// belongs to: the start of the nick's UTF-8 in hexadecimal (the nick is checked exactly
/// besides). A conversation's nick is set when it starts and never changes.
macro_rules! sqlite_buyer_mark {
    () => {
        "' §b' || substr(hex(c.buyer_nick), 1, 128)"
    };
}
pub(crate) use sqlite_buyer_mark;

/// [`sqlite_buyer_mark!`] for a nick, as a query names it.
fn buyer_token(nick: &str) -> String {
    let hex: String = nick.bytes().map(|b| format!("{b:02X}")).collect();
    format!("{MARK}b{}", &hex[..hex.len().min(128)])
}

/// The text an SQLite index row holds, but the buyer's mark: the message's terms, the shop's
/// mark, the year's, the month's and the day's (UTC).
pub(crate) fn sqlite_document(shop: ShopId, at: DateTime<Utc>, text: &str) -> String {
    let terms = kefu_bot::search_terms::index_terms(text);
    let marks = format!(
        "{} {} {} {}",
        shop_token(shop),
        year_token(at.year()),
        month_token(at.year(), at.month()),
        day_token(at.date_naive())
    );
    if terms.is_empty() {
        marks
    } else {
        format!("{terms} {marks}")
    }
}

/// A month as `search_months` keeps it: yyyymm.
pub(crate) fn month_number(at: DateTime<Utc>) -> i64 {
    i64::from(at.year()) * 100 + i64::from(at.month())
}

/// A range of days this short, within a month, is marked day by day (else by the month).
const MAX_DAYS: i64 = 10;

/// The start of a month (1–12, or 13 for January of the next year), UTC.
fn month_start(year: i32, month: u32) -> DateTime<Utc> {
    let (year, month) = if month > 12 { (year + 1, 1) } else { (year, month) };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .expect("a month's first instant")
}

/// The marks that narrow a search to a time range, from the months the shop has messages in
/// (`existing`, yyyymm, ascending) that the range touches: a year's mark where the range
/// holds all of that year's months, a month's where it holds the month, and where it holds
/// only part of one, the days' marks if they are few, else the month's. `None` when that is
/// too many marks to be worth it (the times are then only filtered). The marks find a
/// superset; the times themselves are filtered besides.
fn time_marks(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, existing: &[i64]) -> Option<Vec<String>> {
    let mut marks = Vec::new();
    for year in existing.chunk_by(|a, b| a / 100 == b / 100) {
        let mut whole = true;
        let mut of_year = Vec::new();
        for m in year {
            let (y, mo) = ((m / 100) as i32, (m % 100) as u32);
            let (start, end) = (month_start(y, mo), month_start(y, mo + 1));
            let (lo, hi) = (from.map_or(start, |f| f.max(start)), to.map_or(end, |t| t.min(end)));
            if lo >= hi {
                whole = false;
                continue;
            }
            if lo == start && hi == end {
                of_year.push(month_token(y, mo));
                continue;
            }
            whole = false;
            let (first, last) = (lo.date_naive(), (hi - Duration::microseconds(1)).date_naive());
            if (last - first).num_days() < MAX_DAYS {
                of_year.extend(first.iter_days().take_while(|d| *d <= last).map(day_token));
            } else {
                of_year.push(month_token(y, mo));
            }
        }
        if whole {
            marks.push(year_token((year[0] / 100) as i32));
        } else {
            marks.append(&mut of_year);
        }
    }
    (marks.len() <= MAX_TIME_MARKS).then_some(marks)
}

/// An FTS5 query string: every term, the shop's mark, the buyer's, and one of the time marks.
/// Each token is a quoted string (quotes doubled), so nothing in a term is read as query syntax.
fn fts_query(shop: ShopId, terms: &[String], buyer: Option<&str>, times: Option<&[String]>) -> String {
    let quote = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
    let mut q = quote(&shop_token(shop));
    if let Some(buyer) = buyer {
        q.push_str(" AND ");
        q.push_str(&quote(&buyer_token(buyer)));
    }
    for t in terms {
        q.push_str(" AND ");
        q.push_str(&quote(t));
    }
    if let Some(times) = times {
        let any: Vec<String> = times.iter().map(|m| quote(m)).collect();
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
        let marks = if q.from.is_some() || q.to.is_some() {
            let existing: Vec<(i64,)> =
                sqlx::query_as("SELECT month FROM search_months WHERE shop_id = $1 ORDER BY month")
                    .bind(shop.0)
                    .fetch_all(&self.pool)
                    .await?;
            let existing: Vec<i64> = existing.into_iter().map(|(m,)| m).collect();
            match time_marks(q.from, q.to, &existing) {
                Some(marks) if marks.is_empty() => return Ok(Found::default()),
                marks => marks,
            }
        } else {
            None
        };
        let matched = fts_query(shop, &q.terms, q.buyer.as_deref(), marks.as_deref());
        // The index decides, newest first (CROSS JOIN keeps it the outer loop); the rest only
        // filters the rows it yields.
        let mut b = QueryBuilder::<sqlx::Sqlite>::new("SELECT e.rowid AS place, ");
        b.push(FOUND_COLUMNS);
        b.push(
            " FROM message_search s
              CROSS JOIN conversation_events e ON e.rowid = s.rowid
              CROSS JOIN conversations c ON c.id = e.conversation_id
              LEFT JOIN accounts a ON a.id = c.agent_id
              WHERE e.shop_id = ",
        )
        .push_bind(shop.0);
        if let Some(buyer) = &q.buyer {
            b.push(" AND c.buyer_nick = ").push_bind(buyer.as_str());
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
            b.push(" AND (s.at, s.id) < (SELECT p.at, p.id FROM message_search p WHERE p.id = ")
                .push_bind(cursor)
                .push(")");
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
        b.push(" ORDER BY s.at DESC, s.id DESC LIMIT ").push_bind(q.limit + 1);
        // Planned for these values each time (an unnamed statement): a plan made for any
        // query (PostgreSQL's generic plan after a few runs) walks the shop's messages by
        // time even for a word three of them hold.
        let rows: Vec<FoundRow> = b.build_query_as().persistent(false).fetch_all(&self.pool).await?;
        page(rows, q.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_time_range_is_the_years_months_and_days_it_touches() {
        let existing = [202511, 202512, 202601, 202602, 202611];
        let marks = |from, to| time_marks(from, to, &existing).unwrap();
        // Whole months; a year's mark for all the months it has.
        assert_eq!(
            marks(Some(day(2025, 12, 1)), Some(day(2026, 2, 1))),
            ["§m202512", "§m202601"]
        );
        assert_eq!(marks(Some(day(2025, 12, 1)), None), ["§m202512", "§y2026"]);
        assert_eq!(marks(None, Some(day(2026, 1, 1))), ["§y2025"]);
        // Part of a month: its days when few, else the month.
        assert_eq!(
            marks(Some(day(2026, 11, 3)), Some(day(2026, 11, 5) + Duration::hours(1))),
            ["§d20261103", "§d20261104", "§d20261105"]
        );
        assert_eq!(
            marks(Some(day(2026, 11, 3) + Duration::hours(20)), Some(day(2026, 11, 4))),
            ["§d20261103"],
            "the end is not included"
        );
        assert_eq!(marks(Some(day(2026, 11, 3)), Some(day(2026, 12, 1))), ["§m202611"]);
        assert_eq!(
            marks(Some(day(2025, 12, 31)), Some(day(2026, 2, 1) + Duration::hours(1))),
            ["§d20251231", "§m202601", "§d20260201"]
        );
        assert_eq!(marks(Some(day(2026, 2, 3)), None), ["§m202602", "§m202611"]);
        // No messages then: nothing to find.
        assert!(marks(Some(day(2026, 3, 1)), Some(day(2026, 11, 1))).is_empty());
        assert!(time_marks(None, Some(day(2026, 1, 1)), &[]).unwrap().is_empty());
        // Too many marks: none, the times are only filtered.
        let januaries: Vec<i64> = (1950..2010).map(|y| y * 100 + 1).collect();
        assert_eq!(time_marks(Some(day(1950, 6, 1)), None, &januaries), None);
        assert_eq!(
            time_marks(Some(day(1970, 6, 1)), None, &januaries).map(|m| m.len()),
            Some(39)
        );
    }

    #[test]
    fn queries_quote_every_token() {
        let shop = ShopId(Uuid::nil());
        let q = fts_query(
            shop,
            &["顺丰".into(), "a\"b".into()],
            Some("小王"),
            Some(&["§m202611".into(), "§m202612".into()]),
        );
        assert_eq!(
            q,
            format!(
                "\"§s{}\" AND \"§bE5B08FE78E8B\" AND \"顺丰\" AND \"a\"\"b\" AND (\"§m202611\" OR \"§m202612\")",
                Uuid::nil().simple()
            )
        );
        assert_eq!(buyer_token(&"王".repeat(50)).len(), "§b".len() + 128);
        let doc = sqlite_document(shop, day(2026, 11, 3), "能发顺丰吗");
        assert!(doc.starts_with("能") && doc.contains("顺丰"), "{doc}");
        assert!(
            doc.ends_with(&format!("§s{} §y2026 §m202611 §d20261103", Uuid::nil().simple())),
            "{doc}"
        );
        assert_eq!(
            sqlite_document(shop, day(2026, 11, 3), "😊"),
            format!("§s{} §y2026 §m202611 §d20261103", Uuid::nil().simple())
        );
    }
}
