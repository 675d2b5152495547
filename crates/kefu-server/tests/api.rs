//! Black-box tests of the HTTP API: the real server on a random port, over SQLite and
//! PostgreSQL, talked to with an HTTP client as any API user would.

mod common;

use common::{AGENT_PW, OWNER_PW, TestApp};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;

async fn health_and_openapi(app: Arc<TestApp>) {
    let r: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "ok");
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/auth/password",
        "/api/v1/shop",
        "/api/v1/shop/settings",
        "/api/v1/accounts",
        "/api/v1/accounts/{id}",
        "/api/v1/accounts/{id}/password",
        "/api/v1/products",
        "/api/v1/products/{id}",
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/orders",
        "/api/v1/orders/{id}",
        "/api/v1/orders/{id}/actions",
        "/api/v1/orders/import",
        "/api/v1/hooks/{shop}/orders/{feed}",
        "/api/v1/orders/{id}/logistics",
        "/api/v1/orders/{id}/after-sales",
        "/api/v1/after-sales",
        "/api/v1/after-sales/{id}",
        "/api/v1/after-sales/{id}/actions",
        "/api/v1/service-tickets",
        "/api/v1/service-tickets/{id}",
        "/api/v1/service-tickets/{id}/actions",
        "/api/v1/kb/categories",
        "/api/v1/kb/entries",
        "/api/v1/kb/entries/{id}",
        "/api/v1/kb/categories/{id}",
        "/api/v1/kb/import",
        "/api/v1/kb/export",
        "/api/v1/kb/template",
        "/api/v1/bot/lexicon",
        "/api/v1/bot/console",
        "/api/v1/bot/suggestions",
        "/api/v1/bot/suggestions/accept",
        "/api/v1/messages",
        "/api/v1/messages/{id}",
        "/api/v1/me/replies",
        "/api/v1/accounts/{id}/replies",
        "/api/v1/phrases",
        "/api/v1/phrases/{id}",
        "/api/v1/phrases/{id}/move",
        "/api/v1/phrases/{id}/fill",
        "/api/v1/phrases/expand",
        "/api/v1/phrases/export",
        "/api/v1/phrases/import",
        "/api/v1/phrases/template",
        "/api/v1/widget/{shop}/hello",
        "/api/v1/widget/{shop}/faq",
        "/api/v1/widget/{shop}/ask",
        "/api/v1/widget/{shop}/feedback",
        "/api/v1/widget/{shop}/messages",
        "/api/v1/widget/{shop}/chat",
        "/api/v1/chat/socket",
        "/api/v1/chat/conversations",
        "/api/v1/chat/conversations/{id}/events",
        "/api/v1/chat/conversations/{id}/panel",
        "/api/v1/chat/agents",
        "/api/v1/chat/presence",
        "/api/v1/shop/widget-secret",
        "/api/v1/customers/{id}/reveal",
        "/api/v1/customers/{id}/notes",
        "/api/v1/customers/{id}/tags",
        "/api/v1/customers/{id}/opt-out",
        "/api/v1/customers/{id}/type",
        "/api/v1/compliance/check",
        "/api/v1/visits",
        "/api/v1/visits/{id}/outcome",
        "/api/v1/customers/export",
        "/api/v1/customer-groups",
        "/api/v1/customer-groups/{id}",
        "/api/v1/customer-groups/{id}/members",
        "/api/v1/outreach",
        "/api/v1/audit",
        "/api/v1/orders/{id}/remind",
        "/api/v1/orders/{id}/reminders",
        "/api/v1/reminders/stats",
        "/api/v1/records/search",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Every schema the document refers to is in it (clients and fuzzers resolve them).
    let text = doc.to_string();
    for r in text.split("\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "the OpenAPI document refers to a missing schema {name}"
        );
    }
    // Unknown API paths answer with the JSON error body too.
    let r = app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
}
on_both_engines!(health_and_openapi);

