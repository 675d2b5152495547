//! The SQL both engines share, written once. `impl_store!` expands to a full [`Store`]
//! implementation for a struct with a `pool` field; SQLite and PostgreSQL accept the same
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

macro_rules! impl_store {
    ($store:ty, $db:ty, $engine:literal) => {
        mod shared_sql {
            use crate::rows::*;
            use crate::sql::{bind_order_filter, customer_filter, order_filter, product_filter};
            use crate::{Catalog, Listed, NewShop, OrderQuery, Page, ProductQuery, Result, Session, Store, StoreError};
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use kefu_core::account::{Account, Role};
            use kefu_core::catalog::{Customer, KbCategory, KbEntry, Order, Product};
            use kefu_core::ids::{AccountId, CategoryId, CustomerId, EntryId, OrderId, ProductId, ShopId};
            use kefu_core::lockout::FailureRecord;
            use kefu_core::settings::ShopSettings;
            use kefu_core::shop::{Shop, ShopSlug};
            use sqlx::types::Json;
            use super::*;
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

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn create_shop(&self, new: &NewShop) -> Result<()> {
                let owners = new.accounts.iter().filter(|(a, _)| a.role == Role::Owner).count();
                if owners != 1 {
                    return Err(StoreError::Config(format!("a new shop needs exactly one owner account, got {owners}")));
                }
                let mut tx = self.pool.begin().await?;
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
                let done = sqlx::query("UPDATE shops SET settings = $2 WHERE id = $1")
                    .bind(shop.0).bind(Json(settings)).execute(&self.pool).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn create_account(&self, account: &Account, password_hash: &str) -> Result<()> {
                let mut tx = self.pool.begin().await?;
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
                .execute(&self.pool).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn set_password(&self, shop: ShopId, id: AccountId, password_hash: &str) -> Result<()> {
                let done = sqlx::query("UPDATE accounts SET password_hash = $3 WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).bind(password_hash).execute(&self.pool).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn delete_account(&self, shop: ShopId, id: AccountId) -> Result<()> {
                let done = sqlx::query("DELETE FROM accounts WHERE shop_id = $1 AND id = $2 AND role <> 'owner'")
                    .bind(shop.0).bind(id.0).execute(&self.pool).await?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn create_session(&self, s: &Session) -> Result<()> {
                sqlx::query("INSERT INTO sessions (token_hash, shop_id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&s.token_hash).bind(s.shop_id.0).bind(s.account_id.0).bind(s.created_at).bind(s.expires_at)
                    .execute(&self.pool).await?;
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
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn delete_sessions_of(&self, shop: ShopId, account: AccountId, keep: Option<&[u8]>) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE shop_id = $1 AND account_id = $2 AND ($3 IS NULL OR token_hash <> $3)")
                    .bind(shop.0).bind(account.0).bind(keep).execute(&self.pool).await?;
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
                .bind(key).bind(now).bind(forget_before).fetch_one(&self.pool).await?;
                Ok(FailureRecord { failures: u32::try_from(f).unwrap_or(u32::MAX), last_failure_at: at })
            }

            async fn clear_login_failures(&self, key: &str) -> Result<()> {
                sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(&self.pool).await?;
                Ok(())
            }

            async fn import_catalog(&self, shop: ShopId, catalog: &Catalog) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                Self::insert_catalog(&mut tx, shop, catalog).await?;
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
                Ok(sqlx::query_as::<_, KbEntryRow>(
                    "SELECT id, shop_id, category_id, question, similar_questions, answer, enabled, valid_from, valid_until, created_at, updated_at
                     FROM kb_entries WHERE shop_id = $1 AND ($2 IS NULL OR category_id = $2) ORDER BY created_at, id",
                )
                .bind(shop.0).bind(category.map(|c| c.0)).fetch_all(&self.pool).await?.into_iter().map(KbEntry::from).collect())
            }

            async fn kb_entry(&self, shop: ShopId, id: EntryId) -> Result<Option<KbEntry>> {
                Ok(sqlx::query_as::<_, KbEntryRow>(
                    "SELECT id, shop_id, category_id, question, similar_questions, answer, enabled, valid_from, valid_until, created_at, updated_at
                     FROM kb_entries WHERE shop_id = $1 AND id = $2",
                )
                .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(KbEntry::from))
            }
        }
        }
    };
}
pub(crate) use impl_store;
