//! The order state machine (SPEC §4.1, §4.3, §4.4): what may happen to an order, in which
//! state, by whom, and what record each change leaves.
//!
//! ```text
//! 等待买家付款 ──pay──▶ 买家已付款 ──ship──▶ 卖家已发货 ──confirm receipt──▶ 交易成功
//!      │                     │                     │
//!      ├─cancel (buyer/seller)└──── refund ─────────┴──▶ 交易关闭
//!      └─payment timeout ─────────────────────────────▶ 交易关闭
//! ```
//!
//! [`OrderDetail::apply`] is pure: it takes the order as stored, the action, who asks, the shop's
//! settings and the time, and returns the changed order with an [`OrderRecord`] for the audit
//! log, or a [`RuleError`]: `Conflict` when the order's state forbids it (the API answers 409,
//! "订单处于 卖家已发货，发货后不能修改收货地址"), `Forbidden` when the caller may not (403),
//! `Invalid` for a bad value (422: tracking number, empty reason). Checks run in that order,
//! so a buyer trying to ship learns it is not theirs to do before anything about the parcel.
//!
//! Refunds after 交易成功 (售后) do not reopen or close the trade: the platform keeps such an
//! order 交易成功, and [`Order::check_consistent`] forbids a completed time on a closed order.

use crate::account::Role;
use crate::catalog::{CloseReason, Order, OrderState};
use crate::ids::{AccountId, OrderId};
use crate::money::Fen;
use crate::settings::{ShopMode, ShopSettings};
use crate::{RuleError, ValidationError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Who takes an action on an order or an after-sales ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// 买家, from the widget or a channel's API.
    Buyer,
    /// A staff account; 主管 (supervisors) read but never write (SPEC §0).
    Staff { account_id: AccountId, role: Role },
    /// kefu or the platform itself: the payment-timeout scheduler, a payment notification,
    /// an automatic confirmation of receipt.
    System,
}

impl Actor {
    pub fn label_zh(&self) -> &'static str {
        match self {
            Actor::Buyer => "买家",
            Actor::Staff { .. } => "客服",
            Actor::System => "系统",
        }
    }

    /// Staff who may change orders and tickets: everyone but supervisors.
    pub fn is_seller(&self) -> bool {
        matches!(self, Actor::Staff { role, .. } if *role != Role::Supervisor)
    }

    /// Refuses unless `allowed` says this actor may do `what`.
    pub(crate) fn must(&self, allowed: bool, what: &str) -> Result<(), RuleError> {
        if allowed { Ok(()) } else { Err(self.forbidden(what)) }
    }

    /// `买家不能发货`, `主管只能查看，不能修改价格`.
    pub(crate) fn forbidden(&self, what: &str) -> RuleError {
        RuleError::Forbidden(match self {
            Actor::Staff {
                role: Role::Supervisor, ..
            } => format!("主管只能查看，不能{what}"),
            other => format!("{}不能{what}", other.label_zh()),
        })
    }
}

/// 插旗: the colored flags of the seller back office, for the shop's own triage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderFlag {
    Red,
    Yellow,
    Green,
    Blue,
    Purple,
    Grey,
}

impl OrderFlag {
    pub const ALL: [OrderFlag; 6] = [
        OrderFlag::Red,
        OrderFlag::Yellow,
        OrderFlag::Green,
        OrderFlag::Blue,
        OrderFlag::Purple,
        OrderFlag::Grey,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            OrderFlag::Red => "红旗",
            OrderFlag::Yellow => "黄旗",
            OrderFlag::Green => "绿旗",
            OrderFlag::Blue => "蓝旗",
            OrderFlag::Purple => "紫旗",
            OrderFlag::Grey => "灰旗",
        }
    }
}

pub const MAX_CARRIER_CHARS: usize = 20;
pub const MIN_TRACKING_CHARS: usize = 6;
pub const MAX_TRACKING_CHARS: usize = 32;
pub const MIN_ADDRESS_CHARS: usize = 5;
pub const MAX_ADDRESS_CHARS: usize = 200;
/// 卖家备注 holds up to 500 characters in the back office.
pub const MAX_MEMO_CHARS: usize = 500;
pub const MAX_REASON_CHARS: usize = 200;

/// A parcel handed to a carrier (发货): 快递公司 and 运单号.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipment {
    /// 快递公司 as staff pick it, e.g. 顺丰速运, 中通快递.
    pub carrier: String,
    /// 运单号: ASCII letters (kept upper case), digits and inner hyphens.
    pub tracking_no: String,
    pub shipped_at: DateTime<Utc>,
}

impl Shipment {
    /// Checks and tidies what staff typed: spaces trimmed, a tracking number's letters upper-cased
    /// (carriers read `sf123…` and `SF123…` as one number, the search must too).
    pub fn new(carrier: &str, tracking_no: &str, shipped_at: DateTime<Utc>) -> Result<Shipment, ValidationError> {
        let carrier = carrier.trim();
        if carrier.is_empty() || carrier.chars().count() > MAX_CARRIER_CHARS || carrier.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "carrier",
                format!("请填写快递公司（1–{MAX_CARRIER_CHARS} 个字）"),
            ));
        }
        let no = tracking_no.trim().to_ascii_uppercase();
        let ok = (MIN_TRACKING_CHARS..=MAX_TRACKING_CHARS).contains(&no.len())
            && no.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && no.bytes().any(|b| b.is_ascii_digit())
            && !no.starts_with('-')
            && !no.ends_with('-');
        if !ok {
            return Err(ValidationError::new(
                "tracking_no",
                format!(
                    "“{}” 不是运单号：{MIN_TRACKING_CHARS}–{MAX_TRACKING_CHARS} 位字母和数字，至少含一位数字",
                    tracking_no.trim()
                ),
            ));
        }
        Ok(Shipment {
            carrier: carrier.to_owned(),
            tracking_no: no,
            shipped_at,
        })
    }
}

