//! Quick phrases (快捷短语) through the API, as the demo shop's owner, an admin and agents use
//! them, on both engines.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, path, token, Some(body)).await
}

/// Removes the demo shop's own team phrases, so that each test counts only what it made.
async fn without_demo_phrases(app: &TestApp) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (s, list) = app.get("/api/v1/phrases?scope=team", &owner).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    for p in list.as_array().expect("a list of phrases") {
        let path = format!("/api/v1/phrases/{}", p["id"].as_str().unwrap());
        let (s, body) = app.call(Method::DELETE, &path, &owner, None).await;
        assert!(s.is_success(), "{body}");
    }
}

/// Creates a phrase, asserting it works, and returns it.
async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, p) = post(app, "/api/v1/phrases", token, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{body}: {p}");
    p
}

/// The texts of one group of one scope as the caller sees it, in order, checking the
/// positions are 0, 1, 2 …
async fn texts(app: &TestApp, token: &str, scope: &str, group: &str) -> Vec<String> {
    let (s, list) = app
        .get(&format!("/api/v1/phrases?scope={scope}&group={group}"), token)
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap();
    for (i, p) in list.iter().enumerate() {
        assert_eq!(p["position"], i, "{p}");
        assert_eq!(p["scope"], scope);
    }
    list.iter().map(|p| p["text"].as_str().unwrap().to_string()).collect()
}

fn id(p: &Value) -> String {
    p["id"].as_str().unwrap().to_string()
}

