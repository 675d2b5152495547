//! Statistics (SPEC §5.1–5.3, §5.6), computed from what was recorded as chats happened, so
//! that a figure can be recomputed for any period and nobody's chat path computes reports.
//!
//! Definitions (each is tested below, and the UI shows them as the columns' hints):
//! - **received (接待量)**: for the team, chats that reached the agents' queue; for an agent,
//!   chats assigned to them, by routing or by a transfer to them.
//! - **handled (已回复)**: chats in which the agent (for the team: any agent) sent at least one
//!   message in the period.
//! - **transferred (转出)**: chats the agent handed to a teammate.
//! - **first response (首次响应)**: from the chat's assignment to the agent's first reply; the
//!   time the bot spent before the hand-off is not the agent's. Target ≤ 10 s.
//! - **reply wait (平均/最长响应)**: each time a waiting buyer got an agent's reply, how long they
//!   had waited since their first unanswered message. Target ≤ 20 s.
//! - **online / suspended time**: time in each presence state, split across the hours or days
//!   it spans, and cut to the period.
//! - **messages**: messages the agents sent.
//! - **compliance warnings (违规提醒)**: messages an agent sent although the compliance guard
//!   (SPEC §2.9) warned about them; a message refused because the shop blocks is not sent and
//!   not counted.
//! - **satisfaction (满意度)**: the buyers' ratings (1–5) at chat end, credited to the agent of
//!   the chat; satisfied means 4 or 5.
//! - **bot**: questions the bot met, by outcome; a bot session is *resolved without a human*
//!   when it asked something and was never handed over; transfer rate is handed-over sessions
//!   over sessions; unknown rate is unknown questions over questions.
//! - **sales (询单转化)**: buyers who chatted in the period; of them, those who placed an order
//!   after their first chat and before the end of the next local day (次日24点), and those
//!   whose order was also paid by then.

use crate::clock::TimeZone;
use crate::ids::{AccountId, ConversationId};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// First-response target (SPEC §5.1).
pub const FIRST_RESPONSE_TARGET_MS: i64 = 10_000;
/// Reply-wait target (SPEC §5.1).
pub const REPLY_WAIT_TARGET_MS: i64 = 20_000;
/// Longest period of a report, in days (by hour: a week).
pub const MAX_DAYS: i64 = 92;
pub const MAX_HOURLY_DAYS: i64 = 7;

/// A report's buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Day,
    Hour,
}

/// A counted event as the store gives it (see `crate::chat::StatKind`).
#[derive(Clone, Debug, PartialEq)]
pub struct Counted {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub conversation: Option<ConversationId>,
    pub account: Option<AccountId>,
    pub value_ms: Option<i64>,
    pub data: Option<String>,
}

/// A message an agent sent.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentMessage {
    pub account: AccountId,
    pub conversation: ConversationId,
    pub at: DateTime<Utc>,
}

/// A buyer's rating of a chat (SPEC §5.6).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rating {
    pub conversation_id: ConversationId,
    pub account_id: Option<AccountId>,
    pub score: u8,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// A question the bot met.
#[derive(Clone, Debug, PartialEq)]
pub struct BotQuestion {
    pub at: DateTime<Utc>,
    /// `answered`, `suggested`, `unknown` or `handoff`.
    pub outcome: String,
    pub session: uuid::Uuid,
    pub handed_off: bool,
}

/// A chat's start, by buyer.
#[derive(Clone, Debug, PartialEq)]
pub struct Consultation {
    pub buyer: String,
    pub at: DateTime<Utc>,
}

/// An order's times, by buyer.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderTimes {
    pub buyer: String,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

/// Everything a report is computed from, for the period (orders up to a day beyond it).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub counted: Vec<Counted>,
    pub messages: Vec<AgentMessage>,
    pub ratings: Vec<Rating>,
    pub bot: Vec<BotQuestion>,
    pub consultations: Vec<Consultation>,
    pub orders: Vec<OrderTimes>,
}