/// An order as the shop manages it: the platform's order plus what the seller adds — memo,
/// flag, the parcel — and whether the buyer bought shipping insurance (运费险), which decides
/// who pays a no-reason return (see `aftersales`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: Order,
    /// 卖家备注: only staff see it.
    #[serde(default)]
    pub seller_memo: String,
    #[serde(default)]
    pub flag: Option<OrderFlag>,
    #[serde(default)]
    pub shipment: Option<Shipment>,
    /// 运费险
    #[serde(default)]
    pub shipping_insurance: bool,
}

impl OrderDetail {
    pub fn new(order: Order) -> OrderDetail {
        OrderDetail {
            order,
            seller_memo: String::new(),
            flag: None,
            shipment: None,
            shipping_insurance: false,
        }
    }
}

/// One line's unit price, named by its 商家编码. Every line with that SKU gets the price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemPrice {
    pub sku: String,
    pub unit_price: Fen,
}

/// An order's prices before or after a change, in fen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PriceSnapshot {
    pub items: Vec<ItemPrice>,
    pub shipping_fee: Fen,
    pub total: Fen,
}

impl PriceSnapshot {
    fn of(o: &Order) -> PriceSnapshot {
        PriceSnapshot {
            items: o
                .items
                .iter()
                .map(|i| ItemPrice {
                    sku: i.sku.clone(),
                    unit_price: i.unit_price,
                })
                .collect(),
            shipping_fee: o.shipping_fee,
            total: o.total().unwrap_or(Fen::ZERO),
        }
    }
}

/// What is asked of an order. Who asks comes with it ([`Actor`]): a cancel by the buyer closes
/// as `buyer_cancelled`, by staff as `seller_cancelled`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OrderAction {
    /// Payment arrived (the buyer, or the platform's notification).
    Pay,
    Ship {
        carrier: String,
        tracking_no: String,
    },
    /// 确认收货, by the buyer or automatically.
    ConfirmReceipt,
    /// Before payment only. Staff must say why; a buyer's reason may be empty.
    Cancel {
        #[serde(default)]
        reason: String,
    },
    /// The scheduler closes an order left unpaid past the timeout ([`payment_overdue`]).
    CloseUnpaid,
    /// An agreed refund covering the order (after-sales reports when, `aftersales`).
    CloseRefunded,
    /// 修改价格: new shipping fee and/or unit prices; the reason is required.
    ChangePrice {
        #[serde(default)]
        shipping_fee: Option<Fen>,
        #[serde(default)]
        items: Vec<ItemPrice>,
        reason: String,
    },
    ChangeAddress {
        address: String,
    },
    /// An empty memo clears it.
    SetMemo {
        memo: String,
    },
    SetFlag {
        flag: Option<OrderFlag>,
    },
}

/// What changed, with the values before and after, for the order's audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderChange {
    Paid {
        total: Fen,
    },
    Shipped {
        shipment: Shipment,
    },
    Completed,
    Closed {
        from: OrderState,
        reason: CloseReason,
    },
    Price {
        before: PriceSnapshot,
        after: PriceSnapshot,
    },
    Address {
        before: String,
        after: String,
    },
    Memo {
        before: String,
        after: String,
    },
    Flag {
        before: Option<OrderFlag>,
        after: Option<OrderFlag>,
    },
}

impl OrderChange {
    pub fn kind(&self) -> &'static str {
        match self {
            OrderChange::Paid { .. } => "paid",
            OrderChange::Shipped { .. } => "shipped",
            OrderChange::Completed => "completed",
            OrderChange::Closed { .. } => "closed",
            OrderChange::Price { .. } => "price",
            OrderChange::Address { .. } => "address",
            OrderChange::Memo { .. } => "memo",
            OrderChange::Flag { .. } => "flag",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            OrderChange::Paid { .. } => "付款",
            OrderChange::Shipped { .. } => "发货",
            OrderChange::Completed => "确认收货",
            OrderChange::Closed { .. } => "关闭交易",
            OrderChange::Price { .. } => "修改价格",
            OrderChange::Address { .. } => "修改收货地址",
            OrderChange::Memo { .. } => "修改备注",
            OrderChange::Flag { .. } => "插旗",
        }
    }
}

/// One line of an order's audit log: who changed what, when and why (SPEC §4.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderRecord {
    pub order_id: OrderId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub change: OrderChange,
    pub reason: Option<String>,
}

/// A successful action: the order to store and the record to write with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub order: OrderDetail,
    pub record: OrderRecord,
}

/// When an unpaid order's payment time runs out: 拍下时间 plus the shop's timeout.
/// `None` once the order is no longer awaiting payment.
pub fn payment_deadline(order: &Order, settings: &ShopSettings) -> Option<DateTime<Utc>> {
    (order.state == OrderState::AwaitingPayment)
        .then(|| order.created_at + Duration::minutes(i64::from(settings.unpaid_timeout_minutes)))
}

/// Whether the scheduler should close the order for payment timeout: it is still awaiting
/// payment and the deadline has come — at the deadline itself the time is up.
pub fn payment_overdue(order: &Order, settings: &ShopSettings, now: DateTime<Utc>) -> bool {
    payment_deadline(order, settings).is_some_and(|d| now >= d)
}

const SUBJECT: &str = "订单";

fn text(field: &str, value: &str, min: usize, max: usize, what: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        let range = if min == 0 {
            format!("最多 {max} 个字")
        } else {
            format!("{min}–{max} 个字")
        };
        return Err(ValidationError::new(field, format!("{what}需要{range}（现在 {n} 个）")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ValidationError::new(field, format!("{what}含有控制字符")));
    }
    Ok(v.to_owned())
}

