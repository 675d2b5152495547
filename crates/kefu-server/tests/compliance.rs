//! The compliance guard (违规提醒, SPEC §2.9), black-box on both engines: a real agent socket
//! sends 加我微信 abc123 — with the shop warning it is stored, flagged for the agents (never
//! for the buyer) and counted; with the shop blocking it is refused with an `error` frame and
//! nothing is stored. The check the workbench calls while the agent types, quick phrases when
//! saved or imported, and the setting's validation.

mod common;

use common::{AGENT_PW, OWNER_PW, TestApp};
use futures_util::{SinkExt, StreamExt};
use kefu_core::chat::{Content, EventBody, HandoffReason};
use kefu_core::ids::{ConversationId, ShopId};
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
    async fn connect(req: impl IntoClientRequest + Unpin) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(req).await.expect("socket");
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
        let mut ws = Ws::connect(req).await;
        ws.until(|f| f["type"] == "agent_welcome").await;
        ws
    }

    async fn buyer(app: &TestApp, visitor: &str) -> Ws {
        let url = format!(
            "{}/api/v1/widget/demo/chat?visitor={visitor}&after=0",
            app.base.replace("http://", "ws://")
        );
        let mut ws = Ws::connect(url).await;
        ws.until(|f| f["type"] == "welcome").await;
        ws
    }

    async fn send(&mut self, v: Value) {
        self.stream.send(Message::text(v.to_string())).await.unwrap();
    }

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
}

fn message(conversation: &Value, client_id: &str, text: &str) -> Value {
    json!({"type": "message", "conversation_id": conversation, "client_id": client_id,
        "content": {"kind": "text", "text": text}})
}

async fn demo_shop(app: &TestApp) -> ShopId {
    let slug = kefu_core::shop::ShopSlug::parse("demo").unwrap();
    app.store.shop_by_slug(&slug).await.unwrap().unwrap().id
}

async fn put_settings(app: &TestApp, owner: &str, change: impl FnOnce(&mut Value)) -> (StatusCode, Value) {
    let mut s = app.get("/api/v1/shop/settings", owner).await.1;
    change(&mut s);
    app.call(Method::PUT, "/api/v1/shop/settings", owner, Some(s)).await
}

/// Open around the clock, so that hand-overs do not depend on the hour the tests run; and the
/// guard in `mode`.
async fn shop_in_mode(app: &TestApp, mode: &str) -> String {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (status, body) = put_settings(app, &owner, |s| {
        s["business_hours"] = json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}]);
        s["compliance"]["mode"] = json!(mode);
    })
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    owner
}

/// xiaomei online, and a signed buyer's chat handed to her (the buyer's messages stored
/// through the chat's own operations).
async fn chat_with_xiaomei(app: &TestApp, nick: &str, said: &[&str]) -> (String, Ws, ConversationId) {
    let token = app.login("demo", "xiaomei", AGENT_PW).await;
    let mut agent = Ws::agent(app, &token).await;
    agent.send(json!({"type": "presence", "status": "online"})).await;
    agent
        .until(|f| f["type"] == "presence" && f["status"] == "online")
        .await;
    let shop = demo_shop(app).await;
    let visitor = format!("buyer:{nick}");
    let c = kefu_server::chat::buyer_conversation(&app.state, shop, &visitor, Some(nick), "web", None)
        .await
        .unwrap();
    for (i, text) in said.iter().enumerate() {
        kefu_server::chat::buyer_message(
            &app.state,
            shop,
            c.id,
            format!("b-{i}"),
            Content::Text { text: (*text).into() },
        )
        .await
        .unwrap();
    }
    kefu_server::chat::handoff(&app.state, shop, c.id, HandoffReason::Asked)
        .await
        .unwrap();
    let id = json!(c.id);
    agent
        .until(|f| f["type"] == "event" && f["kind"] == "assigned" && f["conversation_id"] == id)
        .await;
    agent.drain().await;
    (token, agent, c.id)
}

