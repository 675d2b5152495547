//! Customer lifecycle groups (SPEC §3.2) and the rules of proactive outreach (主动营销, §3.3).
//!
//! The seeds keep four 旺旺 groups: 咨询组 (asked, bought nothing; note the product asked about,
//! to send them its promotion later), 订单组 (拍下 but unpaid: to be reminded politely), 发货组
//! (paid and shipped: ask whether it arrived, ask for a review) and 成交组 (completed: greetings,
//! new arrivals). Each group drives a different action, and a returning buyer can need several
//! at once — a new unpaid order to remind while an earlier one is on its way — so a buyer is in
//! **every** group one of their orders qualifies them for. 咨询组 is for prospects only: buyers who
//! chatted and have no order that is live or completed (all closed counts as none: they are
//! prospects again). [`Lifecycle::primary`] gives the most advanced group, for one badge.
//!
//! Outreach goes only to buyers who have not opted out, at most `max_per_week` messages in any
//! rolling 7×24 hours, and only inside the shop's contact hours — the reminder windows with their
//! holiday delay ([`ContactHours`]), not business hours: those say when agents answer and may run
//! to 23:00, too late for a message the buyer did not ask for.

use crate::ValidationError;
use crate::catalog::OrderState;
use crate::ids::ProductId;
use crate::reminders::ContactHours;
use crate::settings::ShopSettings;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The lifecycle groups, in the order a buyer moves through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleGroup {
    Consulting,
    Ordered,
    Shipping,
    Dealt,
}

impl LifecycleGroup {
    pub fn label_zh(self) -> &'static str {
        match self {
            LifecycleGroup::Consulting => "咨询组",
            LifecycleGroup::Ordered => "订单组",
            LifecycleGroup::Shipping => "发货组",
            LifecycleGroup::Dealt => "成交组",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lifecycle {
    /// Least to most advanced, each once.
    pub groups: Vec<LifecycleGroup>,
    /// The products the buyer asked about in chats, first asked first, each once.
    pub asked_about: Vec<ProductId>,
}

impl Lifecycle {
    pub fn primary(&self) -> Option<LifecycleGroup> {
        self.groups.last().copied()
    }

    pub fn contains(&self, g: LifecycleGroup) -> bool {
        self.groups.contains(&g)
    }
}

/// A buyer's groups from whether they chatted, what they asked about and their orders' states.
pub fn lifecycle(chatted: bool, asked_about: &[ProductId], orders: &[OrderState]) -> Lifecycle {
    use LifecycleGroup::*;
    let has = |f: fn(OrderState) -> bool| orders.iter().any(|s| f(*s));
    let mut groups = vec![];
    let prospect = chatted && !has(|s| s != OrderState::Closed);
    for (group, member) in [
        (Consulting, prospect),
        (Ordered, has(|s| s == OrderState::AwaitingPayment)),
        (Shipping, has(|s| matches!(s, OrderState::Paid | OrderState::Shipped))),
        (Dealt, has(|s| s == OrderState::Completed)),
    ] {
        if member {
            groups.push(group);
        }
    }
    let mut asked = Vec::new();
    if chatted {
        for p in asked_about {
            if !asked.contains(p) {
                asked.push(*p);
            }
        }
    }
    Lifecycle {
        groups,
        asked_about: asked,
    }
}

/// Shop setting `outreach`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OutreachRules {
    /// Messages to one buyer in any 7×24 hours; 0 turns outreach off. Default 2.
    pub max_per_week: u8,
}

impl Default for OutreachRules {
    fn default() -> Self {
        OutreachRules { max_per_week: 2 }
    }
}

pub const MAX_OUTREACH_PER_WEEK: u8 = 7;

impl OutreachRules {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.max_per_week > MAX_OUTREACH_PER_WEEK {
            return Err(ValidationError::new(
                "outreach.max_per_week",
                format!("must be at most {MAX_OUTREACH_PER_WEEK}: more is spam"),
            ));
        }
        Ok(())
    }
}

/// What the shop knows of one buyer's outreach.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutreachHistory {
    pub opted_out: bool,
    /// When outreach messages were sent to the buyer (older than a week may be left out).
    pub sent_at: Vec<DateTime<Utc>>,
}

pub const OUTREACH_PERIOD_DAYS: i64 = 7;

/// Why no outreach message may go to this buyer now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NoOutreach {
    Disabled,
    OptedOut,
    /// `until`: when the oldest message that keeps the count at the cap drops out of the week.
    CapReached {
        max: u8,
        until: DateTime<Utc>,
    },
    OutsideHours {
        next: Option<DateTime<Utc>>,
    },
}

