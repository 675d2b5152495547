//! Bad reviews and complaints as tickets (SPEC §4.6): a 中评, 差评 or 投诉 is opened with its
//! reason, gets a responsible party once the shop has looked into it (the seeds: "处理投诉纠纷
//! 时首先要明确店铺和客户哪一方是主要过错方"), collects follow-up contacts with the buyer
//! (联系客户修改中、差评), and is closed with an outcome.
//!
//! A ticket closes only when the shop knows who was responsible and has tried to reach the buyer
//! at least once — an outcome nobody followed up is not an outcome. A closed ticket may be
//! reopened (the buyer writes again); its contacts stay, its outcome is cleared.

use crate::ids::{AccountId, CustomerId, OrderId, ServiceTicketId, ShopId};
use crate::money::Fen;
use crate::order::Actor;
use crate::{RuleError, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTicketKind {
    NeutralReview,
    NegativeReview,
    Complaint,
}

impl ServiceTicketKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            ServiceTicketKind::NeutralReview => "中评",
            ServiceTicketKind::NegativeReview => "差评",
            ServiceTicketKind::Complaint => "投诉",
        }
    }

    pub fn is_review(self) -> bool {
        self != ServiceTicketKind::Complaint
    }
}

/// Why the buyer is unhappy, as the shop classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssueReason {
    Quality,
    NotAsDescribed,
    /// Slow or careless delivery: the seeds count 7% of bad reviews from it.
    Logistics,
    Packaging,
    ServiceAttitude,
    /// The price dropped after purchase, or felt too high.
    Price,
    /// The buyer misunderstood the product or used it wrongly.
    Misunderstanding,
    /// 恶意评价 / 职业差评师.
    Malicious,
    Other,
}

impl IssueReason {
    pub fn label_zh(self) -> &'static str {
        match self {
            IssueReason::Quality => "质量问题",
            IssueReason::NotAsDescribed => "与描述不符",
            IssueReason::Logistics => "物流问题",
            IssueReason::Packaging => "包装破损",
            IssueReason::ServiceAttitude => "服务态度",
            IssueReason::Price => "价格问题",
            IssueReason::Misunderstanding => "买家误解",
            IssueReason::Malicious => "恶意评价",
            IssueReason::Other => "其他",
        }
    }
}

/// Who was mainly at fault (主要过错方).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponsibleParty {
    Seller,
    Logistics,
    Buyer,
    Platform,
}

impl ResponsibleParty {
    pub fn label_zh(self) -> &'static str {
        match self {
            ResponsibleParty::Seller => "店铺",
            ResponsibleParty::Logistics => "快递公司",
            ResponsibleParty::Buyer => "买家",
            ResponsibleParty::Platform => "平台",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactChannel {
    /// The shop's chat (旺旺 / 千牛 / the widget).
    Chat,
    Phone,
    Sms,
    Other,
}

impl ContactChannel {
    pub fn label_zh(self) -> &'static str {
        match self {
            ContactChannel::Chat => "在线聊天",
            ContactChannel::Phone => "电话",
            ContactChannel::Sms => "短信",
            ContactChannel::Other => "其他",
        }
    }
}

/// One try to reach the buyer (回访 / 联系客户).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowUp {
    pub at: DateTime<Utc>,
    pub by: AccountId,
    pub channel: ContactChannel,
    /// Whether the buyer was reached (an unanswered call counts as a try).
    pub reached: bool,
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceOutcome {
    /// The buyer changed the review to 好评.
    RevisedToPositive,
    /// The review was removed (by the buyer or the platform on appeal).
    ReviewRemoved,
    /// The review stays; the shop answered it publicly (解释).
    ReviewExplained,
    ComplaintWithdrawn,
    /// The buyer accepted a compensation and the matter rests.
    Compensated,
    Unresolved,
}

impl ServiceOutcome {
    pub fn label_zh(self) -> &'static str {
        match self {
            ServiceOutcome::RevisedToPositive => "已改为好评",
            ServiceOutcome::ReviewRemoved => "评价已删除",
            ServiceOutcome::ReviewExplained => "已回复解释",
            ServiceOutcome::ComplaintWithdrawn => "投诉已撤销",
            ServiceOutcome::Compensated => "已补偿",
            ServiceOutcome::Unresolved => "未解决",
        }
    }

