//! The shop's own data that staff look things up in: products, buyers, orders and the
//! knowledge base. These are the shapes; the rules that change them (order state machine,
//! price and address changes, after-sales) have their own modules as they are built.

use crate::ValidationError;
use crate::ids::{CategoryId, CustomerId, EntryId, OrderId, ProductId, ShopId};
use crate::money::Fen;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A product (宝贝) with the attributes agents are asked about (材质, 尺码, 适用年龄 …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub shop_id: ShopId,
    /// 商家编码: the shop's own code, unique in the shop.
    pub sku: String,
    pub title: String,
    pub category: String,
    pub price: Fen,
    pub stock: i64,
    pub attributes: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

/// A buyer (买家) the shop knows, by their platform nick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: CustomerId,
    pub shop_id: ShopId,
    /// 买家昵称, unique in the shop.
    pub nick: String,
    pub name: String,
    pub phone: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
}

impl Customer {
    /// What staff without the privacy permission see (SPEC §3.4): 138****5678, 浙江省杭州市***.
    pub fn masked(mut self) -> Customer {
        self.phone = mask_phone(&self.phone);
        self.address = mask_address(&self.address);
        self
    }
}

pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// Keeps the province and city (up to the first 市, or six characters) and hides the rest.
pub fn mask_address(address: &str) -> String {
    if address.is_empty() {
        return String::new();
    }
    let keep = address
        .find('市')
        .map(|i| i + '市'.len_utf8())
        .unwrap_or_else(|| address.char_indices().nth(6).map(|(i, _)| i).unwrap_or(address.len()));
    format!("{}***", &address[..keep])
}

/// The states of an order, as the seller back office names them (SPEC §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// 等待买家付款
    AwaitingPayment,
    /// 买家已付款
    Paid,
    /// 卖家已发货
    Shipped,
    /// 交易成功
    Completed,
    /// 交易关闭
    Closed,
}

impl OrderState {
    pub const ALL: [OrderState; 5] = [
        OrderState::AwaitingPayment,
        OrderState::Paid,
        OrderState::Shipped,
        OrderState::Completed,
        OrderState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::AwaitingPayment => "awaiting_payment",
            OrderState::Paid => "paid",
            OrderState::Shipped => "shipped",
            OrderState::Completed => "completed",
            OrderState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The words staff see in the back office.
    pub fn label_zh(self) -> &'static str {
        match self {
            OrderState::AwaitingPayment => "等待买家付款",
            OrderState::Paid => "买家已付款",
            OrderState::Shipped => "卖家已发货",
            OrderState::Completed => "交易成功",
            OrderState::Closed => "交易关闭",
        }
    }
}

/// Why a trade was closed (交易关闭).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    BuyerCancelled,
    SellerCancelled,
    PaymentTimeout,
    Refunded,
}