impl fmt::Display for NoOutreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoOutreach::Disabled => f.write_str("店铺已关闭主动营销"),
            NoOutreach::OptedOut => f.write_str("买家已退订"),
            NoOutreach::CapReached { max, .. } => write!(f, "7天内已发送 {max} 条，达到上限"),
            NoOutreach::OutsideHours { .. } => f.write_str("现在不在允许联系买家的时间段"),
        }
    }
}

/// When the cap stops blocking, if it blocks at `now`.
fn cap_until(history: &OutreachHistory, max: u8, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let period = Duration::days(OUTREACH_PERIOD_DAYS);
    let mut recent: Vec<_> = history.sent_at.iter().filter(|t| **t > now - period).copied().collect();
    recent.sort();
    let max = usize::from(max);
    (recent.len() >= max).then(|| recent[recent.len() - max] + period)
}

pub fn may_send(history: &OutreachHistory, settings: &ShopSettings, now: DateTime<Utc>) -> Result<(), NoOutreach> {
    let max = settings.outreach.max_per_week;
    if max == 0 {
        return Err(NoOutreach::Disabled);
    }
    if history.opted_out {
        return Err(NoOutreach::OptedOut);
    }
    if let Some(until) = cap_until(history, max, now) {
        return Err(NoOutreach::CapReached { max, until });
    }
    let hours = ContactHours::of(settings);
    if !hours.allows(now) {
        return Err(NoOutreach::OutsideHours {
            next: hours.next_open(now),
        });
    }
    Ok(())
}

/// The first instant at or after `now` when [`may_send`] says yes; `None` for buyers who opted out.
pub fn next_send(history: &OutreachHistory, settings: &ShopSettings, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let max = settings.outreach.max_per_week;
    if max == 0 || history.opted_out {
        return None;
    }
    let from = cap_until(history, max, now).unwrap_or(now).max(now);
    ContactHours::of(settings).next_open(from)
}

/// Whether a buyer's message asks to hear no more (回复TD退订 and its variants).
pub fn asks_to_opt_out(text: &str) -> bool {
    let t: String = text.trim().chars().filter(|c| !c.is_whitespace()).collect();
    let t = t.trim_end_matches(['。', '!', '！', '.', '~']).to_ascii_uppercase();
    matches!(t.as_str(), "TD" | "T" | "退订" | "取消订阅" | "不要再发了" | "别再发了") || t.starts_with("退订")
}

/// A tag staff put on a buyer (e.g. 老客户, 讲价型): 1–20 characters, no control characters;
/// kept trimmed. A buyer has at most [`MAX_TAGS`] tags, each once.
pub const MAX_TAG_CHARS: usize = 20;
pub const MAX_TAGS: usize = 20;
pub const MAX_NOTE_CHARS: usize = 500;
pub const MAX_GROUP_NAME_CHARS: usize = 20;

