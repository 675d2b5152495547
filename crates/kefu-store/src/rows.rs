//! Rows as the database returns them, and their conversion into domain types. The same
//! structs decode from both engines; a value that no longer parses is `StoreError::Corrupt`.

use crate::{Session, StoreError};
use chrono::{DateTime, Utc};
use kefu_core::account::{Account, Role, RoutingProfile, SkillGroup, Username};
use kefu_core::bot::{BotQuestion, BotSession, LeaveMessage, MessageStatus, Outcome};
use kefu_core::catalog::{CloseReason, Customer, KbCategory, KbEntry, Order, OrderItem, OrderState, Product};
use kefu_core::ids::{AccountId, EntryId};
use kefu_core::kb::EntryStats;
use kefu_core::money::Fen;
use kefu_core::phrases::QuickPhrase;
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