pub(crate) fn reason(value: &str) -> Result<String, ValidationError> {
    text("reason", value, 1, MAX_REASON_CHARS, "原因")
}

fn unchanged(field: &str) -> RuleError {
    RuleError::invalid(field, "与原来相同，没有修改")
}

impl OrderDetail {
    /// Applies `action` by `actor` at `now`, or says which rule forbids it (see the module doc).
    pub fn apply(
        &self,
        action: &OrderAction,
        actor: Actor,
        settings: &ShopSettings,
        now: DateTime<Utc>,
    ) -> Result<Applied, RuleError> {
        use OrderState::*;
        let state = self.order.state;
        let conflict = |rule: &str| Err(RuleError::conflict(SUBJECT, state.label_zh(), rule));
        let mut next = self.clone();
        let mut why = None;
        let change = match action {
            OrderAction::Pay => {
                actor.must(matches!(actor, Actor::Buyer | Actor::System), "代替买家付款")?;
                if state != AwaitingPayment {
                    return conflict("只有等待买家付款的订单可以付款");
                }
                if payment_overdue(&self.order, settings, now) {
                    return conflict("已超过付款期限，订单将自动关闭，不能再付款");
                }
                next.order.state = Paid;
                next.order.paid_at = Some(now);
                OrderChange::Paid {
                    total: self.order.total().unwrap_or(Fen::ZERO),
                }
            }
            OrderAction::Ship { carrier, tracking_no } => {
                actor.must(actor.is_seller(), "发货")?;
                if state != Paid {
                    return conflict("只有买家已付款的订单可以发货");
                }
                let shipment = Shipment::new(carrier, tracking_no, now)?;
                next.order.state = Shipped;
                next.order.shipped_at = Some(now);
                next.shipment = Some(shipment.clone());
                OrderChange::Shipped { shipment }
            }
            OrderAction::ConfirmReceipt => {
                actor.must(matches!(actor, Actor::Buyer | Actor::System), "代替买家确认收货")?;
                if state != Shipped {
                    return conflict("只有卖家已发货的订单可以确认收货");
                }
                next.order.state = Completed;
                next.order.completed_at = Some(now);
                OrderChange::Completed
            }
            OrderAction::Cancel { reason: r } => {
                let close = match actor {
                    Actor::Buyer => CloseReason::BuyerCancelled,
                    _ if actor.is_seller() => CloseReason::SellerCancelled,
                    _ => return Err(actor.forbidden("取消订单")),
                };
                if state != AwaitingPayment {
                    return conflict(if matches!(state, Paid | Shipped) {
                        "付款后不能取消订单，只能通过退款关闭交易"
                    } else {
                        "只有等待买家付款的订单可以取消"
                    });
                }
                why = Some(if actor == Actor::Buyer {
                    text("reason", r, 0, MAX_REASON_CHARS, "原因")?
                } else {
                    reason(r)?
                })
                .filter(|r| !r.is_empty());
                close_order(&mut next.order, close, now)
            }
            OrderAction::CloseUnpaid => {
                actor.must(actor == Actor::System, "按付款超时关闭订单")?;
                if state != AwaitingPayment {
                    return conflict("只有等待买家付款的订单会因付款超时关闭");
                }
                if !payment_overdue(&self.order, settings, now) {
                    return conflict("付款期限还没到，不能按超时关闭");
                }
                close_order(&mut next.order, CloseReason::PaymentTimeout, now)
            }
            OrderAction::CloseRefunded => {
                actor.must(actor.is_seller() || actor == Actor::System, "同意退款")?;
                match state {
                    Paid | Shipped => close_order(&mut next.order, CloseReason::Refunded, now),
                    AwaitingPayment => return conflict("还没有付款，没有可退的款，请取消订单"),
                    Completed => return conflict("交易成功后的售后退款不关闭交易"),
                    Closed => return conflict("交易已经关闭"),
                }
            }
            OrderAction::ChangePrice {
                shipping_fee,
                items,
                reason: r,
            } => {
                actor.must(actor.is_seller(), "修改价格")?;
                if state != AwaitingPayment {
                    return conflict("只有等待买家付款的订单可以修改价格");
                }
                why = Some(reason(r)?);
                self.change_prices(&mut next.order, *shipping_fee, items, settings.mode)?
            }
            OrderAction::ChangeAddress { address } => {
                actor.must(actor == Actor::Buyer || actor.is_seller(), "修改收货地址")?;
                match state {
                    AwaitingPayment | Paid => {}
                    Shipped | Completed => return conflict("发货后不能修改收货地址"),
                    Closed => return conflict("交易关闭后不能修改收货地址"),
                }
                let after = text("address", address, MIN_ADDRESS_CHARS, MAX_ADDRESS_CHARS, "收货地址")?;
                if after.contains('\n') {
                    return Err(RuleError::invalid("address", "收货地址只能写一行"));
                }
                if after == self.order.address {
                    return Err(unchanged("address"));
                }
                next.order.address = after.clone();
                OrderChange::Address {
                    before: self.order.address.clone(),
                    after,
                }
            }
            OrderAction::SetMemo { memo } => {
                actor.must(actor.is_seller(), "修改卖家备注")?;
                let after = text("memo", memo, 0, MAX_MEMO_CHARS, "备注")?;
                if after == self.seller_memo {
                    return Err(unchanged("memo"));
                }
                next.seller_memo = after.clone();
                OrderChange::Memo {
                    before: self.seller_memo.clone(),
                    after,
                }
            }
            OrderAction::SetFlag { flag } => {
                actor.must(actor.is_seller(), "插旗")?;
                if *flag == self.flag {
                    return Err(unchanged("flag"));
                }
                next.flag = *flag;
                OrderChange::Flag {
                    before: self.flag,
                    after: *flag,
                }
            }
        };
        // A clock earlier than the order's last time would leave an impossible record.
        next.order.check_consistent()?;
        Ok(Applied {
            record: OrderRecord {
                order_id: self.order.id,
                at: now,
                actor,
                change,
                reason: why,
            },
            order: next,
        })
    }

