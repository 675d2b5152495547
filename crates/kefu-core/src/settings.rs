//! Shop settings (SPEC §6.2): one document per shop, validated as a whole before it is
//! stored, so a shop never runs on a half-valid configuration.

use crate::ValidationError;
use crate::clock::{ClockTime, TimeWindow, TimeZone};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How the platform lets the shop change prices (SPEC §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShopMode {
    /// 商城 / 天猫: only the shipping fee of an unpaid order may change.
    Mall,
    /// C店 (individual seller): item prices may change too.
    C2c,
}

/// Opening hours on some weekdays, e.g. Monday–Friday 09:00–23:00.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BusinessHours {
    /// Weekdays, 1 = Monday … 7 = Sunday.
    pub days: Vec<u8>,
    pub open: ClockTime,
    pub close: ClockTime,
}

/// The texts the shop answers with automatically (SPEC §1.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutoReplies {
    /// Sent on a buyer's first contact.
    pub greeting: String,
    /// Sent when every agent is at capacity and the buyer waits in the queue.
    pub busy: String,
    /// Sent outside business hours or when no agent is online.
    pub away: String,
}

/// When payment reminders (催付, SPEC §4.7) may be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReminderHours {
    /// Windows of the shop's local day; the seeds say after 09:00 and after 14:00, never at night.
    pub windows: Vec<TimeWindow>,
    /// On holidays buyers sleep late: every window opens this much later.
    pub holiday_delay_minutes: u16,
    /// The shop's holidays (节假日), local dates; absent in settings saved before it existed.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// Whether Saturdays and Sundays count as holidays too (default yes: 假日).
    #[serde(default = "yes")]
    pub weekends_are_holidays: bool,
}

fn yes() -> bool {
    true
}

/// A list of holidays covers a few years at most.
pub const MAX_HOLIDAYS: usize = 3 * 366;

/// Everything an owner or admin sets for the shop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopSettings {
    pub mode: ShopMode,
    pub time_zone: TimeZone,
    pub business_hours: Vec<BusinessHours>,
    pub auto_replies: AutoReplies,
    pub reminder_hours: ReminderHours,
    /// An order not paid within this many minutes is closed (交易关闭). Default 3 days.
    pub unpaid_timeout_minutes: u32,
    /// A chat nobody writes in for this long is closed (SPEC §2.5). Default 30 minutes.
    #[serde(default = "default_idle_close_minutes")]
    pub idle_close_minutes: u32,
    /// Domains whose links may be clicked (e.g. `taobao.com`). Each entry stands for its
    /// registrable domain: `www.taobao.com` trusts all of `taobao.com` (see `links::LinkPolicy`).
    pub trusted_link_domains: Vec<String>,
    /// The item pages shown as the shop's own (`https://item.taobao.com/item.htm?id=`), each on a
    /// trusted domain; absent in settings saved before it existed, when the Taobao and Tmall
    /// forms apply.
    #[serde(default = "default_item_link_forms")]
    pub item_link_forms: Vec<String>,
    /// The smart bot's thresholds and texts; absent in settings saved before it existed.
    #[serde(default)]
    pub bot: crate::bot::BotSettings,
    /// Payment reminders: how many, how soon, the texts (SPEC §4.7); defaults when absent.
    #[serde(default)]
    pub reminders: crate::reminders::ReminderRules,
    /// Proactive outreach to customer groups: frequency cap (SPEC §3.3); defaults when absent.
    #[serde(default)]
    pub outreach: crate::customers::OutreachRules,
    /// 满多少包邮: an order whose goods (without shipping) come to at least this much ships free;
    /// `0` means everything ships free (全店包邮), none means the shop has no such rule. The bot
    /// quotes it (SPEC §1.6, `order_answers`). Absent in settings saved before it existed.
    #[serde(default)]
    pub free_shipping_threshold: Option<crate::money::Fen>,
    /// The shop's own words on invoices (发票), added to the bot's invoice answer, e.g.
    /// "本店可开电子普通发票，确认收货后开具". Empty: the bot answers generically.
    #[serde(default)]
    pub invoice_note: String,
    /// The compliance guard (违规提醒, SPEC §2.9): warn or block, the shop's 极限词 and the
    /// phrases exempt from them; defaults when absent.
    #[serde(default)]
    pub compliance: crate::compliance::ComplianceSettings,
    /// Where buyers' left messages (留言) are mailed (SPEC §7.3); empty: no mail, the
    /// messages wait in the workbench only.
    #[serde(default)]
    pub notification_email: String,
}

