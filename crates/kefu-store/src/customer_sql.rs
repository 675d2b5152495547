//! Customers (SPEC §3) and payment reminders (SPEC §4.7): the [`CustomerStore`] part of every
//! [`crate::Store`], its types, and `customer_impl!`, which expands to its implementation for
//! both engines inside `impl_store!` (so it shares the chat's transaction helpers).
//!
//! A buyer's chats are the conversations whose visitor is `buyer:<nick>`: the signed buyer
//! id (SPEC §2.6) names the customer by nick. Anonymous widget visitors belong to no customer
//! (their nick is whatever the page says). Lifecycle groups are not stored: they follow from
//! the chats and orders ([`CustomerFacts`], `kefu_core::customers::lifecycle`).
//!
//! Messages the shop sends on its own (payment reminders, outreach) go into the buyer's latest
//! conversation, or a new closed one when they never chatted, in the same transaction as their
//! record: a reminder is recorded if and only if it was sent. The record is the claim — the
//! n-th reminder of an order is unique, so two nodes or two agents never send it twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_core::catalog::{Customer, OrderState};
use kefu_core::customers::AuditKind;
use kefu_core::ids::{AccountId, ConversationId, CustomerGroupId, CustomerId, OrderId, ProductId, ShopId};
use kefu_core::reminders::UnpaidReason;
use serde::Serialize;
use uuid::Uuid;

use crate::{Appended, Listed, Page, Result, StoreError};

/// What the store knows of one buyer, from which the API derives their profile and groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerFacts {
    pub customer: Customer,
    pub tags: Vec<String>,
    pub opted_out: bool,
    /// Their first conversation's start and their chats' last activity; `None`: never chatted.
    pub first_contact: Option<DateTime<Utc>>,
    pub last_contact: Option<DateTime<Utc>>,
    /// The states their orders are in, each once.
    pub order_states: Vec<OrderState>,
    pub custom_groups: Vec<CustomerGroupId>,
}

impl CustomerFacts {
    pub fn chatted(&self) -> bool {
        self.first_contact.is_some()
    }
}

/// The type an agent set on a buyer (买家类型, SPEC §3.1), with who and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BuyerTypeRecord {
    pub buyer_type: kefu_core::buyer_types::BuyerType,
    pub set_by: Option<AccountId>,
    /// Their display name when they set it.
    pub set_by_name: String,
    pub set_at: DateTime<Utc>,
}

/// How many of a buyer's latest chat messages a type suggestion reads.
pub const BEHAVIOUR_MESSAGES: i64 = 500;

/// Which follow-up visits to list (SPEC §4.6); every filter given must hold.
#[derive(Clone, Debug, Default)]
pub struct VisitQuery {
    /// Not done (true) or done (false) only.
    pub open: Option<bool>,
    /// Due at or before this instant.
    pub due_by: Option<DateTime<Utc>>,
    /// Only those assigned to this account or to nobody.
    pub for_account: Option<AccountId>,
    pub page: Page,
}

#[derive(sqlx::FromRow)]
pub(crate) struct VisitRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub customer_id: Uuid,
    pub source: String,
    pub source_id: Uuid,
    pub order_id: Option<Uuid>,
    pub assignee: Option<Uuid>,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub outcome: Option<String>,
    pub note: String,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<Uuid>,
}

impl TryFrom<VisitRow> for kefu_core::visits::Visit {
    type Error = StoreError;
    fn try_from(r: VisitRow) -> Result<Self> {
        use kefu_core::visits::{VisitOutcome, VisitSource};
        Ok(kefu_core::visits::Visit {
            id: kefu_core::ids::VisitId(r.id),
            shop_id: ShopId(r.shop_id),
            customer_id: CustomerId(r.customer_id),
            source: VisitSource::parse(&r.source)
                .ok_or_else(|| StoreError::Corrupt(format!("visit source {}", r.source)))?,
            source_id: r.source_id,
            order_id: r.order_id.map(OrderId),
            assignee: r.assignee.map(AccountId),
            due_at: r.due_at,
            created_at: r.created_at,
            outcome: r
                .outcome
                .map(|o| VisitOutcome::parse(&o).ok_or_else(|| StoreError::Corrupt(format!("visit outcome {o}"))))
                .transpose()?,
            note: r.note,
            done_at: r.done_at,
            done_by: r.done_by.map(AccountId),
        })
    }
}

macro_rules! visit_columns {
    () => {
        "id, shop_id, customer_id, source, source_id, order_id, assignee, due_at, created_at, outcome, note, done_at, done_by"
    };
}
pub(crate) use visit_columns;

