//! Product knowledge (SPEC §2.10), black-box on both engines: search in Chinese (traditional
//! characters too), a product's knowledge edited by managers only and within its shop, FAQ
//! and related products, the import template all or nothing with the bad row named, related
//! products sent as cards that reach the buyer's socket, and the bot preferring a product's
//! FAQ when the buyer asks from that product's page.

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

struct Ws {
    stream: Stream,
    frames: Vec<Value>,
}

impl Ws {
    async fn open(req: tokio_tungstenite::tungstenite::handshake::client::Request) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(req).await.expect("socket");
        Ws {
            stream,
            frames: Vec::new(),
        }
    }

    async fn buyer(app: &TestApp, visitor: &str, sku: Option<&str>) -> Ws {
        let sku = sku.map(|s| format!("&sku={s}")).unwrap_or_default();
        let url = format!(
            "{}/api/v1/widget/demo/chat?visitor={visitor}{sku}",
            app.base.replace("http://", "ws://")
        );
        Ws::open(url.into_client_request().unwrap()).await
    }

    async fn agent(app: &TestApp, token: &str) -> Ws {
        let mut req = format!("{}/api/v1/chat/socket", app.base.replace("http://", "ws://"))
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let mut ws = Ws::open(req).await;
        ws.until(|f| f["type"] == "agent_welcome").await;
        ws
    }

    async fn send(&mut self, v: Value) {
        self.stream.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.stream.next()).await;
            match next {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    self.frames.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Ok(Some(Ok(_))) => {}
                _ => panic!("no matching frame; got {:#?}", self.frames),
            }
        }
    }
}

fn message(client_id: &str, text: &str) -> Value {
    json!({"type": "message", "client_id": client_id, "content": {"kind": "text", "text": text}})
}

fn visitor() -> String {
    format!("visitor-pk-{}", uuid::Uuid::now_v7().simple())
}

/// The demo product with this SKU.
async fn product(app: &TestApp, token: &str, sku: &str) -> Value {
    let (status, list) = app.get(&format!("/api/v1/products?q={sku}"), token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == sku)
        .cloned()
        .unwrap_or_else(|| panic!("no {sku}"))
}

