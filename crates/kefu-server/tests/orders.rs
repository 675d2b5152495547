//! The back office over HTTP (SPEC §4), on both engines: order actions only in the states
//! that allow them, with their record; logistics; after-sales cases that close the trade;
//! reviews and complaints; the payment-timeout job. A refusal changes nothing.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

async fn first_order(app: &TestApp, token: &str, state: &str) -> Value {
    let (status, list) = app.get(&format!("/api/v1/orders?state={state}&limit=1"), token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"][0].clone()
}

async fn act(app: &TestApp, token: &str, order: &Value, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/v1/orders/{}/actions", order["id"].as_str().unwrap());
    app.call(Method::POST, &path, token, Some(body)).await
}

async fn view(app: &TestApp, token: &str, order: &Value) -> Value {
    let (status, v) = app
        .get(&format!("/api/v1/orders/{}", order["id"].as_str().unwrap()), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

async fn supervisor(app: &TestApp, owner: &str) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/accounts",
            owner,
            Some(json!({"username": "zhuguan", "display_name": "主管", "role": "supervisor", "password": "supervisor-pw-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.login("demo", "zhuguan", "supervisor-pw-1").await
}

async fn order_actions_follow_the_state_machine(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;

    // An unpaid order: price, address, memo and flag may change; each change is recorded.
    let unpaid = first_order(&app, &agent, "awaiting_payment").await;
    let v = view(&app, &agent, &unpaid).await;
    assert_eq!(v["state_label"], "等待买家付款");
    assert!(v["payment_deadline"].is_string());
    for a in ["change_price", "change_address", "cancel", "set_memo", "set_flag"] {
        assert!(
            v["actions"].as_array().unwrap().contains(&json!(a)),
            "{a} in {}",
            v["actions"]
        );
    }
    let fee = v["shipping_fee"].as_i64().unwrap();
    let (status, changed) = act(
        &app,
        &agent,
        &unpaid,
        json!({"action": "change_price", "shipping_fee": fee + 500, "reason": "偏远地区补运费"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["shipping_fee"], fee + 500);
    assert_eq!(changed["total"], v["total"].as_i64().unwrap() + 500);
    let record = changed["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(record["change"]["kind"], "price");
    assert_eq!(record["reason"], "偏远地区补运费");
    assert_eq!(record["actor"]["kind"], "staff");
    assert_eq!(record["change"]["before"]["shipping_fee"], fee);
    assert_eq!(record["change"]["after"]["shipping_fee"], fee + 500);

    // A price change needs a reason; refused, it changes nothing.
    let (status, body) = act(
        &app,
        &agent,
        &unpaid,
        json!({"action": "change_price", "shipping_fee": 0, "reason": " "}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "reason");
    let after = view(&app, &agent, &unpaid).await;
    assert_eq!(after["shipping_fee"], fee + 500);
    assert_eq!(after["records"].as_array().unwrap().len(), 1);

    let (status, body) = act(&app, &agent, &unpaid, json!({"action": "set_flag", "flag": "red"})).await;
    assert_eq!((status, &body["flag"]), (StatusCode::OK, &json!("red")), "{body}");
    let (status, body) = act(
        &app,
        &agent,
        &unpaid,
        json!({"action": "set_memo", "memo": "买家要求周末送达"}),
    )
    .await;
    assert_eq!(
        (status, &body["seller_memo"]),
        (StatusCode::OK, &json!("买家要求周末送达")),
        "{body}"
    );
    let (_, listed) = app
        .get(
            &format!("/api/v1/orders?q={}", unpaid["order_no"].as_str().unwrap()),
            &agent,
        )
        .await;
    assert_eq!(listed["items"][0]["flag"], "red", "the list shows the flag");

    // Agents see the address masked, in the order and in its record; the owner sees it whole.
    let (status, body) = act(
        &app,
        &agent,
        &unpaid,
        json!({"action": "change_address", "address": "浙江省杭州市余杭区文一西路969号"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["address"].as_str().unwrap().ends_with("***"),
        "{}",
        body["address"]
    );
    let last = body["records"].as_array().unwrap().last().unwrap().clone();
    assert!(last["change"]["after"].as_str().unwrap().ends_with("***"));
    assert_eq!(
        view(&app, &owner, &unpaid).await["address"],
        "浙江省杭州市余杭区文一西路969号"
    );

    // Not paid: cannot ship. The message names the state and the rule.
    let (status, body) = act(
        &app,
        &agent,
        &unpaid,
        json!({"action": "ship", "carrier": "中通快递", "tracking_no": "ZT123456789"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("等待买家付款"), "{body}");
    // Paying is the buyer's, not staff's.
    let (status, _) = act(&app, &agent, &unpaid, json!({"action": "pay"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A paid order ships with a carrier and a tracking number; a bad number changes nothing.
    let paid = first_order(&app, &agent, "paid").await;
    let (status, body) = act(
        &app,
        &agent,
        &paid,
        json!({"action": "ship", "carrier": "顺丰速运", "tracking_no": "12"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "tracking_no");
    assert_eq!(view(&app, &agent, &paid).await["state"], "paid");
    let (status, shipped) = act(
        &app,
        &agent,
        &paid,
        json!({"action": "ship", "carrier": "顺丰速运", "tracking_no": "sf1234567890"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["state"], "shipped");
    assert_eq!(shipped["shipment"]["tracking_no"], "SF1234567890");
    assert!(shipped["shipped_at"].is_string());
    // Shipped: the address is fixed now.
    let (status, body) = act(
        &app,
        &agent,
        &paid,
        json!({"action": "change_address", "address": "上海市徐汇区漕溪北路1号"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["message"], "订单处于 卖家已发货，发货后不能修改收货地址");

    // Logistics: events in time order, a repeated event adds nothing.
    let at = |h: i64| (chrono::Utc::now() + chrono::Duration::hours(h)).to_rfc3339();
    let path = format!("/api/v1/orders/{}/logistics", paid["id"].as_str().unwrap());
    let events = json!({"events": [
        {"at": at(2), "status": "in_transit", "location": "杭州", "text": "快件已到达【杭州转运中心】"},
        {"at": at(1), "status": "collected", "location": "杭州", "text": "顺丰速运 已收取快件"},
    ]});
    let (status, body) = app.call(Method::POST, &path, &agent, Some(events.clone())).await;
    assert_eq!((status, body["added"].as_i64()), (StatusCode::OK, Some(2)), "{body}");
    let (_, body) = app.call(Method::POST, &path, &agent, Some(events)).await;
    assert_eq!(body["added"], 0);
    let logistics = view(&app, &agent, &paid).await["logistics"].clone();
    assert_eq!(logistics[0]["status"], "collected", "oldest first: {logistics}");
    assert_eq!(logistics[1]["status"], "in_transit");
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{}/logistics", unpaid["id"].as_str().unwrap()),
            &agent,
            Some(json!({"events": [{"at": at(1), "status": "collected", "location": "", "text": "已揽收"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "an unshipped order has no parcel");

    // Supervisors read but never write.
    let sup = supervisor(&app, &owner).await;
    assert_eq!(view(&app, &sup, &unpaid).await["order_no"], unpaid["order_no"]);
    let (status, body) = act(&app, &sup, &unpaid, json!({"action": "set_memo", "memo": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Unknown actions and bodies are refused before anything is read.
    let (status, body) = act(&app, &agent, &unpaid, json!({"action": "teleport"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let missing = json!({"id": uuid::Uuid::now_v7().to_string()});
    assert_eq!(
        act(&app, &agent, &missing, json!({"action": "set_memo", "memo": "x"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
on_both_engines!(order_actions_follow_the_state_machine);

async fn mall_shops_change_only_the_shipping_fee(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (_, mut settings) = app.get("/api/v1/shop/settings", &owner).await;
    settings["mode"] = json!("mall");
    let (status, body) = app
        .call(Method::PUT, "/api/v1/shop/settings", &owner, Some(settings))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unpaid = first_order(&app, &owner, "awaiting_payment").await;
    let sku = unpaid["items"][0]["sku"].as_str().unwrap();
    let (status, body) = act(
        &app,
        &owner,
        &unpaid,
        json!({"action": "change_price", "items": [{"sku": sku, "unit_price": 100}], "reason": "老顾客优惠"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("只能修改运费"), "{body}");
    let (status, body) = act(
        &app,
        &owner,
        &unpaid,
        json!({"action": "change_price", "shipping_fee": 0, "reason": "包邮"}),
    )
    .await;
    assert!(
        status == StatusCode::OK || body["message"].as_str().unwrap().contains("相同"),
        "{body}"
    );
}
on_both_engines!(mall_shops_change_only_the_shipping_fee);

async fn after_sales_cases_and_refunds_close_the_trade(app: Arc<TestApp>) {
    let agent = app.login("demo", "ajie", AGENT_PW).await;
    let paid = first_order(&app, &agent, "paid").await;
    let total = view(&app, &agent, &paid).await["total"].as_i64().unwrap();
    let open_path = format!("/api/v1/orders/{}/after-sales", paid["id"].as_str().unwrap());

    // More than was paid is refused, and nothing is opened.
    let (status, body) = app
        .call(
            Method::POST,
            &open_path,
            &agent,
            Some(json!({"kind": "refund_only", "reason": "unwanted", "amount": total + 1})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(view(&app, &agent, &paid).await["after_sales"], json!([]));

    let (status, case) = app
        .call(
            Method::POST,
            &open_path,
            &agent,
            Some(json!({"kind": "refund_only", "reason": "unwanted", "amount": total, "description": "拍错了颜色"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    assert_eq!(case["state"], "requested");
    // One open case per order.
    let (status, body) = app
        .call(
            Method::POST,
            &open_path,
            &agent,
            Some(json!({"kind": "refund_only", "reason": "unwanted", "amount": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let step = |action: Value| {
        let app = app.clone();
        let agent = agent.clone();
        let path = format!("/api/v1/after-sales/{}/actions", case["id"].as_str().unwrap());
        async move { app.call(Method::POST, &path, &agent, Some(action)).await }
    };
    // Refunding before agreeing is out of order.
    assert_eq!(step(json!({"action": "refund"})).await.0, StatusCode::CONFLICT);
    let (status, body) = step(json!({"action": "agree"})).await;
    assert_eq!((status, &body["state"]), (StatusCode::OK, &json!("agreed")), "{body}");
    let (status, body) = step(json!({"action": "refund"})).await;
    assert_eq!((status, &body["state"]), (StatusCode::OK, &json!("refunded")), "{body}");
    assert_eq!(body["steps"].as_array().unwrap().len(), 3);
    assert_eq!(body["steps"][2]["refund"]["amount"], total);

    // The full refund closed the trade, recorded on the order.
    let v = view(&app, &agent, &paid).await;
    assert_eq!(v["state"], "closed");
    assert_eq!(v["close_reason"], "refunded");
    assert_eq!(
        v["records"].as_array().unwrap().last().unwrap()["change"]["kind"],
        "closed"
    );
    assert_eq!(v["after_sales"][0]["id"], case["id"]);
    // Refunded, the case is finished (售后完成) and leaves the open list.
    let (status, body) = step(json!({"action": "finish"})).await;
    assert_eq!((status, &body["state"]), (StatusCode::OK, &json!("done")), "{body}");

    // A completed order: a no-reason return within 7 days is the buyer's parcel to pay.
    let done = first_order(&app, &agent, "completed").await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{}/after-sales", done["id"].as_str().unwrap()),
            &agent,
            Some(json!({"kind": "return_refund", "reason": "quality_problem", "amount": 100, "description": "开线了"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["return_shipping"], "seller",
        "a quality problem is the seller's: {body}"
    );
    let path = format!("/api/v1/after-sales/{}/actions", body["id"].as_str().unwrap());
    let (status, body) = app
        .call(
            Method::POST,
            &path,
            &agent,
            Some(json!({"action": "reject", "reason": ""})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a reason: {body}"
    );
    let (_, open) = app.get("/api/v1/after-sales?open=true", &agent).await;
    assert_eq!(open["total"], 1, "{open}");
    let (status, _) = app
        .get(&format!("/api/v1/after-sales/{}", uuid::Uuid::now_v7()), &agent)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
on_both_engines!(after_sales_cases_and_refunds_close_the_trade);

async fn unpaid_orders_close_once_after_the_timeout(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (_, before) = app.get("/api/v1/orders?state=awaiting_payment&limit=200", &owner).await;
    let unpaid = before["total"].as_i64().unwrap();
    assert!(unpaid > 0);
    let now = kefu_store::now();
    // Not yet: the demo's unpaid orders are younger than the 3 days.
    assert_eq!(kefu_server::api::close_unpaid(&app.state, now, 500).await.unwrap(), 0);
    let later = now + chrono::Duration::days(3) + chrono::Duration::minutes(1);
    let closed = kefu_server::api::close_unpaid(&app.state, later, 500).await.unwrap();
    assert_eq!(closed as i64, unpaid);
    // Run again (or on another node): nothing more to close.
    assert_eq!(kefu_server::api::close_unpaid(&app.state, later, 500).await.unwrap(), 0);
    let (_, after) = app.get("/api/v1/orders?state=awaiting_payment", &owner).await;
    assert_eq!(after["total"], 0);
    let o = &before["items"][0];
    let v = view(&app, &owner, o).await;
    assert_eq!(
        (&v["state"], &v["close_reason"]),
        (&json!("closed"), &json!("payment_timeout"))
    );
    let record = v["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(record["actor"]["kind"], "system");
    assert_eq!(record["change"]["from"], "awaiting_payment");
}
on_both_engines!(unpaid_orders_close_once_after_the_timeout);

async fn reviews_and_complaints_are_worked_to_an_outcome(app: Arc<TestApp>) {
    let agent = app.login("demo", "ajie", AGENT_PW).await;
    let done = first_order(&app, &agent, "completed").await;
    let customer = done["customer_id"].as_str().unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/service-tickets",
            &agent,
            Some(json!({"customer_id": customer, "kind": "negative_review", "reason": "quality", "content": "衣服洗了一次就起球"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a review names its order: {body}"
    );
    let (status, t) = app
        .call(
            Method::POST,
            "/api/v1/service-tickets",
            &agent,
            Some(
                json!({"customer_id": customer, "order_id": done["id"], "kind": "negative_review", "reason": "quality",
                "content": "衣服洗了一次就起球"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let path = format!("/api/v1/service-tickets/{}/actions", t["id"].as_str().unwrap());
    let act = |body: Value| {
        let (app, agent, path) = (app.clone(), agent.clone(), path.clone());
        async move { app.call(Method::POST, &path, &agent, Some(body)).await }
    };
    let (status, body) = act(json!({"action": "close", "outcome": "revised_to_positive"})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "not before someone is responsible and the buyer was contacted: {body}"
    );
    assert_eq!(
        act(json!({"action": "set_responsible", "party": "seller"})).await.0,
        StatusCode::OK
    );
    let (status, body) =
        act(json!({"action": "contact", "channel": "phone", "reached": true, "note": "补发一件新的，买家同意改评"}))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = act(json!({"action": "close", "outcome": "revised_to_positive"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "closed");
    assert_eq!(body["follow_ups"].as_array().unwrap().len(), 1);
    assert_eq!(body["records"].as_array().unwrap().len(), 4);
    let (_, open) = app.get("/api/v1/service-tickets?open=true", &agent).await;
    assert_eq!(open["total"], 0);
    let (_, closed) = app.get("/api/v1/service-tickets?open=false", &agent).await;
    assert_eq!(closed["total"], 1);

    // Another shop's buyer or order is not to be found.
    let (other, catalog) = app.other_shop().await;
    let _ = other;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/service-tickets",
            &agent,
            Some(json!({"customer_id": catalog.customers[0].id.0, "kind": "complaint", "reason": "other", "content": "?"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/service-tickets",
            &agent,
            Some(json!({"customer_id": customer, "order_id": catalog.orders[0].id.0, "kind": "complaint", "reason": "other", "content": "?"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
on_both_engines!(reviews_and_complaints_are_worked_to_an_outcome);

async fn platforms_feed_orders_by_import_and_signed_events(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let placed = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let order = |no: &str, state: &str| {
        let mut o = json!({"order_no": no, "buyer": {"nick": "tb_新买家", "name": "赵六", "phone": "13700001234", "address": "江苏省南京市鼓楼区1号"},
            "state": state, "items": [{"sku": "XMA-SJ-001", "title": "婴儿连体衣", "unit_price": 5900, "quantity": 1}],
            "shipping_fee": 0, "placed_at": placed});
        if state == "paid" {
            o["paid_at"] = json!(placed);
        }
        o
    };
    // Only managers import; a bad order in the batch imports nothing and is named.
    let batch = json!({"orders": [order("7700000001", "awaiting_payment"), order("7700000002", "paid")]});
    let (status, _) = app
        .call(Method::POST, "/api/v1/orders/import", &agent, Some(batch.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut bad = batch.clone();
    bad["orders"][1]["paid_at"] = Value::Null;
    let (status, body) = app.call(Method::POST, "/api/v1/orders/import", &owner, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["field"].as_str().unwrap().starts_with("orders[1]"), "{body}");
    assert_eq!(app.get("/api/v1/orders?q=7700000001", &owner).await.1["total"], 0);

    let (status, body) = app
        .call(Method::POST, "/api/v1/orders/import", &owner, Some(batch.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["added"].as_i64(), body["updated"].as_i64()), (Some(2), Some(0)));
    let (_, found) = app.get("/api/v1/customers?q=tb_新买家", &owner).await;
    assert_eq!(found["total"], 1, "the buyer came with the orders");
    // Importing again replaces, adds nothing.
    let (_, body) = app
        .call(Method::POST, "/api/v1/orders/import", &owner, Some(batch))
        .await;
    assert_eq!((body["added"].as_i64(), body["updated"].as_i64()), (Some(0), Some(2)));

    // Events: signed with the shop's secret, or refused.
    let (status, secret) = app.call(Method::POST, "/api/v1/shop/widget-secret", &owner, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = secret["secret"].as_str().unwrap().to_string();
    let hook = |body: Value, signature: Option<String>| {
        let app = app.clone();
        let secret = secret.clone();
        async move {
            let text = body.to_string();
            let sig = signature.unwrap_or_else(|| kefu_core::order_feed::sign_body(secret.as_bytes(), text.as_bytes()));
            let r = app
                .client
                .post(app.url("/api/v1/hooks/demo/orders/kefu"))
                .header("content-type", "application/json")
                .header("x-kefu-signature", sig)
                .body(text)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let paid = json!({"events": [{"kind": "paid", "order_no": "7700000001"}]});
    let (status, _) = hook(paid.clone(), Some("sha256=".to_string() + &"0".repeat(64))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/orders?q=7700000001", &owner).await.1["items"][0]["state"],
        "awaiting_payment"
    );
    let (status, outcomes) = hook(paid.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{outcomes}");
    assert_eq!(outcomes[0]["outcome"], "applied");
    let (_, listed) = app.get("/api/v1/orders?q=7700000001", &owner).await;
    assert_eq!(listed["items"][0]["state"], "paid");
    // The same event again is refused harmlessly; an unknown order is reported, not fatal.
    let (_, outcomes) = hook(
        json!({"events": [{"kind": "paid", "order_no": "7700000001"}, {"kind": "paid", "order_no": "0000000404"},
            {"kind": "cancelled", "order_no": "7700000002"}]}),
        None,
    )
    .await;
    let kinds: Vec<&str> = outcomes
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["refused", "not_found", "refused"], "{outcomes}");
    assert!(
        outcomes[2]["message"].as_str().unwrap().contains("买家已付款"),
        "{outcomes}"
    );
    let (status, _) = hook(json!({"events": [{"kind": "teleported", "order_no": "1"}]}), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .client
        .post(app.url("/api/v1/hooks/demo/orders/taobao"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no such feed");
}
on_both_engines!(platforms_feed_orders_by_import_and_signed_events);

async fn the_chat_panel_shows_the_buyer_and_their_orders(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let shop = app
        .store
        .shop_by_slug(&kefu_core::shop::ShopSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let (_, buyers) = app.get("/api/v1/customers?q=tb_小雨妈妈", &owner).await;
    let buyer = buyers["items"][0].clone();
    let nick = buyer["nick"].as_str().unwrap();
    let signed = kefu_core::chat::Conversation::new(
        shop.id,
        format!("buyer:{nick}"),
        nick.into(),
        "web".into(),
        kefu_store::now(),
    );
    let anonymous = kefu_core::chat::Conversation::new(
        shop.id,
        "v-panel-0001".into(),
        "访客".into(),
        "h5".into(),
        kefu_store::now(),
    );
    app.store.create_conversation(&signed).await.unwrap();
    app.store.create_conversation(&anonymous).await.unwrap();

    let (status, panel) = app
        .get(&format!("/api/v1/chat/conversations/{}/panel", signed.id), &owner)
        .await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert_eq!(panel["customer"]["nick"], nick);
    assert!(panel["customer"]["groups"].is_array());
    let orders = panel["orders"].as_array().unwrap();
    assert!(!orders.is_empty(), "{panel}");
    for o in orders {
        assert_eq!(o["customer_id"], buyer["id"]);
        assert!(o["actions"].as_array().unwrap().contains(&json!("set_memo")));
        let state = o["state"].as_str().unwrap();
        let may_ship = o["actions"].as_array().unwrap().contains(&json!("ship"));
        assert_eq!(may_ship, state == "paid", "{state}: {}", o["actions"]);
    }
    let (_, panel) = app
        .get(&format!("/api/v1/chat/conversations/{}/panel", anonymous.id), &owner)
        .await;
    assert_eq!((&panel["customer"], &panel["orders"]), (&Value::Null, &json!([])));
    // Not the agent's chat; another shop's.
    let (status, _) = app
        .get(&format!("/api/v1/chat/conversations/{}/panel", signed.id), &agent)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.other_shop().await;
    let boss = app.login("other", "boss", OWNER_PW).await;
    let (status, _) = app
        .get(&format!("/api/v1/chat/conversations/{}/panel", signed.id), &boss)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
on_both_engines!(the_chat_panel_shows_the_buyer_and_their_orders);

/// A buyer's lifecycle group follows their order: 订单组 unpaid, 发货组 paid and shipped,
/// 成交组 once received — moved by the platform's events and the agent's shipping.
async fn groups_follow_the_order_as_it_moves(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let placed = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let order = json!({"order_no": "5500000001", "buyer": {"nick": "tb_分组测试"}, "state": "awaiting_payment",
        "items": [{"sku": "XMA-SJ-001", "title": "婴儿连体衣", "unit_price": 5900, "quantity": 1}], "address": "浙江省杭州市西湖区2号",
        "placed_at": placed});
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/orders/import",
            &owner,
            Some(json!({"orders": [order]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let groups = || async {
        let (_, c) = app.get("/api/v1/customers?q=tb_分组测试", &owner).await;
        c["items"][0]["groups"].clone()
    };
    assert_eq!(groups().await, json!(["ordered"]));
    let (_, secret) = app.call(Method::POST, "/api/v1/shop/widget-secret", &owner, None).await;
    let secret = secret["secret"].as_str().unwrap().to_string();
    let hook = |kind: &str| {
        let body = json!({"events": [{"kind": kind, "order_no": "5500000001"}]}).to_string();
        let sig = kefu_core::order_feed::sign_body(secret.as_bytes(), body.as_bytes());
        let app = app.clone();
        async move {
            let r = app
                .client
                .post(app.url("/api/v1/hooks/demo/orders/kefu"))
                .header("x-kefu-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()[0]["outcome"].clone()
        }
    };
    assert_eq!(hook("paid").await, "applied");
    assert_eq!(groups().await, json!(["shipping"]));
    let o = app.get("/api/v1/orders?q=5500000001", &owner).await.1["items"][0].clone();
    let (status, _) = act(
        &app,
        &owner,
        &o,
        json!({"action": "ship", "carrier": "韵达快递", "tracking_no": "YD5500000001"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups().await, json!(["shipping"]));
    assert_eq!(hook("received").await, "applied");
    assert_eq!(groups().await, json!(["dealt"]));
}
on_both_engines!(groups_follow_the_order_as_it_moves);

/// Returns and exchanges step by step; the 7-day window from receipt and who pays the parcel
/// back (buyer, 运费险, seller); a partial refund leaves the trade open.
async fn returns_exchanges_and_the_seven_day_rule(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let ago = |days: i64| (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    let completed = |no: &str, received_days_ago: i64, insured: bool| {
        json!({"order_no": no, "buyer": {"nick": "tb_退换测试"}, "state": "completed", "address": "浙江省杭州市西湖区3号",
            "items": [{"sku": "XMA-SJ-001", "title": "婴儿连体衣", "unit_price": 5900, "quantity": 2}],
            "placed_at": ago(received_days_ago + 3), "paid_at": ago(received_days_ago + 3), "shipped_at": ago(received_days_ago + 2),
            "completed_at": ago(received_days_ago), "carrier": "中通快递", "tracking_no": format!("ZT{no}"), "shipping_insurance": insured})
    };
    let batch = json!({"orders": [completed("6600000001", 2, false), completed("6600000002", 2, true), completed("6600000003", 8, false),
        completed("6600000004", 1, false)]});
    let (status, body) = app
        .call(Method::POST, "/api/v1/orders/import", &owner, Some(batch))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id_of = |no: &'static str| {
        let (app, owner) = (app.clone(), owner.clone());
        async move {
            app.get(&format!("/api/v1/orders?q={no}"), &owner).await.1["items"][0]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let open = |id: String, body: Value| {
        let (app, owner) = (app.clone(), owner.clone());
        async move {
            app.call(
                Method::POST,
                &format!("/api/v1/orders/{id}/after-sales"),
                &owner,
                Some(body),
            )
            .await
        }
    };
    let step = |case: Value, body: Value| {
        let (app, owner) = (app.clone(), owner.clone());
        async move {
            let path = format!("/api/v1/after-sales/{}/actions", case["id"].as_str().unwrap());
            app.call(Method::POST, &path, &owner, Some(body)).await
        }
    };
    let no_reason = json!({"kind": "return_refund", "reason": "no_reason", "amount": 5900});

    // Within 7 days of receipt: a no-reason return, the buyer's parcel — or 运费险's.
    let (status, plain) = open(id_of("6600000001").await, no_reason.clone()).await;
    assert_eq!(
        (status, &plain["return_shipping"]),
        (StatusCode::CREATED, &json!("buyer")),
        "{plain}"
    );
    let (status, insured) = open(id_of("6600000002").await, no_reason.clone()).await;
    assert_eq!(
        (status, &insured["return_shipping"]),
        (StatusCode::CREATED, &json!("insurance")),
        "{insured}"
    );
    // Past 7 days: no more no-reason returns; a quality problem still goes back, at the seller's cost.
    let late = id_of("6600000003").await;
    let (status, body) = open(late.clone(), no_reason.clone()).await;
    assert!(
        status == StatusCode::CONFLICT || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status} {body}"
    );
    assert!(body["message"].as_str().unwrap().contains("7"), "{body}");
    let (status, quality) = open(
        late,
        json!({"kind": "return_refund", "reason": "quality_problem", "amount": 5900}),
    )
    .await;
    assert_eq!(
        (status, &quality["return_shipping"]),
        (StatusCode::CREATED, &json!("seller")),
        "{quality}"
    );

    // The return, step by step: agree, the buyer's parcel back, received, refunded (part of
    // the order: the trade stays 交易成功), done.
    assert_eq!(
        step(plain.clone(), json!({"action": "receive"})).await.0,
        StatusCode::CONFLICT,
        "nothing sent back yet"
    );
    for (action, state) in [
        (json!({"action": "agree"}), "agreed"),
        (
            json!({"action": "ship_back", "carrier": "圆通速递", "tracking_no": "YT9988776655"}),
            "buyer_shipped",
        ),
        (json!({"action": "receive"}), "seller_received"),
        (json!({"action": "refund"}), "refunded"),
        (json!({"action": "finish"}), "done"),
    ] {
        let (status, body) = step(plain.clone(), action.clone()).await;
        assert_eq!(
            (status, body["state"].as_str()),
            (StatusCode::OK, Some(state)),
            "{action}: {body}"
        );
    }
    let v = app
        .get(&format!("/api/v1/orders/{}", id_of("6600000001").await), &owner)
        .await
        .1;
    assert_eq!(
        v["state"], "completed",
        "a refund after 交易成功 does not close the trade"
    );

    // An exchange: the new parcel goes out after the old one came back.
    let (status, ex) = open(
        id_of("6600000004").await,
        json!({"kind": "exchange", "reason": "wrong_item"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ex}");
    assert_eq!(
        step(ex.clone(), json!({"action": "refund"})).await.0,
        StatusCode::CONFLICT,
        "an exchange refunds nothing"
    );
    for (action, state) in [
        (json!({"action": "agree"}), "agreed"),
        (
            json!({"action": "ship_back", "carrier": "圆通速递", "tracking_no": "YT1122334455"}),
            "buyer_shipped",
        ),
        (json!({"action": "receive"}), "seller_received"),
        (
            json!({"action": "ship_replacement", "carrier": "顺丰速运", "tracking_no": "SF5566778899"}),
            "exchanged",
        ),
        (json!({"action": "finish"}), "done"),
    ] {
        let (status, body) = step(ex.clone(), action.clone()).await;
        assert_eq!(
            (status, body["state"].as_str()),
            (StatusCode::OK, Some(state)),
            "{action}: {body}"
        );
    }
    let (_, done) = app
        .get(&format!("/api/v1/after-sales/{}", ex["id"].as_str().unwrap()), &owner)
        .await;
    assert_eq!(done["steps"].as_array().unwrap().len(), 6);
    assert_eq!(done["replacement_parcel"]["tracking_no"], "SF5566778899");

    // Staff cancel an unpaid order with a reason; then it is closed for every action.
    let unpaid = first_order(&app, &owner, "awaiting_payment").await;
    assert_eq!(
        act(&app, &owner, &unpaid, json!({"action": "cancel", "reason": ""}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, body) = act(
        &app,
        &owner,
        &unpaid,
        json!({"action": "cancel", "reason": "买家拍错了，要求取消"}),
    )
    .await;
    assert_eq!(
        (status, &body["close_reason"]),
        (StatusCode::OK, &json!("seller_cancelled")),
        "{body}"
    );
    assert_eq!(body["actions"], json!(["set_memo", "set_flag"]));
    let (status, body) = act(
        &app,
        &owner,
        &unpaid,
        json!({"action": "change_price", "shipping_fee": 0, "reason": "包邮"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("订单处于 交易关闭"),
        "{body}"
    );
}
on_both_engines!(returns_exchanges_and_the_seven_day_rule);

/// Shanghai wall-clock time on 2030-03-`day` (the 4th is a Monday).
fn sh(day: u32, h: u32, m: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2030, 3, day, h, m, 0)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

async fn follow_up_visits_come_due_after_cases_close(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "ajie", AGENT_PW).await;
    let other = app.login("demo", "xiaomei", AGENT_PW).await;
    app.state.clock.set(Some(sh(4, 10, 0)));

    // A complaint worked to its close by 阿杰: a visit for him three days on, at 10:00 Thursday.
    let done = first_order(&app, &agent, "completed").await;
    let customer = done["customer_id"].as_str().unwrap();
    let (status, t) = app
        .call(
            Method::POST,
            "/api/v1/service-tickets",
            &agent,
            Some(
                json!({"customer_id": customer, "order_id": done["id"], "kind": "complaint", "reason": "logistics",
                "content": "快递太慢了"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let path = format!("/api/v1/service-tickets/{}/actions", t["id"].as_str().unwrap());
    for action in [
        json!({"action": "set_responsible", "party": "logistics"}),
        json!({"action": "contact", "channel": "chat", "reached": true, "note": "已催快递"}),
        json!({"action": "close", "outcome": "complaint_withdrawn"}),
    ] {
        let (status, body) = app.call(Method::POST, &path, &agent, Some(action)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, due) = app.get("/api/v1/visits", &agent).await;
    assert_eq!(due["total"], 0, "not due yet: {due}");
    let (_, open) = app.get("/api/v1/visits?view=open", &agent).await;
    assert_eq!(open["total"], 1, "{open}");
    let v = &open["items"][0];
    assert_eq!(v["source"], "complaint");
    assert_eq!(v["source_label"], "投诉回访");
    assert_eq!(v["source_id"], t["id"]);
    assert_eq!(v["assignee_name"], "阿杰");
    assert!(!v["buyer_nick"].as_str().unwrap().is_empty(), "{v}");
    let due_at: chrono::DateTime<chrono::Utc> = serde_json::from_value(v["due_at"].clone()).unwrap();
    assert_eq!(due_at, sh(7, 10, 0));
    let id = v["id"].as_str().unwrap().to_string();

    // Due on Thursday; overdue (on the owner's monitor) a day later.
    app.state.clock.set(Some(sh(7, 10, 0)));
    let (_, due) = app.get("/api/v1/visits", &agent).await;
    assert_eq!(
        (due["total"].as_i64(), &due["items"][0]["due"]),
        (Some(1), &json!(true)),
        "{due}"
    );
    assert_eq!(due["items"][0]["overdue"], false);
    let (status, monitor) = app.get("/api/v1/chat/monitor", &owner).await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    assert_eq!(monitor["visits_overdue"], 0);
    app.state.clock.set(Some(sh(8, 10, 0)));
    let (_, monitor) = app.get("/api/v1/chat/monitor", &owner).await;
    assert_eq!(monitor["visits_overdue"], 1, "{monitor}");
    assert_eq!(monitor["overdue_visits"][0]["id"], json!(id));
    assert_eq!(monitor["overdue_visits"][0]["overdue"], true);

    // A teammate neither sees it nor records it; the owner sees everyone's.
    assert_eq!(app.get("/api/v1/visits", &other).await.1["total"], 0);
    let outcome = format!("/api/v1/visits/{id}/outcome");
    let (status, _) = app
        .call(Method::POST, &outcome, &other, Some(json!({"outcome": "satisfied"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/visits", &owner).await.1["total"], 1);

    // The outcome, once; unhappy needs a note.
    let (status, _) = app
        .call(Method::POST, &outcome, &agent, Some(json!({"outcome": "unsatisfied"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .call(
            Method::POST,
            &outcome,
            &agent,
            Some(json!({"outcome": "satisfied", "note": "包裹已收到，买家满意"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["outcome"].as_str(), body["due"].as_bool()),
        (Some("satisfied"), Some(false))
    );
    let (status, _) = app
        .call(Method::POST, &outcome, &agent, Some(json!({"outcome": "declined"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.get("/api/v1/visits", &agent).await.1["total"], 0);
    assert_eq!(app.get("/api/v1/visits?view=done", &agent).await.1["total"], 1);
    assert_eq!(app.get("/api/v1/chat/monitor", &owner).await.1["visits_overdue"], 0);
    // Reopened and closed again, the case keeps its one visit.
    for action in [
        json!({"action": "reopen", "reason": "买家又来投诉"}),
        json!({"action": "close", "outcome": "complaint_withdrawn"}),
    ] {
        let (status, body) = app.call(Method::POST, &path, &agent, Some(action)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(app.get("/api/v1/visits?view=open", &owner).await.1["total"], 0);

    // A finished after-sales case: a visit too.
    let paid = first_order(&app, &agent, "paid").await;
    let total = view(&app, &agent, &paid).await["total"].as_i64().unwrap();
    let (status, case) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{}/after-sales", paid["id"].as_str().unwrap()),
            &agent,
            Some(json!({"kind": "refund_only", "reason": "unwanted", "amount": total})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let steps = format!("/api/v1/after-sales/{}/actions", case["id"].as_str().unwrap());
    for action in ["agree", "refund", "finish"] {
        let (status, body) = app
            .call(Method::POST, &steps, &agent, Some(json!({ "action": action })))
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    let (_, open) = app.get("/api/v1/visits?view=open", &agent).await;
    assert_eq!(open["total"], 1, "{open}");
    assert_eq!(open["items"][0]["source"], "after_sales");
    assert_eq!(open["items"][0]["order_id"], paid["id"]);
    let due_at: chrono::DateTime<chrono::Utc> = serde_json::from_value(open["items"][0]["due_at"].clone()).unwrap();
    assert_eq!(due_at, sh(11, 10, 0), "Friday 10:00 + 3 days is Monday 10:00");
    app.state.clock.set(None);
}
on_both_engines!(follow_up_visits_come_due_after_cases_close);