/// Which buyers to list; every filter given must hold.
#[derive(Clone, Debug, Default)]
pub struct CustomerFilter {
    /// Part of the nick or name.
    pub text: Option<String>,
    pub tag: Option<String>,
    pub custom_group: Option<CustomerGroupId>,
    pub id: Option<CustomerId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CustomerNote {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub customer_id: CustomerId,
    pub author_id: Option<AccountId>,
    /// The author's display name when they wrote it.
    pub author_name: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CustomerGroup {
    pub id: CustomerGroupId,
    pub shop_id: ShopId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Kept by the store; ignored on writes.
    pub members: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub shop_id: ShopId,
    pub at: DateTime<Utc>,
    pub account_id: Option<AccountId>,
    pub account_name: String,
    pub kind: AuditKind,
    pub customer_id: Option<CustomerId>,
    /// What was shown or written (which fields, how many buyers, which filter).
    pub detail: String,
}

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub kind: Option<AuditKind>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub page: Page,
}

/// A proactive message to one buyer (SPEC §3.3), checked again under the buyer's row lock.
#[derive(Clone, Debug)]
pub struct NewOutreach {
    pub customer: CustomerId,
    pub text: String,
    pub by: Option<AccountId>,
    pub at: DateTime<Utc>,
    /// The cap: at most this many messages sent after `since`.
    pub max: u8,
    pub since: DateTime<Utc>,
}

/// Why the store refused an outreach message (as `StoreError::Refused`).
pub const REFUSED_OPTED_OUT: &str = "opted_out";
pub const REFUSED_CAP_REACHED: &str = "cap_reached";
/// Why the store refused a reminder: the order is no longer 等待买家付款.
pub const REFUSED_NOT_AWAITING: &str = "not_awaiting_payment";

/// A payment reminder to send: the `number`-th of its order.
#[derive(Clone, Debug)]
pub struct NewReminder {
    pub order: OrderId,
    pub number: u32,
    pub reason: UnpaidReason,
    pub text: String,
    /// `None`: the scheduler.
    pub by: Option<AccountId>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReminderRecord {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub order_id: OrderId,
    /// 1 for the order's first reminder.
    pub number: u32,
    pub reason: UnpaidReason,
    pub text: String,
    /// `null`: sent automatically by the scheduler.
    pub sent_by: Option<AccountId>,
    pub sent_at: DateTime<Utc>,
    pub conversation_id: ConversationId,
}

/// Reminders sent in a period and what came of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReminderStats {
    pub sent: i64,
    /// Of those, sent by the scheduler.
    pub automatic: i64,
    /// Orders reminded.
    pub orders: i64,
    /// Orders paid after a reminder (paid_at later than a reminder's sending).
    pub paid_after: i64,
    pub by_reason: Vec<ReasonStats>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReasonStats {
    pub reason: UnpaidReason,
    pub sent: i64,
    pub paid_after: i64,
}

pub(crate) fn reason_str(r: UnpaidReason) -> &'static str {
    match r {
        UnpaidReason::Bargaining => "bargaining",
        UnpaidReason::Comparing => "comparing",
        UnpaidReason::Worried => "worried",
        UnpaidReason::Forgot => "forgot",
    }
}

pub(crate) fn parse_reason(s: &str) -> Result<UnpaidReason> {
    UnpaidReason::ALL
        .into_iter()
        .find(|r| reason_str(*r) == s)
        .ok_or_else(|| StoreError::Corrupt(format!("reminder reason {s}")))
}

/// The visitor id of a customer's chats.
pub fn buyer_visitor(nick: &str) -> String {
    format!("buyer:{nick}")
}

/// Customers, their notes, tags, groups and outreach, the privacy audit log and payment
/// reminders. Every method takes the shop; rows of another shop are `NotFound`.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// The customer with this nick, created (no name, phone or address) if the shop has none:
    /// a signed buyer's first chat makes them a customer (咨询组).
    async fn ensure_customer(&self, shop: ShopId, nick: &str, now: DateTime<Utc>) -> Result<Customer>;
    /// The customer with exactly this nick (a signed buyer's), if the shop has one.
    async fn customer_by_nick(&self, shop: ShopId, nick: &str) -> Result<Option<Customer>>;
    /// Every buyer the filter matches, by nick, with what their groups are computed from.
    async fn customer_facts(&self, shop: ShopId, filter: &CustomerFilter) -> Result<Vec<CustomerFacts>>;
    /// The products that appeared as cards in the buyer's chats (either side), first first.
    async fn asked_about(&self, shop: ShopId, customer: CustomerId) -> Result<Vec<ProductId>>;
    /// Oldest first.
    async fn customer_notes(&self, shop: ShopId, customer: CustomerId) -> Result<Vec<CustomerNote>>;
    /// Appends a note. `NotFound` if the customer is not the shop's.
    async fn add_customer_note(&self, shop: ShopId, note: &CustomerNote) -> Result<()>;
    /// Replaces the buyer's tags, in one transaction.
    async fn set_customer_tags(&self, shop: ShopId, customer: CustomerId, tags: &[String]) -> Result<()>;
    async fn set_opted_out(&self, shop: ShopId, customer: CustomerId, opted_out: bool, at: DateTime<Utc>)
    -> Result<()>;
    /// Opts out the customer whose chat `visitor` is (a signed buyer); `false` when it is
    /// nobody's (an anonymous visitor) or they had opted out already.
    async fn opt_out_visitor(&self, shop: ShopId, visitor: &str, at: DateTime<Utc>) -> Result<bool>;

    /// The type an agent set on the buyer, if any.
    async fn buyer_type(&self, shop: ShopId, customer: CustomerId) -> Result<Option<BuyerTypeRecord>>;
    /// Sets (`Some`) or clears (`None`) the buyer's type. `NotFound` if the customer is not the shop's.
    async fn set_buyer_type(&self, shop: ShopId, customer: CustomerId, set: Option<&BuyerTypeRecord>) -> Result<()>;
    /// What the buyer did, for suggesting a type: their orders, their latest
    /// [`BEHAVIOUR_MESSAGES`] text messages in chats (oldest first), and their complaints and
    /// bad reviews. Empty for another shop's customer.
    async fn buyer_behaviour(&self, shop: ShopId, customer: CustomerId) -> Result<kefu_core::buyer_types::Behaviour>;

    /// Schedules a follow-up visit; `false` (and nothing changes) when its case has one already.
    async fn schedule_visit(&self, visit: &kefu_core::visits::Visit) -> Result<bool>;
    async fn visit(&self, shop: ShopId, id: kefu_core::ids::VisitId) -> Result<Option<kefu_core::visits::Visit>>;
    /// Earliest due first.
    async fn visits(&self, shop: ShopId, q: &VisitQuery) -> Result<Listed<kefu_core::visits::Visit>>;
    /// Stores a visit's outcome: `NotFound`, or `Conflict` if an outcome was recorded meanwhile.
    async fn record_visit(&self, visit: &kefu_core::visits::Visit) -> Result<()>;

