//! Chat records search (SPEC §5.5), black-box on both engines: messages written through the
//! store's chat path (what the sockets call), found over HTTP by words (traditional characters
//! too), buyer, agent and time, with highlight segments; agents see only their own chats;
//! bad input is refused with 422.

mod common;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::{AGENT_PW, OWNER_PW, TestApp};
use kefu_core::chat::{Content, Conversation, EventBody, HandoffReason, Sender, Transition};
use kefu_core::ids::{AccountId, ConversationId, ShopId};
use kefu_core::routing::Presence;
use kefu_store::NewEvent;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::Arc;

async fn demo_shop(app: &TestApp) -> ShopId {
    let slug = kefu_core::shop::ShopSlug::parse("demo").unwrap();
    app.store.shop_by_slug(&slug).await.unwrap().unwrap().id
}

async fn account_id(app: &TestApp, shop: ShopId, username: &str) -> AccountId {
    app.store
        .accounts(shop)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.username.as_str() == username)
        .unwrap()
        .id
}

fn text(sender: Sender, t: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        sender,
        client_id: None,
        body: EventBody::Message {
            content: Content::Text { text: t.into() },
            compliance: Vec::new(),
        },
        at,
    }
}

/// A signed buyer's chat, handed to `agent` (the only one online then).
async fn chat_with(app: &TestApp, shop: ShopId, nick: &str, agent: AccountId, at: DateTime<Utc>) -> ConversationId {
    let c = Conversation::new(shop, format!("buyer:{nick}"), nick.into(), "web".into(), at);
    app.store.create_conversation(&c).await.unwrap();
    for a in app.store.agent_loads(shop).await.unwrap() {
        let presence = if a.account_id == agent {
            Presence::Online
        } else {
            Presence::Offline
        };
        app.store.set_presence(shop, a.account_id, presence, at).await.unwrap();
    }
    c.id
}

async fn hand_over(app: &TestApp, shop: ShopId, c: ConversationId, agent: AccountId, at: DateTime<Utc>) {
    let handoff = Transition::Handoff {
        reason: HandoffReason::Asked,
        group: None,
    };
    app.store.transition(shop, c, &handoff, at).await.unwrap();
    app.store.route_queue(shop, at).await.unwrap();
    let c = app.store.conversation(shop, c).await.unwrap().unwrap();
    assert_eq!(c.agent_id, Some(agent));
}

struct Chats {
    agents: (AccountId, AccountId),
    /// When the second chat started: the first one is before.
    between: DateTime<Utc>,
}

/// 小王 talks to xiaomei about 顺丰 and 退货; lily, in traditional characters, to xiaoyu.
async fn two_chats(app: &TestApp) -> Chats {
    let shop = demo_shop(app).await;
    let xiaomei = account_id(app, shop, "xiaomei").await;
    let xiaoyu = account_id(app, shop, "xiaoyu").await;
    // Recent, so that no idle close comes in between.
    let t0 = Utc::now().trunc_subsecs(0) - Duration::minutes(2);
    let at = |seconds: i64| t0 + Duration::seconds(seconds);

    let wang = chat_with(app, shop, "tb_小王", xiaomei, at(0)).await;
    let store = &app.store;
    store
        .append_event(shop, wang, &text(Sender::Buyer, "亲，我想退货，能发顺丰吗？", at(1)))
        .await
        .unwrap();
    hand_over(app, shop, wang, xiaomei, at(2)).await;
    store
        .append_event(shop, wang, &text(Sender::Agent(xiaomei), "好的，顺丰到付就行", at(3)))
        .await
        .unwrap();

    let lily = chat_with(app, shop, "tb_lily", xiaoyu, at(60)).await;
    store
        .append_event(shop, lily, &text(Sender::Buyer, "退貨的話，運費誰出？", at(61)))
        .await
        .unwrap();
    hand_over(app, shop, lily, xiaoyu, at(62)).await;
    store
        .append_event(
            shop,
            lily,
            &text(Sender::Agent(xiaoyu), "亲，退货运费我们出，发中通就行", at(63)),
        )
        .await
        .unwrap();
    Chats {
        agents: (xiaomei, xiaoyu),
        between: at(30),
    }
}

async fn search(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    app.get(&format!("/api/v1/records/search?{query}"), token).await
}

/// The texts found, newest first; every hit's segments put together are its text.
async fn texts(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (status, body) = search(app, token, query).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let joined: String = m["segments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["text"].as_str().unwrap())
                .collect();
            assert_eq!(joined, m["text"].as_str().unwrap(), "segments are the text");
            m["text"].as_str().unwrap().to_string()
        })
        .collect()
}

