//! Follow-up visits (客户回访, SPEC §4.6) at the edge: scheduled when an after-sales case is
//! finished or a bad review or complaint is closed (`api::orders` calls [`schedule`] after the
//! case is saved), listed for the agent when due, their outcome recorded once; the live
//! monitor counts the overdue ones ([`overdue`]). The rules are `kefu_core::visits`.

use crate::AppState;
use crate::api::catalog::ListOf;
use crate::api::page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use kefu_core::account::Role;
use kefu_core::ids::{AccountId, CustomerId, OrderId, ShopId, VisitId};
use kefu_core::visits::{OVERDUE_AFTER_HOURS, Visit, VisitOutcome, VisitSource, due_after_close};
use kefu_store::{Page, StoreError, VisitQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_visits))
        .routes(routes!(record_outcome))
}

/// Schedules the visit a closed case calls for, for `assignee`; a case visited already keeps
/// its visit. Failing to schedule is logged, not the case's failure: the case is saved.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn schedule(
    state: &AppState,
    shop: ShopId,
    customer: CustomerId,
    source: VisitSource,
    case: Uuid,
    order: Option<OrderId>,
    assignee: Option<AccountId>,
    closed_at: DateTime<Utc>,
) {
    let scheduled = async {
        let settings = state.store.settings(shop).await?;
        let Some(due) = due_after_close(closed_at, &settings) else {
            return Ok::<_, ApiError>(());
        };
        let v = Visit::schedule(shop, customer, source, case, order, assignee, due, closed_at);
        state.store.schedule_visit(&v).await?;
        Ok(())
    };
    if let Err(e) = scheduled.await {
        tracing::warn!(shop = %shop, case = %case, error = %e, "scheduling a follow-up visit");
    }
}

/// A visit as lists show it.
#[derive(Serialize, ToSchema)]
pub struct VisitView {
    #[serde(flatten)]
    visit: Visit,
    /// 售后回访 / 差评回访 / 投诉回访.
    source_label: &'static str,
    buyer_nick: String,
    assignee_name: Option<String>,
    /// Its time has come and it is not done.
    due: bool,
    /// Due for a day already.
    overdue: bool,
}

async fn views(state: &AppState, shop: ShopId, visits: Vec<Visit>) -> ApiResult<Vec<VisitView>> {
    let now = state.clock.now();
    let staff = state.store.agent_loads(shop).await?;
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let buyer_nick = state
            .store
            .customer(shop, v.customer_id)
            .await?
            .map(|c| c.nick)
            .unwrap_or_default();
        let assignee_name = v
            .assignee
            .and_then(|a| staff.iter().find(|s| s.account_id == a))
            .map(|s| s.display_name.clone());
        out.push(VisitView {
            source_label: v.source.label_zh(),
            due: v.is_due(now),
            overdue: v.is_overdue(now),
            buyer_nick,
            assignee_name,
            visit: v,
        });
    }
    Ok(out)
}

/// Visits overdue now, earliest first: how many, and the first `limit` (the live monitor).
pub(crate) async fn overdue(state: &AppState, shop: ShopId, limit: i64) -> ApiResult<(i64, Vec<VisitView>)> {
    let q = VisitQuery {
        open: Some(true),
        due_by: Some(state.clock.now() - Duration::hours(OVERDUE_AFTER_HOURS)),
        page: Page { limit, offset: 0 },
        ..Default::default()
    };
    let listed = state.store.visits(shop, &q).await?;
    Ok((listed.total, views(state, shop, listed.items).await?))
}

#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitFilter {
    /// Not done and due now (default).
    #[default]
    Due,
    /// Not done, due or not.
    Open,
    /// Done, with their outcome.
    Done,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitParams {
    /// `due` (default), `open` or `done`.
    #[param(inline)]
    view: Option<VisitFilter>,
    /// Supervisors and managers see everyone's; `true` shows only theirs (and nobody's).
    /// Agents always see theirs and nobody's.
    mine: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn sees_everyones(caller: &Caller) -> bool {
    matches!(caller.account.role, Role::Owner | Role::Admin | Role::Supervisor)
}

/// 客户回访: the follow-up visits due (or open, or done), earliest due first — the caller's
/// and those nobody was given; supervisors and managers see everyone's.
#[utoipa::path(get, path = "/visits", tag = "orders", params(VisitParams),
    responses((status = 200, body = ListOf<VisitView>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_visits(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<VisitParams>,
) -> ApiResult<Json<ListOf<VisitView>>> {
    let shop = caller.shop();
    let view = p.view.unwrap_or_default();
    let q = VisitQuery {
        open: Some(!matches!(view, VisitFilter::Done)),
        due_by: matches!(view, VisitFilter::Due).then(|| state.clock.now()),
        for_account: (!sees_everyones(&caller) || p.mine == Some(true)).then_some(caller.account.id),
        page: page(p.limit, p.offset)?,
    };
    let listed = state.store.visits(shop, &q).await?;
    Ok(Json(ListOf {
        items: views(&state, shop, listed.items).await?,
        total: listed.total,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    /// `satisfied` 买家满意, `unsatisfied` 仍不满意 (say why in the note), `unreachable`
    /// 联系不上, `declined` 不需要回访.
    outcome: VisitOutcome,
    /// Up to 500 characters.
    #[serde(default)]
    note: String,
}

/// Records how a visit went, once (409 after that). The visit's agent, anyone for a visit
/// nobody was given, or a manager; supervisors read.
#[utoipa::path(post, path = "/visits/{id}/outcome", tag = "orders", params(("id" = Uuid, Path)),
    request_body = OutcomeRequest,
    responses((status = 200, body = VisitView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn record_outcome(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<OutcomeRequest>,
) -> ApiResult<Json<VisitView>> {
    let shop = caller.shop();
    let v = state
        .store
        .visit(shop, VisitId(id))
        .await?
        .ok_or(ApiError::NotFound("visit"))?;
    let role = caller.account.role;
    let mine = v.assignee.is_none_or(|a| a == caller.account.id);
    if role == Role::Supervisor || !(mine || role.is_manager()) {
        return Err(ApiError::Forbidden("this visit is a teammate's".into()));
    }
    let done = v.record(body.outcome, &body.note, caller.account.id, state.clock.now())?;
    state.store.record_visit(&done).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound("visit"),
        StoreError::Conflict(why) => ApiError::Conflict(why),
        other => other.into(),
    })?;
    let view = views(&state, shop, vec![done]).await?.pop().expect("one visit");
    Ok(Json(view))
}
