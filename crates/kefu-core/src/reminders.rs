//! Payment reminders (催付, SPEC §4.7) and the hours in which buyers may be contacted at all.
//!
//! The seeds: find out why the buyer has not paid (议价不成功, 多家比较, 有所顾虑, 忘记付款) and
//! remind accordingly; "合理的催付时间是上午9:00以后,下午14:00以后,节假日还需要进一步延后"; use the
//! platform's own chat; never disturb the buyer's rest. So a reminder is allowed only
//!
//! - for an order still 等待买家付款 whose payment deadline has not passed,
//! - inside the shop's reminder windows, local to the shop, which on holidays (the shop's list,
//!   and weekends unless the shop says otherwise) open `holiday_delay_minutes` later,
//! - not in the first `wait_after_order_minutes` after the order was placed (most buyers pay
//!   within minutes; a reminder then is pushy),
//! - at most `max_per_order` times (default once), later ones `min_gap_minutes` apart.
//!
//! [`ContactHours`] is the "may we write to this buyer now" part, reused by proactive outreach
//! (`customers`).

use crate::ValidationError;
use crate::catalog::{Order, OrderState};
use crate::clock::{ClockTime, TimeZone};
use crate::order::payment_deadline;
use crate::phrases::{PhraseVars, clean_text, fill};
use crate::settings::{ReminderHours, ShopSettings};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a buyer has not paid, as the agent judges it; it picks the reminder's template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnpaidReason {
    Bargaining,
    Comparing,
    Worried,
    Forgot,
}

impl UnpaidReason {
    pub const ALL: [UnpaidReason; 4] = [
        UnpaidReason::Bargaining,
        UnpaidReason::Comparing,
        UnpaidReason::Worried,
        UnpaidReason::Forgot,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            UnpaidReason::Bargaining => "议价不成功",
            UnpaidReason::Comparing => "多家比较",
            UnpaidReason::Worried => "有所顾虑",
            UnpaidReason::Forgot => "忘记付款",
        }
    }
}

/// The reminder texts, one per reason; they may name `{买家昵称}` `{订单号}` `{客服昵称}` `{店铺名}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderTemplates {
    pub bargaining: String,
    pub comparing: String,
    pub worried: String,
    pub forgot: String,
}

impl ReminderTemplates {
    pub fn get(&self, reason: UnpaidReason) -> &str {
        match reason {
            UnpaidReason::Bargaining => &self.bargaining,
            UnpaidReason::Comparing => &self.comparing,
            UnpaidReason::Worried => &self.worried,
            UnpaidReason::Forgot => &self.forgot,
        }
    }
}

impl Default for ReminderTemplates {
    fn default() -> Self {
        ReminderTemplates {
            bargaining: "{买家昵称}亲,您拍下的宝贝已经是活动价了哦,品质有保证~订单{订单号}现在付款,我们今天就给您安排发货,早点拿到宝贝哦!".into(),
            comparing: "{买家昵称}亲,我们家宝贝都是实物拍摄,和图片一样的哦,还支持7天无理由退换,买得放心~订单{订单号}有空就请先付款吧,这样可以早点拿到宝贝了哦。".into(),
            worried: "{买家昵称}亲,您对宝贝还有什么顾虑都可以随时问我哦~收到不满意支持7天无理由退换。订单{订单号}付款后我们会第一时间为您发货。".into(),
            forgot: "{买家昵称}亲,您拍下的订单{订单号}还没有付款哦,亲有空就请先付款吧,这样可以早点拿到宝贝了哦~".into(),
        }
    }
}

/// How often and how soon an unpaid order may be reminded (shop setting `reminders`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReminderRules {
    /// Default 1: the SPEC's "at most once per order".
    pub max_per_order: u8,
    /// Between two reminders of one order, when more than one is allowed. Default 4 hours.
    pub min_gap_minutes: u32,
    /// Quiet time after 拍下. Default 30 minutes.
    pub wait_after_order_minutes: u32,
    pub templates: ReminderTemplates,
    /// Whether the scheduler sends due reminders by itself (default off: agents remind).
    pub auto: bool,
    /// The template automatic reminders use: nobody asked the buyer why. Default `forgot`.
    pub auto_reason: UnpaidReason,
}

