//! kefu's server: the HTTP API (and, as they are built, WebSocket and UI) over the core
//! rules and the store. Handlers are thin: parse the request into domain types, check the
//! caller's shop and role, call the core and the store, answer.
//!
//! Start-up is [`prepare`] (open and migrate the store, load the demo shop) followed by
//! [`serve`] on a listener the caller binds — tests bind port 0 and run the real server.

pub mod api;
pub mod auth;
pub mod bots;
pub mod chat;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod kb_template;
pub mod limits;
pub mod order_feed;
pub mod outbox;
pub mod phrase_template;
pub mod product_template;
pub mod sheet;
pub mod ui;

pub use config::Config;

use anyhow::Context;
use kefu_store::Store;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    /// A hash of a random password: login verifies against it for unknown users, so an
    /// answer's timing does not tell which accounts exist.
    pub dummy_hash: Arc<str>,
    /// Each shop's bot, rebuilt when its knowledge base changes.
    pub bots: Arc<bots::Bots>,
    /// Per-address limits on the widget's unauthenticated calls.
    pub widget_limits: Arc<limits::WidgetLimits>,
    /// The chat sockets connected to this node.
    pub hub: Arc<chat::hub::Hub>,
    /// What time it is for reminders and outreach; tests set it.
    pub clock: Arc<clock::Clock>,
    /// Webhook deliveries and mail: the HTTP and SMTP clients and the sender's wake-up.
    pub outbox: Arc<outbox::Outbox>,
}

/// A server ready to serve: store open and migrated, demo loaded if asked.
pub struct Prepared {
    pub state: AppState,
    /// Who can log in to the demo shop, when `--demo` was given.
    pub demo: Option<demo::DemoLogins>,
}

/// Opens the configured database (creating the data directory for SQLite) and migrates it.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    }
    kefu_store::open(&url)
        .await
        .with_context(|| format!("opening the database {}", redact(&url)))
}

pub async fn prepare(config: Config) -> anyhow::Result<Prepared> {
    let store = open_store(&config).await?;
    let dummy: [u8; 16] = rand::random();
    let dummy_hash = auth::hash_password(hex::encode(dummy)).await?.into();
    let demo = if config.demo {
        Some(demo::load(store.as_ref()).await.context("loading the demo shop")?)
    } else {
        None
    };
    let semantic = config.bot_semantic;
    let outbox = Arc::new(outbox::Outbox::new(&config).context("setting up webhooks and mail")?);
    Ok(Prepared {
        state: AppState {
            store,
            config: Arc::new(config),
            dummy_hash,
            bots: Arc::new(bots::Bots::new(semantic)),
            widget_limits: Default::default(),
            hub: Default::default(),
            clock: Default::default(),
            outbox,
        },
        demo,
    })
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    prepared: Prepared,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    chat::relay::start(&prepared.state);
    tokio::spawn(warm_bots(prepared.state.clone()));
    tokio::spawn(close_idle_chats(prepared.state.clone()));
    tokio::spawn(close_unpaid_orders(prepared.state.clone()));
    tokio::spawn(send_due_reminders(prepared.state.clone()));
    tokio::spawn(outbox::run(prepared.state.clone()));
    let app = api::router(prepared.state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Builds every shop's bot at start, so that the first buyer does not wait for it and the
/// semantic signal (embedded on a background thread) is ready sooner.
async fn warm_bots(state: AppState) {
    let shops = match state.store.shops().await {
        Ok(s) => s,
        Err(e) => return tracing::warn!(error = %e, "listing shops to warm their bots"),
    };
    for shop in shops {
        if let Err(e) = state.bots.get(&state.store, shop.id).await {
            tracing::warn!(shop = %shop.slug.as_str(), error = %e, "warming the bot");
        }
    }
}

/// Closes idle chats every half minute (SPEC §2.5).
async fn close_idle_chats(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tick.tick().await;
        match chat::close_idle(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "closed idle chats"),
            Err(e) => tracing::warn!(error = %e, "closing idle chats"),
        }
    }
}

/// Closes orders left unpaid past their shop's timeout, every minute (SPEC §4.1).
async fn close_unpaid_orders(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match api::close_unpaid(&state, state.clock.now(), 500).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "closed unpaid orders"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "closing unpaid orders"),
        }
    }
}

/// Sends due automatic payment reminders every minute (SPEC §4.7), for shops that turned
/// them on; the store's claim makes each go out once however many nodes run this.
async fn send_due_reminders(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match api::reminders::send_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "sent automatic payment reminders"),
            Err(e) => tracing::warn!(error = %e, "sending automatic payment reminders"),
        }
    }
}

/// Chooses rustls's cryptography (ring) for the whole process. Every HTTPS client in it —
/// the webhook sender, SMTP over TLS, and any `reqwest` client a tool or test builds, since
/// the workspace's `reqwest` is built without a provider of its own — needs it first; calling
/// it again does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A database URL fit for logs: the password, if any, replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..s], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            super::redact("postgres://kefu:s3cret@db:5432/kefu"),
            "postgres://kefu:***@db:5432/kefu"
        );
        assert_eq!(
            super::redact("postgres://postgres@127.0.0.1/postgres"),
            "postgres://postgres@127.0.0.1/postgres"
        );
        assert_eq!(super::redact("sqlite://data/kefu.db"), "sqlite://data/kefu.db");
    }
}
