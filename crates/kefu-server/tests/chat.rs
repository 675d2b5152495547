//! Real-time chat, black-box: real WebSocket clients (tokio-tungstenite) against the real
//! server on SQLite and PostgreSQL. A buyer talks to the bot, is handed over, routed by load,
//! capacity and skill group, queued, transferred; reconnects replay without loss or repeats;
//! bad frames change nothing; a restart loses nothing acknowledged.

mod common;

use common::{AGENT_PW, OWNER_PW, TestApp};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A chat client that keeps every frame it has read.
struct Ws {
    stream: Stream,
    frames: Vec<Value>,
}

impl Ws {
    async fn buyer(app: &TestApp, visitor: &str, after: i64) -> Ws {
        let url = format!(
            "{}/api/v1/widget/demo/chat?visitor={visitor}&after={after}",
            app.base.replace("http://", "ws://")
        );
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("buyer socket");
        Ws {
            stream,
            frames: Vec::new(),
        }
    }

    async fn agent(app: &TestApp, token: &str) -> Ws {
        let mut req = format!("{}/api/v1/chat/socket", app.base.replace("http://", "ws://"))
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(req).await.expect("agent socket");
        let mut ws = Ws {
            stream,
            frames: Vec::new(),
        };
        ws.until(|f| f["type"] == "agent_welcome").await;
        ws
    }

    async fn send(&mut self, v: Value) {
        self.stream.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn send_raw(&mut self, text: String) {
        self.stream.send(Message::text(text)).await.unwrap();
    }

    /// The next frame, or None after `wait` of silence.
    async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(wait, self.stream.next()).await.ok()??.ok()?;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                self.frames.push(v.clone());
                return Some(v);
            }
        }
    }

    /// Reads until a frame matches, failing after 10 s.
    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next_within(Duration::from_secs(10)).await {
                Some(f) if pred(&f) => return f,
                Some(_) => {}
                None => panic!("no matching frame; got {:#?}", self.frames),
            }
        }
    }

    /// Everything that arrives until 300 ms of silence.
    async fn drain(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(f) = self.next_within(Duration::from_millis(300)).await {
            out.push(f);
        }
        out
    }

    /// Sequence numbers of the events read so far, for one conversation.
    fn seqs(&self, conversation: &Value) -> Vec<i64> {
        self.frames
            .iter()
            .filter(|f| f["type"] == "event" && &f["conversation_id"] == conversation)
            .map(|f| f["seq"].as_i64().unwrap())
            .collect()
    }
}

fn message(client_id: &str, text: &str) -> Value {
    json!({"type": "message", "client_id": client_id, "content": {"kind": "text", "text": text}})
}

fn visitor(n: usize) -> String {
    format!("visitor-{n:04}-{}", uuid::Uuid::now_v7().simple())
}

/// Open around the clock, so that hand-overs do not depend on the hour the tests run.
async fn always_open(app: &TestApp) -> String {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let mut settings = app.get("/api/v1/shop/settings", &owner).await.1;
    settings["business_hours"] = json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}]);
    let (status, body) = app
        .call(Method::PUT, "/api/v1/shop/settings", &owner, Some(settings))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    owner
}

async fn demo_shop(app: &TestApp) -> kefu_core::ids::ShopId {
    let slug = kefu_core::shop::ShopSlug::parse("demo").unwrap();
    app.store.shop_by_slug(&slug).await.unwrap().unwrap().id
}

async fn online(app: &TestApp, username: &str) -> (String, Ws) {
    let token = app.login("demo", username, AGENT_PW).await;
    let mut ws = Ws::agent(app, &token).await;
    ws.send(json!({"type": "presence", "status": "online"})).await;
    ws.until(|f| f["type"] == "presence" && f["status"] == "online").await;
    (token, ws)
}

