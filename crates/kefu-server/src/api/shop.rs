//! The caller's shop and its settings (SPEC §6.2).

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use axum::extract::State;
use kefu_core::settings::ShopSettings;
use kefu_core::shop::Shop;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_shop))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(new_widget_secret, remove_widget_secret))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WidgetSecret {
    /// Shown once: the shop's servers sign buyer tokens with it (docs/chat-protocol.md).
    secret: String,
}

/// Make a new widget secret (owners and admins); tokens signed with the old one stop working.
#[utoipa::path(post, path = "/shop/widget-secret", tag = "shop",
    responses((status = 201, body = WidgetSecret), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn new_widget_secret(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(axum::http::StatusCode, Json<WidgetSecret>)> {
    caller.require_manager()?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    state.store.set_widget_secret(caller.shop(), Some(&secret)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(WidgetSecret { secret })))
}

/// Remove the widget secret: only anonymous visitors can chat until a new one is made.
#[utoipa::path(delete, path = "/shop/widget-secret", tag = "shop",
    responses((status = 204), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn remove_widget_secret(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::http::StatusCode> {
    caller.require_manager()?;
    state.store.set_widget_secret(caller.shop(), None).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The caller's shop.
#[utoipa::path(get, path = "/shop", tag = "shop", responses((status = 200, body = Shop), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_shop(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Shop>> {
    Ok(Json(
        state
            .store
            .shop(caller.shop())
            .await?
            .ok_or(ApiError::NotFound("shop"))?,
    ))
}

/// The shop's settings; every staff member may read them (agents need the auto-reply texts).
#[utoipa::path(get, path = "/shop/settings", tag = "shop", responses((status = 200, body = ShopSettings), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_settings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ShopSettings>> {
    Ok(Json(state.store.settings(caller.shop()).await?))
}

/// Replace the shop's settings (owners and admins). The whole document is validated first;
/// a bad value is refused with the field it concerns and nothing changes.
#[utoipa::path(put, path = "/shop/settings", tag = "shop", request_body = ShopSettings,
    responses((status = 200, body = ShopSettings), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(settings): Json<ShopSettings>,
) -> ApiResult<Json<ShopSettings>> {
    caller.require_manager()?;
    settings.validate()?;
    state.store.put_settings(caller.shop(), &settings).await?;
    Ok(Json(settings))
}