impl Inputs {
    /// Counts a presence span still running (an agent online now) up to `now`, as if it had
    /// ended then: the day's online time must not wait for the agent to log off.
    pub fn add_open_span(&mut self, account: AccountId, state: &str, since: DateTime<Utc>, now: DateTime<Utc>) {
        if now > since {
            self.counted.push(Counted {
                kind: "presence_span".into(),
                at: now,
                conversation: None,
                account: Some(account),
                value_ms: Some((now - since).num_milliseconds()),
                data: Some(state.to_string()),
            });
        }
    }
}

/// A period of local dates, both included.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: By,
    pub zone: TimeZone,
}

impl Period {
    /// Checks the dates' order and the period's length.
    pub fn new(from: NaiveDate, to: NaiveDate, by: By, zone: TimeZone) -> Result<Period, crate::ValidationError> {
        if to < from {
            return Err(crate::ValidationError::new("to", "must not be before from"));
        }
        let days = (to - from).num_days() + 1;
        let max = match by {
            By::Day => MAX_DAYS,
            By::Hour => MAX_HOURLY_DAYS,
        };
        if days > max {
            return Err(crate::ValidationError::new(
                "to",
                format!(
                    "a report covers at most {max} days by {}",
                    if by == By::Day { "day" } else { "hour" }
                ),
            ));
        }
        Ok(Period { from, to, by, zone })
    }

    /// The first instant of the period.
    pub fn start(&self) -> DateTime<Utc> {
        self.zone.instant(self.from, crate::clock::ClockTime::MIDNIGHT)
    }

    /// The first instant after the period.
    pub fn end(&self) -> DateTime<Utc> {
        self.zone
            .instant(self.to + Duration::days(1), crate::clock::ClockTime::MIDNIGHT)
    }

    /// The bucket an instant falls in: `2026-11-23` or `2026-11-23 14:00`.
    fn bucket(&self, at: DateTime<Utc>) -> String {
        let date = self.zone.local_date(at);
        match self.by {
            By::Day => date.to_string(),
            By::Hour => {
                let (_, t) = self.zone.local(at);
                format!("{date} {:02}:00", t.minutes() / 60)
            }
        }
    }

    /// Every bucket of the period, in order.
    fn buckets(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = self.from;
        while d <= self.to {
            match self.by {
                By::Day => out.push(d.to_string()),
                By::Hour => out.extend((0..24).map(|h| format!("{d} {h:02}:00"))),
            }
            d += Duration::days(1);
        }
        out
    }

    /// The next bucket boundary after `at` (for splitting presence spans).
    fn next_boundary(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let date = self.zone.local_date(at);
        let midnight = self
            .zone
            .instant(date + Duration::days(1), crate::clock::ClockTime::MIDNIGHT);
        match self.by {
            By::Day => midnight,
            By::Hour => {
                let (_, t) = self.zone.local(at);
                let next_hour = (t.minutes() / 60 + 1) * 60;
                self.zone
                    .instant(date, crate::clock::ClockTime::hm(next_hour / 60, 0))
                    .min(midnight)
            }
        }
    }
}

/// A timing figure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Timing {
    pub count: u64,
    pub avg_ms: Option<i64>,
    pub max_ms: Option<i64>,
    pub target_ms: i64,
    /// Of `count`, how many within the target.
    pub within_target: u64,
    /// `within_target / count`, absent with no count.
    pub share_within_target: Option<f64>,
}

impl Timing {
    fn new(target_ms: i64) -> Timing {
        Timing {
            target_ms,
            ..Timing::default()
        }
    }

    fn add(&mut self, ms: i64) {
        let total = self.avg_ms.unwrap_or(0) as i128 * self.count as i128 + ms as i128;
        self.count += 1;
        self.avg_ms = Some((total / self.count as i128) as i64);
        self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
        if ms <= self.target_ms {
            self.within_target += 1;
        }
        self.share_within_target = Some(self.within_target as f64 / self.count as f64);
    }
}

/// Satisfaction figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Satisfaction {
    pub ratings: u64,
    pub avg_score: Option<f64>,
    /// Rated 4 or 5.
    pub satisfied: u64,
    pub share_satisfied: Option<f64>,
}