impl Default for ReminderRules {
    fn default() -> Self {
        ReminderRules {
            max_per_order: 1,
            min_gap_minutes: 240,
            wait_after_order_minutes: 30,
            templates: ReminderTemplates::default(),
            auto: false,
            auto_reason: UnpaidReason::Forgot,
        }
    }
}

pub const MAX_REMINDERS_PER_ORDER: u8 = 3;

impl ReminderRules {
    pub fn validate(&self, unpaid_timeout_minutes: u32) -> Result<(), ValidationError> {
        if !(1..=MAX_REMINDERS_PER_ORDER).contains(&self.max_per_order) {
            return Err(ValidationError::new(
                "reminders.max_per_order",
                format!("must be 1 to {MAX_REMINDERS_PER_ORDER}: more reminders harass buyers"),
            ));
        }
        if !(60..=24 * 60).contains(&self.min_gap_minutes) {
            return Err(ValidationError::new(
                "reminders.min_gap_minutes",
                "must be between 60 minutes and 24 hours",
            ));
        }
        if self.wait_after_order_minutes >= unpaid_timeout_minutes.min(24 * 60 + 1) {
            return Err(ValidationError::new(
                "reminders.wait_after_order_minutes",
                "must be at most 24 hours and shorter than the payment timeout, or no reminder could be sent",
            ));
        }
        for r in UnpaidReason::ALL {
            let field = format!(
                "reminders.templates.{}",
                serde_json::to_value(r).unwrap().as_str().unwrap()
            );
            clean_text(self.templates.get(r)).map_err(|e| ValidationError::new(field, e.message))?;
        }
        Ok(())
    }
}

/// When the shop may write to buyers: its reminder windows in its own time zone, later on holidays.
#[derive(Clone, Copy, Debug)]
pub struct ContactHours<'a> {
    hours: &'a ReminderHours,
    tz: &'a TimeZone,
}

/// How far ahead to look for an open window: a year of holidays cannot hide one longer.
const LOOKAHEAD_DAYS: i64 = 400;

impl<'a> ContactHours<'a> {
    pub fn of(settings: &'a ShopSettings) -> ContactHours<'a> {
        ContactHours {
            hours: &settings.reminder_hours,
            tz: &settings.time_zone,
        }
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.hours.holidays.contains(&date)
            || (self.hours.weekends_are_holidays && matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// The day's windows as instants, in order of opening. On a holiday each opens
    /// `holiday_delay_minutes` later and still closes on time (a window the delay swallows is gone).
    pub fn windows_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let delay = if self.is_holiday(date) {
            self.hours.holiday_delay_minutes
        } else {
            0
        };
        let mut out: Vec<_> = self
            .hours
            .windows
            .iter()
            .filter_map(|w| {
                let start = w.start.minutes() + delay;
                (start < w.end.minutes()).then(|| {
                    let start = ClockTime::hm(start / 60, start % 60);
                    (self.tz.instant(date, start), self.tz.instant(date, w.end))
                })
            })
            .collect();
        out.sort();
        out
    }

    /// Whether `at` is inside a window (opening minute included, closing minute not).
    pub fn allows(&self, at: DateTime<Utc>) -> bool {
        self.windows_on(self.tz.local_date(at))
            .iter()
            .any(|(s, e)| *s <= at && at < *e)
    }

    /// The first instant at or after `from` inside a window.
    pub fn next_open(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = self.tz.local_date(from);
        (0..LOOKAHEAD_DAYS).find_map(|d| {
            self.windows_on(today + Duration::days(d))
                .into_iter()
                .find(|(_, end)| *end > from)
                .map(|(start, _)| start.max(from))
        })
    }
}

/// What has been sent for one order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReminderHistory {
    pub sent: u32,
    pub last_sent_at: Option<DateTime<Utc>>,
}

/// Why no reminder may go out now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NoReminder {
    NotAwaitingPayment {
        state: OrderState,
    },
    /// The deadline has come: the order is closing, not to be paid.
    DeadlinePassed,
    LimitReached {
        max: u8,
    },
    TooSoonAfterOrder {
        until: DateTime<Utc>,
    },
    TooSoonAfterLast {
        until: DateTime<Utc>,
    },
    /// `next`: when the next window opens (before the deadline), if ever.
    OutsideHours {
        next: Option<DateTime<Utc>>,
    },
}

