//! `kefu bench search`: chat records search (SPEC §5.5) over a large history. It builds a shop
//! with `--messages` generated Chinese buyer and agent messages through the store's real write
//! path (`append_event`: SQLite's batches, the event and its index row in one transaction; each
//! chat handed over, routed to an agent and closed), then times a few hundred queries as
//! `GET /records/search` runs them (query terms, the store's search, highlighting), without
//! HTTP: common and rare words, two words, by buyer, by time, by agent. Prints the build time,
//! the index's size and query latency p50/p99 per run and per kind of query.

use crate::bench::percentile;
use anyhow::Context;
use chrono::{DateTime, Duration as Span, Utc};
use kefu_bot::search_terms::{highlight, query_terms};
use kefu_core::account::{Account, Role, RoutingProfile, Username};
use kefu_core::chat::{CloseReason, Content, Conversation, EventBody, HandoffReason, Sender, Transition};
use kefu_core::ids::{AccountId, ShopId};
use kefu_core::routing::Presence;
use kefu_core::settings::ShopSettings;
use kefu_core::shop::{Shop, ShopSlug};
use kefu_store::{Catalog, MessageSearch, NewEvent, NewShop, Store};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct SearchBench {
    pub messages: u64,
    /// PostgreSQL instead of SQLite in a temporary directory (the shop stays there).
    pub database_url: Option<String>,
    /// How many times the queries are run.
    pub runs: usize,
    /// Chats written at once (SQLite batches what arrives together).
    pub writers: usize,
    /// Keep the SQLite database in this directory (and what was built, for either engine),
    /// and query what a run left there instead of building anew.
    pub dir: Option<std::path::PathBuf>,
    /// Print the slowest queries of each run.
    pub slowest: usize,
}

const AGENTS: usize = 20;
/// Results per page, as the API's default.
const LIMIT: i64 = 20;
/// The history spans this many days, ending now.
const DAYS: i64 = 365;

const PRODUCTS: &[&str] = &[
    "婴儿纯棉连体衣",
    "纸尿裤",
    "拉拉裤",
    "儿童保温杯",
    "吸管杯",
    "奶瓶",
    "安抚奶嘴",
    "婴儿推车",
    "爬行垫",
    "辅食机",
    "儿童雨靴",
    "学步鞋",
    "孕妇裤",
    "哺乳内衣",
    "婴儿湿巾",
    "口水巾",
    "儿童牙刷",
    "婴儿洗发水",
    "儿童防晒霜",
    "积木",
    "早教机",
    "儿童餐椅",
    "婴儿床",
    "睡袋",
    "隔尿垫",
    "温奶器",
    "消毒柜",
    "背带",
    "儿童羽绒服",
    "儿童卫衣",
    "连衣裙",
    "打底裤",
    "袜子",
    "遮阳帽",
    "围兜",
    "奶粉",
    "米粉",
    "磨牙棒",
    "浴盆",
    "体温计",
];
const COLORS: &[&str] = &["粉色", "蓝色", "白色", "灰色", "黄色", "绿色", "米色", "卡其色"];
const SIZES: &[&str] = &["59", "66", "73", "80", "90", "100", "110", "120", "S", "M", "L", "XL"];
/// Couriers with how often they come up, and their tracking numbers' prefix.
const COURIERS: &[(&str, u32, &str)] = &[
    ("顺丰", 30, "SF"),
    ("中通", 20, "ZT"),
    ("韵达", 15, "YD"),
    ("圆通", 15, "YT"),
    ("申通", 8, "ST"),
    ("极兔", 5, "JT"),
    ("京东快递", 4, "JD"),
    ("邮政", 3, "EMS"),
];
const PROBLEMS: &[&str] = &[
    "有色差",
    "起球了",
    "开线了",
    "尺码偏小",
    "尺码偏大",
    "漏尿",
    "破损了",
    "少发了一件",
    "发错颜色了",
    "有异味",
    "有质量问题",
    "掉色",
];
const ACTIONS: &[&str] = &["退货", "换货", "退款", "补发", "换大一码", "换小一码"];
const PRICES: &[&str] = &["59", "99", "199", "299"];

