//! The SQL both engines share, written once. `impl_store!` expands to a full [`Store`]
//! implementation for a struct with a `pool` field; SQLite and PostgreSQL accept the same
//! Reads go to `pool`, writes to `writer`: for SQLite a pool of one connection, so that
//! writers queue in order in the pool instead of contending for the file's write lock (whose
//! busy handler sleeps up to 100 ms at a time); for PostgreSQL the same pool.
//! `$n` placeholders, `RETURNING` and `ON CONFLICT`, and the row structs in [`rows`] decode
//! from either. Engine-specific SQL, when a later feature needs it, goes in that engine's file.
//!
//! [`Store`]: crate::Store
//! [`rows`]: crate::rows

/// Binds the filters of an order search in the order the `ORDER_FILTER` placeholders expect.
macro_rules! bind_order_filter {
    ($q:expr, $shop:expr, $f:expr) => {
        $q.bind($shop.0)
            .bind($f.text.as_deref())
            .bind($f.customer_id.map(|c| c.0))
            .bind($f.state.map(|s| s.as_str()))
            .bind($f.from)
            .bind($f.until)
    };
}
pub(crate) use bind_order_filter;

macro_rules! order_filter {
    () => {
        "FROM orders o JOIN customers c ON c.id = o.customer_id AND c.shop_id = o.shop_id
     WHERE o.shop_id = $1
       AND ($2 IS NULL OR o.order_no = $2 OR c.nick LIKE '%' || $2 || '%')
       AND ($3 IS NULL OR o.customer_id = $3)
       AND ($4 IS NULL OR o.state = $4)
       AND ($5 IS NULL OR o.created_at >= $5)
       AND ($6 IS NULL OR o.created_at < $6)"
    };
}
pub(crate) use order_filter;

macro_rules! product_filter {
    () => {
        "FROM products WHERE shop_id = $1
       AND ($2 IS NULL OR title LIKE '%' || $2 || '%' OR sku = $2)
       AND ($3 IS NULL OR category = $3)"
    };
}
pub(crate) use product_filter;

macro_rules! customer_filter {
    () => {
        "FROM customers WHERE shop_id = $1
       AND ($2 IS NULL OR nick LIKE '%' || $2 || '%' OR name LIKE '%' || $2 || '%')"
    };
}
pub(crate) use customer_filter;

macro_rules! kb_entry_columns {
    () => {
        "id, shop_id, category_id, question, similar_questions, answer, enabled, valid_from, valid_until, created_at, updated_at, hits, helpful, unhelpful"
    };
}
pub(crate) use kb_entry_columns;

macro_rules! bot_question_columns {
    () => {
        "id, shop_id, session_id, question, outcome, entry_id, confidence, helpful, confirmed, resolved, asked_at"
    };
}
pub(crate) use bot_question_columns;

macro_rules! leave_message_columns {
    () => {
        "id, shop_id, session_id, name, contact, text, status, note, handled_by, created_at, handled_at"
    };
}
pub(crate) use leave_message_columns;