impl CloseReason {
    pub const ALL: [CloseReason; 4] = [
        CloseReason::BuyerCancelled,
        CloseReason::SellerCancelled,
        CloseReason::PaymentTimeout,
        CloseReason::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::BuyerCancelled => "buyer_cancelled",
            CloseReason::SellerCancelled => "seller_cancelled",
            CloseReason::PaymentTimeout => "payment_timeout",
            CloseReason::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<CloseReason> {
        CloseReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderItem {
    pub product_id: Option<ProductId>,
    pub sku: String,
    pub title: String,
    pub unit_price: Fen,
    pub quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: OrderId,
    pub shop_id: ShopId,
    /// 订单编号 as the platform shows it, unique in the shop.
    pub order_no: String,
    pub customer_id: CustomerId,
    pub state: OrderState,
    pub close_reason: Option<CloseReason>,
    pub items: Vec<OrderItem>,
    pub shipping_fee: Fen,
    pub address: String,
    /// 拍下时间: when the buyer placed the order — not when they paid.
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Order {
    /// Items plus shipping, in fen.
    pub fn total(&self) -> Option<Fen> {
        self.items.iter().try_fold(self.shipping_fee, |acc, i| {
            acc.checked_add(i.unit_price.checked_mul(i.quantity)?)
        })
    }

    /// Checks that an order's record is one the state machine could have produced: the
    /// timestamps present match the state, in time order, and closing has a reason.
    /// Imported orders pass through this, so no impossible order enters the store.
    pub fn check_consistent(&self) -> Result<(), ValidationError> {
        use OrderState::*;
        let err = |m: String| Err(ValidationError::new(format!("order {}", self.order_no), m));
        if self.items.is_empty() {
            return err("has no items".into());
        }
        if let Some(i) = self.items.iter().find(|i| i.quantity <= 0 || i.unit_price < Fen::ZERO) {
            return err(format!("item {} needs a positive quantity and a price ≥ 0", i.sku));
        }
        if self.shipping_fee < Fen::ZERO || self.total().is_none() {
            return err("has a negative shipping fee or an amount out of range".into());
        }
        let paid_needed =
            matches!(self.state, Paid | Shipped | Completed) || self.close_reason == Some(CloseReason::Refunded);
        if self.paid_at.is_some() != paid_needed {
            return err(format!(
                "is {} but {} a paid time",
                self.state.label_zh(),
                if paid_needed { "lacks" } else { "has" }
            ));
        }
        if self.shipped_at.is_some() && !matches!(self.state, Shipped | Completed | Closed) {
            return err(format!("is {} but has a shipping time", self.state.label_zh()));
        }
        if matches!(self.state, Shipped | Completed) && self.shipped_at.is_none() {
            return err(format!("is {} but lacks a shipping time", self.state.label_zh()));
        }
        if (self.state == Completed) != self.completed_at.is_some() {
            return err("a completed time belongs to 交易成功 orders only".into());
        }
        if (self.state == Closed) != (self.closed_at.is_some() && self.close_reason.is_some()) {
            return err("交易关闭 orders, and only they, have a close time and reason".into());
        }
        if matches!(
            self.close_reason,
            Some(CloseReason::BuyerCancelled | CloseReason::SellerCancelled | CloseReason::PaymentTimeout)
        ) && self.paid_at.is_some()
        {
            return err("an order closed before payment cannot have been paid".into());
        }
        let times = [
            Some(self.created_at),
            self.paid_at,
            self.shipped_at,
            self.completed_at.or(self.closed_at),
        ];
        let present: Vec<_> = times.into_iter().flatten().collect();
        if present.windows(2).any(|w| w[0] > w[1]) {
            return err("its times are out of order (placed ≤ paid ≤ shipped ≤ finished)".into());
        }
        Ok(())
    }
}

/// A knowledge-base category (知识库分类), e.g. 店铺活动, 退换货, 快递物流.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KbCategory {
    pub id: CategoryId,
    pub shop_id: ShopId,
    pub name: String,
    pub position: i64,
}

/// A knowledge-base entry: one standard question (标准问题), its similar phrasings
/// (相似问法) and the answer. An answer past `valid_until` is never given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KbEntry {
    pub id: EntryId,
    pub shop_id: ShopId,
    pub category_id: CategoryId,
    pub question: String,
    pub similar: Vec<String>,
    pub answer: String,
    pub enabled: bool,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Kept by the store; ignored on writes.
    #[serde(default)]
    pub stats: crate::kb::EntryStats,
}

impl KbEntry {
    /// Whether the bot may give this answer at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, h, 0, 0).unwrap()
    }

    fn order(state: OrderState) -> Order {
        Order {
            id: OrderId::new(),
            shop_id: ShopId::new(),
            order_no: "1001".into(),
            customer_id: CustomerId::new(),
            state,
            close_reason: None,
            items: vec![OrderItem {
                product_id: None,
                sku: "A1".into(),
                title: "婴儿连体衣".into(),
                unit_price: Fen(5900),
                quantity: 2,
            }],
            shipping_fee: Fen(1000),
            address: "浙江省杭州市西湖区文三路1号".into(),
            created_at: t(1),
            paid_at: None,
            shipped_at: None,
            completed_at: None,
            closed_at: None,
        }
    }

    #[test]
    fn totals_in_fen() {
        assert_eq!(order(OrderState::AwaitingPayment).total(), Some(Fen(12800)));
    }

    #[test]
    fn consistent_orders_pass_and_impossible_ones_are_named() {
        use OrderState::*;
        order(AwaitingPayment).check_consistent().unwrap();
        let mut o = order(Shipped);
        o.paid_at = Some(t(2));
        o.shipped_at = Some(t(3));
        o.check_consistent().unwrap();
        let mut refunded = order(Closed);
        refunded.paid_at = Some(t(2));
        refunded.closed_at = Some(t(4));
        refunded.close_reason = Some(CloseReason::Refunded);
        refunded.check_consistent().unwrap();

        let mut paid_without_time = order(Paid);
        assert!(
            paid_without_time
                .check_consistent()
                .unwrap_err()
                .message
                .contains("lacks a paid time")
        );
        paid_without_time.paid_at = Some(t(0));
        assert!(
            paid_without_time
                .check_consistent()
                .unwrap_err()
                .message
                .contains("out of order")
        );
        let mut cancelled_but_paid = order(Closed);
        cancelled_but_paid.paid_at = Some(t(2));
        cancelled_but_paid.closed_at = Some(t(3));
        cancelled_but_paid.close_reason = Some(CloseReason::BuyerCancelled);
        assert!(cancelled_but_paid.check_consistent().is_err());
        let mut closed_without_reason = order(Closed);
        closed_without_reason.closed_at = Some(t(3));
        assert!(closed_without_reason.check_consistent().is_err());
        let mut empty = order(AwaitingPayment);
        empty.items.clear();
        assert!(empty.check_consistent().is_err());
    }

    #[test]
    fn masks_private_data() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("123"), "***");
        assert_eq!(mask_address("浙江省杭州市西湖区文三路1号"), "浙江省杭州市***");
        assert_eq!(mask_address("北京朝阳区建国路88号"), "北京朝阳区建***");
    }

    #[test]
    fn expired_or_disabled_answers_are_not_live() {
        let now = t(12);
        let mut e = KbEntry {
            id: EntryId::new(),
            shop_id: ShopId::new(),
            category_id: CategoryId::new(),
            question: "双十一有什么活动".into(),
            similar: vec![],
            answer: "全场满199减30".into(),
            enabled: true,
            valid_from: Some(now - Duration::days(1)),
            valid_until: Some(now + Duration::hours(1)),
            created_at: now,
            updated_at: now,
            stats: Default::default(),
        };
        assert!(e.is_live(now));
        assert!(!e.is_live(now + Duration::hours(1)));
        assert!(!e.is_live(now - Duration::days(2)));
        e.enabled = false;
        assert!(!e.is_live(now));
    }
}