impl Satisfaction {
    fn add(&mut self, score: u8) {
        let total = self.avg_score.unwrap_or(0.0) * self.ratings as f64 + f64::from(score);
        self.ratings += 1;
        self.avg_score = Some(total / self.ratings as f64);
        if score >= 4 {
            self.satisfied += 1;
        }
        self.share_satisfied = Some(self.satisfied as f64 / self.ratings as f64);
    }
}

/// The figures of one agent, the team, or one bucket.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub received: u64,
    pub handled: u64,
    pub transferred: u64,
    pub first_response: Timing,
    pub reply_wait: Timing,
    pub online_ms: i64,
    pub suspended_ms: i64,
    pub messages: u64,
    pub compliance_warnings: u64,
    pub satisfaction: Satisfaction,
}

impl Default for Figures {
    fn default() -> Self {
        Figures {
            received: 0,
            handled: 0,
            transferred: 0,
            first_response: Timing::new(FIRST_RESPONSE_TARGET_MS),
            reply_wait: Timing::new(REPLY_WAIT_TARGET_MS),
            online_ms: 0,
            suspended_ms: 0,
            messages: 0,
            compliance_warnings: 0,
            satisfaction: Satisfaction::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentFigures {
    pub account_id: AccountId,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// `2026-11-23`, or `2026-11-23 14:00` by hour, in the shop's time zone.
    pub label: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The bot's figures (SPEC §5.2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BotFigures {
    pub questions: u64,
    pub answered: u64,
    pub suggested: u64,
    pub unknown: u64,
    pub asked_for_human: u64,
    pub sessions: u64,
    pub resolved_without_human: u64,
    pub handed_off: u64,
    pub transfer_rate: Option<f64>,
    pub unknown_rate: Option<f64>,
}

/// 询单转化 (SPEC §5.3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SalesFigures {
    pub consulted: u64,
    pub ordered: u64,
    pub paid: u64,
    pub order_rate: Option<f64>,
    pub pay_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: By,
    pub team: Figures,
    /// Every agent with any figure in the period, by received chats.
    pub agents: Vec<AgentFigures>,
    /// The team's figures per day or hour, every bucket of the period (empty ones too).
    pub buckets: Vec<Bucket>,
    pub bot: BotFigures,
    pub sales: SalesFigures,
}

/// Longest comment on a rating.
pub const MAX_RATING_COMMENT: usize = 200;

/// The buyer's rating of a chat (SPEC §5.6: the survey at chat end), credited to the chat's
/// agent. Only a chat an agent answered can be rated: the bot's chats have their own
/// "was this helpful".
pub fn rate(
    c: &crate::chat::Conversation,
    score: u8,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<Rating, crate::RuleError> {
    if !(1..=5).contains(&score) {
        return Err(crate::ValidationError::new("score", "must be 1 (very dissatisfied) to 5 (very satisfied)").into());
    }
    let comment = comment.trim();
    if comment.chars().count() > MAX_RATING_COMMENT {
        return Err(
            crate::ValidationError::new("comment", format!("must be at most {MAX_RATING_COMMENT} characters")).into(),
        );
    }
    let (Some(agent), true) = (c.agent_id, c.agent_answered) else {
        let state = if c.agent_id.is_some() {
            "客服未回复"
        } else {
            "机器人接待"
        };
        return Err(crate::RuleError::conflict(
            "会话",
            state,
            "只有客服回复过的会话才能评价",
        ));
    };
    Ok(Rating {
        conversation_id: c.id,
        account_id: Some(agent),
        score,
        comment: comment.to_string(),
        at: now,
    })
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Computes the report. `agent` limits the staff figures (team and buckets) to one agent; the
/// bot and sales figures are the shop's either way.
pub fn report(period: &Period, inputs: &Inputs, agent: Option<AccountId>) -> Report {
    let (start, end) = (period.start(), period.end());
    let inside = |at: DateTime<Utc>| at >= start && at < end;
    let mine = |a: Option<AccountId>| agent.is_none() || a == agent;

    let mut team = Figures::default();
    let mut agents: HashMap<AccountId, Figures> = HashMap::new();
    let mut buckets: BTreeMap<String, Figures> =
        period.buckets().into_iter().map(|b| (b, Figures::default())).collect();

    // Each closure-free helper below updates the three places a figure counts in.
    fn each<'a>(
        team: &'a mut Figures,
        agents: &'a mut HashMap<AccountId, Figures>,
        buckets: &'a mut BTreeMap<String, Figures>,
        bucket: &str,
        account: Option<AccountId>,
        mut f: impl FnMut(&mut Figures),
    ) {
        f(team);
        if let Some(b) = buckets.get_mut(bucket) {
            f(b);
        }
        if let Some(a) = account {
            f(agents.entry(a).or_default());
        }
    }

    for e in inputs.counted.iter().filter(|e| inside(e.at)) {
        let bucket = period.bucket(e.at);
        match e.kind.as_str() {
            "received" if agent.is_none() => {
                team.received += 1;
                if let Some(b) = buckets.get_mut(&bucket) {
                    b.received += 1;
                }
            }
            "assigned" => {
                if let Some(a) = e.account.filter(|a| mine(Some(*a))) {
                    agents.entry(a).or_default().received += 1;
                    if agent.is_some() {
                        team.received += 1;
                        if let Some(b) = buckets.get_mut(&bucket) {
                            b.received += 1;
                        }
                    }
                }
            }
            "transferred" => {
                if mine(e.account) {
                    each(&mut team, &mut agents, &mut buckets, &bucket, e.account, |f| {
                        f.transferred += 1
                    });
                }
                let to = e
                    .data
                    .as_deref()
                    .and_then(|d| d.parse::<uuid::Uuid>().ok())
                    .map(AccountId);
                if let Some(to) = to.filter(|t| mine(Some(*t))) {
                    agents.entry(to).or_default().received += 1;
                    if agent.is_some() {
                        team.received += 1;
                        if let Some(b) = buckets.get_mut(&bucket) {
                            b.received += 1;
                        }
                    }
                }
            }
            "first_response" if mine(e.account) => {
                if let Some(ms) = e.value_ms {
                    each(&mut team, &mut agents, &mut buckets, &bucket, e.account, |f| {
                        f.first_response.add(ms)
                    });
                }
            }
            "reply_wait" if mine(e.account) => {
                if let Some(ms) = e.value_ms {
                    each(&mut team, &mut agents, &mut buckets, &bucket, e.account, |f| {
                        f.reply_wait.add(ms)
                    });
                }
            }
            "compliance_warning" if mine(e.account) => {
                each(&mut team, &mut agents, &mut buckets, &bucket, e.account, |f| {
                    f.compliance_warnings += 1
                });
            }
            "presence_span" if mine(e.account) => {
                let (Some(ms), Some(state)) = (e.value_ms, e.data.as_deref()) else {
                    continue;
                };
                if state != "online" && state != "suspended" {
                    continue;
                }
                // The span ended at `at`; split it over the buckets it covers, within the period.
                let mut from = (e.at - Duration::milliseconds(ms)).max(start);
                let until = e.at.min(end);
                while from < until {
                    let next = period.next_boundary(from).min(until);
                    let part = (next - from).num_milliseconds();
                    let bucket = period.bucket(from);
                    each(&mut team, &mut agents, &mut buckets, &bucket, e.account, |f| {
                        if state == "online" {
                            f.online_ms += part;
                        } else {
                            f.suspended_ms += part;
                        }
                    });
                    from = next;
                }
            }
            _ => {}
        }
    }

    let mut handled_team: HashSet<ConversationId> = HashSet::new();
    let mut handled_bucket: HashSet<(String, ConversationId)> = HashSet::new();
    let mut handled_agent: HashSet<(AccountId, ConversationId)> = HashSet::new();
    for m in inputs.messages.iter().filter(|m| inside(m.at) && mine(Some(m.account))) {
        let bucket = period.bucket(m.at);
        let a = agents.entry(m.account).or_default();
        a.messages += 1;
        if handled_agent.insert((m.account, m.conversation)) {
            a.handled += 1;
        }
        team.messages += 1;
        if handled_team.insert(m.conversation) {
            team.handled += 1;
        }
        if let Some(b) = buckets.get_mut(&bucket) {
            b.messages += 1;
            if handled_bucket.insert((bucket, m.conversation)) {
                b.handled += 1;
            }
        }
    }

    for r in inputs.ratings.iter().filter(|r| inside(r.at) && mine(r.account_id)) {
        let bucket = period.bucket(r.at);
        each(&mut team, &mut agents, &mut buckets, &bucket, r.account_id, |f| {
            f.satisfaction.add(r.score)
        });
    }

    let mut agents: Vec<AgentFigures> = agents
        .into_iter()
        .map(|(account_id, figures)| AgentFigures { account_id, figures })
        .collect();
    agents.sort_by(|a, b| {
        b.figures
            .received
            .cmp(&a.figures.received)
            .then(a.account_id.0.cmp(&b.account_id.0))
    });

    Report {
        from: period.from,
        to: period.to,
        by: period.by,
        team,
        agents,
        buckets: buckets
            .into_iter()
            .map(|(label, figures)| Bucket { label, figures })
            .collect(),
        bot: bot_figures(inputs.bot.iter().filter(|q| inside(q.at))),
        sales: sales_figures(period, &inputs.consultations, &inputs.orders),
    }
}

fn bot_figures<'a>(questions: impl Iterator<Item = &'a BotQuestion>) -> BotFigures {
    let mut f = BotFigures::default();
    let mut sessions: HashMap<uuid::Uuid, bool> = HashMap::new();
    for q in questions {
        f.questions += 1;
        match q.outcome.as_str() {
            "answered" => f.answered += 1,
            "suggested" => f.suggested += 1,
            "unknown" => f.unknown += 1,
            "handoff" => f.asked_for_human += 1,
            _ => {}
        }
        *sessions.entry(q.session).or_default() |= q.handed_off;
    }
    f.sessions = sessions.len() as u64;
    f.handed_off = sessions.values().filter(|h| **h).count() as u64;
    f.resolved_without_human = f.sessions - f.handed_off;
    f.transfer_rate = ratio(f.handed_off, f.sessions);
    f.unknown_rate = ratio(f.unknown, f.questions);
    f
}

fn sales_figures(period: &Period, consultations: &[Consultation], orders: &[OrderTimes]) -> SalesFigures {
    let (start, end) = (period.start(), period.end());
    let mut first: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for c in consultations.iter().filter(|c| c.at >= start && c.at < end) {
        let e = first.entry(c.buyer.as_str()).or_insert(c.at);
        *e = (*e).min(c.at);
    }
    let mut f = SalesFigures {
        consulted: first.len() as u64,
        ..SalesFigures::default()
    };
    for (buyer, at) in &first {
        let deadline = period.zone.instant(
            period.zone.local_date(*at) + Duration::days(2),
            crate::clock::ClockTime::MIDNIGHT,
        );
        let ordered: Vec<&OrderTimes> = orders
            .iter()
            .filter(|o| o.buyer == *buyer && o.created_at >= *at && o.created_at < deadline)
            .collect();
        if !ordered.is_empty() {
            f.ordered += 1;
            if ordered.iter().any(|o| o.paid_at.is_some_and(|p| p < deadline)) {
                f.paid += 1;
            }
        }
    }
    f.order_rate = ratio(f.ordered, f.consulted);
    f.pay_rate = ratio(f.paid, f.consulted);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn day() -> Period {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        Period::new(d, d, By::Hour, TimeZone::shanghai()).unwrap()
    }

    /// 2026-11-23 at hh:mm:ss in Shanghai.
    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, s).unwrap() - Duration::hours(8)
    }