    /// §4.3: in mall mode (天猫/商城) only the shipping fee may change; in c2c (C店) item prices
    /// too. No price below zero, and the order must still cost something to be payable.
    fn change_prices(
        &self,
        next: &mut Order,
        shipping_fee: Option<Fen>,
        items: &[ItemPrice],
        mode: ShopMode,
    ) -> Result<OrderChange, RuleError> {
        if mode == ShopMode::Mall && !items.is_empty() {
            return Err(RuleError::invalid(
                "items",
                "天猫/商城店铺只能修改运费，不能修改宝贝价格",
            ));
        }
        if let Some(fee) = shipping_fee {
            if fee < Fen::ZERO {
                return Err(RuleError::invalid("shipping_fee", "运费不能为负"));
            }
            next.shipping_fee = fee;
        }
        for (i, p) in items.iter().enumerate() {
            let field = format!("items[{i}]");
            if p.unit_price < Fen::ZERO {
                return Err(RuleError::invalid(field, "宝贝价格不能为负"));
            }
            if items[..i].iter().any(|q| q.sku == p.sku) {
                return Err(RuleError::invalid(field, format!("商家编码 {} 重复", p.sku)));
            }
            let mut found = false;
            for line in next.items.iter_mut().filter(|l| l.sku == p.sku) {
                line.unit_price = p.unit_price;
                found = true;
            }
            if !found {
                return Err(RuleError::invalid(
                    field,
                    format!("订单里没有商家编码为 {} 的宝贝", p.sku),
                ));
            }
        }
        let (before, after) = (PriceSnapshot::of(&self.order), PriceSnapshot::of(next));
        match next.total() {
            None => return Err(RuleError::invalid("items", "金额超出范围")),
            Some(t) if t <= Fen::ZERO => return Err(RuleError::invalid("items", "订单总价必须大于 0")),
            Some(_) if before == after => return Err(unchanged("items")),
            Some(_) => {}
        }
        Ok(OrderChange::Price { before, after })
    }
}

impl OrderDetail {
    /// What staff may do to the order in its state, as the workbench offers it: the `action`
    /// names of [`OrderAction`], plus `after_sales` for opening a case. The same state rules as
    /// [`OrderDetail::apply`] (a test checks that none of these is refused for its state).
    pub fn staff_actions(&self) -> Vec<&'static str> {
        use OrderState::*;
        let mut a = match self.order.state {
            AwaitingPayment => vec!["change_price", "change_address", "cancel"],
            Paid => vec!["ship", "change_address", "after_sales"],
            Shipped | Completed => vec!["after_sales"],
            Closed => vec![],
        };
        a.extend(["set_memo", "set_flag"]);
        a
    }
}

fn close_order(o: &mut Order, reason: CloseReason, now: DateTime<Utc>) -> OrderChange {
    let from = o.state;
    o.state = OrderState::Closed;
    o.close_reason = Some(reason);
    o.closed_at = Some(now);
    OrderChange::Closed { from, reason }
}

/// Where a parcel is, in the words carriers' feeds use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogisticsStatus {
    Collected,
    InTransit,
    OutForDelivery,
    Delivered,
    /// 疑难件: held, address problem, damaged.
    Exception,
    /// Refused by the buyer or sent back.
    Returned,
}

impl LogisticsStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            LogisticsStatus::Collected => "已揽收",
            LogisticsStatus::InTransit => "运输中",
            LogisticsStatus::OutForDelivery => "派送中",
            LogisticsStatus::Delivered => "已签收",
            LogisticsStatus::Exception => "疑难件",
            LogisticsStatus::Returned => "已退回",
        }
    }
}

/// One tracking event (物流信息): `2026-11-24 08:12 【杭州市】快件已由【菜鸟驿站】签收`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogisticsEvent {
    pub at: DateTime<Utc>,
    pub status: LogisticsStatus,
    /// City or site, as the carrier writes it; may be empty.
    #[serde(default)]
    pub location: String,
    pub text: String,
}

/// A parcel and its tracking events, oldest first (the logistics view shows them so, the
/// latest highlighted). Carriers' feeds arrive late, out of order and repeated, so the events
/// are sorted by time — events of the same instant keep their arrival order — and an event
/// identical to one already there is dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tracking {
    pub shipment: Shipment,
    pub events: Vec<LogisticsEvent>,
}

impl Tracking {
    pub fn new(shipment: Shipment, events: impl IntoIterator<Item = LogisticsEvent>) -> Tracking {
        let mut t = Tracking {
            shipment,
            events: Vec::new(),
        };
        t.extend(events);
        t
    }

    pub fn extend(&mut self, events: impl IntoIterator<Item = LogisticsEvent>) {
        for e in events {
            if !self.events.contains(&e) {
                self.events.push(e);
            }
        }
        self.events.sort_by_key(|e| e.at); // stable: same-instant events keep arrival order
    }

    pub fn latest(&self) -> Option<&LogisticsEvent> {
        self.events.last()
    }

    /// When the parcel was signed for (签收): the first delivered event.
    pub fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.events
            .iter()
            .find(|e| e.status == LogisticsStatus::Delivered)
            .map(|e| e.at)
    }
}