async fn agent_texts(app: &TestApp, c: ConversationId) -> Vec<(String, Vec<String>)> {
    let shop = demo_shop(app).await;
    app.store
        .events_after(shop, c, 0, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.sender, kefu_core::chat::Sender::Agent(_)))
        .filter_map(|e| match e.body {
            EventBody::Message {
                content: Content::Text { text },
                compliance,
            } => Some((text, compliance.iter().map(|f| f.kind.as_str().to_string()).collect())),
            _ => None,
        })
        .collect()
}

async fn warnings_of(app: &TestApp, owner: &str, name: &str) -> i64 {
    let (status, r) = app.get("/api/v1/stats", owner).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let id = r["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["display_name"] == name)
        .unwrap()["account_id"]
        .clone();
    r["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == id)
        .map_or(0, |a| a["compliance_warnings"].as_i64().unwrap())
}

async fn warn_mode_sends_and_flags(app: Arc<TestApp>) {
    let owner = shop_in_mode(&app, "warn").await;
    // An anonymous buyer on a real widget socket, handed to xiaomei.
    let token = app.login("demo", "xiaomei", AGENT_PW).await;
    let mut agent = Ws::agent(&app, &token).await;
    agent.send(json!({"type": "presence", "status": "online"})).await;
    agent
        .until(|f| f["type"] == "presence" && f["status"] == "online")
        .await;
    let visitor = format!("visitor-guard-{}", uuid::Uuid::now_v7().simple());
    let mut buyer = Ws::buyer(&app, &visitor).await;
    buyer
        .send(json!({"type": "message", "client_id": "b-1", "content": {"kind": "text", "text": "转人工"}}))
        .await;
    let assigned = agent.until(|f| f["type"] == "event" && f["kind"] == "assigned").await;
    let conv = assigned["conversation_id"].clone();
    agent.drain().await;

    // Said anyway: stored, acknowledged, and the agents' copy carries why it should not be.
    agent.send(message(&conv, "a-1", "加我微信 abc123")).await;
    let ack = agent.until(|f| f["type"] == "ack" && f["client_id"] == "a-1").await;
    assert_eq!(ack["duplicate"], false);
    let mine = agent.until(|f| f["type"] == "event" && f["client_id"] == "a-1").await;
    let findings = mine["compliance"].as_array().expect("the agent's copy is flagged");
    assert_eq!(findings.len(), 1, "{mine}");
    assert_eq!(findings[0]["kind"], "off_platform_contact");
    assert_eq!(findings[0]["text"], "加我微信 abc123");
    assert_eq!(
        (findings[0]["start"].as_u64(), findings[0]["end"].as_u64()),
        (Some(0), Some(19))
    );
    assert!(findings[0]["message"].as_str().unwrap().contains("站外"), "{mine}");
    // The buyer hears what was said, not the warning.
    let heard = buyer
        .until(|f| f["type"] == "event" && f["content"]["text"] == "加我微信 abc123")
        .await;
    assert!(heard.get("compliance").is_none(), "{heard}");
    // A plain reply carries nothing; the history keeps the flag.
    agent.send(message(&conv, "a-2", "亲，预计明天到哦")).await;
    let plain = agent.until(|f| f["type"] == "event" && f["client_id"] == "a-2").await;
    assert!(plain.get("compliance").is_none(), "{plain}");
    let (_, history) = app
        .get(
            &format!("/api/v1/chat/conversations/{}/events", conv.as_str().unwrap()),
            &token,
        )
        .await;
    let flagged: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("compliance").is_some())
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["client_id"], "a-1");
    // A retry is acknowledged as the first, and counted once.
    agent.send(message(&conv, "a-1", "加我微信 abc123")).await;
    let again = agent
        .until(|f| f["type"] == "ack" && f["client_id"] == "a-1" && f["duplicate"] == true)
        .await;
    assert_eq!(again["seq"], ack["seq"]);
    assert_eq!(warnings_of(&app, &owner, "小美").await, 1);
    let (_, mine) = app.get("/api/v1/stats", &token).await;
    assert_eq!(mine["team"]["compliance_warnings"], 1, "an agent sees their own count");
    // The file export has the column.
    let csv = app
        .req(Method::GET, "/api/v1/stats/export?format=csv", &owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("违规提醒数"), "{csv}");

    agent.send(json!({"type": "close", "conversation_id": conv})).await;
    agent.until(|f| f["type"] == "event" && f["kind"] == "closed").await;
}
on_both_engines!(warn_mode_sends_and_flags);