fn hits(item: &Value) -> Vec<&str> {
    item["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["hit"] == true)
        .map(|s| s["text"].as_str().unwrap())
        .collect()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn words_buyers_time_and_highlights(app: Arc<TestApp>) {
    let chats = two_chats(&app).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;

    // A buyer's message with 顺丰 and 退货 is found by 顺丰, with the agent's reply.
    let (status, found) = search(&app, &owner, "q=顺丰").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{found}");
    assert_eq!(items[0]["text"], "好的，顺丰到付就行");
    assert_eq!(items[1]["text"], "亲，我想退货，能发顺丰吗？");
    assert_eq!(items[1]["sender"]["role"], "buyer");
    assert_eq!(items[1]["buyer_nick"], "tb_小王");
    assert_eq!(items[1]["agent_name"], "小美");
    assert_eq!(items[0]["sender"]["id"], chats.agents.0.to_string());
    assert_eq!(hits(&items[1]), ["顺丰"]);
    assert_eq!(found["next_cursor"], Value::Null);
    // Both words; the conversation's history is where the chat API has it.
    let (_, found) = search(&app, &owner, "q=顺丰 退货").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(hits(&found["items"][0]), ["退货", "顺丰"]);
    let conversation = found["items"][0]["conversation_id"].as_str().unwrap();
    let (status, history) = app
        .get(&format!("/api/v1/chat/conversations/{conversation}/events"), &owner)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(history.as_array().unwrap().len() >= 3, "{history}");

    // Traditional characters find simplified ones and the other way round; the hit is
    // marked on the text as written.
    let (_, found) = search(&app, &owner, "q=退貨").await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(
        items.iter().map(|m| m["text"].as_str().unwrap()).collect::<Vec<_>>(),
        [
            "亲，退货运费我们出，发中通就行",
            "退貨的話，運費誰出？",
            "亲，我想退货，能发顺丰吗？"
        ]
    );
    assert_eq!(hits(&items[1]), ["退貨"]);
    assert_eq!(hits(&items[0]), ["退货"]);
    assert_eq!(texts(&app, &owner, "q=运费").await.len(), 2);

    // By buyer, with words or without.
    assert_eq!(
        texts(&app, &owner, "q=退货&buyer=tb_lily").await,
        ["亲，退货运费我们出，发中通就行", "退貨的話，運費誰出？"]
    );
    assert_eq!(texts(&app, &owner, "buyer=tb_小王").await.len(), 2);
    assert!(texts(&app, &owner, "buyer=tb_小").await.is_empty(), "the nick exactly");

    // By time.
    let between = rfc3339(chats.between);
    assert_eq!(
        texts(&app, &owner, &format!("q=退货&from={between}")).await,
        ["亲，退货运费我们出，发中通就行", "退貨的話，運費誰出？"]
    );
    assert_eq!(
        texts(&app, &owner, &format!("q=退货&to={between}")).await,
        ["亲，我想退货，能发顺丰吗？"]
    );
    let later = rfc3339(chats.between + Duration::seconds(32));
    assert_eq!(
        texts(&app, &owner, &format!("q=退货&from={between}&to={later}")).await,
        ["退貨的話，運費誰出？"]
    );

    // Pages: one at a time, no repeats, then the end.
    let (_, first) = search(&app, &owner, "q=退货&limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    let (_, rest) = search(&app, &owner, &format!("q=退货&limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["text"], "亲，我想退货，能发顺丰吗？");
    assert_eq!(rest["next_cursor"], Value::Null);
}
on_both_engines!(words_buyers_time_and_highlights);

async fn agents_search_their_own_chats(app: Arc<TestApp>) {
    let chats = two_chats(&app).await;
    let (xiaomei, xiaoyu) = chats.agents;
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let a = app.login("demo", "xiaomei", AGENT_PW).await;
    let b = app.login("demo", "xiaoyu", AGENT_PW).await;

    // Agent B cannot find agent A's chat; A can, and so can the manager.
    assert!(texts(&app, &b, "q=顺丰").await.is_empty());
    assert!(texts(&app, &b, "buyer=tb_小王").await.is_empty());
    assert_eq!(
        texts(&app, &b, "q=退货").await,
        ["亲，退货运费我们出，发中通就行", "退貨的話，運費誰出？"]
    );
    assert_eq!(texts(&app, &a, "q=顺丰").await.len(), 2);
    assert_eq!(texts(&app, &owner, "q=顺丰").await.len(), 2);
    // Asking for another agent's chats is refused; naming oneself is fine.
    let (status, body) = search(&app, &b, &format!("q=退货&agent={xiaomei}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(texts(&app, &b, &format!("q=退货&agent={xiaoyu}")).await.len(), 2);
    // Managers filter by agent.
    assert_eq!(
        texts(&app, &owner, &format!("q=退货&agent={xiaomei}")).await,
        ["亲，我想退货，能发顺丰吗？"]
    );
    assert_eq!(texts(&app, &owner, &format!("q=退货&agent={xiaoyu}")).await.len(), 2);
}
on_both_engines!(agents_search_their_own_chats);

async fn bad_input_is_refused(app: Arc<TestApp>) {
    two_chats(&app).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let before = texts(&app, &owner, "q=退货").await;
    let long = "退".repeat(101);
    for (query, field) in [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20", "q"),
        ("q=！？。", "q"),
        (&format!("q={long}") as &str, "q"),
        ("q=退货&limit=0", "limit"),
        ("q=退货&limit=101", "limit"),
        ("q=退货&from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"),
        ("q=退货&cursor=abc", "cursor"),
        ("q=退货&cursor=-5", "cursor"),
    ] {
        let (status, body) = search(&app, &owner, query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(
            (body["error"].as_str(), body["field"].as_str()),
            (Some("invalid_value"), Some(field)),
            "{query}"
        );
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    // A query of 100 characters is fine.
    let (status, _) = search(&app, &owner, &format!("q={}", "退".repeat(100))).await;
    assert_eq!(status, StatusCode::OK);
    // Malformed parameters are the query string's error; a login is needed.
    let (status, body) = search(&app, &owner, "q=退货&from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = search(&app, &owner, "q=退货&nothing=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let r = app
        .client
        .get(app.url("/api/v1/records/search?q=退货"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nothing changed.
    assert_eq!(texts(&app, &owner, "q=退货").await, before);
}
on_both_engines!(bad_input_is_refused);