/// Zipf-like: index `i` (from 0) with weight 1/(i+1).
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut sum = 0.0;
        Zipf(
            (1..=n)
                .map(|i| {
                    sum += 1.0 / i as f64;
                    sum
                })
                .collect(),
        )
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let x = rng.random_range(0.0..*self.0.last().unwrap_or(&1.0));
        self.0.partition_point(|c| *c < x).min(self.0.len() - 1)
    }
}

fn product(rng: &mut StdRng) -> &'static str {
    static PRODUCT_RANKS: std::sync::OnceLock<Zipf> = std::sync::OnceLock::new();
    PRODUCTS[PRODUCT_RANKS.get_or_init(|| Zipf::new(PRODUCTS.len())).sample(rng)]
}

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

fn courier(rng: &mut StdRng) -> (&'static str, &'static str) {
    let total: u32 = COURIERS.iter().map(|c| c.1).sum();
    let mut x = rng.random_range(0..total);
    for (name, w, prefix) in COURIERS {
        if x < *w {
            return (name, prefix);
        }
        x -= w;
    }
    ("顺丰", "SF")
}

/// Rare words the messages hold (order and tracking numbers), kept for the rare queries.
#[derive(Default)]
struct Rare {
    seen: Vec<String>,
}

impl Rare {
    fn keep(&mut self, rng: &mut StdRng, word: String) -> String {
        if self.seen.len() < 200 {
            self.seen.push(word.clone());
        } else if rng.random_range(0..1000) == 0 {
            let i = rng.random_range(0..self.seen.len());
            self.seen[i] = word.clone();
        }
        word
    }
}

fn order_no(rng: &mut StdRng) -> String {
    format!("2025{:09}", rng.random_range(0..1_000_000_000u64))
}

fn tracking(rng: &mut StdRng, prefix: &str) -> String {
    format!("{prefix}{:012}", rng.random_range(0..1_000_000_000_000u64))
}

/// What a buyer writes: the products by popularity, some words common, numbers rare.
fn buyer_text(rng: &mut StdRng, rare: &mut Rare) -> String {
    let item = product(rng);
    match rng.random_range(0..16) {
        0 => format!("{item}什么时候发货？"),
        1 => format!("亲，{item}有{}的吗", pick(rng, COLORS)),
        2 => format!("{}码的{item}还有货吗", pick(rng, SIZES)),
        3 => format!("能发{}吗？", courier(rng).0),
        4 => {
            let (name, prefix) = courier(rng);
            let t = {
                let w = tracking(rng, prefix);
                rare.keep(rng, w)
            };
            format!("{name}单号{t}怎么查不到物流")
        }
        5 => format!(
            "我的{item}收到了，但是{}，可以{}吗",
            pick(rng, PROBLEMS),
            pick(rng, ACTIONS)
        ),
        6 => {
            let o = {
                let w = order_no(rng);
                rare.keep(rng, w)
            };
            format!("订单{o}能改一下地址吗")
        }
        7 => format!("满{}包邮吗", pick(rng, PRICES)),
        8 => "在吗".into(),
        9 => "好的，谢谢".into(),
        10 => format!("宝宝{}个月穿多大码", rng.random_range(3..25)),
        11 => format!("{item}怎么用"),
        12 => format!("快递到哪了，{}天了还没到", rng.random_range(2..8)),
        13 => "七天无理由可以退吗".into(),
        14 => format!("想退货，用{}寄回可以吗", courier(rng).0),
        _ => format!("{item}和{}可以一起发吗", product(rng)),
    }
}

