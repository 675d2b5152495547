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
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/me/replies",
            &token,
            Some(json!({"signature": "小美 · 母婴顾问"})),
        )
        .await;
    assert!(status.is_success());

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
    let card = buyer.until(|f| f["type"] == "agent").await;
    assert_eq!(card["agent"]["signature"], "小美 · 母婴顾问", "the agent's 个性签名");
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
    // Product and order cards, filled from the catalog as they are sent.
    agent
        .send(json!({"type": "message", "conversation_id": conv, "client_id": "a-2",
            "content": {"kind": "product", "sku": "XMA-LT-001", "card": {"title": "假的", "price_fen": 1, "price": "¥0.01", "stock": 0}}}))
        .await;
    let card = buyer
        .until(|f| f["type"] == "event" && f["content"]["kind"] == "product")
        .await;
    assert_eq!(card["content"]["card"]["title"], "婴儿连体衣纯棉春秋款新生儿哈衣爬服");
    assert_eq!(card["content"]["card"]["price"], "¥69.00");
    agent
        .send(json!({"type": "message", "conversation_id": conv, "client_id": "a-2b",
            "content": {"kind": "order", "order_no": "278022765096183836"}}))
        .await;
    let order = buyer
        .until(|f| f["type"] == "event" && f["content"]["kind"] == "order")
        .await;
    assert_eq!(order["content"]["card"]["state"], "completed", "{order}");
    // A buyer's order card stays a number: it must not show whoever's order that is.
    buyer
        .send(json!({"type": "message", "client_id": "c-2c", "content": {"kind": "order", "order_no": "278022765096183836",
            "card": {"state": "paid", "title": "假的", "items": 1, "total_fen": 1, "total": "¥0.01", "created_at": "2026-01-01T00:00:00Z"}}}))
        .await;
    let theirs = agent.until(|f| f["type"] == "event" && f["client_id"] == "c-2c").await;
    assert!(theirs["content"].get("card").is_none(), "{theirs}");
    agent
        .send(json!({"type": "message", "conversation_id": conv, "client_id": "a-3", "content": {"kind": "product", "sku": "NO-SUCH"}}))
        .await;
    let e = agent.until(|f| f["type"] == "error").await;
    assert_eq!(
        (e["error"].as_str(), e["client_id"].as_str()),
        (Some("invalid_value"), Some("a-3"))
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

async fn buyer_in(app: &TestApp, n: usize, group: &str) -> (Ws, Value) {
    buyer_as(app, &visitor(n), group).await
}

async fn buyer_as(app: &TestApp, visitor: &str, group: &str) -> (Ws, Value) {
    let url = format!(
        "{}/api/v1/widget/demo/chat?visitor={visitor}&group={group}",
        app.base.replace("http://", "ws://"),
    );
    let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("buyer socket");
    let mut ws = Ws {
        stream,
        frames: Vec::new(),
    };
    let conv = ws.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    (ws, conv)
}

async fn loads(app: &TestApp, token: &str) -> std::collections::HashMap<String, (i64, String)> {
    let (_, agents) = app.get("/api/v1/chat/agents", token).await;
    agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["display_name"].as_str().unwrap().to_string(),
                (a["load"].as_i64().unwrap(), a["presence"].as_str().unwrap().to_string()),
            )
        })
        .collect()
}

