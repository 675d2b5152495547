//! PostgreSQL: the server for several kefu nodes and many shops.

use crate::rows::*;
use crate::sql::{bind_order_filter, customer_filter, impl_store, order_filter, product_filter};
use crate::{
    Catalog, Listed, NewShop, OrderQuery, Page, ProductQuery, Result, Session, Store, StoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_core::account::{Account, Role};
use kefu_core::catalog::{Customer, KbCategory, KbEntry, Order, Product};
use kefu_core::ids::{AccountId, CategoryId, CustomerId, EntryId, OrderId, ProductId, ShopId};
use kefu_core::lockout::FailureRecord;
use kefu_core::settings::ShopSettings;
use kefu_core::shop::{Shop, ShopSlug};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use std::str::FromStr;
use std::time::Duration;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names and migrates it.
    pub async fn open(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("{url}: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }
}

impl_store!(PgStore, sqlx::Postgres, "postgres");
