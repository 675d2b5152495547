//! `kefu bench chat`: drives buyer and agent WebSocket connections against a kefu server over
//! loopback for a bounded time, and prints connections held, messages per second, delivery
//! latency (a buyer's message until the agent's socket has it) and the server's memory per
//! idle connection. By default it starts `kefu serve --demo` as a child process on a fresh
//! data directory, so that the memory figure is the server's alone.

use crate::bench::percentile;
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub struct ChatBench {
    /// Buyer connections held open.
    pub buyers: usize,
    /// Agent connections (accounts made for the run).
    pub agents: usize,
    /// Messages per second the chatting buyers send in all.
    pub rate: u32,
    /// How long messages are sent.
    pub seconds: u64,
    /// A running server (`http://host:port`) instead of starting one; memory is then not measured.
    pub url: Option<String>,
    /// The server's database for the started server (default: SQLite in a temporary directory).
    pub db: Option<String>,
    /// Servers started on `db`; agents on the first, buyers on the others.
    pub nodes: usize,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Resident memory of a process, from /proc (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Server {
    base: String,
    child: Option<std::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The servers of the run: the one given, or `nodes` started on one database.
async fn start_all(args: &ChatBench) -> anyhow::Result<Vec<Server>> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    if args.nodes > 1 && (args.url.is_some() || !args.db.as_deref().is_some_and(|d| d.starts_with("postgres"))) {
        bail!("several --nodes share one PostgreSQL database: give --db postgres://… (and no --url)");
    }
    let mut servers = Vec::new();
    for _ in 0..args.nodes {
        // One at a time: the first loads the demo shop, the others find it.
        servers.push(start(args).await?);
    }
    Ok(servers)
}

async fn start(args: &ChatBench) -> anyhow::Result<Server> {
    if let Some(url) = &args.url {
        return Ok(Server {
            base: url.trim_end_matches('/').to_string(),
            child: None,
            _dir: None,
        });
    }
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        // The chat is measured, not the bot: no sentence model in memory.
        .env("KEFU_BOT_SEMANTIC", "false")
        // Ten thousand buyers from one address: the per-address socket limit would stop them.
        .env("KEFU_MAX_SOCKETS_PER_ADDRESS", "0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null());
    if let Some(db) = &args.db {
        cmd.arg("--db").arg(db);
    }
    let child = cmd.spawn().context("starting kefu serve")?;
    let server = Server {
        base: format!("http://127.0.0.1:{port}"),
        child: Some(child),
        _dir: Some(dir),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not answer /healthz within 30 s")
}

async fn login(client: &reqwest::Client, base: &str, user: &str, pw: &str) -> anyhow::Result<String> {
    let r: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"shop": "demo", "username": user, "password": pw}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(r["token"].as_str().context("login token")?.to_string())
}

fn text_frame(v: &Value) -> Message {
    Message::text(v.to_string())
}

async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str())?),
            Some(Ok(Message::Close(frame))) => bail!("the server closed the connection: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("the connection failed: {e}"),
            None => bail!("the connection ended"),
        }
    }
}

async fn until(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let v = next_json(ws).await?;
            if pred(&v) {
                return Ok(v);
            }
        }
    })
    .await
    .context("no answer within 60 s")?
}