fn default_item_link_forms() -> Vec<String> {
    crate::links::DEFAULT_ITEM_LINK_FORMS
        .iter()
        .map(|f| (*f).to_owned())
        .collect()
}

pub const MAX_AUTO_REPLY_CHARS: usize = 500;
pub const MIN_IDLE_CLOSE_MINUTES: u32 = 5;
pub const MAX_IDLE_CLOSE_MINUTES: u32 = 24 * 60;

fn default_idle_close_minutes() -> u32 {
    30
}

pub const MAX_INVOICE_NOTE_CHARS: usize = 200;

pub const MIN_UNPAID_TIMEOUT_MINUTES: u32 = 10;
pub const MAX_UNPAID_TIMEOUT_MINUTES: u32 = 15 * 24 * 60;

impl Default for ShopSettings {
    fn default() -> Self {
        ShopSettings {
            mode: ShopMode::C2c,
            time_zone: TimeZone::shanghai(),
            business_hours: vec![BusinessHours {
                days: vec![1, 2, 3, 4, 5, 6, 7],
                open: ClockTime::hm(9, 0),
                close: ClockTime::hm(23, 0),
            }],
            auto_replies: AutoReplies {
                greeting: "亲,您好!欢迎光临本店,请问有什么可以帮您?".into(),
                busy: "亲,客服正在忙,已为您排队,请稍等片刻~".into(),
                away: "亲,现在是非工作时间,您可以先留言,客服上线后会第一时间回复您。".into(),
            },
            reminder_hours: ReminderHours {
                windows: vec![
                    TimeWindow::new(ClockTime::hm(9, 0), ClockTime::hm(12, 0)),
                    TimeWindow::new(ClockTime::hm(14, 0), ClockTime::hm(21, 0)),
                ],
                holiday_delay_minutes: 60,
                holidays: Vec::new(),
                weekends_are_holidays: true,
            },
            unpaid_timeout_minutes: 3 * 24 * 60,
            idle_close_minutes: default_idle_close_minutes(),
            trusted_link_domains: vec!["taobao.com".into(), "tmall.com".into()],
            item_link_forms: default_item_link_forms(),
            bot: crate::bot::BotSettings::default(),
            reminders: Default::default(),
            outreach: Default::default(),
            free_shipping_threshold: None,
            invoice_note: String::new(),
            compliance: Default::default(),
            notification_email: String::new(),
        }
    }
}