async fn block_mode_refuses_and_stores_nothing(app: Arc<TestApp>) {
    let owner = shop_in_mode(&app, "block").await;
    let (_, mut agent, c) = chat_with_xiaomei(&app, "tb_guard_block", &["转人工"]).await;
    let conv = json!(c);
    let shop = demo_shop(&app).await;
    let before = app.store.conversation(shop, c).await.unwrap().unwrap().last_seq;

    agent.send(message(&conv, "a-1", "加我微信 abc123")).await;
    let refused = agent.until(|f| f["type"] == "error" && f["client_id"] == "a-1").await;
    assert_eq!(refused["error"], "refused", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("加我微信 abc123"),
        "{refused}"
    );
    assert_eq!(refused["findings"][0]["kind"], "off_platform_contact");
    let after = agent.drain().await;
    assert!(
        !after.iter().any(|f| f["type"] == "ack" || f["type"] == "event"),
        "nothing is sent: {after:#?}"
    );
    assert_eq!(app.store.conversation(shop, c).await.unwrap().unwrap().last_seq, before);
    assert!(agent_texts(&app, c).await.is_empty(), "nothing is stored");

    // Rephrased, it goes.
    agent.send(message(&conv, "a-2", "亲，有问题在这里联系我就好")).await;
    agent.until(|f| f["type"] == "ack" && f["client_id"] == "a-2").await;
    assert_eq!(
        agent_texts(&app, c).await,
        vec![("亲，有问题在这里联系我就好".to_string(), vec![])]
    );
    assert_eq!(
        warnings_of(&app, &owner, "小美").await,
        0,
        "a refused message is not counted"
    );
}
on_both_engines!(block_mode_refuses_and_stores_nothing);

