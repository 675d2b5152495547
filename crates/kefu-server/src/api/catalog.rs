//! Products, read-only for now; buyers are in `customers.rs`, orders and their actions in
//! `orders.rs`.

use crate::AppState;
use crate::api::{non_empty, page};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use kefu_core::catalog::Product;
use kefu_core::ids::ProductId;
use kefu_store::ProductQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product))
}

/// A page of rows and how many match in all.
#[derive(Serialize, ToSchema)]
pub struct ListOf<T: ToSchema> {
    pub items: Vec<T>,
    pub total: i64,
}

impl<T: ToSchema> From<kefu_store::Listed<T>> for ListOf<T> {
    fn from(l: kefu_store::Listed<T>) -> Self {
        ListOf {
            items: l.items,
            total: l.total,
        }
    }
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