pub async fn chat(args: ChatBench) -> anyhow::Result<()> {
    if args.buyers == 0 || args.agents == 0 || args.seconds == 0 {
        bail!("--buyers, --agents and --seconds must be at least 1");
    }
    let servers = start_all(&args).await?;
    let base = servers[0].base.clone();
    let ws_base = base.replacen("http", "ws", 1);
    // Buyers on the other nodes when there are several: every message crosses nodes.
    let buyer_bases: Vec<String> = servers
        .iter()
        .skip(usize::from(servers.len() > 1))
        .map(|s| s.base.replacen("http", "ws", 1))
        .collect();
    // Memory per idle connection is one server's: measured when there is one.
    let pid = (servers.len() == 1)
        .then(|| servers[0].child.as_ref().map(|c| c.id()))
        .flatten();
    let client = reqwest::Client::new();

    // Open around the clock; agents made for the run with room for the chatting buyers.
    let owner = login(&client, &base, "owner", "demo-owner-123").await?;
    let mut settings: Value = client
        .get(format!("{base}/api/v1/shop/settings"))
        .bearer_auth(&owner)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    settings["business_hours"] = json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}]);
    settings["idle_close_minutes"] = json!(1440);
    client
        .put(format!("{base}/api/v1/shop/settings"))
        .bearer_auth(&owner)
        .json(&settings)
        .send()
        .await?
        .error_for_status()?;
    let capacity = 100usize;
    let chatting = args.buyers.min(args.agents * capacity);
    let run = format!("{:x}", rand::random::<u32>());
    let mut agent_sockets = Vec::new();
    for i in 0..args.agents {
        let username = format!("bench{run}a{i}");
        client
            .post(format!("{base}/api/v1/accounts"))
            .bearer_auth(&owner)
            .json(
                &json!({"username": username, "display_name": format!("压测{i}"), "role": "agent",
                "password": "bench-agent-pw", "capacity": capacity}),
            )
            .send()
            .await?
            .error_for_status()
            .context("creating a bench agent")?;
        let token = login(&client, &base, &username, "bench-agent-pw").await?;
        let mut req = format!("{ws_base}/api/v1/chat/socket").into_client_request()?;
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.context("agent socket")?;
        until(&mut ws, |f| f["type"] == "agent_welcome")
            .await
            .context("agent welcome")?;
        ws.send(text_frame(&json!({"type": "presence", "status": "online"})))
            .await?;
        until(&mut ws, |f| f["type"] == "presence")
            .await
            .context("agent online")?;
        agent_sockets.push(ws);
    }

    // Idle buyers: connected, welcomed, then left alone.
    let before = pid.and_then(rss_kib);
    let started = Instant::now();
    let mut buyers: Vec<Ws> = Vec::with_capacity(args.buyers);
    let batch = 100;
    for chunk in (0..args.buyers).collect::<Vec<_>>().chunks(batch) {
        let mut tasks = Vec::new();
        for &n in chunk {
            let url = format!(
                "{}/api/v1/widget/demo/chat?visitor=bench-{run}-{n:08}",
                buyer_bases[n % buyer_bases.len()]
            );
            tasks.push(tokio::spawn(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(url).await.context("buyer socket")?;
                until(&mut ws, |f| f["type"] == "welcome")
                    .await
                    .context("buyer welcome")?;
                anyhow::Ok(ws)
            }));
        }
        for t in tasks {
            buyers.push(t.await??);
        }
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = pid.and_then(rss_kib);

    // The chatting buyers ask for a person and are routed to the bench agents.
    let handover_start = Instant::now();
    let mut chatting_ws: Vec<Ws> = buyers.drain(..chatting).collect();
    let handoffs: Vec<_> = chatting_ws
        .drain(..)
        .map(|mut ws| {
            tokio::spawn(async move {
                ws.send(text_frame(&json!({"type": "handoff"}))).await?;
                let f = until(&mut ws, |f| f["kind"] == "assigned" || f["type"] == "queue")
                    .await
                    .context("hand-over")?;
                if f["type"] == "queue" {
                    until(&mut ws, |f| f["kind"] == "assigned")
                        .await
                        .context("assignment after queueing")?;
                }
                anyhow::Ok(ws)
            })
        })
        .collect();
    for h in handoffs {
        chatting_ws.push(h.await??);
    }
    let handover_time = handover_start.elapsed();
    // Let the burst's trailing work (busy replies, queue positions) finish: the message phase
    // measures a steady state.
    tokio::time::sleep(Duration::from_secs(10)).await;

    // Agents read: each message carries its send time, relative to `epoch`.
    let epoch = Instant::now();
    // (when it was sent since `epoch`, how long it took to arrive)
    let latencies = Arc::new(Mutex::new(Vec::<(Duration, Duration)>::new()));
    let delivered = Arc::new(AtomicU64::new(0));
    let stop_at = args.seconds + 3;
    let mut readers = Vec::new();
    for mut ws in agent_sockets {
        let latencies = latencies.clone();
        let delivered = delivered.clone();
        readers.push(tokio::spawn(async move {
            let deadline = epoch + Duration::from_secs(stop_at);
            let mut mine = Vec::new();
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline.into(), ws.next()).await {
                let Message::Text(t) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                if v["type"] != "event" || v["sender"]["role"] != "buyer" {
                    continue;
                }
                if let Some(sent) = v["content"]["text"]
                    .as_str()
                    .and_then(|t| t.strip_prefix("bench "))
                    .and_then(|t| t.parse::<u64>().ok())
                {
                    let sent = Duration::from_micros(sent);
                    mine.push((sent, epoch.elapsed().saturating_sub(sent)));
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies.lock().await.extend(mine);
            ws
        }));
    }
    // Buyers send at an even pace: each one every `chatting / rate` seconds, staggered.
    let sent = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(chatting as f64 / f64::from(args.rate.max(1)));
    let mut senders = Vec::new();
    for (i, mut ws) in chatting_ws.into_iter().enumerate() {
        let (sent, acked, errors) = (sent.clone(), acked.clone(), errors.clone());
        let seconds = args.seconds;
        senders.push(tokio::spawn(async move {
            let offset = interval.mul_f64(i as f64 / chatting as f64);
            let mut tick = tokio::time::interval_at((epoch + offset).into(), interval);
            let end = epoch + Duration::from_secs(seconds);
            let mut n = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if Instant::now() >= end { break; }
                        let text = format!("bench {}", epoch.elapsed().as_micros());
                        let frame = json!({"type": "message", "client_id": format!("b{i}-{n}"), "content": {"kind": "text", "text": text}});
                        n += 1;
                        if ws.send(text_frame(&frame)).await.is_err() { errors.fetch_add(1, Ordering::Relaxed); break; }
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    msg = ws.next() => match msg {
                        Some(Ok(Message::Text(t))) => {
                            if t.as_str().contains("\"type\":\"ack\"") { acked.fetch_add(1, Ordering::Relaxed); }
                            else if t.as_str().contains("\"type\":\"error\"") { errors.fetch_add(1, Ordering::Relaxed); }
                        }
                        Some(Ok(_)) => {}
                        _ => { errors.fetch_add(1, Ordering::Relaxed); break; }
                    }
                }
            }
            // Collect the last acks.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(Ok(Message::Text(t))) = ws.next().await {
                    if t.as_str().contains("\"type\":\"ack\"") { acked.fetch_add(1, Ordering::Relaxed); }
                }
            }).await;
            ws
        }));
    }
    let mut still_open = 0usize;
    for s in senders {
        let _ws = s.await?;
        still_open += 1;
    }
    let mut agents_open = 0usize;
    for r in readers {
        let _ws = r.await?;
        agents_open += 1;
    }
    let timed = std::mem::take(&mut *latencies.lock().await);
    // Where the slow deliveries are: a stall shows as one bad second, a slow path as all.
    let mut per_second = vec![Vec::new(); args.seconds as usize + 3];
    let last = per_second.len() - 1;
    for (sent, took) in &timed {
        per_second[(sent.as_secs() as usize).min(last)].push(*took);
    }
    let timeline: Vec<String> = per_second
        .iter_mut()
        .take(args.seconds as usize)
        .map(|v| {
            v.sort();
            format!("{:.0?}", percentile(v, 0.99))
        })
        .collect();
    let mut latencies: Vec<Duration> = timed.into_iter().map(|(_, took)| took).collect();
    latencies.sort();
    let held = buyers.len() + still_open + agents_open;
    let sent = sent.load(Ordering::Relaxed);
    let delivered = delivered.load(Ordering::Relaxed);

    println!("kefu bench chat");
    println!(
        "  server          {base}{}",
        if servers.len() > 1 {
            " and more: agents on the first node, buyers on the others (one PostgreSQL)"
        } else if pid.is_some() {
            " (started for the run, SQLite unless --db)"
        } else {
            ""
        }
    );
    println!(
        "  connections     {held} held ({} idle buyers, {still_open} chatting buyers, {agents_open} agents); {} buyers connected in {connect_time:.1?}",
        buyers.len(),
        args.buyers
    );
    println!("  hand-overs      {chatting} buyers asked for a person at once, all assigned in {handover_time:.1?}");
    println!(
        "  messages        {sent} sent in {} s ({:.0}/s), {} acknowledged, {delivered} delivered to agents ({:.0}/s), {} errors",
        args.seconds,
        sent as f64 / args.seconds as f64,
        acked.load(Ordering::Relaxed),
        delivered as f64 / args.seconds as f64,
        errors.load(Ordering::Relaxed)
    );
    println!(
        "  delivery        p50 {:.1?}  p99 {:.1?}  max {:.1?}  (buyer's send → agent's socket)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!("  p99 per second  {}", timeline.join(" "));
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "  server memory   {:.1} MiB resident; {:.1} KiB per idle buyer connection ({} → {} KiB for {})",
            a as f64 / 1024.0,
            a.saturating_sub(b) as f64 / args.buyers as f64,
            b,
            a,
            args.buyers
        ),
        _ if servers.len() > 1 => println!("  server memory   not measured (several nodes)"),
        _ => println!("  server memory   not measured (a running server was given)"),
    }
    drop(buyers);
    Ok(())
}