impl fmt::Display for NoReminder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoReminder::NotAwaitingPayment { state } => write!(f, "订单处于 {}，不需要催付", state.label_zh()),
            NoReminder::DeadlinePassed => f.write_str("已超过付款期限，订单即将关闭"),
            NoReminder::LimitReached { max } => write!(f, "每笔订单最多催付 {max} 次"),
            NoReminder::TooSoonAfterOrder { .. } => f.write_str("买家刚拍下，稍后再催付"),
            NoReminder::TooSoonAfterLast { .. } => f.write_str("距上次催付时间太短"),
            NoReminder::OutsideHours { .. } => f.write_str("现在不在允许催付的时间段"),
        }
    }
}

/// Whether a reminder for `order` may be sent at `now`, or the first rule that says no.
pub fn may_remind(
    order: &Order,
    history: &ReminderHistory,
    settings: &ShopSettings,
    now: DateTime<Utc>,
) -> Result<(), NoReminder> {
    let rules = &settings.reminders;
    let Some(deadline) = payment_deadline(order, settings) else {
        return Err(NoReminder::NotAwaitingPayment { state: order.state });
    };
    if now >= deadline {
        return Err(NoReminder::DeadlinePassed);
    }
    if history.sent >= u32::from(rules.max_per_order) {
        return Err(NoReminder::LimitReached {
            max: rules.max_per_order,
        });
    }
    let quiet_until = order.created_at + Duration::minutes(i64::from(rules.wait_after_order_minutes));
    if now < quiet_until {
        return Err(NoReminder::TooSoonAfterOrder { until: quiet_until });
    }
    if let Some(last) = history.last_sent_at {
        let until = last + Duration::minutes(i64::from(rules.min_gap_minutes));
        if now < until {
            return Err(NoReminder::TooSoonAfterLast { until });
        }
    }
    let hours = ContactHours::of(settings);
    if !hours.allows(now) {
        let next = hours.next_open(now).filter(|t| *t < deadline);
        return Err(NoReminder::OutsideHours { next });
    }
    Ok(())
}

/// The first instant at or after `now` when [`may_remind`] says yes; `None` if it never will
/// (paid or closed, limit reached, or no window left before the deadline).
pub fn next_allowed(
    order: &Order,
    history: &ReminderHistory,
    settings: &ShopSettings,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let rules = &settings.reminders;
    let deadline = payment_deadline(order, settings)?;
    if history.sent >= u32::from(rules.max_per_order) {
        return None;
    }
    let earliest = [
        Some(now),
        Some(order.created_at + Duration::minutes(i64::from(rules.wait_after_order_minutes))),
        history
            .last_sent_at
            .map(|l| l + Duration::minutes(i64::from(rules.min_gap_minutes))),
    ]
    .into_iter()
    .flatten()
    .max()?;
    ContactHours::of(settings).next_open(earliest).filter(|t| *t < deadline)
}

