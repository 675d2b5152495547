//! Payment reminders (催付, SPEC §4.7): an agent reminds the buyer of an unpaid order through
//! their chat, with the template of the reason they judge (bargaining 议价, comparing 比较,
//! worried 顾虑, forgot 忘记); or the scheduler does, for shops that turn `reminders.auto` on.
//! Whether one may go out now is `kefu_core::reminders::may_remind` (windows from 09:00 and
//! 14:00, later on holidays, never at night; once per order by default); the store's claim
//! (`CustomerStore::send_reminder`) makes each reminder go out once, whoever tries.

use crate::AppState;
use crate::api::customers::when;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_core::account::Role;
use kefu_core::catalog::{Order, OrderState};
use kefu_core::ids::{AccountId, OrderId};
use kefu_core::phrases::PhraseVars;
use kefu_core::reminders::{NoReminder, ReminderHistory, UnpaidReason, may_remind, next_allowed, reminder_text};
use kefu_core::settings::ShopSettings;
use kefu_core::{ValidationError, shop::Shop};
use kefu_store::{NewReminder, OrderQuery, Page, REFUSED_NOT_AWAITING, ReminderRecord, ReminderStats, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(remind))
        .routes(routes!(order_reminders))
        .routes(routes!(stats))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemindRequest {
    /// Why the buyer has not paid: `bargaining` (议价不成功), `comparing` (多家比较),
    /// `worried` (有所顾虑) or `forgot` (忘记付款); it picks the shop's template.
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct Reminded {
    reminder: ReminderRecord,
    /// When the next reminder of this order would be allowed; `null`: never (the usual
    /// once-per-order limit).
    next_allowed: Option<DateTime<Utc>>,
}

fn history(records: &[ReminderRecord]) -> ReminderHistory {
    ReminderHistory {
        sent: records.len() as u32,
        last_sent_at: records.iter().map(|r| r.sent_at).max(),
    }
}

fn parse_reason(s: &str) -> Result<UnpaidReason, ValidationError> {
    UnpaidReason::ALL
        .into_iter()
        .find(|r| serde_json::to_value(r).ok().and_then(|v| v.as_str().map(|x| x == s)) == Some(true))
        .ok_or_else(|| ValidationError::new("reason", "must be bargaining, comparing, worried or forgot"))
}

/// Why not now, and when: "现在不在允许催付的时间段；最早可在 2030-03-04 09:00 发送".
fn refusal(why: &NoReminder, settings: &ShopSettings, next: Option<DateTime<Utc>>) -> ApiError {
    ApiError::Conflict(format!("{why}{}", when(settings, next)))
}

async fn order_of(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<Order> {
    state
        .store
        .order(caller.shop(), OrderId(id))
        .await?
        .ok_or(ApiError::NotFound("order"))
}

/// Sends the reminder, if the rules allow it now. `None` when another sender claimed it first.
#[allow(clippy::too_many_arguments)]
async fn send(
    state: &AppState,
    shop: &Shop,
    settings: &ShopSettings,
    order: &Order,
    records: &[ReminderRecord],
    reason: UnpaidReason,
    by: Option<(AccountId, String)>,
    now: DateTime<Utc>,
) -> ApiResult<Option<ReminderRecord>> {
    let history = history(records);
    let nick = state
        .store
        .customer(shop.id, order.customer_id)
        .await?
        .map(|c| c.nick)
        .ok_or(ApiError::NotFound("customer"))?;
    let vars = PhraseVars {
        buyer_nick: Some(nick),
        order_no: Some(order.order_no.clone()),
        // Automatic reminders speak for the shop.
        agent_nick: Some(by.as_ref().map(|b| b.1.clone()).unwrap_or_else(|| shop.name.clone())),
        shop_name: Some(shop.name.clone()),
    };
    let new = NewReminder {
        order: order.id,
        number: history.sent + 1,
        reason,
        text: reminder_text(settings, reason, &vars),
        by: by.map(|b| b.0),
        at: now,
    };
    match state.store.send_reminder(shop.id, &new).await {
        Ok((record, appended)) => {
            crate::chat::publish(state, &appended);
            Ok(Some(record))
        }
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(StoreError::Refused(why)) if why == REFUSED_NOT_AWAITING => Err(refusal(
            &NoReminder::NotAwaitingPayment {
                state: OrderState::Paid,
            },
            settings,
            None,
        )),
        Err(e) => Err(e.into()),
    }
}

/// Reminds the buyer of an unpaid order through their chat (owners, admins and agents). 409
/// with the reason and, when there is one, the time it would be allowed: outside the windows,
/// too soon after the order, reminded already, or not awaiting payment.
#[utoipa::path(post, path = "/orders/{id}/remind", tag = "reminders", params(("id" = Uuid, Path)),
    request_body = RemindRequest,
    responses((status = 201, body = Reminded), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn remind(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<RemindRequest>,
) -> ApiResult<(StatusCode, Json<Reminded>)> {
    if caller.account.role == Role::Supervisor {
        return Err(ApiError::Forbidden(
            "supervisors read chats; an agent sends reminders".into(),
        ));
    }
    let reason = parse_reason(body.reason.trim())?;
    let shop_id = caller.shop();
    let order = order_of(&state, &caller, id).await?;
    let shop = state.store.shop(shop_id).await?.ok_or(ApiError::NotFound("shop"))?;
    let settings = state.store.settings(shop_id).await?;
    let records = state.store.reminders_of(shop_id, order.id).await?;
    let now = state.clock.now();
    if let Err(why) = may_remind(&order, &history(&records), &settings, now) {
        return Err(refusal(
            &why,
            &settings,
            next_allowed(&order, &history(&records), &settings, now),
        ));
    }
    let by = Some((caller.account.id, caller.account.display_name.clone()));
    let Some(record) = send(&state, &shop, &settings, &order, &records, reason, by, now).await? else {
        return Err(ApiError::Conflict("这笔订单刚刚已被催付".into()));
    };
    let mut all = records;
    all.push(record.clone());
    Ok((
        StatusCode::CREATED,
        Json(Reminded {
            reminder: record,
            next_allowed: next_allowed(&order, &history(&all), &settings, now),
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct OrderReminders {
    reminders: Vec<ReminderRecord>,
    /// Whether a reminder may be sent now, and if not why (`why`) and from when (`next_allowed`).
    allowed: bool,
    why: Option<NoReminder>,
    next_allowed: Option<DateTime<Utc>>,
}

/// An order's reminders and whether another may go out now.
#[utoipa::path(get, path = "/orders/{id}/reminders", tag = "reminders", params(("id" = Uuid, Path)),
    responses((status = 200, body = OrderReminders), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn order_reminders(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<OrderReminders>> {
    let order = order_of(&state, &caller, id).await?;
    let settings = state.store.settings(caller.shop()).await?;
    let reminders = state.store.reminders_of(caller.shop(), order.id).await?;
    let now = state.clock.now();
    let h = history(&reminders);
    let why = may_remind(&order, &h, &settings, now).err();
    Ok(Json(OrderReminders {
        allowed: why.is_none(),
        why,
        next_allowed: next_allowed(&order, &h, &settings, now),
        reminders,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// Reminders sent at or after this instant (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Sent before this instant.
    until: Option<DateTime<Utc>>,
}

/// Reminders sent, how many automatically, and the orders paid after one (催付成功).
#[utoipa::path(get, path = "/reminders/stats", tag = "reminders", params(StatsParams),
    responses((status = 200, body = ReminderStats), (status = 422, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<StatsParams>,
) -> ApiResult<Json<ReminderStats>> {
    if let (Some(f), Some(u)) = (p.from, p.until)
        && u <= f
    {
        return Err(ValidationError::new("until", "must be after from").into());
    }
    Ok(Json(state.store.reminder_stats(caller.shop(), p.from, p.until).await?))
}

/// The scheduler's job: for every shop with `reminders.auto`, reminds each unpaid order the
/// rules allow now, with the `reminders.auto_reason` template. Returns how many went out; one
/// another node sent first is skipped.
pub async fn send_due(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now();
    let mut sent = 0;
    for shop in state.store.shops().await? {
        let settings = state.store.settings(shop.id).await?;
        if !settings.reminders.auto {
            continue;
        }
        let mut offset = 0;
        loop {
            let q = OrderQuery {
                state: Some(OrderState::AwaitingPayment),
                page: Page { limit: 200, offset },
                ..Default::default()
            };
            let orders = state.store.orders(shop.id, &q).await?.items;
            for order in &orders {
                let records = state.store.reminders_of(shop.id, order.id).await?;
                if may_remind(order, &history(&records), &settings, now).is_err() {
                    continue;
                }
                let reason = settings.reminders.auto_reason;
                match send(state, &shop, &settings, order, &records, reason, None, now).await {
                    Ok(Some(_)) => sent += 1,
                    Ok(None) => {}
                    // Paid meanwhile: nothing to remind.
                    Err(ApiError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if orders.len() < 200 {
                break;
            }
            offset += 200;
        }
    }
    Ok(sent)
}
