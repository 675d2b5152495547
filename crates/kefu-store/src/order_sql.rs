//! The back office's SQL (SPEC §4), shared by both engines like [`crate::sql`]: `order_impl!`
//! expands to the [`crate::OrderStore`] implementation.
//!
//! The rules live in the core (`kefu_core::order`, `aftersales`, `service_tickets`); the store
//! only keeps what they decided. Each order and ticket carries a version that every save bumps
//! and checks: two agents, or two nodes' schedulers, acting on one order at once cannot both
//! win — the second gets [`StoreError::Stale`] and decides again on what is now stored.
//! Tickets are kept whole as JSON beside the columns that lists filter on.

macro_rules! order_detail_columns {
    () => {
        "o.id, o.shop_id, o.order_no, o.customer_id, o.state, o.close_reason, o.items, o.shipping_fee_fen, o.address,
         o.created_at, o.paid_at, o.shipped_at, o.completed_at, o.closed_at,
         o.seller_memo, o.flag, o.shipment, o.shipping_insurance, o.version"
    };
}
pub(crate) use order_detail_columns;

macro_rules! order_impl {
    ($store:ty, $db:ty, $begin_write:literal) => {
        impl $store {
            /// Writes an order as the core changed it, if it is still at `version`.
            async fn put_order(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, applied: &Applied, version: i64) -> Result<()> {
                let d = &applied.order;
                let o = &d.order;
                let done = sqlx::query(
                    "UPDATE orders SET state = $3, close_reason = $4, items = $5, shipping_fee_fen = $6, address = $7,
                        paid_at = $8, shipped_at = $9, completed_at = $10, closed_at = $11,
                        seller_memo = $12, flag = $13, shipment = $14, shipping_insurance = $15, version = version + 1
                     WHERE shop_id = $1 AND id = $2 AND version = $16",
                )
                .bind(shop.0).bind(o.id.0).bind(o.state.as_str()).bind(o.close_reason.map(|r| r.as_str()))
                .bind(Json(&o.items)).bind(o.shipping_fee.0).bind(&o.address)
                .bind(o.paid_at).bind(o.shipped_at).bind(o.completed_at).bind(o.closed_at)
                .bind(&d.seller_memo).bind(d.flag.map(|f| enum_str(&f))).bind(d.shipment.as_ref().map(Json))
                .bind(d.shipping_insurance).bind(version)
                .execute(&mut **tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Stale);
                }
                let r = &applied.record;
                sqlx::query("INSERT INTO order_records (id, shop_id, order_id, at, kind, record) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(Uuid::now_v7()).bind(shop.0).bind(o.id.0).bind(r.at).bind(r.change.kind()).bind(Json(r))
                    .execute(&mut **tx).await?;
                Ok(())
            }
        }

        #[async_trait]
        impl OrderStore for $store {
            async fn import_orders(&self, shop: ShopId, rows: &[(Customer, OrderDetail)]) -> Result<OrderImportSummary> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let mut summary = OrderImportSummary::default();
                for (buyer, d) in rows {
                    // The platform knows the buyer best, but an empty field keeps what is stored.
                    let (customer_id,): (Uuid,) = sqlx::query_as(
                        "INSERT INTO customers (id, shop_id, nick, name, phone, address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (shop_id, nick) DO UPDATE SET
                            name = CASE WHEN excluded.name = '' THEN customers.name ELSE excluded.name END,
                            phone = CASE WHEN excluded.phone = '' THEN customers.phone ELSE excluded.phone END,
                            address = CASE WHEN excluded.address = '' THEN customers.address ELSE excluded.address END
                         RETURNING id",
                    )
                    .bind(buyer.id.0).bind(shop.0).bind(&buyer.nick).bind(&buyer.name).bind(&buyer.phone).bind(&buyer.address).bind(buyer.created_at)
                    .fetch_one(&mut *tx).await?;
                    let o = &d.order;
                    let known: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM orders WHERE shop_id = $1 AND order_no = $2")
                        .bind(shop.0).bind(&o.order_no).fetch_optional(&mut *tx).await?;
                    let sql = if known.is_some() {
                        summary.updated += 1;
                        "UPDATE orders SET customer_id = $3, state = $4, close_reason = $5, items = $6, shipping_fee_fen = $7, address = $8,
                            created_at = $9, paid_at = $10, shipped_at = $11, completed_at = $12, closed_at = $13,
                            shipment = $14, shipping_insurance = $15, version = version + 1
                         WHERE shop_id = $2 AND id = $1"
                    } else {
                        summary.added += 1;
                        "INSERT INTO orders (id, shop_id, customer_id, state, close_reason, items, shipping_fee_fen, address,
                            created_at, paid_at, shipped_at, completed_at, closed_at, shipment, shipping_insurance, order_no)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                    };
                    let id = known.map(|(id,)| id).unwrap_or(o.id.0);
                    let mut q = sqlx::query(sql)
                        .bind(id).bind(shop.0).bind(customer_id).bind(o.state.as_str()).bind(o.close_reason.map(|r| r.as_str()))
                        .bind(Json(&o.items)).bind(o.shipping_fee.0).bind(&o.address)
                        .bind(o.created_at).bind(o.paid_at).bind(o.shipped_at).bind(o.completed_at).bind(o.closed_at)
                        .bind(d.shipment.as_ref().map(Json)).bind(d.shipping_insurance);
                    if known.is_none() {
                        q = q.bind(&o.order_no);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(summary)
            }

            async fn order_detail(&self, shop: ShopId, id: OrderId) -> Result<Option<Versioned<OrderDetail>>> {
                sqlx::query_as::<_, OrderDetailRow>(concat!("SELECT ", order_detail_columns!(), " FROM orders o WHERE o.shop_id = $1 AND o.id = $2"))
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(Versioned::try_from).transpose()
            }

            async fn order_by_no(&self, shop: ShopId, order_no: &str) -> Result<Option<Versioned<OrderDetail>>> {
                sqlx::query_as::<_, OrderDetailRow>(concat!("SELECT ", order_detail_columns!(), " FROM orders o WHERE o.shop_id = $1 AND o.order_no = $2"))
                    .bind(shop.0).bind(order_no).fetch_optional(&self.pool).await?.map(Versioned::try_from).transpose()
            }

            async fn order_details(&self, shop: ShopId, q: &OrderQuery) -> Result<Listed<OrderDetail>> {
                let (total,): (i64,) = bind_order_filter!(sqlx::query_as(concat!("SELECT COUNT(*) ", order_filter!())), shop, q)
                    .fetch_one(&self.pool).await?;
                let rows = bind_order_filter!(
                    sqlx::query_as::<_, OrderDetailRow>(concat!("SELECT ", order_detail_columns!(), " ", order_filter!(),
                        " ORDER BY o.created_at DESC, o.id DESC LIMIT $7 OFFSET $8")),
                    shop,
                    q
                )
                .bind(q.page.limit).bind(q.page.offset).fetch_all(&self.pool).await?;
                let items = rows.into_iter().map(|r| Versioned::try_from(r).map(|v| v.value)).collect::<Result<_>>()?;
                Ok(Listed { items, total })
            }

            async fn save_order(&self, shop: ShopId, applied: &Applied, version: i64) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::put_order(&mut tx, shop, applied, version).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn order_records(&self, shop: ShopId, id: OrderId) -> Result<Vec<OrderRecord>> {
                let rows: Vec<(Json<OrderRecord>,)> = sqlx::query_as(
                    "SELECT record FROM order_records WHERE shop_id = $1 AND order_id = $2 ORDER BY at, id",
                )
                .bind(shop.0).bind(id.0).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(r,)| r.0).collect())
            }

            async fn unpaid_orders_placed_before(&self, shop: ShopId, before: DateTime<Utc>, limit: i64) -> Result<Vec<OrderId>> {
                let rows: Vec<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM orders WHERE shop_id = $1 AND state = 'awaiting_payment' AND created_at <= $2
                     ORDER BY created_at LIMIT $3",
                )
                .bind(shop.0).bind(before).bind(limit).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id,)| OrderId(id)).collect())
            }

            async fn add_logistics(&self, shop: ShopId, id: OrderId, events: &[LogisticsEvent]) -> Result<usize> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM orders WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).fetch_optional(&mut *tx).await?;
                if found.is_none() {
                    return Err(StoreError::NotFound);
                }
                let mut added = 0;
                for e in events {
                    let done = sqlx::query(
                        "INSERT INTO logistics_events (id, shop_id, order_id, at, status, location, text)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    )
                    .bind(Uuid::now_v7()).bind(shop.0).bind(id.0).bind(e.at).bind(enum_str(&e.status)).bind(&e.location).bind(&e.text)
                    .execute(&mut *tx).await?;
                    added += done.rows_affected() as usize;
                }
                tx.commit().await?;
                Ok(added)
            }

            async fn logistics(&self, shop: ShopId, id: OrderId) -> Result<Vec<LogisticsEvent>> {
                let rows: Vec<(DateTime<Utc>, String, String, String)> = sqlx::query_as(
                    "SELECT at, status, location, text FROM logistics_events WHERE shop_id = $1 AND order_id = $2 ORDER BY at, id",
                )
                .bind(shop.0).bind(id.0).fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(at, status, location, text)| Ok(LogisticsEvent { at, status: enum_parse(&status, "logistics status")?, location, text }))
                    .collect()
            }

            async fn after_sales(&self, shop: ShopId, id: AfterSalesId) -> Result<Option<Versioned<AfterSalesTicket>>> {
                let row: Option<(Json<AfterSalesTicket>, i64)> = sqlx::query_as("SELECT ticket, version FROM after_sales WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?;
                Ok(row.map(|(t, version)| Versioned { value: t.0, version }))
            }

            async fn after_sales_list(&self, shop: ShopId, q: &TicketQuery) -> Result<Listed<AfterSalesTicket>> {
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM after_sales WHERE shop_id = $1 AND ($2 IS NULL OR is_open = $2) AND ($3 IS NULL OR order_id = $3)",
                )
                .bind(shop.0).bind(q.open).bind(q.order_id.map(|o| o.0)).fetch_one(&self.pool).await?;
                let rows: Vec<(Json<AfterSalesTicket>,)> = sqlx::query_as(
                    "SELECT ticket FROM after_sales WHERE shop_id = $1 AND ($2 IS NULL OR is_open = $2) AND ($3 IS NULL OR order_id = $3)
                     ORDER BY updated_at DESC, id DESC LIMIT $4 OFFSET $5",
                )
                .bind(shop.0).bind(q.open).bind(q.order_id.map(|o| o.0)).bind(q.page.limit).bind(q.page.offset)
                .fetch_all(&self.pool).await?;
                Ok(Listed { items: rows.into_iter().map(|(t,)| t.0).collect(), total })
            }

            async fn after_sales_steps(&self, shop: ShopId, id: AfterSalesId) -> Result<Vec<TicketStep>> {
                let rows: Vec<(Json<TicketStep>,)> = sqlx::query_as(
                    "SELECT step FROM after_sales_steps WHERE shop_id = $1 AND ticket_id = $2 ORDER BY at, id",
                )
                .bind(shop.0).bind(id.0).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(s,)| s.0).collect())
            }

            async fn refunded(&self, shop: ShopId, order: OrderId, except: Option<AfterSalesId>) -> Result<Fen> {
                let (sum,): (Option<i64>,) = sqlx::query_as(
                    "SELECT CAST(SUM(refunded_fen) AS BIGINT) FROM after_sales WHERE shop_id = $1 AND order_id = $2 AND ($3 IS NULL OR id <> $3)",
                )
                .bind(shop.0).bind(order.0).bind(except.map(|e| e.0)).fetch_one(&self.pool).await?;
                Ok(Fen(sum.unwrap_or(0)))
            }

            async fn save_after_sales(
                &self,
                shop: ShopId,
                ticket: &AfterSalesTicket,
                step: &TicketStep,
                version: Option<i64>,
                order: Option<(&Applied, i64)>,
            ) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let refunded = step.refund.map(|r| r.amount.0).unwrap_or(0);
                match version {
                    None => {
                        let done = sqlx::query(
                            "INSERT INTO after_sales (id, shop_id, order_id, kind, state, is_open, refunded_fen, created_at, updated_at, ticket)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        )
                        .bind(ticket.id.0).bind(shop.0).bind(ticket.order_id.0).bind(enum_str(&ticket.kind)).bind(enum_str(&ticket.state))
                        .bind(ticket.state.is_open()).bind(refunded).bind(ticket.created_at).bind(ticket.updated_at).bind(Json(ticket))
                        .execute(&mut *tx).await;
                        match done {
                            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                                return Err(StoreError::Refused("这笔订单已有一个未完结的售后，请在那里处理".into()));
                            }
                            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => return Err(StoreError::NotFound),
                            other => { other?; }
                        }
                    }
                    Some(v) => {
                        let done = sqlx::query(
                            "UPDATE after_sales SET state = $3, is_open = $4, refunded_fen = refunded_fen + $5, updated_at = $6, ticket = $7,
                                version = version + 1
                             WHERE shop_id = $1 AND id = $2 AND version = $8",
                        )
                        .bind(shop.0).bind(ticket.id.0).bind(enum_str(&ticket.state)).bind(ticket.state.is_open()).bind(refunded)
                        .bind(ticket.updated_at).bind(Json(ticket)).bind(v)
                        .execute(&mut *tx).await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::Stale);
                        }
                    }
                }
                sqlx::query("INSERT INTO after_sales_steps (id, shop_id, ticket_id, at, step) VALUES ($1, $2, $3, $4, $5)")
                    .bind(Uuid::now_v7()).bind(shop.0).bind(ticket.id.0).bind(step.at).bind(Json(step))
                    .execute(&mut *tx).await?;
                if let Some((applied, version)) = order {
                    Self::put_order(&mut tx, shop, applied, version).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn service_ticket(&self, shop: ShopId, id: ServiceTicketId) -> Result<Option<Versioned<ServiceTicket>>> {
                let row: Option<(Json<ServiceTicket>, i64)> = sqlx::query_as("SELECT ticket, version FROM service_tickets WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?;
                Ok(row.map(|(t, version)| Versioned { value: t.0, version }))
            }

            async fn service_tickets(&self, shop: ShopId, q: &TicketQuery) -> Result<Listed<ServiceTicket>> {
                let state = q.open.map(|open| if open { "open" } else { "closed" });
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM service_tickets WHERE shop_id = $1 AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR order_id = $3)",
                )
                .bind(shop.0).bind(state).bind(q.order_id.map(|o| o.0)).fetch_one(&self.pool).await?;
                let rows: Vec<(Json<ServiceTicket>,)> = sqlx::query_as(
                    "SELECT ticket FROM service_tickets WHERE shop_id = $1 AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR order_id = $3)
                     ORDER BY updated_at DESC, id DESC LIMIT $4 OFFSET $5",
                )
                .bind(shop.0).bind(state).bind(q.order_id.map(|o| o.0)).bind(q.page.limit).bind(q.page.offset)
                .fetch_all(&self.pool).await?;
                Ok(Listed { items: rows.into_iter().map(|(t,)| t.0).collect(), total })
            }

            async fn service_records(&self, shop: ShopId, id: ServiceTicketId) -> Result<Vec<ServiceRecord>> {
                let rows: Vec<(Json<ServiceRecord>,)> = sqlx::query_as(
                    "SELECT record FROM service_records WHERE shop_id = $1 AND ticket_id = $2 ORDER BY at, id",
                )
                .bind(shop.0).bind(id.0).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(r,)| r.0).collect())
            }

            async fn save_service_ticket(&self, shop: ShopId, ticket: &ServiceTicket, record: &ServiceRecord, version: Option<i64>) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let state = enum_str(&ticket.state);
                match version {
                    None => {
                        let done = sqlx::query(
                            "INSERT INTO service_tickets (id, shop_id, customer_id, order_id, kind, state, created_at, updated_at, ticket)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(ticket.id.0).bind(shop.0).bind(ticket.customer_id.0).bind(ticket.order_id.map(|o| o.0))
                        .bind(enum_str(&ticket.kind)).bind(&state).bind(ticket.created_at).bind(ticket.updated_at).bind(Json(ticket))
                        .execute(&mut *tx).await;
                        match done {
                            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => return Err(StoreError::NotFound),
                            other => { other?; }
                        }
                    }
                    Some(v) => {
                        let done = sqlx::query(
                            "UPDATE service_tickets SET state = $3, updated_at = $4, ticket = $5, version = version + 1
                             WHERE shop_id = $1 AND id = $2 AND version = $6",
                        )
                        .bind(shop.0).bind(ticket.id.0).bind(&state).bind(ticket.updated_at).bind(Json(ticket)).bind(v)
                        .execute(&mut *tx).await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::Stale);
                        }
                    }
                }
                sqlx::query("INSERT INTO service_records (id, shop_id, ticket_id, at, record) VALUES ($1, $2, $3, $4, $5)")
                    .bind(Uuid::now_v7()).bind(shop.0).bind(ticket.id.0).bind(record.at).bind(Json(record))
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use order_impl;
