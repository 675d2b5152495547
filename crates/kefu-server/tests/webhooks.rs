//! Webhooks (SPEC §7.2), black-box on both engines: a receiver started by the test gets
//! signed events for a new chat, its messages and order changes; a receiver answering 500
//! is tried again on the backoff schedule (the server's clock moved on, not slept through)
//! until given up, and a replay sends it once more; another shop sees nothing, agents may
//! not manage endpoints, and internal URLs are refused unless the server allows them.

mod common;

use axum::http::HeaderMap;
use common::*;
use futures_util::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on a local port: keeps every request, answers with `status`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (g, s) = (got.clone(), status.clone());
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (g, s) = (g.clone(), s.clone());
            async move {
                g.lock().unwrap().push(Received {
                    headers,
                    body: body.to_vec(),
                });
                axum::http::StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/kefu-hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got, status }
    }

    fn of_type(&self, kind: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.header("x-kefu-event") == kind)
            .cloned()
            .collect()
    }

    /// Waits (at most 10 s) until `n` requests of `kind` arrived.
    async fn wait_for(&self, kind: &str, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.of_type(kind);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{kind}: {} of {n} arrived", self.of_type(kind).len());
    }
}

fn allow_private(c: &mut kefu_server::Config) {
    c.webhooks.allow_private = true;
}

/// Checks a delivery as a receiver would: signature over "timestamp.body" with the secret.
fn assert_signed(r: &Received, secret: &str) {
    let ts: i64 = r.header("x-kefu-timestamp").parse().expect("a timestamp");
    let sig = r.header("x-kefu-signature");
    assert!(
        kefu_core::webhooks::verify(secret.as_bytes(), ts, &r.body, sig),
        "signature {sig}"
    );
    assert!(!kefu_core::webhooks::verify(b"another secret", ts, &r.body, sig));
    assert!(!r.header("x-kefu-delivery").is_empty());
    assert_eq!(r.header("content-type"), "application/json");
}

async fn create_hook(app: &TestApp, token: &str, url: &str, events: &[&str]) -> (String, String) {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/webhooks",
            token,
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    (body["webhook"]["id"].as_str().unwrap().to_string(), secret)
}