async fn queue_capacity_and_skill_groups_under_load(app: Arc<TestApp>) {
    let owner = always_open(&app).await;
    let (_, mut ajie) = online(&app, "ajie").await; // 售后, capacity 6
    let (_, _xiaomei) = online(&app, "xiaomei").await; // 售前, capacity 8

    // Ten 售后 buyers ask for a person at the same moment.
    let mut tasks = Vec::new();
    for n in 0..10 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ws, conv) = buyer_in(&app, n, "售后").await;
            ws.send(message("h", "转人工")).await;
            let outcome = ws
                .until(|f| (f["type"] == "event" && f["kind"] == "assigned") || f["type"] == "queue")
                .await;
            (ws, conv, outcome)
        }));
    }
    let mut buyers = Vec::new();
    for t in tasks {
        let (mut ws, conv, _) = t.await.unwrap();
        ws.drain().await;
        buyers.push((ws, conv));
    }
    // A buyer may hear its place in the queue before an agent frees up for it: what counts
    // is where each one ends.
    let assigned: Vec<&Value> = buyers
        .iter()
        .filter_map(|(ws, _)| ws.frames.iter().find(|f| f["kind"] == "assigned"))
        .collect();
    assert_eq!(assigned.len(), 6, "capacity 6");
    assert!(
        assigned.iter().all(|o| o["agent_name"] == "阿杰"),
        "售后 chats go to 售后 only"
    );
    let l = loads(&app, &owner).await;
    assert_eq!((l["阿杰"].0, l["小美"].0), (6, 0));
    let (_, queue) = app.get("/api/v1/chat/conversations?view=queue", &owner).await;
    assert_eq!(queue.as_array().unwrap().len(), 4);

    // The waiting ones know their place.
    let mut positions = Vec::new();
    for (ws, conv) in &buyers {
        if ws.frames.iter().any(|f| f["kind"] == "assigned") {
            continue;
        }
        let last = ws
            .frames
            .iter()
            .rfind(|f| f["type"] == "queue")
            .expect("told the place");
        if *conv == queue[0]["id"] {
            assert_eq!(last["position"], 1);
        }
        positions.push(last["position"].as_i64().unwrap());
    }
    positions.sort();
    assert_eq!(positions, vec![1, 2, 3, 4]);
    ajie.drain().await;

    // A freed slot takes the head of the queue.
    let head = queue[0]["id"].clone();
    let first_mine = ajie.frames.iter().find(|f| f["kind"] == "assigned").unwrap()["conversation_id"].clone();
    ajie.send(json!({"type": "close", "conversation_id": first_mine})).await;
    let next = ajie
        .until(|f| f["type"] == "event" && f["kind"] == "assigned" && f["conversation_id"] == head)
        .await;
    assert_eq!(next["agent_name"], "阿杰");
    assert_eq!(loads(&app, &owner).await["阿杰"].0, 6);
    let (_, queue) = app.get("/api/v1/chat/conversations?view=queue", &owner).await;
    assert_eq!(queue.as_array().unwrap().len(), 3);
    // Every chat has at most one assignment.
    let shop = demo_shop(&app).await;
    for (_, conv) in &buyers {
        let id = kefu_core::ids::ConversationId(conv.as_str().unwrap().parse().unwrap());
        let events = app.store.events_after(shop, id, 0, 1000).await.unwrap();
        let n = events
            .iter()
            .filter(|e| matches!(e.body, kefu_core::chat::EventBody::Assigned { .. }))
            .count();
        assert!(n <= 1);
    }
}
on_both_engines!(queue_capacity_and_skill_groups_under_load);

