//! Secrets never reach the logs (issue 8), even at the most talkative level: a password at
//! login, a session token, a widget secret and a buyer token signed with it, a webhook's
//! signing secret and the SMTP password (with a delivery and a mail failing, so that their
//! errors are logged too).

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SMTP_PASSWORD: &str = "smtp-password-never-logged-77";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_the_logs_at_trace_level() {
    kefu_server::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "trace")
        .env("KEFU_BOT_SEMANTIC", "false")
        // Nothing listens on port 1: the mail and the delivery fail, and say so in the log.
        .env("KEFU_MAIL_HOST", "127.0.0.1")
        .env("KEFU_MAIL_PORT", "1")
        .env("KEFU_MAIL_TLS", "none")
        .env("KEFU_MAIL_USER", "kefu")
        .env("KEFU_MAIL_PASSWORD", SMTP_PASSWORD)
        .env("KEFU_MAIL_FROM", "kefu@demo.example.com")
        .env("KEFU_WEBHOOKS_ALLOW_PRIVATE", "true")
        .stdout(Stdio::from(
            std::fs::File::create(dir.path().join("stdout.log")).unwrap(),
        ))
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !reqwest::get(format!("{base}/healthz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let v: Value = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"shop": "demo", "username": "owner", "password": password}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["token"].as_str().unwrap_or_else(|| panic!("login: {v}")).to_string()
        }
    };
    // The demo prints its own logins on purpose; a password the owner chose is never written.
    let first = login("demo-owner-123").await;
    let password = "a-password-of-my-own-42";
    let changed = client
        .post(format!("{base}/api/v1/auth/password"))
        .bearer_auth(&first)
        .json(&json!({"current_password": "demo-owner-123", "new_password": password}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.text().await.unwrap());
    let session = login(password).await;
    let secret: Value = client
        .post(format!("{base}/api/v1/shop/widget-secret"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = secret["secret"].as_str().unwrap().to_string();
    let token = kefu_core::buyer_token::sign(
        &kefu_core::buyer_token::BuyerClaims {
            buyer: "tb_2088001".into(),
            nick: "小王".into(),
            exp: kefu_store::now().timestamp() + 600,
        },
        secret.as_bytes(),
    );
    let hook: Value = client
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&session)
        .json(&json!({"url": "http://127.0.0.1:1/hook", "events": ["conversation.created", "message.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_secret = hook["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("webhook: {hook}"))
        .to_string();
    let mut settings: Value = client
        .get(format!("{base}/api/v1/shop/settings"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    settings["notification_email"] = json!("service@demo.example.com");
    let saved = client
        .put(format!("{base}/api/v1/shop/settings"))
        .bearer_auth(&session)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success());
    let left = client
        .post(format!("{base}/api/v1/widget/demo/messages"))
        .json(&json!({"contact": "13800000000", "text": "请回电"}))
        .send()
        .await
        .unwrap();
    assert!(left.status().is_success());
    let url = format!("ws://127.0.0.1:{port}/api/v1/widget/demo/chat?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("a signed buyer connects");
    assert!(ws.next().await.is_some(), "welcome");
    drop(ws);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let mut text = String::new();
    std::fs::File::open(&log).unwrap().read_to_string(&mut text).unwrap();
    std::fs::File::open(dir.path().join("stdout.log"))
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        text.contains("/api/v1/widget/demo/chat"),
        "the requests were logged at all"
    );
    assert!(text.contains("sending a mail"), "the mail's failure was logged");
    for (what, s) in [
        ("password", password),
        ("session token", &session),
        ("widget secret", &secret),
        ("buyer token", &token),
        ("webhook secret", &hook_secret),
        ("SMTP password", SMTP_PASSWORD),
    ] {
        assert!(!text.contains(s), "the {what} is in the log");
    }
}
