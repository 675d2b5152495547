//! E-mail (SPEC §7.3), black-box on both engines against an SMTP server the test starts: a
//! message a buyer leaves is mailed once to the shop's notification address, and a buyer
//! who asks gets their chat's transcript.

mod common;

use base64::Engine as _;
use common::*;
use futures_util::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// One mail as the SMTP server got it.
#[derive(Clone, Debug)]
struct Mail {
    to: Vec<String>,
    data: String,
}

impl Mail {
    /// The text of every part, decoded (base64 or quoted-printable).
    fn text(&self) -> String {
        let mut out = String::new();
        for part in self.data.split("\r\n\r\n").collect::<Vec<_>>().windows(2) {
            let (head, body) = (part[0].to_ascii_lowercase(), part[1]);
            let body = body.split("\r\n--").next().unwrap_or(body);
            if head.contains("content-transfer-encoding: base64") {
                let clean: String = body.split_whitespace().collect();
                if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(clean) {
                    out.push_str(&String::from_utf8_lossy(&b));
                }
            } else if head.contains("content-transfer-encoding: quoted-printable") {
                if let Ok(b) = quoted_printable::decode(body, quoted_printable::ParseMode::Robust) {
                    out.push_str(&String::from_utf8_lossy(&b));
                }
            } else {
                out.push_str(body);
            }
            out.push('\n');
        }
        out
    }
}