/// When the buyer received the goods, for after-sales windows: the parcel's 签收 or the
/// confirmation of receipt (交易成功), whichever came first. `None` while in transit.
pub fn received_at(order: &Order, tracking: Option<&Tracking>) -> Option<DateTime<Utc>> {
    let delivered = tracking.and_then(Tracking::delivered_at);
    match (delivered, order.completed_at) {
        (Some(d), Some(c)) => Some(d.min(c)),
        (d, c) => d.or(c),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::OrderItem;
    use crate::ids::{CustomerId, ShopId};
    use chrono::TimeZone;

    pub(crate) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap() // Monday 10:00 in Shanghai
    }

    pub(crate) fn unpaid() -> OrderDetail {
        OrderDetail::new(Order {
            id: OrderId::new(),
            shop_id: ShopId::new(),
            order_no: "3056789012345678".into(),
            customer_id: CustomerId::new(),
            state: OrderState::AwaitingPayment,
            close_reason: None,
            items: vec![
                OrderItem {
                    product_id: None,
                    sku: "A1".into(),
                    title: "婴儿连体衣".into(),
                    unit_price: Fen(5900),
                    quantity: 2,
                },
                OrderItem {
                    product_id: None,
                    sku: "B2".into(),
                    title: "口水巾".into(),
                    unit_price: Fen(1500),
                    quantity: 1,
                },
            ],
            shipping_fee: Fen(1000),
            address: "浙江省杭州市西湖区文三路1号".into(),
            created_at: t0(),
            paid_at: None,
            shipped_at: None,
            completed_at: None,
            closed_at: None,
        })
    }

    pub(crate) fn staff() -> Actor {
        Actor::Staff {
            account_id: AccountId::new(),
            role: Role::Agent,
        }
    }

    fn h(n: i64) -> DateTime<Utc> {
        t0() + Duration::hours(n)
    }

    fn run(o: &OrderDetail, a: OrderAction, by: Actor, at: DateTime<Utc>) -> Result<Applied, RuleError> {
        o.apply(&a, by, &ShopSettings::default(), at)
    }

    fn ship() -> OrderAction {
        OrderAction::Ship {
            carrier: "顺丰速运".into(),
            tracking_no: " sf1234567890123 ".into(),
        }
    }

    /// An order moved along by actions that must all succeed.
    pub(crate) fn through(actions: &[OrderAction]) -> OrderDetail {
        actions.iter().enumerate().fold(unpaid(), |o, (i, a)| {
            let by = match a {
                OrderAction::Pay | OrderAction::ConfirmReceipt => Actor::Buyer,
                _ => staff(),
            };
            run(&o, a.clone(), by, h(i as i64 + 1)).unwrap().order
        })
    }

    pub(crate) fn paid() -> OrderDetail {
        through(&[OrderAction::Pay])
    }
    pub(crate) fn shipped() -> OrderDetail {
        through(&[OrderAction::Pay, ship()])
    }
    pub(crate) fn completed() -> OrderDetail {
        through(&[OrderAction::Pay, ship(), OrderAction::ConfirmReceipt])
    }
    fn closed() -> OrderDetail {
        run(
            &unpaid(),
            OrderAction::Cancel { reason: String::new() },
            Actor::Buyer,
            h(1),
        )
        .unwrap()
        .order
    }

    #[test]
    fn the_happy_path_sets_states_times_and_records() {
        let o = unpaid();
        let p = run(&o, OrderAction::Pay, Actor::Buyer, h(1)).unwrap();
        assert_eq!(
            (p.order.order.state, p.order.order.paid_at),
            (OrderState::Paid, Some(h(1)))
        );
        assert_eq!(p.record.change, OrderChange::Paid { total: Fen(14300) });
        assert_eq!((p.record.order_id, p.record.at), (o.order.id, h(1)));
        let s = run(&p.order, ship(), staff(), h(2)).unwrap();
        let shipment = s.order.shipment.clone().unwrap();
        assert_eq!(shipment.tracking_no, "SF1234567890123", "trimmed and upper-cased");
        assert_eq!(s.order.order.shipped_at, Some(h(2)));
        assert_eq!(s.record.change.kind(), "shipped");
        let c = run(&s.order, OrderAction::ConfirmReceipt, Actor::System, h(3)).unwrap();
        assert_eq!(c.order.order.state, OrderState::Completed);
        assert_eq!(c.order.order.completed_at, Some(h(3)));
        c.order.order.check_consistent().unwrap();
    }

    /// The actions the workbench offers are exactly those the state allows staff.
    #[test]
    fn staff_actions_agree_with_apply() {
        let samples = [
            OrderAction::ChangePrice {
                shipping_fee: Some(Fen(0)),
                items: vec![],
                reason: "老顾客包邮".into(),
            },
            OrderAction::ChangeAddress {
                address: "上海市浦东新区世纪大道100号".into(),
            },
            OrderAction::Cancel {
                reason: "买家要求".into(),
            },
            ship(),
            OrderAction::SetMemo { memo: "加急".into() },
            OrderAction::SetFlag {
                flag: Some(OrderFlag::Red),
            },
        ];
        for o in [unpaid(), paid(), shipped(), completed(), closed()] {
            let offered = o.staff_actions();
            for a in &samples {
                let name = serde_json::to_value(a).unwrap()["action"].as_str().unwrap().to_owned();
                let r = run(&o, a.clone(), staff(), h(10));
                assert_eq!(
                    offered.contains(&name.as_str()),
                    !matches!(r, Err(RuleError::Conflict { .. })),
                    "{name} in {:?}: {r:?}",
                    o.order.state
                );
            }
        }
    }

    #[test]
    fn each_action_is_allowed_only_in_its_states() {
        use OrderState::*;
        let orders = [unpaid(), paid(), shipped(), completed(), closed()];
        let cases: Vec<(OrderAction, Actor, &[OrderState])> = vec![
            (OrderAction::Pay, Actor::Buyer, &[AwaitingPayment]),
            (ship(), staff(), &[Paid]),
            (OrderAction::ConfirmReceipt, Actor::Buyer, &[Shipped]),
            (
                OrderAction::Cancel {
                    reason: "缺货".into()
                },
                staff(),
                &[AwaitingPayment],
            ),
            (OrderAction::CloseRefunded, staff(), &[Paid, Shipped]),
            (
                OrderAction::ChangePrice {
                    shipping_fee: Some(Fen(0)),
                    items: vec![],
                    reason: "包邮".into(),
                },
                staff(),
                &[AwaitingPayment],
            ),
            (
                OrderAction::ChangeAddress {
                    address: "上海市浦东新区世纪大道100号".into(),
                },
                Actor::Buyer,
                &[AwaitingPayment, Paid],
            ),
            (
                OrderAction::SetMemo {
                    memo: "送小礼物".into(),
                },
                staff(),
                &OrderState::ALL,
            ),
            (
                OrderAction::SetFlag {
                    flag: Some(OrderFlag::Red),
                },
                staff(),
                &OrderState::ALL,
            ),
        ];
        for (action, by, allowed) in cases {
            for o in &orders {
                let st = o.order.state;
                let r = run(o, action.clone(), by, h(10));
                if allowed.contains(&st) {
                    let a = r.unwrap_or_else(|e| panic!("{action:?} in {st:?}: {e}"));
                    a.order.order.check_consistent().unwrap();
                } else {
                    let e = r.expect_err(&format!("{action:?} accepted in {st:?}"));
                    assert_eq!(e.status(), 409, "{action:?} in {st:?}: {e}");
                    assert!(
                        e.to_string().starts_with(&format!("订单处于 {}，", st.label_zh())),
                        "{e}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_conflict_names_the_state_and_the_rule() {
        let e = run(
            &shipped(),
            OrderAction::ChangeAddress {
                address: "上海市浦东新区世纪大道100号".into(),
            },
            staff(),
            h(5),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "订单处于 卖家已发货，发货后不能修改收货地址");
    }

    #[test]
    fn actions_belong_to_their_actors() {
        let supervisor = Actor::Staff {
            account_id: AccountId::new(),
            role: Role::Supervisor,
        };
        let cases = [
            (unpaid(), OrderAction::Pay, staff()),
            (paid(), ship(), Actor::Buyer),
            (paid(), ship(), supervisor),
            (shipped(), OrderAction::ConfirmReceipt, staff()),
            (unpaid(), OrderAction::Cancel { reason: "x".into() }, Actor::System),
            (unpaid(), OrderAction::CloseUnpaid, staff()),
            (paid(), OrderAction::CloseRefunded, Actor::Buyer),
            (unpaid(), OrderAction::SetMemo { memo: "x".into() }, Actor::Buyer),
            (unpaid(), OrderAction::SetFlag { flag: None }, supervisor),
            (
                unpaid(),
                OrderAction::ChangePrice {
                    shipping_fee: Some(Fen(0)),
                    items: vec![],
                    reason: "x".into(),
                },
                Actor::Buyer,
            ),
        ];
        for (o, a, by) in cases {
            let e = run(&o, a.clone(), by, h(80)).unwrap_err();
            assert_eq!(e.status(), 403, "{a:?} by {by:?}: {e}");
        }
        let e = run(&paid(), ship(), supervisor, h(3)).unwrap_err();
        assert_eq!(e.to_string(), "主管只能查看，不能发货");
    }

    #[test]
    fn cancelling_closes_with_whose_reason() {
        let by_buyer = run(
            &unpaid(),
            OrderAction::Cancel { reason: " ".into() },
            Actor::Buyer,
            h(1),
        )
        .unwrap();
        assert_eq!(by_buyer.order.order.close_reason, Some(CloseReason::BuyerCancelled));
        assert_eq!(by_buyer.record.reason, None, "a buyer need not say why");
        let by_seller = run(
            &unpaid(),
            OrderAction::Cancel {
                reason: "缺货".into()
            },
            staff(),
            h(1),
        )
        .unwrap();
        assert_eq!(by_seller.order.order.close_reason, Some(CloseReason::SellerCancelled));
        assert_eq!(by_seller.order.order.closed_at, Some(h(1)));
        assert_eq!(by_seller.record.reason.as_deref(), Some("缺货"));
        assert_eq!(
            by_seller.record.change,
            OrderChange::Closed {
                from: OrderState::AwaitingPayment,
                reason: CloseReason::SellerCancelled
            }
        );
        let e = run(&unpaid(), OrderAction::Cancel { reason: "  ".into() }, staff(), h(1)).unwrap_err();
        assert_eq!((e.status(), e.to_string().starts_with("reason")), (422, true), "{e}");
    }

    #[test]
    fn payment_times_out_at_the_deadline_minute() {
        let mut s = ShopSettings {
            unpaid_timeout_minutes: 3 * 24 * 60,
            ..ShopSettings::default()
        };
        let o = unpaid();
        let deadline = t0() + Duration::days(3);
        assert_eq!(payment_deadline(&o.order, &s), Some(deadline));
        for (at, overdue) in [
            (deadline - Duration::minutes(1), false),
            (deadline - Duration::seconds(1), false),
            (deadline, true),
            (deadline + Duration::days(1), true),
        ] {
            assert_eq!(payment_overdue(&o.order, &s, at), overdue, "{at}");
            let close = o.apply(&OrderAction::CloseUnpaid, Actor::System, &s, at);
            let pay = o.apply(&OrderAction::Pay, Actor::Buyer, &s, at);
            assert_eq!((close.is_ok(), pay.is_err()), (overdue, overdue), "{at}");
        }
        let closed = o.apply(&OrderAction::CloseUnpaid, Actor::System, &s, deadline).unwrap();
        assert_eq!(closed.order.order.close_reason, Some(CloseReason::PaymentTimeout));
        assert!(
            !payment_overdue(&closed.order.order, &s, deadline),
            "closed orders are done"
        );
        assert!(!payment_overdue(&paid().order, &s, deadline + Duration::days(9)));
        s.unpaid_timeout_minutes = 30;
        assert!(payment_overdue(&o.order, &s, t0() + Duration::minutes(30)));
        assert!(!payment_overdue(&o.order, &s, t0() + Duration::minutes(29)));
    }

    #[test]
    fn refunds_close_paid_and_shipped_orders_only() {
        for o in [paid(), shipped()] {
            let a = run(&o, OrderAction::CloseRefunded, Actor::System, h(20)).unwrap();
            assert_eq!(a.order.order.close_reason, Some(CloseReason::Refunded));
            assert_eq!(a.order.order.paid_at, o.order.paid_at, "the paid time stays");
            a.order.order.check_consistent().unwrap();
        }
        let e = run(&completed(), OrderAction::CloseRefunded, staff(), h(20)).unwrap_err();
        assert_eq!(e.to_string(), "订单处于 交易成功，交易成功后的售后退款不关闭交易");
    }

    fn price(o: &OrderDetail, mode: ShopMode, fee: Option<i64>, items: &[(&str, i64)]) -> Result<Applied, RuleError> {
        let s = ShopSettings {
            mode,
            ..ShopSettings::default()
        };
        let items = items
            .iter()
            .map(|(sku, p)| ItemPrice {
                sku: (*sku).into(),
                unit_price: Fen(*p),
            })
            .collect();
        let a = OrderAction::ChangePrice {
            shipping_fee: fee.map(Fen),
            items,
            reason: "老顾客优惠".into(),
        };
        o.apply(&a, staff(), &s, h(1))
    }

    #[test]
    fn price_changes_follow_the_shop_mode() {
        use ShopMode::*;
        let o = unpaid();
        // (mode, shipping fee, items) → Ok(new total) or Err(field)
        type Case<'a> = (ShopMode, Option<i64>, &'a [(&'a str, i64)], Result<i64, &'a str>);
        let cases: [Case; 10] = [
            (Mall, Some(0), &[], Ok(13300)),
            (Mall, Some(500), &[], Ok(13800)),
            (Mall, None, &[("A1", 5000)], Err("items")),
            (Mall, Some(0), &[("A1", 5000)], Err("items")),
            (C2c, Some(0), &[("A1", 5000)], Ok(11500)),
            (C2c, None, &[("B2", 0)], Ok(12800)),
            (C2c, Some(-1), &[], Err("shipping_fee")),
            (C2c, None, &[("A1", -100)], Err("items[0]")),
            (C2c, None, &[("ZZ", 100)], Err("items[0]")),
            (C2c, None, &[("A1", 5900), ("A1", 100)], Err("items[1]")),
        ];
        for (mode, fee, items, want) in cases {
            match (price(&o, mode, fee, items), want) {
                (Ok(a), Ok(total)) => {
                    let OrderChange::Price { before, after } = &a.record.change else {
                        panic!("{:?}", a.record.change)
                    };
                    assert_eq!((before.total, after.total), (Fen(14300), Fen(total)));
                    assert_eq!(a.order.order.total(), Some(Fen(total)));
                    assert_eq!(a.record.reason.as_deref(), Some("老顾客优惠"));
                }
                (Err(RuleError::Invalid(e)), Err(field)) => assert_eq!(e.field, field, "{e}"),
                (got, want) => panic!("{mode:?} {fee:?} {items:?}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn a_price_change_needs_a_reason_a_change_and_a_payable_total() {
        let o = unpaid();
        let e = o
            .apply(
                &OrderAction::ChangePrice {
                    shipping_fee: Some(Fen(0)),
                    items: vec![],
                    reason: " ".into(),
                },
                staff(),
                &ShopSettings::default(),
                h(1),
            )
            .unwrap_err();
        assert!(matches!(&e, RuleError::Invalid(v) if v.field == "reason"), "{e}");
        let same = price(&o, ShopMode::C2c, Some(1000), &[("A1", 5900)]).unwrap_err();
        assert!(same.to_string().contains("没有修改"), "{same}");
        let free = price(&o, ShopMode::C2c, Some(0), &[("A1", 0), ("B2", 0)]).unwrap_err();
        assert!(free.to_string().contains("大于 0"), "{free}");
        let huge = price(&o, ShopMode::C2c, None, &[("A1", i64::MAX)]).unwrap_err();
        assert!(huge.to_string().contains("范围"), "{huge}");
    }

    #[test]
    fn addresses_are_checked_and_recorded() {
        let before = unpaid().order.address;
        let ok = run(
            &paid(),
            OrderAction::ChangeAddress {
                address: "  上海市浦东新区世纪大道100号 ".into(),
            },
            Actor::Buyer,
            h(3),
        )
        .unwrap();
        assert_eq!(ok.order.order.address, "上海市浦东新区世纪大道100号");
        assert_eq!(
            ok.record.change,
            OrderChange::Address {
                before: before.clone(),
                after: "上海市浦东新区世纪大道100号".into()
            }
        );
        for bad in [
            "",
            "  ",
            "上海",
            &"路".repeat(MAX_ADDRESS_CHARS + 1),
            "上海市\n浦东新区",
            &before,
        ] {
            let e = run(
                &paid(),
                OrderAction::ChangeAddress { address: bad.into() },
                staff(),
                h(3),
            )
            .unwrap_err();
            assert!(
                matches!(&e, RuleError::Invalid(v) if v.field == "address"),
                "{bad:?}: {e}"
            );
        }
        assert!(
            run(
                &paid(),
                OrderAction::ChangeAddress {
                    address: "路".repeat(MAX_ADDRESS_CHARS)
                },
                staff(),
                h(3)
            )
            .is_ok()
        );
    }

    #[test]
    fn memo_and_flag_are_the_sellers_notes() {
        let o = completed();
        let m = run(
            &o,
            OrderAction::SetMemo {
                memo: "顾客要求周末送达".into(),
            },
            staff(),
            h(9),
        )
        .unwrap();
        assert_eq!(m.order.seller_memo, "顾客要求周末送达");
        let cleared = run(&m.order, OrderAction::SetMemo { memo: String::new() }, staff(), h(9)).unwrap();
        assert_eq!(
            cleared.record.change,
            OrderChange::Memo {
                before: "顾客要求周末送达".into(),
                after: String::new()
            }
        );
        let long = "备".repeat(MAX_MEMO_CHARS + 1);
        assert_eq!(
            run(&o, OrderAction::SetMemo { memo: long }, staff(), h(9))
                .unwrap_err()
                .status(),
            422
        );
        let f = run(
            &o,
            OrderAction::SetFlag {
                flag: Some(OrderFlag::Purple),
            },
            staff(),
            h(9),
        )
        .unwrap();
        assert_eq!(f.order.flag, Some(OrderFlag::Purple));
        assert_eq!(f.record.change.label_zh(), "插旗");
        let again = run(
            &f.order,
            OrderAction::SetFlag {
                flag: Some(OrderFlag::Purple),
            },
            staff(),
            h(9),
        );
        assert_eq!(again.unwrap_err().status(), 422);
        let none = run(&f.order, OrderAction::SetFlag { flag: None }, staff(), h(9)).unwrap();
        assert_eq!(none.order.flag, None);
        let labels: Vec<_> = OrderFlag::ALL.iter().map(|f| f.label_zh()).collect();
        assert_eq!(labels, ["红旗", "黄旗", "绿旗", "蓝旗", "紫旗", "灰旗"]);
    }

    #[test]
    fn tracking_numbers_are_validated() {
        for ok in ["SF1234567890123", "yt8888888888", "JDVA00012345678-1-1", "773012345678"] {
            Shipment::new("顺丰", ok, t0()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "12345",
            "SF 123456789",
            "顺丰123456789",
            "ABCDEFGHIJ",
            "-12345678",
            &"1".repeat(33),
        ] {
            let e = Shipment::new("顺丰", bad, t0()).unwrap_err();
            assert_eq!(e.field, "tracking_no", "{bad}");
        }
        assert_eq!(Shipment::new(" ", "SF1234567890", t0()).unwrap_err().field, "carrier");
        let e = run(
            &paid(),
            OrderAction::Ship {
                carrier: "中通".into(),
                tracking_no: "12".into(),
            },
            staff(),
            h(3),
        )
        .unwrap_err();
        assert_eq!(e.status(), 422);
    }

    #[test]
    fn a_clock_before_the_order_is_refused() {
        let e = run(&unpaid(), OrderAction::Pay, Actor::Buyer, t0() - Duration::hours(1)).unwrap_err();
        assert!(matches!(e, RuleError::Invalid(_)), "{e}");
    }

    fn ev(hour: i64, status: LogisticsStatus, text: &str) -> LogisticsEvent {
        LogisticsEvent {
            at: h(hour),
            status,
            location: "杭州市".into(),
            text: text.into(),
        }
    }

    #[test]
    fn tracking_events_are_ordered_and_deduplicated() {
        use LogisticsStatus::*;
        let shipment = Shipment::new("中通快递", "773012345678", h(2)).unwrap();
        let mut t = Tracking::new(
            shipment,
            [
                ev(30, Delivered, "已签收"),
                ev(3, Collected, "已揽收"),
                ev(10, InTransit, "到达杭州中转部"),
                ev(10, InTransit, "离开杭州中转部"),
            ],
        );
        t.extend([ev(3, Collected, "已揽收"), ev(20, OutForDelivery, "派送中")]);
        let texts: Vec<_> = t.events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            ["已揽收", "到达杭州中转部", "离开杭州中转部", "派送中", "已签收"]
        );
        assert_eq!(t.latest().unwrap().status, Delivered);
        assert_eq!(t.delivered_at(), Some(h(30)));

        let mut o = shipped().order;
        assert_eq!(received_at(&o, None), None, "in transit");
        assert_eq!(received_at(&o, Some(&t)), Some(h(30)));
        o.completed_at = Some(h(25));
        assert_eq!(
            received_at(&o, Some(&t)),
            Some(h(25)),
            "confirmed before the feed said so"
        );
        o.completed_at = Some(h(40));
        assert_eq!(received_at(&o, Some(&t)), Some(h(30)));
    }

    #[test]
    fn actions_and_records_speak_snake_case_json() {
        let a: OrderAction =
            serde_json::from_str(r#"{"action":"ship","carrier":"顺丰","tracking_no":"SF1234567890"}"#).unwrap();
        assert_eq!(
            a,
            OrderAction::Ship {
                carrier: "顺丰".into(),
                tracking_no: "SF1234567890".into()
            }
        );
        let flag: OrderAction = serde_json::from_str(r#"{"action":"set_flag","flag":"purple"}"#).unwrap();
        assert_eq!(
            flag,
            OrderAction::SetFlag {
                flag: Some(OrderFlag::Purple)
            }
        );
        let o = paid();
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["state"], "paid", "the order's fields are flat: {v}");
        assert_eq!(v["seller_memo"], "");
        assert_eq!(serde_json::from_value::<OrderDetail>(v).unwrap(), o);
        let v = serde_json::to_value(&o.order).unwrap();
        assert_eq!(serde_json::from_value::<OrderDetail>(v).unwrap(), o, "extras default");
        let r = serde_json::to_value(Actor::Staff {
            account_id: AccountId::new(),
            role: Role::Agent,
        })
        .unwrap();
        assert_eq!((r["kind"].as_str(), r["role"].as_str()), (Some("staff"), Some("agent")));
    }
}