async fn suspend_and_transfer(app: Arc<TestApp>) {
    let owner = always_open(&app).await;
    let (mei_token, mut mei) = online(&app, "xiaomei").await;
    let (mut a, conv_a) = buyer_in(&app, 1, "售前").await;
    a.send(message("h", "转人工")).await;
    a.until(|f| f["kind"] == "assigned").await;

    // Suspended: current chats go on, new ones wait.
    mei.send(json!({"type": "presence", "status": "suspended"})).await;
    mei.until(|f| f["type"] == "presence" && f["status"] == "suspended")
        .await;
    let b_visitor = visitor(2);
    let (mut b, conv_b) = buyer_as(&app, &b_visitor, "售前").await;
    b.send(message("h", "转人工")).await;
    let waiting = b.until(|f| f["type"] == "queue").await;
    assert_eq!(waiting["position"], 1);
    assert_eq!(
        waiting["leave_message"], true,
        "nobody online takes chats: 留言 is offered"
    );
    // Reconnecting, the buyer is told again where they stand and that 留言 is offered.
    let mut b2 = Ws::buyer(&app, &b_visitor, 0).await;
    let welcome = b2.until(|f| f["type"] == "welcome").await;
    assert_eq!(welcome["conversation_id"], conv_b);
    assert_eq!(
        (welcome["queue_position"].as_i64(), &welcome["leave_message"]),
        (Some(1), &json!(true))
    );
    drop(b2);
    // A second waiting buyer gives up and leaves a message instead: out of the queue.
    let (mut c, conv_c) = buyer_in(&app, 4, "售前").await;
    c.send(message("h", "转人工")).await;
    assert_eq!(c.until(|f| f["type"] == "queue").await["position"], 2);
    let r = app
        .client
        .post(app.url("/api/v1/widget/demo/messages"))
        .json(&json!({"session_id": conv_c, "contact": "13800001111", "text": "有空回电话"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let left = c.until(|f| f["kind"] == "closed").await;
    assert_eq!(left["reason"], "left_message");
    let (_, queue) = app.get("/api/v1/chat/conversations?view=queue", &owner).await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    let mut reply = message("r1", "亲，还在的");
    reply["conversation_id"] = conv_a.clone();
    mei.send(reply).await;
    a.until(|f| f["type"] == "event" && f["content"]["text"] == "亲，还在的")
        .await;

    // 转接 to someone offline is refused with the reason.
    let (_, team) = app.get("/api/v1/chat/agents", &mei_token).await;
    let xiaoyu = team
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["display_name"] == "小雨")
        .unwrap()["account_id"]
        .clone();
    mei.send(json!({"type": "transfer", "conversation_id": conv_a, "to": xiaoyu, "note": "退换货"}))
        .await;
    let refused = mei.until(|f| f["type"] == "error").await;
    assert_eq!(refused["error"], "conflict");
    assert!(refused["message"].as_str().unwrap().contains("offline"), "{refused}");

    // Online, 小雨 takes the waiting chat (小美 is suspended), then receives the transfer
    // with its whole history; the buyer is told.
    let (_, mut yu) = online(&app, "xiaoyu").await;
    yu.until(|f| f["kind"] == "assigned" && f["conversation_id"] == conv_b)
        .await;
    mei.send(json!({"type": "transfer", "conversation_id": conv_a, "to": xiaoyu, "note": "退换货"}))
        .await;
    let told = a.until(|f| f["kind"] == "transferred").await;
    assert_eq!(
        (told["to_name"].as_str(), told["note"].as_str()),
        (Some("小雨"), Some("")),
        "the buyer learns who serves them, not the agents' note"
    );
    mei.until(|f| f["kind"] == "transferred").await;
    let handed = yu
        .until(|f| f["kind"] == "transferred" && f["conversation_id"] == conv_a)
        .await;
    assert_eq!(handed["note"], "退换货", "the new agent reads the note");
    let history = yu.seqs(&conv_a);
    assert_eq!(history, (1..=history.len() as i64).collect::<Vec<_>>());
    assert!(
        yu.frames.iter().any(|f| f["content"]["text"] == "亲，还在的"),
        "history goes along"
    );
    let l = loads(&app, &owner).await;
    assert_eq!((l["小美"].0, l["小美"].1.as_str(), l["小雨"].0), (0, "suspended", 2));

    // The old agent can no longer write in it.
    let mut late = message("r2", "还有吗");
    late["conversation_id"] = conv_a.clone();
    mei.send(late).await;
    let e = mei.until(|f| f["type"] == "error").await;
    assert_eq!(
        (e["error"].as_str(), e["client_id"].as_str()),
        (Some("conflict"), Some("r2"))
    );
}
on_both_engines!(suspend_and_transfer);

async fn reconnect_replays_and_bad_frames_change_nothing(app: Arc<TestApp>) {
    always_open(&app).await;
    let me = visitor(7);
    let mut buyer = Ws::buyer(&app, &me, 0).await;
    let conv = buyer.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    for (i, q) in ["怎么退货", "发什么快递", "能开发票吗"].iter().enumerate() {
        buyer.send(message(&format!("q{i}"), q)).await;
        buyer
            .until(|f| f["type"] == "event" && f["sender"]["role"] == "bot")
            .await;
    }
    buyer.drain().await;
    let before = buyer.seqs(&conv);
    let last = *before.last().unwrap();
    assert_eq!(before, (1..=last).collect::<Vec<_>>());
    drop(buyer);

    // Reconnect saying "I have up to 3": exactly 4..=last follow, in order.
    let mut again = Ws::buyer(&app, &me, 3).await;
    let welcome = again.until(|f| f["type"] == "welcome").await;
    assert_eq!(
        (welcome["conversation_id"].clone(), welcome["last_seq"].as_i64()),
        (conv.clone(), Some(last))
    );
    again.drain().await;
    assert_eq!(again.seqs(&conv), (4..=last).collect::<Vec<_>>());
    // A retry of a message sent before the drop is recognised.
    again.send(message("q2", "能开发票吗")).await;
    let ack = again.until(|f| f["type"] == "ack").await;
    assert_eq!(ack["duplicate"], true);

    // Bad frames: an error frame each, and nothing stored.
    let (other, _) = app.other_shop().await;
    let other_visitor = visitor(8);
    let mut stranger = Ws::buyer(&app, &other_visitor, 0).await;
    let theirs = stranger.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    assert_ne!(theirs, conv);
    let _ = other;
    let mut wrong_conv = message("x1", "hi");
    wrong_conv["conversation_id"] = theirs.clone();
    let cases: Vec<(String, &str)> = vec![
        ("not json at all".into(), "bad_frame"),
        (json!({"type": "dance"}).to_string(), "bad_frame"),
        (json!({"type": "message", "client_id": "x2"}).to_string(), "bad_frame"),
        (message("x3", &"好".repeat(6000)).to_string(), "payload_too_large"),
        (message("x4", "   ").to_string(), "invalid_value"),
        (message("bad id!", "hi").to_string(), "invalid_value"),
        (wrong_conv.to_string(), "forbidden"),
        (json!({"type": "presence", "status": "online"}).to_string(), "bad_frame"),
    ];
    for (frame, code) in cases {
        again.send_raw(frame.clone()).await;
        let e = again.until(|f| f["type"] == "error").await;
        assert_eq!(e["error"], code, "{frame:.80}: {e}");
    }
    again.stream.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(again.until(|f| f["type"] == "error").await["error"], "bad_frame");
    let shop = demo_shop(&app).await;
    let id = kefu_core::ids::ConversationId(conv.as_str().unwrap().parse().unwrap());
    assert_eq!(
        app.store.conversation(shop, id).await.unwrap().unwrap().last_seq,
        last,
        "nothing stored"
    );
    // The socket still works.
    again.send(json!({"type": "ping"})).await;
    again.until(|f| f["type"] == "pong").await;

    // An agent cannot reach another shop's conversation, nor one that is not theirs.
    let (_, mut mei) = online(&app, "xiaomei").await;
    let mut foreign = message("f1", "你好");
    foreign["conversation_id"] = conv.clone();
    mei.send(foreign).await;
    assert_eq!(mei.until(|f| f["type"] == "error").await["error"], "conflict");
    mei.send(json!({"type": "sync", "conversation_id": conv, "after": 0}))
        .await;
    assert_eq!(mei.until(|f| f["type"] == "error").await["error"], "forbidden");
    mei.send(json!({"type": "sync", "conversation_id": uuid::Uuid::now_v7(), "after": 0}))
        .await;
    assert_eq!(mei.until(|f| f["type"] == "error").await["error"], "not_found");
}
on_both_engines!(reconnect_replays_and_bad_frames_change_nothing);

async fn links_reach_the_agent_checked(app: Arc<TestApp>) {
    always_open(&app).await;
    let (_, mut mei) = online(&app, "xiaomei").await;
    let (mut buyer, conv) = buyer_in(&app, 3, "售前").await;
    buyer.send(message("h", "转人工")).await;
    mei.until(|f| f["kind"] == "assigned" && f["conversation_id"] == conv)
        .await;
    let text = "看看这个 http://taobao.com@evil.com 还有 https://item.taobao.com/item.htm?id=42 和 t.cn/abc";
    buyer.send(message("l1", text)).await;
    let got = mei
        .until(|f| f["type"] == "event" && f["content"]["text"] == text)
        .await;
    let links = got["links"].as_array().expect("links checked for the agent");
    assert_eq!(links.len(), 3, "{got}");
    assert_eq!(links[0]["verdict"]["kind"], "flagged");
    assert!(
        links[0]["verdict"]["reasons"].to_string().contains("userinfo"),
        "{}",
        links[0]
    );
    assert_eq!(links[1]["verdict"]["kind"], "trusted");
    assert!(
        links[2]["verdict"]["reasons"].to_string().contains("shortener"),
        "{}",
        links[2]
    );
    // The buyer's own copy carries no verdicts (they are for the agent).
    let mine = buyer
        .until(|f| f["type"] == "event" && f["content"]["text"] == text)
        .await;
    assert!(mine.get("links").is_none());
}
on_both_engines!(links_reach_the_agent_checked);

/// A server stopped mid-conversation and started again on the same database has every
/// acknowledged message, in order, once.
#[tokio::test]
async fn a_restart_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let start = |dir: std::path::PathBuf| async move {
        let config = kefu_server::Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir,
            demo: true,
            bot_semantic: false,
            ..Default::default()
        };
        let prepared = kefu_server::prepare(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("ws://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(kefu_server::serve(prepared, listener, async move {
            let _ = rx.await;
        }));
        (base, tx, server)
    };
    let me = visitor(9);
    let (base, stop, server) = start(dir.path().to_path_buf()).await;
    let (stream, _) = tokio_tungstenite::connect_async(format!("{base}/api/v1/widget/demo/chat?visitor={me}"))
        .await
        .unwrap();
    let mut buyer = Ws {
        stream,
        frames: Vec::new(),
    };
    let conv = buyer.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    let mut acked = Vec::new();
    for i in 0..5 {
        buyer
            .send(message(&format!("m{i}"), &format!("第{i}个问题：发什么快递")))
            .await;
        acked.push(buyer.until(|f| f["type"] == "ack").await["seq"].as_i64().unwrap());
    }
    // Stopped while the buyer is still connected.
    stop.send(()).unwrap();
    drop(buyer);
    server.await.unwrap().unwrap();

    let (base, stop, server) = start(dir.path().to_path_buf()).await;
    let (stream, _) = tokio_tungstenite::connect_async(format!("{base}/api/v1/widget/demo/chat?visitor={me}&after=0"))
        .await
        .unwrap();
    let mut again = Ws {
        stream,
        frames: Vec::new(),
    };
    let welcome = again.until(|f| f["type"] == "welcome").await;
    assert_eq!(welcome["conversation_id"], conv, "the same conversation");
    again.drain().await;
    let seqs = again.seqs(&conv);
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    for (i, seq) in acked.iter().enumerate() {
        let e = again
            .frames
            .iter()
            .find(|f| f["seq"] == *seq && f["type"] == "event")
            .expect("acknowledged, kept");
        assert_eq!(e["client_id"], format!("m{i}"));
    }
    // A retry after the restart is still recognised.
    again.send(message("m4", "第4个问题：发什么快递")).await;
    assert_eq!(again.until(|f| f["type"] == "ack").await["duplicate"], true);
    stop.send(()).unwrap();
    drop(again);
    server.await.unwrap().unwrap();
}