impl ShopSettings {
    /// Checks the rules that types alone cannot: ranges, orderings, non-empty texts.
    /// Returns the first problem, named by its field path.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (i, h) in self.business_hours.iter().enumerate() {
            let f = format!("business_hours[{i}]");
            if h.days.is_empty() {
                return Err(ValidationError::new(
                    format!("{f}.days"),
                    "name at least one weekday (1 = Monday … 7 = Sunday)",
                ));
            }
            if let Some(d) = h.days.iter().find(|d| !(1..=7).contains(*d)) {
                return Err(ValidationError::new(
                    format!("{f}.days"),
                    format!("{d} is not a weekday: use 1 = Monday … 7 = Sunday"),
                ));
            }
            TimeWindow::new(h.open, h.close).validate(&f)?;
        }
        for (name, text) in [
            ("auto_replies.greeting", &self.auto_replies.greeting),
            ("auto_replies.busy", &self.auto_replies.busy),
            ("auto_replies.away", &self.auto_replies.away),
        ] {
            if text.trim().is_empty() {
                return Err(ValidationError::new(name, "must not be empty"));
            }
            if text.chars().count() > MAX_AUTO_REPLY_CHARS {
                return Err(ValidationError::new(
                    name,
                    format!("is longer than {MAX_AUTO_REPLY_CHARS} characters"),
                ));
            }
        }
        if self.reminder_hours.windows.is_empty() {
            return Err(ValidationError::new(
                "reminder_hours.windows",
                "allow at least one window, or reminders could never be sent",
            ));
        }
        for (i, w) in self.reminder_hours.windows.iter().enumerate() {
            w.validate(&format!("reminder_hours.windows[{i}]"))?;
            if w.start < ClockTime::hm(7, 0) || w.end > ClockTime::hm(23, 0) {
                return Err(ValidationError::new(
                    format!("reminder_hours.windows[{i}]"),
                    "reminders must not disturb buyers at night: keep windows within 07:00–23:00",
                ));
            }
        }
        if self.reminder_hours.holiday_delay_minutes > 6 * 60 {
            return Err(ValidationError::new(
                "reminder_hours.holiday_delay_minutes",
                "must be at most 360 minutes",
            ));
        }
        let holidays = &self.reminder_hours.holidays;
        if holidays.len() > MAX_HOLIDAYS {
            return Err(ValidationError::new(
                "reminder_hours.holidays",
                format!("list at most {MAX_HOLIDAYS} dates"),
            ));
        }
        if let Some(i) = (1..holidays.len()).find(|&i| holidays[..i].contains(&holidays[i])) {
            return Err(ValidationError::new(
                format!("reminder_hours.holidays[{i}]"),
                format!("{} is listed twice", holidays[i]),
            ));
        }
        if !(MIN_UNPAID_TIMEOUT_MINUTES..=MAX_UNPAID_TIMEOUT_MINUTES).contains(&self.unpaid_timeout_minutes) {
            return Err(ValidationError::new(
                "unpaid_timeout_minutes",
                format!(
                    "must be between {MIN_UNPAID_TIMEOUT_MINUTES} minutes and {} days",
                    MAX_UNPAID_TIMEOUT_MINUTES / 1440
                ),
            ));
        }
        if !(MIN_IDLE_CLOSE_MINUTES..=MAX_IDLE_CLOSE_MINUTES).contains(&self.idle_close_minutes) {
            return Err(ValidationError::new(
                "idle_close_minutes",
                format!("must be between {MIN_IDLE_CLOSE_MINUTES} minutes and 24 hours"),
            ));
        }
        for (i, d) in self.trusted_link_domains.iter().enumerate() {
            if !is_plausible_domain(d) {
                return Err(ValidationError::new(
                    format!("trusted_link_domains[{i}]"),
                    format!("“{d}” is not a domain name such as taobao.com (no scheme, path or port)"),
                ));
            }
            if crate::links::registrable_domain(d).is_none() {
                return Err(ValidationError::new(
                    format!("trusted_link_domains[{i}]"),
                    format!("“{d}” is a public suffix shared by many owners, not a shop's domain such as taobao.com"),
                ));
            }
        }
        let trusted: Vec<String> = self
            .trusted_link_domains
            .iter()
            .filter_map(|d| crate::links::registrable_domain(d))
            .collect();
        for (i, f) in self.item_link_forms.iter().enumerate() {
            let field = format!("item_link_forms[{i}]");
            let form =
                crate::links::ItemLinkForm::parse(f).map_err(|e| ValidationError::new(&field, format!("“{f}” {e}")))?;
            if !crate::links::registrable_domain(form.host()).is_some_and(|d| trusted.contains(&d)) {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "{} is not on a trusted link domain: add its domain to trusted_link_domains first",
                        form.host()
                    ),
                ));
            }
        }
        if self
            .free_shipping_threshold
            .is_some_and(|t| t < crate::money::Fen::ZERO)
        {
            return Err(ValidationError::new(
                "free_shipping_threshold",
                "must not be negative (0 means everything ships free)",
            ));
        }
        if !self.notification_email.trim().is_empty() {
            crate::mail::check_address("notification_email", &self.notification_email)?;
        }
        if self.invoice_note.chars().count() > MAX_INVOICE_NOTE_CHARS {
            return Err(ValidationError::new(
                "invoice_note",
                format!("is longer than {MAX_INVOICE_NOTE_CHARS} characters"),
            ));
        }
        if self.invoice_note.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "invoice_note",
                "must be one line without control characters",
            ));
        }
        self.reminders.validate(self.unpaid_timeout_minutes)?;
        self.outreach.validate()?;
        self.compliance.validate()?;
        self.bot.validate()
    }

    /// Whether the shop is open at an instant (in its own time zone).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let (weekday, time) = self.time_zone.local(at);
        self.business_hours
            .iter()
            .any(|h| h.days.contains(&weekday) && TimeWindow::new(h.open, h.close).contains(time))
    }
}