/// The reminder's text for `reason`, variables filled (those without a value stay visible).
pub fn reminder_text(settings: &ShopSettings, reason: UnpaidReason, vars: &PhraseVars) -> String {
    fill(settings.reminders.templates.get(reason), vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{paid, unpaid};
    use chrono::TimeZone as _;

    /// Shanghai wall-clock time on 2026-11-`day` (the 23rd is a Monday).
    fn sh(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, day, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn settings() -> ShopSettings {
        ShopSettings::default() // windows 09:00–12:00, 14:00–21:00; holiday delay 60
    }

    /// An unpaid order placed at `at`.
    fn placed(at: DateTime<Utc>) -> Order {
        let mut o = unpaid().order;
        o.created_at = at;
        o
    }

    #[test]
    fn windows_open_at_nine_and_two_and_later_on_holidays() {
        let mut s = settings();
        s.reminder_hours.holidays = vec![NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()];
        let h = ContactHours::of(&s);
        let cases = [
            (sh(23, 8, 59), false),
            (sh(23, 9, 0), true),
            (sh(23, 11, 59), true),
            (sh(23, 12, 0), false),
            (sh(23, 13, 59), false),
            (sh(23, 14, 0), true),
            (sh(23, 20, 59), true),
            (sh(23, 21, 0), false),
            (sh(23, 23, 30), false),
            (sh(23, 3, 0), false),
            // The 24th is on the holiday list: 10:00 and 15:00.
            (sh(24, 9, 59), false),
            (sh(24, 10, 0), true),
            (sh(24, 14, 59), false),
            (sh(24, 15, 0), true),
            // Saturday the 28th is a holiday by default.
            (sh(28, 9, 30), false),
            (sh(28, 10, 0), true),
        ];
        for (at, open) in cases {
            assert_eq!(h.allows(at), open, "{}", s.time_zone.format(at));
        }
        s.reminder_hours.weekends_are_holidays = false;
        assert!(ContactHours::of(&s).allows(sh(28, 9, 30)));
    }

    #[test]
    fn the_next_window_is_found_across_nights_and_holidays() {
        let mut s = settings();
        let h = ContactHours::of(&s);
        assert_eq!(h.next_open(sh(23, 9, 30)), Some(sh(23, 9, 30)), "already open");
        assert_eq!(h.next_open(sh(23, 12, 0)), Some(sh(23, 14, 0)));
        assert_eq!(h.next_open(sh(23, 22, 0)), Some(sh(24, 9, 0)));
        assert_eq!(
            h.next_open(sh(27, 21, 0)),
            Some(sh(28, 10, 0)),
            "Friday night → Saturday 10:00"
        );
        s.reminder_hours.holiday_delay_minutes = 360; // swallows the morning window on holidays
        let h = ContactHours::of(&s);
        assert_eq!(h.next_open(sh(27, 21, 0)), Some(sh(28, 20, 0)), "14:00 + 6 h");
        assert_eq!(h.windows_on(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()).len(), 1);
    }

    #[test]
    fn reminders_follow_the_rules_in_order() {
        let s = settings();
        let o = placed(sh(23, 9, 0));
        let none = ReminderHistory::default();
        assert_eq!(
            may_remind(&o, &none, &s, sh(23, 9, 29)),
            Err(NoReminder::TooSoonAfterOrder { until: sh(23, 9, 30) })
        );
        assert_eq!(
            may_remind(&o, &none, &s, sh(23, 9, 30)),
            Ok(()),
            "exactly 30 minutes after"
        );
        assert_eq!(
            may_remind(&o, &none, &s, sh(23, 22, 0)),
            Err(NoReminder::OutsideHours {
                next: Some(sh(24, 9, 0))
            })
        );
        let once = ReminderHistory {
            sent: 1,
            last_sent_at: Some(sh(23, 9, 30)),
        };
        assert_eq!(
            may_remind(&o, &once, &s, sh(23, 15, 0)),
            Err(NoReminder::LimitReached { max: 1 })
        );
        assert_eq!(next_allowed(&o, &once, &s, sh(23, 15, 0)), None);
        let deadline = o.created_at + Duration::days(3);
        assert_eq!(may_remind(&o, &none, &s, deadline), Err(NoReminder::DeadlinePassed));
        let p = paid().order;
        assert_eq!(
            may_remind(&p, &none, &s, sh(23, 15, 0)),
            Err(NoReminder::NotAwaitingPayment {
                state: OrderState::Paid
            })
        );
        assert_eq!(next_allowed(&p, &none, &s, sh(23, 15, 0)), None);
    }

    #[test]
    fn more_reminders_when_allowed_keep_their_gap() {
        let mut s = settings();
        s.reminders.max_per_order = 2;
        let o = placed(sh(23, 9, 0));
        let once = ReminderHistory {
            sent: 1,
            last_sent_at: Some(sh(23, 10, 0)),
        };
        assert_eq!(
            may_remind(&o, &once, &s, sh(23, 13, 59)),
            Err(NoReminder::TooSoonAfterLast { until: sh(23, 14, 0) })
        );
        assert_eq!(may_remind(&o, &once, &s, sh(23, 14, 0)), Ok(()));
        assert_eq!(next_allowed(&o, &once, &s, sh(23, 10, 5)), Some(sh(23, 14, 0)));
    }

    #[test]
    fn no_window_before_the_deadline_means_never() {
        let mut s = settings();
        s.unpaid_timeout_minutes = 60;
        let o = placed(sh(23, 20, 30)); // deadline 21:30, window closes 21:00, quiet until 21:00
        assert_eq!(next_allowed(&o, &ReminderHistory::default(), &s, sh(23, 20, 30)), None);
        assert_eq!(
            may_remind(&o, &ReminderHistory::default(), &s, sh(23, 21, 10)),
            Err(NoReminder::OutsideHours { next: None })
        );
    }

    #[test]
    fn may_remind_and_next_allowed_agree_minute_by_minute() {
        let mut s = settings();
        s.reminders.max_per_order = 2;
        s.reminder_hours.holidays = vec![NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()];
        let o = placed(sh(23, 11, 40));
        for hist in [
            ReminderHistory::default(),
            ReminderHistory {
                sent: 1,
                last_sent_at: Some(sh(23, 11, 50)),
            },
        ] {
            let mut at = sh(23, 11, 0);
            while at < sh(26, 12, 0) {
                let next = next_allowed(&o, &hist, &s, at);
                assert_eq!(may_remind(&o, &hist, &s, at).is_ok(), next == Some(at), "{at} {hist:?}");
                if let Some(n) = next {
                    assert!(n >= at && may_remind(&o, &hist, &s, n).is_ok(), "{at} → {n}");
                }
                at += Duration::minutes(10);
            }
        }
    }

    #[test]
    fn templates_by_reason_fill_their_variables() {
        let s = settings();
        let vars = PhraseVars {
            buyer_nick: Some("zouyinzou".into()),
            order_no: Some("3056789012345678".into()),
            ..PhraseVars::default()
        };
        for r in UnpaidReason::ALL {
            let text = reminder_text(&s, r, &vars);
            assert!(text.starts_with("zouyinzou亲"), "{r:?}: {text}");
            assert!(text.contains("3056789012345678"), "{r:?}: {text}");
            assert!(!text.contains('{'), "{r:?}: {text}");
        }
        assert!(reminder_text(&s, UnpaidReason::Forgot, &vars).contains("有空就请先付款吧"));
        let distinct: std::collections::HashSet<_> = UnpaidReason::ALL
            .iter()
            .map(|r| s.reminders.templates.get(*r))
            .collect();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn rules_are_validated() {
        fn refused(f: impl FnOnce(&mut ShopSettings)) -> String {
            let mut s = settings();
            f(&mut s);
            s.validate().unwrap_err().field
        }
        assert_eq!(refused(|s| s.reminders.max_per_order = 0), "reminders.max_per_order");
        assert_eq!(refused(|s| s.reminders.max_per_order = 4), "reminders.max_per_order");
        assert_eq!(
            refused(|s| s.reminders.min_gap_minutes = 10),
            "reminders.min_gap_minutes"
        );
        assert_eq!(
            refused(|s| {
                s.unpaid_timeout_minutes = 30;
                s.reminders.wait_after_order_minutes = 30;
            }),
            "reminders.wait_after_order_minutes"
        );
        assert_eq!(
            refused(|s| s.reminders.templates.worried = " ".into()),
            "reminders.templates.worried"
        );
        assert_eq!(
            refused(|s| s.reminders.templates.forgot = "亲{订单编号}".into()),
            "reminders.templates.forgot"
        );
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        assert_eq!(
            refused(|s| s.reminder_hours.holidays = vec![day, day]),
            "reminder_hours.holidays[1]"
        );
    }
}
