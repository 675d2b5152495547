//! After-sales tickets (售后, SPEC §4.5): refund only (仅退款), return and refund (退货退款) and
//! exchange (换货), the 7-day no-reason rule, who pays the return parcel, and the steps from
//! the buyer's request to done.
//!
//! ```text
//! 仅退款    requested → agreed → refunded → done
//! 退货退款  requested → agreed → buyer shipped → seller received → refunded → done
//! 换货      requested → agreed → buyer shipped → seller received → exchanged → done
//!           requested → rejected (with a reason); seller received → rejected (the goods came
//!           back used or damaged); requested / agreed → withdrawn (the buyer gives up)
//! ```
//!
//! Rejected and withdrawn tickets stay as they are; the buyer opens a new request. A refund
//! that, with the order's earlier refunds, covers everything paid closes a trade that is
//! 买家已付款 or 卖家已发货 (the refund step says so: `close_trade`), the store then applies
//! `OrderAction::CloseRefunded`. A partial refund leaves the trade open — the rest of the order
//! is still bought — and a refund after 交易成功 never closes it (see `order`).

use crate::catalog::{CloseReason, Order, OrderState};
use crate::ids::{AfterSalesId, OrderId, ShopId};
use crate::money::Fen;
use crate::order::{Actor, OrderDetail, Shipment};
use crate::reminders::ContactHours;
use crate::settings::ShopSettings;
use crate::{RuleError, ValidationError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterSalesKind {
    RefundOnly,
    ReturnRefund,
    Exchange,
}

impl AfterSalesKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            AfterSalesKind::RefundOnly => "仅退款",
            AfterSalesKind::ReturnRefund => "退货退款",
            AfterSalesKind::Exchange => "换货",
        }
    }

    /// Whether the goods travel back to the shop.
    pub fn returns_goods(self) -> bool {
        self != AfterSalesKind::RefundOnly
    }
}

/// 退款原因 as the buyer picks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterSalesReason {
    /// 7天无理由: a return within seven days of receipt, no fault needed.
    NoReason,
    QualityProblem,
    WrongItem,
    MissingItem,
    NotAsDescribed,
    /// For a refund of a parcel that never arrived.
    NotReceived,
    /// 不想要了 / 拍错了: before shipment only.
    Unwanted,
    Other,
}

impl AfterSalesReason {
    pub fn label_zh(self) -> &'static str {
        match self {
            AfterSalesReason::NoReason => "7天无理由",
            AfterSalesReason::QualityProblem => "质量问题",
            AfterSalesReason::WrongItem => "发错货",
            AfterSalesReason::MissingItem => "少件/漏发",
            AfterSalesReason::NotAsDescribed => "与描述不符",
            AfterSalesReason::NotReceived => "未收到货",
            AfterSalesReason::Unwanted => "不想要了/拍错了",
            AfterSalesReason::Other => "其他",
        }
    }

    /// The shop is at fault: it pays the return parcel.
    pub fn seller_at_fault(self) -> bool {
        use AfterSalesReason::*;
        matches!(self, QualityProblem | WrongItem | MissingItem | NotAsDescribed)
    }

    /// Reasons about goods the buyer has in hand, which need the order shipped.
    fn about_goods(self) -> bool {
        self.seller_at_fault() || self == AfterSalesReason::NoReason
    }
}

/// Who pays the parcel that goes back to the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShippingPayer {
    Buyer,
    Seller,
    /// 运费险 pays the buyer back.
    Insurance,
}

impl ShippingPayer {
    pub fn label_zh(self) -> &'static str {
        match self {
            ShippingPayer::Buyer => "买家承担",
            ShippingPayer::Seller => "卖家承担",
            ShippingPayer::Insurance => "运费险承担",
        }
    }
}

/// Who pays the return parcel (SPEC §4.5): the seller when it is at fault (quality, wrong or
/// missing item, not as described); otherwise (no reason, other) the buyer, unless the order
/// has shipping insurance, which pays in the buyer's place. `None` when nothing goes back.
/// An exchange's new parcel is always the seller's.
pub fn return_shipping_payer(kind: AfterSalesKind, reason: AfterSalesReason, insured: bool) -> Option<ShippingPayer> {
    Some(match () {
        _ if !kind.returns_goods() => return None,
        _ if reason.seller_at_fault() => ShippingPayer::Seller,
        _ if insured => ShippingPayer::Insurance,
        _ => ShippingPayer::Buyer,
    })
}