async fn the_check_knows_the_buyers_own_data(app: Arc<TestApp>) {
    shop_in_mode(&app, "warn").await;
    // A signed buyer with a phone and address on record, who wrote another number themselves.
    let shop = demo_shop(&app).await;
    let nick = "tb_guard_own";
    let customer = kefu_core::catalog::Customer {
        id: kefu_core::ids::CustomerId::new(),
        shop_id: shop,
        nick: nick.into(),
        name: "王五".into(),
        phone: "13812345678".into(),
        address: "浙江省杭州市西湖区文三路100号".into(),
        created_at: kefu_store::now(),
    };
    app.store
        .import_catalog(
            shop,
            &kefu_store::Catalog {
                customers: vec![customer],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (token, _agent, c) = chat_with_xiaomei(&app, nick, &["备用电话 一三九 零零零零 一一一一", "转人工"]).await;
    let check = |text: &str, conversation: Option<ConversationId>| {
        let body = match conversation {
            Some(c) => json!({"conversation_id": c, "text": text}),
            None => json!({"text": text}),
        };
        let (app, token) = (app.clone(), token.clone());
        async move {
            app.call(Method::POST, "/api/v1/compliance/check", &token, Some(body))
                .await
        }
    };
    let (status, r) = check("您的电话是138-1234-5678，地址杭州市西湖区文三路100号，对吗", Some(c)).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r, json!({"mode": "warn", "findings": []}), "the buyer's own data");
    let (_, r) = check("备用号码13900001111已记下", Some(c)).await;
    assert_eq!(r["findings"], json!([]), "a number the buyer wrote is theirs");
    let (_, r) = check("另一位买家的电话 13700002222，上海市浦东新区1号", Some(c)).await;
    let kinds: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["others_phone", "others_address"], "{r}");
    // Without a chat, every number is somebody else's.
    let (_, r) = check("您的电话是13812345678", None).await;
    assert_eq!(r["findings"][0]["kind"], "others_phone");
    assert_eq!(r["findings"][0]["text"], "13812345678");
    let (_, r) = check("这款是最好的，明天一定到，30天无理由退货", None).await;
    let kinds: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["absolute_claim", "delivery_promise", "return_promise"], "{r}");
    // Someone else's chat is refused; text is bounded.
    let other = app.login("demo", "xiaoyu", AGENT_PW).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/compliance/check",
            &other,
            Some(json!({"conversation_id": c, "text": "你好"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = check(&"好".repeat(2001), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
on_both_engines!(the_check_knows_the_buyers_own_data);

async fn quick_phrases_are_checked_when_saved(app: Arc<TestApp>) {
    let owner = shop_in_mode(&app, "warn").await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let new = |text: &str| json!({"scope": "personal", "group": "售前", "text": text});
    // Warned: saved, with what was found.
    let (status, p) = app
        .call(
            Method::POST,
            "/api/v1/phrases",
            &agent,
            Some(new("有事加我微信 abc123")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["compliance"][0]["kind"], "off_platform_contact", "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let (status, fine) = app
        .call(
            Method::POST,
            "/api/v1/phrases",
            &agent,
            Some(new("亲，{买家昵称}，欢迎光临")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(fine.get("compliance").is_none(), "{fine}");

    // Blocked: refused, nothing saved or changed.
    let (status, _) = put_settings(&app, &owner, |s| s["compliance"]["mode"] = json!("block")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, e) = app
        .call(Method::POST, "/api/v1/phrases", &agent, Some(new("本店销量第一")))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"], "refused");
    assert_eq!(e["findings"][0]["kind"], "absolute_claim");
    assert_eq!(e["findings"][0]["text"], "第一");
    let change = json!({"group": "售前", "text": "保证明天送达"});
    let (status, e) = app
        .call(Method::PUT, &format!("/api/v1/phrases/{id}"), &agent, Some(change))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["findings"][0]["kind"], "delivery_promise");
    let (_, kept) = app.get(&format!("/api/v1/phrases/{id}"), &agent).await;
    assert_eq!(kept["text"], "有事加我微信 abc123");
    let (_, mine) = app.get("/api/v1/phrases?scope=personal", &agent).await;
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");
    // An import with such a line is refused at that line.
    let csv = "group,shortcut,text\n售前,hi,亲，您好\n售前,zz,支持30天无理由退货\n";
    let r = app
        .req(Method::POST, "/api/v1/phrases/import?scope=personal&format=csv", &agent)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "refused");
    assert!(e["message"].as_str().unwrap().starts_with("line 3"), "{e}");
    let (_, mine) = app.get("/api/v1/phrases?scope=personal", &agent).await;
    assert_eq!(mine.as_array().unwrap().len(), 2, "nothing imported");
}
on_both_engines!(quick_phrases_are_checked_when_saved);

async fn the_setting_is_validated(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (_, s) = app.get("/api/v1/shop/settings", &owner).await;
    assert_eq!(s["compliance"]["mode"], "warn", "warn by default");
    assert!(
        s["compliance"]["banned_words"]
            .as_array()
            .unwrap()
            .contains(&json!("国家级"))
    );
    let (status, e) = put_settings(&app, &owner, |s| s["compliance"]["banned_words"] = json!(["最好", " "])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "compliance.banned_words[1]");
    let (status, _) = put_settings(&app, &owner, |s| s["compliance"]["mode"] = json!("shout")).await;
    assert!(status.is_client_error());
    // The shop's own words count from the next message on.
    let (status, _) = put_settings(&app, &owner, |s| s["compliance"]["banned_words"] = json!(["秒杀全网"])).await;
    assert_eq!(status, StatusCode::OK);
    let (_, r) = app
        .call(
            Method::POST,
            "/api/v1/compliance/check",
            &owner,
            Some(json!({"text": "秒杀全网，最好的"})),
        )
        .await;
    assert_eq!(r["findings"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["findings"][0]["text"], "秒杀全网");
}
on_both_engines!(the_setting_is_validated);