fn short_text(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, ValidationError> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if n > max {
        return Err(ValidationError::new(field, format!("is longer than {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && !(multiline && c == '\n')) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// The buyer's tags as they are kept: trimmed, each once, in the order given.
pub fn clean_tags(tags: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tags.iter().enumerate() {
        let t = short_text(&format!("tags[{i}]"), t, MAX_TAG_CHARS, false)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ValidationError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

/// A note on a buyer (备注: what they asked about, what was promised): 1–500 characters.
pub fn clean_note(text: &str) -> Result<String, ValidationError> {
    short_text("text", &text.replace("\r\n", "\n"), MAX_NOTE_CHARS, true)
}

/// A custom group's name: 1–20 characters.
pub fn clean_group_name(name: &str) -> Result<String, ValidationError> {
    short_text("name", name, MAX_GROUP_NAME_CHARS, false)
}

/// What the privacy audit log records (SPEC §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A buyer's phone and address shown whole to someone.
    Reveal,
    /// Buyers' data written to a file.
    Export,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Reveal => "reveal",
            AuditKind::Export => "export",
        }
    }

    pub fn parse(s: &str) -> Option<AuditKind> {
        [AuditKind::Reveal, AuditKind::Export]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod profile_tests {
    use super::*;

    #[test]
    fn tags_notes_and_group_names_are_checked() {
        assert_eq!(
            clean_tags(&[" 老客户 ".into(), "讲价型".into(), "老客户".into()]).unwrap(),
            vec!["老客户", "讲价型"]
        );
        assert_eq!(clean_tags(&["".into()]).unwrap_err().field, "tags[0]");
        assert_eq!(clean_tags(&["a".into(), "x".repeat(21)]).unwrap_err().field, "tags[1]");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(clean_tags(&many).unwrap_err().field, "tags");
        assert_eq!(
            clean_note(" 问过XMA-LT-001的尺码\r\n要80码 ").unwrap(),
            "问过XMA-LT-001的尺码\n要80码"
        );
        assert!(clean_note("  ").is_err());
        assert!(clean_note(&"字".repeat(501)).is_err());
        assert!(clean_group_name("双十一\u{7}").is_err());
        assert_eq!(clean_group_name(" VIP ").unwrap(), "VIP");
        assert_eq!(AuditKind::parse("export"), Some(AuditKind::Export));
        assert_eq!(AuditKind::parse("read"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleGroup::*;
    use OrderState::*;
    use chrono::TimeZone as _;

    #[test]
    fn buyers_are_in_every_group_their_orders_qualify_for() {
        let p1 = ProductId::new();
        let p2 = ProductId::new();
        let cases: [(bool, &[OrderState], &[LifecycleGroup]); 10] = [
            (false, &[], &[]),
            (true, &[], &[Consulting]),
            (true, &[Closed], &[Consulting]),
            (false, &[Closed], &[]),
            (true, &[AwaitingPayment], &[Ordered]),
            (false, &[Paid], &[Shipping]),
            (true, &[Shipped, Closed], &[Shipping]),
            (true, &[Completed], &[Dealt]),
            (true, &[Completed, AwaitingPayment], &[Ordered, Dealt]),
            (
                false,
                &[Completed, Shipped, AwaitingPayment, Closed],
                &[Ordered, Shipping, Dealt],
            ),
        ];
        for (chatted, orders, want) in cases {
            let l = lifecycle(chatted, &[p1, p2, p1], orders);
            assert_eq!(l.groups, want, "{chatted} {orders:?}");
            assert_eq!(l.primary(), want.last().copied());
            assert_eq!(l.asked_about, if chatted { vec![p1, p2] } else { vec![] });
        }
        assert_eq!(Consulting.label_zh(), "咨询组");
        assert_eq!(Dealt.label_zh(), "成交组");
    }

    fn sh(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, day, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn outreach_is_capped_per_rolling_week() {
        let s = ShopSettings::default(); // 2 a week
        let mut h = OutreachHistory::default();
        let now = sh(23, 10, 0); // Monday
        assert_eq!(may_send(&h, &s, now), Ok(()));
        h.sent_at = vec![sh(17, 10, 0), sh(20, 15, 0)];
        // The first counts until exactly 7×24 h later.
        let until = sh(24, 10, 0);
        assert_eq!(may_send(&h, &s, now), Err(NoOutreach::CapReached { max: 2, until }));
        assert!(may_send(&h, &s, until - Duration::minutes(1)).is_err());
        assert_eq!(may_send(&h, &s, until), Ok(()));
        assert_eq!(next_send(&h, &s, now), Some(until));
        h.sent_at = vec![sh(16, 10, 0), sh(20, 15, 0)];
        assert_eq!(
            may_send(&h, &s, now),
            Ok(()),
            "a message exactly a week old no longer counts"
        );
        h.sent_at = vec![sh(22, 20, 0), sh(20, 15, 0), sh(21, 9, 0)];
        assert_eq!(
            may_send(&h, &s, now),
            Err(NoOutreach::CapReached {
                max: 2,
                until: sh(28, 9, 0)
            }),
            "two must drop out: the second oldest decides"
        );
        // Saturday the 28th 09:00 is before the holiday window opens at 10:00.
        assert_eq!(next_send(&h, &s, now), Some(sh(28, 10, 0)));
    }

    #[test]
    fn outreach_respects_opt_out_hours_and_the_switch() {
        let mut s = ShopSettings::default();
        let mut h = OutreachHistory::default();
        assert_eq!(
            may_send(&h, &s, sh(23, 22, 30)),
            Err(NoOutreach::OutsideHours {
                next: Some(sh(24, 9, 0))
            })
        );
        assert_eq!(
            may_send(&h, &s, sh(23, 12, 30)).unwrap_err().to_string(),
            "现在不在允许联系买家的时间段"
        );
        h.opted_out = true;
        assert_eq!(may_send(&h, &s, sh(23, 10, 0)), Err(NoOutreach::OptedOut));
        assert_eq!(next_send(&h, &s, sh(23, 10, 0)), None);
        h.opted_out = false;
        s.outreach.max_per_week = 0;
        assert_eq!(may_send(&h, &s, sh(23, 10, 0)), Err(NoOutreach::Disabled));
        s.outreach.max_per_week = 8;
        assert_eq!(s.validate().unwrap_err().field, "outreach.max_per_week");
    }

    #[test]
    fn opt_out_replies_are_recognised() {
        for yes in ["TD", "td", " T ", "退订", "退订。", "退订谢谢", "不要再发了!"] {
            assert!(asks_to_opt_out(yes), "{yes}");
        }
        for no in ["好的", "什么时候发货", "TDD", "t恤有货吗", "怎么退款"] {
            assert!(!asks_to_opt_out(no), "{no}");
        }
    }
}
