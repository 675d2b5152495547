//! The `kefu` command: parses the command line and hands over to the server library.

mod bench;
mod bench_chat;
mod bench_search;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kefu_core::account::{Account, Role, RoutingProfile, Username, check_new_password};
use kefu_core::ids::{AccountId, ShopId};
use kefu_core::settings::{ShopMode, ShopSettings};
use kefu_core::shop::{Shop, ShopSlug, check_shop_name};
use kefu_server::Config;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kefu",
    version,
    about = "kefu (客服): customer service for online shops — FAQ bot, agent workbench, orders and after-sales"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and UI on one port.
    Serve {
        /// Load the demo shop (once) and print its logins.
        #[arg(long)]
        demo: bool,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        addr: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Manage the shops this installation hosts.
    #[command(subcommand)]
    Shop(ShopCommand),
    /// Import or export a shop's knowledge base (the same template as the API).
    #[command(subcommand)]
    Kb(KbCommand),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Measure parts of kefu.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The FAQ bot's accuracy (top-1, top-3, MRR, decisions at the thresholds) and latency.
    Bot {
        /// Knowledge base in the import template (category,question,similar,answer).
        #[arg(long)]
        kb: PathBuf,
        /// Test questions: `query,expected` (expected = standard question, empty when out of scope).
        #[arg(long)]
        cases: PathBuf,
        /// Also time the questions against a knowledge base grown to this many entries.
        #[arg(long)]
        synthetic: Option<usize>,
        /// Print every case ranked wrong.
        #[arg(long)]
        misses: bool,
        /// Print decisions at a range of answer thresholds (to choose a shop's thresholds), and
        /// with the semantic signal, at a range of fusion weights.
        #[arg(long)]
        sweep: bool,
        /// The lexical engine alone, without the bundled sentence-embedding model.
        #[arg(long)]
        lexical: bool,
        /// Write each case's best candidates with every signal to this CSV file, to study how
        /// the confidence separates right answers from wrong ones.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Measure with this adapter file (E5LA, from tools/research/train_adapter.py) in place
        /// of the bundled one, to compare a newly trained adapter before it is shipped.
        #[arg(long, conflicts_with = "lexical")]
        adapter: Option<PathBuf>,
    },
    /// Drive buyer and agent WebSocket connections against a server: connections held,
    /// messages per second, delivery latency, memory per connection.
    Chat {
        /// Buyer connections to hold open.
        #[arg(long, default_value_t = 1000)]
        buyers: usize,
        /// Agent connections (accounts made for the run, capacity 100 each; the buyers beyond
        /// their room stay idle).
        #[arg(long, default_value_t = 10)]
        agents: usize,
        /// Messages per second the chatting buyers send in all.
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// How long to send, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// A running server (with the demo shop) instead of starting one.
        #[arg(long)]
        url: Option<String>,
        /// Database for the server started for the run (default: SQLite in a temporary directory).
        #[arg(long)]
        db: Option<String>,
        /// Servers to start on `--db` (a PostgreSQL URL when more than one): the agents connect
        /// to the first, the buyers to the others, so every message crosses nodes.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
    },
    /// Chat records search: builds a shop with this many generated Chinese messages through
    /// the store's write path, then times a few hundred queries (words, buyer, time, agent).
    Search {
        /// Messages to generate.
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        /// A PostgreSQL database to build in (`postgres://…`; the shop stays there) instead of
        /// SQLite in a temporary directory.
        #[arg(long)]
        database_url: Option<String>,
        /// Times the queries are run (the median is printed).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Chats written at once.
        #[arg(long, default_value_t = 32)]
        writers: usize,
        /// Keep the SQLite database in this directory (with a note of what was built, for
        /// either engine); a later run with the same directory queries it again instead of
        /// building.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print this many of the slowest queries of each run.
        #[arg(long, default_value_t = 0)]
        slowest: usize,
    },
}