/// What an agent answers.
fn agent_text(rng: &mut StdRng, rare: &mut Rare) -> String {
    let item = product(rng);
    match rng.random_range(0..10) {
        0 => "亲，在的，请问有什么可以帮您".into(),
        1 => format!("亲，{item}今天下午发{}哦", courier(rng).0),
        2 => {
            let (name, prefix) = courier(rng);
            let t = {
                let w = tracking(rng, prefix);
                rare.keep(rng, w)
            };
            format!("您的{name}单号是{t}，请注意查收")
        }
        3 => {
            let o = {
                let w = order_no(rng);
                rare.keep(rng, w)
            };
            format!("好的亲，已经为您登记{}，寄回时请备注订单号{o}", pick(rng, ACTIONS))
        }
        4 => format!("亲，{item}{}的有现货，{}码也有", pick(rng, COLORS), pick(rng, SIZES)),
        5 => format!("满{}包邮的亲", pick(rng, PRICES)),
        6 => format!(
            "非常抱歉给您带来不便，{}我们给您{}",
            pick(rng, PROBLEMS),
            pick(rng, ACTIONS)
        ),
        7 => format!("亲亲，七天无理由退换，退货用{}寄回，运费险会赔付运费", courier(rng).0),
        8 => format!("宝宝{}个月建议穿{}码", rng.random_range(3..25), pick(rng, SIZES)),
        _ => "好的，还有其他问题随时找我哦".into(),
    }
}