async fn search(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let (status, hits) = app
        .get(&format!("/api/v1/products/search?q={}", urlencoding(q)), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| h["product"]["sku"].as_str().unwrap().to_string())
        .collect()
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn products_are_found_in_chinese_and_kept_in_their_shop(app: Arc<TestApp>) {
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;

    // Words in the title, the attributes, the FAQ; traditional characters find simplified ones.
    let hits = search(&app, &agent, "纯棉 缩水").await;
    assert_eq!(hits.first().map(String::as_str), Some("XMA-LT-001"), "{hits:?}");
    assert_eq!(search(&app, &agent, "純棉 縮水").await, hits, "traditional characters");
    let (_, found) = app
        .get(&format!("/api/v1/products/search?q={}", urlencoding("防胀气")), &agent)
        .await;
    assert_eq!(found[0]["product"]["sku"], "XMA-NP-001");
    // Selling points and comparisons are searched: 高铁米粉 says 铁锌钙 only there.
    let hits = search(&app, &agent, "铁锌钙").await;
    assert!(hits.contains(&"XMA-MF-001".to_string()), "{hits:?}");
    let hits = search(&app, &agent, "XMA-NK-003").await;
    assert_eq!(hits[0], "XMA-NK-003");
    assert!(search(&app, &agent, "宇宙飞船").await.is_empty());
    let (status, body) = app.get("/api/v1/products/search?q=%20", &agent).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("q"))
    );

    // Every member of staff reads a product's knowledge.
    let lt = product(&app, &agent, "XMA-LT-001").await;
    let id = lt["id"].as_str().unwrap();
    let (status, k) = app.get(&format!("/api/v1/products/{id}/knowledge"), &agent).await;
    assert_eq!(status, StatusCode::OK, "{k}");
    assert_eq!(
        k["info"]["size_chart"]["columns"],
        json!(["尺码", "身高", "体重", "月龄"])
    );
    assert_eq!(k["info"]["size_chart"]["rows"].as_array().unwrap().len(), 4);
    assert_eq!(k["product"]["attributes"]["材质"], "A类纯棉");
    assert!(
        k["info"]["comparisons"][0]["competitor"]
            .as_str()
            .unwrap()
            .contains("便宜")
    );
    assert!(k["faq"].as_array().unwrap().len() >= 3);

    // Only owners and admins write; bad input changes nothing and names its field.
    let mut info = k["info"].clone();
    info["selling_points"] = json!(["新卖点"]);
    let path = format!("/api/v1/products/{id}/knowledge");
    let (status, _) = app.call(Method::PUT, &path, &agent, Some(info.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut bad = info.clone();
    bad["size_chart"]["rows"][1] = json!(["73"]);
    let (status, body) = app.call(Method::PUT, &path, &owner, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "size_chart.rows[1]");
    assert_eq!(body["error"], "invalid_value");
    let (_, same) = app.get(&path, &agent).await;
    assert_eq!(same["info"], k["info"]);
    let mut info = info.clone();
    info["attributes"] = json!({"材质": "新疆长绒棉", "适用年龄": "0-12个月"});
    let (status, saved) = app.call(Method::PUT, &path, &owner, Some(info)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["info"]["selling_points"], json!(["新卖点"]));
    assert_eq!(saved["product"]["attributes"]["材质"], "新疆长绒棉");
    assert_eq!(search(&app, &agent, "长绒棉").await[0], "XMA-LT-001");

    // Another shop sees none of it.
    app.other_shop().await;
    let boss = app.login("other", "boss", OWNER_PW).await;
    let (status, _) = app.get(&path, &boss).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::PUT, &path, &boss, Some(saved["info"].clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let theirs = search(&app, &boss, "纯棉").await;
    assert!(!theirs.iter().any(|s| s.starts_with("XMA-")), "{theirs:?}");
}
on_both_engines!(products_are_found_in_chinese_and_kept_in_their_shop);

async fn faq_and_related_products_are_edited_by_managers(app: Arc<TestApp>) {
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let cup = product(&app, &owner, "XMA-XG-001").await;
    let bowl = product(&app, &owner, "XMA-FS-001").await;
    let cup_id = cup["id"].as_str().unwrap();
    let bowl_id = bowl["id"].as_str().unwrap();

    let faq = json!({"question": "吸管杯可以装热水吗?", "similar": ["能装热水吗", ""], "answer": "亲，建议装60℃以下的温水哦~"});
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/products/{cup_id}/faq"),
            &agent,
            Some(faq.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = app
        .call(
            Method::POST,
            &format!("/api/v1/products/{cup_id}/faq"),
            &owner,
            Some(faq.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["similar"], json!(["能装热水吗"]));
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/products/{cup_id}/faq"),
            &owner,
            Some(faq),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let bad = json!({"question": "推荐", "answer": "看看[商品:NO-SUCH]"});
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/products/{cup_id}/faq"),
            &owner,
            Some(bad),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("answer"))
    );
    let faq_id = created["id"].as_str().unwrap();
    let (status, changed) = app
        .call(
            Method::PUT,
            &format!("/api/v1/product-faq/{faq_id}"),
            &owner,
            Some(json!({"question": "吸管杯可以装热水吗?", "answer": "亲，60℃以下温水就好~"})),
        )
        .await;
    assert_eq!(
        (status, changed["answer"].as_str()),
        (StatusCode::OK, Some("亲，60℃以下温水就好~"))
    );

    // 关联推荐 with a reason; never the product itself, never an empty or long reason.
    let path = format!("/api/v1/products/{cup_id}/related/{bowl_id}");
    let (status, _) = app
        .call(
            Method::PUT,
            &path,
            &agent,
            Some(json!({"reason": "6个月宝宝可以开始吃辅食"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, k) = app
        .call(
            Method::PUT,
            &path,
            &owner,
            Some(json!({"reason": "6个月宝宝可以开始吃辅食"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{k}");
    assert_eq!(k["related"][0]["sku"], "XMA-FS-001");
    assert_eq!(k["related"][0]["reason"], "6个月宝宝可以开始吃辅食");
    assert_eq!(k["related"][0]["price"], "¥58.00");
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/products/{cup_id}/related/{cup_id}"),
            &owner,
            Some(json!({"reason": "自己"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("related"))
    );
    let (status, body) = app
        .call(Method::PUT, &path, &owner, Some(json!({"reason": "很".repeat(61)})))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );

    // Another shop can neither change nor remove them.
    app.other_shop().await;
    let boss = app.login("other", "boss", OWNER_PW).await;
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/product-faq/{faq_id}"),
            &boss,
            Some(json!({"question": "x", "answer": "y"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::DELETE, &path, &boss, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/v1/product-faq/{faq_id}"), &boss, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = app.call(Method::DELETE, &path, &owner, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/v1/product-faq/{faq_id}"), &owner, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, k) = app.get(&format!("/api/v1/products/{cup_id}/knowledge"), &agent).await;
    assert!(k["related"].as_array().unwrap().is_empty());
    assert!(k["faq"].as_array().unwrap().iter().all(|f| f["id"] != faq_id));
}
on_both_engines!(faq_and_related_products_are_edited_by_managers);

async fn upload(app: &TestApp, token: &str, format: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/product-knowledge/import?format={format}"),
            token,
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    let r = app.req(Method::GET, path, token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap().to_vec()
}

async fn imports_are_all_or_nothing_and_name_the_bad_row(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let cup = product(&app, &owner, "XMA-XG-001").await;
    let knowledge = format!("/api/v1/products/{}/knowledge", cup["id"].as_str().unwrap());
    let (_, before) = app.get(&knowledge, &owner).await;

    let good = "sku,kind,name,value,similar\n\
        XMA-XG-001,属性,材质,Tritan,\n\
        XMA-XG-001,卖点,,重力球360°吸水,\n\
        XMA-XG-001,常见问题,会漏水吗?,亲，盖好盖子倒过来也不漏~,漏不漏|倒过来会漏吗\n\
        XMA-XG-001,关联推荐,XMA-FS-001,6个月宝宝可以开始吃辅食,\n";
    let (status, _) = upload(&app, &agent, "csv", good.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Line 4 names a product the shop does not have: nothing of the file is taken.
    let bad = good.replace("XMA-FS-001", "XMA-NONE-9");
    let (status, body) = upload(&app, &owner, "csv", bad.into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "file");
    assert!(body["message"].as_str().unwrap().contains("line 5"), "{body}");
    let bad = good.replace("卖点,,重力球", "价格,,重力球");
    let (status, body) = upload(&app, &owner, "csv", bad.into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("line 3"), "{body}");
    let (_, after) = app.get(&knowledge, &owner).await;
    assert_eq!(after, before, "a refused file changes nothing");

    let (status, summary) = upload(&app, &owner, "csv", good.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary, json!({"products": 1, "faq": 1, "related": 1}));
    let (_, k) = app.get(&knowledge, &owner).await;
    assert_eq!(k["product"]["attributes"], json!({"材质": "Tritan"}));
    assert_eq!(k["faq"][0]["similar"], json!(["漏不漏", "倒过来会漏吗"]));
    assert_eq!(k["related"][0]["reason"], "6个月宝宝可以开始吃辅食");

    // Export → import changes nothing, in both formats.
    for format in ["csv", "xlsx"] {
        let file = download(
            &app,
            &owner,
            &format!("/api/v1/product-knowledge/export?format={format}"),
        )
        .await;
        let (status, summary) = upload(&app, &owner, format, file).await;
        assert_eq!(status, StatusCode::OK, "{format}: {summary}");
        assert!(summary["products"].as_i64().unwrap() >= 6, "{summary}");
        let (_, again) = app.get(&knowledge, &owner).await;
        assert_eq!(again["info"], k["info"], "{format}");
        assert_eq!(again["related"], k["related"], "{format}");
        let questions = |v: &Value| -> Vec<Value> {
            v["faq"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["question"].clone())
                .collect()
        };
        assert_eq!(questions(&again), questions(&k), "{format}");
    }
    // The template is one documented file in both formats.
    let csv = download(&app, &owner, "/api/v1/product-knowledge/template").await;
    assert!(String::from_utf8(csv).unwrap().contains("sku,kind,name,value,similar"));
    let xlsx = download(&app, &agent, "/api/v1/product-knowledge/template?format=xlsx").await;
    assert!(xlsx.starts_with(b"PK"));
}
on_both_engines!(imports_are_all_or_nothing_and_name_the_bad_row);

/// Open around the clock, so that hand-overs do not depend on the hour the tests run.
async fn always_open(app: &TestApp, owner: &str) {
    let mut settings = app.get("/api/v1/shop/settings", owner).await.1;
    settings["business_hours"] = json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}]);
    let (status, body) = app
        .call(Method::PUT, "/api/v1/shop/settings", owner, Some(settings))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn related_products_reach_the_buyer_as_cards(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    always_open(&app, &owner).await;
    let token = app.login("demo", "xiaomei", AGENT_PW).await;
    let mut agent = Ws::agent(&app, &token).await;
    agent.send(json!({"type": "presence", "status": "online"})).await;
    agent
        .until(|f| f["type"] == "presence" && f["status"] == "online")
        .await;

    let mut buyer = Ws::buyer(&app, &visitor(), Some("XMA-MF-001")).await;
    let welcome = buyer.until(|f| f["type"] == "welcome").await;
    let conv = welcome["conversation_id"].clone();
    buyer.send(message("b-1", "转人工")).await;
    buyer.until(|f| f["type"] == "event" && f["kind"] == "assigned").await;
    agent.until(|f| f["type"] == "event" && f["kind"] == "assigned").await;

    // The agent looks the product up and sends a related one in one click: a card message.
    let (_, hits) = app
        .get(
            &format!("/api/v1/products/search?q={}", urlencoding("高铁米粉")),
            &token,
        )
        .await;
    let rice = &hits[0]["product"];
    assert_eq!(rice["sku"], "XMA-MF-001");
    let (_, k) = app
        .get(
            &format!("/api/v1/products/{}/knowledge", rice["id"].as_str().unwrap()),
            &token,
        )
        .await;
    let bowl = k["related"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"].as_str().unwrap().starts_with("6个月宝宝可以开始吃辅食"))
        .cloned()
        .expect("a related product by the baby's age");
    agent
        .send(
            json!({"type": "message", "conversation_id": conv, "client_id": "a-card",
            "content": {"kind": "product", "sku": bowl["sku"]}}),
        )
        .await;
    agent.until(|f| f["type"] == "ack" && f["client_id"] == "a-card").await;
    let card = buyer
        .until(|f| f["type"] == "event" && f["content"]["kind"] == "product")
        .await;
    assert_eq!(card["sender"]["role"], "agent");
    assert_eq!(card["content"]["sku"], bowl["sku"]);
    assert_eq!(card["content"]["card"]["title"], bowl["title"]);
    assert_eq!(card["content"]["card"]["price"], bowl["price"]);
    // A card of something the shop does not sell is refused, and nothing is sent.
    agent
        .send(
            json!({"type": "message", "conversation_id": conv, "client_id": "a-none",
            "content": {"kind": "product", "sku": "NO-SUCH"}}),
        )
        .await;
    let refused = agent.until(|f| f["type"] == "error").await;
    assert_eq!(refused["client_id"], "a-none", "{refused}");

    agent.send(json!({"type": "close", "conversation_id": conv})).await;
    agent.until(|f| f["type"] == "event" && f["kind"] == "closed").await;
}
on_both_engines!(related_products_reach_the_buyer_as_cards);

async fn the_bot_prefers_the_faq_of_the_product_page(app: Arc<TestApp>) {
    let ask = |body: Value| {
        let app = app.clone();
        async move {
            let (status, r) = app.call(Method::POST, "/api/v1/widget/demo/ask", "", Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{r}");
            r
        }
    };
    // The shop's knowledge base has a general size answer; the product page has its own.
    let from_page = ask(json!({"text": "宝宝70cm穿多大码", "sku": "XMA-LT-001"})).await;
    assert_eq!(from_page["kind"], "answer", "{from_page}");
    assert_eq!(from_page["product_faq"]["sku"], "XMA-LT-001");
    assert!(from_page["text"].as_str().unwrap().contains("73码"), "{from_page}");
    let elsewhere = ask(json!({"text": "宝宝70cm穿多大码"})).await;
    assert!(elsewhere.get("product_faq").is_none(), "{elsewhere}");
    // A question the product's FAQ does not answer still gets the shop's answer.
    let shipping = ask(json!({"text": "满多少包邮", "sku": "XMA-LT-001"})).await;
    assert_eq!(shipping["kind"], "answer");
    assert!(shipping.get("product_faq").is_none(), "{shipping}");
    assert!(shipping["text"].as_str().unwrap().contains("包邮"));
    // Another product's page does not answer with this product's FAQ.
    let other = ask(json!({"text": "这款会缩水吗", "sku": "XMA-NP-001"})).await;
    assert!(other.get("product_faq").is_none(), "{other}");

    // In the chat: the widget's socket names the page.
    let mut buyer = Ws::buyer(&app, &visitor(), Some("XMA-LT-001")).await;
    buyer.until(|f| f["type"] == "welcome").await;
    buyer.send(message("q-1", "洗了会缩水吗")).await;
    let reply = buyer
        .until(|f| f["type"] == "event" && f["sender"]["role"] == "bot")
        .await;
    assert_eq!(reply["content"]["reply"]["kind"], "answer", "{reply}");
    assert_eq!(reply["content"]["reply"]["product_faq"]["question"], "这款会缩水吗?");
}
on_both_engines!(the_bot_prefers_the_faq_of_the_product_page);