async fn buyer_bot_handoff_agent_close(app: Arc<TestApp>) {
    always_open(&app).await;
    let (token, mut agent) = online(&app, "xiaomei").await;

    let me = visitor(1);
    let mut buyer = Ws::buyer(&app, &me, 0).await;
    let welcome = buyer.until(|f| f["type"] == "welcome").await;
    assert_eq!(welcome["state"], "bot");
    let conv = welcome["conversation_id"].clone();
    let greeting = buyer.until(|f| f["type"] == "event").await;
    assert_eq!(
        (greeting["seq"].as_i64(), greeting["sender"]["role"].as_str()),
        (Some(1), Some("system"))
    );

    // The bot answers; a retried message is acknowledged again, stored once.
    buyer.send(message("c-1", "满多少包邮啊")).await;
    let ack = buyer.until(|f| f["type"] == "ack").await;
    assert_eq!(
        (ack["seq"].as_i64(), ack["duplicate"].as_bool()),
        (Some(2), Some(false))
    );
    let answer = buyer
        .until(|f| f["type"] == "event" && f["sender"]["role"] == "bot")
        .await;
    assert_eq!(answer["content"]["kind"], "bot");
    assert_eq!(answer["content"]["reply"]["kind"], "answer", "{answer}");
    buyer.send(message("c-1", "满多少包邮啊")).await;
    let again = buyer.until(|f| f["type"] == "ack").await;
    assert_eq!(
        (again["seq"].as_i64(), again["duplicate"].as_bool()),
        (Some(2), Some(true))
    );

    // 转人工: queued, then assigned to the agent online, who gets the whole history.
    buyer.send(message("c-2", "转人工")).await;
    let assigned = buyer.until(|f| f["type"] == "event" && f["kind"] == "assigned").await;
    assert_eq!(assigned["agent_name"], "小美");
    let seen = agent.until(|f| f["type"] == "event" && f["kind"] == "assigned").await;
    assert_eq!(seen["conversation_id"], conv);
    let history = agent.seqs(&conv);
    assert_eq!(
        history,
        (1..=history.len() as i64).collect::<Vec<_>>(),
        "whole history, in order"
    );
    assert!(agent.frames.iter().any(|f| f["content"]["text"] == "满多少包邮啊"));
    let (_, mine) = app.get("/api/v1/chat/conversations", &token).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["id"], conv);

    // Talking: typing, a question, a reply, read receipts.
    buyer.send(json!({"type": "typing"})).await;
    agent.until(|f| f["type"] == "typing" && f["from"] == "buyer").await;
    buyer.send(message("c-2b", "在吗？")).await;
    agent
        .until(|f| f["type"] == "event" && f["content"]["text"] == "在吗？")
        .await;
    let mut reply = message("a-1", "亲，满99包邮哦");
    reply["conversation_id"] = conv.clone();
    agent.send(reply).await;
    let ack = agent.until(|f| f["type"] == "ack").await;
    let got = buyer
        .until(|f| f["type"] == "event" && f["sender"]["role"] == "agent")
        .await;
    assert_eq!(
        (got["seq"].clone(), got["content"]["text"].as_str()),
        (ack["seq"].clone(), Some("亲，满99包邮哦"))
    );
    buyer.send(json!({"type": "read", "seq": got["seq"]})).await;
    agent.until(|f| f["type"] == "read" && f["by"] == "buyer").await;

    // Closing (ESC): both sides hear it; the buyer writing again reopens with the bot.
    agent.send(json!({"type": "close", "conversation_id": conv})).await;
    buyer.until(|f| f["type"] == "event" && f["kind"] == "closed").await;
    agent.until(|f| f["type"] == "event" && f["kind"] == "closed").await;
    buyer.send(message("c-3", "还有个问题")).await;
    buyer.until(|f| f["type"] == "event" && f["kind"] == "reopened").await;
    buyer
        .until(|f| f["type"] == "event" && f["sender"]["role"] == "bot")
        .await;
    let all = buyer.seqs(&conv);
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(all, unique, "no event twice");
    assert_eq!(all, (1..=all.len() as i64).collect::<Vec<_>>(), "no gap");

    let stats: Vec<String> = app
        .store
        .stat_events(demo_shop(&app).await, kefu_store::now() - chrono::Duration::hours(1))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.kind)
        .collect();
    for k in ["received", "assigned", "first_response", "reply_wait", "closed"] {
        assert!(stats.iter().any(|s| s == k), "{k} recorded: {stats:?}");
    }
}
on_both_engines!(buyer_bot_handoff_agent_close);
