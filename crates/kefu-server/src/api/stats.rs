//! Statistics and the live monitor (SPEC §5): thin — the store gives the recorded events of the
//! period, `kefu_core::stats::report` computes every figure (the definitions are written there).
//! Supervisors and managers see the whole team; an agent sees their own figures only.

use crate::AppState;
use crate::api::kb::{Format, attachment};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kefu_core::account::Role;
use kefu_core::ids::{AccountId, ConversationId};
use kefu_core::routing::Presence;
use kefu_core::stats::{By, Figures, Period, Report, report};
use kefu_store::ReminderStats;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(export))
        .routes(routes!(monitor))
}

fn watches_team(caller: &Caller) -> bool {
    matches!(caller.account.role, Role::Owner | Role::Admin | Role::Supervisor)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// First day, in the shop's time zone (default: today).
    from: Option<NaiveDate>,
    /// Last day, included (default: `from`).
    to: Option<NaiveDate>,
    /// `day` (default) or `hour` buckets.
    #[param(inline)]
    by: Option<By>,
    /// One agent's figures only (an agent always sees their own).
    #[param(value_type = Option<String>, format = Uuid)]
    agent: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffName {
    #[schema(value_type = String, format = Uuid)]
    account_id: AccountId,
    display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatsView {
    #[serde(flatten)]
    report: Report,
    /// Names of the agents the report lists.
    staff: Vec<StaffName>,
    /// Payment reminders sent in the period and orders paid after one (SPEC §5.3).
    reminders: ReminderStats,
    time_zone: String,
}

/// Presence spans still running count up to now.
fn open_spans(inputs: &mut kefu_core::stats::Inputs, loads: &[kefu_core::routing::AgentStatus], now: DateTime<Utc>) {
    for a in loads {
        if let (Some(since), Presence::Online | Presence::Suspended) = (a.since, a.presence) {
            inputs.add_open_span(a.account_id, a.presence.as_str(), since, now);
        }
    }
}

async fn compute(state: &AppState, caller: &Caller, p: StatsParams) -> ApiResult<StatsView> {
    let shop = caller.shop();
    let settings = state.store.settings(shop).await?;
    let zone = settings.time_zone.clone();
    let today = zone.local_date(state.clock.now());
    let from = p.from.unwrap_or(today);
    let period = Period::new(from, p.to.unwrap_or(from), p.by.unwrap_or(By::Day), zone.clone())?;
    let agent = match (watches_team(caller), p.agent) {
        (true, a) => a.map(AccountId),
        (false, Some(a)) if a != caller.account.id.0 => {
            return Err(ApiError::Forbidden("an agent sees their own figures only".into()));
        }
        (false, _) => Some(caller.account.id),
    };
    let (start, end) = (period.start(), period.end());
    // Orders placed by the end of the day after the period's last still count (询单转化).
    let mut inputs = state
        .store
        .stats_inputs(shop, start, end, end + Duration::days(1))
        .await?;
    let loads = state.store.agent_loads(shop).await?;
    open_spans(&mut inputs, &loads, state.clock.now());
    let mut report = report(&period, &inputs, agent);
    if !watches_team(caller) {
        // The shop's bot and sales figures are the team's business.
        report.bot = Default::default();
        report.sales = Default::default();
    }
    let staff = loads
        .into_iter()
        .filter(|a| report.agents.iter().any(|f| f.account_id == a.account_id) || agent == Some(a.account_id))
        .map(|a| StaffName {
            account_id: a.account_id,
            display_name: a.display_name,
        })
        .collect();
    let reminders = if watches_team(caller) {
        state.store.reminder_stats(shop, Some(start), Some(end)).await?
    } else {
        ReminderStats::default()
    };
    Ok(StatsView {
        report,
        staff,
        reminders,
        time_zone: zone.name().to_string(),
    })
}

/// The figures of a period (SPEC §5.1–5.3, §5.6), per agent, for the team, and per day or hour.
#[utoipa::path(get, path = "/stats", tag = "stats", params(StatsParams),
    responses((status = 200, body = StatsView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<StatsParams>,
) -> ApiResult<Json<StatsView>> {
    Ok(Json(compute(&state, &caller, p).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    #[param(inline)]
    by: Option<By>,
    #[param(value_type = Option<String>, format = Uuid)]
    agent: Option<Uuid>,
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    format: Option<Format>,
}

const HEADER: &[&str] = &[
    "范围",
    "名称",
    "接待量",
    "已回复会话",
    "转出",
    "首次响应次数",
    "平均首次响应(秒)",
    "首次响应达标率(≤10秒)",
    "平均响应(秒)",
    "最长响应(秒)",
    "响应达标率(≤20秒)",
    "在线时长(分钟)",
    "挂起时长(分钟)",
    "发送消息数",
    "违规提醒数",
    "评价数",
    "平均评分",
    "满意率",
];

fn row(scope: &str, name: &str, f: &Figures) -> Vec<String> {
    let secs = |ms: Option<i64>| ms.map(|m| format!("{:.1}", m as f64 / 1000.0)).unwrap_or_default();
    let share = |s: Option<f64>| s.map(|s| format!("{:.1}%", s * 100.0)).unwrap_or_default();
    vec![
        scope.into(),
        name.into(),
        f.received.to_string(),
        f.handled.to_string(),
        f.transferred.to_string(),
        f.first_response.count.to_string(),
        secs(f.first_response.avg_ms),
        share(f.first_response.share_within_target),
        secs(f.reply_wait.avg_ms),
        secs(f.reply_wait.max_ms),
        share(f.reply_wait.share_within_target),
        format!("{:.1}", f.online_ms as f64 / 60_000.0),
        format!("{:.1}", f.suspended_ms as f64 / 60_000.0),
        f.messages.to_string(),
        f.compliance_warnings.to_string(),
        f.satisfaction.ratings.to_string(),
        f.satisfaction.avg_score.map(|s| format!("{s:.2}")).unwrap_or_default(),
        share(f.satisfaction.share_satisfied),
    ]
}

/// The same figures as a file: the team per day or hour, each agent, and the total.
#[utoipa::path(get, path = "/stats/export", tag = "stats", params(ExportParams),
    responses((status = 200, description = "the file", content_type = "text/csv"), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn export(State(state): State<AppState>, caller: Caller, Query(p): Query<ExportParams>) -> ApiResult<Response> {
    let format = p.format.unwrap_or_default();
    let view = compute(
        &state,
        &caller,
        StatsParams {
            from: p.from,
            to: p.to,
            by: p.by,
            agent: p.agent,
        },
    )
    .await?;
    let name_of = |a: AccountId| {
        view.staff
            .iter()
            .find(|s| s.account_id == a)
            .map(|s| s.display_name.clone())
            .unwrap_or_else(|| a.0.to_string())
    };
    let mut rows: Vec<Vec<String>> = view
        .report
        .buckets
        .iter()
        .map(|b| row("时段", &b.label, &b.figures))
        .collect();
    rows.extend(
        view.report
            .agents
            .iter()
            .map(|a| row("客服", &name_of(a.account_id), &a.figures)),
    );
    rows.push(row(
        "合计",
        &format!("{} — {}", view.report.from, view.report.to),
        &view.report.team,
    ));
    let name = format!(
        "stats-{}-{}",
        view.report.from.format("%Y%m%d"),
        view.report.to.format("%Y%m%d")
    );
    let widths: Vec<f64> = HEADER
        .iter()
        .map(|h| (h.chars().count() as f64 * 2.2).max(10.0))
        .collect();
    attachment(
        format,
        &name,
        || crate::sheet::write_csv(HEADER, &rows),
        || crate::sheet::write_xlsx("统计", HEADER, &widths, &rows),
    )
}

#[derive(Serialize, ToSchema)]
pub struct MonitorAgent {
    #[schema(value_type = String, format = Uuid)]
    account_id: AccountId,
    display_name: String,
    presence: Presence,
    /// Since when, in that state.
    since: Option<DateTime<Utc>>,
    takes_chats: bool,
    load: u32,
    capacity: u32,
    skill_group: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WaitingChat {
    #[schema(value_type = String, format = Uuid)]
    conversation_id: ConversationId,
    buyer_nick: String,
    channel: String,
    skill_group: Option<String>,
    /// `queued` (no agent yet) or `assigned` (waiting for the agent's reply).
    state: kefu_core::chat::ConversationState,
    #[schema(value_type = Option<String>, format = Uuid)]
    agent_id: Option<AccountId>,
    /// Since when the buyer waits: in the queue, or for the agent's reply.
    waiting_since: DateTime<Utc>,
    waiting_ms: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Monitor {
    at: DateTime<Utc>,
    agents: Vec<MonitorAgent>,
    online: usize,
    suspended: usize,
    /// Chats in the queue.
    queue_length: usize,
    /// Chats with an agent now.
    serving: usize,
    /// Buyers waiting longest (queue and unanswered), longest first, at most 20.
    waiting: Vec<WaitingChat>,
    /// Today's team figures so far.
    today: Figures,
    /// Follow-up visits (客户回访) due a day ago or more and not done.
    visits_overdue: i64,
    /// The earliest of them, at most 20.
    overdue_visits: Vec<crate::api::visits::VisitView>,
}

/// 实时监控 (SPEC §5.4): who is online or suspended with what load, the queue, and the buyers
/// waiting longest. The page reads it every few seconds.
#[utoipa::path(get, path = "/chat/monitor", tag = "stats",
    responses((status = 200, body = Monitor), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn monitor(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Monitor>> {
    if !watches_team(&caller) {
        return Err(ApiError::Forbidden(
            "the live monitor is for supervisors and managers".into(),
        ));
    }
    let shop = caller.shop();
    let now = state.clock.now();
    let loads = state.store.agent_loads(shop).await?;
    let agents: Vec<MonitorAgent> = loads
        .iter()
        .filter(|a| !a.disabled && (a.takes_chats || a.presence != Presence::Offline || a.load > 0))
        .map(|a| MonitorAgent {
            account_id: a.account_id,
            display_name: a.display_name.clone(),
            presence: a.presence,
            since: a.since,
            takes_chats: a.takes_chats,
            load: a.load,
            capacity: a.capacity,
            skill_group: a.skill_group.as_ref().map(|g| g.as_str().to_string()),
        })
        .collect();
    let queued = state.store.queued_conversations(shop).await?;
    let serving = state.store.assigned_conversations(shop).await?;
    let mut waiting: Vec<WaitingChat> = queued
        .iter()
        .filter_map(|c| c.queued_at.map(|t| (c, t)))
        .chain(serving.iter().filter_map(|c| c.buyer_waiting_since.map(|t| (c, t))))
        .map(|(c, since)| WaitingChat {
            conversation_id: c.id,
            buyer_nick: c.buyer_nick.clone(),
            channel: c.channel.clone(),
            skill_group: c.skill_group.as_ref().map(|g| g.as_str().to_string()),
            state: c.state,
            agent_id: c.agent_id,
            waiting_since: since,
            waiting_ms: (now - since).num_milliseconds().max(0),
        })
        .collect();
    waiting.sort_by_key(|w| w.waiting_since);
    waiting.truncate(20);
    let settings = state.store.settings(shop).await?;
    let today = settings.time_zone.local_date(now);
    let period = Period::new(today, today, By::Day, settings.time_zone.clone())?;
    let mut inputs = state
        .store
        .stats_inputs(shop, period.start(), period.end(), period.end())
        .await?;
    open_spans(&mut inputs, &loads, now);
    let (visits_overdue, overdue_visits) = crate::api::visits::overdue(&state, shop, 20).await?;
    Ok(Json(Monitor {
        at: now,
        online: agents.iter().filter(|a| a.presence == Presence::Online).count(),
        suspended: agents.iter().filter(|a| a.presence == Presence::Suspended).count(),
        agents,
        queue_length: queued.len(),
        serving: serving.len(),
        waiting,
        today: report(&period, &inputs, None).team,
        visits_overdue,
        overdue_visits,
    }))
}