pub const NO_REASON_DAYS: i64 = 7;

/// The end of the 7-day no-reason window: exactly 7×24 hours after receipt (签收 or 确认收货,
/// `order::received_at`), whatever the hour — simple to explain and the same in every time zone.
/// At that instant the window is closed. Goods not yet received have no deadline yet: a buyer may
/// always send back a parcel still on its way.
pub fn no_reason_deadline(received_at: DateTime<Utc>) -> DateTime<Utc> {
    received_at + Duration::days(NO_REASON_DAYS)
}

pub fn within_no_reason_window(received_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    received_at.is_none_or(|r| now < no_reason_deadline(r))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Requested,
    Agreed,
    Rejected,
    BuyerShipped,
    SellerReceived,
    Refunded,
    Exchanged,
    Done,
    Withdrawn,
}

impl TicketState {
    pub fn label_zh(self) -> &'static str {
        match self {
            TicketState::Requested => "待商家处理",
            TicketState::Agreed => "商家已同意",
            TicketState::Rejected => "商家已拒绝",
            TicketState::BuyerShipped => "买家已退货",
            TicketState::SellerReceived => "商家已收货",
            TicketState::Refunded => "已退款",
            TicketState::Exchanged => "已换货发出",
            TicketState::Done => "售后完成",
            TicketState::Withdrawn => "买家已撤销",
        }
    }

    /// Whether the ticket still needs someone: the order has an after-sales case going on.
    pub fn is_open(self) -> bool {
        !matches!(self, TicketState::Done | TicketState::Rejected | TicketState::Withdrawn)
    }
}

/// What the buyer (or an agent for them) asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketRequest {
    pub kind: AfterSalesKind,
    pub reason: AfterSalesReason,
    /// The refund asked for; zero for an exchange.
    #[serde(default)]
    pub amount: Fen,
    #[serde(default)]
    pub description: String,
}

pub const MAX_DESCRIPTION_CHARS: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AfterSalesTicket {
    pub id: AfterSalesId,
    pub shop_id: ShopId,
    pub order_id: OrderId,
    pub kind: AfterSalesKind,
    pub reason: AfterSalesReason,
    pub description: String,
    /// The refund, fixed at the request (zero for an exchange).
    pub amount: Fen,
    /// Who pays the parcel back; `None` for a refund only.
    pub return_shipping: Option<ShippingPayer>,
    pub state: TicketState,
    pub reject_reason: Option<String>,
    /// The buyer's parcel back to the shop.
    pub return_parcel: Option<Shipment>,
    /// An exchange's new parcel to the buyer.
    pub replacement_parcel: Option<Shipment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a ticket step asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TicketAction {
    Agree,
    Reject {
        reason: String,
    },
    Withdraw,
    /// The buyer's parcel back (退货物流).
    ShipBack {
        carrier: String,
        tracking_no: String,
    },
    Receive,
    Refund,
    /// An exchange's new parcel.
    ShipReplacement {
        carrier: String,
        tracking_no: String,
    },
    Finish,
}

/// The money a refund step moves, and whether the trade must now close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundOutcome {
    pub amount: Fen,
    /// `Some(Refunded)` when this refund completes a full refund of a trade not yet 交易成功.
    pub close_trade: Option<CloseReason>,
}

/// One recorded step of a ticket (its history as the back office shows it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketStep {
    pub ticket_id: AfterSalesId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// `None` for the request that opens the ticket.
    pub from: Option<TicketState>,
    pub to: TicketState,
    pub note: Option<String>,
    pub parcel: Option<Shipment>,
    pub refund: Option<RefundOutcome>,
}

const SUBJECT: &str = "售后单";

/// What may still be refunded on an order after earlier refunds.
fn refundable(order: &Order, refunded_before: Fen) -> Fen {
    Fen((order.total().unwrap_or(Fen::ZERO).0 - refunded_before.0).max(0))
}