fn buyer_nick(i: usize) -> String {
    format!("tb_宝妈{i:05}")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Built {
    shop: ShopId,
    agents: Vec<AccountId>,
    buyers: usize,
    rare: Vec<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

async fn build(
    store: &Arc<dyn Store>,
    args: &SearchBench,
    gate: Arc<tokio::sync::RwLock<()>>,
) -> anyhow::Result<Built> {
    let shop = Shop {
        id: ShopId::new(),
        slug: ShopSlug::parse(&format!(
            "bench-search-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        ))?,
        name: "搜索测试店".into(),
        created_at: kefu_store::now(),
    };
    let account = |name: String, role: Role| Account {
        id: AccountId::new(),
        shop_id: shop.id,
        username: Username::parse(&name).expect("a valid username"),
        display_name: name,
        role,
        routing: RoutingProfile {
            skill_group: None,
            takes_chats: role == Role::Agent,
            capacity: 100,
        },
        disabled: false,
        created_at: kefu_store::now(),
    };
    let mut accounts = vec![(account("owner".into(), Role::Owner), "$argon2id$none".to_string())];
    for i in 0..AGENTS {
        accounts.push((account(format!("agent{i:02}"), Role::Agent), "$argon2id$none".into()));
    }
    let agents: Vec<AccountId> = accounts[1..].iter().map(|(a, _)| a.id).collect();
    store
        .create_shop(&NewShop {
            shop: shop.clone(),
            settings: ShopSettings::default(),
            accounts,
            catalog: Catalog::default(),
        })
        .await?;
    for a in &agents {
        store
            .set_presence(shop.id, *a, Presence::Online, kefu_store::now())
            .await?;
    }

    let total = args.messages;
    let end = kefu_store::now();
    let start = end - Span::days(DAYS);
    let buyers = (total as usize / 40).max(100);
    let buyer_ranks = Arc::new(Zipf::new(buyers));
    let sent = Arc::new(AtomicU64::new(0));
    let clock = move |i: u64| start + Span::microseconds((DAYS * 86_400_000_000) / total.max(1) as i64 * i as i64);
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let store = store.clone();
        let sent = sent.clone();
        let buyer_ranks = buyer_ranks.clone();
        let gate = gate.clone();
        let shop = shop.id;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(2026 + w as u64);
            let mut rare = Rare::default();
            loop {
                let _chat = gate.read().await;
                let length = rng.random_range(6..31u64);
                let first = sent.fetch_add(1, Ordering::Relaxed);
                if first >= total {
                    break;
                }
                if first > 0 && first.is_multiple_of(100_000) {
                    eprintln!("  {first} messages");
                }
                let nick = buyer_nick(buyer_ranks.sample(&mut rng));
                let at = clock(first);
                let c = Conversation::new(shop, format!("buyer:{nick}"), nick, "web".into(), at);
                store.create_conversation(&c).await?;
                let text = |t: String| EventBody::Message {
                    content: Content::Text { text: t },
                    compliance: Vec::new(),
                };
                let event = |sender, body, at| NewEvent {
                    sender,
                    client_id: None,
                    body,
                    at,
                };
                store
                    .append_event(
                        shop,
                        c.id,
                        &event(Sender::Buyer, text(buyer_text(&mut rng, &mut rare)), at),
                    )
                    .await?;
                let handoff = Transition::Handoff {
                    reason: HandoffReason::Asked,
                    group: None,
                };
                store.transition(shop, c.id, &handoff, at).await?;
                let agent = loop {
                    store.route_queue(shop, at).await?;
                    match store.conversation(shop, c.id).await?.and_then(|c| c.agent_id) {
                        Some(a) => break a,
                        None => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                };
                let mut last = at;
                for k in 1..length {
                    let i = sent.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    last = clock(i);
                    let (sender, t) = if k % 2 == 1 {
                        (Sender::Agent(agent), agent_text(&mut rng, &mut rare))
                    } else {
                        (Sender::Buyer, buyer_text(&mut rng, &mut rare))
                    };
                    store.append_event(shop, c.id, &event(sender, text(t), last)).await?;
                    if i > 0 && i.is_multiple_of(100_000) {
                        eprintln!("  {i} messages");
                    }
                }
                let close = Transition::Close {
                    reason: CloseReason::Agent,
                };
                store.transition(shop, c.id, &close, last).await?;
            }
            anyhow::Ok(rare.seen)
        }));
    }
    let mut rare = Vec::new();
    for t in tasks {
        rare.extend(t.await??);
    }
    Ok(Built {
        shop: shop.id,
        agents,
        buyers,
        rare,
        start,
        end,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Common,
    Medium,
    Rare,
    TwoWords,
    Buyer,
    Time,
    Agent,
}

struct Query {
    kind: Kind,
    q: String,
    buyer: Option<String>,
    agent: Option<AccountId>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

fn queries(b: &Built) -> Vec<Query> {
    let mut rng = StdRng::seed_from_u64(7);
    let buyer_ranks = Zipf::new(b.buyers);
    let common = [
        "退货", "发货", "顺丰", "快递", "包邮", "尺码", "亲", "退款", "物流", "谢谢",
    ];
    let medium: Vec<&str> = PRODUCTS
        .iter()
        .copied()
        .chain(["色差", "起球", "漏尿", "破损", "极兔", "邮政", "异味", "掉色"])
        .collect();
    let q = |kind, q: &str| Query {
        kind,
        q: q.to_string(),
        buyer: None,
        agent: None,
        from: None,
        to: None,
    };
    let mut out = Vec::new();
    for i in 0..60 {
        out.push(q(Kind::Common, common[i % common.len()]));
    }
    for i in 0..60 {
        out.push(q(Kind::Medium, medium[i % medium.len()]));
    }
    for i in 0..50 {
        let word = match (i % 5, b.rare.is_empty()) {
            // Words no message holds.
            (0, _) | (_, true) => ["火星", "量子计算", "潜水艇", "拖拉机", "钢琴"][i / 5 % 5].to_string(),
            _ => b.rare[rng.random_range(0..b.rare.len())].clone(),
        };
        out.push(q(Kind::Rare, &word));
    }
    for _ in 0..50 {
        let two = match rng.random_range(0..4) {
            0 => format!("{} 退货", courier(&mut rng).0),
            1 => format!(
                "{} {}",
                product(&mut rng),
                ["色差", "起球", "漏尿", "破损"][rng.random_range(0..4)]
            ),
            2 => format!("{} 发货", product(&mut rng)),
            _ => format!("{} 单号", courier(&mut rng).0),
        };
        out.push(q(Kind::TwoWords, &two));
    }
    for i in 0..40 {
        // Heavy buyers and light ones, with a word or everything they said.
        let buyer = buyer_nick(if i % 2 == 0 {
            buyer_ranks.sample(&mut rng)
        } else {
            rng.random_range(0..b.buyers)
        });
        let word = if i % 4 < 2 {
            common[rng.random_range(0..common.len())]
        } else {
            ""
        };
        out.push(Query {
            buyer: Some(buyer),
            ..q(Kind::Buyer, word)
        });
    }
    let span = (b.end - b.start).num_seconds();
    for i in 0..40 {
        let at = b.start + Span::seconds(rng.random_range(0..span));
        let (from, to) = match i % 4 {
            0 => (Some(b.end - Span::days(7)), None),
            1 => (Some(at), Some(at + Span::days(30))),
            2 => (Some(at), Some(at + Span::days(1))),
            _ => (None, Some(at)),
        };
        let word = if i % 2 == 0 {
            common[rng.random_range(0..common.len())]
        } else {
            medium[rng.random_range(0..medium.len())]
        };
        out.push(Query {
            from,
            to,
            ..q(Kind::Time, word)
        });
    }
    for i in 0..20 {
        let agent = b.agents[rng.random_range(0..b.agents.len())];
        let word = if i % 2 == 0 {
            common[i / 2 % common.len()]
        } else {
            "顺丰 退货"
        };
        out.push(Query {
            agent: Some(agent),
            ..q(Kind::Agent, word)
        });
    }
    // Shuffled, the same way every run.
    for i in (1..out.len()).rev() {
        out.swap(i, rng.random_range(0..=i));
    }
    out
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} “{}”", self.kind, self.q)?;
        if let Some(b) = &self.buyer {
            write!(f, " buyer {b}")?;
        }
        if let Some(a) = &self.agent {
            write!(f, " agent {a}")?;
        }
        if let Some(t) = &self.from {
            write!(f, " from {}", t.format("%Y-%m-%d %H:%M"))?;
        }
        if let Some(t) = &self.to {
            write!(f, " to {}", t.format("%Y-%m-%d %H:%M"))?;
        }
        Ok(())
    }
}

/// What `GET /records/search` does with a query, but HTTP: terms, the search, highlighting.
async fn run_query(store: &Arc<dyn Store>, shop: ShopId, q: &Query) -> anyhow::Result<usize> {
    let terms = query_terms(&q.q);
    let found = store
        .search_messages(
            shop,
            &MessageSearch {
                terms: terms.clone(),
                buyer: q.buyer.clone(),
                agent: q.agent,
                from: q.from,
                to: q.to,
                limit: LIMIT,
                cursor: None,
            },
        )
        .await?;
    let segments: usize = found.items.iter().map(|m| highlight(&m.text, &terms).len()).sum();
    std::hint::black_box(segments);
    Ok(found.items.len())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn sizes(store_url: &str) -> anyhow::Result<String> {
    if let Some(path) = store_url.strip_prefix("sqlite://") {
        let db = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let wal = std::fs::metadata(format!("{path}-wal")).map(|m| m.len()).unwrap_or(0);
        let pool = sqlx::SqlitePool::connect(store_url).await?;
        // The index: its segments, and the row it keeps per message (for deletes), with the
        // b-trees' own overhead roughly (measured with dbstat).
        let (index,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COALESCE(SUM(LENGTH(block)), 0) FROM message_search_data)
                  + (SELECT COALESCE(SUM(LENGTH(sz) + 13), 0) FROM message_search_docsize)
                  + (SELECT COALESCE(SUM(LENGTH(term) + 16), 0) FROM message_search_idx)",
        )
        .fetch_one(&pool)
        .await?;
        pool.close().await;
        Ok(format!(
            "database {:.0} MiB (+ log {:.0} MiB), of which the search index ~{:.0} MiB",
            db as f64 / 1048576.0,
            wal as f64 / 1048576.0,
            index as f64 / 1048576.0
        ))
    } else {
        let pool = sqlx::PgPool::connect(store_url).await?;
        let (db, index): (i64, i64) =
            sqlx::query_as("SELECT pg_database_size(current_database()), pg_total_relation_size('message_search')")
                .fetch_one(&pool)
                .await?;
        pool.close().await;
        Ok(format!(
            "database {:.0} MiB, of which the search table with its indexes {:.0} MiB",
            db as f64 / 1048576.0,
            index as f64 / 1048576.0
        ))
    }
}

/// Writing without a pause, SQLite's log only grows: the store's checkpoints (PASSIVE, so as
/// not to stall writers) copy it back but never find a moment to start it over (~37 KiB a
/// message in this build, index or not). A server has quiet moments; the build has none, so
/// it truncates the log itself when it passes 1 GiB, from a connection of its own, with the
/// writers paused between chats (the pauses count in the build time).
async fn trim_log(url: String, gate: Arc<tokio::sync::RwLock<()>>) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite://").to_string();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let wal = std::fs::metadata(format!("{path}-wal")).map(|m| m.len()).unwrap_or(0);
        if wal > 1 << 30 {
            // Between chats: the writers wait at the gate while the log is emptied.
            let _pause = gate.write().await;
            checkpoint(&url).await?;
        }
    }
}