/// A minimal SMTP server (RFC 5321's happy path, no TLS, no auth) that keeps what it is sent.
struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let kept = mails.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let kept = kept.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut to = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            to.push(line[8..].trim().trim_matches(|c| c == '<' || c == '>').to_string());
                            b"250 OK\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l));
                                data.push_str("\r\n");
                            }
                            kept.lock().unwrap().push(Mail {
                                to: std::mem::take(&mut to),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    fn to(&self, address: &str) -> Vec<Mail> {
        self.mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .cloned()
            .collect()
    }

    async fn wait_for(&self, address: &str, n: usize) -> Vec<Mail> {
        for _ in 0..200 {
            let got = self.to(address);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} of {n} mails to {address}", self.to(address).len());
    }
}

type TestFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs a test against a server that mails through its own SMTP sink.
async fn with_mail(engine: Engine, test: fn(Arc<TestApp>, Arc<SmtpSink>) -> TestFuture) {
    let sink = Arc::new(SmtpSink::start().await);
    let port = sink.port;
    with_app_config(
        engine,
        move |c| {
            c.mail.host = "127.0.0.1".into();
            c.mail.port = port;
            c.mail.tls = kefu_server::config::MailTls::None;
            c.mail.from = "客服通知 <kefu@demo.example.com>".into();
        },
        move |app| test(app, sink),
    )
    .await
}

async fn set_notification_email(app: &TestApp, owner: &str, address: &str) -> (StatusCode, serde_json::Value) {
    let (status, mut settings) = app.get("/api/v1/shop/settings", owner).await;
    assert_eq!(status, StatusCode::OK);
    settings["notification_email"] = json!(address);
    app.call(Method::PUT, "/api/v1/shop/settings", owner, Some(settings))
        .await
}

async fn left_messages_are_mailed_once(app: Arc<TestApp>, sink: Arc<SmtpSink>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (status, err) = set_notification_email(&app, &owner, "not an address").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "notification_email");
    let (status, body) = set_notification_email(&app, &owner, "service@demo.example.com").await;
    assert!(status.is_success(), "{body}");

    let (status, body) = app
        .client
        .post(app.url("/api/v1/widget/demo/messages"))
        .json(&json!({"name": "王女士", "contact": "13812345678", "text": "想问下这款连衣裙有没有L码"}))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{:?}", body.text().await);
    let mails = sink.wait_for("service@demo.example.com", 1).await;
    let text = mails[0].text();
    assert!(
        text.contains("13812345678") && text.contains("想问下这款连衣裙有没有L码") && text.contains("王女士"),
        "{text}"
    );
    assert!(mails[0].data.contains("kefu@demo.example.com"));
    // Exactly one, whatever the senders do next.
    kefu_server::outbox::send_due_mail(&app.state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.to("service@demo.example.com").len(), 1);
    let shop = app
        .store
        .shop_by_slug(&kefu_core::shop::ShopSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let queued = app.store.mails(shop.id, kefu_store::Page::default()).await.unwrap();
    assert_eq!(queued.total, 1);
    assert_eq!(queued.items[0].status, kefu_core::webhooks::DeliveryStatus::Delivered);
}

async fn transcripts_go_to_the_buyer(app: Arc<TestApp>, sink: Arc<SmtpSink>) {
    let visitor = "mail-visitor-000001";
    let url = format!(
        "{}/api/v1/widget/demo/chat?visitor={visitor}",
        app.base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(
        json!({"type": "message", "client_id": "t-1", "content": {"kind": "text", "text": "这件衬衫是纯棉的吗"}})
            .to_string(),
    ))
    .await
    .unwrap();
    // The message is stored before its ack; give the bot a moment to answer too.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let ask = |body: serde_json::Value| {
        let app = app.clone();
        async move {
            let r = app
                .client
                .post(app.url("/api/v1/widget/demo/transcript"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let (status, err) = ask(json!({"visitor": visitor, "email": "buyer@@example"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "email");
    let (status, err) = ask(json!({"visitor": "nobody-chatted-here-0001", "email": "buyer@example.com"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    let (status, body) = ask(json!({"visitor": visitor, "email": "buyer@example.com"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body["text"].as_str().unwrap().contains("buyer@example.com"));
    let mails = sink.wait_for("buyer@example.com", 1).await;
    let text = mails[0].text();
    assert!(
        text.contains("这件衬衫是纯棉的吗") && text.contains("聊天记录"),
        "{text}"
    );
    assert!(mails[0].data.to_ascii_lowercase().contains("text/html"));
    // A few an hour, then refused.
    for _ in 0..2 {
        assert_eq!(
            ask(json!({"visitor": visitor, "email": "buyer@example.com"})).await.0,
            StatusCode::ACCEPTED
        );
    }
    let (status, err) = ask(json!({"visitor": visitor, "email": "buyer@example.com"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{err}");
    ws.close(None).await.ok();
}

#[tokio::test]
async fn left_messages_sqlite() {
    with_mail(Engine::Sqlite, |a, s| Box::pin(left_messages_are_mailed_once(a, s))).await
}
#[tokio::test]
async fn left_messages_postgres() {
    with_mail(Engine::Postgres, |a, s| Box::pin(left_messages_are_mailed_once(a, s))).await
}
#[tokio::test]
async fn transcripts_sqlite() {
    with_mail(Engine::Sqlite, |a, s| Box::pin(transcripts_go_to_the_buyer(a, s))).await
}
#[tokio::test]
async fn transcripts_postgres() {
    with_mail(Engine::Postgres, |a, s| Box::pin(transcripts_go_to_the_buyer(a, s))).await
}

/// Without an SMTP server configured, nothing is queued and the widget is told.
async fn without_smtp_nothing_is_mailed(app: Arc<TestApp>) {
    let owner = app.login("demo", "owner", OWNER_PW).await;
    let (status, _) = set_notification_email(&app, &owner, "service@demo.example.com").await;
    assert!(status.is_success());
    let r = app
        .client
        .post(app.url("/api/v1/widget/demo/messages"))
        .json(&json!({"contact": "wx_abc", "text": "在吗"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .client
        .post(app.url("/api/v1/widget/demo/transcript"))
        .json(&json!({"visitor": "nobody-chatted-here-0002", "email": "buyer@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let shop = app
        .store
        .shop_by_slug(&kefu_core::shop::ShopSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.store
            .mails(shop.id, kefu_store::Page::default())
            .await
            .unwrap()
            .total,
        0
    );
}
on_both_engines!(without_smtp_nothing_is_mailed);