    fn counted(
        kind: &str,
        when: DateTime<Utc>,
        account: Option<AccountId>,
        ms: Option<i64>,
        data: Option<&str>,
    ) -> Counted {
        Counted {
            kind: kind.into(),
            at: when,
            conversation: Some(ConversationId::new()),
            account,
            value_ms: ms,
            data: data.map(str::to_string),
        }
    }

    #[test]
    fn periods_are_local_days_and_bounded() {
        let p = day();
        assert_eq!(p.start(), Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap());
        assert_eq!(p.end(), Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap());
        assert_eq!(p.buckets().len(), 24);
        assert_eq!(p.bucket(at(14, 5, 9)), "2026-11-23 14:00");
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert!(Period::new(d, d - Duration::days(1), By::Day, TimeZone::shanghai()).is_err());
        assert!(Period::new(d, d + Duration::days(7), By::Hour, TimeZone::shanghai()).is_err());
        assert!(Period::new(d, d + Duration::days(91), By::Day, TimeZone::shanghai()).is_ok());
    }

    #[test]
    fn timings_count_against_their_targets_per_agent_team_and_hour() {
        let (a, b) = (AccountId::new(), AccountId::new());
        let inputs = Inputs {
            counted: vec![
                counted("received", at(9, 0, 0), None, None, None),
                counted("received", at(10, 0, 0), None, None, None),
                counted("assigned", at(9, 0, 1), Some(a), None, None),
                counted("assigned", at(10, 0, 1), Some(b), None, None),
                counted("first_response", at(9, 0, 6), Some(a), Some(5_000), None),
                counted("first_response", at(10, 0, 31), Some(b), Some(30_000), None),
                counted("reply_wait", at(9, 5, 0), Some(a), Some(20_000), None),
                counted("reply_wait", at(9, 9, 0), Some(a), Some(40_000), None),
                // Another day: not counted.
                counted("received", at(9, 0, 0) - Duration::days(1), None, None, None),
            ],
            ..Inputs::default()
        };
        let r = report(&day(), &inputs, None);
        assert_eq!(r.team.received, 2);
        assert_eq!(r.team.first_response.count, 2);
        assert_eq!(r.team.first_response.avg_ms, Some(17_500));
        assert_eq!(r.team.first_response.max_ms, Some(30_000));
        assert_eq!(r.team.first_response.share_within_target, Some(0.5));
        let ra = &r.agents.iter().find(|x| x.account_id == a).unwrap().figures;
        assert_eq!(ra.received, 1);
        assert_eq!(ra.first_response.within_target, 1);
        assert_eq!(ra.reply_wait.avg_ms, Some(30_000));
        assert_eq!(ra.reply_wait.max_ms, Some(40_000));
        assert_eq!(ra.reply_wait.within_target, 1, "20 s exactly is within the target");
        let nine = r.buckets.iter().find(|b| b.label == "2026-11-23 09:00").unwrap();
        assert_eq!(nine.figures.received, 1);
        assert_eq!(nine.figures.reply_wait.count, 2);
        assert_eq!(
            r.buckets
                .iter()
                .find(|b| b.label == "2026-11-23 11:00")
                .unwrap()
                .figures
                .received,
            0
        );

        // One agent's view: their chats are the team's.
        let only_b = report(&day(), &inputs, Some(b));
        assert_eq!(only_b.team.received, 1);
        assert_eq!(only_b.team.first_response.avg_ms, Some(30_000));
        assert_eq!(only_b.team.first_response.share_within_target, Some(0.0));
        assert!(only_b.agents.iter().all(|x| x.account_id == b));
    }