async fn log(app: &TestApp, token: &str, hook: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn signed_events_for_chats_and_orders(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let receiver = Receiver::start().await;

    // Agents may not manage endpoints; bad input is refused with its field and changes nothing.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/webhooks",
            &agent,
            Some(json!({"url": receiver.url, "events": ["order.updated"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(app.get("/api/v1/webhooks", &agent).await.0, StatusCode::FORBIDDEN);
    for (body, field) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["order.updated"]}),
            "url",
        ),
        (
            json!({"url": "javascript:alert(1)", "events": ["order.updated"]}),
            "url",
        ),
        (json!({"url": receiver.url, "events": []}), "events"),
        (json!({"url": receiver.url, "events": ["order.paid"]}), "events[0]"),
    ] {
        let (status, err) = app.call(Method::POST, "/api/v1/webhooks", &owner, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["field"], field, "{err}");
        assert!(err["error"].is_string() && err["message"].is_string());
    }
    assert_eq!(app.get("/api/v1/webhooks", &owner).await.1, json!([]));

    let (hook, secret) = create_hook(
        &app,
        &owner,
        &receiver.url,
        &["order.updated", "conversation.created", "message.created"],
    )
    .await;
    let (status, listed) = app.get("/api/v1/webhooks", &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed[0]["events"],
        json!(["conversation.created", "message.created", "order.updated"])
    );
    assert!(!listed.to_string().contains(&secret), "the secret is shown once only");

    // A new chat and a message.
    let visitor = "webhook-visitor-0001";
    let url = format!(
        "{}/api/v1/widget/demo/chat?visitor={visitor}",
        app.base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(
        json!({"type": "message", "client_id": "m-1", "content": {"kind": "text", "text": "请问什么时候发货"}})
            .to_string(),
    ))
    .await
    .unwrap();
    let created = receiver.wait_for("conversation.created", 1).await;
    assert_signed(&created[0], &secret);
    let event = created[0].json();
    assert_eq!(
        (event["type"].as_str(), event["shop"].as_str()),
        (Some("conversation.created"), Some("demo"))
    );
    assert!(event["id"].is_string() && event["occurred_at"].is_string());
    assert!(!created[0].json().to_string().contains(visitor), "never the visitor id");
    let conversation = event["data"]["conversation"]["id"].clone();
    let mut found = false;
    for _ in 0..200 {
        found = receiver.of_type("message.created").iter().any(|r| {
            let e = r.json();
            e["data"]["message"]["content"]["text"] == "请问什么时候发货"
                && e["data"]["conversation"]["id"] == conversation
        });
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(found, "the buyer's message arrives");
    for r in receiver.of_type("message.created") {
        assert_signed(&r, &secret);
    }
    ws.close(None).await.ok();

    // An order change.
    let (_, orders) = app.get("/api/v1/orders?state=awaiting_payment&limit=1", &owner).await;
    let order = orders["items"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{order}/actions"),
            &owner,
            Some(json!({"action": "set_memo", "memo": "周末送达"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = receiver.wait_for("order.updated", 1).await;
    assert_signed(&changed[0], &secret);
    let e = changed[0].json();
    assert_eq!(e["data"]["order"]["id"], order.as_str());
    assert_eq!(e["data"]["order"]["seller_memo"], "周末送达");

    // An after-sales case opened: an endpoint subscribed to it hears of it, this one does not.
    let (cases, cases_secret) = create_hook(&app, &owner, &receiver.url, &["aftersales.updated"]).await;
    let (_, paid) = app.get("/api/v1/orders?state=paid&limit=1", &owner).await;
    let paid = paid["items"][0]["id"].as_str().unwrap().to_string();
    let (status, case) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{paid}/after-sales"),
            &owner,
            Some(json!({"kind": "refund_only", "reason": "unwanted", "amount": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let opened = receiver.wait_for("aftersales.updated", 1).await;
    assert_eq!(opened.len(), 1, "one subscribed endpoint, one delivery");
    assert_signed(&opened[0], &cases_secret);
    let e = opened[0].json();
    assert_eq!(e["data"]["after_sales"]["id"], case["id"]);
    assert_eq!(e["data"]["step"]["to"], "requested");
    assert_eq!(log(&app, &owner, &cases).await["total"], 1);

    // The log shows each delivery as received.
    let l = log(&app, &owner, &hook).await;
    assert!(l["total"].as_i64().unwrap() >= 3, "{l}");
    let d = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "order.updated")
        .unwrap();
    for _ in 0..100 {
        let l = log(&app, &owner, &hook).await;
        let d = l["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["event_type"] == "order.updated")
            .unwrap()
            .clone();
        if d["status"] == "delivered" {
            assert_eq!(d["attempts"], 1);
            assert_eq!(d["last_status"], 200);
            assert_eq!(d["tries"][0]["status_code"], 200);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(changed[0].header("x-kefu-delivery"), d["id"].as_str().unwrap());

    // Another shop sees none of it; a disabled endpoint gets nothing.
    app.other_shop().await;
    let boss = app.login("other", "boss", OWNER_PW).await;
    assert_eq!(app.get("/api/v1/webhooks", &boss).await.1, json!([]));
    for path in [
        format!("/api/v1/webhooks/{hook}"),
        format!("/api/v1/webhooks/{hook}/deliveries"),
    ] {
        assert_eq!(app.get(&path, &boss).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/v1/webhooks/{hook}"), &boss, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/deliveries/{}/replay", d["id"].as_str().unwrap()),
            &boss,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/webhooks/{hook}"),
            &owner,
            Some(json!({"url": receiver.url, "events": ["order.updated"], "enabled": false})),
        )
        .await;
    assert_eq!((status, &body["enabled"]), (StatusCode::OK, &json!(false)), "{body}");

    // Rotating the secret: the old one no longer signs.
    let (status, rotated) = app
        .call(Method::POST, &format!("/api/v1/webhooks/{hook}/secret"), &owner, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/v1/webhooks/{hook}"), &owner, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{hook}"), &owner).await.0,
        StatusCode::NOT_FOUND
    );
}
on_both_engines_with!(signed_events_for_chats_and_orders, super::allow_private);

/// Reads the log until the order delivery has `attempts` tries (the background sender may
/// be the one that made the last).
async fn tried(app: &TestApp, token: &str, hook: &str, attempts: u64) -> Value {
    for _ in 0..200 {
        let l = log(app, token, hook).await;
        let d = l["items"][0].clone();
        if d["attempts"].as_u64() == Some(attempts) && d["tries"].as_array().map(Vec::len) == Some(attempts as usize) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {attempts} tries: {}", log(app, token, hook).await);
}

async fn failures_back_off_then_replay(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let receiver = Receiver::start().await;
    receiver.status.store(500, Ordering::SeqCst);
    let (hook, secret) = create_hook(&app, &owner, &receiver.url, &["order.updated"]).await;
    let start = chrono::Utc::now();
    app.state.clock.set(Some(start));

    let (_, orders) = app.get("/api/v1/orders?state=awaiting_payment&limit=1", &owner).await;
    let order = orders["items"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{order}/actions"),
            &owner,
            Some(json!({"action": "set_flag", "flag": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Tried at once, then after 1 min, 5 min, 30 min, 2 h and 12 h: six tries, then given up.
    let d = tried(&app, &owner, &hook, 1).await;
    assert_eq!((&d["status"], &d["last_status"]), (&json!("pending"), &json!(500)));
    assert!(d["last_error"].as_str().unwrap().contains("500"));
    let next: chrono::DateTime<chrono::Utc> = serde_json::from_value(d["next_attempt_at"].clone()).unwrap();
    assert_eq!((next - app.state.clock.now()).num_seconds(), 60);
    // Not due yet: nothing happens.
    assert_eq!(kefu_server::outbox::deliver_due(&app.state).await.unwrap(), 0);
    for (n, wait) in [(2, 1), (3, 5), (4, 30), (5, 120), (6, 720)] {
        app.state.clock.advance(chrono::Duration::minutes(wait));
        kefu_server::outbox::deliver_due(&app.state).await.unwrap();
        let d = tried(&app, &owner, &hook, n).await;
        let expected = if n == 6 { "failed" } else { "pending" };
        assert_eq!(d["status"], expected, "{d}");
    }
    app.state.clock.advance(chrono::Duration::days(2));
    kefu_server::outbox::deliver_due(&app.state).await.unwrap();
    let d = tried(&app, &owner, &hook, 6).await;
    assert!(d["next_attempt_at"].is_null());
    let got = receiver.of_type("order.updated");
    assert_eq!(got.len(), 6);
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.header("x-kefu-delivery").to_string()).collect();
    assert_eq!(ids.len(), 1, "every try is the same delivery");
    assert!(got.iter().all(|r| r.body == got[0].body));

    // Replay: agents may not; the owner re-queues it and it is received.
    let replay = format!("/api/v1/webhooks/deliveries/{}/replay", d["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::POST, &replay, &agent, None).await.0,
        StatusCode::FORBIDDEN
    );
    receiver.status.store(204, Ordering::SeqCst);
    let (status, body) = app.call(Method::POST, &replay, &owner, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "pending");
    kefu_server::outbox::deliver_due(&app.state).await.unwrap();
    let d = tried(&app, &owner, &hook, 7).await;
    assert_eq!((&d["status"], &d["last_status"]), (&json!("delivered"), &json!(204)));
    let last = receiver.of_type("order.updated").last().unwrap().clone();
    assert_signed(&last, &secret);
    // A delivered one is not replayed.
    let (status, body) = app.call(Method::POST, &replay, &owner, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    app.state.clock.set(None);
}
on_both_engines_with!(failures_back_off_then_replay, super::allow_private);

/// With the default configuration (a shared server), internal addresses are refused.
async fn internal_urls_are_refused(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ] {
        let (status, err) = app
            .call(
                Method::POST,
                "/api/v1/webhooks",
                &owner,
                Some(json!({"url": url, "events": ["order.updated"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {err}");
        assert_eq!(err["field"], "url");
    }
    let (hook, _) = create_hook(&app, &owner, "https://hooks.example.com/kefu", &["order.updated"]).await;
    let (status, err) = app
        .call(
            Method::PUT,
            &format!("/api/v1/webhooks/{hook}"),
            &owner,
            Some(json!({"url": "http://192.168.1.1/", "events": ["order.updated"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{hook}"), &owner).await.1["url"],
        "https://hooks.example.com/kefu"
    );
}
on_both_engines!(internal_urls_are_refused);
