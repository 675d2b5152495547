//! Follow-up visits (客户回访, SPEC §4.6): when an after-sales case is finished, or a bad review
//! or a complaint is closed, an agent calls on the buyer a few days later — did the refund
//! arrive, does the new size fit, is the buyer content now. A visit is a task with a due time
//! ([`crate::aftersales::FOLLOW_UP_AFTER_DAYS`] after the close, moved into the shop's contact
//! hours: never at night), for the agent who closed the case; it is *due* from then on and
//! *overdue* once [`OVERDUE_AFTER_HOURS`] have passed without an outcome. Its outcome is
//! recorded once.

use crate::ids::{AccountId, CustomerId, OrderId, ShopId, VisitId};
use crate::reminders::ContactHours;
use crate::service_tickets::{ServiceTicket, ServiceTicketKind, ServiceTicketState};
use crate::settings::ShopSettings;
use crate::{RuleError, ValidationError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A visit not done this long after it fell due is overdue (the live monitor shows it).
pub const OVERDUE_AFTER_HOURS: i64 = 24;
pub const MAX_NOTE_CHARS: usize = 500;

/// The case whose close calls for the visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitSource {
    /// 售后单 finished (退款、退货、换货).
    AfterSales,
    /// 差评 closed.
    NegativeReview,
    /// 投诉 closed.
    Complaint,
}

impl VisitSource {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitSource::AfterSales => "after_sales",
            VisitSource::NegativeReview => "negative_review",
            VisitSource::Complaint => "complaint",
        }
    }

    pub fn parse(s: &str) -> Option<VisitSource> {
        [
            VisitSource::AfterSales,
            VisitSource::NegativeReview,
            VisitSource::Complaint,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            VisitSource::AfterSales => "售后回访",
            VisitSource::NegativeReview => "差评回访",
            VisitSource::Complaint => "投诉回访",
        }
    }
}

/// How the visit went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitOutcome {
    /// 买家满意.
    Satisfied,
    /// 仍不满意: the note says what is still wrong (a new case may follow).
    Unsatisfied,
    /// 联系不上.
    Unreachable,
    /// 买家不需要回访.
    Declined,
}

impl VisitOutcome {
    pub const ALL: [VisitOutcome; 4] = [
        VisitOutcome::Satisfied,
        VisitOutcome::Unsatisfied,
        VisitOutcome::Unreachable,
        VisitOutcome::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VisitOutcome::Satisfied => "satisfied",
            VisitOutcome::Unsatisfied => "unsatisfied",
            VisitOutcome::Unreachable => "unreachable",
            VisitOutcome::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<VisitOutcome> {
        VisitOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            VisitOutcome::Satisfied => "买家满意",
            VisitOutcome::Unsatisfied => "仍不满意",
            VisitOutcome::Unreachable => "联系不上",
            VisitOutcome::Declined => "不需要回访",
        }
    }
}

/// A follow-up visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Visit {
    pub id: VisitId,
    pub shop_id: ShopId,
    pub customer_id: CustomerId,
    pub source: VisitSource,
    /// The after-sales or review/complaint case.
    #[schema(value_type = String, format = Uuid)]
    pub source_id: uuid::Uuid,
    pub order_id: Option<OrderId>,
    /// The agent who closed the case; `None`: anyone on the team.
    pub assignee: Option<AccountId>,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub outcome: Option<VisitOutcome>,
    pub note: String,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<AccountId>,
}

impl Visit {
    /// The visit a closed case calls for, due at `due_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn schedule(
        shop_id: ShopId,
        customer_id: CustomerId,
        source: VisitSource,
        source_id: uuid::Uuid,
        order_id: Option<OrderId>,
        assignee: Option<AccountId>,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Visit {
        Visit {
            id: VisitId::new(),
            shop_id,
            customer_id,
            source,
            source_id,
            order_id,
            assignee,
            due_at,
            created_at: now,
            outcome: None,
            note: String::new(),
            done_at: None,
            done_by: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.outcome.is_some()
    }

    /// Due: its time has come and it is not done.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        !self.is_done() && self.due_at <= now
    }

    /// Overdue: due for [`OVERDUE_AFTER_HOURS`] already.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.is_done() && self.due_at + Duration::hours(OVERDUE_AFTER_HOURS) <= now
    }

    /// Records how it went, once. Before it is due is allowed (the buyer wrote first).
    pub fn record(
        &self,
        outcome: VisitOutcome,
        note: &str,
        by: AccountId,
        now: DateTime<Utc>,
    ) -> Result<Visit, RuleError> {
        if let Some(done) = self.outcome {
            return Err(RuleError::conflict("回访", done.label_zh(), "结果只能记录一次"));
        }
        let note = note.trim().replace("\r\n", "\n");
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(RuleError::Invalid(ValidationError::new(
                "note",
                format!("is longer than {MAX_NOTE_CHARS} characters"),
            )));
        }
        if outcome == VisitOutcome::Unsatisfied && note.is_empty() {
            return Err(RuleError::Invalid(ValidationError::new(
                "note",
                "say what the buyer is still unhappy about",
            )));
        }
        Ok(Visit {
            outcome: Some(outcome),
            note,
            done_at: Some(now),
            done_by: Some(by),
            ..self.clone()
        })
    }
}