    #[test]
    fn transfers_count_out_for_one_and_in_for_the_other() {
        let (a, b) = (AccountId::new(), AccountId::new());
        let to = b.0.to_string();
        let inputs = Inputs {
            counted: vec![
                counted("assigned", at(9, 0, 0), Some(a), None, None),
                counted("transferred", at(9, 3, 0), Some(a), None, Some(&to)),
            ],
            ..Inputs::default()
        };
        let r = report(&day(), &inputs, None);
        let fa = &r.agents.iter().find(|x| x.account_id == a).unwrap().figures;
        let fb = &r.agents.iter().find(|x| x.account_id == b).unwrap().figures;
        assert_eq!((fa.received, fa.transferred), (1, 1));
        assert_eq!((fb.received, fb.transferred), (1, 0));
        assert_eq!(r.team.transferred, 1);
    }

    #[test]
    fn compliance_warnings_count_for_the_agent_team_and_hour() {
        let (a, b) = (AccountId::new(), AccountId::new());
        let c = ConversationId::new();
        let warned = |who, t| Counted {
            kind: "compliance_warning".into(),
            at: t,
            conversation: Some(c),
            account: Some(who),
            value_ms: None,
            data: Some("off_platform_contact".into()),
        };
        let inputs = Inputs {
            counted: vec![warned(a, at(9, 0, 0)), warned(a, at(9, 30, 0)), warned(b, at(10, 0, 0))],
            ..Inputs::default()
        };
        let r = report(&day(), &inputs, None);
        assert_eq!(r.team.compliance_warnings, 3);
        let of = |x| {
            r.agents
                .iter()
                .find(|f| f.account_id == x)
                .unwrap()
                .figures
                .compliance_warnings
        };
        assert_eq!((of(a), of(b)), (2, 1));
        let nine = r.buckets.iter().find(|b| b.label == "2026-11-23 09:00").unwrap();
        assert_eq!(nine.figures.compliance_warnings, 2);
        let mine = report(&day(), &inputs, Some(b));
        assert_eq!(mine.team.compliance_warnings, 1, "an agent sees their own");
    }

