//! The authorization matrix (issue 8): every operation of the OpenAPI document, called on the
//! running server by nobody, by another shop's owner with this shop's ids, and by each role of
//! this shop. Whatever the body: a secured operation refuses the anonymous caller (401); the
//! other shop never reaches this shop's rows; an agent never reads what is for managers or
//! supervisors; nothing answers 5xx; and every status is one the document lists for it (or one
//! every operation may give: 400 unreadable input, 401, 413, 429).

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What every operation may answer without listing it.
const ANYWHERE: &[u16] = &[400, 401, 413, 429];

/// Reads an agent must not make (SPEC §3.4, §5.4, §1.5): the audit log, the export of buyers'
/// phones and addresses, the live monitor, the learning loop's questions.
const NOT_FOR_AGENTS: &[&str] = &[
    "/api/v1/audit",
    "/api/v1/customers/export",
    "/api/v1/chat/monitor",
    "/api/v1/bot/suggestions",
    // Webhook endpoints and their delivery log (SPEC §7.2): the shop's integrations.
    "/api/v1/webhooks",
    "/api/v1/webhooks/{id}",
    "/api/v1/webhooks/{id}/deliveries",
];

/// The first `id` in a listing (an array, or an object holding one).
fn first_id(v: &Value) -> Option<String> {
    let list = match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o.values().find_map(|x| x.as_array().cloned())?,
        _ => return None,
    };
    list.first()?.get("id")?.as_str().map(str::to_string)
}

struct Op {
    method: Method,
    path: String,
    secured: bool,
    documented: Vec<u16>,
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push(Op {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                secured: op.get("security").is_some(),
                documented: op["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .collect(),
            });
        }
    }
    ops
}

async fn call(app: &TestApp, op: &Op, path: &str, token: Option<&str>) -> StatusCode {
    let mut rb = app.client.request(op.method.clone(), app.url(path));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if matches!(op.method, Method::POST | Method::PUT | Method::PATCH) {
        rb = rb.json(&json!({}));
    }
    rb.send().await.unwrap().status()
}

