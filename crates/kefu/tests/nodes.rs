//! Two `kefu` processes on one PostgreSQL, as a shop that outgrew one machine runs them
//! (issue 8): a buyer on node A and an agent on node B talk live; concurrent hand-overs on
//! both nodes assign each chat once and no agent beyond capacity; node A killed with SIGKILL
//! mid-conversation, its buyer reconnects to node B and replays what it missed — nothing
//! acknowledged lost, nothing twice.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Node {
    child: Child,
    base: String,
}

impl Node {
    async fn start(db: &str, data: &std::path::Path) -> Node {
        // A free port: bind, read it, let go (the node binds it a moment later).
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_kefu"))
            .args([
                "serve",
                "--demo",
                "--db",
                db,
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .env("RUST_LOG", "warn")
            // The words-and-characters bot: the sentence model is not what this test is about.
            .env("KEFU_BOT_SEMANTIC", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the kefu binary starts");
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while !reqwest::get(format!("{}/healthz", node.base))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "node {} did not come up",
                node.base
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        node
    }

    fn ws(&self) -> String {
        self.base.replace("http://", "ws://")
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let r: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"shop": "demo", "username": username, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login {username}: {r}"))
            .to_string()
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Ws {
    stream: Stream,
    frames: Vec<Value>,
}

impl Ws {
    async fn buyer(node: &Node, visitor: &str, after: i64) -> Ws {
        let url = format!("{}/api/v1/widget/demo/chat?visitor={visitor}&after={after}", node.ws());
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("buyer socket");
        Ws {
            stream,
            frames: Vec::new(),
        }
    }

    async fn agent(node: &Node, token: &str) -> Ws {
        let mut req = format!("{}/api/v1/chat/socket", node.ws())
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(req).await.expect("agent socket");
        let mut ws = Ws {
            stream,
            frames: Vec::new(),
        };
        ws.until(|f| f["type"] == "agent_welcome").await;
        ws.send(json!({"type": "presence", "status": "online"})).await;
        ws.until(|f| f["type"] == "presence" && f["status"] == "online").await;
        ws
    }

    async fn send(&mut self, v: Value) {
        self.stream.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("no matching frame; got {:#?}", self.frames));
            if let Some(Ok(Message::Text(t))) = msg {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                self.frames.push(v.clone());
                if pred(&v) {
                    return v;
                }
            } else if msg.is_none() {
                panic!("socket closed; got {:#?}", self.frames);
            }
        }
    }

    /// Sequence numbers of the events received for a conversation, in order of arrival.
    fn seqs(&self, conversation: &Value) -> Vec<i64> {
        self.frames
            .iter()
            .filter(|f| f["type"] == "event" && &f["conversation_id"] == conversation)
            .filter_map(|f| f["seq"].as_i64())
            .collect()
    }
}

fn message(client_id: &str, text: &str) -> Value {
    json!({"type": "message", "client_id": client_id, "content": {"kind": "text", "text": text}})
}

fn visitor(n: usize) -> String {
    format!("node-visitor-{n:04}-{}", rand::random::<u64>())
}

/// Open around the clock, so that the hour the test runs does not matter.
async fn always_open(node: &Node) {
    let owner = node.login("owner", "demo-owner-123").await;
    let mut settings = node.get("/api/v1/shop/settings", &owner).await;
    settings["business_hours"] = json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}]);
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/shop/settings", node.base))
        .bearer_auth(&owner)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_chats_routing_and_survive_a_kill() {
    kefu_server::install_tls_provider();
    let db = kefu_store::testing::scratch_postgres()
        .await
        .expect("PostgreSQL must answer at KEFU_TEST_PG");
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(&db, &dir.path().join("a")).await;
    let b = Node::start(&db, &dir.path().join("b")).await;

    always_open(&a).await;

    // Cross-node chat: 小美 on node B, the buyer on node A.
    let mei_token = b.login("xiaomei", "demo-agent-123").await;
    let mut mei = Ws::agent(&b, &mei_token).await;
    let me = visitor(1);
    let mut buyer = Ws::buyer(&a, &me, 0).await;
    let conv = buyer.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    buyer.send(message("n-1", "转人工")).await;
    buyer.until(|f| f["type"] == "event" && f["kind"] == "assigned").await;
    mei.until(|f| f["type"] == "event" && f["kind"] == "assigned" && f["conversation_id"] == conv)
        .await;
    buyer.send(message("n-2", "宝宝6个月穿什么码")).await;
    buyer.until(|f| f["type"] == "ack" && f["client_id"] == "n-2").await;
    mei.until(|f| f["type"] == "event" && f["content"]["text"] == "宝宝6个月穿什么码")
        .await;
    buyer.send(json!({"type": "typing"})).await;
    mei.until(|f| f["type"] == "typing" && f["from"] == "buyer").await;
    let mut reply = message("m-1", "亲，6个月一般穿73码哦");
    reply["conversation_id"] = conv.clone();
    mei.send(reply).await;
    buyer
        .until(|f| f["type"] == "event" && f["content"]["text"] == "亲，6个月一般穿73码哦")
        .await;

    // node A dies (SIGKILL) mid-conversation; 小美 writes on; the buyer comes back on node B.
    let last = *buyer.seqs(&conv).last().unwrap();
    drop(a);
    let mut more = message("m-2", "亲还在吗？");
    more["conversation_id"] = conv.clone();
    mei.send(more).await;
    mei.until(|f| f["type"] == "ack" && f["client_id"] == "m-2").await;
    let mut back = Ws::buyer(&b, &me, last).await;
    back.until(|f| f["type"] == "event" && f["content"]["text"] == "亲还在吗？")
        .await;
    // A message sent before the kill but never acknowledged is sent again with its id: once.
    back.send(message("n-2", "宝宝6个月穿什么码")).await;
    let again = back.until(|f| f["type"] == "ack" && f["client_id"] == "n-2").await;
    assert_eq!(again["duplicate"], true, "{again}");
    let mut all = buyer.seqs(&conv);
    all.extend(back.seqs(&conv));
    assert_eq!(
        all,
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "every event once, in order, across the kill"
    );

    // Concurrent hand-overs on two nodes: each chat assigned once, nobody over capacity.
    let c = Node::start(&db, &dir.path().join("c")).await;
    let yu_token = c.login("xiaoyu", "demo-agent-123").await;
    let mut yu = Ws::agent(&c, &yu_token).await;
    let buyers: Vec<_> = (0..16)
        .map(|i| {
            let node = if i % 2 == 0 { b.ws() } else { c.ws() };
            tokio::spawn(async move {
                let url = format!("{node}/api/v1/widget/demo/chat?visitor={}&after=0", visitor(100 + i));
                let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
                let mut ws = Ws {
                    stream,
                    frames: Vec::new(),
                };
                let conv = ws.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
                ws.send(message("h-1", "转人工")).await;
                ws.until(|f| f["type"] == "event" && f["kind"] == "queued").await;
                // Stay connected a moment so the routing happens while both nodes are busy.
                tokio::time::sleep(Duration::from_secs(2)).await;
                (conv, ws)
            })
        })
        .collect();
    let mut convs = Vec::new();
    let mut sockets = Vec::new();
    for h in buyers {
        let (conv, ws) = h.await.unwrap();
        convs.push(conv);
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let agents = b.get("/api/v1/chat/agents", &mei_token).await;
    let loads: HashMap<String, (i64, i64)> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["display_name"].as_str().unwrap().to_string(),
                (a["load"].as_i64().unwrap(), a["capacity"].as_i64().unwrap()),
            )
        })
        .collect();
    let (mei_load, mei_cap) = loads["小美"];
    let (yu_load, yu_cap) = loads["小雨"];
    assert!(mei_load <= mei_cap && yu_load <= yu_cap, "{loads:?}");
    // 小美 kept her first chat; together they fill their capacity from the 16 waiting.
    assert_eq!(mei_load + yu_load, (mei_cap + yu_cap).min(17), "{loads:?}");
    let mut assigned_to: HashMap<String, HashSet<String>> = HashMap::new();
    let expected = (mei_load + yu_load - 1) as usize;
    let deadline = Instant::now() + Duration::from_secs(15);
    // Assignments reach each agent wherever the routing ran; read until all have arrived.
    while assigned_to.len() < expected && Instant::now() < deadline {
        for agent in [&mut mei, &mut yu] {
            while let Ok(Some(Ok(Message::Text(t)))) =
                tokio::time::timeout(Duration::from_millis(200), agent.stream.next()).await
            {
                let f: Value = serde_json::from_str(t.as_str()).unwrap();
                if f["type"] == "event" && f["kind"] == "assigned" {
                    assigned_to
                        .entry(f["conversation_id"].to_string())
                        .or_default()
                        .insert(f["agent_name"].to_string());
                }
                agent.frames.push(f);
            }
        }
    }
    for (conv, names) in &assigned_to {
        assert_eq!(names.len(), 1, "{conv} assigned to {names:?}");
    }
    let routed = convs
        .iter()
        .filter(|c| assigned_to.contains_key(&c.to_string()))
        .count() as i64;
    assert_eq!(
        routed,
        mei_load + yu_load - 1,
        "each agent heard of every chat routed to them, across nodes"
    );
    drop(sockets);
    drop(b);
    drop(c);
    kefu_store::testing::drop_postgres(&db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_recover_when_the_database_comes_back() {
    kefu_server::install_tls_provider();
    let db = kefu_store::testing::scratch_postgres()
        .await
        .expect("PostgreSQL must answer at KEFU_TEST_PG");
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(&db, &dir.path().join("a")).await;
    let b = Node::start(&db, &dir.path().join("b")).await;
    always_open(&a).await;
    let mei_token = b.login("xiaomei", "demo-agent-123").await;
    let mut mei = Ws::agent(&b, &mei_token).await;
    let me = visitor(9);
    let mut buyer = Ws::buyer(&a, &me, 0).await;
    let conv = buyer.until(|f| f["type"] == "welcome").await["conversation_id"].clone();
    buyer.send(message("r-1", "转人工")).await;
    mei.until(|f| f["type"] == "event" && f["kind"] == "assigned" && f["conversation_id"] == conv)
        .await;

    // What a PostgreSQL restart looks like from the nodes: every connection cut at once.
    kefu_store::testing::cut_connections(&db).await.unwrap();

    // The buyer's widget resends what was not acknowledged, with the same id, until it is.
    let mut acked = None;
    for _ in 0..40 {
        buyer.send(message("r-2", "数据库重启了还能聊吗")).await;
        let f = buyer
            .until(|f| (f["type"] == "ack" && f["client_id"] == "r-2") || f["type"] == "error")
            .await;
        if f["type"] == "ack" {
            acked = Some(f);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let acked = acked.expect("the node answers again once the database does");
    // Node B's listener reconnects by itself and delivers, or resyncs its sockets from the store.
    mei.until(|f| f["type"] == "event" && f["seq"] == acked["seq"] && f["content"]["text"] == "数据库重启了还能聊吗")
        .await;
    let mut reply = message("rm-1", "可以的亲");
    reply["conversation_id"] = conv.clone();
    mei.send(reply).await;
    buyer
        .until(|f| f["type"] == "event" && f["content"]["text"] == "可以的亲")
        .await;
    let seqs = buyer.seqs(&conv);
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "nothing lost or doubled"
    );
    drop(buyer);
    drop(mei);
    drop(a);
    drop(b);
    kefu_store::testing::drop_postgres(&db).await.unwrap();
}