    #[test]
    fn handled_counts_chats_and_messages_count_messages() {
        let a = AccountId::new();
        let (c1, c2) = (ConversationId::new(), ConversationId::new());
        let m = |c, t| AgentMessage {
            account: a,
            conversation: c,
            at: t,
        };
        let inputs = Inputs {
            messages: vec![m(c1, at(9, 0, 0)), m(c1, at(9, 1, 0)), m(c2, at(10, 0, 0))],
            ..Inputs::default()
        };
        let r = report(&day(), &inputs, None);
        assert_eq!((r.team.handled, r.team.messages), (2, 3));
        assert_eq!(r.agents[0].figures.handled, 2);
        let nine = r.buckets.iter().find(|b| b.label == "2026-11-23 09:00").unwrap();
        assert_eq!((nine.figures.handled, nine.figures.messages), (1, 2));
    }

    #[test]
    fn presence_spans_split_over_hours_and_are_cut_to_the_period() {
        let a = AccountId::new();
        let inputs = Inputs {
            counted: vec![
                // Online 08:30–10:15.
                counted(
                    "presence_span",
                    at(10, 15, 0),
                    Some(a),
                    Some(105 * 60_000),
                    Some("online"),
                ),
                // Suspended from 23:50 the day before until 00:10: only 10 minutes count.
                counted(
                    "presence_span",
                    at(0, 10, 0),
                    Some(a),
                    Some(20 * 60_000),
                    Some("suspended"),
                ),
                counted("presence_span", at(12, 0, 0), Some(a), Some(60_000), Some("offline")),
            ],
            ..Inputs::default()
        };
        let r = report(&day(), &inputs, None);
        assert_eq!(r.team.online_ms, 105 * 60_000);
        assert_eq!(r.team.suspended_ms, 10 * 60_000);
        let mut running = inputs.clone();
        running.add_open_span(a, "online", at(14, 0, 0), at(14, 30, 0));
        assert_eq!(
            report(&day(), &running, None).team.online_ms,
            135 * 60_000,
            "an open span counts up to now"
        );
        let hour = |h: &str| {
            r.buckets
                .iter()
                .find(|b| b.label == format!("2026-11-23 {h}:00"))
                .unwrap()
                .figures
                .online_ms
        };
        assert_eq!(
            (hour("08"), hour("09"), hour("10")),
            (30 * 60_000, 60 * 60_000, 15 * 60_000)
        );
    }