async fn matrix(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    // A supervisor and an admin of the demo shop.
    let mut staff = BTreeMap::new();
    for (username, role) in [("zhuguan", "supervisor"), ("guanli", "admin")] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/accounts",
                &owner,
                Some(json!({"username": username, "display_name": username, "role": role, "password": "matrix-pass-123"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        staff.insert(role, app.login("demo", username, "matrix-pass-123").await);
    }
    app.other_shop().await;
    let stranger = app.login("other", "boss", OWNER_PW).await;

    // This shop's ids, for every kind of row a path names.
    let (_, g) = app
        .call(
            Method::POST,
            "/api/v1/customer-groups",
            &owner,
            Some(json!({"name": "矩阵测试组"})),
        )
        .await;
    let _ = g;
    let (_, m) = app
        .call(
            Method::POST,
            "/api/v1/widget/demo/messages",
            "",
            Some(json!({"name": "矩阵", "contact": "13800000000", "text": "请回电"})),
        )
        .await;
    let _ = m;
    let (status, w) = app
        .call(
            Method::POST,
            "/api/v1/webhooks",
            &owner,
            Some(json!({"url": "https://hooks.example.com/kefu", "events": ["order.updated"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    // Ids of rows this shop really has; a kind it has none of gets a made-up id.
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut real: Vec<&str> = Vec::new();
    for (prefix, listing) in [
        ("/api/v1/accounts/", "/api/v1/accounts"),
        ("/api/v1/after-sales/", "/api/v1/after-sales"),
        ("/api/v1/customer-groups/", "/api/v1/customer-groups"),
        ("/api/v1/customers/", "/api/v1/customers"),
        ("/api/v1/kb/categories/", "/api/v1/kb/categories"),
        ("/api/v1/kb/entries/", "/api/v1/kb/entries"),
        ("/api/v1/messages/", "/api/v1/messages"),
        ("/api/v1/orders/", "/api/v1/orders"),
        ("/api/v1/phrases/", "/api/v1/phrases"),
        ("/api/v1/products/", "/api/v1/products"),
        ("/api/v1/service-tickets/", "/api/v1/service-tickets"),
        ("/api/v1/webhooks/", "/api/v1/webhooks"),
    ] {
        let (status, v) = app.get(listing, &owner).await;
        assert_eq!(status, StatusCode::OK, "{listing}: {v}");
        if let Some(id) = first_id(&v) {
            real.push(prefix);
            ids.insert(prefix, id);
        } else {
            ids.insert(prefix, uuid::Uuid::now_v7().to_string());
        }
    }
    // A product FAQ question (SPEC §2.10) of the demo shop, and a second product to relate.
    let (_, products) = app.get("/api/v1/products?limit=2", &owner).await;
    let related = products["items"][1]["id"].as_str().unwrap().to_string();
    let (_, hits) = app.get("/api/v1/products/search?q=%E7%BC%A9%E6%B0%B4", &owner).await;
    let with_faq = hits[0]["product"]["id"].as_str().unwrap().to_string();
    let (_, k) = app.get(&format!("/api/v1/products/{with_faq}/knowledge"), &owner).await;
    ids.insert("/api/v1/product-faq/", k["faq"][0]["id"].as_str().unwrap().to_string());
    real.push("/api/v1/product-faq/");

    let conversation = kefu_core::chat::Conversation::new(
        app.store
            .shop_by_slug(&kefu_core::shop::ShopSlug::parse("demo").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
        "visitor-matrix-000001".into(),
        "矩阵买家".into(),
        "web".into(),
        kefu_store::now(),
    );
    app.store.create_conversation(&conversation).await.unwrap();
    ids.insert("/api/v1/chat/conversations/", conversation.id.0.to_string());
    real.push("/api/v1/chat/conversations/");

    let (_, doc) = app.get("/api/openapi.json", "").await;
    let mut ops = operations(&doc);
    // Logging out ends the callers' sessions: last.
    ops.sort_by_key(|op| op.path == "/api/v1/auth/logout");
    assert!(ops.len() >= 90, "{} operations", ops.len());
    let mut failures = Vec::new();
    let mut fail = |op: &Op, who: &str, status: StatusCode, why: &str| {
        failures.push(format!("{} {} as {who}: {status} — {why}", op.method, op.path));
    };
    for op in &ops {
        let id = ids
            .iter()
            .filter(|(prefix, _)| op.path.starts_with(*prefix))
            .map(|(_, id)| id.as_str())
            .next()
            .unwrap_or("00000000-0000-7000-8000-000000000000");
        let path = op
            .path
            .replace("{id}", id)
            .replace("{shop}", "demo")
            .replace("{feed}", "shopify")
            .replace("{related}", &related);
        let names_a_row = op.path.contains("{id}");
        let names_a_real_row = names_a_row && real.iter().any(|prefix| op.path.starts_with(prefix));
        let read = op.method == Method::GET;
        // The socket needs an upgrade; as plain HTTP it only shows who may open it.
        let socket = op.path.ends_with("/socket") || op.path.ends_with("/chat");

        let anonymous = call(&app, op, &path, None).await;
        if op.secured && anonymous != StatusCode::UNAUTHORIZED {
            fail(op, "nobody", anonymous, "a secured operation must ask for a login");
        }
        let mut callers: Vec<(&str, &str)> = vec![("another shop", &stranger), ("agent", &agent)];
        callers.push(("supervisor", &staff["supervisor"]));
        // Managers only read: their writes with an empty body would only be refused anyway,
        // and deletes would take the rows the other callers are tried on.
        if read {
            callers.push(("admin", &staff["admin"]));
            callers.push(("owner", &owner));
        }
        for (who, token) in callers {
            if !op.secured && who != "another shop" {
                continue;
            }
            let status = call(&app, op, &path, Some(token)).await;
            if status.is_server_error() {
                fail(op, who, status, "never a server error");
            }
            if !socket && !op.documented.contains(&status.as_u16()) && !ANYWHERE.contains(&status.as_u16()) {
                fail(
                    op,
                    who,
                    status,
                    &format!("not among the documented {:?}", op.documented),
                );
            }
            if who == "another shop" && op.secured && names_a_row && status.is_success() {
                fail(op, who, status, "another shop reached this shop's row");
            }
            if who == "another shop" && op.secured && names_a_row && read && status != StatusCode::NOT_FOUND {
                fail(
                    op,
                    who,
                    status,
                    "another shop's reads of this shop's rows are not found",
                );
            }
            if who == "agent" && read && NOT_FOR_AGENTS.contains(&op.path.as_str()) && status != StatusCode::FORBIDDEN {
                fail(op, who, status, "not for agents");
            }
            let refused = matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
            );
            if (who == "owner" || who == "admin") && read && !socket && refused && (!names_a_row || names_a_real_row) {
                fail(op, who, status, "a manager reads everything of their shop");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
on_both_engines!(matrix);
