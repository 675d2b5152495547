//! The back office at the agent's hand (SPEC §4): orders with the actions their state allows,
//! their audit log and parcels; after-sales cases; bad reviews and complaints.
//!
//! Each write reads the record with its version, lets the core's state machine decide
//! (`kefu_core::order`, `aftersales`, `service_tickets`) and saves it back only if nobody
//! changed it meanwhile: a refusal is 409 (the state forbids it, or it changed), 403 (the
//! caller's role may not) or 422 (a value), and changes nothing.

use crate::AppState;
use crate::api::catalog::ListOf;
use crate::api::{non_empty, page};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use chrono::{DateTime, Utc};
use kefu_core::ValidationError;
use kefu_core::aftersales::{AfterSalesTicket, TicketAction, TicketRequest, TicketStep};
use kefu_core::catalog::{OrderState, mask_address};
use kefu_core::ids::{AfterSalesId, CustomerId, OrderId, ServiceTicketId};
use kefu_core::money::Fen;
use kefu_core::order::{
    Actor, LogisticsEvent, OrderAction, OrderChange, OrderDetail, OrderRecord, Tracking, payment_deadline, received_at,
};
use kefu_core::order_feed::{FeedEvent, ImportedOrder, MAX_BATCH, OrderImportSummary, verify_body};
use kefu_core::service_tickets::{IssueReason, ServiceAction, ServiceRecord, ServiceTicket, ServiceTicketKind};
use kefu_core::settings::ShopSettings;
use kefu_store::{OrderQuery, TicketQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(order_action))
        .routes(routes!(import_orders))
        .routes(routes!(order_hook))
        .routes(routes!(add_logistics))
        .routes(routes!(open_after_sales))
        .routes(routes!(list_after_sales))
        .routes(routes!(get_after_sales))
        .routes(routes!(after_sales_action))
        .routes(routes!(list_service_tickets, open_service_ticket))
        .routes(routes!(get_service_ticket))
        .routes(routes!(service_ticket_action))
}

/// The caller as the core's rules know them.
fn actor(caller: &Caller) -> Actor {
    Actor::Staff {
        account_id: caller.account.id,
        role: caller.account.role,
    }
}

/// Staff without the privacy permission (`customers::sees_private`) see addresses masked
/// here as in the buyer's profile (SPEC §3.4): the order's, and those in its record.
fn private(caller: &Caller) -> bool {
    !crate::api::customers::sees_private(caller)
}

/// When the order's parcel left: tracking events can only follow that.
fn shipped_at(order: &OrderDetail) -> ApiResult<DateTime<Utc>> {
    // Orders imported as shipped may have no parcel recorded here, but they have a time.
    order.order.shipped_at.ok_or_else(|| {
        ApiError::Conflict(format!(
            "订单处于 {}，还没有发货，没有物流可记",
            order.order.state.label_zh()
        ))
    })
}

fn mask_order(mut o: OrderDetail) -> OrderDetail {
    o.order.address = mask_address(&o.order.address);
    o
}