/// Copies SQLite's log into the database and empties it.
async fn checkpoint(url: &str) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let mut conn = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()?
        .busy_timeout(Duration::from_secs(60))
        .connect()
        .await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    Ok(())
}

pub async fn search(args: SearchBench) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let url = match &args.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", dir.join("kefu.db").display()),
    };
    let store = kefu_store::open(&url)
        .await
        .with_context(|| format!("opening {}", kefu_server::redact(&url)))?;
    let kept = dir.join("bench-search.json");
    let built = match std::fs::read(&kept) {
        Ok(json) => {
            println!("querying the shop built before in {}", dir.display());
            serde_json::from_slice(&json)?
        }
        _ => {
            println!(
                "building {} messages on {} with {} writers (the store's real write path) …",
                args.messages,
                store.engine(),
                args.writers
            );
            let began = Instant::now();
            let gate = Arc::new(tokio::sync::RwLock::new(()));
            let trimming = url
                .starts_with("sqlite:")
                .then(|| tokio::spawn(trim_log(url.clone(), gate.clone())));
            let built = build(&store, &args, gate).await?;
            let took = began.elapsed();
            if let Some(t) = trimming {
                t.abort();
                // The queries then run on a database at rest, as a server's is between busy moments.
                checkpoint(&url).await?;
            }
            println!(
                "built in {:.1} s ({:.0} messages/s)",
                took.as_secs_f64(),
                args.messages as f64 / took.as_secs_f64(),
            );
            if args.dir.is_some() {
                std::fs::write(&kept, serde_json::to_vec(&built)?)?;
            }
            built
        }
    };
    println!("{}", sizes(&url).await?);

    let qs = queries(&built);
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    for run in 1..=args.runs {
        let mut all = Vec::with_capacity(qs.len());
        let mut by_kind: Vec<(Kind, Vec<Duration>)> = Vec::new();
        let mut hits = 0;
        let mut timed = Vec::with_capacity(qs.len());
        for q in &qs {
            let t = Instant::now();
            let n = run_query(&store, built.shop, q).await?;
            let d = t.elapsed();
            hits += n;
            all.push(d);
            timed.push((d, q, n));
            match by_kind.iter_mut().find(|(k, _)| *k == q.kind) {
                Some((_, v)) => v.push(d),
                None => by_kind.push((q.kind, vec![d])),
            }
        }
        all.sort();
        let (p50, p99) = (percentile(&all, 0.5), percentile(&all, 0.99));
        p50s.push(p50);
        p99s.push(p99);
        by_kind.sort_by_key(|(k, _)| *k);
        let kinds: Vec<String> = by_kind
            .iter_mut()
            .map(|(k, v)| {
                v.sort();
                format!("{k:?} {}", ms(percentile(v, 0.99)))
            })
            .collect();
        println!(
            "run {run}: {} queries, {hits} results; p50 {}, p99 {}, max {}  (p99 by kind: {})",
            qs.len(),
            ms(p50),
            ms(p99),
            ms(*all.last().unwrap_or(&Duration::ZERO)),
            kinds.join(", ")
        );
        timed.sort_by_key(|(d, ..)| std::cmp::Reverse(*d));
        for (d, q, n) in timed.iter().take(args.slowest) {
            println!("  {} {q}: {n} results", ms(*d));
        }
    }
    p50s.sort();
    p99s.sort();
    println!(
        "median of {} runs: p50 {}, p99 {}",
        args.runs,
        ms(p50s[p50s.len() / 2]),
        ms(p99s[p99s.len() / 2])
    );
    Ok(())
}