macro_rules! impl_store {
    ($store:ty, $db:ty, $engine:literal, $begin_write:literal, $lock_shop:literal) => {
        mod shared_sql {
            use crate::rows::*;
            use crate::sql::{bind_order_filter, bot_question_columns, customer_filter, kb_entry_columns, leave_message_columns, order_filter, product_filter};
            use crate::chat_sql::{agent_status_query, chat_helpers, chat_impl, conversation_columns};
            use crate::customer_sql::customer_impl;
            use crate::{Appended, ChatStore, NewEvent};
            use kefu_core::chat::{Conversation, ConversationState, Event, EventBody, Sender, StatEvent, StatKind, Transition};
            use kefu_core::ids::ConversationId;
            use kefu_core::routing::{AgentLoad, AgentStatus, Presence, can_receive_transfer, pick};
            use crate::{Catalog, KbImportRow, KbImportSummary, Learn, Listed, NewShop, OrderQuery, Page, ProductQuery, Result, Session, Store, StoreError};
            use kefu_core::bot::{AgentReplies, BotLexicon, BotQuestion, BotSession, LeaveMessage, MessageStatus, Outcome};
            use std::collections::{HashMap, HashSet};
            use uuid::Uuid;
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use kefu_core::account::{Account, Role};
            use kefu_core::catalog::{Customer, KbCategory, KbEntry, Order, Product};
            use kefu_core::ids::{AccountId, CategoryId, CustomerId, EntryId, OrderId, PhraseId, ProductId, ShopId};
            use kefu_core::lockout::FailureRecord;
            use kefu_core::phrases::{plan_import, Direction, PhraseImportSummary, PhraseRow, QuickPhrase};
            use kefu_core::settings::ShopSettings;
            use kefu_core::shop::{Shop, ShopSlug};
            use sqlx::types::Json;
            use super::*;
        mod order_sql {
            use crate::rows::*;
            use crate::order_sql::order_detail_columns;
            use crate::sql::{bind_order_filter, order_filter};
            use crate::{Listed, OrderImportSummary, OrderQuery, OrderStore, Result, StoreError, TicketQuery, Versioned};
            use kefu_core::catalog::Customer;
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use kefu_core::aftersales::{AfterSalesTicket, TicketStep};
            use kefu_core::ids::{AfterSalesId, OrderId, ServiceTicketId, ShopId};
            use kefu_core::money::Fen;
            use kefu_core::order::{Applied, LogisticsEvent, OrderDetail, OrderRecord};
            use kefu_core::service_tickets::{ServiceRecord, ServiceTicket};
            use sqlx::types::Json;
            use uuid::Uuid;
            use super::super::*;
            crate::order_sql::order_impl!($store, $db, $begin_write);
        }
        mod product_sql {
            use crate::{Result, StoreError};
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use kefu_core::ids::{ProductFaqId, ProductId, ShopId};
            use kefu_core::product_knowledge::{ProductFaq, ProductInfo, ProductKnowledge, RelatedProduct};
            use sqlx::types::Json;
            use uuid::Uuid;
            use super::super::*;
            crate::product_sql::product_impl!($store, $db, $begin_write);
        }
        chat_helpers!($store, $db, $begin_write);
        chat_impl!($store, $db, $engine, $begin_write, $lock_shop);
        customer_impl!($store, $db, $begin_write);
        crate::hook_sql::hook_impl!($store, $db, $begin_write);

        impl $store {
            async fn insert_catalog(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, c: &Catalog) -> Result<()> {
                for p in &c.products {
                    sqlx::query(
                        "INSERT INTO products (id, shop_id, sku, title, category, price_fen, stock, attributes, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(p.id.0).bind(shop.0).bind(&p.sku).bind(&p.title).bind(&p.category).bind(p.price.0).bind(p.stock)
                    .bind(Json(&p.attributes)).bind(p.created_at)
                    .execute(&mut **tx).await?;
                }
                for cu in &c.customers {
                    sqlx::query("INSERT INTO customers (id, shop_id, nick, name, phone, address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(cu.id.0).bind(shop.0).bind(&cu.nick).bind(&cu.name).bind(&cu.phone).bind(&cu.address).bind(cu.created_at)
                        .execute(&mut **tx).await?;
                }
                for o in &c.orders {
                    sqlx::query(
                        "INSERT INTO orders (id, shop_id, order_no, customer_id, state, close_reason, items, shipping_fee_fen, address,
                                             created_at, paid_at, shipped_at, completed_at, closed_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(o.id.0).bind(shop.0).bind(&o.order_no).bind(o.customer_id.0).bind(o.state.as_str())
                    .bind(o.close_reason.map(|r| r.as_str())).bind(Json(&o.items)).bind(o.shipping_fee.0).bind(&o.address)
                    .bind(o.created_at).bind(o.paid_at).bind(o.shipped_at).bind(o.completed_at).bind(o.closed_at)
                    .execute(&mut **tx).await?;
                }
                for k in &c.kb_categories {
                    sqlx::query("INSERT INTO kb_categories (id, shop_id, name, position) VALUES ($1, $2, $3, $4)")
                        .bind(k.id.0).bind(shop.0).bind(&k.name).bind(k.position)
                        .execute(&mut **tx).await?;
                }
                for e in &c.kb_entries {
                    sqlx::query(
                        "INSERT INTO kb_entries (id, shop_id, category_id, question, similar_questions, answer, enabled, valid_from, valid_until, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(e.id.0).bind(shop.0).bind(e.category_id.0).bind(&e.question).bind(Json(&e.similar)).bind(&e.answer)
                    .bind(e.enabled).bind(e.valid_from).bind(e.valid_until).bind(e.created_at).bind(e.updated_at)
                    .execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Tells every node's bot to rebuild: called in the transaction of each change it must see.
            async fn bump_bot(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId) -> Result<()> {
                sqlx::query(
                    "INSERT INTO bot_state (shop_id, version, words, synonyms) VALUES ($1, 1, '[]', '[]')
                     ON CONFLICT (shop_id) DO UPDATE SET version = bot_state.version + 1",
                )
                .bind(shop.0).execute(&mut **tx).await?;
                Ok(())
            }

            async fn check_category(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, id: CategoryId) -> Result<()> {
                let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM kb_categories WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).fetch_optional(&mut **tx).await?;
                found.map(|_| ()).ok_or(StoreError::NotFound)
            }

            async fn insert_entry(tx: &mut sqlx::Transaction<'static, $db>, e: &KbEntry) -> Result<()> {
                sqlx::query(
                    "INSERT INTO kb_entries (id, shop_id, category_id, question, similar_questions, answer, enabled, valid_from, valid_until, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(e.id.0).bind(e.shop_id.0).bind(e.category_id.0).bind(&e.question).bind(Json(&e.similar)).bind(&e.answer)
                .bind(e.enabled).bind(e.valid_from).bind(e.valid_until).bind(e.created_at).bind(e.updated_at)
                .execute(&mut **tx).await?;
                Ok(())
            }

            async fn save_entry(tx: &mut sqlx::Transaction<'static, $db>, e: &KbEntry) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE kb_entries SET category_id = $3, question = $4, similar_questions = $5, answer = $6, enabled = $7,
                            valid_from = $8, valid_until = $9, updated_at = $10
                     WHERE shop_id = $1 AND id = $2",
                )
                .bind(e.shop_id.0).bind(e.id.0).bind(e.category_id.0).bind(&e.question).bind(Json(&e.similar)).bind(&e.answer)
                .bind(e.enabled).bind(e.valid_from).bind(e.valid_until).bind(e.updated_at)
                .execute(&mut **tx).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn entry_in(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, id: EntryId) -> Result<Option<KbEntry>> {
                Ok(sqlx::query_as::<_, KbEntryRow>(concat!("SELECT ", kb_entry_columns!(), " FROM kb_entries WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id.0).fetch_optional(&mut **tx).await?.map(KbEntry::from))
            }

            /// Takes the shop's phrase lock until the transaction ends. `NotFound` if there is no such shop.
            async fn lock_phrases(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId) -> Result<()> {
                let found: Option<(Uuid,)> = sqlx::query_as($lock_shop).bind(shop.0).fetch_optional(&mut **tx).await?;
                found.map(|_| ()).ok_or(StoreError::NotFound)
            }

            async fn check_owner(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, owner: Option<AccountId>) -> Result<()> {
                let Some(owner) = owner else { return Ok(()) };
                let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM accounts WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(owner.0).fetch_optional(&mut **tx).await?;
                found.map(|_| ()).ok_or(StoreError::NotFound)
            }

            async fn phrase_in(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, id: PhraseId) -> Result<Option<QuickPhrase>> {
                Ok(sqlx::query_as::<_, QuickPhraseRow>(concat!("SELECT ", phrase_columns!(), " FROM quick_phrases WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id.0).fetch_optional(&mut **tx).await?.map(QuickPhrase::from))
            }

            /// A scope's phrases (the team's for `None`), or one group of them, in order.
            async fn phrases_of(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, owner: Option<AccountId>, group: Option<&str>) -> Result<Vec<QuickPhrase>> {
                Ok(sqlx::query_as::<_, QuickPhraseRow>(concat!(
                    "SELECT ", phrase_columns!(), " FROM quick_phrases
                     WHERE shop_id = $1 AND (($2 IS NULL AND owner_id IS NULL) OR owner_id = $2) AND ($3 IS NULL OR group_name = $3)
                     ORDER BY group_name, position, created_at, id"
                ))
                .bind(shop.0).bind(owner.map(|o| o.0)).bind(group).fetch_all(&mut **tx).await?.into_iter().map(QuickPhrase::from).collect())
            }

            /// Numbers a group's phrases from 0 in the order given, writing only the places that
            /// changed; any gap or tie left by an earlier failure heals here too.
            async fn renumber(tx: &mut sqlx::Transaction<'static, $db>, group: &mut [QuickPhrase]) -> Result<()> {
                for (i, p) in group.iter_mut().enumerate() {
                    let i = i as i64;
                    if p.position != i {
                        sqlx::query("UPDATE quick_phrases SET position = $3 WHERE shop_id = $1 AND id = $2")
                            .bind(p.shop_id.0).bind(p.id.0).bind(i).execute(&mut **tx).await?;
                        p.position = i;
                    }
                }
                Ok(())
            }

            async fn insert_phrase(tx: &mut sqlx::Transaction<'static, $db>, p: &QuickPhrase) -> Result<()> {
                sqlx::query(concat!("INSERT INTO quick_phrases (", phrase_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                    .bind(p.id.0).bind(p.shop_id.0).bind(p.owner.map(|o| o.0)).bind(&p.group).bind(p.shortcut.as_deref()).bind(&p.text)
                    .bind(p.position).bind(p.created_at).bind(p.updated_at)
                    .execute(&mut **tx).await?;
                Ok(())
            }

            async fn save_phrase(tx: &mut sqlx::Transaction<'static, $db>, p: &QuickPhrase) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE quick_phrases SET group_name = $3, shortcut = $4, text = $5, position = $6, updated_at = $7 WHERE shop_id = $1 AND id = $2",
                )
                .bind(p.shop_id.0).bind(p.id.0).bind(&p.group).bind(p.shortcut.as_deref()).bind(&p.text).bind(p.position).bind(p.updated_at)
                .execute(&mut **tx).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn check_account(&self, shop: ShopId, id: AccountId) -> Result<()> {
                let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM accounts WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?;
                found.map(|_| ()).ok_or(StoreError::NotFound)
            }

            async fn insert_account(tx: &mut sqlx::Transaction<'static, $db>, a: &Account, hash: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO accounts (id, shop_id, username, display_name, role, skill_group, takes_chats, capacity, disabled, password_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(a.id.0).bind(a.shop_id.0).bind(a.username.as_str()).bind(&a.display_name).bind(a.role.as_str())
                .bind(a.routing.skill_group.as_ref().map(|g| g.as_str())).bind(a.routing.takes_chats).bind(i64::from(a.routing.capacity))
                .bind(a.disabled).bind(hash).bind(a.created_at)
                .execute(&mut **tx).await?;
                Ok(())
            }
        }

        #[async_trait]
        impl Store for $store {
            fn engine(&self) -> &'static str {
                $engine
            }

            fn broker(&self) -> Option<std::sync::Arc<dyn crate::broker::Broker>> {
                self.make_broker()
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.writer).await?;
                Ok(())
            }

            async fn create_shop(&self, new: &NewShop) -> Result<()> {
                let owners = new.accounts.iter().filter(|(a, _)| a.role == Role::Owner).count();
                if owners != 1 {
                    return Err(StoreError::Config(format!("a new shop needs exactly one owner account, got {owners}")));
                }
                let mut tx = self.writer.begin_with($begin_write).await?;
                sqlx::query("INSERT INTO shops (id, slug, name, settings, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(new.shop.id.0).bind(new.shop.slug.as_str()).bind(&new.shop.name).bind(Json(&new.settings)).bind(new.shop.created_at)
                    .execute(&mut *tx).await?;
                for (a, hash) in &new.accounts {
                    let mut a = a.clone();
                    a.shop_id = new.shop.id;
                    Self::insert_account(&mut tx, &a, hash).await?;
                }
                Self::insert_catalog(&mut tx, new.shop.id, &new.catalog).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn shop(&self, id: ShopId) -> Result<Option<Shop>> {
                sqlx::query_as::<_, ShopRow>("SELECT id, slug, name, created_at FROM shops WHERE id = $1")
                    .bind(id.0).fetch_optional(&self.pool).await?.map(Shop::try_from).transpose()
            }

            async fn shop_by_slug(&self, slug: &ShopSlug) -> Result<Option<Shop>> {
                sqlx::query_as::<_, ShopRow>("SELECT id, slug, name, created_at FROM shops WHERE slug = $1")
                    .bind(slug.as_str()).fetch_optional(&self.pool).await?.map(Shop::try_from).transpose()
            }

            async fn shops(&self) -> Result<Vec<Shop>> {
                sqlx::query_as::<_, ShopRow>("SELECT id, slug, name, created_at FROM shops ORDER BY slug")
                    .fetch_all(&self.pool).await?.into_iter().map(Shop::try_from).collect()
            }

            async fn settings(&self, shop: ShopId) -> Result<ShopSettings> {
                let row: Option<(Json<serde_json::Value>,)> = sqlx::query_as("SELECT settings FROM shops WHERE id = $1")
                    .bind(shop.0).fetch_optional(&self.pool).await?;
                let value = row.ok_or(StoreError::NotFound)?.0 .0;
                serde_json::from_value(value).map_err(|e| StoreError::Corrupt(format!("shop settings: {e}")))
            }

            async fn put_settings(&self, shop: ShopId, settings: &ShopSettings) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let done = sqlx::query("UPDATE shops SET settings = $2 WHERE id = $1")
                    .bind(shop.0).bind(Json(settings)).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Self::bump_bot(&mut tx, shop).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_account(&self, account: &Account, password_hash: &str) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::insert_account(&mut tx, account, password_hash).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn account(&self, shop: ShopId, id: AccountId) -> Result<Option<Account>> {
                sqlx::query_as::<_, AccountRow>(concat!("SELECT ", account_columns!(), " FROM accounts a WHERE a.shop_id = $1 AND a.id = $2"))
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(Account::try_from).transpose()
            }

            async fn account_for_login(&self, shop: ShopId, username: &str) -> Result<Option<(Account, String)>> {
                let row = sqlx::query_as::<_, AccountWithHashRow>(concat!("SELECT ", account_columns!(), ", a.password_hash FROM accounts a WHERE a.shop_id = $1 AND a.username = $2"))
                .bind(shop.0).bind(username).fetch_optional(&self.pool).await?;
                row.map(|r| Ok((Account::try_from(r.account)?, r.password_hash))).transpose()
            }

            async fn accounts(&self, shop: ShopId) -> Result<Vec<Account>> {
                sqlx::query_as::<_, AccountRow>(concat!("SELECT ", account_columns!(), " FROM accounts a WHERE a.shop_id = $1
                     ORDER BY CASE a.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'supervisor' THEN 2 ELSE 3 END, a.username"))
                .bind(shop.0).fetch_all(&self.pool).await?.into_iter().map(Account::try_from).collect()
            }

            async fn update_account(&self, a: &Account) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE accounts SET display_name = $3, role = $4, skill_group = $5, takes_chats = $6, capacity = $7, disabled = $8
                     WHERE shop_id = $1 AND id = $2",
                )
                .bind(a.shop_id.0).bind(a.id.0).bind(&a.display_name).bind(a.role.as_str())
                .bind(a.routing.skill_group.as_ref().map(|g| g.as_str())).bind(a.routing.takes_chats)
                .bind(i64::from(a.routing.capacity)).bind(a.disabled)
                .execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn set_password(&self, shop: ShopId, id: AccountId, password_hash: &str) -> Result<()> {
                let done = sqlx::query("UPDATE accounts SET password_hash = $3 WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).bind(password_hash).execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn delete_account(&self, shop: ShopId, id: AccountId) -> Result<()> {
                let done = sqlx::query("DELETE FROM accounts WHERE shop_id = $1 AND id = $2 AND role <> 'owner'")
                    .bind(shop.0).bind(id.0).execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn create_session(&self, s: &Session) -> Result<()> {
                sqlx::query("INSERT INTO sessions (token_hash, shop_id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&s.token_hash).bind(s.shop_id.0).bind(s.account_id.0).bind(s.created_at).bind(s.expires_at)
                    .execute(&self.writer).await?;
                Ok(())
            }

            async fn session(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<Option<(Session, Account)>> {
                sqlx::query_as::<_, SessionAccountRow>(concat!("SELECT s.token_hash, s.created_at AS session_created_at, s.expires_at, ", account_columns!(), "
                     FROM sessions s JOIN accounts a ON a.id = s.account_id AND a.shop_id = s.shop_id
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT a.disabled"))
                .bind(token_hash).bind(now).fetch_optional(&self.pool).await?
                .map(<(Session, Account)>::try_from).transpose()
            }

            async fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.writer).await?;
                Ok(())
            }

            async fn delete_sessions_of(&self, shop: ShopId, account: AccountId, keep: Option<&[u8]>) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE shop_id = $1 AND account_id = $2 AND ($3 IS NULL OR token_hash <> $3)")
                    .bind(shop.0).bind(account.0).bind(keep).execute(&self.writer).await?;
                Ok(())
            }

            async fn login_failures(&self, key: &str) -> Result<Option<FailureRecord>> {
                let row: Option<(i64, DateTime<Utc>)> = sqlx::query_as("SELECT failures, last_failure_at FROM login_failures WHERE key = $1")
                    .bind(key).fetch_optional(&self.pool).await?;
                Ok(row.map(|(f, at)| FailureRecord { failures: u32::try_from(f).unwrap_or(u32::MAX), last_failure_at: at }))
            }

            async fn record_login_failure(&self, key: &str, now: DateTime<Utc>, forget_before: DateTime<Utc>) -> Result<FailureRecord> {
                let (f, at): (i64, DateTime<Utc>) = sqlx::query_as(
                    "INSERT INTO login_failures (key, failures, last_failure_at) VALUES ($1, 1, $2)
                     ON CONFLICT (key) DO UPDATE SET
                        failures = CASE WHEN login_failures.last_failure_at < $3 THEN 1 ELSE login_failures.failures + 1 END,
                        last_failure_at = $2
                     RETURNING failures, last_failure_at",
                )
                .bind(key).bind(now).bind(forget_before).fetch_one(&self.writer).await?;
                Ok(FailureRecord { failures: u32::try_from(f).unwrap_or(u32::MAX), last_failure_at: at })
            }

            async fn clear_login_failures(&self, key: &str) -> Result<()> {
                sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(&self.writer).await?;
                Ok(())
            }

            async fn import_catalog(&self, shop: ShopId, catalog: &Catalog) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::insert_catalog(&mut tx, shop, catalog).await?;
                Self::bump_bot(&mut tx, shop).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn products(&self, shop: ShopId, q: &ProductQuery) -> Result<Listed<Product>> {
                let (total,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*) ", product_filter!()))
                    .bind(shop.0).bind(q.text.as_deref()).bind(q.category.as_deref()).fetch_one(&self.pool).await?;
                let items = sqlx::query_as::<_, ProductRow>(concat!("SELECT id, shop_id, sku, title, category, price_fen, stock, attributes, created_at ", product_filter!(), " ORDER BY sku LIMIT $4 OFFSET $5"))
                .bind(shop.0).bind(q.text.as_deref()).bind(q.category.as_deref()).bind(q.page.limit).bind(q.page.offset)
                .fetch_all(&self.pool).await?;
                Ok(Listed { items: items.into_iter().map(Product::from).collect(), total })
            }

            async fn product(&self, shop: ShopId, id: ProductId) -> Result<Option<Product>> {
                Ok(sqlx::query_as::<_, ProductRow>(
                    "SELECT id, shop_id, sku, title, category, price_fen, stock, attributes, created_at FROM products WHERE shop_id = $1 AND id = $2",
                )
                .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(Product::from))
            }

            async fn customers(&self, shop: ShopId, text: Option<&str>, page: Page) -> Result<Listed<Customer>> {
                let (total,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*) ", customer_filter!()))
                    .bind(shop.0).bind(text).fetch_one(&self.pool).await?;
                let items = sqlx::query_as::<_, CustomerRow>(concat!("SELECT id, shop_id, nick, name, phone, address, created_at ", customer_filter!(), " ORDER BY nick LIMIT $3 OFFSET $4"))
                .bind(shop.0).bind(text).bind(page.limit).bind(page.offset).fetch_all(&self.pool).await?;
                Ok(Listed { items: items.into_iter().map(Customer::from).collect(), total })
            }

            async fn customer(&self, shop: ShopId, id: CustomerId) -> Result<Option<Customer>> {
                Ok(sqlx::query_as::<_, CustomerRow>("SELECT id, shop_id, nick, name, phone, address, created_at FROM customers WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(Customer::from))
            }

            async fn orders(&self, shop: ShopId, q: &OrderQuery) -> Result<Listed<Order>> {
                let (total,): (i64,) = bind_order_filter!(sqlx::query_as(concat!("SELECT COUNT(*) ", order_filter!())), shop, q)
                    .fetch_one(&self.pool).await?;
                let rows = bind_order_filter!(
                    sqlx::query_as::<_, OrderRow>(concat!("SELECT o.id, o.shop_id, o.order_no, o.customer_id, o.state, o.close_reason, o.items, o.shipping_fee_fen, o.address,
                                o.created_at, o.paid_at, o.shipped_at, o.completed_at, o.closed_at
                         ", order_filter!(), " ORDER BY o.created_at DESC, o.id DESC LIMIT $7 OFFSET $8")),
                    shop,
                    q
                )
                .bind(q.page.limit).bind(q.page.offset).fetch_all(&self.pool).await?;
                Ok(Listed { items: rows.into_iter().map(Order::try_from).collect::<Result<_>>()?, total })
            }

            async fn order(&self, shop: ShopId, id: OrderId) -> Result<Option<Order>> {
                sqlx::query_as::<_, OrderRow>(
                    "SELECT id, shop_id, order_no, customer_id, state, close_reason, items, shipping_fee_fen, address,
                            created_at, paid_at, shipped_at, completed_at, closed_at
                     FROM orders WHERE shop_id = $1 AND id = $2",
                )
                .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(Order::try_from).transpose()
            }

            async fn kb_categories(&self, shop: ShopId) -> Result<Vec<KbCategory>> {
                Ok(sqlx::query_as::<_, KbCategoryRow>("SELECT id, shop_id, name, position FROM kb_categories WHERE shop_id = $1 ORDER BY position, name")
                    .bind(shop.0).fetch_all(&self.pool).await?.into_iter().map(KbCategory::from).collect())
            }

            async fn kb_entries(&self, shop: ShopId, category: Option<CategoryId>) -> Result<Vec<KbEntry>> {
                Ok(sqlx::query_as::<_, KbEntryRow>(concat!(
                    "SELECT ", kb_entry_columns!(), " FROM kb_entries WHERE shop_id = $1 AND ($2 IS NULL OR category_id = $2) ORDER BY created_at, id",
                ))
                .bind(shop.0).bind(category.map(|c| c.0)).fetch_all(&self.pool).await?.into_iter().map(KbEntry::from).collect())
            }

            async fn kb_entry(&self, shop: ShopId, id: EntryId) -> Result<Option<KbEntry>> {
                Ok(sqlx::query_as::<_, KbEntryRow>(concat!("SELECT ", kb_entry_columns!(), " FROM kb_entries WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(KbEntry::from))
            }
            async fn create_kb_category(&self, c: &KbCategory) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                sqlx::query("INSERT INTO kb_categories (id, shop_id, name, position) VALUES ($1, $2, $3, $4)")
                    .bind(c.id.0).bind(c.shop_id.0).bind(&c.name).bind(c.position).execute(&mut *tx).await?;
                Self::bump_bot(&mut tx, c.shop_id).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_kb_category(&self, c: &KbCategory) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let done = sqlx::query("UPDATE kb_categories SET name = $3, position = $4 WHERE shop_id = $1 AND id = $2")
                    .bind(c.shop_id.0).bind(c.id.0).bind(&c.name).bind(c.position).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Self::bump_bot(&mut tx, c.shop_id).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_kb_category(&self, shop: ShopId, id: CategoryId) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::check_category(&mut tx, shop, id).await?;
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM kb_entries WHERE shop_id = $1 AND category_id = $2")
                    .bind(shop.0).bind(id.0).fetch_one(&mut *tx).await?;
                if n > 0 {
                    return Err(StoreError::Refused(format!("the category still holds {n} entries: move or delete them first")));
                }
                sqlx::query("DELETE FROM kb_categories WHERE shop_id = $1 AND id = $2").bind(shop.0).bind(id.0).execute(&mut *tx).await?;
                Self::bump_bot(&mut tx, shop).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_kb_entry(&self, e: &KbEntry) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::check_category(&mut tx, e.shop_id, e.category_id).await?;
                Self::insert_entry(&mut tx, e).await?;
                Self::bump_bot(&mut tx, e.shop_id).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_kb_entry(&self, e: &KbEntry) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::check_category(&mut tx, e.shop_id, e.category_id).await?;
                Self::save_entry(&mut tx, e).await?;
                Self::bump_bot(&mut tx, e.shop_id).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_kb_entry(&self, shop: ShopId, id: EntryId) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let done = sqlx::query("DELETE FROM kb_entries WHERE shop_id = $1 AND id = $2").bind(shop.0).bind(id.0).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Self::bump_bot(&mut tx, shop).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn import_kb(&self, shop: ShopId, rows: &[KbImportRow], replace: bool, now: DateTime<Utc>) -> Result<KbImportSummary> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let mut summary = KbImportSummary::default();
                let categories: Vec<KbCategoryRow> = sqlx::query_as("SELECT id, shop_id, name, position FROM kb_categories WHERE shop_id = $1")
                    .bind(shop.0).fetch_all(&mut *tx).await?;
                let mut next_position = categories.iter().map(|c| c.position + 1).max().unwrap_or(0);
                let mut by_name: HashMap<String, CategoryId> = categories.iter().map(|c| (c.name.clone(), CategoryId(c.id))).collect();
                let existing: Vec<KbEntryRow> = sqlx::query_as(concat!("SELECT ", kb_entry_columns!(), " FROM kb_entries WHERE shop_id = $1"))
                    .bind(shop.0).fetch_all(&mut *tx).await?;
                let mut by_question: HashMap<String, KbEntry> = existing.into_iter().map(|r| (r.question.clone(), KbEntry::from(r))).collect();
                let mut used_categories = HashSet::new();
                for row in rows {
                    let category_id = match by_name.get(&row.category) {
                        Some(id) => *id,
                        None => {
                            let c = KbCategory { id: CategoryId::new(), shop_id: shop, name: row.category.clone(), position: next_position };
                            next_position += 1;
                            sqlx::query("INSERT INTO kb_categories (id, shop_id, name, position) VALUES ($1, $2, $3, $4)")
                                .bind(c.id.0).bind(shop.0).bind(&c.name).bind(c.position).execute(&mut *tx).await?;
                            by_name.insert(c.name.clone(), c.id);
                            summary.categories_created += 1;
                            c.id
                        }
                    };
                    used_categories.insert(category_id);
                    match by_question.remove(&row.question) {
                        Some(mut e) => {
                            if e.category_id != category_id || e.similar != row.similar || e.answer != row.answer {
                                e.category_id = category_id;
                                e.similar = row.similar.clone();
                                e.answer = row.answer.clone();
                                e.updated_at = now;
                                Self::save_entry(&mut tx, &e).await?;
                                summary.entries_updated += 1;
                            }
                        }
                        None => {
                            let e = KbEntry {
                                id: EntryId::new(), shop_id: shop, category_id, question: row.question.clone(), similar: row.similar.clone(),
                                answer: row.answer.clone(), enabled: true, valid_from: None, valid_until: None, created_at: now, updated_at: now,
                                stats: Default::default(),
                            };
                            Self::insert_entry(&mut tx, &e).await?;
                            summary.entries_created += 1;
                        }
                    }
                }
                if replace {
                    // Whatever is left in `by_question` was not in the file.
                    for e in by_question.values() {
                        sqlx::query("DELETE FROM kb_entries WHERE shop_id = $1 AND id = $2").bind(shop.0).bind(e.id.0).execute(&mut *tx).await?;
                        summary.entries_deleted += 1;
                    }
                    for id in by_name.values().filter(|id| !used_categories.contains(*id)) {
                        sqlx::query("DELETE FROM kb_categories WHERE shop_id = $1 AND id = $2").bind(shop.0).bind(id.0).execute(&mut *tx).await?;
                    }
                }
                Self::bump_bot(&mut tx, shop).await?;
                tx.commit().await?;
                Ok(summary)
            }

            async fn bot_version(&self, shop: ShopId) -> Result<i64> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT version FROM bot_state WHERE shop_id = $1").bind(shop.0).fetch_optional(&self.pool).await?;
                Ok(row.map(|r| r.0).unwrap_or(0))
            }

            async fn bot_lexicon(&self, shop: ShopId) -> Result<BotLexicon> {
                let row: Option<(Json<Vec<String>>, Json<Vec<Vec<String>>>)> = sqlx::query_as("SELECT words, synonyms FROM bot_state WHERE shop_id = $1")
                    .bind(shop.0).fetch_optional(&self.pool).await?;
                Ok(row.map(|(w, s)| BotLexicon { words: w.0, synonyms: s.0 }).unwrap_or_default())
            }

            async fn put_bot_lexicon(&self, shop: ShopId, lx: &BotLexicon) -> Result<()> {
                sqlx::query(
                    "INSERT INTO bot_state (shop_id, version, words, synonyms) VALUES ($1, 1, $2, $3)
                     ON CONFLICT (shop_id) DO UPDATE SET version = bot_state.version + 1, words = excluded.words, synonyms = excluded.synonyms",
                )
                .bind(shop.0).bind(Json(&lx.words)).bind(Json(&lx.synonyms)).execute(&self.writer).await?;
                Ok(())
            }

            async fn bot_session(&self, shop: ShopId, id: Uuid) -> Result<Option<BotSession>> {
                Ok(sqlx::query_as::<_, BotSessionRow>(
                    "SELECT id, shop_id, visitor, failures, offered, handed_off, created_at, updated_at FROM bot_sessions WHERE shop_id = $1 AND id = $2",
                )
                .bind(shop.0).bind(id).fetch_optional(&self.pool).await?.map(BotSession::from))
            }

            async fn save_bot_session(&self, s: &BotSession) -> Result<()> {
                let offered: Vec<Uuid> = s.offered.iter().map(|e| e.0).collect();
                let done = sqlx::query(
                    "INSERT INTO bot_sessions (id, shop_id, visitor, failures, offered, handed_off, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (id) DO UPDATE SET failures = excluded.failures, offered = excluded.offered,
                        handed_off = excluded.handed_off, updated_at = excluded.updated_at
                     WHERE bot_sessions.shop_id = excluded.shop_id",
                )
                .bind(s.id).bind(s.shop_id.0).bind(&s.visitor).bind(i64::from(s.failures)).bind(Json(offered)).bind(s.handed_off)
                .bind(s.created_at).bind(s.updated_at).execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn log_bot_question(&self, q: &BotQuestion) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                sqlx::query(concat!("INSERT INTO bot_questions (", bot_question_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
                    .bind(q.id).bind(q.shop_id.0).bind(q.session_id).bind(&q.question).bind(q.outcome.as_str()).bind(q.entry_id.map(|e| e.0))
                    .bind(q.confidence).bind(q.helpful).bind(q.confirmed).bind(q.resolved).bind(q.asked_at).execute(&mut *tx).await?;
                if let (Outcome::Answered, Some(entry)) = (q.outcome, q.entry_id) {
                    sqlx::query("UPDATE kb_entries SET hits = hits + 1 WHERE shop_id = $1 AND id = $2").bind(q.shop_id.0).bind(entry.0).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn confirm_suggestion(&self, shop: ShopId, session: Uuid, entry: EntryId) -> Result<()> {
                sqlx::query(
                    "UPDATE bot_questions SET entry_id = $3, confirmed = TRUE
                     WHERE id = (SELECT id FROM bot_questions WHERE shop_id = $1 AND session_id = $2 AND outcome = 'suggested'
                                 ORDER BY asked_at DESC, id DESC LIMIT 1)",
                )
                .bind(shop.0).bind(session).bind(entry.0).execute(&self.writer).await?;
                Ok(())
            }

            async fn bot_question(&self, shop: ShopId, id: Uuid) -> Result<Option<BotQuestion>> {
                sqlx::query_as::<_, BotQuestionRow>(concat!("SELECT ", bot_question_columns!(), " FROM bot_questions WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id).fetch_optional(&self.pool).await?.map(BotQuestion::try_from).transpose()
            }

            async fn set_bot_feedback(&self, shop: ShopId, id: Uuid, helpful: bool) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let q = sqlx::query_as::<_, BotQuestionRow>(concat!("SELECT ", bot_question_columns!(), " FROM bot_questions WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id).fetch_optional(&mut *tx).await?.map(BotQuestion::try_from).transpose()?.ok_or(StoreError::NotFound)?;
                if q.outcome != Outcome::Answered {
                    return Err(StoreError::Refused("only an answer can be rated".into()));
                }
                let done = sqlx::query("UPDATE bot_questions SET helpful = $3 WHERE shop_id = $1 AND id = $2 AND helpful IS NULL")
                    .bind(shop.0).bind(id).bind(helpful).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Refused("this answer was already rated".into()));
                }
                if let Some(entry) = q.entry_id {
                    let sql = if helpful {
                        "UPDATE kb_entries SET helpful = helpful + 1 WHERE shop_id = $1 AND id = $2"
                    } else {
                        "UPDATE kb_entries SET unhelpful = unhelpful + 1 WHERE shop_id = $1 AND id = $2"
                    };
                    sqlx::query(sql).bind(shop.0).bind(entry.0).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn open_bot_questions(&self, shop: ShopId, limit: i64) -> Result<Vec<BotQuestion>> {
                sqlx::query_as::<_, BotQuestionRow>(concat!(
                    "SELECT ", bot_question_columns!(), " FROM bot_questions
                     WHERE shop_id = $1 AND resolved = FALSE AND outcome IN ('unknown', 'suggested')
                     ORDER BY asked_at DESC, id DESC LIMIT $2"
                ))
                .bind(shop.0).bind(limit).fetch_all(&self.pool).await?.into_iter().map(BotQuestion::try_from).collect()
            }

            async fn resolve_bot_questions(&self, shop: ShopId, ids: &[Uuid], learn: &Learn, now: DateTime<Utc>) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                for id in ids {
                    let done = sqlx::query("UPDATE bot_questions SET resolved = TRUE WHERE shop_id = $1 AND id = $2")
                        .bind(shop.0).bind(id).execute(&mut *tx).await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                }
                match learn {
                    Learn::Dismiss => {}
                    Learn::AddSimilar { entry, phrasings } => {
                        let mut e = Self::entry_in(&mut tx, shop, *entry).await?.ok_or(StoreError::NotFound)?;
                        for p in phrasings {
                            if *p != e.question && !e.similar.contains(p) {
                                e.similar.push(p.clone());
                            }
                        }
                        e.updated_at = now;
                        Self::save_entry(&mut tx, &e).await?;
                        Self::bump_bot(&mut tx, shop).await?;
                    }
                    Learn::NewEntry(e) => {
                        Self::check_category(&mut tx, shop, e.category_id).await?;
                        Self::insert_entry(&mut tx, e).await?;
                        Self::bump_bot(&mut tx, shop).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn bot_vectors(&self, shop: ShopId, model: &str) -> Result<Vec<(String, Vec<f32>)>> {
                let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT text, vector FROM bot_vectors WHERE shop_id = $1 AND model = $2")
                    .bind(shop.0).bind(model).fetch_all(&self.pool).await?;
                rows.into_iter().map(|(t, b)| Ok((t, crate::vector_from_bytes(&b)?))).collect()
            }

            async fn put_bot_vectors(&self, shop: ShopId, model: &str, add: &[(String, Vec<f32>)], remove: &[String]) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                for (text, v) in add {
                    sqlx::query("INSERT INTO bot_vectors (shop_id, model, text, vector) VALUES ($1, $2, $3, $4) ON CONFLICT (shop_id, model, text) DO NOTHING")
                        .bind(shop.0).bind(model).bind(text).bind(crate::vector_bytes(v)).execute(&mut *tx).await?;
                }
                for text in remove {
                    sqlx::query("DELETE FROM bot_vectors WHERE shop_id = $1 AND model = $2 AND text = $3")
                        .bind(shop.0).bind(model).bind(text).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn create_leave_message(&self, m: &LeaveMessage) -> Result<()> {
                sqlx::query(concat!("INSERT INTO leave_messages (", leave_message_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
                    .bind(m.id).bind(m.shop_id.0).bind(m.session_id).bind(&m.name).bind(&m.contact).bind(&m.text).bind(m.status.as_str())
                    .bind(&m.note).bind(m.handled_by.map(|a| a.0)).bind(m.created_at).bind(m.handled_at)
                    .execute(&self.writer).await?;
                Ok(())
            }

            async fn leave_messages(&self, shop: ShopId, status: Option<MessageStatus>, page: Page) -> Result<Listed<LeaveMessage>> {
                let status = status.map(|s| s.as_str());
                let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM leave_messages WHERE shop_id = $1 AND ($2 IS NULL OR status = $2)")
                    .bind(shop.0).bind(status).fetch_one(&self.pool).await?;
                let items = sqlx::query_as::<_, LeaveMessageRow>(concat!(
                    "SELECT ", leave_message_columns!(), " FROM leave_messages WHERE shop_id = $1 AND ($2 IS NULL OR status = $2)
                     ORDER BY created_at, id LIMIT $3 OFFSET $4"
                ))
                .bind(shop.0).bind(status).bind(page.limit).bind(page.offset).fetch_all(&self.pool).await?
                .into_iter().map(LeaveMessage::try_from).collect::<Result<_>>()?;
                Ok(Listed { items, total })
            }

            async fn leave_message(&self, shop: ShopId, id: Uuid) -> Result<Option<LeaveMessage>> {
                sqlx::query_as::<_, LeaveMessageRow>(concat!("SELECT ", leave_message_columns!(), " FROM leave_messages WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id).fetch_optional(&self.pool).await?.map(LeaveMessage::try_from).transpose()
            }

            async fn update_leave_message(&self, m: &LeaveMessage) -> Result<()> {
                let done = sqlx::query("UPDATE leave_messages SET status = $3, note = $4, handled_by = $5, handled_at = $6 WHERE shop_id = $1 AND id = $2")
                    .bind(m.shop_id.0).bind(m.id).bind(m.status.as_str()).bind(&m.note).bind(m.handled_by.map(|a| a.0)).bind(m.handled_at)
                    .execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn agent_replies(&self, shop: ShopId, account: AccountId) -> Result<AgentReplies> {
                self.check_account(shop, account).await?;
                let row: Option<(Json<AgentReplies>,)> = sqlx::query_as("SELECT replies FROM agent_replies WHERE shop_id = $1 AND account_id = $2")
                    .bind(shop.0).bind(account.0).fetch_optional(&self.pool).await?;
                Ok(row.map(|r| r.0 .0).unwrap_or_default())
            }

            async fn widget_secret(&self, shop: ShopId) -> Result<Option<String>> {
                let row: Option<(Option<String>,)> = sqlx::query_as("SELECT widget_secret FROM shops WHERE id = $1")
                    .bind(shop.0).fetch_optional(&self.pool).await?;
                Ok(row.ok_or(StoreError::NotFound)?.0)
            }

            async fn set_widget_secret(&self, shop: ShopId, secret: Option<&str>) -> Result<()> {
                let done = sqlx::query("UPDATE shops SET widget_secret = $2 WHERE id = $1")
                    .bind(shop.0).bind(secret).execute(&self.writer).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn put_agent_replies(&self, shop: ShopId, account: AccountId, replies: &AgentReplies) -> Result<()> {
                self.check_account(shop, account).await?;
                sqlx::query(
                    "INSERT INTO agent_replies (account_id, shop_id, replies) VALUES ($1, $2, $3)
                     ON CONFLICT (account_id) DO UPDATE SET replies = excluded.replies",
                )
                .bind(account.0).bind(shop.0).bind(Json(replies)).execute(&self.writer).await?;
                Ok(())
            }

            async fn quick_phrases(&self, shop: ShopId, account: AccountId) -> Result<Vec<QuickPhrase>> {
                let mut phrases: Vec<QuickPhrase> = sqlx::query_as::<_, QuickPhraseRow>(concat!(
                    "SELECT ", phrase_columns!(), " FROM quick_phrases WHERE shop_id = $1 AND (owner_id IS NULL OR owner_id = $2)"
                ))
                .bind(shop.0).bind(account.0).fetch_all(&self.pool).await?.into_iter().map(QuickPhrase::from).collect();
                // Sorted here: the engines' collations would order Chinese group names differently.
                phrases.sort_by(|a, b| {
                    (a.owner.is_some(), &a.group, a.position, a.created_at, a.id).cmp(&(b.owner.is_some(), &b.group, b.position, b.created_at, b.id))
                });
                Ok(phrases)
            }

            async fn quick_phrase(&self, shop: ShopId, id: PhraseId) -> Result<Option<QuickPhrase>> {
                Ok(sqlx::query_as::<_, QuickPhraseRow>(concat!("SELECT ", phrase_columns!(), " FROM quick_phrases WHERE shop_id = $1 AND id = $2"))
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(QuickPhrase::from))
            }

            async fn quick_phrase_by_shortcut(&self, shop: ShopId, account: AccountId, shortcut: &str) -> Result<Option<QuickPhrase>> {
                let found: Vec<QuickPhrase> = sqlx::query_as::<_, QuickPhraseRow>(concat!(
                    "SELECT ", phrase_columns!(), " FROM quick_phrases WHERE shop_id = $1 AND shortcut = $3 AND (owner_id IS NULL OR owner_id = $2)"
                ))
                .bind(shop.0).bind(account.0).bind(shortcut).fetch_all(&self.pool).await?.into_iter().map(QuickPhrase::from).collect();
                // At most one of each scope; the account's own shadows the team's.
                Ok(found.iter().find(|p| p.owner.is_some()).or(found.first()).cloned())
            }

            async fn create_quick_phrase(&self, phrase: &QuickPhrase) -> Result<QuickPhrase> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::lock_phrases(&mut tx, phrase.shop_id).await?;
                Self::check_owner(&mut tx, phrase.shop_id, phrase.owner).await?;
                let mut group = Self::phrases_of(&mut tx, phrase.shop_id, phrase.owner, Some(&phrase.group)).await?;
                let mut p = phrase.clone();
                p.position = p.position.clamp(0, group.len() as i64);
                group.insert(p.position as usize, p.clone());
                Self::renumber(&mut tx, &mut group).await?;
                Self::insert_phrase(&mut tx, &p).await?;
                tx.commit().await?;
                Ok(p)
            }

            async fn update_quick_phrase(&self, phrase: &QuickPhrase) -> Result<QuickPhrase> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::lock_phrases(&mut tx, phrase.shop_id).await?;
                let old = Self::phrase_in(&mut tx, phrase.shop_id, phrase.id).await?.ok_or(StoreError::NotFound)?;
                let p = QuickPhrase { owner: old.owner, created_at: old.created_at, ..phrase.clone() };
                if old.group != p.group {
                    let mut left = Self::phrases_of(&mut tx, p.shop_id, p.owner, Some(&old.group)).await?;
                    left.retain(|q| q.id != p.id);
                    Self::renumber(&mut tx, &mut left).await?;
                }
                let mut group = Self::phrases_of(&mut tx, p.shop_id, p.owner, Some(&p.group)).await?;
                group.retain(|q| q.id != p.id);
                let at = p.position.clamp(0, group.len() as i64);
                group.insert(at as usize, QuickPhrase { position: at, ..p.clone() });
                Self::renumber(&mut tx, &mut group).await?;
                let p = group.swap_remove(at as usize);
                Self::save_phrase(&mut tx, &p).await?;
                tx.commit().await?;
                Ok(p)
            }

            async fn delete_quick_phrase(&self, shop: ShopId, id: PhraseId) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::lock_phrases(&mut tx, shop).await?;
                let old = Self::phrase_in(&mut tx, shop, id).await?.ok_or(StoreError::NotFound)?;
                sqlx::query("DELETE FROM quick_phrases WHERE shop_id = $1 AND id = $2").bind(shop.0).bind(id.0).execute(&mut *tx).await?;
                let mut group = Self::phrases_of(&mut tx, shop, old.owner, Some(&old.group)).await?;
                Self::renumber(&mut tx, &mut group).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn move_quick_phrase(&self, shop: ShopId, id: PhraseId, direction: Direction) -> Result<QuickPhrase> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::lock_phrases(&mut tx, shop).await?;
                let old = Self::phrase_in(&mut tx, shop, id).await?.ok_or(StoreError::NotFound)?;
                let mut group = Self::phrases_of(&mut tx, shop, old.owner, Some(&old.group)).await?;
                let mut at = group.iter().position(|p| p.id == id).ok_or(StoreError::NotFound)?;
                let neighbour = match direction {
                    Direction::Up => at.checked_sub(1),
                    Direction::Down => Some(at + 1).filter(|n| *n < group.len()),
                };
                if let Some(n) = neighbour {
                    group.swap(at, n);
                    at = n;
                }
                Self::renumber(&mut tx, &mut group).await?;
                tx.commit().await?;
                Ok(group.swap_remove(at))
            }

            async fn import_quick_phrases(&self, shop: ShopId, owner: Option<AccountId>, rows: &[PhraseRow], replace: bool, now: DateTime<Utc>) -> Result<PhraseImportSummary> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::lock_phrases(&mut tx, shop).await?;
                Self::check_owner(&mut tx, shop, owner).await?;
                let existing = Self::phrases_of(&mut tx, shop, owner, None).await?;
                let before: HashMap<PhraseId, QuickPhrase> = existing.iter().map(|p| (p.id, p.clone())).collect();
                let plan = plan_import(shop, owner, existing, rows, replace, now);
                // Removals first, then changes, then additions: a shortcut is free before it is reused.
                for id in &plan.removed {
                    sqlx::query("DELETE FROM quick_phrases WHERE shop_id = $1 AND id = $2").bind(shop.0).bind(id.0).execute(&mut *tx).await?;
                }
                for p in &plan.phrases {
                    if let Some(old) = before.get(&p.id) && old != p {
                        Self::save_phrase(&mut tx, p).await?;
                    }
                }
                for p in plan.phrases.iter().filter(|p| !before.contains_key(&p.id)) {
                    Self::insert_phrase(&mut tx, p).await?;
                }
                tx.commit().await?;
                Ok(plan.summary)
            }
        }
        }
    };
}
pub(crate) use impl_store;
