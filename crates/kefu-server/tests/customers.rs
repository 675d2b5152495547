//! Black-box tests of customers (SPEC §3) and payment reminders (SPEC §4.7): the real server
//! on both engines, its clock set by the test (`AppState::clock`) so the hour is known.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{AGENT_PW, OWNER_PW, TestApp};
use kefu_core::catalog::{Customer, Order, OrderItem, OrderState};
use kefu_core::chat::{Content, EventBody, Sender};
use kefu_core::ids::{CustomerId, OrderId, ShopId};
use kefu_core::money::Fen;
use kefu_core::shop::ShopSlug;
use kefu_store::Catalog;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// Shanghai wall-clock time on 2030-03-`day` (the 4th is a Monday).
fn sh(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2030, 3, day, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn demo_shop(app: &TestApp) -> ShopId {
    app.store
        .shop_by_slug(&ShopSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A buyer of the demo shop with one unpaid order placed at `placed`.
async fn buyer_with_unpaid_order(app: &TestApp, nick: &str, placed: DateTime<Utc>) -> (Customer, Order) {
    let shop = demo_shop(app).await;
    let customer = Customer {
        id: CustomerId::new(),
        shop_id: shop,
        nick: nick.into(),
        name: "测试买家".into(),
        phone: "13812345678".into(),
        address: "浙江省杭州市西湖区文三路1号".into(),
        created_at: placed,
    };
    let id = OrderId::new();
    let order = Order {
        id,
        shop_id: shop,
        order_no: format!("30{:016}", id.0.as_u128() % 10_000_000_000_000_000),
        customer_id: customer.id,
        state: OrderState::AwaitingPayment,
        close_reason: None,
        items: vec![OrderItem {
            product_id: None,
            sku: "XMA-LT-001".into(),
            title: "婴儿连体衣".into(),
            unit_price: Fen(6900),
            quantity: 1,
        }],
        shipping_fee: Fen(0),
        address: customer.address.clone(),
        created_at: placed,
        paid_at: None,
        shipped_at: None,
        completed_at: None,
        closed_at: None,
    };
    let catalog = Catalog {
        customers: vec![customer.clone()],
        orders: vec![order.clone()],
        ..Default::default()
    };
    app.store.import_catalog(shop, &catalog).await.unwrap();
    (customer, order)
}

/// The texts of the system messages in the buyer's chat.
async fn shop_messages(app: &TestApp, nick: &str) -> Vec<String> {
    let shop = demo_shop(app).await;
    let Some(c) = app
        .store
        .visitor_conversation(shop, &format!("buyer:{nick}"))
        .await
        .unwrap()
    else {
        return vec![];
    };
    app.store
        .events_after(shop, c.id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.sender == Sender::System)
        .filter_map(|e| match e.body {
            EventBody::Message {
                content: Content::Text { text },
                ..
            } => Some(text),
            _ => None,
        })
        .collect()
}

async fn remind(app: &TestApp, token: &str, order: OrderId, reason: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        &format!("/api/v1/orders/{order}/remind"),
        token,
        Some(json!({ "reason": reason })),
    )
    .await
}

async fn put_settings(app: &TestApp, owner: &str, change: impl FnOnce(&mut Value)) {
    let mut s = app.get("/api/v1/shop/settings", owner).await.1;
    change(&mut s);
    let (status, body) = app.call(Method::PUT, "/api/v1/shop/settings", owner, Some(s)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn reminders_keep_their_windows_and_go_once(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let (buyer, order) = buyer_with_unpaid_order(&app, "tb_催付一号", sh(4, 6, 0)).await;

    // Before nine: refused, naming when it opens.
    app.state.clock.set(Some(sh(4, 8, 59)));
    let (status, body) = remind(&app, &agent, order.id, "forgot").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "conflict");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("不在允许催付的时间段") && message.contains("2030-03-04 09:00"),
        "{message}"
    );
    // A bad reason is a 422 naming the field, and sends nothing.
    app.state.clock.set(Some(sh(4, 9, 0)));
    let (status, body) = remind(&app, &agent, order.id, "greedy").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "reason");
    assert!(shop_messages(&app, &buyer.nick).await.is_empty());

    // At nine: sent into the buyer's chat with the reason's template, variables filled.
    let (status, body) = remind(&app, &agent, order.id, "bargaining").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let text = body["reminder"]["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("tb_催付一号亲") && text.contains(&order.order_no) && text.contains("活动价"),
        "{text}"
    );
    assert_eq!(body["reminder"]["reason"], "bargaining");
    assert_eq!(body["next_allowed"], Value::Null, "once per order");
    assert_eq!(shop_messages(&app, &buyer.nick).await, vec![text.clone()]);

    // Once per order: a second try, by anyone, is refused.
    app.state.clock.set(Some(sh(4, 15, 0)));
    let (status, body) = remind(&app, &owner, order.id, "forgot").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["message"].as_str().unwrap().contains("最多催付 1 次"), "{body}");
    let (_, listed) = app.get(&format!("/api/v1/orders/{}/reminders", order.id), &agent).await;
    assert_eq!(listed["reminders"].as_array().unwrap().len(), 1);
    assert_eq!(listed["allowed"], false);
    assert_eq!(listed["why"]["why"], "limit_reached");
    assert_eq!(shop_messages(&app, &buyer.nick).await.len(), 1);

    // A paid order is not reminded.
    let (_, paid) = app.get("/api/v1/orders?state=completed&limit=1", &agent).await;
    let paid_id = paid["items"][0]["id"].as_str().unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{paid_id}/remind"),
            &agent,
            Some(json!({"reason": "forgot"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["message"].as_str().unwrap().contains("不需要催付"), "{body}");
    // Too soon after the order is placed.
    let (_, fresh) = buyer_with_unpaid_order(&app, "tb_刚拍下", sh(4, 14, 50)).await;
    let (status, body) = remind(&app, &agent, fresh.id, "forgot").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["message"].as_str().unwrap().contains("2030-03-04 15:20"), "{body}");

    // A holiday on the shop's list opens the windows an hour later.
    put_settings(&app, &owner, |s| {
        s["reminder_hours"]["holidays"] = json!(["2030-03-05"])
    })
    .await;
    let (_, holiday_order) = buyer_with_unpaid_order(&app, "tb_节假日", sh(4, 20, 0)).await;
    app.state.clock.set(Some(sh(5, 9, 30)));
    let (status, body) = remind(&app, &agent, holiday_order.id, "worried").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["message"].as_str().unwrap().contains("2030-03-05 10:00"), "{body}");
    app.state.clock.set(Some(sh(5, 10, 0)));
    assert_eq!(
        remind(&app, &agent, holiday_order.id, "worried").await.0,
        StatusCode::CREATED
    );
    // Never at night.
    let (_, night) = buyer_with_unpaid_order(&app, "tb_夜猫子", sh(5, 18, 0)).await;
    app.state.clock.set(Some(sh(5, 23, 30)));
    let (status, body) = remind(&app, &agent, night.id, "comparing").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["message"].as_str().unwrap().contains("2030-03-06 09:00"), "{body}");

    let (_, stats) = app.get("/api/v1/reminders/stats", &agent).await;
    assert_eq!(
        (stats["sent"].as_i64(), stats["automatic"].as_i64()),
        (Some(2), Some(0))
    );
    assert_eq!(stats["paid_after"], 0);
    assert_eq!(
        app.get(
            "/api/v1/reminders/stats?from=2030-03-05T01:00:00Z&until=2030-03-04T00:00:00Z",
            &agent
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Unknown orders are 404; bad JSON changes nothing.
    assert_eq!(
        remind(&app, &agent, OrderId::new(), "forgot").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{}/remind", night.id),
            &agent,
            Some(json!({"reason": "forgot", "extra": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(shop_messages(&app, "tb_夜猫子").await.is_empty());
}
on_both_engines!(reminders_keep_their_windows_and_go_once);

async fn automatic_reminders_go_out_once_from_any_node(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (buyer, _) = buyer_with_unpaid_order(&app, "tb_自动催付", sh(4, 7, 0)).await;
    app.state.clock.set(Some(sh(4, 9, 5)));
    // Off by default.
    assert_eq!(kefu_server::api::reminders::send_due(&app.state).await.unwrap(), 0);
    assert!(shop_messages(&app, &buyer.nick).await.is_empty());
    put_settings(&app, &owner, |s| s["reminders"]["auto"] = json!(true)).await;
    // Out of the windows nothing goes.
    app.state.clock.set(Some(sh(4, 12, 30)));
    assert_eq!(kefu_server::api::reminders::send_due(&app.state).await.unwrap(), 0);
    // Two nodes run the job at the same moment: the buyer hears it once.
    app.state.clock.set(Some(sh(4, 14, 0)));
    let (a, b) = tokio::join!(
        kefu_server::api::reminders::send_due(&app.state),
        kefu_server::api::reminders::send_due(&app.state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(kefu_server::api::reminders::send_due(&app.state).await.unwrap(), 0);
    let texts = shop_messages(&app, &buyer.nick).await;
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("有空就请先付款吧"), "the forgot template: {texts:?}");
    let (_, stats) = app.get("/api/v1/reminders/stats", &owner).await;
    assert_eq!(
        (stats["sent"].as_i64(), stats["automatic"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["by_reason"][0]["reason"], "forgot");
}
on_both_engines!(automatic_reminders_go_out_once_from_any_node);

async fn outreach_respects_hours_caps_and_opt_outs(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let (a, _) = buyer_with_unpaid_order(&app, "tb_营销甲", sh(1, 10, 0)).await;
    let (b, _) = buyer_with_unpaid_order(&app, "tb_营销乙", sh(1, 10, 0)).await;
    let (status, group) = app
        .call(
            Method::POST,
            "/api/v1/customer-groups",
            &owner,
            Some(json!({"name": "上新通知"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/customer-groups/{gid}/members"),
            &agent,
            Some(json!({"add": [a.id, b.id]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["members"], 2);
    let send = |text: &str| json!({"custom_group": gid, "text": text});
    let text = "{买家昵称}亲,{店铺名}上新啦~";

    // At night nothing is sent: 409 naming the morning.
    app.state.clock.set(Some(sh(4, 22, 0)));
    let (status, body) = app
        .call(Method::POST, "/api/v1/outreach", &owner, Some(send(text)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("2030-03-05 09:00"), "{body}");
    assert!(shop_messages(&app, &a.nick).await.is_empty());
    // Bad input: nothing sent either.
    app.state.clock.set(Some(sh(5, 10, 0)));
    for bad in [
        json!({"custom_group": gid, "text": "订单{订单号}"}),
        json!({"custom_group": gid, "text": " "}),
        json!({"text": "hi"}),
        json!({"group": "consulting", "custom_group": gid, "text": "hi"}),
    ] {
        let (status, body) = app.call(Method::POST, "/api/v1/outreach", &owner, Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert_eq!(
        app.call(Method::POST, "/api/v1/outreach", &agent, Some(send(text)))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let unknown = json!({"custom_group": uuid::Uuid::now_v7(), "text": "hi"});
    assert_eq!(
        app.call(Method::POST, "/api/v1/outreach", &owner, Some(unknown))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert!(shop_messages(&app, &a.nick).await.is_empty());

    // In hours: both get it, filled for each.
    let (status, report) = app
        .call(Method::POST, "/api/v1/outreach", &owner, Some(send(text)))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["recipients"].as_u64(), report["sent"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        shop_messages(&app, &a.nick).await,
        vec!["tb_营销甲亲,小棉袄母婴旗舰店上新啦~"]
    );

    // Buyer 甲 answers 退订 in the chat: opted out.
    let shop = demo_shop(&app).await;
    let chat = app
        .store
        .visitor_conversation(shop, "buyer:tb_营销甲")
        .await
        .unwrap()
        .unwrap();
    kefu_server::chat::buyer_message(
        &app.state,
        shop,
        chat.id,
        "td-1".into(),
        Content::Text { text: "退订".into() },
    )
    .await
    .unwrap();
    let (_, profile) = app.get(&format!("/api/v1/customers/{}", a.id), &agent).await;
    assert_eq!(profile["opted_out"], true, "{profile}");
    // An ordinary message does not opt anyone out.
    let chat_b = app
        .store
        .visitor_conversation(shop, "buyer:tb_营销乙")
        .await
        .unwrap()
        .unwrap();
    kefu_server::chat::buyer_message(
        &app.state,
        shop,
        chat_b.id,
        "m-1".into(),
        Content::Text {
            text: "好的谢谢".into(),
        },
    )
    .await
    .unwrap();

    app.state.clock.set(Some(sh(5, 15, 0)));
    let (_, report) = app
        .call(Method::POST, "/api/v1/outreach", &owner, Some(send(text)))
        .await;
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(report["skipped"], json!({"opted_out": 1}));
    // 乙 has had two this week: the cap (2) holds until a week after the first.
    app.state.clock.set(Some(sh(6, 10, 0)));
    let (_, report) = app
        .call(Method::POST, "/api/v1/outreach", &owner, Some(send(text)))
        .await;
    assert_eq!(report["sent"], 0, "{report}");
    assert_eq!(report["skipped"], json!({"opted_out": 1, "cap_reached": 1}));
    // Staff clear the opt-out: 甲 (one this week) gets the next one.
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{}/opt-out", a.id),
            &agent,
            Some(json!({"opted_out": false})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, report) = app
        .call(Method::POST, "/api/v1/outreach", &owner, Some(send(text)))
        .await;
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(report["skipped"], json!({"cap_reached": 1}));
    assert_eq!(shop_messages(&app, &a.nick).await.len(), 2);
    assert_eq!(shop_messages(&app, &b.nick).await.len(), 2);
    // A week after 乙's first message the cap lets one through.
    app.state.clock.set(Some(sh(12, 10, 0)));
    let (_, report) = app
        .call(Method::POST, "/api/v1/outreach", &owner, Some(send(text)))
        .await;
    assert_eq!(report["sent"], 2, "{report}");
}
on_both_engines!(outreach_respects_hours_caps_and_opt_outs);

async fn private_data_is_masked_revealed_and_audited(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let (c, _) = buyer_with_unpaid_order(&app, "tb_隐私", sh(1, 10, 0)).await;
    let path = format!("/api/v1/customers/{}", c.id);
    let (_, masked) = app.get(&path, &agent).await;
    assert_eq!(masked["phone"], "138****5678");
    assert_eq!(masked["address"], "浙江省杭州市***");
    assert_eq!(masked["orders"][0]["address"], "浙江省杭州市***", "order addresses too");
    let (_, whole) = app.get(&path, &owner).await;
    assert_eq!(whole["phone"], "13812345678");
    let (_, list) = app.get("/api/v1/customers?q=tb_隐私", &agent).await;
    assert_eq!(list["items"][0]["phone"], "138****5678");

    // Agents may not reveal; nothing is logged for a refusal.
    let reveal = format!("{path}/reveal");
    let (status, body) = app.call(Method::POST, &reveal, &agent, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .call(Method::POST, &reveal, &owner, Some(json!({"reason": "x".repeat(101)})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.get("/api/v1/audit", &owner).await.1["total"], 0);
    app.state.clock.set(Some(sh(4, 10, 0)));
    let (status, shown) = app
        .call(Method::POST, &reveal, &owner, Some(json!({"reason": "核对收货地址"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["phone"], "13812345678");
    assert_eq!(shown["address"], "浙江省杭州市西湖区文三路1号");
    let (_, log) = app.get("/api/v1/audit", &owner).await;
    assert_eq!(log["total"], 1);
    let entry = &log["items"][0];
    assert_eq!(entry["kind"], "reveal");
    assert_eq!(entry["customer_id"], json!(c.id));
    assert_eq!(entry["at"], json!(sh(4, 10, 0)));
    assert!(entry["detail"].as_str().unwrap().contains("核对收货地址"), "{entry}");
    assert!(entry["account_name"].as_str().unwrap().contains("owner"), "{entry}");

    // Exports: owners and admins, audited.
    assert_eq!(
        app.get("/api/v1/customers/export", &agent).await.0,
        StatusCode::FORBIDDEN
    );
    app.state.clock.set(Some(sh(4, 11, 0)));
    let r = app
        .req(Method::GET, "/api/v1/customers/export?q=tb_隐私", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    assert!(csv.contains("nick,name,phone,address"), "{csv}");
    assert!(csv.contains("tb_隐私,测试买家,13812345678"), "{csv}");
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let r = app
        .req(Method::GET, "/api/v1/customers/export?format=xlsx", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));
    let (_, log) = app.get("/api/v1/audit?kind=export", &owner).await;
    assert_eq!(log["total"], 2);
    assert!(
        log["items"][1]["detail"].as_str().unwrap().starts_with("1 buyers"),
        "{log}"
    );
    let (_, window) = app
        .get(
            "/api/v1/audit?from=2030-03-04T02:30:00Z&until=2030-03-04T02:59:00Z",
            &owner,
        )
        .await;
    assert_eq!(window["total"], 0);
    assert_eq!(app.get("/api/v1/audit?kind=reveal", &owner).await.1["total"], 1);
    assert_eq!(app.get("/api/v1/audit", &agent).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/audit?kind=read", &owner).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/v1/audit?limit=0", &owner).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
on_both_engines!(private_data_is_masked_revealed_and_audited);

async fn groups_tags_and_notes(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let shop = demo_shop(&app).await;
    // A signed buyer chats and is shown a product card: 咨询组, asking about that product.
    let c = kefu_server::chat::buyer_conversation(&app.state, shop, "buyer:tb_只看不买", Some("只看不买"), "h5", None)
        .await
        .unwrap();
    kefu_server::chat::buyer_message(
        &app.state,
        shop,
        c.id,
        "p-1".into(),
        Content::Product {
            sku: "XMA-LT-002".into(),
            card: None,
        },
    )
    .await
    .unwrap();
    let (_, consulting) = app.get("/api/v1/customers?group=consulting&limit=200", &agent).await;
    let item = consulting["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["nick"] == "tb_只看不买")
        .cloned()
        .expect("the chatting buyer is in 咨询组");
    assert_eq!(item["groups"], json!(["consulting"]));
    assert!(item["first_contact"].is_string());
    let id = item["id"].as_str().unwrap().to_string();
    let (_, profile) = app.get(&format!("/api/v1/customers/{id}"), &agent).await;
    assert_eq!(profile["asked_about"][0]["sku"], "XMA-LT-002", "{profile}");
    assert_eq!(profile["channel"], "h5");
    // The demo's buyers fall into the groups their orders say.
    for (group, state) in [
        ("ordered", "awaiting_payment"),
        ("shipping", "shipped"),
        ("dealt", "completed"),
    ] {
        let (_, listed) = app
            .get(&format!("/api/v1/customers?group={group}&limit=5"), &agent)
            .await;
        assert!(listed["total"].as_i64().unwrap() > 0, "{group}");
        let first = &listed["items"][0];
        assert!(first["groups"].as_array().unwrap().contains(&json!(group)), "{first}");
        let (_, orders) = app
            .get(
                &format!("/api/v1/orders?customer_id={}&limit=200", first["id"].as_str().unwrap()),
                &agent,
            )
            .await;
        let states: Vec<&str> = orders["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["state"].as_str().unwrap())
            .collect();
        assert!(
            states.contains(&state) || (group == "shipping" && states.contains(&"paid")),
            "{group}: {states:?}"
        );
    }
    assert_eq!(
        app.get("/api/v1/customers?group=vip", &agent).await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, all) = app.get("/api/v1/customers?limit=2&offset=1", &agent).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // Notes: appended with their author; an empty one is refused and changes nothing.
    let notes = format!("/api/v1/customers/{id}/notes");
    let (status, note) = app
        .call(
            Method::POST,
            &notes,
            &agent,
            Some(json!({"text": "问过新生儿和尚服的尺码"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["author_name"], "小美");
    let (status, body) = app
        .call(Method::POST, &notes, &agent, Some(json!({"text": "  "})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "text");
    let (_, profile) = app.get(&format!("/api/v1/customers/{id}"), &owner).await;
    assert_eq!(profile["notes"].as_array().unwrap().len(), 1);

    // Tags: a set; a bad one is refused and the old set stays.
    let tags = format!("/api/v1/customers/{id}/tags");
    let (status, body) = app
        .call(
            Method::PUT,
            &tags,
            &agent,
            Some(json!({"tags": ["讲价型", " 新客 ", "讲价型"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["tags"], json!(["讲价型", "新客"]));
    let (status, body) = app
        .call(Method::PUT, &tags, &agent, Some(json!({"tags": ["x".repeat(21)]})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "tags[0]");
    let (_, by_tag) = app.get("/api/v1/customers?tag=新客", &agent).await;
    assert_eq!(by_tag["total"], 1);
    assert_eq!(by_tag["items"][0]["tags"], json!(["新客", "讲价型"]));

    // Custom groups: managers make them; a duplicate name or a stranger changes nothing.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/customer-groups",
            &agent,
            Some(json!({"name": "VIP"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, vip) = app
        .call(
            Method::POST,
            "/api/v1/customer-groups",
            &owner,
            Some(json!({"name": " VIP "})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(vip["name"], "VIP");
    let gid = vip["id"].as_str().unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/customer-groups",
            &owner,
            Some(json!({"name": "VIP"})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/api/v1/customer-groups",
            &owner,
            Some(json!({"name": ""}))
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let members = format!("/api/v1/customer-groups/{gid}/members");
    let (status, _) = app
        .call(
            Method::POST,
            &members,
            &agent,
            Some(json!({"add": [id, CustomerId::new()]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::POST,
            &members,
            &agent,
            Some(json!({"add": [id], "remove": [id]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/v1/customer-groups", &agent).await.1[0]["members"], 0);
    let (status, body) = app
        .call(Method::POST, &members, &agent, Some(json!({"add": [id]})))
        .await;
    assert_eq!((status, body["members"].as_i64()), (StatusCode::OK, Some(1)));
    let (_, in_group) = app.get(&format!("/api/v1/customers?custom_group={gid}"), &agent).await;
    assert_eq!(in_group["total"], 1);
    assert_eq!(in_group["items"][0]["custom_groups"], json!([gid]));
    let group_path = format!("/api/v1/customer-groups/{gid}");
    assert_eq!(
        app.call(Method::PATCH, &group_path, &owner, Some(json!({"name": "老客户VIP"})))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/api/v1/customer-groups", &agent).await.1[0]["name"],
        "老客户VIP"
    );
    assert_eq!(
        app.call(Method::DELETE, &group_path, &agent, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::DELETE, &group_path, &owner, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::DELETE, &group_path, &owner, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/api/v1/customer-groups", &agent).await.1, json!([]));
    let (_, profile) = app.get(&format!("/api/v1/customers/{id}"), &agent).await;
    assert_eq!(profile["custom_groups"], json!([]));
    assert_eq!(profile["tags"], json!(["新客", "讲价型"]), "the buyer stays");
}
on_both_engines!(groups_tags_and_notes);

/// A buyer of the demo shop with orders in these states (closed ones closed unpaid by the
/// payment timeout), placed on successive days.
async fn buyer_with_orders(app: &TestApp, nick: &str, states: &[OrderState]) -> Customer {
    let shop = demo_shop(app).await;
    let customer = Customer {
        id: CustomerId::new(),
        shop_id: shop,
        nick: nick.into(),
        name: String::new(),
        phone: String::new(),
        address: "浙江省杭州市西湖区文三路1号".into(),
        created_at: sh(1, 9, 0),
    };
    let orders = states
        .iter()
        .enumerate()
        .map(|(i, state)| {
            let id = OrderId::new();
            let placed = sh(1 + i as u32, 10, 0);
            let paid = matches!(state, OrderState::Paid);
            Order {
                id,
                shop_id: shop,
                order_no: format!("31{:016}", id.0.as_u128() % 10_000_000_000_000_000),
                customer_id: customer.id,
                state: *state,
                close_reason: (*state == OrderState::Closed).then_some(kefu_core::catalog::CloseReason::PaymentTimeout),
                items: vec![OrderItem {
                    product_id: None,
                    sku: "XMA-LT-001".into(),
                    title: "婴儿连体衣".into(),
                    unit_price: Fen(6900),
                    quantity: 1,
                }],
                shipping_fee: Fen(0),
                address: customer.address.clone(),
                created_at: placed,
                paid_at: paid.then(|| placed + chrono::Duration::minutes(5)),
                shipped_at: None,
                completed_at: None,
                closed_at: (*state == OrderState::Closed).then(|| placed + chrono::Duration::days(3)),
            }
        })
        .collect();
    let catalog = Catalog {
        customers: vec![customer.clone()],
        orders,
        ..Default::default()
    };
    app.store.import_catalog(shop, &catalog).await.unwrap();
    customer
}

async fn buyer_types_are_suggested_shown_and_set(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let shop = demo_shop(&app).await;
    let profile = |id: CustomerId| {
        let (app, agent) = (app.clone(), agent.clone());
        async move {
            let (status, p) = app.get(&format!("/api/v1/customers/{id}"), &agent).await;
            assert_eq!(status, StatusCode::OK, "{p}");
            p["buyer_type"].clone()
        }
    };

    // 拍下不买型: three orders closed unpaid.
    use OrderState::*;
    let no_pay = buyer_with_orders(&app, "tb_拍了不付", &[Closed, Closed, Closed]).await;
    let t = profile(no_pay.id).await;
    assert_eq!(t["current"], Value::Null);
    assert_eq!(t["suggestion"]["type"], "no_pay", "{t}");
    assert_eq!(t["suggestion"]["label"], "拍下不买型");
    assert!(
        t["suggestion"]["reason"].as_str().unwrap().starts_with("3 笔订单"),
        "{t}"
    );
    assert!(t["suggestion"]["strategy"].as_str().unwrap().contains("投诉、警告"));

    // 购买型: paid, never a word to the shop.
    let decisive = buyer_with_orders(&app, "tb_直接付款", &[Paid, Paid]).await;
    assert_eq!(profile(decisive.id).await["suggestion"]["type"], "decisive");

    // 讲价型: a signed buyer bargaining in the chat, again and again.
    let bargainer = buyer_with_orders(&app, "tb_砍价王", &[Paid]).await;
    let c = kefu_server::chat::buyer_conversation(&app.state, shop, "buyer:tb_砍价王", None, "web", None)
        .await
        .unwrap();
    for (i, text) in ["这个能便宜点吗", "亲，少点呗", "包邮吧，下次还来"].iter().enumerate() {
        kefu_server::chat::buyer_message(
            &app.state,
            shop,
            c.id,
            format!("k-{i}"),
            Content::Text { text: (*text).into() },
        )
        .await
        .unwrap();
    }
    let t = profile(bargainer.id).await;
    assert_eq!(t["suggestion"]["type"], "bargainer", "{t}");
    assert!(
        t["suggestion"]["reason"].as_str().unwrap().contains("3 条消息在讲价"),
        "{t}"
    );
    // The workbench's panel of that chat shows it, with the seeds' strategy.
    let (status, panel) = app
        .get(&format!("/api/v1/chat/conversations/{}/panel", c.id), &owner)
        .await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    let t = &panel["customer"]["buyer_type"];
    assert_eq!(t["suggestion"]["type"], "bargainer");
    assert_eq!(t["suggestion"]["strategy"], "咬紧牙关，坚持始终如一，保持微笑。");

    // A buyer with nothing telling: no suggestion.
    let plain = buyer_with_orders(&app, "tb_普通买家", &[]).await;
    assert_eq!(profile(plain.id).await["suggestion"], Value::Null);

    // The agent sets a type (the suggestion stays beside it), then clears it.
    let (status, t) = app
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{}/type", bargainer.id),
            &agent,
            Some(json!({"type": "polite"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["current"]["type"], "polite");
    assert_eq!(t["current"]["label"], "礼貌型");
    assert_eq!(t["current"]["set_by_name"], "小美");
    assert_eq!(t["current"]["strategy"], "尽量做到热情，能多热情就做到多热情。");
    assert_eq!(t["suggestion"]["type"], "bargainer");
    assert_eq!(profile(bargainer.id).await["current"]["type"], "polite");
    let (_, panel) = app
        .get(&format!("/api/v1/chat/conversations/{}/panel", c.id), &owner)
        .await;
    assert_eq!(panel["customer"]["buyer_type"]["current"]["type"], "polite");
    let (status, t) = app
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{}/type", bargainer.id),
            &agent,
            Some(json!({"type": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["current"], Value::Null);
    assert_eq!(profile(bargainer.id).await["current"], Value::Null);

    // Not one of the nine; another shop's buyer.
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{}/type", bargainer.id),
            &agent,
            Some(json!({"type": "grumpy"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, other) = app.other_shop().await;
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/customers/{}/type", other.customers[0].id),
            &agent,
            Some(json!({"type": "friendly"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
on_both_engines!(buyer_types_are_suggested_shown_and_set);