#[derive(Subcommand)]
enum ShopCommand {
    /// Create a shop with its owner account (主账号). The password is read from KEFU_OWNER_PASSWORD.
    Create {
        /// Short name used at login, e.g. baby-shop.
        #[arg(long)]
        slug: String,
        /// The name buyers see.
        #[arg(long)]
        name: String,
        /// Login name of the owner account.
        #[arg(long, default_value = "owner")]
        owner: String,
        /// mall (天猫/商城) or c2c (C店).
        #[arg(long, default_value = "c2c", value_parser = ["mall", "c2c"])]
        mode: String,
        #[command(flatten)]
        common: Common,
    },
    /// List the shops.
    List {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Import a .csv (UTF-8) or .xlsx file, all or nothing: entries are added or updated by
    /// standard question; with --replace the knowledge base becomes exactly the file.
    Import {
        /// The shop's slug.
        #[arg(long)]
        shop: String,
        /// The file; .xlsx by its extension, CSV otherwise.
        file: PathBuf,
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Write the knowledge base to a file (.xlsx by its extension, CSV otherwise).
    Export {
        #[arg(long)]
        shop: String,
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

/// Options every command that opens the database takes.
#[derive(Args, Serialize)]
struct Common {
    /// Database URL: sqlite://path/kefu.db or postgres://user@host/db [default: sqlite in the data dir].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    db: Option<String>,
    /// Directory for the SQLite file and other data [default: ./data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// A TOML config file [default: ./kefu.toml if present].
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
}

#[derive(Serialize)]
struct ServeFlags<'a> {
    #[serde(flatten)]
    common: &'a Common,
    #[serde(skip_serializing_if = "Option::is_none")]
    addr: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    demo: bool,
}

fn config(common: &Common, flags: impl Serialize) -> anyhow::Result<Config> {
    Config::load(common.config.as_deref(), flags).map_err(anyhow::Error::msg)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kefu_server::install_tls_provider();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, one line, for people; no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { demo, addr, common } => {
            serve(config(
                &common,
                ServeFlags {
                    common: &common,
                    addr: addr.as_deref(),
                    demo,
                },
            )?)
            .await
        }
        Command::Shop(ShopCommand::Create {
            slug,
            name,
            owner,
            mode,
            common,
        }) => create_shop(config(&common, &common)?, &slug, &name, &owner, &mode).await,
        Command::Shop(ShopCommand::List { common }) => list_shops(config(&common, &common)?).await,
        Command::Kb(KbCommand::Import {
            shop,
            file,
            replace,
            common,
        }) => import_kb(config(&common, &common)?, &shop, &file, replace).await,
        Command::Kb(KbCommand::Export { shop, file, common }) => {
            export_kb(config(&common, &common)?, &shop, &file).await
        }
        Command::Bench(BenchCommand::Bot {
            kb,
            cases,
            synthetic,
            misses,
            sweep,
            lexical,
            dump,
            adapter,
        }) => bench::bot(bench::BotBench {
            kb: &kb,
            cases: &cases,
            synthetic,
            misses,
            sweep,
            lexical,
            dump: dump.as_deref(),
            adapter: adapter.as_deref(),
        }),
        Command::Bench(BenchCommand::Chat {
            buyers,
            agents,
            rate,
            seconds,
            url,
            db,
            nodes,
        }) => {
            bench_chat::chat(bench_chat::ChatBench {
                buyers,
                agents,
                rate,
                seconds,
                url,
                db,
                nodes,
            })
            .await
        }
        Command::Bench(BenchCommand::Search {
            messages,
            database_url,
            runs,
            writers,
            dir,
            slowest,
        }) => {
            bench_search::search(bench_search::SearchBench {
                messages,
                database_url,
                runs: runs.max(1),
                writers: writers.max(1),
                dir,
                slowest,
            })
            .await
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&kefu_server::api::api().1)?);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.addr;
    let db = kefu_server::redact(&config.database_url());
    let prepared = kefu_server::prepare(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    println!(
        "kefu {} serving http://{local}  (database: {db})",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(demo) = &prepared.demo {
        let how = if demo.created {
            "loaded"
        } else {
            "already loaded; passwords as first set"
        };
        println!(
            "demo shop “{}” ({}) {how}. Logins (shop = {}):",
            demo.shop_name, demo.shop, demo.shop
        );
        for (user, role, name, password) in &demo.accounts {
            println!("  {user:<10} {:<10} {name:<6} password: {password}", role.as_str());
        }
    }
    kefu_server::serve(prepared, listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn create_shop(config: Config, slug: &str, name: &str, owner: &str, mode: &str) -> anyhow::Result<()> {
    let slug = ShopSlug::parse(slug)?;
    check_shop_name(name)?;
    let username = Username::parse(owner)?;
    let password = std::env::var("KEFU_OWNER_PASSWORD").context("set KEFU_OWNER_PASSWORD to the owner's password")?;
    check_new_password(&password, username.as_str())?;
    let mode = if mode == "mall" { ShopMode::Mall } else { ShopMode::C2c };
    let now = kefu_store::now();
    let shop = Shop {
        id: ShopId::new(),
        slug,
        name: name.trim().to_string(),
        created_at: now,
    };
    let account = Account {
        id: AccountId::new(),
        shop_id: shop.id,
        username,
        display_name: "主账号".into(),
        role: Role::Owner,
        routing: RoutingProfile {
            takes_chats: false,
            ..RoutingProfile::default()
        },
        disabled: false,
        created_at: now,
    };
    let hash = kefu_server::auth::hash_password(password).await?;
    let store = kefu_server::open_store(&config).await?;
    let new = kefu_store::NewShop {
        shop: shop.clone(),
        settings: ShopSettings {
            mode,
            ..ShopSettings::default()
        },
        accounts: vec![(account, hash)],
        catalog: Default::default(),
    };
    store.create_shop(&new).await.map_err(|e| match e {
        kefu_store::StoreError::Conflict(_) => {
            anyhow::anyhow!("a shop named {} exists already", shop.slug.as_str())
        }
        other => other.into(),
    })?;
    println!(
        "created shop {} ({}); log in with shop = {}, login = {owner}",
        shop.slug.as_str(),
        shop.name,
        shop.slug.as_str()
    );
    Ok(())
}

async fn list_shops(config: Config) -> anyhow::Result<()> {
    let store = kefu_server::open_store(&config).await?;
    for s in store.shops().await? {
        println!("{}\t{}\t{}", s.slug.as_str(), s.name, s.created_at.format("%Y-%m-%d"));
    }
    Ok(())
}

fn kb_format(file: &std::path::Path) -> kefu_server::api::KbFormat {
    match file.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("xlsx") => kefu_server::api::KbFormat::Xlsx,
        _ => kefu_server::api::KbFormat::Csv,
    }
}

async fn shop_state(config: Config, slug: &str) -> anyhow::Result<(kefu_server::AppState, ShopId)> {
    let prepared = kefu_server::prepare(config).await?;
    let slug = ShopSlug::parse(slug)?;
    let shop = prepared
        .state
        .store
        .shop_by_slug(&slug)
        .await?
        .with_context(|| format!("there is no shop {}", slug.as_str()))?;
    Ok((prepared.state, shop.id))
}

async fn import_kb(config: Config, slug: &str, file: &std::path::Path, replace: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let (state, shop) = shop_state(config, slug).await?;
    let s = kefu_server::api::import_kb_file(&state, shop, kb_format(file), &bytes, replace)
        .await
        .with_context(|| format!("{} was not imported", file.display()))?;
    println!(
        "imported {}: {} entries created, {} updated, {} deleted; {} categories created",
        file.display(),
        s.entries_created,
        s.entries_updated,
        s.entries_deleted,
        s.categories_created
    );
    Ok(())
}

async fn export_kb(config: Config, slug: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let (state, shop) = shop_state(config, slug).await?;
    let bytes = kefu_server::api::export_kb_file(&state, shop, kb_format(file)).await?;
    std::fs::write(file, bytes).with_context(|| format!("writing {}", file.display()))?;
    println!("wrote {}", file.display());
    Ok(())
}