async fn signed_buyers_are_known_and_forgeries_refused(app: Arc<TestApp>) {
    let owner = always_open(&app).await;
    let ws_url = |q: &str| format!("{}/api/v1/widget/demo/chat?{q}", app.base.replace("http://", "ws://"));
    let claims = kefu_core::buyer_token::BuyerClaims {
        buyer: "tb_2088001".into(),
        nick: "小王爱买".into(),
        exp: kefu_store::now().timestamp() + 3600,
    };
    // No secret yet: tokens mean nothing.
    let early = kefu_core::buyer_token::sign(&claims, b"not the shop's");
    assert!(
        tokio_tungstenite::connect_async(ws_url(&format!("token={early}")))
            .await
            .is_err()
    );

    let (status, made) = app.call(Method::POST, "/api/v1/shop/widget-secret", &owner, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    assert_eq!(
        app.call(Method::POST, "/api/v1/shop/widget-secret", &agent, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let secret = made["secret"].as_str().unwrap();
    let token = kefu_core::buyer_token::sign(&claims, secret.as_bytes());

    let (mei_token, mut mei) = online(&app, "xiaomei").await;
    let (stream, _) = tokio_tungstenite::connect_async(ws_url(&format!("token={token}")))
        .await
        .unwrap();
    let mut buyer = Ws {
        stream,
        frames: Vec::new(),
    };
    let conv = buyer.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    buyer.send(message("h", "转人工")).await;
    mei.until(|f| f["kind"] == "assigned" && f["conversation_id"] == conv)
        .await;
    let (_, mine) = app.get("/api/v1/chat/conversations", &mei_token).await;
    assert_eq!(mine[0]["buyer_nick"], "小王爱买", "the agent sees who it is");

    // Forged, expired, or for a visitor id that looks like a signed buyer: refused.
    let forged = kefu_core::buyer_token::sign(&claims, b"guessed secret");
    let expired = kefu_core::buyer_token::sign(
        &kefu_core::buyer_token::BuyerClaims {
            exp: kefu_store::now().timestamp() - 1,
            ..claims.clone()
        },
        secret.as_bytes(),
    );
    for q in [
        format!("token={forged}"),
        format!("token={expired}"),
        format!("token={token}&visitor=visitor-0000-aaaaaaaaaaaa"),
        "visitor=buyer:tb_2088001".to_string(),
        "".to_string(),
    ] {
        let refused = tokio_tungstenite::connect_async(ws_url(&q)).await;
        assert!(refused.is_err(), "{q} must be refused");
    }
    // Removing the secret turns tokens off.
    assert_eq!(
        app.call(Method::DELETE, "/api/v1/shop/widget-secret", &owner, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert!(
        tokio_tungstenite::connect_async(ws_url(&format!("token={token}")))
            .await
            .is_err()
    );
}
on_both_engines!(signed_buyers_are_known_and_forgeries_refused);

async fn idle_chats_close_and_free_their_agent(app: Arc<TestApp>) {
    always_open(&app).await;
    let (_, mut mei) = online(&app, "xiaomei").await;
    let (mut buyer, conv) = buyer_in(&app, 11, "售前").await;
    buyer.send(message("h", "转人工")).await;
    mei.until(|f| f["kind"] == "assigned" && f["conversation_id"] == conv)
        .await;
    let shop = demo_shop(&app).await;
    let id = kefu_core::ids::ConversationId(conv.as_str().unwrap().parse().unwrap());
    // Nothing idles yet.
    assert_eq!(kefu_server::chat::close_idle(&app.state).await.unwrap(), 0);
    // Forty minutes of silence (the shop closes after 30).
    let mut c = app.store.conversation(shop, id).await.unwrap().unwrap();
    c.last_activity_at = kefu_store::now() - chrono::Duration::minutes(40);
    let stale = app
        .store
        .idle_conversations(kefu_store::now() - chrono::Duration::minutes(30), 10)
        .await
        .unwrap();
    assert!(stale.is_empty());
    backdate(&app, &c).await;
    assert_eq!(kefu_server::chat::close_idle(&app.state).await.unwrap(), 1);
    let closed = buyer.until(|f| f["kind"] == "closed").await;
    assert_eq!(closed["reason"], "idle");
    mei.until(|f| f["kind"] == "closed").await;
    assert_eq!(
        loads(&app, &app.login("demo", "owner", OWNER_PW).await).await["小美"].0,
        0
    );
}
on_both_engines!(idle_chats_close_and_free_their_agent);

/// Moves a conversation's last activity back through the store's own write path: a system
/// event stamped in the past (the only way a test can make time pass for it).
async fn backdate(app: &TestApp, c: &kefu_core::chat::Conversation) {
    let event = kefu_store::NewEvent {
        sender: kefu_core::chat::Sender::System,
        client_id: None,
        body: kefu_core::chat::EventBody::message(kefu_core::chat::Content::Text {
            text: "（很久以前）".into(),
        }),
        at: c.last_activity_at,
    };
    app.store.append_event(c.shop_id, c.id, &event).await.unwrap();
}

async fn the_bots_intent_picks_the_skill_group(app: Arc<TestApp>) {
    always_open(&app).await;
    let (_, _mei) = online(&app, "xiaomei").await; // 售前
    let (_, mut ajie) = online(&app, "ajie").await; // 售后
    let me = visitor(21);
    let mut buyer = Ws::buyer(&app, &me, 0).await;
    let conv = buyer.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    buyer.send(message("q", "退货的话运费谁出")).await;
    let answer = buyer
        .until(|f| f["type"] == "event" && f["sender"]["role"] == "bot")
        .await;
    assert_eq!(answer["content"]["reply"]["entry"]["category"], "退换货", "{answer}");
    buyer.send(json!({"type": "handoff"})).await;
    let assigned = buyer.until(|f| f["kind"] == "assigned").await;
    assert_eq!(assigned["agent_name"], "阿杰", "a 退换货 question goes to 售后");
    ajie.until(|f| f["kind"] == "assigned" && f["conversation_id"] == conv)
        .await;
}
on_both_engines!(the_bots_intent_picks_the_skill_group);

/// SPEC §1.6: a signed buyer asking after their parcel is answered from their own order; the
/// same words from an anonymous visitor get the FAQ, never someone's order.
async fn the_bot_answers_signed_buyers_from_their_orders(app: Arc<TestApp>) {
    let owner = always_open(&app).await;
    let (_, made) = app.call(Method::POST, "/api/v1/shop/widget-secret", &owner, None).await;
    let secret = made["secret"].as_str().unwrap().to_string();
    let ws_url = |q: &str| format!("{}/api/v1/widget/demo/chat?{q}", app.base.replace("http://", "ws://"));
    let shipped = app.get("/api/v1/orders?q=297879941150572097", &owner).await.1["items"][0].clone();
    assert_eq!(shipped["state"], "shipped");
    let tracking = shipped["shipment"]["tracking_no"].as_str().unwrap().to_string();
    let claims = kefu_core::buyer_token::BuyerClaims {
        buyer: "安安妈2024".into(),
        nick: "安安妈".into(),
        exp: kefu_store::now().timestamp() + 3600,
    };
    let token = kefu_core::buyer_token::sign(&claims, secret.as_bytes());
    let (stream, _) = tokio_tungstenite::connect_async(ws_url(&format!("token={token}")))
        .await
        .unwrap();
    let mut buyer = Ws {
        stream,
        frames: Vec::new(),
    };
    buyer.until(|f| f["type"] == "welcome").await;
    let bot_reply = |f: &Value| f["type"] == "event" && f["content"]["kind"] == "bot";
    buyer.send(message("q1", "亲 我的快递到哪了")).await;
    let reply = buyer.until(bot_reply).await["content"]["reply"].clone();
    assert_eq!(reply["about_order"], "297879941150572097", "{reply}");
    assert!(reply["text"].as_str().unwrap().contains(&tracking), "{reply}");
    assert_eq!(reply["kind"], "answer");

    // Changing the address of a shipped order: the bot says why not, from the order's state.
    buyer.send(message("q2", "地址写错了能改吗")).await;
    let reply = buyer
        .until(|f| {
            bot_reply(f)
                && f["seq"].as_i64() > Some(0)
                && f["content"]["reply"]["question_id"].is_string()
                && f["content"]["reply"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("地址"))
        })
        .await["content"]["reply"]
        .clone();
    assert!(reply["about_order"].is_string(), "{reply}");

    // The same question, anonymous: no order is named.
    let (stream, _) = tokio_tungstenite::connect_async(ws_url(&format!("visitor={}", visitor(77))))
        .await
        .unwrap();
    let mut stranger = Ws {
        stream,
        frames: Vec::new(),
    };
    stranger.until(|f| f["type"] == "welcome").await;
    stranger.send(message("q1", "亲 我的快递到哪了")).await;
    let reply = stranger.until(bot_reply).await["content"]["reply"].clone();
    assert!(reply.get("about_order").is_none(), "{reply}");
    assert!(!reply["text"].as_str().unwrap().contains(&tracking));
    // Nor can the widget's HTTP call claim to be a signed buyer.
    let r = app
        .client
        .post(app.url("/api/v1/widget/demo/ask"))
        .json(&json!({"text": "我的快递到哪了", "visitor": "buyer:安安妈2024"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
on_both_engines!(the_bot_answers_signed_buyers_from_their_orders);

/// Statistics, the live monitor and the satisfaction survey (SPEC §5), from one real chat.
async fn statistics_monitor_and_rating(app: Arc<TestApp>) {
    let owner = always_open(&app).await;
    let (token, mut agent) = online(&app, "xiaomei").await;
    let mut buyer = Ws::buyer(&app, &visitor(7), 0).await;
    let conv = buyer.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    buyer.send(message("s-1", "满多少包邮啊")).await;
    buyer
        .until(|f| f["type"] == "event" && f["sender"]["role"] == "bot")
        .await;
    buyer.send(message("s-2", "转人工")).await;
    agent.until(|f| f["type"] == "event" && f["kind"] == "assigned").await;
    buyer.send(message("s-3", "在吗？")).await;
    agent
        .until(|f| f["type"] == "event" && f["content"]["text"] == "在吗？")
        .await;

    // The monitor: who is online with what load, and the buyer waiting for a reply.
    let (status, m) = app.get("/api/v1/chat/monitor", &owner).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    let mei = m["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["display_name"] == "小美")
        .unwrap();
    assert_eq!(
        (mei["presence"].as_str(), mei["load"].as_i64()),
        (Some("online"), Some(1))
    );
    assert_eq!(
        (m["online"].as_i64(), m["serving"].as_i64(), m["queue_length"].as_i64()),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(m["waiting"][0]["conversation_id"], conv);
    assert_eq!(m["waiting"][0]["state"], "assigned");
    assert_eq!(m["today"]["received"], 1);
    let (status, e) = app.get("/api/v1/chat/monitor", &token).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    // No rating before the agent has answered; then once.
    buyer.send(json!({"type": "rate", "score": 5})).await;
    let e = buyer.until(|f| f["type"] == "error").await;
    assert_eq!(e["error"], "conflict", "{e}");
    let mut reply = message("s-a1", "亲，满99包邮哦");
    reply["conversation_id"] = conv.clone();
    agent.send(reply).await;
    agent.until(|f| f["type"] == "ack").await;
    agent.send(json!({"type": "close", "conversation_id": conv})).await;
    buyer.until(|f| f["type"] == "event" && f["kind"] == "closed").await;
    buyer.send(json!({"type": "rate", "score": 9})).await;
    assert_eq!(buyer.until(|f| f["type"] == "error").await["error"], "invalid_value");
    buyer
        .send(json!({"type": "rate", "score": 4, "comment": "回复很快"}))
        .await;
    let rated = buyer.until(|f| f["type"] == "rated").await;
    assert_eq!(
        (rated["conversation_id"].clone(), rated["score"].as_i64()),
        (conv.clone(), Some(4))
    );
    buyer.send(json!({"type": "rate", "score": 1})).await;
    assert_eq!(
        buyer.until(|f| f["type"] == "error").await["error"],
        "conflict",
        "rated once"
    );

    // Today's report: the chat, its first response, the rating, the bot.
    let (status, r) = app.get("/api/v1/stats", &owner).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["team"]["received"], 1);
    assert_eq!(r["team"]["handled"], 1);
    assert_eq!(r["team"]["messages"], 1);
    assert_eq!(r["team"]["first_response"]["count"], 1);
    assert_eq!(r["team"]["first_response"]["target_ms"], 10_000);
    assert_eq!(r["team"]["reply_wait"]["count"], 1);
    assert!(
        r["team"]["online_ms"].as_i64().unwrap() > 0,
        "xiaomei is online now: {}",
        r["team"]
    );
    let id = r["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["display_name"] == "小美")
        .unwrap()["account_id"]
        .clone();
    let row = r["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == id)
        .unwrap();
    assert_eq!(
        (row["received"].as_i64(), row["satisfaction"]["ratings"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(row["satisfaction"]["share_satisfied"], 1.0);
    assert!(r["bot"]["questions"].as_i64().unwrap() >= 1, "{}", r["bot"]);
    assert_eq!(r["bot"]["handed_off"], 1);
    assert_eq!(r["sales"]["consulted"], 1);
    assert_eq!(r["buckets"].as_array().unwrap().len(), 1);
    let (_, hourly) = app.get("/api/v1/stats?by=hour", &owner).await;
    assert_eq!(hourly["buckets"].as_array().unwrap().len(), 24);
    let in_hours: i64 = hourly["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["received"].as_i64().unwrap())
        .sum();
    assert_eq!(in_hours, 1);

    // An agent sees their own figures only.
    let (_, mine) = app.get("/api/v1/stats", &token).await;
    assert_eq!(mine["team"]["received"], 1);
    assert_eq!(
        mine["bot"]["questions"], 0,
        "the shop's bot figures are the team's business"
    );
    let other = uuid::Uuid::now_v7();
    let (status, _) = app.get(&format!("/api/v1/stats?agent={other}"), &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad periods are refused.
    for bad in [
        "from=2026-11-02&to=2026-11-01",
        "from=2026-01-01&to=2026-12-01",
        "by=hour&from=2026-11-01&to=2026-11-09",
        "by=week",
        "from=yesterday",
    ] {
        let (status, e) = app.get(&format!("/api/v1/stats?{bad}"), &owner).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {e}"
        );
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{bad}: {e}");
    }

    // Export: the same figures as CSV (with a BOM for Excel) and as .xlsx.
    let r = app
        .req(Method::GET, "/api/v1/stats/export", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'), "BOM");
    assert!(csv.lines().next().unwrap().contains("接待量"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with("客服,小美,1,1,0,1,")), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with("合计,")), "{csv}");
    let r = app
        .req(Method::GET, "/api/v1/stats/export?format=xlsx", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"), "an .xlsx is a zip");
}
on_both_engines!(statistics_monitor_and_rating);