async fn phrases_are_edited_placed_and_moved(app: Arc<TestApp>) {
    without_demo_phrases(&app).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let team = |group: &str, text: &str| json!({"scope": "team", "group": group, "text": text});

    // Appended in order; inserted at a place, the others move down.
    let a = create(&app, &owner, team("售前", "A")).await;
    let b = create(&app, &owner, team("售前", "B")).await;
    let c = create(&app, &owner, team("售前", "C")).await;
    assert_eq!((a["position"].as_i64(), c["position"].as_i64()), (Some(0), Some(2)));
    let x = create(
        &app,
        &owner,
        json!({"scope": "team", "group": " 售前 ", "shortcut": "SC", "text": " 亲,都是实物拍摄哦 ", "position": 1}),
    )
    .await;
    assert_eq!(
        (&x["group"], &x["shortcut"], &x["text"], &x["position"]),
        (&json!("售前"), &json!("sc"), &json!("亲,都是实物拍摄哦"), &json!(1))
    );
    let top = create(
        &app,
        &owner,
        json!({"scope": "team", "group": "售前", "text": "顶", "position": 0}),
    )
    .await;
    let far = create(
        &app,
        &owner,
        json!({"scope": "team", "group": "售前", "text": "底", "position": 99}),
    )
    .await;
    assert_eq!(far["position"], 5, "beyond the end means last");
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["顶", "A", "亲,都是实物拍摄哦", "B", "C", "底"]
    );
    let (s, r) = post(
        &app,
        "/api/v1/phrases",
        &owner,
        json!({"scope": "team", "group": "售前", "text": "负", "position": -1}),
    )
    .await;
    assert_eq!(
        (s, r["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("position"))
    );

    // Moving: the top one up and the bottom one down stay; otherwise a swap with the neighbour.
    let mv = |id: String, body: Value| {
        let app = app.clone();
        let owner = owner.clone();
        async move { post(&app, &format!("/api/v1/phrases/{id}/move"), &owner, body).await }
    };
    let (s, r) = mv(id(&top), json!({"direction": "up"})).await;
    assert_eq!((s, &r["position"]), (StatusCode::OK, &json!(0)));
    let (s, r) = mv(id(&far), json!({"direction": "down"})).await;
    assert_eq!((s, &r["position"]), (StatusCode::OK, &json!(5)));
    assert_eq!(mv(id(&x), json!({"direction": "up"})).await.1["position"], 1);
    assert_eq!(mv(id(&top), json!({"direction": "down"})).await.1["position"], 1);
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["亲,都是实物拍摄哦", "顶", "A", "B", "C", "底"]
    );
    // …or to a place.
    assert_eq!(mv(id(&far), json!({"position": 0})).await.1["position"], 0);
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["底", "亲,都是实物拍摄哦", "顶", "A", "B", "C"]
    );
    for bad in [
        json!({}),
        json!({"direction": "up", "position": 1}),
        json!({"position": -2}),
    ] {
        assert_eq!(
            mv(id(&a), bad.clone()).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}"
        );
    }
    assert_eq!(
        mv(id(&a), json!({"direction": "sideways"})).await.0,
        StatusCode::BAD_REQUEST
    );

    // Editing keeps the place; a new group takes it last there and closes the gap behind.
    let path = format!("/api/v1/phrases/{}", id(&b));
    let (s, edited) = app
        .call(
            Method::PUT,
            &path,
            &owner,
            Some(json!({"group": "售前", "shortcut": "b1", "text": "B 改"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!((&edited["position"], &edited["shortcut"]), (&json!(4), &json!("b1")));
    create(&app, &owner, team("物流", "已发货")).await;
    let (s, edited) = app
        .call(
            Method::PUT,
            &path,
            &owner,
            Some(json!({"group": "物流", "text": "B 改"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!((&edited["position"], &edited["shortcut"]), (&json!(1), &Value::Null));
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["底", "亲,都是实物拍摄哦", "顶", "A", "C"]
    );
    assert_eq!(texts(&app, &owner, "team", "物流").await, ["已发货", "B 改"]);
    assert_eq!(app.get(&path, &owner).await.1, edited);

    // Deleting closes the gap.
    assert_eq!(
        app.call(Method::DELETE, &format!("/api/v1/phrases/{}", id(&a)), &owner, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["底", "亲,都是实物拍摄哦", "顶", "C"]
    );
    assert_eq!(
        app.get(&format!("/api/v1/phrases/{}", id(&a)), &owner).await.0,
        StatusCode::NOT_FOUND
    );

    // Bad input is refused with the field, and changes nothing.
    for (body, field) in [
        (json!({"scope": "team", "group": "", "text": "x"}), "group"),
        (json!({"scope": "team", "group": "售前", "text": "  "}), "text"),
        (
            json!({"scope": "team", "group": "售前", "text": "好".repeat(501)}),
            "text",
        ),
        (
            json!({"scope": "team", "group": "售前", "shortcut": "发货", "text": "x"}),
            "shortcut",
        ),
        (
            json!({"scope": "team", "group": "售前", "text": "订单{订单好}已发货"}),
            "text",
        ),
    ] {
        let (s, r) = post(&app, "/api/v1/phrases", &owner, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r}");
        assert_eq!(r["field"], field, "{r}");
    }
    let (_, r) = post(&app, "/api/v1/phrases", &owner, team("售前", "订单{订单好}已发货")).await;
    assert!(r["message"].as_str().unwrap().contains("{订单好}"), "{r}");
    let (s, r) = post(
        &app,
        "/api/v1/phrases",
        &owner,
        json!({"scope": "team", "group": "售后", "shortcut": "sc", "text": "重复"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    assert!(r["message"].as_str().unwrap().contains("“sc”"), "{r}");
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/phrases/{}", id(&c)),
            &owner,
            Some(json!({"group": "售前", "shortcut": "sc", "text": "C"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(texts(&app, &owner, "team", "售后").await, Vec::<String>::new());
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["底", "亲,都是实物拍摄哦", "顶", "C"]
    );
}
on_both_engines!(phrases_are_edited_placed_and_moved);

async fn team_and_personal_phrases_have_their_own_readers_and_writers(app: Arc<TestApp>) {
    without_demo_phrases(&app).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let xiaomei = app.login("demo", "xiaomei", AGENT_PW).await;
    let xiaoyu = app.login("demo", "xiaoyu", AGENT_PW).await;
    let (s, r) = post(
        &app,
        "/api/v1/accounts",
        &owner,
        json!({"username": "lina", "display_name": "丽娜", "role": "admin", "password": "lina-admin-123"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let admin = app.login("demo", "lina", "lina-admin-123").await;

    // Owners and admins write the team's phrases; agents read them and may not write them.
    let team = create(
        &app,
        &owner,
        json!({"scope": "team", "group": "售前", "shortcut": "sc", "text": "亲,都是实物拍摄的哦"}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"scope": "team", "group": "售后", "shortcut": "th", "text": "退货地址见商品详情页"}),
    )
    .await;
    let team_path = format!("/api/v1/phrases/{}", id(&team));
    assert_eq!(app.get(&team_path, &xiaomei).await.1["text"], "亲,都是实物拍摄的哦");
    let (s, _) = post(
        &app,
        "/api/v1/phrases",
        &xiaomei,
        json!({"scope": "team", "group": "售前", "text": "小美写的团队短语"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let change = json!({"group": "售前", "text": "被小美改了"});
    assert_eq!(
        app.call(Method::PUT, &team_path, &xiaomei, Some(change.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &app,
            &format!("{team_path}/move"),
            &xiaomei,
            json!({"direction": "down"})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::DELETE, &team_path, &xiaomei, None).await.0,
        StatusCode::FORBIDDEN
    );
    let file = "group,shortcut,text\n售前,,小美导入\n".as_bytes().to_vec();
    assert_eq!(
        upload(&app, &xiaomei, "?scope=team", file, "text/csv").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get(&team_path, &owner).await.1["text"], "亲,都是实物拍摄的哦");

    // Every member of staff keeps their own; nobody else sees them, whatever their role.
    let mine = create(
        &app,
        &xiaomei,
        json!({"scope": "personal", "group": "售前", "shortcut": "sc", "text": "我是{客服昵称},这款是实拍图哦"}),
    )
    .await;
    assert_eq!((&mine["scope"], &mine["position"]), (&json!("personal"), &json!(0)));
    assert_eq!(mine["variables"], json!(["agent_nick"]));
    create(
        &app,
        &owner,
        json!({"scope": "personal", "group": "售前", "text": "店长自己的"}),
    )
    .await;
    let mine_path = format!("/api/v1/phrases/{}", id(&mine));
    for other in [&owner, &admin, &xiaoyu] {
        assert_eq!(app.get(&mine_path, other).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            app.call(Method::PUT, &mine_path, other, Some(change.clone())).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&app, &format!("{mine_path}/move"), other, json!({"direction": "up"}))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&app, &format!("{mine_path}/fill"), other, json!({})).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.call(Method::DELETE, &mine_path, other, None).await.0,
            StatusCode::NOT_FOUND
        );
    }
    // Lists: the team's first, then the caller's own.
    let list = app.get("/api/v1/phrases", &xiaomei).await.1;
    let seen: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["scope"].as_str().unwrap(), p["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("team", "亲,都是实物拍摄的哦"),
            ("team", "退货地址见商品详情页"),
            ("personal", "我是{客服昵称},这款是实拍图哦")
        ]
    );
    assert_eq!(texts(&app, &xiaoyu, "personal", "售前").await, Vec::<String>::new());
    assert_eq!(texts(&app, &owner, "personal", "售前").await, ["店长自己的"]);
    assert_eq!(
        app.get("/api/v1/phrases?q=SC", &xiaomei)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.get("/api/v1/phrases?q=详情页", &xiaomei)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The owner edits their own, moving and deleting it like any phrase.
    let (s, r) = app
        .call(
            Method::PUT,
            &mine_path,
            &xiaomei,
            Some(json!({"group": "售前", "shortcut": "sc", "text": "我是{客服昵称},都是实拍图哦"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // A shortcut expands to the caller's own phrase first, else the team's.
    let expand = |token: &str, sc: &str| {
        let app = app.clone();
        let (token, sc) = (token.to_string(), sc.to_string());
        async move { app.get(&format!("/api/v1/phrases/expand?shortcut={sc}"), &token).await }
    };
    let (s, r) = expand(&xiaomei, "SC").await;
    assert_eq!(
        (s, r["text"].as_str()),
        (StatusCode::OK, Some("我是{客服昵称},都是实拍图哦"))
    );
    assert_eq!(expand(&xiaoyu, "sc").await.1["text"], "亲,都是实物拍摄的哦");
    assert_eq!(expand(&xiaomei, "th").await.1["scope"], "team");
    assert_eq!(expand(&xiaomei, "zz").await.0, StatusCode::NOT_FOUND);
    assert_eq!(expand(&xiaomei, "s c").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // Another agent may use the same shortcut for their own; but not twice for one scope.
    create(
        &app,
        &xiaoyu,
        json!({"scope": "personal", "group": "售前", "shortcut": "sc", "text": "小雨的实拍说明"}),
    )
    .await;
    assert_eq!(expand(&xiaoyu, "sc").await.1["text"], "小雨的实拍说明");
    let (s, r) = post(
        &app,
        "/api/v1/phrases",
        &xiaoyu,
        json!({"scope": "personal", "group": "售后", "shortcut": "sc", "text": "又一个"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");

    // Deleting her own.
    assert_eq!(
        app.call(Method::DELETE, &mine_path, &xiaomei, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(expand(&xiaomei, "sc").await.1["text"], "亲,都是实物拍摄的哦");
}
on_both_engines!(team_and_personal_phrases_have_their_own_readers_and_writers);

async fn phrases_are_filled_with_the_conversation_s_values(app: Arc<TestApp>) {
    without_demo_phrases(&app).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let xiaomei = app.login("demo", "xiaomei", AGENT_PW).await;
    let p = create(
        &app,
        &owner,
        json!({"scope": "team", "group": "物流", "shortcut": "fh",
               "text": "{买家昵称}您好,我是{店铺名}的{客服昵称},您的订单{订单号}已发货~ {{^_^}"}),
    )
    .await;
    assert_eq!(
        p["variables"],
        json!(["buyer_nick", "shop_name", "agent_nick", "order_no"])
    );
    let path = format!("/api/v1/phrases/{}/fill", id(&p));
    let (s, r) = post(
        &app,
        &path,
        &xiaomei,
        json!({"buyer_nick": "tb_小王", "order_no": "2026110100001"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r,
        json!({"text": "tb_小王您好,我是小棉袄母婴旗舰店的小美,您的订单2026110100001已发货~ {^_^}", "missing": []})
    );
    // Without an order number it stays visible, for the agent to fill in.
    let (_, r) = post(
        &app,
        &path,
        &xiaomei,
        json!({"buyer_nick": "tb_小王", "agent_nick": "美美", "order_no": " "}),
    )
    .await;
    assert_eq!(
        r,
        json!({"text": "tb_小王您好,我是小棉袄母婴旗舰店的美美,您的订单{订单号}已发货~ {^_^}", "missing": ["order_no"]})
    );
    let (s, _) = post(&app, &path, &xiaomei, json!({"buyer": "x"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // From the chat the phrase goes into: its buyer's nick — only in the agent's own chats.
    let shop = app
        .store
        .shop_by_slug(&kefu_core::shop::ShopSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut chat = kefu_core::chat::Conversation::new(
        shop.id,
        "visitor-phrase-00001".into(),
        "tb_阿花".into(),
        "web".into(),
        kefu_store::now(),
    );
    let accounts = app.get("/api/v1/accounts", &owner).await.1;
    let mei_id = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "xiaomei")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    chat.state = kefu_core::chat::ConversationState::Assigned;
    chat.agent_id = Some(kefu_core::ids::AccountId(mei_id));
    app.store.create_conversation(&chat).await.unwrap();
    let (_, r) = post(
        &app,
        &path,
        &xiaomei,
        json!({"conversation_id": chat.id, "order_no": "1"}),
    )
    .await;
    assert!(r["text"].as_str().unwrap().starts_with("tb_阿花您好"), "{r}");
    let xiaoyu = app.login("demo", "xiaoyu", AGENT_PW).await;
    let (s, _) = post(&app, &path, &xiaoyu, json!({"conversation_id": chat.id})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post(
        &app,
        "/api/v1/phrases/0190f5c1-0000-7000-8000-000000000000/fill",
        &xiaomei,
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
on_both_engines!(phrases_are_filled_with_the_conversation_s_values);

async fn upload(app: &TestApp, token: &str, query: &str, bytes: Vec<u8>, content_type: &str) -> (StatusCode, Value) {
    let r = app
        .req(Method::POST, &format!("/api/v1/phrases/import{query}"), token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    let r = app.req(Method::GET, path, token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    r.bytes().await.unwrap().to_vec()
}

async fn phrases_import_and_export_in_both_formats(app: Arc<TestApp>) {
    without_demo_phrases(&app).await;
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let xiaomei = app.login("demo", "xiaomei", AGENT_PW).await;
    let file = "\u{feff}group,shortcut,text\n\
                售前,SC,\"亲,我们家都是实物拍摄的哦\"\n\
                售前,,在的亲~请问有什么可以帮您\n\
                物流,fh,\"{买家昵称}您好,\n您的订单{订单号}已发货\"\n";
    let (s, r) = upload(&app, &owner, "?scope=team", file.as_bytes().to_vec(), "text/csv").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r, json!({"created": 3, "updated": 0, "deleted": 0}));
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["亲,我们家都是实物拍摄的哦", "在的亲~请问有什么可以帮您"]
    );
    assert_eq!(
        app.get("/api/v1/phrases/expand?shortcut=fh", &xiaomei).await.1["text"],
        "{买家昵称}您好,\n您的订单{订单号}已发货"
    );

    // Merging: by shortcut, else by group and text; nothing removed.
    let more = "group,shortcut,text\n售前,sc,亲~都是实物拍摄哦\n售后,th,退货请寄回 {店铺名}\n";
    let (s, r) = upload(&app, &owner, "?mode=merge", more.as_bytes().to_vec(), "text/csv").await;
    assert_eq!(
        (s, r),
        (StatusCode::OK, json!({"created": 1, "updated": 1, "deleted": 0}))
    );
    assert_eq!(
        texts(&app, &owner, "team", "售前").await,
        ["亲~都是实物拍摄哦", "在的亲~请问有什么可以帮您"]
    );

    // Export, then import the export: nothing changes, in either format.
    let before = app.get("/api/v1/phrases", &owner).await.1;
    let csv = download(&app, &owner, "/api/v1/phrases/export?format=csv&scope=team").await;
    assert!(csv.starts_with("\u{feff}group,shortcut,text\n".as_bytes()));
    assert_eq!(String::from_utf8(csv.clone()).unwrap().matches("\n售").count(), 3);
    let xlsx = download(&app, &owner, "/api/v1/phrases/export?format=xlsx").await;
    assert!(xlsx.starts_with(b"PK"));
    for (bytes, ct) in [(&csv, "text/csv"), (&xlsx, XLSX)] {
        let (s, r) = upload(&app, &owner, "?mode=replace&scope=team", bytes.clone(), ct).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["created"], r["deleted"], "{r}");
        let after = app.get("/api/v1/phrases", &owner).await.1;
        let strip = |v: &Value| -> Vec<Value> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| json!([p["scope"], p["group"], p["shortcut"], p["text"], p["position"]]))
                .collect()
        };
        assert_eq!(strip(&after), strip(&before));
        // …and merged, the same file changes nothing at all.
        let (_, r) = upload(&app, &owner, "?mode=merge&scope=team", bytes.clone(), ct).await;
        assert_eq!(r, json!({"created": 0, "updated": 0, "deleted": 0}));
    }
    assert!(
        download(&app, &owner, "/api/v1/phrases/template?format=xlsx")
            .await
            .starts_with(b"PK")
    );
    let template = download(&app, &owner, "/api/v1/phrases/template").await;
    assert!(String::from_utf8(template).unwrap().contains("{订单号}"));

    // An agent imports and exports their own; the team's stay as they are.
    let own = "group,shortcut,text\n常用,hi,\"您好,我是{客服昵称}\"\n";
    let (s, r) = upload(
        &app,
        &xiaomei,
        "?scope=personal&mode=replace",
        own.as_bytes().to_vec(),
        "text/csv",
    )
    .await;
    assert_eq!(
        (s, r),
        (StatusCode::OK, json!({"created": 1, "updated": 0, "deleted": 0}))
    );
    let exported = download(&app, &xiaomei, "/api/v1/phrases/export?scope=personal").await;
    assert_eq!(
        String::from_utf8(exported).unwrap(),
        "\u{feff}group,shortcut,text\n常用,hi,\"您好,我是{客服昵称}\"\n"
    );
    assert_eq!(
        download(&app, &owner, "/api/v1/phrases/export?scope=personal").await,
        "\u{feff}group,shortcut,text\n".as_bytes()
    );
    assert_eq!(texts(&app, &xiaomei, "team", "售前").await.len(), 2);

    // Bad files are refused with line and reason, and import nothing.
    let before = app.get("/api/v1/phrases", &owner).await.1;
    let header = "group,shortcut,text\n";
    let bad_files: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"category,question,similar,answer\na,b,c,d\n".to_vec(),
            "text/csv",
            "line 1",
        ),
        (
            "group,text\n售前,x\n".as_bytes().to_vec(),
            "text/csv",
            "group,shortcut,text",
        ),
        (
            format!("{header}新组,,新短语\n新组,, \n").into_bytes(),
            "text/csv",
            "line 3: the text must not be empty",
        ),
        (
            format!("{header}新组,,新短语\n新组,,订单{{订单好}}\n").into_bytes(),
            "text/csv",
            "line 3",
        ),
        (
            format!("{header}新组,,新短语\n新组,,订单{{订单好}}\n").into_bytes(),
            "text/csv",
            "{订单好}",
        ),
        (
            format!("{header}新组,ab,一\n新组,AB,二\n").into_bytes(),
            "text/csv",
            "line 3: the shortcut “ab” is already on line 2",
        ),
        (
            format!("{header}新组,,一\n新组,,一\n").into_bytes(),
            "text/csv",
            "line 3",
        ),
        (
            format!("{header}新组,a b,一\n").into_bytes(),
            "text/csv",
            "line 2: the shortcut",
        ),
        (format!("{header},,一\n").into_bytes(), "text/csv", "line 2: the group"),
        (format!("{header}新组,,一,多一列\n").into_bytes(), "text/csv", "line 2"),
        (header.as_bytes().to_vec(), "text/csv", "no phrases"),
        (
            b"group,shortcut,text\n\xb0\xfc\xd3\xca,a,b\n".to_vec(),
            "text/csv",
            "UTF-8",
        ),
        (xlsx[..xlsx.len() / 2].to_vec(), XLSX, "xlsx"),
        (
            b"PK\x03\x04 not a workbook".to_vec(),
            "application/octet-stream",
            "xlsx",
        ),
    ];
    for (bytes, ct, needle) in bad_files {
        for mode in ["merge", "replace"] {
            let (s, r) = upload(&app, &owner, &format!("?mode={mode}"), bytes.clone(), ct).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{needle}: {r}");
            assert_eq!(r["field"], "file", "{r}");
            assert!(r["message"].as_str().unwrap().contains(needle), "{needle}: {r}");
        }
    }
    // An .xlsx with a bad line names its row, as Excel numbers it.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in [
        ["group", "shortcut", "text"],
        ["售前", "ok", "好的"],
        ["售前", "", "{订单号"],
    ]
    .iter()
    .enumerate()
    {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *v).unwrap();
        }
    }
    let (s, r) = upload(&app, &owner, "", book.save_to_buffer().unwrap(), XLSX).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("line 3: the text has a “{”"),
        "{r}"
    );
    assert_eq!(app.get("/api/v1/phrases", &owner).await.1, before);
}
on_both_engines!(phrases_import_and_export_in_both_formats);
