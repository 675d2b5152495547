//! Where a shop's orders come from (SPEC §4.8). kefu keeps its own order store; a platform
//! (or the shop's own system) feeds it two ways: an import of whole orders, which makes the
//! stored orders match the platform's (new ones added, known ones replaced), and events as
//! they happen — paid, cancelled, received, parcel tracking — which go through the order state
//! machine like any action. This module holds the platform-neutral shapes and their checks;
//! a connector for a particular platform turns that platform's payloads into them.
//!
//! Event requests are signed: `X-Kefu-Signature: sha256=<hex HMAC-SHA256 of the body>` with
//! the shop's integration secret, so nobody else can mark an order paid.

use crate::ValidationError;
use crate::catalog::{CloseReason, Customer, Order, OrderItem, OrderState};
use crate::ids::{CustomerId, OrderId, ShopId};
use crate::money::Fen;
use crate::order::{Actor, LogisticsEvent, OrderAction, OrderDetail, Shipment};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// At most this many orders or events in one request.
pub const MAX_BATCH: usize = 1000;

/// What an order import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderImportSummary {
    pub added: usize,
    pub updated: usize,
}

/// The buyer of an imported order, by their nick (买家昵称).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedBuyer {
    pub nick: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
}

/// An order as a platform reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedOrder {
    pub order_no: String,
    pub buyer: ImportedBuyer,
    pub state: OrderState,
    #[serde(default)]
    pub close_reason: Option<CloseReason>,
    pub items: Vec<OrderItem>,
    #[serde(default)]
    pub shipping_fee: Fen,
    /// The shipping address; the buyer's when left out.
    #[serde(default)]
    pub address: String,
    /// 拍下时间
    pub placed_at: DateTime<Utc>,
    #[serde(default)]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub shipped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    /// The parcel, for shipped orders: carrier and tracking number.
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub tracking_no: Option<String>,
    /// 运费险
    #[serde(default)]
    pub shipping_insurance: bool,
}

impl ImportedOrder {
    /// The buyer and the order as kefu keeps them, or the first rule the record breaks.
    /// Ids are new; the store keeps those of a buyer or an order it already has.
    pub fn check(self, shop: ShopId, now: DateTime<Utc>) -> Result<(Customer, OrderDetail), ValidationError> {
        let no = self.order_no.trim().to_string();
        if no.is_empty() || no.chars().count() > 40 || !no.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ValidationError::new(
                "order_no",
                "an order number is 1–40 letters, digits or '-'",
            ));
        }
        let nick = self.buyer.nick.trim().to_string();
        if nick.is_empty() || nick.chars().count() > 64 {
            return Err(ValidationError::new(
                "buyer.nick",
                format!("order {no}: the buyer's nick must be 1–64 characters"),
            ));
        }
        let address = match self.address.trim() {
            "" => self.buyer.address.trim().to_string(),
            a => a.to_string(),
        };
        let buyer = Customer {
            id: CustomerId::new(),
            shop_id: shop,
            nick,
            name: self.buyer.name.trim().to_string(),
            phone: self.buyer.phone.trim().to_string(),
            address: self.buyer.address.trim().to_string(),
            created_at: now,
        };
        let shipment = match (self.carrier.as_deref(), self.tracking_no.as_deref(), self.shipped_at) {
            (Some(c), Some(t), Some(at)) => Some(Shipment::new(c, t, at).map_err(|e| ValidationError {
                field: e.field,
                message: format!("order {no}: {}", e.message),
            })?),
            (None, None, _) => None,
            _ => {
                return Err(ValidationError::new(
                    "tracking_no",
                    format!("order {no}: a parcel needs a carrier, a tracking number and a shipping time"),
                ));
            }
        };
        let order = Order {
            id: OrderId::new(),
            shop_id: shop,
            order_no: no,
            customer_id: buyer.id,
            state: self.state,
            close_reason: self.close_reason,
            items: self.items,
            shipping_fee: self.shipping_fee,
            address,
            created_at: self.placed_at,
            paid_at: self.paid_at,
            shipped_at: self.shipped_at,
            completed_at: self.completed_at,
            closed_at: self.closed_at,
        };
        order.check_consistent()?;
        if order.created_at > now + chrono::Duration::minutes(5) {
            return Err(ValidationError::new(
                "placed_at",
                format!("order {}: placed in the future", order.order_no),
            ));
        }
        let mut detail = OrderDetail::new(order);
        detail.shipment = shipment;
        detail.shipping_insurance = self.shipping_insurance;
        Ok((buyer, detail))
    }
}

/// Something that happened to an order on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeedEvent {
    /// The buyer paid.
    Paid { order_no: String },
    /// The buyer cancelled before paying.
    Cancelled {
        order_no: String,
        #[serde(default)]
        reason: String,
    },
    /// The buyer confirmed receipt (确认收货), or the platform did after its deadline.
    Received { order_no: String },
    /// The carrier's tracking events for the order's parcel.
    Logistics {
        order_no: String,
        events: Vec<LogisticsEvent>,
    },
}

