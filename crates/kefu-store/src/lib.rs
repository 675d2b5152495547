//! kefu's storage: one [`Store`] interface that speaks domain types, implemented for SQLite
//! (embedded, the default) and PostgreSQL (for several nodes). Each engine has its own
//! plain-SQL migrations in `migrations/<engine>/`, applied when the store opens. The SQL
//! itself is shared: both engines accept `$1` placeholders, so [`sql`] writes each query once
//! and a macro instantiates it for both pools.

mod chat_sql;
mod customer_sql;
mod error;
mod hook_sql;
mod order_sql;
mod postgres;
mod product_sql;
mod rows;
mod search_sql;
mod sql;
mod sqlite;
mod sqlite_appends;

pub use customer_sql::{
    AuditEntry, AuditQuery, BEHAVIOUR_MESSAGES, BuyerTypeRecord, CustomerFacts, CustomerFilter, CustomerGroup,
    CustomerNote, CustomerStore, NewOutreach, NewReminder, REFUSED_CAP_REACHED, REFUSED_NOT_AWAITING,
    REFUSED_OPTED_OUT, ReasonStats, ReminderRecord, ReminderStats, VisitQuery, buyer_visitor,
};
pub mod broker;
pub use error::StoreError;
pub use hook_sql::{
    Attempt, AttemptOutcome, ClaimedDelivery, ClaimedMail, Delivery, HookStore, MailRecord, NewMail, Webhook,
};
pub use postgres::PgStore;
pub use product_sql::{ProductImportSummary, ProductStore};
pub use search_sql::{Found, FoundMessage, MessageSearch, RecordStore};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use kefu_core::account::Account;
use kefu_core::aftersales::{AfterSalesTicket, TicketStep};
use kefu_core::bot::{AgentReplies, BotLexicon, BotQuestion, BotSession, LeaveMessage, MessageStatus};
use kefu_core::catalog::{Customer, KbCategory, KbEntry, Order, OrderState, Product};
use kefu_core::chat::{Conversation, Event, EventBody, Sender, StatEvent, Transition};
use kefu_core::ids::{
    AccountId, CategoryId, ConversationId, CustomerId, EntryId, OrderId, PhraseId, ProductId, ShopId,
};
use kefu_core::ids::{AfterSalesId, ServiceTicketId};
pub use kefu_core::kb::KbImportSummary;
use kefu_core::lockout::FailureRecord;
use kefu_core::money::Fen;
use kefu_core::order::{Applied, LogisticsEvent, OrderDetail, OrderRecord};
pub use kefu_core::order_feed::OrderImportSummary;
pub use kefu_core::phrases::{Direction, PhraseImportSummary, PhraseRow, QuickPhrase};
use kefu_core::routing::{AgentStatus, Presence};
use kefu_core::service_tickets::{ServiceRecord, ServiceTicket};
use kefu_core::settings::ShopSettings;
use kefu_core::shop::{Shop, ShopSlug};
use std::sync::Arc;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The current instant at the precision both engines keep (microseconds), so that what is
/// written reads back equal.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A new shop with everything it starts with, written in one transaction: a shop never
/// exists without its owner, and a demo never half-loads.
#[derive(Clone, Debug)]
pub struct NewShop {
    pub shop: Shop,
    pub settings: ShopSettings,
    /// Accounts with their argon2 PHC hashes; exactly one must be the owner.
    pub accounts: Vec<(Account, String)>,
    pub catalog: Catalog,
}

/// A shop's products, buyers, orders and knowledge base, for bulk import.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub products: Vec<Product>,
    pub customers: Vec<Customer>,
    pub orders: Vec<Order>,
    pub kb_categories: Vec<KbCategory>,
    pub kb_entries: Vec<KbEntry>,
}