    /// By name, with their member counts.
    async fn customer_groups(&self, shop: ShopId) -> Result<Vec<CustomerGroup>>;
    /// `Conflict` if the name is taken.
    async fn create_customer_group(&self, group: &CustomerGroup) -> Result<()>;
    /// `NotFound`, or `Conflict` if the name is taken.
    async fn rename_customer_group(&self, shop: ShopId, id: CustomerGroupId, name: &str) -> Result<()>;
    async fn delete_customer_group(&self, shop: ShopId, id: CustomerGroupId) -> Result<()>;
    /// Adds and removes members in one transaction; `NotFound` (and nothing changes) if the
    /// group or any of the customers is not the shop's.
    async fn change_group_members(
        &self,
        shop: ShopId,
        group: CustomerGroupId,
        add: &[CustomerId],
        remove: &[CustomerId],
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// When outreach messages went to the shop's buyers after `since`, by buyer.
    async fn outreach_sent(&self, shop: ShopId, since: DateTime<Utc>) -> Result<Vec<(CustomerId, DateTime<Utc>)>>;
    /// Sends one outreach message into the buyer's chat and records it, under the buyer's row
    /// lock: `Refused(REFUSED_OPTED_OUT | REFUSED_CAP_REACHED)` if that changed meanwhile.
    async fn send_outreach(&self, shop: ShopId, message: &NewOutreach) -> Result<Appended>;

    async fn record_audit(&self, entry: &AuditEntry) -> Result<()>;
    /// Newest first.
    async fn audit_log(&self, shop: ShopId, q: &AuditQuery) -> Result<Listed<AuditEntry>>;

    /// The order's reminders, first first (empty for another shop's order).
    async fn reminders_of(&self, shop: ShopId, order: OrderId) -> Result<Vec<ReminderRecord>>;
    /// Claims the reminder's number for its order and sends it into the buyer's chat, in one
    /// transaction. `NotFound`; `Conflict` if that number was sent already (by anyone);
    /// `Refused(REFUSED_NOT_AWAITING)` if the order is no longer awaiting payment.
    async fn send_reminder(&self, shop: ShopId, reminder: &NewReminder) -> Result<(ReminderRecord, Appended)>;
    /// Reminders sent in `[from, until)` and the orders paid after one.
    async fn reminder_stats(
        &self,
        shop: ShopId,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<ReminderStats>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct FactsRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub nick: String,
    pub name: String,
    pub phone: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
    pub first_contact: Option<DateTime<Utc>>,
    pub last_contact: Option<DateTime<Utc>>,
    pub opted_out: bool,
}

#[derive(sqlx::FromRow)]
pub(crate) struct NoteRow {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub author_id: Option<Uuid>,
    pub author_name: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<NoteRow> for CustomerNote {
    fn from(r: NoteRow) -> Self {
        CustomerNote {
            id: r.id,
            customer_id: r.customer_id.into(),
            author_id: r.author_id.map(AccountId),
            author_name: r.author_name,
            text: r.text,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct GroupRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub members: i64,
}

impl From<GroupRow> for CustomerGroup {
    fn from(r: GroupRow) -> Self {
        CustomerGroup {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            name: r.name,
            created_at: r.created_at,
            members: r.members,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub at: DateTime<Utc>,
    pub account_id: Option<Uuid>,
    pub account_name: String,
    pub kind: String,
    pub customer_id: Option<Uuid>,
    pub detail: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self> {
        Ok(AuditEntry {
            id: r.id,
            shop_id: r.shop_id.into(),
            at: r.at,
            account_id: r.account_id.map(AccountId),
            account_name: r.account_name,
            kind: AuditKind::parse(&r.kind).ok_or_else(|| StoreError::Corrupt(format!("audit kind {}", r.kind)))?,
            customer_id: r.customer_id.map(CustomerId),
            detail: r.detail,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReminderRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub number: i64,
    pub reason: String,
    pub text: String,
    pub sent_by: Option<Uuid>,
    pub sent_at: DateTime<Utc>,
    pub conversation_id: Uuid,
}

impl TryFrom<ReminderRow> for ReminderRecord {
    type Error = StoreError;
    fn try_from(r: ReminderRow) -> Result<Self> {
        Ok(ReminderRecord {
            id: r.id,
            order_id: r.order_id.into(),
            number: u32::try_from(r.number)
                .map_err(|_| StoreError::Corrupt(format!("reminder number {}", r.number)))?,
            reason: parse_reason(&r.reason)?,
            text: r.text,
            sent_by: r.sent_by.map(AccountId),
            sent_at: r.sent_at,
            conversation_id: r.conversation_id.into(),
        })
    }
}

macro_rules! facts_query {
    () => {
        "SELECT cu.id, cu.shop_id, cu.nick, cu.name, cu.phone, cu.address, cu.created_at,
            (SELECT MIN(c.created_at) FROM conversations c WHERE c.shop_id = cu.shop_id AND c.visitor = 'buyer:' || cu.nick) AS first_contact,
            (SELECT MAX(c.last_activity_at) FROM conversations c WHERE c.shop_id = cu.shop_id AND c.visitor = 'buyer:' || cu.nick) AS last_contact,
            EXISTS (SELECT 1 FROM customer_opt_outs x WHERE x.customer_id = cu.id) AS opted_out
         FROM customers cu
         WHERE cu.shop_id = $1
           AND ($2 IS NULL OR cu.nick LIKE '%' || $2 || '%' OR cu.name LIKE '%' || $2 || '%')
           AND ($3 IS NULL OR EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = cu.id AND t.tag = $3))
           AND ($4 IS NULL OR EXISTS (SELECT 1 FROM customer_group_members m WHERE m.customer_id = cu.id AND m.group_id = $4))
           AND ($5 IS NULL OR cu.id = $5)
         ORDER BY cu.nick"
    };
}
pub(crate) use facts_query;

macro_rules! reminder_columns {
    () => {
        "id, order_id, number, reason, text, sent_by, sent_at, conversation_id"
    };
}
pub(crate) use reminder_columns;

macro_rules! customer_impl {
    ($store:ty, $db:ty, $begin_write:literal) => {
        impl $store {
            /// Takes the customer's row until the transaction ends (their sends queue) and
            /// returns their nick. `NotFound` if not the shop's.
            async fn take_customer(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, id: CustomerId) -> Result<String> {
                let row: Option<(String,)> = sqlx::query_as("UPDATE customers SET nick = nick WHERE shop_id = $1 AND id = $2 RETURNING nick")
                    .bind(shop.0).bind(id.0).fetch_optional(&mut **tx).await?;
                row.map(|r| r.0).ok_or(StoreError::NotFound)
            }

            /// Stores a message from the shop in the buyer's latest chat, or in a new closed
            /// one when they never chatted (they see it when they open the widget).
            async fn shop_message(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, nick: &str, text: &str, at: DateTime<Utc>) -> Result<Appended> {
                let visitor = crate::customer_sql::buyer_visitor(nick);
                let latest: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM conversations WHERE shop_id = $1 AND visitor = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .bind(shop.0).bind(&visitor).fetch_optional(&mut **tx).await?;
                let mut c = match latest {
                    Some((id,)) => Self::take_conversation(tx, shop, ConversationId(id)).await?,
                    None => {
                        let mut c = Conversation::new(shop, visitor, nick.chars().take(32).collect(), "web".into(), at);
                        c.state = ConversationState::Closed;
                        c.closed_at = Some(at);
                        sqlx::query(concat!("INSERT INTO conversations (", conversation_columns!(), ")
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"))
                            .bind(c.id.0).bind(c.shop_id.0).bind(&c.visitor).bind(&c.buyer_nick).bind(&c.channel)
                            .bind(c.skill_group.as_ref().map(|g| g.as_str())).bind(c.state.as_str()).bind(c.agent_id.map(|a| a.0))
                            .bind(c.last_seq).bind(c.buyer_read_seq).bind(c.agent_read_seq).bind(c.created_at).bind(c.queued_at)
                            .bind(c.assigned_at).bind(c.closed_at).bind(c.buyer_waiting_since).bind(c.agent_answered).bind(c.last_activity_at)
                            .execute(&mut **tx).await?;
                        c
                    }
                };
                let body = EventBody::message(kefu_core::chat::Content::Text { text: text.to_string() });
                let event = Self::insert_event(tx, &mut c, Sender::System, None, body, at).await?;
                c.last_activity_at = c.last_activity_at.max(at);
                Self::save_conversation(tx, &c).await?;
                Ok(Appended { event, conversation: c, duplicate: false })
            }
        }

        const CUSTOMER_BY_NICK: &str =
            "SELECT id, shop_id, nick, name, phone, address, created_at FROM customers WHERE shop_id = $1 AND nick = $2";

        #[async_trait]
        impl crate::customer_sql::CustomerStore for $store {
            async fn ensure_customer(&self, shop: ShopId, nick: &str, now: DateTime<Utc>) -> Result<Customer> {
                sqlx::query(
                    "INSERT INTO customers (id, shop_id, nick, name, phone, address, created_at) VALUES ($1, $2, $3, '', '', '', $4)
                     ON CONFLICT (shop_id, nick) DO NOTHING",
                )
                .bind(Uuid::now_v7()).bind(shop.0).bind(nick).bind(now).execute(&self.writer).await?;
                sqlx::query_as::<_, CustomerRow>(CUSTOMER_BY_NICK)
                    .bind(shop.0).bind(nick).fetch_optional(&self.writer).await?
                    .map(Customer::from).ok_or(StoreError::NotFound)
            }

            async fn customer_by_nick(&self, shop: ShopId, nick: &str) -> Result<Option<Customer>> {
                Ok(sqlx::query_as::<_, CustomerRow>(CUSTOMER_BY_NICK)
                    .bind(shop.0).bind(nick).fetch_optional(&self.pool).await?
                    .map(Customer::from))
            }

            async fn customer_facts(&self, shop: ShopId, f: &crate::customer_sql::CustomerFilter) -> Result<Vec<crate::customer_sql::CustomerFacts>> {
                use crate::customer_sql::{CustomerFacts, FactsRow};
                let rows: Vec<FactsRow> = sqlx::query_as(crate::customer_sql::facts_query!())
                    .bind(shop.0).bind(f.text.as_deref()).bind(f.tag.as_deref()).bind(f.custom_group.map(|g| g.0)).bind(f.id.map(|c| c.0))
                    .fetch_all(&self.pool).await?;
                let only = f.id.map(|c| c.0);
                let tags: Vec<(Uuid, String)> = sqlx::query_as("SELECT customer_id, tag FROM customer_tags WHERE shop_id = $1 AND ($2 IS NULL OR customer_id = $2) ORDER BY tag")
                    .bind(shop.0).bind(only).fetch_all(&self.pool).await?;
                let states: Vec<(Uuid, String)> = sqlx::query_as("SELECT DISTINCT customer_id, state FROM orders WHERE shop_id = $1 AND ($2 IS NULL OR customer_id = $2)")
                    .bind(shop.0).bind(only).fetch_all(&self.pool).await?;
                let groups: Vec<(Uuid, Uuid)> = sqlx::query_as("SELECT customer_id, group_id FROM customer_group_members WHERE shop_id = $1 AND ($2 IS NULL OR customer_id = $2)")
                    .bind(shop.0).bind(only).fetch_all(&self.pool).await?;
                let mut tag_map: HashMap<Uuid, Vec<String>> = HashMap::new();
                for (c, t) in tags { tag_map.entry(c).or_default().push(t); }
                let mut state_map: HashMap<Uuid, Vec<kefu_core::catalog::OrderState>> = HashMap::new();
                for (c, s) in states {
                    let s = kefu_core::catalog::OrderState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("order state {s}")))?;
                    state_map.entry(c).or_default().push(s);
                }
                let mut group_map: HashMap<Uuid, Vec<kefu_core::ids::CustomerGroupId>> = HashMap::new();
                for (c, g) in groups { group_map.entry(c).or_default().push(g.into()); }
                Ok(rows.into_iter().map(|r| {
                    let mut order_states = state_map.remove(&r.id).unwrap_or_default();
                    order_states.sort_by_key(|s| kefu_core::catalog::OrderState::ALL.iter().position(|x| x == s));
                    let mut custom_groups = group_map.remove(&r.id).unwrap_or_default();
                    custom_groups.sort();
                    CustomerFacts {
                        tags: tag_map.remove(&r.id).unwrap_or_default(),
                        opted_out: r.opted_out,
                        first_contact: r.first_contact,
                        last_contact: r.last_contact,
                        order_states,
                        custom_groups,
                        customer: Customer { id: r.id.into(), shop_id: r.shop_id.into(), nick: r.nick, name: r.name, phone: r.phone, address: r.address, created_at: r.created_at },
                    }
                }).collect())
            }

            async fn asked_about(&self, shop: ShopId, customer: CustomerId) -> Result<Vec<ProductId>> {
                // `->` and `->>` read JSON on both engines (SQLite ≥ 3.38, PostgreSQL's jsonb).
                let rows: Vec<(Uuid,)> = sqlx::query_as(
                    "SELECT p.id FROM customers cu
                     JOIN conversations c ON c.shop_id = cu.shop_id AND c.visitor = 'buyer:' || cu.nick
                     JOIN conversation_events e ON e.conversation_id = c.id
                     JOIN products p ON p.shop_id = cu.shop_id AND p.sku = (e.body -> 'content' ->> 'sku')
                     WHERE cu.shop_id = $1 AND cu.id = $2 AND (e.body ->> 'kind') = 'message' AND (e.body -> 'content' ->> 'kind') = 'product'
                     GROUP BY p.id ORDER BY MIN(e.at), p.id",
                )
                .bind(shop.0).bind(customer.0).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|r| ProductId(r.0)).collect())
            }

            async fn customer_notes(&self, shop: ShopId, customer: CustomerId) -> Result<Vec<crate::customer_sql::CustomerNote>> {
                let rows: Vec<crate::customer_sql::NoteRow> = sqlx::query_as(
                    "SELECT id, customer_id, author_id, author_name, text, created_at FROM customer_notes
                     WHERE shop_id = $1 AND customer_id = $2 ORDER BY created_at, id",
                )
                .bind(shop.0).bind(customer.0).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn add_customer_note(&self, shop: ShopId, n: &crate::customer_sql::CustomerNote) -> Result<()> {
                let done = sqlx::query(
                    "INSERT INTO customer_notes (id, shop_id, customer_id, author_id, author_name, text, created_at)
                     SELECT $1, shop_id, id, $4, $5, $6, $7 FROM customers WHERE shop_id = $2 AND id = $3",
                )
                .bind(n.id).bind(shop.0).bind(n.customer_id.0).bind(n.author_id.map(|a| a.0)).bind(&n.author_name).bind(&n.text).bind(n.created_at)
                .execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn set_customer_tags(&self, shop: ShopId, customer: CustomerId, tags: &[String]) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::take_customer(&mut tx, shop, customer).await?;
                sqlx::query("DELETE FROM customer_tags WHERE shop_id = $1 AND customer_id = $2")
                    .bind(shop.0).bind(customer.0).execute(&mut *tx).await?;
                for t in tags {
                    sqlx::query("INSERT INTO customer_tags (shop_id, customer_id, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                        .bind(shop.0).bind(customer.0).bind(t).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn set_opted_out(&self, shop: ShopId, customer: CustomerId, opted_out: bool, at: DateTime<Utc>) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::take_customer(&mut tx, shop, customer).await?;
                if opted_out {
                    sqlx::query("INSERT INTO customer_opt_outs (customer_id, shop_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                        .bind(customer.0).bind(shop.0).bind(at).execute(&mut *tx).await?;
                } else {
                    sqlx::query("DELETE FROM customer_opt_outs WHERE shop_id = $1 AND customer_id = $2")
                        .bind(shop.0).bind(customer.0).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn buyer_type(&self, shop: ShopId, customer: CustomerId) -> Result<Option<crate::customer_sql::BuyerTypeRecord>> {
                let row: Option<(String, Option<Uuid>, String, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT buyer_type, set_by, set_by_name, set_at FROM customer_types WHERE shop_id = $1 AND customer_id = $2",
                )
                .bind(shop.0).bind(customer.0).fetch_optional(&self.pool).await?;
                row.map(|(t, by, name, at)| {
                    let buyer_type = kefu_core::buyer_types::BuyerType::parse(&t)
                        .ok_or_else(|| StoreError::Corrupt(format!("buyer type {t}")))?;
                    Ok(crate::customer_sql::BuyerTypeRecord { buyer_type, set_by: by.map(AccountId), set_by_name: name, set_at: at })
                })
                .transpose()
            }

            async fn set_buyer_type(&self, shop: ShopId, customer: CustomerId, set: Option<&crate::customer_sql::BuyerTypeRecord>) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::take_customer(&mut tx, shop, customer).await?;
                match set {
                    Some(r) => {
                        sqlx::query(
                            "INSERT INTO customer_types (customer_id, shop_id, buyer_type, set_by, set_by_name, set_at) VALUES ($1, $2, $3, $4, $5, $6)
                             ON CONFLICT (customer_id) DO UPDATE SET buyer_type = excluded.buyer_type, set_by = excluded.set_by,
                                set_by_name = excluded.set_by_name, set_at = excluded.set_at",
                        )
                        .bind(customer.0).bind(shop.0).bind(r.buyer_type.as_str()).bind(r.set_by.map(|a| a.0)).bind(&r.set_by_name).bind(r.set_at)
                        .execute(&mut *tx).await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM customer_types WHERE shop_id = $1 AND customer_id = $2")
                            .bind(shop.0).bind(customer.0).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn buyer_behaviour(&self, shop: ShopId, customer: CustomerId) -> Result<kefu_core::buyer_types::Behaviour> {
                use kefu_core::buyer_types::{Behaviour, BuyerMessage, OrderFact};
                let orders: Vec<(DateTime<Utc>, Option<DateTime<Utc>>, Option<String>)> = sqlx::query_as(
                    "SELECT created_at, paid_at, close_reason FROM orders WHERE shop_id = $1 AND customer_id = $2 ORDER BY created_at",
                )
                .bind(shop.0).bind(customer.0).fetch_all(&self.pool).await?;
                // `->` and `->>` read JSON on both engines (SQLite ≥ 3.38, PostgreSQL's jsonb).
                let mut messages: Vec<(DateTime<Utc>, Option<String>)> = sqlx::query_as(
                    "SELECT e.at, (e.body -> 'content' ->> 'text') FROM customers cu
                     JOIN conversations c ON c.shop_id = cu.shop_id AND c.visitor = 'buyer:' || cu.nick
                     JOIN conversation_events e ON e.conversation_id = c.id
                     WHERE cu.shop_id = $1 AND cu.id = $2 AND e.sender = 'buyer'
                       AND (e.body ->> 'kind') = 'message' AND (e.body -> 'content' ->> 'kind') = 'text'
                     ORDER BY e.at DESC, e.seq DESC LIMIT $3",
                )
                .bind(shop.0).bind(customer.0).bind(crate::customer_sql::BEHAVIOUR_MESSAGES).fetch_all(&self.pool).await?;
                messages.reverse();
                let (complaints,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM service_tickets WHERE shop_id = $1 AND customer_id = $2 AND kind IN ('negative_review', 'complaint')",
                )
                .bind(shop.0).bind(customer.0).fetch_one(&self.pool).await?;
                Ok(Behaviour {
                    orders: orders
                        .into_iter()
                        .map(|(created_at, paid_at, reason)| OrderFact {
                            created_at,
                            paid_at,
                            closed_unpaid: paid_at.is_none()
                                && matches!(reason.as_deref(), Some("buyer_cancelled" | "payment_timeout")),
                        })
                        .collect(),
                    messages: messages
                        .into_iter()
                        .filter_map(|(at, text)| text.map(|text| BuyerMessage { at, text }))
                        .collect(),
                    complaints: u32::try_from(complaints).unwrap_or(u32::MAX),
                })
            }

            async fn schedule_visit(&self, v: &kefu_core::visits::Visit) -> Result<bool> {
                let done = sqlx::query(concat!("INSERT INTO follow_up_visits (", crate::customer_sql::visit_columns!(), ")
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (source, source_id) DO NOTHING"))
                    .bind(v.id.0).bind(v.shop_id.0).bind(v.customer_id.0).bind(v.source.as_str()).bind(v.source_id)
                    .bind(v.order_id.map(|o| o.0)).bind(v.assignee.map(|a| a.0)).bind(v.due_at).bind(v.created_at)
                    .bind(v.outcome.map(|o| o.as_str())).bind(&v.note).bind(v.done_at).bind(v.done_by.map(|a| a.0))
                    .execute(&self.writer).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn visit(&self, shop: ShopId, id: kefu_core::ids::VisitId) -> Result<Option<kefu_core::visits::Visit>> {
                sqlx::query_as::<_, crate::customer_sql::VisitRow>(concat!("SELECT ", crate::customer_sql::visit_columns!(),
                    " FROM follow_up_visits WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?
                    .map(TryInto::try_into).transpose()
            }

            async fn visits(&self, shop: ShopId, q: &crate::customer_sql::VisitQuery) -> Result<Listed<kefu_core::visits::Visit>> {
                macro_rules! visits_where {
                    () => {
                        " FROM follow_up_visits WHERE shop_id = $1
                          AND ($2 IS NULL OR ($2 = TRUE AND done_at IS NULL) OR ($2 = FALSE AND done_at IS NOT NULL))
                          AND ($3 IS NULL OR due_at <= $3)
                          AND ($4 IS NULL OR assignee = $4 OR assignee IS NULL)"
                    };
                }
                let (total,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*)", visits_where!()))
                    .bind(shop.0).bind(q.open).bind(q.due_by).bind(q.for_account.map(|a| a.0))
                    .fetch_one(&self.pool).await?;
                let rows: Vec<crate::customer_sql::VisitRow> = sqlx::query_as(concat!(
                    "SELECT ", crate::customer_sql::visit_columns!(), visits_where!(), " ORDER BY due_at, id LIMIT $5 OFFSET $6"
                ))
                .bind(shop.0).bind(q.open).bind(q.due_by).bind(q.for_account.map(|a| a.0)).bind(q.page.limit).bind(q.page.offset)
                .fetch_all(&self.pool).await?;
                Ok(Listed { items: rows.into_iter().map(TryInto::try_into).collect::<Result<_>>()?, total })
            }

            async fn record_visit(&self, v: &kefu_core::visits::Visit) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE follow_up_visits SET outcome = $3, note = $4, done_at = $5, done_by = $6
                     WHERE shop_id = $1 AND id = $2 AND done_at IS NULL",
                )
                .bind(v.shop_id.0).bind(v.id.0).bind(v.outcome.map(|o| o.as_str())).bind(&v.note).bind(v.done_at)
                .bind(v.done_by.map(|a| a.0))
                .execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return match self.visit(v.shop_id, v.id).await? {
                        None => Err(StoreError::NotFound),
                        Some(_) => Err(StoreError::Conflict("the visit's outcome was recorded already".into())),
                    };
                }
                Ok(())
            }

            async fn opt_out_visitor(&self, shop: ShopId, visitor: &str, at: DateTime<Utc>) -> Result<bool> {
                let Some(nick) = visitor.strip_prefix("buyer:") else { return Ok(false) };
                let done = sqlx::query(
                    "INSERT INTO customer_opt_outs (customer_id, shop_id, at)
                     SELECT id, shop_id, $3 FROM customers WHERE shop_id = $1 AND nick = $2
                     ON CONFLICT DO NOTHING",
                )
                .bind(shop.0).bind(nick).bind(at).execute(&self.writer).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn customer_groups(&self, shop: ShopId) -> Result<Vec<crate::customer_sql::CustomerGroup>> {
                let rows: Vec<crate::customer_sql::GroupRow> = sqlx::query_as(
                    "SELECT g.id, g.shop_id, g.name, g.created_at,
                        (SELECT COUNT(*) FROM customer_group_members m WHERE m.group_id = g.id) AS members
                     FROM customer_groups g WHERE g.shop_id = $1 ORDER BY g.name",
                )
                .bind(shop.0).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn create_customer_group(&self, g: &crate::customer_sql::CustomerGroup) -> Result<()> {
                sqlx::query("INSERT INTO customer_groups (id, shop_id, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(g.id.0).bind(g.shop_id.0).bind(&g.name).bind(g.created_at).execute(&self.writer).await?;
                Ok(())
            }

            async fn rename_customer_group(&self, shop: ShopId, id: kefu_core::ids::CustomerGroupId, name: &str) -> Result<()> {
                let done = sqlx::query("UPDATE customer_groups SET name = $3 WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).bind(name).execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn delete_customer_group(&self, shop: ShopId, id: kefu_core::ids::CustomerGroupId) -> Result<()> {
                let done = sqlx::query("DELETE FROM customer_groups WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn change_group_members(
                &self,
                shop: ShopId,
                group: kefu_core::ids::CustomerGroupId,
                add: &[CustomerId],
                remove: &[CustomerId],
                at: DateTime<Utc>,
            ) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let found: Option<(Uuid,)> = sqlx::query_as("UPDATE customer_groups SET name = name WHERE shop_id = $1 AND id = $2 RETURNING id")
                    .bind(shop.0).bind(group.0).fetch_optional(&mut *tx).await?;
                if found.is_none() {
                    return Err(StoreError::NotFound);
                }
                for c in add {
                    let done = sqlx::query(
                        "INSERT INTO customer_group_members (group_id, shop_id, customer_id, added_at)
                         SELECT $1, shop_id, id, $4 FROM customers WHERE shop_id = $2 AND id = $3
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(group.0).bind(shop.0).bind(c.0).bind(at).execute(&mut *tx).await?;
                    if done.rows_affected() == 0 {
                        let known: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM customers WHERE shop_id = $1 AND id = $2")
                            .bind(shop.0).bind(c.0).fetch_optional(&mut *tx).await?;
                        if known.is_none() {
                            return Err(StoreError::NotFound);
                        }
                    }
                }
                for c in remove {
                    let known: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM customers WHERE shop_id = $1 AND id = $2")
                        .bind(shop.0).bind(c.0).fetch_optional(&mut *tx).await?;
                    if known.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query("DELETE FROM customer_group_members WHERE shop_id = $1 AND group_id = $2 AND customer_id = $3")
                        .bind(shop.0).bind(group.0).bind(c.0).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn outreach_sent(&self, shop: ShopId, since: DateTime<Utc>) -> Result<Vec<(CustomerId, DateTime<Utc>)>> {
                let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT customer_id, sent_at FROM outreach_messages WHERE shop_id = $1 AND sent_at > $2 ORDER BY sent_at",
                )
                .bind(shop.0).bind(since).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(c, t)| (CustomerId(c), t)).collect())
            }

            async fn send_outreach(&self, shop: ShopId, m: &crate::customer_sql::NewOutreach) -> Result<Appended> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let nick = Self::take_customer(&mut tx, shop, m.customer).await?;
                let (out,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM customer_opt_outs WHERE customer_id = $1)")
                    .bind(m.customer.0).fetch_one(&mut *tx).await?;
                if out {
                    return Err(StoreError::Refused(crate::customer_sql::REFUSED_OPTED_OUT.into()));
                }
                let (recent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outreach_messages WHERE shop_id = $1 AND customer_id = $2 AND sent_at > $3")
                    .bind(shop.0).bind(m.customer.0).bind(m.since).fetch_one(&mut *tx).await?;
                if recent >= i64::from(m.max) {
                    return Err(StoreError::Refused(crate::customer_sql::REFUSED_CAP_REACHED.into()));
                }
                let a = Self::shop_message(&mut tx, shop, &nick, &m.text, m.at).await?;
                sqlx::query(
                    "INSERT INTO outreach_messages (id, shop_id, customer_id, conversation_id, sent_by, text, sent_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(Uuid::now_v7()).bind(shop.0).bind(m.customer.0).bind(a.conversation.id.0).bind(m.by.map(|b| b.0)).bind(&m.text).bind(m.at)
                .execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(a)
            }

            async fn record_audit(&self, e: &crate::customer_sql::AuditEntry) -> Result<()> {
                sqlx::query(
                    "INSERT INTO audit_log (id, shop_id, at, account_id, account_name, kind, customer_id, detail)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(e.id).bind(e.shop_id.0).bind(e.at).bind(e.account_id.map(|a| a.0)).bind(&e.account_name)
                .bind(e.kind.as_str()).bind(e.customer_id.map(|c| c.0)).bind(&e.detail)
                .execute(&self.writer).await?;
                Ok(())
            }

            async fn audit_log(&self, shop: ShopId, q: &crate::customer_sql::AuditQuery) -> Result<Listed<crate::customer_sql::AuditEntry>> {
                const FILTER: &str = "FROM audit_log WHERE shop_id = $1 AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4)";
                let kind = q.kind.map(|k| k.as_str());
                let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {FILTER}")))
                    .bind(shop.0).bind(kind).bind(q.from).bind(q.until).fetch_one(&self.pool).await?;
                let rows: Vec<crate::customer_sql::AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT id, shop_id, at, account_id, account_name, kind, customer_id, detail {FILTER} ORDER BY at DESC, id DESC LIMIT $5 OFFSET $6"
                )))
                .bind(shop.0).bind(kind).bind(q.from).bind(q.until).bind(q.page.limit).bind(q.page.offset)
                .fetch_all(&self.pool).await?;
                let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<_>>>()?;
                Ok(Listed { items, total })
            }

            async fn reminders_of(&self, shop: ShopId, order: OrderId) -> Result<Vec<crate::customer_sql::ReminderRecord>> {
                let rows: Vec<crate::customer_sql::ReminderRow> = sqlx::query_as(concat!(
                    "SELECT ", crate::customer_sql::reminder_columns!(), " FROM payment_reminders WHERE shop_id = $1 AND order_id = $2 ORDER BY number"
                ))
                .bind(shop.0).bind(order.0).fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn send_reminder(&self, shop: ShopId, r: &crate::customer_sql::NewReminder) -> Result<(crate::customer_sql::ReminderRecord, Appended)> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let owner: Option<(Uuid,)> = sqlx::query_as("SELECT customer_id FROM orders WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(r.order.0).fetch_optional(&mut *tx).await?;
                let (customer,) = owner.ok_or(StoreError::NotFound)?;
                // The buyer's row orders this against other sends to them; the state is read after.
                let nick = Self::take_customer(&mut tx, shop, CustomerId(customer)).await?;
                let (state,): (String,) = sqlx::query_as("SELECT state FROM orders WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(r.order.0).fetch_one(&mut *tx).await?;
                if state != "awaiting_payment" {
                    return Err(StoreError::Refused(crate::customer_sql::REFUSED_NOT_AWAITING.into()));
                }
                let a = Self::shop_message(&mut tx, shop, &nick, &r.text, r.at).await?;
                let record = crate::customer_sql::ReminderRecord {
                    id: Uuid::now_v7(),
                    order_id: r.order,
                    number: r.number,
                    reason: r.reason,
                    text: r.text.clone(),
                    sent_by: r.by,
                    sent_at: r.at,
                    conversation_id: a.conversation.id,
                };
                // The claim: a second sender of this number fails here, and its message rolls back.
                sqlx::query(concat!("INSERT INTO payment_reminders (", crate::customer_sql::reminder_columns!(), ", shop_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                    .bind(record.id).bind(r.order.0).bind(i64::from(r.number)).bind(crate::customer_sql::reason_str(r.reason)).bind(&r.text)
                    .bind(r.by.map(|b| b.0)).bind(r.at).bind(a.conversation.id.0).bind(shop.0)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                Ok((record, a))
            }

            async fn reminder_stats(&self, shop: ShopId, from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Result<crate::customer_sql::ReminderStats> {
                use crate::customer_sql::{ReasonStats, ReminderStats, parse_reason};
                const FILTER: &str = "FROM payment_reminders r JOIN orders o ON o.id = r.order_id AND o.shop_id = r.shop_id
                     WHERE r.shop_id = $1 AND ($2 IS NULL OR r.sent_at >= $2) AND ($3 IS NULL OR r.sent_at < $3)";
                const PAID_AFTER: &str = "COUNT(DISTINCT CASE WHEN o.paid_at IS NOT NULL AND o.paid_at > r.sent_at THEN r.order_id END)";
                let (sent, automatic, orders, paid_after): (i64, i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*), COUNT(*) - COUNT(r.sent_by), COUNT(DISTINCT r.order_id), {PAID_AFTER} {FILTER}"
                )))
                .bind(shop.0).bind(from).bind(until).fetch_one(&self.pool).await?;
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT r.reason, COUNT(*), {PAID_AFTER} {FILTER} GROUP BY r.reason ORDER BY r.reason"
                )))
                .bind(shop.0).bind(from).bind(until).fetch_all(&self.pool).await?;
                let by_reason = rows.into_iter().map(|(r, sent, paid_after)| Ok(ReasonStats { reason: parse_reason(&r)?, sent, paid_after })).collect::<Result<Vec<_>>>()?;
                Ok(ReminderStats { sent, automatic, orders, paid_after, by_reason })
            }
        }
    };
}
pub(crate) use customer_impl;
