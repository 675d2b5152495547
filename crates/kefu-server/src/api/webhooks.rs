//! Webhooks (Webhook 推送, SPEC §7.2): a shop's owners and admins register endpoints for
//! events, see each delivery's tries and replay a failed one. What is checked is
//! `kefu_core::webhooks`; sending is `crate::outbox`.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_core::webhooks::{EventType, check_events, check_url};
use kefu_store::{Attempt, Delivery, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries))
        .routes(routes!(replay))
}

/// An endpoint as the API shows it: the secret only by its first characters.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    id: Uuid,
    url: String,
    events: Vec<EventType>,
    enabled: bool,
    /// The secret's first characters, to tell which one the receiver has.
    secret_hint: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Webhook> for WebhookView {
    fn from(h: &Webhook) -> Self {
        WebhookView {
            id: h.id,
            url: h.url.clone(),
            events: h.events.clone(),
            enabled: h.enabled,
            secret_hint: format!("{}…", h.secret.chars().take(10).collect::<String>()),
            created_at: h.created_at,
            updated_at: h.updated_at,
        }
    }
}

/// A new endpoint, or a new secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    webhook: WebhookView,
    /// Signs every delivery (`X-Kefu-Signature`); kefu shows it only now.
    secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// Where deliveries are POSTed: http or https, a public address unless the server allows private ones.
    url: String,
    /// `conversation.created`, `message.created`, `order.updated`, `aftersales.updated`.
    events: Vec<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

fn new_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()))
}

/// The body checked: the URL and events as stored.
fn checked(state: &AppState, b: &WebhookBody) -> ApiResult<(String, Vec<EventType>)> {
    let url = check_url(&b.url, state.config.webhooks.allow_private)?;
    Ok((url.to_string(), check_events(&b.events)?))
}

async fn hook(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<Webhook> {
    state
        .store
        .webhook(caller.shop(), id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// The shop's endpoints (owners and admins).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookView>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<WebhookView>>> {
    caller.require_manager()?;
    let hooks = state.store.webhooks(caller.shop()).await?;
    Ok(Json(hooks.iter().map(WebhookView::from).collect()))
}

/// Registers an endpoint; its secret is in the answer and never shown again (rotate it to get a new one).
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = WebhookBody,
    responses((status = 201, body = WebhookWithSecret), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<WebhookBody>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecret>)> {
    caller.require_manager()?;
    let (url, events) = checked(&state, &b)?;
    let now = state.clock.now();
    let h = Webhook {
        id: Uuid::now_v7(),
        shop_id: caller.shop(),
        url,
        events,
        enabled: b.enabled,
        secret: new_secret(),
        created_at: now,
        updated_at: now,
    };
    state.store.create_webhook(&h).await?;
    state.outbox.forget_listeners(h.shop_id);
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecret {
            webhook: WebhookView::from(&h),
            secret: h.secret,
        }),
    ))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_one(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<WebhookView>> {
    caller.require_manager()?;
    Ok(Json(WebhookView::from(&hook(&state, &caller, id).await?)))
}

/// Changes URL, events or whether it is enabled; the secret stays. Deliveries of a disabled
/// endpoint wait and go out when it is enabled again.
#[utoipa::path(put, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)), request_body = WebhookBody,
    responses((status = 200, body = WebhookView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<WebhookBody>,
) -> ApiResult<Json<WebhookView>> {
    caller.require_manager()?;
    let mut h = hook(&state, &caller, id).await?;
    let (url, events) = checked(&state, &b)?;
    h.url = url;
    h.events = events;
    h.enabled = b.enabled;
    h.updated_at = state.clock.now();
    state.store.update_webhook(&h).await?;
    state.outbox.forget_listeners(h.shop_id);
    Ok(Json(WebhookView::from(&h)))
}

/// Removes the endpoint with its delivery log.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    state
        .store
        .delete_webhook(caller.shop(), id)
        .await
        .map_err(|e| match e {
            kefu_store::StoreError::NotFound => ApiError::NotFound("webhook"),
            e => e.into(),
        })?;
    state.outbox.forget_listeners(caller.shop());
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a new secret (the old one stops signing at once); shown this once.
#[utoipa::path(post, path = "/webhooks/{id}/secret", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookWithSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<WebhookWithSecret>> {
    caller.require_manager()?;
    let mut h = hook(&state, &caller, id).await?;
    h.secret = new_secret();
    h.updated_at = state.clock.now();
    state.store.update_webhook(&h).await?;
    Ok(Json(WebhookWithSecret {
        webhook: WebhookView::from(&h),
        secret: h.secret,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// 1–200, default 50.
    limit: Option<i64>,
    offset: Option<i64>,
}

/// A delivery with its tries.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    #[serde(flatten)]
    delivery: Delivery,
    tries: Vec<Attempt>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryLog {
    items: Vec<DeliveryView>,
    total: i64,
}

/// The endpoint's delivery log, newest first: each event's status, tries, answers and next try.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = DeliveryLog), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<DeliveryLog>> {
    caller.require_manager()?;
    let page = crate::api::page(p.limit, p.offset)?;
    hook(&state, &caller, id).await?;
    let listed = state.store.deliveries(caller.shop(), id, page).await?;
    let mut items = Vec::with_capacity(listed.items.len());
    for d in listed.items {
        let tries = state.store.delivery_attempts(caller.shop(), d.id).await?;
        items.push(DeliveryView { delivery: d, tries });
    }
    Ok(Json(DeliveryLog {
        items,
        total: listed.total,
    }))
}

/// Queues a failed delivery again, to be tried at once (one more try; the same body and
/// `X-Kefu-Delivery`, signed anew). 409 unless it failed.
#[utoipa::path(post, path = "/webhooks/deliveries/{id}/replay", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 202, body = Delivery), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    caller.require_manager()?;
    let d = state
        .store
        .replay_delivery(caller.shop(), id, state.clock.now())
        .await
        .map_err(|e| match e {
            kefu_store::StoreError::NotFound => ApiError::NotFound("delivery"),
            e => e.into(),
        })?;
    crate::outbox::wake(&state);
    Ok((StatusCode::ACCEPTED, Json(d)))
}