impl FeedEvent {
    pub fn order_no(&self) -> &str {
        match self {
            FeedEvent::Paid { order_no }
            | FeedEvent::Cancelled { order_no, .. }
            | FeedEvent::Received { order_no }
            | FeedEvent::Logistics { order_no, .. } => order_no,
        }
    }

    /// The state machine's action and who takes it; `None` for tracking events, which add
    /// to the parcel without changing the order.
    pub fn action(&self) -> Option<(OrderAction, Actor)> {
        match self {
            FeedEvent::Paid { .. } => Some((OrderAction::Pay, Actor::System)),
            FeedEvent::Cancelled { reason, .. } => Some((OrderAction::Cancel { reason: reason.clone() }, Actor::Buyer)),
            FeedEvent::Received { .. } => Some((OrderAction::ConfirmReceipt, Actor::System)),
            FeedEvent::Logistics { .. } => None,
        }
    }
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(body);
    m
}

/// The `X-Kefu-Signature` value for a body: what the sender computes.
pub fn sign_body(secret: &[u8], body: &[u8]) -> String {
    let bytes = mac(secret, body).finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` signs `body` with `secret` (compared in constant time).
pub fn verify_body(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let sig: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex"))
        .collect();
    mac(secret, body).verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
    }

    fn imported() -> ImportedOrder {
        ImportedOrder {
            order_no: "3300112233".into(),
            buyer: ImportedBuyer {
                nick: "tb_小王".into(),
                name: "王小二".into(),
                phone: "13812345678".into(),
                address: "浙江省杭州市西湖区1号".into(),
            },
            state: OrderState::Shipped,
            close_reason: None,
            items: vec![OrderItem {
                product_id: None,
                sku: "A1".into(),
                title: "连体衣".into(),
                unit_price: Fen(5900),
                quantity: 1,
            }],
            shipping_fee: Fen(0),
            address: String::new(),
            placed_at: t(1),
            paid_at: Some(t(2)),
            shipped_at: Some(t(3)),
            completed_at: None,
            closed_at: None,
            carrier: Some("中通快递".into()),
            tracking_no: Some("zt778899001".into()),
            shipping_insurance: true,
        }
    }

    #[test]
    fn an_import_becomes_a_consistent_order_with_its_buyer() {
        let (buyer, d) = imported().check(ShopId::new(), t(9)).unwrap();
        assert_eq!(d.order.customer_id, buyer.id);
        assert_eq!(
            d.order.address, "浙江省杭州市西湖区1号",
            "the buyer's address by default"
        );
        assert_eq!(d.shipment.unwrap().tracking_no, "ZT778899001");
        assert!(d.shipping_insurance);
    }

    #[test]
    fn impossible_imports_are_refused_with_their_order_number() {
        type Break = Box<dyn Fn(&mut ImportedOrder)>;
        let cases: Vec<(&str, Break)> = vec![
            ("order_no", Box::new(|o| o.order_no = "  ".into())),
            ("order_no", Box::new(|o| o.order_no = "12 34".into())),
            ("buyer.nick", Box::new(|o| o.buyer.nick = String::new())),
            ("order 3300112233", Box::new(|o| o.paid_at = None)),
            ("order 3300112233", Box::new(|o| o.items.clear())),
            ("tracking_no", Box::new(|o| o.carrier = None)),
            ("tracking_no", Box::new(|o| o.tracking_no = Some("x".into()))),
            (
                "placed_at",
                Box::new(|o| {
                    o.placed_at = t(20);
                    o.paid_at = Some(t(21));
                    o.shipped_at = Some(t(22));
                }),
            ),
        ];
        for (field, break_it) in cases {
            let mut o = imported();
            break_it(&mut o);
            let e = o.check(ShopId::new(), t(9)).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    #[test]
    fn events_map_to_the_state_machine() {
        let paid: FeedEvent = serde_json::from_str(r#"{"kind":"paid","order_no":"1"}"#).unwrap();
        assert_eq!(paid.action(), Some((OrderAction::Pay, Actor::System)));
        let cancel: FeedEvent = serde_json::from_str(r#"{"kind":"cancelled","order_no":"1"}"#).unwrap();
        assert!(matches!(
            cancel.action(),
            Some((OrderAction::Cancel { .. }, Actor::Buyer))
        ));
        assert!(serde_json::from_str::<FeedEvent>(r#"{"kind":"shipped","order_no":"1"}"#).is_err());
        let track: FeedEvent = serde_json::from_str(
            r#"{"kind":"logistics","order_no":"9","events":[{"at":"2026-11-20T05:00:00Z","status":"delivered","text":"已签收"}]}"#,
        )
        .unwrap();
        assert_eq!((track.order_no(), track.action()), ("9", None));
    }

    #[test]
    fn signatures_check_body_and_secret() {
        let body = br#"{"events":[]}"#;
        let sig = sign_body(b"s3cret", body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify_body(b"s3cret", body, &sig));
        assert!(!verify_body(b"other", body, &sig));
        assert!(!verify_body(b"s3cret", br#"{"events":[1]}"#, &sig));
        assert!(!verify_body(b"s3cret", body, "sha256=zz"));
        assert!(!verify_body(b"s3cret", body, &sig.replace("sha256=", "md5=")));
    }
}
