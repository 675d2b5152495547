//! Secrets never reach the logs (issue 8), even at the most talkative level: a password at
//! login, a session token, a widget secret and a buyer token signed with it.

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_the_logs_at_trace_level() {
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
    let url = format!("ws://127.0.0.1:{port}/api/v1/widget/demo/chat?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("a signed buyer connects");
    assert!(ws.next().await.is_some(), "welcome");
    drop(ws);
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    for (what, s) in [
        ("password", password),
        ("session token", &session),
        ("widget secret", &secret),
        ("buyer token", &token),
    ] {
        assert!(!text.contains(s), "the {what} is in the log");
    }
}