    /// Review outcomes need a review, a withdrawn complaint a complaint.
    pub fn fits(self, kind: ServiceTicketKind) -> bool {
        match self {
            ServiceOutcome::RevisedToPositive | ServiceOutcome::ReviewRemoved | ServiceOutcome::ReviewExplained => {
                kind.is_review()
            }
            ServiceOutcome::ComplaintWithdrawn => !kind.is_review(),
            ServiceOutcome::Compensated | ServiceOutcome::Unresolved => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTicketState {
    Open,
    Closed,
}

impl ServiceTicketState {
    pub fn label_zh(self) -> &'static str {
        match self {
            ServiceTicketState::Open => "处理中",
            ServiceTicketState::Closed => "已结案",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceTicket {
    pub id: ServiceTicketId,
    pub shop_id: ShopId,
    pub customer_id: CustomerId,
    pub order_id: Option<OrderId>,
    pub kind: ServiceTicketKind,
    pub reason: IssueReason,
    /// The review's or complaint's words, as the buyer wrote them.
    pub content: String,
    pub responsible: Option<ResponsibleParty>,
    pub follow_ups: Vec<FollowUp>,
    pub state: ServiceTicketState,
    pub outcome: Option<ServiceOutcome>,
    pub compensation: Option<Fen>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What is done to a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ServiceAction {
    SetResponsible {
        party: ResponsibleParty,
        #[serde(default)]
        note: String,
    },
    Contact {
        channel: ContactChannel,
        reached: bool,
        note: String,
    },
    Close {
        outcome: ServiceOutcome,
        #[serde(default)]
        compensation: Option<Fen>,
        #[serde(default)]
        note: String,
    },
    Reopen {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceChange {
    Opened,
    Responsible {
        before: Option<ResponsibleParty>,
        after: ResponsibleParty,
    },
    Contacted {
        follow_up: FollowUp,
    },
    Closed {
        outcome: ServiceOutcome,
        compensation: Option<Fen>,
    },
    Reopened {
        outcome_before: Option<ServiceOutcome>,
    },
}

/// One line of a ticket's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceRecord {
    pub ticket_id: ServiceTicketId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub change: ServiceChange,
    pub note: Option<String>,
}

pub const MAX_CONTENT_CHARS: usize = 1000;
pub const MAX_NOTE_CHARS: usize = 500;

fn note(field: &str, v: &str, required: bool) -> Result<Option<String>, ValidationError> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(ValidationError::new(field, "请写明情况"));
    }
    if v.chars().count() > MAX_NOTE_CHARS {
        return Err(ValidationError::new(field, format!("最多 {MAX_NOTE_CHARS} 个字")));
    }
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

fn staff_account(actor: &Actor, what: &str) -> Result<AccountId, RuleError> {
    match actor {
        Actor::Staff { account_id, .. } if actor.is_seller() => Ok(*account_id),
        _ => Err(actor.forbidden(what)),
    }
}

impl ServiceTicket {
    /// Opens a ticket for a review or complaint that came in (staff file it; an import of the
    /// platform's reviews files it as the system).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        shop_id: ShopId,
        customer_id: CustomerId,
        order_id: Option<OrderId>,
        kind: ServiceTicketKind,
        reason: IssueReason,
        content: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(ServiceTicket, ServiceRecord), RuleError> {
        actor.must(
            actor.is_seller() || actor == Actor::System,
            &format!("登记{}", kind.label_zh()),
        )?;
        let content = content.trim();
        if content.chars().count() > MAX_CONTENT_CHARS {
            return Err(RuleError::invalid("content", format!("最多 {MAX_CONTENT_CHARS} 个字")));
        }
        if kind.is_review() && order_id.is_none() {
            return Err(RuleError::invalid("order_id", "评价总是对一笔订单的"));
        }
        let t = ServiceTicket {
            id: ServiceTicketId::new(),
            shop_id,
            customer_id,
            order_id,
            kind,
            reason,
            content: content.to_owned(),
            responsible: None,
            follow_ups: vec![],
            state: ServiceTicketState::Open,
            outcome: None,
            compensation: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
        };
        let record = ServiceRecord {
            ticket_id: t.id,
            at: now,
            actor,
            change: ServiceChange::Opened,
            note: None,
        };
        Ok((t, record))
    }

    pub fn apply(
        &self,
        action: &ServiceAction,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(ServiceTicket, ServiceRecord), RuleError> {
        use ServiceTicketState::*;
        let state = self.state;
        let conflict = |rule: &str| Err(RuleError::conflict("工单", state.label_zh(), rule));
        if now < self.updated_at {
            return Err(RuleError::invalid("at", "时间早于工单的上一步"));
        }
        let mut next = self.clone();
        let (change, why) = match action {
            ServiceAction::SetResponsible { party, note: n } => {
                staff_account(&actor, "认定责任方")?;
                if state != Open {
                    return conflict("结案后不能修改责任方，请先重新打开");
                }
                if self.responsible == Some(*party) {
                    return Err(RuleError::invalid("party", "与原来相同，没有修改"));
                }
                next.responsible = Some(*party);
                let change = ServiceChange::Responsible {
                    before: self.responsible,
                    after: *party,
                };
                (change, note("note", n, false)?)
            }
            ServiceAction::Contact {
                channel,
                reached,
                note: n,
            } => {
                let by = staff_account(&actor, "登记回访")?;
                if state != Open {
                    return conflict("结案后不能再登记回访，请先重新打开");
                }
                let follow_up = FollowUp {
                    at: now,
                    by,
                    channel: *channel,
                    reached: *reached,
                    note: note("note", n, true)?.unwrap_or_default(),
                };
                next.follow_ups.push(follow_up.clone());
                (ServiceChange::Contacted { follow_up }, None)
            }
            ServiceAction::Close {
                outcome,
                compensation,
                note: n,
            } => {
                staff_account(&actor, "结案")?;
                if state != Open {
                    return conflict("已经结案");
                }
                if self.responsible.is_none() {
                    return conflict("还没有认定责任方，不能结案");
                }
                if self.follow_ups.is_empty() {
                    return conflict("还没有联系过买家，不能结案");
                }
                if !outcome.fits(self.kind) {
                    return Err(RuleError::invalid(
                        "outcome",
                        format!("{}不能以“{}”结案", self.kind.label_zh(), outcome.label_zh()),
                    ));
                }
                match compensation {
                    Some(c) if *c <= Fen::ZERO => return Err(RuleError::invalid("compensation", "补偿金额须大于 0")),
                    None if *outcome == ServiceOutcome::Compensated => {
                        return Err(RuleError::invalid("compensation", "“已补偿”需要填写补偿金额"));
                    }
                    _ => {}
                }
                let why = note("note", n, *outcome == ServiceOutcome::Unresolved)?;
                next.state = Closed;
                next.outcome = Some(*outcome);
                next.compensation = *compensation;
                next.closed_at = Some(now);
                let change = ServiceChange::Closed {
                    outcome: *outcome,
                    compensation: *compensation,
                };
                (change, why)
            }
            ServiceAction::Reopen { reason } => {
                staff_account(&actor, "重新打开工单")?;
                if state != Closed {
                    return conflict("工单还没有结案");
                }
                next.state = Open;
                next.outcome = None;
                next.compensation = None;
                next.closed_at = None;
                let change = ServiceChange::Reopened {
                    outcome_before: self.outcome,
                };
                (change, note("reason", reason, true)?)
            }
        };
        next.updated_at = now;
        let record = ServiceRecord {
            ticket_id: self.id,
            at: now,
            actor,
            change,
            note: why,
        };
        Ok((next, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{staff, t0};
    use ServiceOutcome::*;
    use ServiceTicketKind::*;
    use chrono::Duration;

    fn at(h: i64) -> DateTime<Utc> {
        t0() + Duration::hours(h)
    }

    fn opened(kind: ServiceTicketKind) -> ServiceTicket {
        ServiceTicket::open(
            ShopId::new(),
            CustomerId::new(),
            Some(OrderId::new()),
            kind,
            IssueReason::Logistics,
            "快递太慢了，一个星期才到",
            Actor::System,
            at(0),
        )
        .unwrap()
        .0
    }

    fn step(t: &ServiceTicket, a: ServiceAction, h: i64) -> Result<ServiceTicket, RuleError> {
        t.apply(&a, staff(), at(h)).map(|(t, _)| t)
    }

    fn contact() -> ServiceAction {
        ServiceAction::Contact {
            channel: ContactChannel::Phone,
            reached: true,
            note: "已致歉，买家同意修改评价".into(),
        }
    }

    fn blame(party: ResponsibleParty) -> ServiceAction {
        ServiceAction::SetResponsible {
            party,
            note: String::new(),
        }
    }

    fn close(outcome: ServiceOutcome, compensation: Option<i64>) -> ServiceAction {
        ServiceAction::Close {
            outcome,
            compensation: compensation.map(Fen),
            note: "买家不再回复".into(),
        }
    }

    fn ready(kind: ServiceTicketKind) -> ServiceTicket {
        let t = step(&opened(kind), blame(ResponsibleParty::Logistics), 1).unwrap();
        step(&t, contact(), 2).unwrap()
    }

    #[test]
    fn a_ticket_closes_after_blame_and_contact() {
        let t = opened(NegativeReview);
        let e = step(&t, close(RevisedToPositive, None), 1).unwrap_err();
        assert_eq!(e.to_string(), "工单处于 处理中，还没有认定责任方，不能结案");
        let blamed = step(&t, blame(ResponsibleParty::Logistics), 1).unwrap();
        let e = step(&blamed, close(RevisedToPositive, None), 2).unwrap_err();
        assert!(e.to_string().contains("还没有联系过买家"), "{e}");
        let contacted = step(&blamed, contact(), 2).unwrap();
        assert_eq!(contacted.follow_ups.len(), 1);
        assert_eq!(contacted.follow_ups[0].channel, ContactChannel::Phone);
        assert_eq!(contacted.follow_ups[0].at, at(2));
        let (done, rec) = contacted
            .apply(&close(RevisedToPositive, None), staff(), at(3))
            .unwrap();
        assert_eq!(
            (done.state, done.outcome, done.closed_at),
            (ServiceTicketState::Closed, Some(RevisedToPositive), Some(at(3)))
        );
        assert_eq!(
            rec.change,
            ServiceChange::Closed {
                outcome: RevisedToPositive,
                compensation: None
            }
        );
        let e = step(&done, contact(), 4).unwrap_err();
        assert_eq!(e.status(), 409);
    }

    #[test]
    fn outcomes_fit_the_kind() {
        let cases = [
            (NeutralReview, RevisedToPositive, None, true),
            (NegativeReview, ReviewRemoved, None, true),
            (NegativeReview, ReviewExplained, None, true),
            (NegativeReview, ComplaintWithdrawn, None, false),
            (Complaint, ComplaintWithdrawn, None, true),
            (Complaint, RevisedToPositive, None, false),
            (Complaint, Compensated, Some(500), true),
            (Complaint, Compensated, None, false),
            (NegativeReview, Compensated, Some(0), false),
            (NegativeReview, RevisedToPositive, Some(300), true),
            (Complaint, Unresolved, None, true),
        ];
        for (kind, outcome, comp, ok) in cases {
            let r = step(&ready(kind), close(outcome, comp), 5);
            assert_eq!(r.is_ok(), ok, "{kind:?} {outcome:?} {comp:?}: {r:?}");
            if let Err(e) = r {
                assert_eq!(e.status(), 422);
            }
        }
        let unexplained = ServiceAction::Close {
            outcome: Unresolved,
            compensation: None,
            note: " ".into(),
        };
        assert_eq!(step(&ready(Complaint), unexplained, 5).unwrap_err().status(), 422);
    }

    #[test]
    fn reopening_clears_the_outcome_and_keeps_the_contacts() {
        let done = step(&ready(Complaint), close(Compensated, Some(1000)), 3).unwrap();
        assert_eq!(done.compensation, Some(Fen(1000)));
        let reopen = ServiceAction::Reopen {
            reason: "买家再次投诉".into(),
        };
        let (again, rec) = done.apply(&reopen, staff(), at(30)).unwrap();
        assert_eq!(
            (again.state, again.outcome, again.compensation),
            (ServiceTicketState::Open, None, None)
        );
        assert_eq!(again.follow_ups.len(), 1);
        assert_eq!(rec.note.as_deref(), Some("买家再次投诉"));
        assert_eq!(
            rec.change,
            ServiceChange::Reopened {
                outcome_before: Some(Compensated)
            }
        );
        assert_eq!(step(&again, reopen, 31).unwrap_err().status(), 409);
    }

    #[test]
    fn only_staff_work_tickets_and_reviews_have_orders() {
        let t = ready(NegativeReview);
        let e = t.apply(&contact(), Actor::Buyer, at(5)).unwrap_err();
        assert_eq!(e.status(), 403);
        let e = ServiceTicket::open(
            ShopId::new(),
            CustomerId::new(),
            None,
            NegativeReview,
            IssueReason::Quality,
            "差",
            staff(),
            at(0),
        )
        .unwrap_err();
        assert_eq!(e.status(), 422);
        ServiceTicket::open(
            ShopId::new(),
            CustomerId::new(),
            None,
            Complaint,
            IssueReason::ServiceAttitude,
            "客服态度差",
            staff(),
            at(0),
        )
        .unwrap();
        let no_note = ServiceAction::Contact {
            channel: ContactChannel::Chat,
            reached: false,
            note: "".into(),
        };
        assert_eq!(step(&t, no_note, 5).unwrap_err().status(), 422);
        assert_eq!(
            step(&t, contact(), -1).unwrap_err().status(),
            422,
            "before the last step"
        );
    }
}