fn mask_record(mut r: OrderRecord) -> OrderRecord {
    if let OrderChange::Address { before, after } = &mut r.change {
        *before = mask_address(before);
        *after = mask_address(after);
    }
    r
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrderParams {
    /// An order number, or part of the buyer's nick.
    q: Option<String>,
    customer_id: Option<Uuid>,
    state: Option<OrderState>,
    /// Placed (拍下) at or after this instant (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Placed before this instant (RFC 3339).
    until: Option<DateTime<Utc>>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Search the shop's orders, newest first (SPEC §4.2), with memo and flag.
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderParams),
    responses((status = 200, body = ListOf<OrderDetail>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<OrderParams>,
) -> ApiResult<Json<ListOf<OrderDetail>>> {
    let q = OrderQuery {
        text: non_empty(p.q),
        customer_id: p.customer_id.map(CustomerId),
        state: p.state,
        from: p.from,
        until: p.until,
        page: page(p.limit, p.offset)?,
    };
    let mut listed = state.store.order_details(caller.shop(), &q).await?;
    if private(&caller) {
        listed.items = listed.items.into_iter().map(mask_order).collect();
    }
    Ok(Json(listed.into()))
}

/// An order as the workbench shows it.
#[derive(Serialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    order: OrderDetail,
    /// Items plus shipping, in fen.
    total: Fen,
    /// 等待买家付款 …
    state_label: &'static str,
    /// When an unpaid order closes by itself.
    payment_deadline: Option<DateTime<Utc>>,
    /// What staff may do now: `change_price`, `change_address`, `cancel`, `ship`, `set_memo`,
    /// `set_flag`, `after_sales`.
    actions: Vec<&'static str>,
    /// Every change, oldest first: who, when, why, before and after.
    records: Vec<OrderRecord>,
    /// The parcel's tracking events, oldest first.
    logistics: Vec<LogisticsEvent>,
    after_sales: Vec<AfterSalesTicket>,
}

pub(crate) async fn order_view(
    state: &AppState,
    caller: &Caller,
    settings: &ShopSettings,
    order: OrderDetail,
) -> ApiResult<OrderView> {
    let shop = caller.shop();
    let id = order.order.id;
    let records = state.store.order_records(shop, id).await?;
    let logistics = state.store.logistics(shop, id).await?;
    let after_sales = state
        .store
        .after_sales_list(
            shop,
            &TicketQuery {
                order_id: Some(id),
                ..Default::default()
            },
        )
        .await?
        .items;
    let masked = private(caller);
    Ok(OrderView {
        total: order.order.total().unwrap_or(Fen::ZERO),
        state_label: order.order.state.label_zh(),
        payment_deadline: payment_deadline(&order.order, settings),
        actions: order.staff_actions(),
        records: if masked {
            records.into_iter().map(mask_record).collect()
        } else {
            records
        },
        logistics,
        after_sales,
        order: if masked { mask_order(order) } else { order },
    })
}

/// One order with its record, parcel and after-sales cases.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_order(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<OrderView>> {
    let o = state
        .store
        .order_detail(caller.shop(), OrderId(id))
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    let settings = state.store.settings(caller.shop()).await?;
    Ok(Json(order_view(&state, &caller, &settings, o.value).await?))
}