impl AfterSalesTicket {
    /// Opens a ticket for `order`. `received_at` is when the parcel was signed for
    /// (`order::received_at`); a confirmation of receipt before it counts instead, so a caller
    /// without tracking still gets the window right. `refunded_before` is what earlier tickets
    /// of the order refunded. Whether another ticket of the order is still open is the store's
    /// to check (one open case per order).
    pub fn request(
        req: &TicketRequest,
        order: &OrderDetail,
        actor: Actor,
        received_at: Option<DateTime<Utc>>,
        refunded_before: Fen,
        now: DateTime<Utc>,
    ) -> Result<(AfterSalesTicket, TicketStep), RuleError> {
        use AfterSalesKind::*;
        use AfterSalesReason::*;
        use OrderState::*;
        actor.must(actor == Actor::Buyer || actor.is_seller(), "申请售后")?;
        let o = &order.order;
        let conflict = |rule: &str| Err(RuleError::conflict("订单", o.state.label_zh(), rule));
        let shipped = match o.state {
            AwaitingPayment => return conflict("还没有付款，不能申请售后，请取消订单"),
            Closed => return conflict("交易已关闭，不能申请售后"),
            Paid => false,
            Shipped | Completed => true,
        };
        if req.kind.returns_goods() && !shipped {
            return conflict("还没有发货，只能申请仅退款");
        }
        let bad_reason = |m: &str| Err(RuleError::invalid("reason", m));
        match req.reason {
            r if r.about_goods() && !shipped => return bad_reason("还没有发货，请选择“不想要了/拍错了”或“其他”"),
            Unwanted if shipped => return bad_reason("已经发货，不想要了请申请退货退款（7天无理由）"),
            NotReceived if req.kind != RefundOnly || o.state != Shipped => {
                return bad_reason("“未收到货”只用于已发货、未确认收货订单的仅退款");
            }
            NoReason if req.kind == RefundOnly => return bad_reason("7天无理由需要退回商品，请申请退货退款或换货"),
            NoReason if !within_no_reason_window(received_at.into_iter().chain(o.completed_at).min(), now) => {
                return bad_reason("签收已超过 7 天，不能再以7天无理由退换货");
            }
            _ => {}
        }
        let left = refundable(o, refunded_before);
        match req.kind {
            Exchange if req.amount != Fen::ZERO => {
                return Err(RuleError::invalid("amount", "换货不退款，金额须为 0"));
            }
            Exchange => {}
            _ if left == Fen::ZERO => return conflict("已经全额退款"),
            _ if req.amount <= Fen::ZERO || req.amount > left => {
                return Err(RuleError::invalid(
                    "amount",
                    format!(
                        "退款金额须在 ¥0.01 与 {left} 之间（实付 {} 减去已退款）",
                        o.total().unwrap_or_default()
                    ),
                ));
            }
            _ => {}
        }
        let description = req.description.trim();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ValidationError::new("description", format!("说明最多 {MAX_DESCRIPTION_CHARS} 个字")).into());
        }
        let ticket = AfterSalesTicket {
            id: AfterSalesId::new(),
            shop_id: o.shop_id,
            order_id: o.id,
            kind: req.kind,
            reason: req.reason,
            description: description.to_owned(),
            amount: req.amount,
            return_shipping: return_shipping_payer(req.kind, req.reason, order.shipping_insurance),
            state: TicketState::Requested,
            reject_reason: None,
            return_parcel: None,
            replacement_parcel: None,
            created_at: now,
            updated_at: now,
        };
        let step = TicketStep {
            ticket_id: ticket.id,
            at: now,
            actor,
            from: None,
            to: TicketState::Requested,
            note: (!ticket.description.is_empty()).then(|| ticket.description.clone()),
            parcel: None,
            refund: None,
        };
        Ok((ticket, step))
    }

    /// Takes one step. `order` is the ticket's order as it is now and `refunded_before` what
    /// other tickets of it refunded: both matter only to the refund step.
    pub fn apply(
        &self,
        action: &TicketAction,
        actor: Actor,
        order: &Order,
        refunded_before: Fen,
        now: DateTime<Utc>,
    ) -> Result<(AfterSalesTicket, TicketStep), RuleError> {
        use AfterSalesKind::*;
        use TicketState::*;
        let (kind, state) = (self.kind, self.state);
        let conflict = |rule: String| Err(RuleError::conflict(SUBJECT, state.label_zh(), rule));
        let seller = actor.is_seller();
        let mut next = self.clone();
        let (mut note, mut parcel, mut refund) = (None, None, None);
        let to = match action {
            TicketAction::Agree => {
                actor.must(seller || actor == Actor::System, "同意售后申请")?;
                if state != Requested {
                    return conflict("只有待商家处理的申请可以同意".into());
                }
                Agreed
            }
            TicketAction::Reject { reason } => {
                actor.must(seller, "拒绝售后申请")?;
                if !(state == Requested || (state == SellerReceived && kind.returns_goods())) {
                    return conflict("只有待处理的申请或已收到的退货可以拒绝".into());
                }
                let r = crate::order::reason(reason)?;
                next.reject_reason = Some(r.clone());
                note = Some(r);
                Rejected
            }
            TicketAction::Withdraw => {
                actor.must(actor == Actor::Buyer, "代替买家撤销申请")?;
                if !matches!(state, Requested | Agreed) {
                    return conflict("退货寄出或退款后不能撤销申请".into());
                }
                Withdrawn
            }
            TicketAction::ShipBack { carrier, tracking_no } => {
                actor.must(actor == Actor::Buyer || seller, "填写退货物流")?;
                if !kind.returns_goods() {
                    return conflict(format!("{}不需要退回商品", kind.label_zh()));
                }
                if state != Agreed {
                    return conflict("商家同意后才能寄回商品".into());
                }
                let s = Shipment::new(carrier, tracking_no, now)?;
                next.return_parcel = Some(s.clone());
                parcel = Some(s);
                BuyerShipped
            }
            TicketAction::Receive => {
                actor.must(seller, "确认收到退货")?;
                if state != BuyerShipped {
                    return conflict("买家寄回后才能确认收货".into());
                }
                SellerReceived
            }
            TicketAction::Refund => {
                actor.must(seller || actor == Actor::System, "退款")?;
                let ready = match kind {
                    RefundOnly => Agreed,
                    ReturnRefund => SellerReceived,
                    Exchange => return conflict("换货不退款".into()),
                };
                if state != ready {
                    return conflict(format!("{}要在“{}”后退款", kind.label_zh(), ready.label_zh()));
                }
                let left = refundable(order, refunded_before);
                if self.amount > left {
                    return conflict(format!("订单只剩 {left} 可退，少于申请的 {}", self.amount));
                }
                let covers = refunded_before.0 + self.amount.0 >= order.total().unwrap_or_default().0;
                refund = Some(RefundOutcome {
                    amount: self.amount,
                    close_trade: (covers && matches!(order.state, OrderState::Paid | OrderState::Shipped))
                        .then_some(CloseReason::Refunded),
                });
                Refunded
            }
            TicketAction::ShipReplacement { carrier, tracking_no } => {
                actor.must(seller, "寄出换货")?;
                if kind != Exchange {
                    return conflict(format!("{}没有换货包裹", kind.label_zh()));
                }
                if state != SellerReceived {
                    return conflict("收到退回的商品后才能寄出换货".into());
                }
                let s = Shipment::new(carrier, tracking_no, now)?;
                next.replacement_parcel = Some(s.clone());
                parcel = Some(s);
                Exchanged
            }
            TicketAction::Finish => {
                // The buyer confirms the new parcel; staff or the system close either ending.
                let buyer_may = actor == Actor::Buyer && state == Exchanged;
                actor.must(seller || actor == Actor::System || buyer_may, "完结售后")?;
                if !matches!(state, Refunded | Exchanged) {
                    return conflict("退款或换货寄出后才能完结".into());
                }
                Done
            }
        };
        if now < self.updated_at {
            return Err(RuleError::invalid("at", "时间早于售后单的上一步"));
        }
        next.state = to;
        next.updated_at = now;
        let step = TicketStep {
            ticket_id: self.id,
            at: now,
            actor,
            from: Some(state),
            to,
            note,
            parcel,
            refund,
        };
        Ok((next, step))
    }
}

