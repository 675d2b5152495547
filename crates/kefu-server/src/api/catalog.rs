//! Products and orders, read-only for now: the bot, order and after-sales work build their
//! writes on top. Buyers are in `customers.rs`.

use crate::AppState;
use crate::api::page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use chrono::{DateTime, Utc};
use kefu_core::catalog::{Order, OrderState, Product};
use kefu_core::ids::{CustomerId, OrderId, ProductId};
use kefu_store::{OrderQuery, ProductQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product))
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
}

/// A page of rows and how many match in all.
#[derive(Serialize, ToSchema)]
pub struct ListOf<T: ToSchema> {
    items: Vec<T>,
    total: i64,
}

impl<T: ToSchema> From<kefu_store::Listed<T>> for ListOf<T> {
    fn from(l: kefu_store::Listed<T>) -> Self {
        ListOf {
            items: l.items,
            total: l.total,
        }
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductParams {
    /// Part of the title, or the exact SKU.
    q: Option<String>,
    category: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Search the shop's products.
#[utoipa::path(get, path = "/products", tag = "catalog", params(ProductParams),
    responses((status = 200, body = ListOf<Product>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_products(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ProductParams>,
) -> ApiResult<Json<ListOf<Product>>> {
    let q = ProductQuery {
        text: non_empty(p.q),
        category: non_empty(p.category),
        page: page(p.limit, p.offset)?,
    };
    Ok(Json(state.store.products(caller.shop(), &q).await?.into()))
}

/// One product.
#[utoipa::path(get, path = "/products/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_product(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Product>> {
    Ok(Json(
        state
            .store
            .product(caller.shop(), ProductId(id))
            .await?
            .ok_or(ApiError::NotFound("product"))?,
    ))
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

/// Search the shop's orders, newest first (SPEC §4.2).
#[utoipa::path(get, path = "/orders", tag = "catalog", params(OrderParams),
    responses((status = 200, body = ListOf<Order>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<OrderParams>,
) -> ApiResult<Json<ListOf<Order>>> {
    let q = OrderQuery {
        text: non_empty(p.q),
        customer_id: p.customer_id.map(CustomerId),
        state: p.state,
        from: p.from,
        until: p.until,
        page: page(p.limit, p.offset)?,
    };
    Ok(Json(state.store.orders(caller.shop(), &q).await?.into()))
}

/// One order.
#[utoipa::path(get, path = "/orders/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    responses((status = 200, body = Order), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_order(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Order>> {
    Ok(Json(
        state
            .store
            .order(caller.shop(), OrderId(id))
            .await?
            .ok_or(ApiError::NotFound("order"))?,
    ))
}
