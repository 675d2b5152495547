//! Webhooks (SPEC §7.2): which events a shop's endpoint may subscribe to, what a delivery
//! looks like and how it is signed, which URLs kefu will call, and when a failed delivery is
//! tried again.
//!
//! A receiver checks `X-Kefu-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
//! with the endpoint's secret and `X-Kefu-Timestamp` (Unix seconds): signing the timestamp
//! with the body means a captured request cannot be replayed later with a fresh timestamp.

use crate::ValidationError;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr};

/// What a shop's systems can hear about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// A buyer started a chat (新会话).
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    /// A message in a chat, from the buyer, an agent, the bot or the system.
    #[serde(rename = "message.created")]
    MessageCreated,
    /// An order changed state, address, memo, shipment … (one per recorded action).
    #[serde(rename = "order.updated")]
    OrderUpdated,
    /// An after-sales case was opened or took a step.
    #[serde(rename = "aftersales.updated")]
    AfterSalesUpdated,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::ConversationCreated,
        EventType::MessageCreated,
        EventType::OrderUpdated,
        EventType::AfterSalesUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ConversationCreated => "conversation.created",
            EventType::MessageCreated => "message.created",
            EventType::OrderUpdated => "order.updated",
            EventType::AfterSalesUpdated => "aftersales.updated",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The events an endpoint subscribes to: at least one, each once, in the canonical order.
