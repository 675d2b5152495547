//! Rows as the database returns them, and their conversion into domain types. The same
//! structs decode from both engines; a value that no longer parses is `StoreError::Corrupt`.

use crate::{Session, StoreError, Versioned};
use chrono::{DateTime, Utc};
use kefu_core::account::{Account, Role, RoutingProfile, SkillGroup, Username};
use kefu_core::bot::{BotQuestion, BotSession, LeaveMessage, MessageStatus, Outcome};
use kefu_core::catalog::{CloseReason, Customer, KbCategory, KbEntry, Order, OrderItem, OrderState, Product};
use kefu_core::chat::{Conversation, ConversationState, Event, Sender, StatEvent};
use kefu_core::ids::{AccountId, ConversationId, EntryId};
use kefu_core::kb::EntryStats;
use kefu_core::money::Fen;
use kefu_core::order::{OrderDetail, Shipment};
use kefu_core::phrases::QuickPhrase;
use kefu_core::routing::{AgentStatus, Presence};
use kefu_core::shop::{Shop, ShopSlug};
use sqlx::types::Json;
use std::collections::BTreeMap;
use uuid::Uuid;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

#[derive(sqlx::FromRow)]
pub struct ShopRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<ShopRow> for Shop {
    type Error = StoreError;
    fn try_from(r: ShopRow) -> Result<Shop, StoreError> {
        Ok(Shop {
            id: r.id.into(),
            slug: ShopSlug::parse(&r.slug).map_err(|e| corrupt("shop slug", e))?,
            name: r.name,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub skill_group: Option<String>,
    pub takes_chats: bool,
    pub capacity: i64,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

macro_rules! account_columns {
    () => {
        "a.id, a.shop_id, a.username, a.display_name, a.role, a.skill_group, a.takes_chats, a.capacity, a.disabled, a.created_at"
    };
}
pub(crate) use account_columns;

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Account, StoreError> {
        Ok(Account {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            username: Username::parse(&r.username).map_err(|e| corrupt("username", e))?,
            display_name: r.display_name,
            role: Role::parse(&r.role).ok_or_else(|| corrupt("role", &r.role))?,
            routing: RoutingProfile {
                skill_group: r
                    .skill_group
                    .as_deref()
                    .map(SkillGroup::parse)
                    .transpose()
                    .map_err(|e| corrupt("skill group", e))?,
                takes_chats: r.takes_chats,
                capacity: u16::try_from(r.capacity).map_err(|e| corrupt("capacity", e))?,
            },
            disabled: r.disabled,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AccountWithHashRow {
    #[sqlx(flatten)]
    pub account: AccountRow,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
pub struct SessionAccountRow {
    pub token_hash: Vec<u8>,
    pub session_created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub account: AccountRow,
}

impl TryFrom<SessionAccountRow> for (Session, Account) {
    type Error = StoreError;
    fn try_from(r: SessionAccountRow) -> Result<(Session, Account), StoreError> {
        let account = Account::try_from(r.account)?;
        let session = Session {
            token_hash: r.token_hash,
            shop_id: account.shop_id,
            account_id: account.id,
            created_at: r.session_created_at,
            expires_at: r.expires_at,
        };
        Ok((session, account))
    }
}

#[derive(sqlx::FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub sku: String,
    pub title: String,
    pub category: String,
    pub price_fen: i64,
    pub stock: i64,
    pub attributes: Json<BTreeMap<String, String>>,
    pub created_at: DateTime<Utc>,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Product {
        Product {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            sku: r.sku,
            title: r.title,
            category: r.category,
            price: Fen(r.price_fen),
            stock: r.stock,
            attributes: r.attributes.0,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct CustomerRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub nick: String,
    pub name: String,
    pub phone: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
}

impl From<CustomerRow> for Customer {
    fn from(r: CustomerRow) -> Customer {
        Customer {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            nick: r.nick,
            name: r.name,
            phone: r.phone,
            address: r.address,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub order_no: String,
    pub customer_id: Uuid,
    pub state: String,
    pub close_reason: Option<String>,
    pub items: Json<Vec<OrderItem>>,
    pub shipping_fee_fen: i64,
    pub address: String,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;
    fn try_from(r: OrderRow) -> Result<Order, StoreError> {
        Ok(Order {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            order_no: r.order_no,
            customer_id: r.customer_id.into(),
            state: OrderState::parse(&r.state).ok_or_else(|| corrupt("order state", &r.state))?,
            close_reason: r
                .close_reason
                .as_deref()
                .map(|c| CloseReason::parse(c).ok_or_else(|| corrupt("close reason", c)))
                .transpose()?,
            items: r.items.0,
            shipping_fee: Fen(r.shipping_fee_fen),
            address: r.address,
            created_at: r.created_at,
            paid_at: r.paid_at,
            shipped_at: r.shipped_at,
            completed_at: r.completed_at,
            closed_at: r.closed_at,
        })
    }
}

/// An order with the seller's side (memo, flag, parcel) and its version.
#[derive(sqlx::FromRow)]
pub struct OrderDetailRow {
    #[sqlx(flatten)]
    pub order: OrderRow,
    pub seller_memo: String,
    pub flag: Option<String>,
    pub shipment: Option<Json<Shipment>>,
    pub shipping_insurance: bool,
    pub version: i64,
}

impl TryFrom<OrderDetailRow> for Versioned<OrderDetail> {
    type Error = StoreError;
    fn try_from(r: OrderDetailRow) -> Result<Versioned<OrderDetail>, StoreError> {
        Ok(Versioned {
            value: OrderDetail {
                order: r.order.try_into()?,
                seller_memo: r.seller_memo,
                flag: r.flag.as_deref().map(|f| enum_parse(f, "order flag")).transpose()?,
                shipment: r.shipment.map(|s| s.0),
                shipping_insurance: r.shipping_insurance,
            },
            version: r.version,
        })
    }
}

/// A unit-only enum's serde name (`red`, `refund_only`), as stored in a text column.
pub fn enum_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => unreachable!("not a unit enum: {other:?}"),
    }
}

pub fn enum_parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| corrupt(what, e))
}

#[derive(sqlx::FromRow)]
pub struct KbCategoryRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub name: String,
    pub position: i64,
}

impl From<KbCategoryRow> for KbCategory {
    fn from(r: KbCategoryRow) -> KbCategory {
        KbCategory {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            name: r.name,
            position: r.position,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct KbEntryRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub category_id: Uuid,
    pub question: String,
    pub similar_questions: Json<Vec<String>>,
    pub answer: String,
    pub enabled: bool,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub hits: i64,
    pub helpful: i64,
    pub unhelpful: i64,
}

impl From<KbEntryRow> for KbEntry {
    fn from(r: KbEntryRow) -> KbEntry {
        KbEntry {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            category_id: r.category_id.into(),
            question: r.question,
            similar: r.similar_questions.0,
            answer: r.answer,
            enabled: r.enabled,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            created_at: r.created_at,
            updated_at: r.updated_at,
            stats: EntryStats {
                hits: r.hits,
                helpful: r.helpful,
                unhelpful: r.unhelpful,
            },
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct BotSessionRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub visitor: String,
    pub failures: i64,
    pub offered: Json<Vec<Uuid>>,
    pub handed_off: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<BotSessionRow> for BotSession {
    fn from(r: BotSessionRow) -> BotSession {
        BotSession {
            id: r.id,
            shop_id: r.shop_id.into(),
            visitor: r.visitor,
            failures: u8::try_from(r.failures).unwrap_or(u8::MAX),
            offered: r.offered.0.into_iter().map(EntryId::from).collect(),
            handed_off: r.handed_off,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct BotQuestionRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub session_id: Uuid,
    pub question: String,
    pub outcome: String,
    pub entry_id: Option<Uuid>,
    pub confidence: f32,
    pub helpful: Option<bool>,
    pub confirmed: bool,
    pub resolved: bool,
    pub asked_at: DateTime<Utc>,
}

impl TryFrom<BotQuestionRow> for BotQuestion {
    type Error = StoreError;
    fn try_from(r: BotQuestionRow) -> Result<BotQuestion, StoreError> {
        Ok(BotQuestion {
            id: r.id,
            shop_id: r.shop_id.into(),
            session_id: r.session_id,
            outcome: Outcome::parse(&r.outcome).ok_or_else(|| corrupt("bot question outcome", &r.outcome))?,
            question: r.question,
            entry_id: r.entry_id.map(EntryId::from),
            confidence: r.confidence,
            helpful: r.helpful,
            confirmed: r.confirmed,
            resolved: r.resolved,
            asked_at: r.asked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct LeaveMessageRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub session_id: Option<Uuid>,
    pub name: String,
    pub contact: String,
    pub text: String,
    pub status: String,
    pub note: String,
    pub handled_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub handled_at: Option<DateTime<Utc>>,
}

impl TryFrom<LeaveMessageRow> for LeaveMessage {
    type Error = StoreError;
    fn try_from(r: LeaveMessageRow) -> Result<LeaveMessage, StoreError> {
        Ok(LeaveMessage {
            id: r.id,
            shop_id: r.shop_id.into(),
            session_id: r.session_id,
            status: MessageStatus::parse(&r.status).ok_or_else(|| corrupt("leave message status", &r.status))?,
            name: r.name,
            contact: r.contact,
            text: r.text,
            note: r.note,
            handled_by: r.handled_by.map(AccountId::from),
            created_at: r.created_at,
            handled_at: r.handled_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ConversationRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub visitor: String,
    pub buyer_nick: String,
    pub channel: String,
    pub skill_group: Option<String>,
    pub state: String,
    pub agent_id: Option<Uuid>,
    pub last_seq: i64,
    pub buyer_read_seq: i64,
    pub agent_read_seq: i64,
    pub created_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub buyer_waiting_since: Option<DateTime<Utc>>,
    pub agent_answered: bool,
    pub last_activity_at: DateTime<Utc>,
}

impl TryFrom<ConversationRow> for Conversation {
    type Error = StoreError;
    fn try_from(r: ConversationRow) -> Result<Conversation, StoreError> {
        Ok(Conversation {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            visitor: r.visitor,
            buyer_nick: r.buyer_nick,
            channel: r.channel,
            skill_group: r
                .skill_group
                .map(|g| SkillGroup::parse(&g).map_err(|e| corrupt("conversation skill group", e)))
                .transpose()?,
            state: ConversationState::parse(&r.state).ok_or_else(|| corrupt("conversation state", &r.state))?,
            agent_id: r.agent_id.map(AccountId),
            last_seq: r.last_seq,
            buyer_read_seq: r.buyer_read_seq,
            agent_read_seq: r.agent_read_seq,
            created_at: r.created_at,
            queued_at: r.queued_at,
            assigned_at: r.assigned_at,
            closed_at: r.closed_at,
            buyer_waiting_since: r.buyer_waiting_since,
            agent_answered: r.agent_answered,
            last_activity_at: r.last_activity_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub conversation_id: Uuid,
    pub seq: i64,
    pub sender: String,
    pub sender_id: Option<Uuid>,
    pub client_id: Option<String>,
    pub body: Json<serde_json::Value>,
    pub at: DateTime<Utc>,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Event, StoreError> {
        let sender = match (r.sender.as_str(), r.sender_id) {
            ("buyer", _) => Sender::Buyer,
            ("agent", Some(id)) => Sender::Agent(AccountId(id)),
            ("bot", _) => Sender::Bot,
            ("system", _) => Sender::System,
            (other, _) => return Err(corrupt("event sender", other)),
        };
        Ok(Event {
            conversation_id: r.conversation_id.into(),
            seq: r.seq,
            sender,
            client_id: r.client_id,
            body: serde_json::from_value(r.body.0).map_err(|e| corrupt("event body", e))?,
            at: r.at,
        })
    }
}

/// How a sender is stored: its role, and the account for agents.
pub fn sender_columns(s: &Sender) -> (&'static str, Option<Uuid>) {
    match s {
        Sender::Buyer => ("buyer", None),
        Sender::Agent(id) => ("agent", Some(id.0)),
        Sender::Bot => ("bot", None),
        Sender::System => ("system", None),
    }
}

#[derive(sqlx::FromRow)]
pub struct AgentStatusRow {
    pub id: Uuid,
    pub display_name: String,
    pub role: String,
    pub skill_group: Option<String>,
    pub takes_chats: bool,
    pub capacity: i64,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub status: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub idle_since: Option<DateTime<Utc>>,
    pub load: i64,
}

impl TryFrom<AgentStatusRow> for AgentStatus {
    type Error = StoreError;
    fn try_from(r: AgentStatusRow) -> Result<AgentStatus, StoreError> {
        Ok(AgentStatus {
            account_id: AccountId(r.id),
            display_name: r.display_name,
            role: Role::parse(&r.role).ok_or_else(|| corrupt("role", &r.role))?,
            skill_group: r
                .skill_group
                .map(|g| SkillGroup::parse(&g).map_err(|e| corrupt("skill group", e)))
                .transpose()?,
            takes_chats: r.takes_chats,
            capacity: u32::try_from(r.capacity).unwrap_or(0),
            presence: match r.status.as_deref() {
                None => Presence::Offline,
                Some(s) => Presence::parse(s).ok_or_else(|| corrupt("presence", s))?,
            },
            load: u32::try_from(r.load).unwrap_or(u32::MAX),
            since: r.since,
            idle_since: r.idle_since.unwrap_or(r.created_at),
            disabled: r.disabled,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct StatEventRow {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub conversation_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub value_ms: Option<i64>,
    pub data: Option<String>,
}

impl From<StatEventRow> for StatEvent {
    fn from(r: StatEventRow) -> StatEvent {
        StatEvent {
            kind: r.kind,
            at: r.at,
            conversation_id: r.conversation_id.map(ConversationId),
            account_id: r.account_id.map(AccountId),
            value_ms: r.value_ms,
            data: r.data,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct QuickPhraseRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub group_name: String,
    pub shortcut: Option<String>,
    pub text: String,
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! phrase_columns {
    () => {
        "id, shop_id, owner_id, group_name, shortcut, text, position, created_at, updated_at"
    };
}
pub(crate) use phrase_columns;

impl From<QuickPhraseRow> for QuickPhrase {
    fn from(r: QuickPhraseRow) -> QuickPhrase {
        QuickPhrase {
            id: r.id.into(),
            shop_id: r.shop_id.into(),
            owner: r.owner_id.map(AccountId::from),
            group: r.group_name,
            shortcut: r.shortcut,
            text: r.text,
            position: r.position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