async fn demo_owner_logs_in_with_bearer_or_cookie_and_out(app: Arc<TestApp>) {
    let (status, body) = app.try_login("demo", "owner", OWNER_PW).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account"]["role"], "owner");
    assert_eq!(body["shop"]["name"], "小棉袄母婴旗舰店");
    let token = body["token"].as_str().unwrap();
    let (status, me) = app.get("/api/v1/auth/me", token).await;
    assert_eq!(
        (status, me["account"]["username"].as_str()),
        (StatusCode::OK, Some("owner"))
    );

    // The shop can be left out while the installation has one shop; usernames fold case.
    assert_eq!(
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": "OWNER", "password": OWNER_PW}))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The UI's way: the cookie set at login.
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let r = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"shop": "demo", "username": "xiaomei", "password": AGENT_PW}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("kefu_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let me: Value = browser
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"]["username"], "xiaomei");
    assert_eq!(
        browser
            .post(app.url("/api/v1/auth/logout"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        browser.get(app.url("/api/v1/auth/me")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        app.call(Method::POST, "/api/v1/auth/logout", token, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = app.get("/api/v1/auth/me", token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert_eq!(
        app.get("/api/v1/auth/me", "not-a-token").await.0,
        StatusCode::UNAUTHORIZED
    );
}
on_both_engines!(demo_owner_logs_in_with_bearer_or_cookie_and_out);

async fn ten_wrong_passwords_lock_the_account(app: Arc<TestApp>) {
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.try_login("demo", "xiaomei", "wrong-password").await.0);
    }
    // Five free tries answered 401; the sixth locks, and from then on attempts are refused.
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[6..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Even the right password is refused while locked, with a Retry-After.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"shop": "demo", "username": "xiaomei", "password": AGENT_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Other accounts are not locked by it.
    app.login("demo", "xiaoyu", AGENT_PW).await;
    // Unknown accounts answer exactly like wrong passwords.
    let (s1, b1) = app.try_login("demo", "nobody", "whatever-pw").await;
    let (s2, b2) = app.try_login("nowhere", "owner", OWNER_PW).await;
    assert_eq!((s1, s2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(b1["message"], b2["message"]);
}
on_both_engines!(ten_wrong_passwords_lock_the_account);

async fn one_client_spraying_many_accounts_is_locked(app: Arc<TestApp>) {
    for i in 0..20 {
        let (s, _) = app.try_login("demo", &format!("guess{i}"), "wrong-password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The address is now locked, whichever account it tries.
    assert_eq!(
        app.try_login("demo", "owner", OWNER_PW).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}
on_both_engines!(one_client_spraying_many_accounts_is_locked);

async fn password_change(app: Arc<TestApp>) {
    let t1 = app.login("demo", "ajie", AGENT_PW).await;
    let t2 = app.login("demo", "ajie", AGENT_PW).await;
    let change = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});
    let (s, b) = app
        .call(
            Method::POST,
            "/api/v1/auth/password",
            &t1,
            Some(change("wrong", "a-new-password")),
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (s, b) = app
        .call(
            Method::POST,
            "/api/v1/auth/password",
            &t1,
            Some(change(AGENT_PW, "short")),
        )
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/password",
            &t1,
            Some(change(AGENT_PW, "售后阿杰的新密码")),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // This session goes on; the other one ended; the old password no longer works.
    assert_eq!(app.get("/api/v1/auth/me", &t1).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/v1/auth/me", &t2).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.try_login("demo", "ajie", AGENT_PW).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.login("demo", "ajie", "售后阿杰的新密码").await;
}
on_both_engines!(password_change);

async fn owners_and_admins_manage_sub_accounts(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let new = |username: &str, role: &str| json!({"username": username, "display_name": "新人", "role": role, "password": "new-staff-pw", "skill_group": "售后", "capacity": 5});

    let (s, admin) = app
        .call(Method::POST, "/api/v1/accounts", &owner, Some(new("lina", "admin")))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{admin}");
    assert_eq!(
        (admin["role"].as_str(), admin["routing"]["skill_group"].as_str()),
        (Some("admin"), Some("售后"))
    );
    let admin_token = app.login("demo", "lina", "new-staff-pw").await;

    // Agents manage nobody; admins do not make admins or owners.
    for (token, body) in [
        (&agent, new("x1", "agent")),
        (&admin_token, new("x2", "admin")),
        (&owner, new("x3", "owner")),
    ] {
        assert_eq!(
            app.call(Method::POST, "/api/v1/accounts", token, Some(body)).await.0,
            StatusCode::FORBIDDEN
        );
    }
    let (s, sup) = app
        .call(
            Method::POST,
            "/api/v1/accounts",
            &admin_token,
            Some(new("zhuguan", "supervisor")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // Bad input: a clear error, and nothing created.
    let (s, b) = app
        .call(Method::POST, "/api/v1/accounts", &owner, Some(new("lina", "agent")))
        .await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let mut bad = new("newbie", "agent");
    bad["capacity"] = json!(0);
    let (s, b) = app.call(Method::POST, "/api/v1/accounts", &owner, Some(bad)).await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("capacity"))
    );
    let (s, b) = app
        .call(Method::POST, "/api/v1/accounts", &owner, Some(new("a b", "agent")))
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("username"))
    );
    let mut bad_role = new("newbie", "agent");
    bad_role["role"] = json!("boss");
    assert_eq!(
        app.call(Method::POST, "/api/v1/accounts", &owner, Some(bad_role))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/v1/accounts", &owner).await.1.as_array().unwrap().len(),
        6,
        "owner, 3 agents, admin, supervisor"
    );

    // Change routing; disabling ends the account's sessions.
    let accounts = app.get("/api/v1/accounts", &owner).await.1;
    let xiaomei = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "xiaomei")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/accounts/{xiaomei}");
    let (s, changed) = app
        .call(
            Method::PATCH,
            &path,
            &admin_token,
            Some(json!({"capacity": 12, "takes_chats": false, "skill_group": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(
        changed["routing"],
        json!({"skill_group": null, "takes_chats": false, "capacity": 12})
    );
    assert_eq!(
        app.call(Method::PATCH, &path, &owner, Some(json!({"capacity": 101})))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get(&path, &owner).await.1["routing"]["capacity"],
        12,
        "a refused change changes nothing"
    );
    assert_eq!(
        app.call(Method::PATCH, &path, &owner, Some(json!({"colour": "red"})))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.call(Method::PATCH, &path, &owner, Some(json!({"disabled": true})))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(app.get("/api/v1/auth/me", &agent).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.try_login("demo", "xiaomei", AGENT_PW).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Reset a forgotten password; remove an account; the owner is untouchable.
    let sup_path = format!("/api/v1/accounts/{}", sup["id"].as_str().unwrap());
    assert_eq!(
        app.call(
            Method::PUT,
            &format!("{sup_path}/password"),
            &owner,
            Some(json!({"new_password": "reset-by-owner"}))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    app.login("demo", "zhuguan", "reset-by-owner").await;
    assert_eq!(
        app.call(Method::DELETE, &sup_path, &admin_token, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&sup_path, &owner).await.0, StatusCode::NOT_FOUND);
    let owner_id = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == "owner")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/accounts/{owner_id}"),
            &admin_token,
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::DELETE, &format!("/api/v1/accounts/{owner_id}"), &owner, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/accounts/{}", admin["id"].as_str().unwrap()),
            &admin_token,
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/v1/accounts/not-a-uuid", &owner).await.1["error"],
        "invalid_path"
    );
    // The owner (主账号) joins routing with a capacity of their own, but keeps their role.
    let own = format!("/api/v1/accounts/{owner_id}");
    let (s, me) = app
        .call(
            Method::PATCH,
            &own,
            &owner,
            Some(json!({"takes_chats": true, "capacity": 3})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(
        (
            me["routing"]["takes_chats"].as_bool(),
            me["routing"]["capacity"].as_i64()
        ),
        (Some(true), Some(3)),
        "{me}"
    );
    let (s, e) = app
        .call(Method::PATCH, &own, &owner, Some(json!({"role": "agent"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (s, e) = app
        .call(Method::PATCH, &own, &owner, Some(json!({"disabled": true})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(
        app.get("/api/v1/auth/me", &owner).await.0,
        StatusCode::OK,
        "still logged in"
    );
    let agent = app.login("demo", "xiaoyu", AGENT_PW).await;
    let (s, e) = app.get("/api/v1/audit", &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        e["message"].as_str().unwrap().starts_with("an agent account may not"),
        "{e}"
    );
}
on_both_engines!(owners_and_admins_manage_sub_accounts);

async fn settings_are_validated_and_bad_input_changes_nothing(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaoyu", AGENT_PW).await;
    let (s, settings) = app.get("/api/v1/shop/settings", &agent).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            settings["mode"].as_str(),
            settings["time_zone"].as_str(),
            settings["unpaid_timeout_minutes"].as_i64()
        ),
        (Some("mall"), Some("Asia/Shanghai"), Some(4320))
    );
    assert_eq!(
        app.call(Method::PUT, "/api/v1/shop/settings", &agent, Some(settings.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let mut changed = settings.clone();
    changed["mode"] = json!("c2c");
    changed["trusted_link_domains"] = json!(["taobao.com", "tmall.com", "xiaomianao.cn"]);
    let (s, body) = app
        .call(Method::PUT, "/api/v1/shop/settings", &owner, Some(changed.clone()))
        .await;
    assert_eq!((s, &body), (StatusCode::OK, &changed));

    let cases = [
        (
            "unpaid_timeout_minutes",
            json!(0),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unpaid_timeout_minutes",
        ),
        (
            "trusted_link_domains",
            json!(["http://evil.cn/x"]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "trusted_link_domains[0]",
        ),
        (
            "business_hours",
            json!([{"days": [8], "open": "09:00", "close": "18:00"}]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "business_hours[0].days",
        ),
        (
            "reminder_hours",
            json!({"windows": [{"start": "02:00", "end": "05:00"}], "holiday_delay_minutes": 60}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reminder_hours.windows[0]",
        ),
    ];
    for (key, value, status, field) in cases {
        let mut bad = changed.clone();
        bad[key] = value;
        let (s, b) = app.call(Method::PUT, "/api/v1/shop/settings", &owner, Some(bad)).await;
        assert_eq!((s, b["field"].as_str()), (status, Some(field)), "{key}: {b}");
        assert!(!b["message"].as_str().unwrap().is_empty());
    }
    for (key, value) in [
        ("time_zone", json!("Mars/Base")),
        ("mode", json!("tmall")),
        (
            "business_hours",
            json!([{"days": [1], "open": "9am", "close": "18:00"}]),
        ),
    ] {
        let mut bad = changed.clone();
        bad[key] = value;
        let (s, b) = app.call(Method::PUT, "/api/v1/shop/settings", &owner, Some(bad)).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_json")),
            "{key}: {b}"
        );
    }
    // Malformed JSON, a missing content type and an oversized body: clear errors.
    let r = app
        .req(Method::PUT, "/api/v1/shop/settings", &owner)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"mode\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_json");
    let r = app
        .req(Method::PUT, "/api/v1/shop/settings", &owner)
        .body(changed.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut huge = changed.clone();
    huge["auto_replies"]["greeting"] = json!("亲".repeat(100_000));
    let r = app
        .req(Method::PUT, "/api/v1/shop/settings", &owner)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // None of it changed anything.
    assert_eq!(app.get("/api/v1/shop/settings", &owner).await.1, changed);
}
on_both_engines!(settings_are_validated_and_bad_input_changes_nothing);

async fn catalog_reads_filter_page_and_mask(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let agent = app.login("demo", "xiaomei", AGENT_PW).await;
    let (_, products) = app.get("/api/v1/products?limit=5", &owner).await;
    assert!(products["total"].as_i64().unwrap() >= 30);
    assert_eq!(products["items"].as_array().unwrap().len(), 5);
    let (_, orders) = app.get("/api/v1/orders?state=awaiting_payment&limit=200", &agent).await;
    let items = orders["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|o| o["state"] == "awaiting_payment"));
    let no = items[0]["order_no"].as_str().unwrap();
    let (_, by_no) = app.get(&format!("/api/v1/orders?q={no}"), &agent).await;
    assert_eq!(by_no["total"], 1);
    assert_eq!(
        app.get("/api/v1/orders?state=lost", &agent).await.1["error"],
        "invalid_query"
    );
    assert_eq!(
        app.get("/api/v1/orders?limit=0", &agent).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/api/v1/orders?from=yesterday", &agent).await.0,
        StatusCode::BAD_REQUEST
    );

    // Agents see buyers' phone and address masked; owners see them whole.
    let full = app.get("/api/v1/customers?limit=1", &owner).await.1["items"][0].clone();
    let masked = app
        .get(&format!("/api/v1/customers/{}", full["id"].as_str().unwrap()), &agent)
        .await
        .1;
    assert!(!full["phone"].as_str().unwrap().contains('*'));
    assert!(masked["phone"].as_str().unwrap().contains("****"), "{masked}");
    assert!(masked["address"].as_str().unwrap().ends_with("***"));

    let (_, cats) = app.get("/api/v1/kb/categories", &agent).await;
    assert!(cats.as_array().unwrap().iter().any(|c| c["name"] == "快递物流"));
    let (_, entries) = app.get("/api/v1/kb/entries", &agent).await;
    assert!(entries.as_array().unwrap().len() >= 40);
}
on_both_engines!(catalog_reads_filter_page_and_mask);

/// An account of one shop gets 404 (or 403) for every resource of another shop, and never
/// sees its rows in lists. Extend this as resources are added.
async fn shops_are_isolated(app: Arc<TestApp>) {
    let (other, catalog) = app.other_shop().await;
    let boss = app.login("other", "boss", OWNER_PW).await;
    let demo_owner = app.login("demo", "owner", OWNER_PW).await;
    let demo_accounts = app.get("/api/v1/accounts", &demo_owner).await.1;
    let demo_agent_id = demo_accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "xiaomei")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Shop "other" reaching into shop "demo":
    let demo_product = app.get("/api/v1/products?limit=1", &demo_owner).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let demo_customer = app.get("/api/v1/customers?limit=1", &demo_owner).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let demo_order = app.get("/api/v1/orders?limit=1", &demo_owner).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let demo_entry = app.get("/api/v1/kb/entries", &demo_owner).await.1[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let demo_category = app.get("/api/v1/kb/categories", &demo_owner).await.1[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // An after-sales case and a complaint of the demo shop.
    let paid = app.get("/api/v1/orders?state=paid&limit=1", &demo_owner).await.1["items"][0].clone();
    let (status, demo_case) = app
        .call(
            Method::POST,
            &format!("/api/v1/orders/{}/after-sales", paid["id"].as_str().unwrap()),
            &demo_owner,
            Some(json!({"kind": "refund_only", "reason": "unwanted", "amount": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{demo_case}");
    let (status, demo_ticket) = app
        .call(
            Method::POST,
            "/api/v1/service-tickets",
            &demo_owner,
            Some(json!({"customer_id": paid["customer_id"], "kind": "complaint", "reason": "logistics", "content": "快递太慢"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{demo_ticket}");
    let (demo_case, demo_ticket) = (
        demo_case["id"].as_str().unwrap().to_string(),
        demo_ticket["id"].as_str().unwrap().to_string(),
    );
    // A buyer of the demo shop asks, gets an answer and leaves a message.
    let asked: Value = app
        .client
        .post(app.url("/api/v1/widget/demo/ask"))
        .json(&json!({"text": "满多少包邮?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asked["kind"], "answer", "{asked}");
    let r = app
        .client
        .post(app.url("/api/v1/widget/demo/messages"))
        .json(&json!({"contact": "13800000000", "text": "请回电"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let demo_message = app.get("/api/v1/messages", &demo_owner).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Its session and answer mean nothing to the other shop's widget.
    let r = app
        .client
        .post(app.url("/api/v1/widget/other/feedback"))
        .json(&json!({"session_id": asked["session_id"], "question_id": asked["question_id"], "helpful": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .client
        .post(app.url("/api/v1/widget/other/ask"))
        .json(&json!({"session_id": asked["session_id"], "text": "包邮吗"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A demo buyer's chat.
    let demo_shop = app
        .store
        .shop_by_slug(&kefu_core::shop::ShopSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let chat = kefu_core::chat::Conversation::new(
        demo_shop.id,
        "visitor-isolation-0001".into(),
        "买家".into(),
        "web".into(),
        kefu_store::now(),
    );
    app.store.create_conversation(&chat).await.unwrap();
    let said = kefu_store::NewEvent {
        sender: kefu_core::chat::Sender::Buyer,
        client_id: None,
        body: kefu_core::chat::EventBody::Message {
            content: kefu_core::chat::Content::Text {
                text: "顺丰什么时候到".into(),
            },
            compliance: Vec::new(),
        },
        at: kefu_store::now(),
    };
    app.store.append_event(demo_shop.id, chat.id, &said).await.unwrap();
    // A follow-up visit of the demo shop's.
    let demo_visit = kefu_core::visits::Visit::schedule(
        demo_shop.id,
        kefu_core::ids::CustomerId(demo_customer.parse().unwrap()),
        kefu_core::visits::VisitSource::Complaint,
        uuid::Uuid::now_v7(),
        None,
        None,
        kefu_store::now(),
        kefu_store::now(),
    );
    assert!(app.store.schedule_visit(&demo_visit).await.unwrap());
    // A team phrase of the demo shop, and one of its agents' own.
    let (status, team_phrase) = app
        .call(
            Method::POST,
            "/api/v1/phrases",
            &demo_owner,
            Some(json!({"scope": "team", "group": "售前", "shortcut": "isx", "text": "亲,都是实物拍摄哦"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team_phrase}");
    let xiaomei = app.login("demo", "xiaomei", AGENT_PW).await;
    let (status, own_phrase) = app
        .call(
            Method::POST,
            "/api/v1/phrases",
            &xiaomei,
            Some(json!({"scope": "personal", "group": "售前", "shortcut": "hi", "text": "您好,我是{客服昵称}"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own_phrase}");
    let demo_phrases = [
        team_phrase["id"].as_str().unwrap().to_string(),
        own_phrase["id"].as_str().unwrap().to_string(),
    ];
    // A custom group of the demo shop with that buyer in it.
    let (status, demo_group) = app
        .call(
            Method::POST,
            "/api/v1/customer-groups",
            &demo_owner,
            Some(json!({"name": "VIP"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{demo_group}");
    let demo_group = demo_group["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/customer-groups/{demo_group}/members"),
            &demo_owner,
            Some(json!({"add": [demo_customer]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let demo_unpaid = app
        .get("/api/v1/orders?state=awaiting_payment&limit=1", &demo_owner)
        .await
        .1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let entry_body = json!({"category_id": demo_category, "question": "被改了", "answer": "被改了"});
    let denied = [
        (
            Method::GET,
            format!("/api/v1/chat/conversations/{}/events", chat.id),
            None,
        ),
        (Method::GET, format!("/api/v1/accounts/{demo_agent_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/accounts/{demo_agent_id}"),
            Some(json!({"disabled": true})),
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{demo_agent_id}/password"),
            Some(json!({"new_password": "hijacked-pw"})),
        ),
        (Method::DELETE, format!("/api/v1/accounts/{demo_agent_id}"), None),
        (Method::GET, format!("/api/v1/products/{demo_product}"), None),
        (Method::GET, format!("/api/v1/customers/{demo_customer}"), None),
        (Method::GET, format!("/api/v1/orders/{demo_order}"), None),
        (
            Method::POST,
            format!("/api/v1/orders/{demo_order}/actions"),
            Some(json!({"action": "set_memo", "memo": "被改了"})),
        ),
        (
            Method::POST,
            format!("/api/v1/orders/{demo_order}/logistics"),
            Some(
                json!({"events": [{"at": "2030-01-01T00:00:00Z", "status": "collected", "location": "", "text": "被改了"}]}),
            ),
        ),
        (
            Method::POST,
            format!("/api/v1/orders/{demo_order}/after-sales"),
            Some(json!({"kind": "refund_only", "reason": "unwanted", "amount": 1})),
        ),
        (Method::GET, format!("/api/v1/after-sales/{demo_case}"), None),
        (
            Method::POST,
            format!("/api/v1/after-sales/{demo_case}/actions"),
            Some(json!({"action": "agree"})),
        ),
        (Method::GET, format!("/api/v1/service-tickets/{demo_ticket}"), None),
        (
            Method::POST,
            format!("/api/v1/service-tickets/{demo_ticket}/actions"),
            Some(json!({"action": "set_responsible", "party": "seller"})),
        ),
        (Method::GET, format!("/api/v1/kb/entries/{demo_entry}"), None),
        (
            Method::PUT,
            format!("/api/v1/kb/entries/{demo_entry}"),
            Some(entry_body.clone()),
        ),
        (Method::DELETE, format!("/api/v1/kb/entries/{demo_entry}"), None),
        (
            Method::PATCH,
            format!("/api/v1/kb/categories/{demo_category}"),
            Some(json!({"name": "被改了"})),
        ),
        (Method::DELETE, format!("/api/v1/kb/categories/{demo_category}"), None),
        (Method::POST, "/api/v1/kb/entries".to_string(), Some(entry_body.clone())),
        (
            Method::PATCH,
            format!("/api/v1/messages/{demo_message}"),
            Some(json!({"status": "done"})),
        ),
        (Method::GET, format!("/api/v1/accounts/{demo_agent_id}/replies"), None),
        (
            Method::PUT,
            format!("/api/v1/accounts/{demo_agent_id}/replies"),
            Some(json!({"signature": "hijacked"})),
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{demo_customer}/reveal"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{demo_customer}/notes"),
            Some(json!({"text": "被改了"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/customers/{demo_customer}/tags"),
            Some(json!({"tags": ["被改了"]})),
        ),
        (
            Method::PUT,
            format!("/api/v1/customers/{demo_customer}/opt-out"),
            Some(json!({"opted_out": true})),
        ),
        (
            Method::PUT,
            format!("/api/v1/customers/{demo_customer}/type"),
            Some(json!({"type": "no_pay"})),
        ),
        (
            Method::POST,
            format!("/api/v1/visits/{}/outcome", demo_visit.id),
            Some(json!({"outcome": "satisfied"})),
        ),
        (
            Method::POST,
            "/api/v1/compliance/check".to_string(),
            Some(json!({"conversation_id": chat.id, "text": "13812345678"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/customer-groups/{demo_group}"),
            Some(json!({"name": "被改了"})),
        ),
        (Method::DELETE, format!("/api/v1/customer-groups/{demo_group}"), None),
        (
            Method::POST,
            format!("/api/v1/customer-groups/{demo_group}/members"),
            Some(json!({"remove": [demo_customer]})),
        ),
        (
            Method::POST,
            "/api/v1/customer-groups/{their}/members".replace("{their}", &demo_group),
            Some(json!({"add": [catalog.customers[0].id]})),
        ),
        (
            Method::POST,
            "/api/v1/outreach".to_string(),
            Some(json!({"custom_group": demo_group, "text": "被改了"})),
        ),
        (
            Method::POST,
            format!("/api/v1/orders/{demo_unpaid}/remind"),
            Some(json!({"reason": "forgot"})),
        ),
        (Method::GET, format!("/api/v1/orders/{demo_unpaid}/reminders"), None),
        (
            Method::POST,
            "/api/v1/bot/suggestions/accept".to_string(),
            Some(json!({"questions": [asked["question_id"]], "action": {"kind": "dismiss"}})),
        ),
    ];
    let phrase_change = json!({"group": "售前", "text": "被改了"});
    let denied = denied.into_iter().chain(demo_phrases.iter().flat_map(|id| {
        [
            (Method::GET, format!("/api/v1/phrases/{id}"), None),
            (
                Method::PUT,
                format!("/api/v1/phrases/{id}"),
                Some(phrase_change.clone()),
            ),
            (
                Method::POST,
                format!("/api/v1/phrases/{id}/move"),
                Some(json!({"direction": "down"})),
            ),
            (Method::POST, format!("/api/v1/phrases/{id}/fill"), Some(json!({}))),
            (Method::DELETE, format!("/api/v1/phrases/{id}"), None),
        ]
    }));
    for (method, path, body) in denied {
        let (s, b) = app.call(method.clone(), &path, &boss, body).await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::FORBIDDEN,
            "{method} {path}: {s} {b}"
        );
    }
    // Nothing was changed through those attempts.
    assert_eq!(
        app.get(&format!("/api/v1/accounts/{demo_agent_id}"), &demo_owner)
            .await
            .1["disabled"],
        false
    );
    app.login("demo", "xiaomei", AGENT_PW).await;
    let (_, demo_profile) = app
        .get(&format!("/api/v1/customers/{demo_customer}"), &demo_owner)
        .await;
    assert!(demo_profile["notes"].as_array().unwrap().is_empty(), "{demo_profile}");
    assert_eq!(demo_profile["tags"], json!([]));
    assert_eq!(demo_profile["opted_out"], false);
    assert_eq!(demo_profile["buyer_type"]["current"], Value::Null);
    assert_eq!(
        app.get("/api/v1/visits?view=open", &boss).await.1["total"],
        0,
        "never another shop's visits"
    );
    assert_eq!(
        app.get("/api/v1/visits?view=open", &demo_owner).await.1["items"][0]["outcome"],
        Value::Null
    );
    assert_eq!(demo_profile["custom_groups"], json!([demo_group]));
    let (_, demo_groups) = app.get("/api/v1/customer-groups", &demo_owner).await;
    assert_eq!(
        (demo_groups[0]["name"].as_str(), demo_groups[0]["members"].as_i64()),
        (Some("VIP"), Some(1))
    );
    assert_eq!(
        app.get(&format!("/api/v1/orders/{demo_unpaid}/reminders"), &demo_owner)
            .await
            .1["reminders"],
        json!([])
    );
    // The other shop's customer lists, groups, audit log and statistics hold nothing of the demo's.
    assert_eq!(app.get("/api/v1/customer-groups", &boss).await.1, json!([]));
    assert_eq!(app.get("/api/v1/audit", &boss).await.1["total"], 0);
    assert_eq!(app.get("/api/v1/reminders/stats", &boss).await.1["sent"], 0);
    assert_eq!(app.get("/api/v1/customers?group=dealt", &boss).await.1["total"], 0);
    // Nor its chat records.
    let (status, found) = app.get("/api/v1/records/search?q=顺丰", &demo_owner).await;
    assert_eq!((status, found["items"].as_array().unwrap().len()), (StatusCode::OK, 1));
    for q in ["q=顺丰", "buyer=买家"] {
        let (status, found) = app.get(&format!("/api/v1/records/search?{q}"), &boss).await;
        assert_eq!((status, found["items"].clone()), (StatusCode::OK, json!([])), "{q}");
    }
    let customers_export = app
        .req(Method::GET, "/api/v1/customers/export", &boss)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(customers_export.lines().count(), 2, "{customers_export}");
    assert!(customers_export.contains("别家买家"), "{customers_export}");
    let entry = app
        .get(&format!("/api/v1/kb/entries/{demo_entry}"), &demo_owner)
        .await
        .1;
    assert_ne!(entry["question"], "被改了");
    assert_eq!(app.get("/api/v1/messages?status=open", &demo_owner).await.1["total"], 1);
    for id in &demo_phrases {
        assert_eq!(
            app.get(&format!("/api/v1/phrases/{id}"), &xiaomei).await.1["group"],
            "售前"
        );
    }
    // The other shop's phrases, shortcuts and exports hold nothing of the demo's, and it
    // may use the same shortcut for its own.
    assert_eq!(app.get("/api/v1/phrases", &boss).await.1, json!([]));
    assert_eq!(
        app.get("/api/v1/phrases/expand?shortcut=sc", &boss).await.0,
        StatusCode::NOT_FOUND
    );
    let phrases_export = app
        .req(Method::GET, "/api/v1/phrases/export", &boss)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(phrases_export.lines().count(), 1, "{phrases_export}");
    let (status, their_phrase) = app
        .call(
            Method::POST,
            "/api/v1/phrases",
            &boss,
            Some(json!({"scope": "team", "group": "售前", "shortcut": "iso", "text": "别家的"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{their_phrase}");
    assert_eq!(
        app.get("/api/v1/phrases/expand?shortcut=isx", &xiaomei).await.1["text"],
        "亲,都是实物拍摄哦"
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/phrases/{}", their_phrase["id"].as_str().unwrap()),
            &demo_owner
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // The other shop's lists, console, learning loop and export hold nothing of the demo's.
    assert_eq!(app.get("/api/v1/messages", &boss).await.1["total"], 0);
    assert_eq!(app.get("/api/v1/after-sales", &boss).await.1["total"], 0);
    assert_eq!(app.get("/api/v1/service-tickets", &boss).await.1["total"], 0);
    assert_eq!(app.get("/api/v1/orders", &boss).await.1["total"], 1);
    let demo_view = app
        .get(&format!("/api/v1/after-sales/{demo_case}"), &demo_owner)
        .await
        .1;
    assert_eq!(
        demo_view["state"], "requested",
        "the other shop's attempts changed nothing"
    );
    assert_eq!(
        app.get(&format!("/api/v1/orders/{demo_order}"), &demo_owner).await.1["seller_memo"],
        ""
    );
    assert_eq!(app.get("/api/v1/bot/suggestions", &boss).await.1, json!([]));
    let (_, team) = app.get("/api/v1/chat/agents", &boss).await;
    assert!(
        team.as_array().unwrap().iter().all(|a| a["display_name"] == "老板"),
        "{team}"
    );
    assert_eq!(
        app.get("/api/v1/chat/conversations?view=queue", &boss).await.1,
        json!([])
    );
    let (_, console) = app
        .call(
            Method::POST,
            "/api/v1/bot/console",
            &boss,
            Some(json!({"question": "满多少包邮?"})),
        )
        .await;
    assert!(
        console["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["question"] == "发什么快递"),
        "{console}"
    );
    let export = app
        .req(Method::GET, "/api/v1/kb/export", &boss)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(export.lines().count(), 2, "{export}");

    // And the other way round, for each kind of row the other shop has.
    let theirs = [
        format!("/api/v1/orders/{}/reminders", catalog.orders[0].id),
        format!("/api/v1/products/{}", catalog.products[0].id),
        format!("/api/v1/customers/{}", catalog.customers[0].id),
        format!("/api/v1/orders/{}", catalog.orders[0].id),
        format!("/api/v1/kb/entries/{}", catalog.kb_entries[0].id),
    ];
    for path in &theirs {
        assert_eq!(app.get(path, &demo_owner).await.0, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(app.get(path, &boss).await.0, StatusCode::OK, "{path} for its own shop");
    }
    // Lists show only the caller's shop.
    let (_, shop) = app.get("/api/v1/shop", &boss).await;
    assert_eq!(shop["id"], json!(other.id));
    assert_eq!(app.get("/api/v1/products", &boss).await.1["total"], 1);
    assert_eq!(app.get("/api/v1/orders", &boss).await.1["total"], 1);
    assert_eq!(app.get("/api/v1/customers", &boss).await.1["total"], 1);
    assert_eq!(
        app.get("/api/v1/kb/entries", &boss).await.1.as_array().unwrap().len(),
        1
    );
    assert_eq!(
        app.get("/api/v1/kb/categories", &boss)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.get("/api/v1/accounts", &boss).await.1.as_array().unwrap().len(), 1);
    let demo_orders = app.get("/api/v1/orders?limit=200", &demo_owner).await.1;
    assert!(
        demo_orders["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["order_no"] != "900000000000000001")
    );
    // Settings are per shop.
    let mut s = app.get("/api/v1/shop/settings", &boss).await.1;
    s["unpaid_timeout_minutes"] = json!(60);
    assert_eq!(
        app.call(Method::PUT, "/api/v1/shop/settings", &boss, Some(s)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/shop/settings", &demo_owner).await.1["unpaid_timeout_minutes"],
        4320
    );
    // With two shops, login must name the shop.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "owner", "password": OWNER_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
on_both_engines!(shops_are_isolated);