    #[test]
    fn satisfaction_is_credited_to_the_chats_agent() {
        let a = AccountId::new();
        let rate = |score| Rating {
            conversation_id: ConversationId::new(),
            account_id: Some(a),
            score,
            comment: String::new(),
            at: at(15, 0, 0),
        };
        let inputs = Inputs {
            ratings: vec![rate(5), rate(4), rate(1)],
            ..Inputs::default()
        };
        let r = report(&day(), &inputs, None);
        let s = &r.agents[0].figures.satisfaction;
        assert_eq!((s.ratings, s.satisfied), (3, 2));
        assert!((s.avg_score.unwrap() - 10.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn only_a_chat_an_agent_answered_is_rated_and_credited_to_them() {
        let now = at(15, 0, 0);
        let mut c = crate::chat::Conversation::new(
            crate::ids::ShopId::new(),
            "v".repeat(16),
            "买家".into(),
            "web".into(),
            now,
        );
        let e = rate(&c, 5, "", now).unwrap_err();
        assert_eq!(e.status(), 409);
        let a = AccountId::new();
        c.agent_id = Some(a);
        assert!(rate(&c, 5, "", now).is_err(), "assigned but not answered yet");
        c.agent_answered = true;
        let r = rate(&c, 4, "  很耐心 ", now).unwrap();
        assert_eq!((r.account_id, r.score, r.comment.as_str()), (Some(a), 4, "很耐心"));
        assert_eq!(rate(&c, 0, "", now).unwrap_err().status(), 422);
        assert_eq!(rate(&c, 6, "", now).unwrap_err().status(), 422);
        assert_eq!(rate(&c, 3, &"长".repeat(201), now).unwrap_err().status(), 422);
    }

    #[test]
    fn bot_figures_by_session_and_outcome() {
        let (s1, s2, s3) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let q = |o: &str, s, h| BotQuestion {
            at: at(11, 0, 0),
            outcome: o.into(),
            session: s,
            handed_off: h,
        };
        let inputs = Inputs {
            bot: vec![
                q("answered", s1, false),
                q("answered", s1, false),
                q("unknown", s2, true),
                q("handoff", s2, true),
                q("suggested", s3, false),
            ],
            ..Inputs::default()
        };
        let b = report(&day(), &inputs, None).bot;
        assert_eq!(
            (b.questions, b.answered, b.unknown, b.suggested, b.asked_for_human),
            (5, 2, 1, 1, 1)
        );
        assert_eq!((b.sessions, b.handed_off, b.resolved_without_human), (3, 1, 2));
        assert_eq!(b.unknown_rate, Some(0.2));
        assert!((b.transfer_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn an_order_counts_when_placed_after_the_chat_and_by_the_next_days_end() {
        let c = |b: &str, t| Consultation { buyer: b.into(), at: t };
        let o = |b: &str, t, p| OrderTimes {
            buyer: b.into(),
            created_at: t,
            paid_at: p,
        };
        let inputs = Inputs {
            consultations: vec![
                c("甲", at(10, 0, 0)),
                c("甲", at(12, 0, 0)),
                c("乙", at(10, 0, 0)),
                c("丙", at(10, 0, 0)),
                c("丁", at(10, 0, 0)),
            ],
            orders: vec![
                o("甲", at(11, 0, 0), Some(at(11, 5, 0))),
                // The next day, before midnight: counts, unpaid.
                o("乙", at(23, 0, 0) + Duration::days(1), None),
                // Two days later: too late.
                o(
                    "丙",
                    at(1, 0, 0) + Duration::days(2),
                    Some(at(1, 0, 0) + Duration::days(2)),
                ),
                // Before the chat: not a consequence of it.
                o("丁", at(9, 0, 0), Some(at(9, 1, 0))),
            ],
            ..Inputs::default()
        };
        let s = report(&day(), &inputs, None).sales;
        assert_eq!((s.consulted, s.ordered, s.paid), (4, 2, 1));
        assert_eq!(s.order_rate, Some(0.5));
        assert_eq!(s.pay_rate, Some(0.25));
    }
}