/// A logged-in session, found by the SHA-256 of its token (the token itself is never stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub token_hash: Vec<u8>,
    pub shop_id: ShopId,
    pub account_id: AccountId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Paging for lists: at most `limit` rows after skipping `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Default for Page {
    fn default() -> Self {
        Page { limit: 50, offset: 0 }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ProductQuery {
    /// Part of the title or the SKU.
    pub text: Option<String>,
    pub category: Option<String>,
    pub page: Page,
}

#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    /// An order number, or part of a buyer's nick (SPEC §4.2).
    pub text: Option<String>,
    pub customer_id: Option<CustomerId>,
    pub state: Option<OrderState>,
    /// Placed (拍下) at or after.
    pub from: Option<DateTime<Utc>>,
    /// Placed before.
    pub until: Option<DateTime<Utc>>,
    pub page: Page,
}

/// One row of a knowledge-base import (the template's four columns), already checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KbImportRow {
    pub category: String,
    pub question: String,
    pub similar: Vec<String>,
    pub answer: String,
}

/// What an admin does with logged questions in the learning loop (SPEC §1.5).
#[derive(Clone, Debug, PartialEq)]
pub enum Learn {
    /// Not worth an entry (chit-chat, spam).
    Dismiss,
    /// Add the questions as similar phrasings of an entry.
    AddSimilar { entry: EntryId, phrasings: Vec<String> },
    /// Create an entry for them.
    NewEntry(Box<KbEntry>),
}

/// A list of rows and how many match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Everything kefu keeps. Every method that reads or writes shop data takes the shop id,
/// and every query filters by it: a caller cannot reach another shop's rows by guessing ids.
#[async_trait]
pub trait Store:
    ChatStore + OrderStore + CustomerStore + RecordStore + ProductStore + HookStore + Send + Sync + 'static
{
    /// "sqlite" or "postgres", for logs and health output.
    fn engine(&self) -> &'static str;
    /// Checks the database answers.
    async fn ping(&self) -> Result<()>;
    /// How this node hears of the other nodes' chat traffic: PostgreSQL's LISTEN/NOTIFY;
    /// None for SQLite, which serves one node.
    fn broker(&self) -> Option<Arc<dyn broker::Broker>>;

    // Shops (SPEC §6.3)
    /// Creates a shop with its accounts and catalog atomically. `Conflict` if the slug is taken.
    async fn create_shop(&self, new: &NewShop) -> Result<()>;
    async fn shop(&self, id: ShopId) -> Result<Option<Shop>>;
    async fn shop_by_slug(&self, slug: &ShopSlug) -> Result<Option<Shop>>;
    async fn shops(&self) -> Result<Vec<Shop>>;
    async fn settings(&self, shop: ShopId) -> Result<ShopSettings>;
    async fn put_settings(&self, shop: ShopId, settings: &ShopSettings) -> Result<()>;

    // Accounts (SPEC §6.1)
    /// `Conflict` if the username is taken in the shop.
    async fn create_account(&self, account: &Account, password_hash: &str) -> Result<()>;
    async fn account(&self, shop: ShopId, id: AccountId) -> Result<Option<Account>>;
    /// The account and its password hash, for login.
    async fn account_for_login(&self, shop: ShopId, username: &str) -> Result<Option<(Account, String)>>;
    async fn accounts(&self, shop: ShopId) -> Result<Vec<Account>>;
    /// Saves display name, role, routing and disabled flag. `NotFound` if it is not the shop's.
    async fn update_account(&self, account: &Account) -> Result<()>;
    async fn set_password(&self, shop: ShopId, id: AccountId, password_hash: &str) -> Result<()>;
    async fn delete_account(&self, shop: ShopId, id: AccountId) -> Result<()>;

    // Sessions
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// The session and its account, if the session exists, has not expired at `now`,
    /// and its account is not disabled.
    async fn session(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<Option<(Session, Account)>>;
    async fn delete_session(&self, token_hash: &[u8]) -> Result<()>;
    /// Ends every session of an account but `keep` (after a password change, or when disabled).
    async fn delete_sessions_of(&self, shop: ShopId, account: AccountId, keep: Option<&[u8]>) -> Result<()>;

    // Login throttling: counters shared by every node.
    async fn login_failures(&self, key: &str) -> Result<Option<FailureRecord>>;
    /// Counts one more failure atomically; failures before `forget_before` start the count anew.
    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<FailureRecord>;
    async fn clear_login_failures(&self, key: &str) -> Result<()>;

    // Catalog
    /// Adds products, buyers, orders and knowledge base in one transaction: all or nothing.
    async fn import_catalog(&self, shop: ShopId, catalog: &Catalog) -> Result<()>;
    async fn products(&self, shop: ShopId, q: &ProductQuery) -> Result<Listed<Product>>;
    async fn product(&self, shop: ShopId, id: ProductId) -> Result<Option<Product>>;
    async fn customers(&self, shop: ShopId, text: Option<&str>, page: Page) -> Result<Listed<Customer>>;
    async fn customer(&self, shop: ShopId, id: CustomerId) -> Result<Option<Customer>>;
    async fn orders(&self, shop: ShopId, q: &OrderQuery) -> Result<Listed<Order>>;
    async fn order(&self, shop: ShopId, id: OrderId) -> Result<Option<Order>>;
    async fn kb_categories(&self, shop: ShopId) -> Result<Vec<KbCategory>>;
    async fn kb_entries(&self, shop: ShopId, category: Option<CategoryId>) -> Result<Vec<KbEntry>>;
    async fn kb_entry(&self, shop: ShopId, id: EntryId) -> Result<Option<KbEntry>>;

    // Knowledge-base edits (SPEC §1.1). Each one also bumps the shop's bot version.
    /// `Conflict` if the name is taken in the shop.
    async fn create_kb_category(&self, category: &KbCategory) -> Result<()>;
    /// Renames or moves. `NotFound`, or `Conflict` if the name is taken.
    async fn update_kb_category(&self, category: &KbCategory) -> Result<()>;
    /// `NotFound`, or `Conflict` while entries still use it.
    async fn delete_kb_category(&self, shop: ShopId, id: CategoryId) -> Result<()>;
    /// `NotFound` if the category is not the shop's; `Conflict` if the question exists.
    async fn create_kb_entry(&self, entry: &KbEntry) -> Result<()>;
    /// Saves everything but the id, shop, creation time and statistics.
    async fn update_kb_entry(&self, entry: &KbEntry) -> Result<()>;
    async fn delete_kb_entry(&self, shop: ShopId, id: EntryId) -> Result<()>;
    /// Imports rows in one transaction: categories by name and entries by standard question
    /// are created or updated; with `replace`, entries and categories the rows do not name
    /// are removed, so the knowledge base becomes exactly the file.
    async fn import_kb(
        &self,
        shop: ShopId,
        rows: &[KbImportRow],
        replace: bool,
        now: DateTime<Utc>,
    ) -> Result<KbImportSummary>;

    // The bot's state (SPEC §1.2–1.5)
    /// Bumped by every change the bot must see; 0 for a shop that never changed anything.
    async fn bot_version(&self, shop: ShopId) -> Result<i64>;
    async fn bot_lexicon(&self, shop: ShopId) -> Result<BotLexicon>;
    async fn put_bot_lexicon(&self, shop: ShopId, lexicon: &BotLexicon) -> Result<()>;
    async fn bot_session(&self, shop: ShopId, id: uuid::Uuid) -> Result<Option<BotSession>>;
    /// Creates or updates.
    async fn save_bot_session(&self, session: &BotSession) -> Result<()>;
    /// Logs a question; an answered one also counts a hit for its entry, in one transaction.
    async fn log_bot_question(&self, question: &BotQuestion) -> Result<()>;
    async fn bot_question(&self, shop: ShopId, id: uuid::Uuid) -> Result<Option<BotQuestion>>;
    /// The buyer picked `entry` from the suggestions: marks the session's latest suggested
    /// question as meaning that entry.
    async fn confirm_suggestion(&self, shop: ShopId, session: uuid::Uuid, entry: EntryId) -> Result<()>;
    /// Records "was this helpful" on an answered question, once; counts it on the entry.
    /// `NotFound`, or `Conflict` if feedback was already given.
    async fn set_bot_feedback(&self, shop: ShopId, id: uuid::Uuid, helpful: bool) -> Result<()>;
    /// Questions the bot could not answer outright and nobody handled yet, newest first.
    async fn open_bot_questions(&self, shop: ShopId, limit: i64) -> Result<Vec<BotQuestion>>;
    /// Handles logged questions in one transaction: marks them resolved and applies `learn`.
    /// `NotFound` if a question or the entry is not the shop's (nothing changes then).
    async fn resolve_bot_questions(
        &self,
        shop: ShopId,
        ids: &[uuid::Uuid],
        learn: &Learn,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Stored sentence vectors of a shop's phrasings made with `model`, by text.
    async fn bot_vectors(&self, shop: ShopId, model: &str) -> Result<Vec<(String, Vec<f32>)>>;
    /// Adds vectors (keeping any already stored for a text) and removes those of `remove`.
    async fn put_bot_vectors(
        &self,
        shop: ShopId,
        model: &str,
        add: &[(String, Vec<f32>)],
        remove: &[String],
    ) -> Result<()>;

    // Leave-a-message queue (留言, SPEC §1.3)
    async fn create_leave_message(&self, message: &LeaveMessage) -> Result<()>;
    /// Oldest first: the queue agents work through.
    async fn leave_messages(
        &self,
        shop: ShopId,
        status: Option<MessageStatus>,
        page: Page,
    ) -> Result<Listed<LeaveMessage>>;
    async fn leave_message(&self, shop: ShopId, id: uuid::Uuid) -> Result<Option<LeaveMessage>>;
    /// Saves status, note, handler and time.
    async fn update_leave_message(&self, message: &LeaveMessage) -> Result<()>;

    // Agents' own automatic replies and signature (SPEC §1.7)
    /// The account's replies; empty ones if it never set any. `NotFound` if not the shop's.
    async fn agent_replies(&self, shop: ShopId, account: AccountId) -> Result<AgentReplies>;
    async fn put_agent_replies(&self, shop: ShopId, account: AccountId, replies: &AgentReplies) -> Result<()>;

    // The widget secret that signs buyer tokens (SPEC §2.6)
    async fn widget_secret(&self, shop: ShopId) -> Result<Option<String>>;
    /// Sets (or with `None` removes) the secret; `NotFound` for an unknown shop.
    async fn set_widget_secret(&self, shop: ShopId, secret: Option<&str>) -> Result<()>;

    // Quick phrases (快捷短语, SPEC §2.7). Positions are 0-based and dense within a group of a
    // scope (the team's, or one account's); every write holds the shop's phrase lock for its
    // transaction, so concurrent edits of one group never leave two phrases in one place.
    /// The team's phrases and `account`'s own: team first, then by group name and position.
    async fn quick_phrases(&self, shop: ShopId, account: AccountId) -> Result<Vec<QuickPhrase>>;
    /// Any phrase of the shop, team or personal (who may see it is the caller's rule).
    async fn quick_phrase(&self, shop: ShopId, id: PhraseId) -> Result<Option<QuickPhrase>>;
    /// What a shortcut expands to for `account`: its own phrase if it has one, else the team's.
    async fn quick_phrase_by_shortcut(
        &self,
        shop: ShopId,
        account: AccountId,
        shortcut: &str,
    ) -> Result<Option<QuickPhrase>>;
    /// Inserts at `phrase.position` in its group, clamped to the group's end (so `i64::MAX`
    /// appends), the phrases from there on moving one down. Returns the phrase as stored.
    /// `NotFound` if the owner is not an account of the shop; `Conflict` if the shortcut is
    /// taken in the phrase's scope.
    async fn create_quick_phrase(&self, phrase: &QuickPhrase) -> Result<QuickPhrase>;
    /// Saves group, shortcut, text and place: the phrase leaves no gap where it was and goes
    /// to `phrase.position` (clamped) in its group. Owner and creation time stay as stored.
    /// `NotFound`, or `Conflict` if the shortcut is taken in the phrase's scope.
    async fn update_quick_phrase(&self, phrase: &QuickPhrase) -> Result<QuickPhrase>;
    /// Removes a phrase, closing the gap. `NotFound` if it is not the shop's.
    async fn delete_quick_phrase(&self, shop: ShopId, id: PhraseId) -> Result<()>;
    /// Swaps a phrase with its neighbour in its group (上移 / 下移); the first one moving up,
    /// or the last one down, stays where it is. Returns the phrase with its position.
    async fn move_quick_phrase(&self, shop: ShopId, id: PhraseId, direction: Direction) -> Result<QuickPhrase>;
    /// Imports rows into the team's phrases (`owner` `None`) or an account's own, in one
    /// transaction: all or nothing. What merging and replacing do is
    /// [`kefu_core::phrases::plan_import`]. `NotFound` if the owner is not the shop's.
    async fn import_quick_phrases(
        &self,
        shop: ShopId,
        owner: Option<AccountId>,
        rows: &[PhraseRow],
        replace: bool,
        now: DateTime<Utc>,
    ) -> Result<PhraseImportSummary>;
}

/// Real-time chat (SPEC §2), part of every [`Store`]. Every change of a conversation takes its
/// row first, so events get gapless sequence numbers and concurrent writers queue; routing
/// decisions take a per-shop lock so that no chat gets two agents and no agent more than
/// capacity.
#[async_trait]
pub trait ChatStore: Send + Sync {
    async fn create_conversation(&self, conversation: &Conversation) -> Result<()>;
    async fn conversation(&self, shop: ShopId, id: ConversationId) -> Result<Option<Conversation>>;
    /// The visitor's latest conversation.
    async fn visitor_conversation(&self, shop: ShopId, visitor: &str) -> Result<Option<Conversation>>;
    /// Open conversations (not closed) with this agent, oldest first.
    async fn agent_conversations(&self, shop: ShopId, agent: AccountId) -> Result<Vec<Conversation>>;
    /// The shop's queue, first come first.
    async fn queued_conversations(&self, shop: ShopId) -> Result<Vec<Conversation>>;
    /// Stores a message (or other event) with the next sequence number, unless the sender
    /// already sent one with the same client id: then that one is returned, marked duplicate.
    async fn append_event(&self, shop: ShopId, conversation: ConversationId, event: &NewEvent) -> Result<Appended>;
    /// Changes the conversation's state, recording the event; `Refused` names the rule.
    async fn transition(
        &self,
        shop: ShopId,
        conversation: ConversationId,
        transition: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Appended>;
    /// Assigns queued chats, oldest first, to agents who can take them (SPEC §2.2); returns
    /// each assignment made.
    async fn route_queue(&self, shop: ShopId, now: DateTime<Utc>) -> Result<Vec<Appended>>;
    /// 转接 to a teammate who is present and below capacity (SPEC §2.4).
    async fn transfer(
        &self,
        shop: ShopId,
        conversation: ConversationId,
        by: AccountId,
        to: AccountId,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<Appended>;
    /// Events with a sequence number above `after`, in order, at most `limit`.
    async fn events_after(
        &self,
        shop: ShopId,
        conversation: ConversationId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Event>>;
    /// Records that one side has read up to `seq` (never moves back).
    async fn mark_read(&self, shop: ShopId, conversation: ConversationId, agent_side: bool, seq: i64) -> Result<()>;
    /// Sets an agent's presence, recording the span that ended. `NotFound` if not the shop's.
    async fn set_presence(
        &self,
        shop: ShopId,
        account: AccountId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Every staff account with its presence and load, for routing, transfers and the monitor.
    async fn agent_loads(&self, shop: ShopId) -> Result<Vec<AgentStatus>>;
    /// Open conversations, in any shop, with no activity since `before` (idle close, SPEC §2.5).
    async fn idle_conversations(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Conversation>>;
    /// Counted events for statistics, oldest first.
    async fn stat_events(&self, shop: ShopId, since: DateTime<Utc>) -> Result<Vec<StatEvent>>;
    /// What a statistics report is computed from (SPEC §5): counted events, agents' messages,
    /// ratings, bot questions and chats' starts in `[from, until)`, and orders placed in
    /// `[from, orders_until)`.
    async fn stats_inputs(
        &self,
        shop: ShopId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        orders_until: DateTime<Utc>,
    ) -> Result<kefu_core::stats::Inputs>;
    /// Stores a buyer's rating of a chat (SPEC §5.6); `Conflict` when it was rated already.
    async fn rate_conversation(&self, shop: ShopId, rating: &kefu_core::stats::Rating) -> Result<()>;
    /// The shop's chats with an agent now, for the live monitor.
    async fn assigned_conversations(&self, shop: ShopId) -> Result<Vec<Conversation>>;
}

/// An event to store; the store gives it its sequence number.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub sender: Sender,
    pub client_id: Option<String>,
    pub body: EventBody,
    pub at: DateTime<Utc>,
}

/// A row with the version it was read at, to save it back only if nobody changed it since.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: i64,
}

/// Filters for after-sales and review/complaint lists.
#[derive(Clone, Debug, Default)]
pub struct TicketQuery {
    /// Open (true) or finished (false) only.
    pub open: Option<bool>,
    pub order_id: Option<OrderId>,
    pub page: Page,
}

/// The back office (SPEC §4): orders as the seller manages them, their audit log and parcels,
/// after-sales cases, reviews and complaints. Saves take the version read and fail with
/// [`StoreError::Stale`] if it moved on; a multi-row change is one transaction.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Makes the shop's orders match a platform's (SPEC §4.8), in one transaction: buyers by
    /// nick and orders by number are added or replaced (memo and flag stay the shop's).
    async fn import_orders(&self, shop: ShopId, rows: &[(Customer, OrderDetail)]) -> Result<OrderImportSummary>;
    async fn order_detail(&self, shop: ShopId, id: OrderId) -> Result<Option<Versioned<OrderDetail>>>;
    async fn order_by_no(&self, shop: ShopId, order_no: &str) -> Result<Option<Versioned<OrderDetail>>>;
    async fn order_details(&self, shop: ShopId, q: &OrderQuery) -> Result<Listed<OrderDetail>>;
    /// Stores the order as the core changed it, with its record, if still at `version`.
    async fn save_order(&self, shop: ShopId, applied: &Applied, version: i64) -> Result<()>;
    async fn order_records(&self, shop: ShopId, id: OrderId) -> Result<Vec<OrderRecord>>;
    /// Orders still awaiting payment that were placed at or before `before`, oldest first.
    async fn unpaid_orders_placed_before(
        &self,
        shop: ShopId,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OrderId>>;
    /// Adds tracking events; those already there are skipped. Returns how many were new.
    async fn add_logistics(&self, shop: ShopId, id: OrderId, events: &[LogisticsEvent]) -> Result<usize>;
    async fn logistics(&self, shop: ShopId, id: OrderId) -> Result<Vec<LogisticsEvent>>;

    async fn after_sales(&self, shop: ShopId, id: AfterSalesId) -> Result<Option<Versioned<AfterSalesTicket>>>;
    async fn after_sales_list(&self, shop: ShopId, q: &TicketQuery) -> Result<Listed<AfterSalesTicket>>;
    async fn after_sales_steps(&self, shop: ShopId, id: AfterSalesId) -> Result<Vec<TicketStep>>;
    /// What the order's after-sales cases refunded, but `except`'s.
    async fn refunded(&self, shop: ShopId, order: OrderId, except: Option<AfterSalesId>) -> Result<Fen>;
    /// Opens (`version` None) or advances a case with its step, and changes the order with it
    /// when the step closes the trade. Opening a second open case of an order is refused.
    async fn save_after_sales(
        &self,
        shop: ShopId,
        ticket: &AfterSalesTicket,
        step: &TicketStep,
        version: Option<i64>,
        order: Option<(&Applied, i64)>,
    ) -> Result<()>;

    async fn service_ticket(&self, shop: ShopId, id: ServiceTicketId) -> Result<Option<Versioned<ServiceTicket>>>;
    async fn service_tickets(&self, shop: ShopId, q: &TicketQuery) -> Result<Listed<ServiceTicket>>;
    async fn service_records(&self, shop: ShopId, id: ServiceTicketId) -> Result<Vec<ServiceRecord>>;
    async fn save_service_ticket(
        &self,
        shop: ShopId,
        ticket: &ServiceTicket,
        record: &ServiceRecord,
        version: Option<i64>,
    ) -> Result<()>;
}

/// A stored event and the conversation as it is after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Appended {
    pub event: Event,
    pub conversation: Conversation,
    /// The same client id was stored before: `event` is that first one, nothing changed.
    pub duplicate: bool,
}

/// f32s as stored: little-endian bytes.
pub(crate) fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn vector_from_bytes(b: &[u8]) -> Result<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(format!("a stored vector has {} bytes", b.len())));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Opens the store a URL names and brings its schema up to date:
/// `sqlite://path/to/kefu.db` (created if missing) or `postgres://user@host/db`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::Config(format!(
            "database URL “{url}” must start with sqlite:// or postgres://"
        )))
    }
}

/// Scratch databases for tests of this crate and of the server: a fresh PostgreSQL
/// database per test, so tests run in parallel without seeing each other.
pub mod testing {
    use sqlx::Connection;

    /// The server tests use; `KEFU_TEST_PG` overrides it.
    pub fn postgres_admin_url() -> String {
        std::env::var("KEFU_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// Creates an empty database and returns its URL.
    pub async fn scratch_postgres() -> crate::Result<String> {
        let admin = postgres_admin_url();
        let name = format!("kefu_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Ok(format!("{base}/{name}"))
    }

    /// Ends every connection to a database made by [`scratch_postgres`]: what a PostgreSQL
    /// restart looks like from the nodes using it.
    pub async fn cut_connections(url: &str) -> crate::Result<()> {
        let name = url.rsplit('/').next().unwrap_or_default();
        let mut conn = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut conn)
        .await?;
        Ok(())
    }

    /// Drops a database made by [`scratch_postgres`].
    pub async fn drop_postgres(url: &str) -> crate::Result<()> {
        let name = url.rsplit('/').next().unwrap_or_default();
        assert!(name.starts_with("kefu_test_"), "refusing to drop {name}");
        let mut conn = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}