/// Act on an order (SPEC §4.1, §4.3, §4.4): `{"action": "change_price", "shipping_fee": 0,
/// "reason": "…"}`, `change_address`, `cancel`, `ship` (carrier, tracking_no), `set_memo`,
/// `set_flag` (red, yellow, green, blue, purple, grey or null). Payment, receipt and the
/// payment timeout are the buyer's and the platform's, not staff's.
#[utoipa::path(post, path = "/orders/{id}/actions", tag = "orders", params(("id" = Uuid, Path)), request_body = OrderAction,
    responses((status = 200, body = OrderView),
        (status = 403, body = ErrorBody, description = "a supervisor, or an action that is not staff's"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the order's state forbids it, e.g. 订单处于 卖家已发货，发货后不能修改收货地址"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn order_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(action): Json<OrderAction>,
) -> ApiResult<Json<OrderView>> {
    let shop = caller.shop();
    let settings = state.store.settings(shop).await?;
    let current = state
        .store
        .order_detail(shop, OrderId(id))
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    let applied = current
        .value
        .apply(&action, actor(&caller), &settings, state.clock.now())?;
    state.store.save_order(shop, &applied, current.version).await?;
    crate::outbox::order_updated(&state, shop, &applied).await;
    Ok(Json(order_view(&state, &caller, &settings, applied.order).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsBody {
    events: Vec<LogisticsEvent>,
}

#[derive(Serialize, ToSchema)]
pub struct LogisticsAdded {
    /// New events; repeats of stored ones are skipped.
    added: usize,
    logistics: Vec<LogisticsEvent>,
}

const MAX_LOGISTICS_TEXT: usize = 200;

/// Add the parcel's tracking events (物流信息), as a carrier's feed or staff report them.
#[utoipa::path(post, path = "/orders/{id}/logistics", tag = "orders", params(("id" = Uuid, Path)), request_body = LogisticsBody,
    responses((status = 200, body = LogisticsAdded), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the order has not been shipped"), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn add_logistics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<LogisticsBody>,
) -> ApiResult<Json<LogisticsAdded>> {
    if !actor(&caller).is_seller() {
        return Err(ApiError::Forbidden("主管只能查看，不能录入物流".into()));
    }
    let shop = caller.shop();
    let order = state
        .store
        .order_detail(shop, OrderId(id))
        .await?
        .ok_or(ApiError::NotFound("order"))?
        .value;
    let shipped_at = shipped_at(&order)?;
    if body.events.is_empty() || body.events.len() > 100 {
        return Err(ValidationError::new("events", "send 1 to 100 events").into());
    }
    for (i, e) in body.events.iter().enumerate() {
        let n = e.text.trim().chars().count();
        if n == 0 || n > MAX_LOGISTICS_TEXT || e.location.chars().count() > 50 {
            return Err(ValidationError::new(
                format!("events[{i}]"),
                format!("an event needs a text of 1–{MAX_LOGISTICS_TEXT} characters and a location of at most 50"),
            )
            .into());
        }
        if e.at < shipped_at {
            return Err(ValidationError::new(format!("events[{i}].at"), "is before the parcel was shipped").into());
        }
    }
    let added = state.store.add_logistics(shop, order.order.id, &body.events).await?;
    let logistics = state.store.logistics(shop, order.order.id).await?;
    Ok(Json(LogisticsAdded { added, logistics }))
}

/// An after-sales case with its steps.
#[derive(Serialize, ToSchema)]
pub struct AfterSalesView {
    #[serde(flatten)]
    ticket: AfterSalesTicket,
    state_label: &'static str,
    steps: Vec<TicketStep>,
}

async fn after_sales_view(state: &AppState, caller: &Caller, ticket: AfterSalesTicket) -> ApiResult<AfterSalesView> {
    let steps = state.store.after_sales_steps(caller.shop(), ticket.id).await?;
    Ok(AfterSalesView {
        state_label: ticket.state.label_zh(),
        ticket,
        steps,
    })
}

/// Open an after-sales case (SPEC §4.5): `{"kind": "refund_only" | "return_refund" |
/// "exchange", "reason": "no_reason" | "quality" | …, "amount": 5900, "description": "…"}`.
/// The 7-day no-reason window runs from receipt; who pays the return parcel follows the
/// reason and the order's shipping insurance. One open case per order.
#[utoipa::path(post, path = "/orders/{id}/after-sales", tag = "orders", params(("id" = Uuid, Path)), request_body = TicketRequest,
    responses((status = 201, body = AfterSalesView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn open_after_sales(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(req): Json<TicketRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<AfterSalesView>)> {
    let shop = caller.shop();
    let order = state
        .store
        .order_detail(shop, OrderId(id))
        .await?
        .ok_or(ApiError::NotFound("order"))?
        .value;
    let tracking = order
        .shipment
        .clone()
        .map(|s| async { Ok::<_, ApiError>(Tracking::new(s, state.store.logistics(shop, order.order.id).await?)) });
    let tracking = match tracking {
        Some(t) => Some(t.await?),
        None => None,
    };
    let received = received_at(&order.order, tracking.as_ref());
    let refunded = state.store.refunded(shop, order.order.id, None).await?;
    let (ticket, step) =
        AfterSalesTicket::request(&req, &order, actor(&caller), received, refunded, state.clock.now())?;
    state.store.save_after_sales(shop, &ticket, &step, None, None).await?;
    crate::outbox::after_sales_updated(&state, shop, &ticket, &step).await;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(after_sales_view(&state, &caller, ticket).await?),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TicketParams {
    /// Open cases only (true) or finished ones only (false).
    open: Option<bool>,
    order_id: Option<Uuid>,
    limit: Option<i64>,
    offset: Option<i64>,
}

impl TicketParams {
    fn query(self) -> ApiResult<TicketQuery> {
        Ok(TicketQuery {
            open: self.open,
            order_id: self.order_id.map(OrderId),
            page: page(self.limit, self.offset)?,
        })
    }
}

/// The shop's after-sales cases, latest change first.
#[utoipa::path(get, path = "/after-sales", tag = "orders", params(TicketParams),
    responses((status = 200, body = ListOf<AfterSalesTicket>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn list_after_sales(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<TicketParams>,
) -> ApiResult<Json<ListOf<AfterSalesTicket>>> {
    Ok(Json(
        state.store.after_sales_list(caller.shop(), &p.query()?).await?.into(),
    ))
}

/// One after-sales case with its steps.
#[utoipa::path(get, path = "/after-sales/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = AfterSalesView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_after_sales(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AfterSalesView>> {
    let t = state
        .store
        .after_sales(caller.shop(), AfterSalesId(id))
        .await?
        .ok_or(ApiError::NotFound("after-sales case"))?;
    Ok(Json(after_sales_view(&state, &caller, t.value).await?))
}

/// Take a step in a case: `agree`, `reject` (reason), `withdraw`, `ship_back` (the buyer's
/// parcel), `receive`, `refund`, `ship_replacement`, `finish`. A refund that covers what the
/// buyer paid closes the trade (交易关闭, reason refunded) in the same transaction.
#[utoipa::path(post, path = "/after-sales/{id}/actions", tag = "orders", params(("id" = Uuid, Path)), request_body = TicketAction,
    responses((status = 200, body = AfterSalesView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn after_sales_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(action): Json<TicketAction>,
) -> ApiResult<Json<AfterSalesView>> {
    let shop = caller.shop();
    let now = state.clock.now();
    let ticket = state
        .store
        .after_sales(shop, AfterSalesId(id))
        .await?
        .ok_or(ApiError::NotFound("after-sales case"))?;
    let order = state
        .store
        .order_detail(shop, ticket.value.order_id)
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    let refunded = state
        .store
        .refunded(shop, order.value.order.id, Some(ticket.value.id))
        .await?;
    let (next, step) = ticket
        .value
        .apply(&action, actor(&caller), &order.value.order, refunded, now)?;
    let closes = match step.refund.and_then(|r| r.close_trade) {
        Some(_) => {
            let settings = state.store.settings(shop).await?;
            Some(
                order
                    .value
                    .apply(&OrderAction::CloseRefunded, actor(&caller), &settings, now)?,
            )
        }
        None => None,
    };
    state
        .store
        .save_after_sales(
            shop,
            &next,
            &step,
            Some(ticket.version),
            closes.as_ref().map(|a| (a, order.version)),
        )
        .await?;
    crate::outbox::after_sales_updated(&state, shop, &next, &step).await;
    if let Some(applied) = &closes {
        crate::outbox::order_updated(&state, shop, applied).await;
    }
    // 售后完成: the buyer is visited a few days later (客户回访, SPEC §4.6).
    if step.to == kefu_core::aftersales::TicketState::Done && step.from != Some(step.to) {
        crate::api::visits::schedule(
            &state,
            shop,
            order.value.order.customer_id,
            kefu_core::visits::VisitSource::AfterSales,
            next.id.0,
            Some(next.order_id),
            Some(caller.account.id),
            step.at,
        )
        .await;
    }
    Ok(Json(after_sales_view(&state, &caller, next).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceTicket {
    customer_id: Uuid,
    /// The order reviewed or complained about (required for a review).
    order_id: Option<Uuid>,
    /// `neutral_review` (中评), `negative_review` (差评) or `complaint` (投诉).
    kind: ServiceTicketKind,
    reason: IssueReason,
    /// The review's or complaint's words.
    #[serde(default)]
    content: String,
}

/// A review or complaint case with its history.
#[derive(Serialize, ToSchema)]
pub struct ServiceTicketView {
    #[serde(flatten)]
    ticket: ServiceTicket,
    records: Vec<ServiceRecord>,
}

async fn service_view(state: &AppState, caller: &Caller, ticket: ServiceTicket) -> ApiResult<ServiceTicketView> {
    let records = state.store.service_records(caller.shop(), ticket.id).await?;
    Ok(ServiceTicketView { ticket, records })
}

/// File a bad review or a complaint as a case (SPEC §4.6).
#[utoipa::path(post, path = "/service-tickets", tag = "orders", request_body = NewServiceTicket,
    responses((status = 201, body = ServiceTicketView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn open_service_ticket(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewServiceTicket>,
) -> ApiResult<(axum::http::StatusCode, Json<ServiceTicketView>)> {
    let shop = caller.shop();
    let customer = state
        .store
        .customer(shop, CustomerId(body.customer_id))
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    if let Some(o) = body.order_id {
        let order = state
            .store
            .order(shop, OrderId(o))
            .await?
            .ok_or(ApiError::NotFound("order"))?;
        if order.customer_id != customer.id {
            return Err(ValidationError::new("order_id", "the order is not this buyer's").into());
        }
    }
    let (ticket, record) = ServiceTicket::open(
        shop,
        customer.id,
        body.order_id.map(OrderId),
        body.kind,
        body.reason,
        &body.content,
        actor(&caller),
        state.clock.now(),
    )?;
    state.store.save_service_ticket(shop, &ticket, &record, None).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(service_view(&state, &caller, ticket).await?),
    ))
}

/// The shop's review and complaint cases, latest change first.
#[utoipa::path(get, path = "/service-tickets", tag = "orders", params(TicketParams),
    responses((status = 200, body = ListOf<ServiceTicket>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn list_service_tickets(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<TicketParams>,
) -> ApiResult<Json<ListOf<ServiceTicket>>> {
    Ok(Json(
        state.store.service_tickets(caller.shop(), &p.query()?).await?.into(),
    ))
}

/// One review or complaint case with its history.
#[utoipa::path(get, path = "/service-tickets/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = ServiceTicketView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_service_ticket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ServiceTicketView>> {
    let t = state
        .store
        .service_ticket(caller.shop(), ServiceTicketId(id))
        .await?
        .ok_or(ApiError::NotFound("case"))?;
    Ok(Json(service_view(&state, &caller, t.value).await?))
}

/// Work a case: `set_responsible` (店铺, 快递, 买家, 平台), `contact` (a follow-up with the
/// buyer: channel, reached, note), `close` (outcome, e.g. review revised), `reopen`.
#[utoipa::path(post, path = "/service-tickets/{id}/actions", tag = "orders", params(("id" = Uuid, Path)), request_body = ServiceAction,
    responses((status = 200, body = ServiceTicketView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn service_ticket_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(action): Json<ServiceAction>,
) -> ApiResult<Json<ServiceTicketView>> {
    let shop = caller.shop();
    let t = state
        .store
        .service_ticket(shop, ServiceTicketId(id))
        .await?
        .ok_or(ApiError::NotFound("case"))?;
    let (next, record) = t.value.apply(&action, actor(&caller), state.clock.now())?;
    state
        .store
        .save_service_ticket(shop, &next, &record, Some(t.version))
        .await?;
    // A bad review or complaint closed: the buyer is visited a few days later (SPEC §4.6).
    if let Some(source) = kefu_core::visits::service_visit(&t.value, &next) {
        crate::api::visits::schedule(
            &state,
            shop,
            next.customer_id,
            source,
            next.id.0,
            next.order_id,
            Some(caller.account.id),
            next.closed_at.unwrap_or(next.updated_at),
        )
        .await;
    }
    Ok(Json(service_view(&state, &caller, next).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderImport {
    orders: Vec<ImportedOrder>,
}

/// Make the shop's orders match the platform's (SPEC §4.8), owners and admins: buyers are
/// found by nick and orders by number, added or replaced; the seller's memo and flag stay.
/// Each order must be one the state machine could have produced; one bad order imports
/// nothing, and the error names it.
#[utoipa::path(post, path = "/orders/import", tag = "orders", request_body = OrderImport,
    responses((status = 200, body = OrderImportSummary), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn import_orders(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<OrderImport>,
) -> ApiResult<Json<OrderImportSummary>> {
    caller.require_manager()?;
    if body.orders.is_empty() || body.orders.len() > MAX_BATCH {
        return Err(ValidationError::new("orders", format!("send 1 to {MAX_BATCH} orders")).into());
    }
    let now = state.clock.now();
    let mut rows = Vec::with_capacity(body.orders.len());
    let mut seen = std::collections::HashSet::new();
    for (i, o) in body.orders.into_iter().enumerate() {
        let row = o.check(caller.shop(), now).map_err(|e| ValidationError {
            field: format!("orders[{i}].{}", e.field),
            message: e.message,
        })?;
        if !seen.insert(row.1.order.order_no.clone()) {
            return Err(ValidationError::new(
                format!("orders[{i}].order_no"),
                format!("order {} is in the file twice", row.1.order.order_no),
            )
            .into());
        }
        rows.push(row);
    }
    Ok(Json(state.store.import_orders(caller.shop(), &rows).await?))
}

/// What became of one event of a hook.
#[derive(Serialize, ToSchema)]
pub struct HookOutcome {
    order_no: String,
    /// `applied`, `refused` (the order's state or the event forbids it; nothing changed) or
    /// `not_found`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// A platform's order events (paid, cancelled, received, tracking), signed with the shop's
/// integration secret (the widget secret): `X-Kefu-Signature: sha256=<hex HMAC-SHA256 of the
/// body>`. Each event goes through the order state machine; one refused does not stop the
/// others, and a repeated event is refused harmlessly. `feed` names the payload's format
/// (`kefu`; platform connectors add theirs, see `order_feed.rs`).
#[utoipa::path(post, path = "/hooks/{shop}/orders/{feed}", tag = "orders",
    params(("shop" = String, Path), ("feed" = String, Path), ("X-Kefu-Signature" = String, Header)),
    request_body(content = String, description = "the feed's payload; for `kefu`: {\"events\": [FeedEvent]}"),
    responses((status = 200, body = Vec<HookOutcome>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn order_hook(
    State(state): State<AppState>,
    Path((shop, feed)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Vec<HookOutcome>>> {
    let slug = kefu_core::shop::ShopSlug::parse(&shop).map_err(|_| ApiError::NotFound("shop"))?;
    let shop = state
        .store
        .shop_by_slug(&slug)
        .await?
        .ok_or(ApiError::NotFound("shop"))?;
    let feed = crate::order_feed::feed(&feed).ok_or(ApiError::NotFound("order feed"))?;
    let secret = state.store.widget_secret(shop.id).await?;
    let signature = headers
        .get("x-kefu-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match secret {
        Some(s) if verify_body(s.as_bytes(), &body, signature) => {}
        Some(_) => {
            return Err(ApiError::Unauthorized(
                "X-Kefu-Signature does not sign this body with the shop's secret".into(),
            ));
        }
        None => {
            return Err(ApiError::Unauthorized(
                "the shop has no integration secret yet (POST /api/v1/shop/widget-secret)".into(),
            ));
        }
    }
    let events = feed.decode(&body)?;
    let settings = state.store.settings(shop.id).await?;
    let mut outcomes = Vec::with_capacity(events.len());
    for e in events {
        let order_no = e.order_no().to_string();
        let outcome = hook_event(&state, shop.id, &settings, &e).await;
        outcomes.push(match outcome {
            Ok(None) => HookOutcome {
                order_no,
                outcome: "not_found",
                message: None,
            },
            Ok(Some(())) => HookOutcome {
                order_no,
                outcome: "applied",
                message: None,
            },
            Err(ApiError::Internal(e)) => return Err(ApiError::Internal(e)),
            Err(e) => HookOutcome {
                order_no,
                outcome: "refused",
                message: Some(e.to_string()),
            },
        });
    }
    Ok(Json(outcomes))
}

async fn hook_event(
    state: &AppState,
    shop: kefu_core::ids::ShopId,
    settings: &ShopSettings,
    e: &FeedEvent,
) -> ApiResult<Option<()>> {
    // A version that moved on (staff acting at the same moment) is read again, once.
    for _ in 0..2 {
        let Some(o) = state.store.order_by_no(shop, e.order_no()).await? else {
            return Ok(None);
        };
        match (e.action(), e) {
            (Some((action, actor)), _) => {
                let applied = o.value.apply(&action, actor, settings, state.clock.now())?;
                match state.store.save_order(shop, &applied, o.version).await {
                    Err(kefu_store::StoreError::Stale) => continue,
                    other => other?,
                }
                crate::outbox::order_updated(state, shop, &applied).await;
            }
            (None, FeedEvent::Logistics { events, .. }) => {
                shipped_at(&o.value)?;
                state.store.add_logistics(shop, o.value.order.id, events).await?;
            }
            (None, _) => {}
        }
        return Ok(Some(()));
    }
    Err(kefu_store::StoreError::Stale.into())
}

/// Closes orders left unpaid past the shop's timeout (SPEC §4.1 b), at most `limit` a shop per
/// run. With several nodes each runs this; an order's version lets one close it, and the
/// others see it changed and skip it. Returns how many this call closed.
pub async fn close_unpaid(state: &AppState, now: DateTime<Utc>, limit: i64) -> anyhow::Result<usize> {
    let mut closed = 0;
    for shop in state.store.shops().await? {
        let settings = state.store.settings(shop.id).await?;
        let before = now - chrono::Duration::minutes(i64::from(settings.unpaid_timeout_minutes));
        for id in state.store.unpaid_orders_placed_before(shop.id, before, limit).await? {
            let Some(o) = state.store.order_detail(shop.id, id).await? else {
                continue;
            };
            let Ok(applied) = o.value.apply(&OrderAction::CloseUnpaid, Actor::System, &settings, now) else {
                continue; // paid meanwhile
            };
            match state.store.save_order(shop.id, &applied, o.version).await {
                Ok(()) => {
                    closed += 1;
                    crate::outbox::order_updated(state, shop.id, &applied).await;
                }
                Err(kefu_store::StoreError::Stale) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(closed)
}