/// A lowercase ASCII host name with at least two labels. Full registrable-domain checks
/// (public suffix list, homographs) belong to link safety; this only keeps junk out.
fn is_plausible_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn defaults_are_valid_and_follow_the_seeds() {
        let s = ShopSettings::default();
        s.validate().unwrap();
        assert_eq!(s.unpaid_timeout_minutes, 4320, "3 days");
        assert_eq!(s.reminder_hours.windows[0].start, ClockTime::hm(9, 0));
        assert_eq!(s.reminder_hours.windows[1].start, ClockTime::hm(14, 0));
        assert_eq!(s.time_zone.name(), "Asia/Shanghai");
    }

    fn refused(change: impl FnOnce(&mut ShopSettings)) -> ValidationError {
        let mut s = ShopSettings::default();
        change(&mut s);
        s.validate().expect_err("accepted a bad setting")
    }

    #[test]
    fn refuses_bad_values_naming_the_field() {
        assert_eq!(
            refused(|s| s.business_hours[0].days = vec![0]).field,
            "business_hours[0].days"
        );
        assert_eq!(
            refused(|s| s.business_hours[0].days.clear()).field,
            "business_hours[0].days"
        );
        assert_eq!(
            refused(|s| s.business_hours[0].close = ClockTime::hm(8, 0)).field,
            "business_hours[0]"
        );
        assert_eq!(
            refused(|s| s.auto_replies.busy = "  ".into()).field,
            "auto_replies.busy"
        );
        assert_eq!(
            refused(|s| s.auto_replies.greeting = "亲".repeat(501)).field,
            "auto_replies.greeting"
        );
        assert_eq!(
            refused(|s| s.reminder_hours.windows.clear()).field,
            "reminder_hours.windows"
        );
        assert_eq!(
            refused(|s| s.reminder_hours.windows[1].end = ClockTime::hm(23, 30)).field,
            "reminder_hours.windows[1]"
        );
        assert_eq!(refused(|s| s.idle_close_minutes = 1).field, "idle_close_minutes");
        assert_eq!(
            refused(|s| s.unpaid_timeout_minutes = 0).field,
            "unpaid_timeout_minutes"
        );
        assert_eq!(
            refused(|s| s.unpaid_timeout_minutes = 16 * 1440).field,
            "unpaid_timeout_minutes"
        );
        for bad in [
            "https://taobao.com",
            "taobao",
            "Taobao.com",
            "taobao.com/x",
            "taobao.com:80",
            "-a.com",
            "a..com",
        ] {
            assert_eq!(
                refused(|s| s.trusted_link_domains = vec![bad.into()]).field,
                "trusted_link_domains[0]",
                "{bad}"
            );
        }
    }

    #[test]
    fn trusted_domains_must_have_an_owner() {
        assert_eq!(
            refused(|s| s.trusted_link_domains = vec!["taobao.com".into(), "com.cn".into()]).field,
            "trusted_link_domains[1]"
        );
        let s = ShopSettings {
            trusted_link_domains: vec!["www.taobao.com".into(), "tmall.com".into()],
            ..ShopSettings::default()
        };
        s.validate().expect("a host stands for its registrable domain");
    }

    #[test]
    fn item_link_forms_are_checked() {
        let mut s = ShopSettings::default();
        s.trusted_link_domains.push("xiaomianao.cn".into());
        s.item_link_forms.push("shop.xiaomianao.cn/p/detail?sku=".into());
        s.validate().unwrap();
        for bad in [
            "item.taobao.com",
            "https://item.taobao.com/item.htm",
            "https://item.taobao.com/item.htm?id=123",
            "https://item.taobao.com:8080/item.htm?id=",
            "https://item.taobao.com/item.htm?id=#x",
            "https://1.2.3.4/item.htm?id=",
            "https://item.jd.com/x.html?id=",
        ] {
            let e = refused(|s| s.item_link_forms = vec!["https://item.taobao.com/item.htm?id=".into(), bad.into()]);
            assert_eq!(e.field, "item_link_forms[1]", "{bad}: {e}");
        }
        let e = refused(|s| s.trusted_link_domains = vec!["taobao.com".into()]);
        assert_eq!(
            e.field, "item_link_forms[1]",
            "the Tmall form needs tmall.com trusted: {e}"
        );
        assert!(e.message.contains("detail.tmall.com"), "{e}");
    }

    #[test]
    fn settings_saved_before_item_link_forms_get_the_taobao_and_tmall_forms() {
        let mut v = serde_json::to_value(ShopSettings::default()).unwrap();
        v.as_object_mut().unwrap().remove("item_link_forms");
        let s: ShopSettings = serde_json::from_value(v).unwrap();
        assert_eq!(s.item_link_forms, ShopSettings::default().item_link_forms);
        assert!(
            s.item_link_forms
                .contains(&"https://item.taobao.com/item.htm?id=".to_owned())
        );
        assert!(
            s.item_link_forms
                .contains(&"https://detail.tmall.com/item.htm?id=".to_owned())
        );
    }

    #[test]
    fn settings_saved_before_reminder_rules_get_the_defaults() {
        let mut v = serde_json::to_value(ShopSettings::default()).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("reminders");
        o.remove("outreach");
        assert!(o.remove("compliance").is_some());
        let hours = o["reminder_hours"].as_object_mut().unwrap();
        hours.remove("holidays");
        hours.remove("weekends_are_holidays");
        let s: ShopSettings = serde_json::from_value(v).unwrap();
        assert_eq!(s, ShopSettings::default());
        s.validate().unwrap();
        let partial: crate::reminders::ReminderRules = serde_json::from_str(r#"{"max_per_order": 2}"#).unwrap();
        assert_eq!(partial.max_per_order, 2);
        assert_eq!(partial.templates, Default::default());
    }

    #[test]
    fn settings_saved_before_shipping_and_invoice_fields_load_without_them() {
        let mut v = serde_json::to_value(ShopSettings::default()).unwrap();
        let o = v.as_object_mut().unwrap();
        assert!(o.remove("free_shipping_threshold").is_some());
        assert!(o.remove("invoice_note").is_some());
        let s: ShopSettings = serde_json::from_value(v).unwrap();
        assert_eq!((s.free_shipping_threshold, s.invoice_note.as_str()), (None, ""));
        assert_eq!(s, ShopSettings::default());
        let with: ShopSettings = serde_json::from_value({
            let mut v = serde_json::to_value(ShopSettings::default()).unwrap();
            v["free_shipping_threshold"] = 9900.into();
            v["invoice_note"] = "可开电子普通发票".into();
            v
        })
        .unwrap();
        assert_eq!(with.free_shipping_threshold, Some(crate::money::Fen(9900)));
        with.validate().unwrap();
    }

    #[test]
    fn free_shipping_threshold_and_invoice_note_are_checked() {
        use crate::money::Fen;
        assert_eq!(
            refused(|s| s.free_shipping_threshold = Some(Fen(-1))).field,
            "free_shipping_threshold"
        );
        assert_eq!(refused(|s| s.invoice_note = "票".repeat(201)).field, "invoice_note");
        assert_eq!(refused(|s| s.invoice_note = "可开\n发票".into()).field, "invoice_note");
        for ok in [Some(Fen(0)), Some(Fen(9900)), None] {
            let s = ShopSettings {
                free_shipping_threshold: ok,
                invoice_note: "票".repeat(200),
                ..ShopSettings::default()
            };
            s.validate().unwrap();
        }
    }

    #[test]
    fn open_hours_are_local_to_the_shop() {
        let s = ShopSettings::default(); // 09:00–23:00 Shanghai, every day
        let utc = |h, m| Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap();
        assert!(!s.is_open(utc(0, 59)), "08:59 in Shanghai");
        assert!(s.is_open(utc(1, 0)), "09:00 in Shanghai");
        assert!(s.is_open(utc(14, 59)), "22:59 in Shanghai");
        assert!(!s.is_open(utc(15, 0)), "23:00 in Shanghai");
    }

    #[test]
    fn unknown_fields_and_bad_types_are_refused_when_parsed() {
        let mut v = serde_json::to_value(ShopSettings::default()).unwrap();
        v["mode"] = "tmall".into();
        assert!(serde_json::from_value::<ShopSettings>(v.clone()).is_err());
        v["mode"] = "mall".into();
        v["time_zone"] = "Asia/Beijing".into();
        let e = serde_json::from_value::<ShopSettings>(v.clone())
            .unwrap_err()
            .to_string();
        assert!(e.contains("Asia/Beijing"), "{e}");
        v["time_zone"] = "Asia/Shanghai".into();
        v["colour"] = "red".into();
        assert!(serde_json::from_value::<ShopSettings>(v).is_err());
    }
}