/// When a case closed at `closed_at` is to be visited: [`crate::aftersales::FOLLOW_UP_AFTER_DAYS`]
/// later, at the shop's next contact hour.
pub fn due_after_close(closed_at: DateTime<Utc>, settings: &ShopSettings) -> Option<DateTime<Utc>> {
    ContactHours::of(settings).next_open(closed_at + Duration::days(crate::aftersales::FOLLOW_UP_AFTER_DAYS))
}

/// The visit source of a review or complaint that `before` → `after` closed: bad reviews and
/// complaints, not 中评; `None` when the change closed nothing.
pub fn service_visit(before: &ServiceTicket, after: &ServiceTicket) -> Option<VisitSource> {
    if before.state == ServiceTicketState::Closed || after.state != ServiceTicketState::Closed {
        return None;
    }
    match after.kind {
        ServiceTicketKind::NegativeReview => Some(VisitSource::NegativeReview),
        ServiceTicketKind::Complaint => Some(VisitSource::Complaint),
        ServiceTicketKind::NeutralReview => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    /// Shanghai wall-clock time in November 2026 (the 23rd is a Monday).
    fn sh(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, day, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn visit(due: DateTime<Utc>) -> Visit {
        Visit::schedule(
            ShopId::new(),
            CustomerId::new(),
            VisitSource::AfterSales,
            uuid::Uuid::now_v7(),
            None,
            Some(AccountId::new()),
            due,
            sh(20, 10, 0),
        )
    }

    #[test]
    fn due_three_days_later_inside_contact_hours() {
        let s = ShopSettings::default(); // windows 09–12 and 14–21, weekends an hour later
        assert_eq!(
            due_after_close(sh(23, 10, 30), &s),
            Some(sh(26, 10, 30)),
            "Thursday morning"
        );
        assert_eq!(due_after_close(sh(23, 22, 0), &s), Some(sh(27, 9, 0)), "not at night");
        assert_eq!(due_after_close(sh(23, 12, 30), &s), Some(sh(26, 14, 0)), "not at lunch");
        assert_eq!(
            due_after_close(sh(25, 8, 0), &s),
            Some(sh(28, 10, 0)),
            "Saturday opens later"
        );
    }

    #[test]
    fn due_overdue_and_done() {
        let v = visit(sh(26, 10, 0));
        assert!(!v.is_due(sh(26, 9, 59)));
        assert!(v.is_due(sh(26, 10, 0)));
        assert!(!v.is_overdue(sh(27, 9, 59)));
        assert!(v.is_overdue(sh(27, 10, 0)));
        let by = AccountId::new();
        let done = v
            .record(VisitOutcome::Satisfied, " 退款已到账，买家满意 ", by, sh(27, 11, 0))
            .unwrap();
        assert_eq!(done.note, "退款已到账，买家满意");
        assert_eq!((done.done_at, done.done_by), (Some(sh(27, 11, 0)), Some(by)));
        assert!(!done.is_due(sh(28, 0, 0)) && !done.is_overdue(sh(30, 0, 0)));
        assert!(matches!(
            done.record(VisitOutcome::Declined, "", by, sh(27, 12, 0)),
            Err(RuleError::Conflict { .. })
        ));
        // Early is fine; unhappy needs a word; notes are bounded.
        assert!(v.record(VisitOutcome::Unreachable, "", by, sh(21, 10, 0)).is_ok());
        assert!(matches!(
            v.record(VisitOutcome::Unsatisfied, "  ", by, sh(27, 11, 0)),
            Err(RuleError::Invalid(e)) if e.field == "note"
        ));
        assert!(
            v.record(VisitOutcome::Satisfied, &"好".repeat(501), by, sh(27, 11, 0))
                .is_err()
        );
    }

    #[test]
    fn bad_reviews_and_complaints_call_for_a_visit_when_they_close() {
        use crate::service_tickets::IssueReason;
        let open = |kind| {
            ServiceTicket::open(
                ShopId::new(),
                CustomerId::new(),
                Some(OrderId::new()),
                kind,
                IssueReason::Quality,
                "起球",
                crate::order::Actor::System,
                sh(20, 10, 0),
            )
            .unwrap()
            .0
        };
        let closed = |t: &ServiceTicket| ServiceTicket {
            state: ServiceTicketState::Closed,
            ..t.clone()
        };
        for (kind, want) in [
            (ServiceTicketKind::NegativeReview, Some(VisitSource::NegativeReview)),
            (ServiceTicketKind::Complaint, Some(VisitSource::Complaint)),
            (ServiceTicketKind::NeutralReview, None),
        ] {
            let t = open(kind);
            assert_eq!(service_visit(&t, &closed(&t)), want, "{kind:?}");
            assert_eq!(service_visit(&t, &t), None, "still open");
            assert_eq!(service_visit(&closed(&t), &closed(&t)), None, "closed before");
        }
    }

    #[test]
    fn names_round_trip() {
        for o in VisitOutcome::ALL {
            assert_eq!(VisitOutcome::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        for s in [
            VisitSource::AfterSales,
            VisitSource::NegativeReview,
            VisitSource::Complaint,
        ] {
            assert_eq!(VisitSource::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(VisitSource::Complaint.label_zh(), "投诉回访");
    }
}