pub fn check_events(events: &[String]) -> Result<Vec<EventType>, ValidationError> {
    if events.is_empty() {
        return Err(ValidationError::new("events", "subscribe to at least one event"));
    }
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let t = EventType::parse(e.trim()).ok_or_else(|| {
            ValidationError::new(
                format!("events[{i}]"),
                format!(
                    "“{e}” is not an event: use {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort_by_key(|t| EventType::ALL.iter().position(|a| a == t));
    Ok(out)
}

/// The body of every delivery. `id` names the event (the same for every endpoint that gets
/// it); the `X-Kefu-Delivery` header names the delivery, which a receiver can use to ignore
/// a retry it already processed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Envelope {
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The shop's slug.
    pub shop: String,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-Kefu-Signature` value for a delivery sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let bytes = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// What a receiver does: whether `header` signs `timestamp.body` with `secret` (in constant
/// time). Checking that the timestamp is recent is the receiver's choice (5 minutes is usual).
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let sig: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex"))
        .collect();
    mac(secret, timestamp, body).verify_slice(&sig).is_ok()
}

/// A chat as events describe it. Never the visitor id: for an anonymous buyer it is the
/// credential of their chat. A signed buyer appears by their id in the shop's system.
fn conversation_json(c: &crate::chat::Conversation) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "buyer_nick": c.buyer_nick,
        "buyer": c.visitor.strip_prefix("buyer:"),
        "channel": c.channel,
        "skill_group": c.skill_group,
        "state": c.state,
        "agent_id": c.agent_id,
        "created_at": c.created_at,
    })
}

/// The `data` of `conversation.created`.
pub fn conversation_data(c: &crate::chat::Conversation) -> serde_json::Value {
    serde_json::json!({ "conversation": conversation_json(c) })
}

/// The `data` of `message.created`, for message events only: who sent what, without the
/// compliance guard's findings (those are the agents' hints, not part of the message).
pub fn message_data(c: &crate::chat::Conversation, e: &crate::chat::Event) -> Option<serde_json::Value> {
    let crate::chat::EventBody::Message { content, .. } = &e.body else {
        return None;
    };
    Some(serde_json::json!({
        "conversation": conversation_json(c),
        "message": { "seq": e.seq, "sender": e.sender, "content": content, "at": e.at },
    }))
}

/// How many times a delivery is tried before it is given up (then only a replay sends it).
pub const MAX_ATTEMPTS: u32 = 6;

/// How long after the `attempt`-th failed try (1-based) the next one is due: 1 minute,
/// 5 minutes, 30 minutes, 2 hours, 12 hours — about 15 hours in all, so a receiver down
/// overnight still gets the day's events. `None`: that was the last try.
pub fn retry_delay(attempt: u32) -> Option<Duration> {
    match attempt {
        1 => Some(Duration::minutes(1)),
        2 => Some(Duration::minutes(5)),
        3 => Some(Duration::minutes(30)),
        4 => Some(Duration::hours(2)),
        5 => Some(Duration::hours(12)),
        _ => None,
    }
}

/// Whether an answer counts as received: any 2xx. Redirects are not followed (a redirect to
/// an internal address would get round the URL check), so a 3xx is a failure too.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

pub const MAX_URL_CHARS: usize = 500;

/// Checks an endpoint URL: http or https, a host, no user or password in it, and — unless
/// `allow_private` (a single-shop install calling its own LAN) — no loopback, private,
/// link-local or otherwise internal address, so that a shop on a shared kefu cannot make it
/// call the operator's internal services (SSRF). Host names are checked again when a
/// delivery resolves them ([`is_public_ip`]); here only the obvious internal names are refused.
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, ValidationError> {
    let bad = |m: &str| ValidationError::new("url", m);
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(bad("is longer than 500 characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("must not contain a user name or password"));
    }
    let host = match parsed.host() {
        None => return Err(bad("must name a host")),
        Some(h) => h,
    };
    if allow_private {
        return Ok(parsed);
    }
    let internal = "must be a public address: this server does not call loopback, private or internal hosts";
    match host {
        url::Host::Ipv4(ip) if !is_public_ip(IpAddr::V4(ip)) => return Err(bad(internal)),
        url::Host::Ipv6(ip) if !is_public_ip(IpAddr::V6(ip)) => return Err(bad(internal)),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let internal_name = d == "localhost"
                || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
                    .iter()
                    .any(|s| d.ends_with(s))
                || !d.contains('.');
            if internal_name {
                return Err(bad(internal));
            }
        }
        _ => {}
    }
    Ok(parsed)
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, ULA),
/// link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, unspecified,
/// multicast, documentation or benchmarking ranges; IPv4-mapped IPv6 is judged as IPv4.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b)) // NAT64, can reach IPv4 internals
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 carrier-grade NAT
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        || o[0] >= 240)
}

/// A delivery's state in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) try.
    Pending,
    /// A 2xx answer came back.
    Delivered,
    /// Every try failed; a replay queues it again.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// What becomes of a delivery after its `attempt`-th try (1-based) at `now`, when it is
/// given up after `max_attempts` tries (at most [`MAX_ATTEMPTS`]): delivered, due again
/// later, or failed for good. Pure, so the store writes whatever this says. A replayed
/// delivery goes on counting, so its try after a replay is its last unless it succeeds.
pub fn after_attempt(
    attempt: u32,
    max_attempts: u32,
    succeeded: bool,
    now: DateTime<Utc>,
) -> (DeliveryStatus, Option<DateTime<Utc>>) {
    if succeeded {
        return (DeliveryStatus::Delivered, None);
    }
    match retry_delay(attempt).filter(|_| attempt < max_attempts.min(MAX_ATTEMPTS)) {
        Some(d) => (DeliveryStatus::Pending, Some(now + d)),
        None => (DeliveryStatus::Failed, None),
    }
}

/// Only failed deliveries are replayed: a pending one will be tried anyway, and replaying
/// a delivered one would make the receiver process the event twice.
pub fn may_replay(status: DeliveryStatus) -> Result<(), &'static str> {
    match status {
        DeliveryStatus::Failed => Ok(()),
        DeliveryStatus::Pending => Err("this delivery is still being tried; wait for it to fail first"),
        DeliveryStatus::Delivered => Err("this delivery was received; replaying it would repeat the event"),
    }
}

/// An error text fit for the delivery log: one line, at most 300 characters.
pub fn log_error(e: &str) -> String {
    let one_line: String = e.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retries_back_off_and_give_up() {
        let delays: Vec<_> = (1..=MAX_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(
            delays,
            vec![
                Some(Duration::minutes(1)),
                Some(Duration::minutes(5)),
                Some(Duration::minutes(30)),
                Some(Duration::hours(2)),
                Some(Duration::hours(12)),
                None
            ]
        );
        assert_eq!(retry_delay(0), None);
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let m = MAX_ATTEMPTS;
        assert_eq!(after_attempt(1, m, true, now), (DeliveryStatus::Delivered, None));
        assert_eq!(
            after_attempt(1, m, false, now),
            (DeliveryStatus::Pending, Some(now + Duration::minutes(1)))
        );
        assert_eq!(
            after_attempt(5, m, false, now),
            (DeliveryStatus::Pending, Some(now + Duration::hours(12)))
        );
        assert_eq!(after_attempt(m, m, false, now), (DeliveryStatus::Failed, None));
        assert_eq!(after_attempt(m + 3, m, false, now), (DeliveryStatus::Failed, None));
        // Fewer tries when configured so; never more than the schedule has.
        assert_eq!(after_attempt(1, 1, false, now), (DeliveryStatus::Failed, None));
        assert_eq!(after_attempt(2, 3, false, now).0, DeliveryStatus::Pending);
        assert_eq!(after_attempt(6, 99, false, now), (DeliveryStatus::Failed, None));
    }

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let s = sign(b"whsec_x", 1_700_000_000, br#"{"a":1}"#);
        assert!(s.starts_with("sha256=") && s.len() == 71);
        assert!(verify(b"whsec_x", 1_700_000_000, br#"{"a":1}"#, &s));
        assert!(!verify(b"whsec_x", 1_700_000_001, br#"{"a":1}"#, &s));
        assert!(!verify(b"whsec_y", 1_700_000_000, br#"{"a":1}"#, &s));
        assert!(!verify(b"whsec_x", 1_700_000_000, br#"{"a":2}"#, &s));
        assert!(!verify(b"whsec_x", 1_700_000_000, br#"{"a":1}"#, "sha256=zz"));
        // Known answer: HMAC-SHA256("key", "1.x").
        let mut m = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        m.update(b"1.x");
        let want: String = m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sign(b"key", 1, b"x"), format!("sha256={want}"));
    }

    #[test]
    fn urls_must_be_public_http() {
        assert!(check_url("https://hooks.example.com/kefu", false).is_ok());
        assert!(check_url("http://203.0.113.9/x", true).is_ok());
        for bad in [
            "ftp://example.com/x",
            "javascript:alert(1)",
            "https://user:pw@example.com/",
            "not a url",
            "https://127.0.0.1/",
            "http://localhost:8080/",
            "http://foo.localhost/",
            "http://10.1.2.3/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://intranet/",
            "http://db.internal/",
        ] {
            let e = check_url(bad, false).unwrap_err();
            assert_eq!(e.field, "url", "{bad}");
        }
        // A single-shop install may call its own network.
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(500)), false).is_err());
    }

    #[test]
    fn public_addresses() {
        assert!(is_public_ip("8.8.8.8".parse().unwrap()));
        assert!(is_public_ip("2400:3200::1".parse().unwrap()));
        assert!(!is_public_ip("127.0.0.53".parse().unwrap()));
        assert!(!is_public_ip("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!is_public_ip("198.18.0.1".parse().unwrap()));
        assert!(!is_public_ip(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn events_are_checked_and_ordered() {
        let e = check_events(&[
            "order.updated".into(),
            "conversation.created".into(),
            "order.updated".into(),
        ])
        .unwrap();
        assert_eq!(e, vec![EventType::ConversationCreated, EventType::OrderUpdated]);
        assert_eq!(check_events(&[]).unwrap_err().field, "events");
        assert_eq!(check_events(&["order.paid".into()]).unwrap_err().field, "events[0]");
        assert_eq!(
            serde_json::to_string(&EventType::AfterSalesUpdated).unwrap(),
            "\"aftersales.updated\""
        );
    }

    #[test]
    fn events_never_carry_the_visitor_id() {
        use crate::chat::{Content, Conversation, Event, EventBody, Sender};
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let c = Conversation::new(
            crate::ids::ShopId(uuid::Uuid::nil()),
            "secret-visitor-id-123456".into(),
            "访客123456".into(),
            "web".into(),
            at,
        );
        let d = conversation_data(&c).to_string();
        assert!(!d.contains("secret-visitor-id") && d.contains("访客123456"), "{d}");
        let e = Event {
            conversation_id: c.id,
            seq: 2,
            sender: Sender::Buyer,
            client_id: None,
            body: EventBody::message(Content::Text { text: "在吗".into() }),
            at,
        };
        let m = message_data(&c, &e).unwrap();
        assert_eq!(m["message"]["content"]["text"], "在吗");
        assert_eq!(m["message"]["sender"]["role"], "buyer");
        let closed = Event {
            body: EventBody::Reopened,
            ..e
        };
        assert!(message_data(&c, &closed).is_none());
        let mut signed = c.clone();
        signed.visitor = "buyer:tb_42".into();
        assert_eq!(conversation_data(&signed)["conversation"]["buyer"], "tb_42");
    }

    #[test]
    fn only_failed_deliveries_replay() {
        assert!(may_replay(DeliveryStatus::Failed).is_ok());
        assert!(may_replay(DeliveryStatus::Pending).is_err());
        assert!(may_replay(DeliveryStatus::Delivered).is_err());
        assert_eq!(log_error("a\n  b\tc"), "a b c");
    }
}