/// 客户回访 (SPEC §4.6): a finished after-sales case becomes a follow-up visit for an agent this
/// many days later — time for the buyer to have used the refund or the new goods.
pub const FOLLOW_UP_AFTER_DAYS: i64 = 3;

/// When the follow-up visit of a ticket that `step` finished is due: [`FOLLOW_UP_AFTER_DAYS`]
/// after, moved to the shop's next contact hour (never at night). `None` for other steps.
pub fn follow_up_visit_due(step: &TicketStep, settings: &ShopSettings) -> Option<DateTime<Utc>> {
    if step.to != TicketState::Done {
        return None;
    }
    ContactHours::of(settings).next_open(step.at + Duration::days(FOLLOW_UP_AFTER_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{completed, paid, shipped, staff, t0};
    use AfterSalesKind::*;
    use AfterSalesReason::*;

    fn d(days: i64) -> DateTime<Utc> {
        t0() + Duration::days(days)
    }

    fn req(kind: AfterSalesKind, reason: AfterSalesReason, amount: i64) -> TicketRequest {
        TicketRequest {
            kind,
            reason,
            amount: Fen(amount),
            description: "宝贝有线头".into(),
        }
    }

    fn open(o: &OrderDetail, r: TicketRequest) -> AfterSalesTicket {
        AfterSalesTicket::request(&r, o, Actor::Buyer, None, Fen::ZERO, d(1))
            .unwrap()
            .0
    }

    #[test]
    fn who_pays_the_way_back() {
        use ShippingPayer::*;
        let cases = [
            (ReturnRefund, NoReason, false, Some(Buyer)),
            (ReturnRefund, NoReason, true, Some(Insurance)),
            (Exchange, NoReason, false, Some(Buyer)),
            (ReturnRefund, QualityProblem, false, Some(Seller)),
            (ReturnRefund, QualityProblem, true, Some(Seller)),
            (Exchange, WrongItem, true, Some(Seller)),
            (ReturnRefund, MissingItem, false, Some(Seller)),
            (ReturnRefund, NotAsDescribed, false, Some(Seller)),
            (ReturnRefund, Other, false, Some(Buyer)),
            (ReturnRefund, Other, true, Some(Insurance)),
            (RefundOnly, QualityProblem, false, None),
            (RefundOnly, NoReason, true, None),
        ];
        for (kind, reason, insured, want) in cases {
            assert_eq!(
                return_shipping_payer(kind, reason, insured),
                want,
                "{kind:?} {reason:?} {insured}"
            );
        }
        let mut o = shipped();
        o.shipping_insurance = true;
        assert_eq!(
            open(&o, req(ReturnRefund, NoReason, 100)).return_shipping,
            Some(ShippingPayer::Insurance)
        );
    }

    #[test]
    fn the_no_reason_window_is_seven_times_24_hours_after_receipt() {
        let received = t0() + Duration::hours(5) + Duration::minutes(17);
        let deadline = received + Duration::hours(7 * 24);
        assert_eq!(no_reason_deadline(received), deadline);
        let o = shipped();
        for (at, ok) in [
            (received, true),
            (deadline - Duration::seconds(1), true),
            (deadline, false),
            (deadline + Duration::days(3), false),
        ] {
            assert_eq!(within_no_reason_window(Some(received), at), ok, "{at}");
            let r = AfterSalesTicket::request(
                &req(ReturnRefund, NoReason, 100),
                &o,
                Actor::Buyer,
                Some(received),
                Fen::ZERO,
                at,
            );
            match r {
                Ok(_) => assert!(ok, "{at}"),
                Err(e) => {
                    assert!(!ok, "{at}: {e}");
                    assert!(matches!(&e, RuleError::Invalid(v) if v.field == "reason"), "{e}");
                }
            }
        }
        assert!(
            within_no_reason_window(None, d(365)),
            "not received yet: no clock running"
        );
        // Without tracking, the confirmation of receipt starts the window.
        let c = completed();
        let confirmed = c.order.completed_at.unwrap();
        let no_reason = req(ReturnRefund, NoReason, 100);
        let at = |t| AfterSalesTicket::request(&no_reason, &c, Actor::Buyer, None, Fen::ZERO, t);
        assert!(at(no_reason_deadline(confirmed) - Duration::seconds(1)).is_ok());
        assert_eq!(at(no_reason_deadline(confirmed)).unwrap_err().status(), 422);
        // A quality problem is no 7-day return: it stays possible after the window.
        AfterSalesTicket::request(
            &req(ReturnRefund, QualityProblem, 100),
            &o,
            Actor::Buyer,
            Some(received),
            Fen::ZERO,
            deadline,
        )
        .unwrap();
    }

    #[test]
    fn requests_fit_the_order_and_the_reason() {
        // (order, kind, reason, amount) → Ok or the error's status and field/word
        type Case = (
            OrderDetail,
            AfterSalesKind,
            AfterSalesReason,
            i64,
            Result<(), (u16, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (paid(), RefundOnly, Unwanted, 14300, Ok(())),
            (paid(), RefundOnly, Other, 100, Ok(())),
            (paid(), ReturnRefund, QualityProblem, 100, Err((409, "只能申请仅退款"))),
            (paid(), RefundOnly, QualityProblem, 100, Err((422, "reason"))),
            (shipped(), RefundOnly, Unwanted, 100, Err((422, "reason"))),
            (shipped(), RefundOnly, NotReceived, 14300, Ok(())),
            (completed(), RefundOnly, NotReceived, 100, Err((422, "reason"))),
            (shipped(), ReturnRefund, NotReceived, 100, Err((422, "reason"))),
            (shipped(), RefundOnly, NoReason, 100, Err((422, "reason"))),
            (shipped(), RefundOnly, MissingItem, 1500, Ok(())),
            (completed(), Exchange, WrongItem, 0, Ok(())),
            (completed(), Exchange, WrongItem, 100, Err((422, "amount"))),
            (completed(), ReturnRefund, QualityProblem, 14300, Ok(())),
            (completed(), ReturnRefund, QualityProblem, 14301, Err((422, "amount"))),
            (completed(), ReturnRefund, QualityProblem, 0, Err((422, "amount"))),
            (
                crate::order::tests::unpaid(),
                RefundOnly,
                Other,
                100,
                Err((409, "请取消订单")),
            ),
        ];
        for (o, kind, reason, amount, want) in cases {
            let r = AfterSalesTicket::request(&req(kind, reason, amount), &o, Actor::Buyer, None, Fen::ZERO, d(1));
            let what = format!("{:?} {kind:?} {reason:?} {amount}", o.order.state);
            match (r, want) {
                (Ok((t, step)), Ok(())) => {
                    assert_eq!(
                        (t.state, step.from, step.to),
                        (TicketState::Requested, None, TicketState::Requested)
                    );
                    assert_eq!(t.amount, Fen(amount));
                }
                (Err(e), Err((status, word))) => {
                    assert_eq!(e.status(), status, "{what}: {e}");
                    let field = match &e {
                        RuleError::Invalid(v) => v.field.as_str(),
                        _ => "",
                    };
                    assert!(field == word || e.to_string().contains(word), "{what}: {e}");
                }
                (got, want) => panic!("{what}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn earlier_refunds_limit_what_is_left() {
        let o = shipped();
        let r = req(RefundOnly, MissingItem, 1500);
        AfterSalesTicket::request(&r, &o, Actor::Buyer, None, Fen(12800), d(1)).unwrap();
        let too_much = AfterSalesTicket::request(&r, &o, Actor::Buyer, None, Fen(12801), d(1)).unwrap_err();
        assert_eq!(too_much.status(), 422, "{too_much}");
        let none_left = AfterSalesTicket::request(&r, &o, Actor::Buyer, None, Fen(14300), d(1)).unwrap_err();
        assert_eq!(none_left.status(), 409, "{none_left}");
        let by_system = AfterSalesTicket::request(&r, &o, Actor::System, None, Fen::ZERO, d(1)).unwrap_err();
        assert_eq!(by_system.status(), 403);
    }

    /// Runs the steps, each by its usual actor, returning the ticket and the steps' records.
    fn walk(
        t: &AfterSalesTicket,
        order: &Order,
        steps: &[TicketAction],
    ) -> Result<(AfterSalesTicket, Vec<TicketStep>), RuleError> {
        let mut t = t.clone();
        let mut log = vec![];
        for (i, a) in steps.iter().enumerate() {
            let by = match a {
                TicketAction::Withdraw | TicketAction::ShipBack { .. } => Actor::Buyer,
                _ => staff(),
            };
            let (next, step) = t.apply(a, by, order, Fen::ZERO, d(2 + i as i64))?;
            t = next;
            log.push(step);
        }
        Ok((t, log))
    }

    fn back() -> TicketAction {
        TicketAction::ShipBack {
            carrier: "韵达快递".into(),
            tracking_no: "4312345678901".into(),
        }
    }

    fn anew() -> TicketAction {
        TicketAction::ShipReplacement {
            carrier: "顺丰速运".into(),
            tracking_no: "SF9876543210".into(),
        }
    }

    #[test]
    fn each_kind_walks_its_own_path() {
        use TicketAction::*;
        let o = shipped();
        let full = [
            (RefundOnly, NotReceived, vec![Agree, Refund, Finish]),
            (
                ReturnRefund,
                QualityProblem,
                vec![Agree, back(), Receive, Refund, Finish],
            ),
            (Exchange, WrongItem, vec![Agree, back(), Receive, anew(), Finish]),
        ];
        for (kind, reason, steps) in full {
            let amount = if kind == Exchange { 0 } else { 14300 };
            let t = open(&o, req(kind, reason, amount));
            let (end, log) = walk(&t, &o.order, &steps).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(end.state, TicketState::Done);
            assert!(!end.state.is_open());
            assert!(
                log.windows(2).all(|w| w[0].to == w[1].from.unwrap()),
                "{kind:?}: steps chain"
            );
            if kind.returns_goods() {
                assert_eq!(end.return_parcel.as_ref().unwrap().tracking_no, "4312345678901");
            }
            assert_eq!(end.replacement_parcel.is_some(), kind == Exchange);
        }
        // Steps out of their kind's path are conflicts naming the ticket's state.
        let wrong = [
            (RefundOnly, NotReceived, vec![Agree, back()]),
            (RefundOnly, NotReceived, vec![Refund]),
            (ReturnRefund, QualityProblem, vec![Agree, Refund]),
            (ReturnRefund, QualityProblem, vec![Agree, back(), Receive, anew()]),
            (Exchange, WrongItem, vec![Agree, back(), Receive, Refund]),
            (Exchange, WrongItem, vec![Receive]),
            (ReturnRefund, QualityProblem, vec![Agree, Agree]),
            (ReturnRefund, QualityProblem, vec![Agree, back(), Withdraw]),
            (
                RefundOnly,
                NotReceived,
                vec![Agree, Refund, Reject { reason: "x".into() }],
            ),
            (RefundOnly, NotReceived, vec![Finish]),
        ];
        for (kind, reason, steps) in wrong {
            let amount = if kind == Exchange { 0 } else { 100 };
            let e = walk(&open(&o, req(kind, reason, amount)), &o.order, &steps).unwrap_err();
            assert_eq!(e.status(), 409, "{kind:?} {steps:?}: {e}");
            assert!(e.to_string().starts_with("售后单处于 "), "{e}");
        }
    }

    #[test]
    fn rejecting_needs_a_reason_and_withdrawing_is_the_buyers() {
        let o = shipped();
        let t = open(&o, req(ReturnRefund, QualityProblem, 100));
        let e = t
            .apply(
                &TicketAction::Reject { reason: " ".into() },
                staff(),
                &o.order,
                Fen::ZERO,
                d(2),
            )
            .unwrap_err();
        assert_eq!(e.status(), 422);
        let (r, step) = t
            .apply(
                &TicketAction::Reject {
                    reason: "商品已影响二次销售".into(),
                },
                staff(),
                &o.order,
                Fen::ZERO,
                d(2),
            )
            .unwrap();
        assert_eq!(
            (r.state, r.reject_reason.as_deref()),
            (TicketState::Rejected, Some("商品已影响二次销售"))
        );
        assert_eq!(step.note.as_deref(), Some("商品已影响二次销售"));
        let (received, _) = walk(&t, &o.order, &[TicketAction::Agree, back(), TicketAction::Receive]).unwrap();
        let after_return = received.apply(
            &TicketAction::Reject {
                reason: "退回的商品已使用".into(),
            },
            staff(),
            &o.order,
            Fen::ZERO,
            d(9),
        );
        assert_eq!(after_return.unwrap().0.state, TicketState::Rejected);
        assert_eq!(
            t.apply(&TicketAction::Withdraw, staff(), &o.order, Fen::ZERO, d(2))
                .unwrap_err()
                .status(),
            403
        );
        let (w, _) = t
            .apply(&TicketAction::Withdraw, Actor::Buyer, &o.order, Fen::ZERO, d(2))
            .unwrap();
        assert_eq!(w.state, TicketState::Withdrawn);
        assert_eq!(
            t.apply(&TicketAction::Agree, Actor::Buyer, &o.order, Fen::ZERO, d(2))
                .unwrap_err()
                .status(),
            403
        );
    }

    fn refund(order: &OrderDetail, amount: i64, before: i64) -> Result<RefundOutcome, RuleError> {
        let t = open(order, req(RefundOnly, Other, amount));
        let (agreed, _) = t.apply(&TicketAction::Agree, staff(), &order.order, Fen::ZERO, d(2))?;
        let (done, step) = agreed.apply(&TicketAction::Refund, Actor::System, &order.order, Fen(before), d(3))?;
        assert_eq!(done.state, TicketState::Refunded);
        Ok(step.refund.unwrap())
    }

    #[test]
    fn a_refund_covering_the_order_closes_the_trade() {
        let close = Some(CloseReason::Refunded);
        assert_eq!(refund(&paid(), 14300, 0).unwrap().close_trade, close);
        assert_eq!(refund(&shipped(), 14300, 0).unwrap().close_trade, close);
        assert_eq!(
            refund(&shipped(), 1500, 12800).unwrap().close_trade,
            close,
            "the last part"
        );
        assert_eq!(refund(&shipped(), 1500, 0).unwrap().close_trade, None, "partial");
        assert_eq!(
            refund(&completed(), 14300, 0).unwrap(),
            RefundOutcome {
                amount: Fen(14300),
                close_trade: None
            },
            "交易成功 stays"
        );
        // Another ticket refunded in between: this one cannot pay out more than is left.
        let e = refund(&shipped(), 1500, 13000).unwrap_err();
        assert_eq!(e.status(), 409, "{e}");
        // The close it asks for is one the order accepts.
        let o = shipped();
        let closed = o
            .apply(
                &crate::order::OrderAction::CloseRefunded,
                Actor::System,
                &ShopSettings::default(),
                d(3),
            )
            .unwrap();
        assert_eq!(closed.order.order.close_reason, close);
    }

    #[test]
    fn finished_cases_get_a_visit_in_contact_hours() {
        use chrono::TimeZone as _;
        let o = shipped();
        let t = open(&o, req(RefundOnly, NotReceived, 14300));
        let (agreed, _) = t
            .apply(&TicketAction::Agree, staff(), &o.order, Fen::ZERO, d(2))
            .unwrap();
        let (refunded, step) = agreed
            .apply(&TicketAction::Refund, staff(), &o.order, Fen::ZERO, d(2))
            .unwrap();
        let s = ShopSettings::default();
        assert_eq!(follow_up_visit_due(&step, &s), None, "not done yet");
        let late = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap(); // Wednesday 22:00 in Shanghai
        let (_, done) = refunded
            .apply(&TicketAction::Finish, staff(), &o.order, Fen::ZERO, late)
            .unwrap();
        // Saturday 22:00 is night; Sunday is a holiday, its window opens at 10:00.
        let sunday_ten = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
        assert_eq!(follow_up_visit_due(&done, &s), Some(sunday_ten));
    }

    #[test]
    fn labels_and_json() {
        assert_eq!(NoReason.label_zh(), "7天无理由");
        assert_eq!(ReturnRefund.label_zh(), "退货退款");
        assert_eq!(serde_json::to_value(ReturnRefund).unwrap(), "return_refund");
        let a: TicketAction = serde_json::from_str(r#"{"action":"reject","reason":"已过售后期"}"#).unwrap();
        assert_eq!(
            a,
            TicketAction::Reject {
                reason: "已过售后期".into()
            }
        );
        let r: TicketRequest = serde_json::from_str(r#"{"kind":"exchange","reason":"wrong_item"}"#).unwrap();
        assert_eq!((r.amount, r.description.as_str()), (Fen::ZERO, ""));
    }
}
