//! The outboxes' senders (SPEC §7.2, §7.3): webhook deliveries over HTTP and mails over SMTP.
//! Events and mails are queued in the database ([`kefu_store::HookStore`]); every node runs
//! [`run`], which claims what is due (a claim is one node's, so nothing goes out twice),
//! sends it, and records the try with the next one's time from
//! [`kefu_core::webhooks::after_attempt`].
//!
//! Events are queued right after the change they report is committed, not in its
//! transaction: the chat's, orders' and after-sales' stores each write their own
//! transactions (the chat's SQLite messages even in batches), and threading the outbox
//! through all of them would couple every store to webhooks. The cost is a narrow window —
//! a node that dies between the commit and the queueing loses that event's delivery — which
//! receivers of webhooks must tolerate anyway (they may also miss one while given up on).

use crate::AppState;
use crate::config::{Config, MailTls};
use chrono::{DateTime, Duration, Utc};
use kefu_core::ids::ShopId;
use kefu_core::webhooks::{self, EventType};
use kefu_store::{AttemptOutcome, ClaimedDelivery, ClaimedMail, NewMail};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

/// At most this many deliveries (and mails) are sent at once by one node.
const BATCH: i64 = 20;
/// How often a node looks for due retries and for what other nodes queued.
const POLL: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Outbox {
    /// Rung when this node queues something, so it goes out at once rather than at the next poll.
    wake: Notify,
    http: reqwest::Client,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    allow_private: bool,
    timeout: std::time::Duration,
    /// Whether a shop listens for an event type, as read a moment ago: every chat message
    /// asks, and most shops have no endpoint. This node's own changes clear it at once;
    /// another node's show within [`LISTENERS_TTL`].
    listeners: std::sync::Mutex<HashMap<(ShopId, EventType), (std::time::Instant, bool)>>,
}

/// How long [`Outbox`] trusts what it read about a shop's endpoints.
const LISTENERS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Outbox {
    pub fn new(config: &Config) -> anyhow::Result<Outbox> {
        // reqwest and lettre share rustls; its provider is chosen once per process.
        crate::install_tls_provider();
        let timeout = std::time::Duration::from_secs(config.webhooks.timeout_secs);
        let mut http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect could lead to an address the URL check refused.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kefu-webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.webhooks.allow_private {
            http = http.dns_resolver(Arc::new(PublicOnly));
        }
        let (smtp, from) = if config.mail.enabled() {
            let m = &config.mail;
            let builder = match m.tls {
                MailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(m.host.trim()),
                MailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(m.host.trim())?,
                MailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(m.host.trim())?,
            };
            let mut builder = builder
                .port(m.port)
                .timeout(Some(std::time::Duration::from_secs(m.timeout_secs)));
            if !m.user.is_empty() {
                builder = builder.credentials(Credentials::new(m.user.clone(), m.password.clone()));
            }
            let from: Mailbox = m
                .from
                .parse()
                .map_err(|e| anyhow::anyhow!("mail.from “{}” is not a sender address: {e}", m.from))?;
            (Some(builder.build()), Some(from))
        } else {
            (None, None)
        };
        Ok(Outbox {
            wake: Notify::new(),
            http: http.build()?,
            smtp,
            from,
            allow_private: config.webhooks.allow_private,
            timeout,
            listeners: Default::default(),
        })
    }

    /// Whether this server sends mail at all.
    pub fn mail_enabled(&self) -> bool {
        self.smtp.is_some()
    }

    fn wake(&self) {
        self.wake.notify_one();
    }

    /// Forgets what was read about a shop's endpoints (after this node changed them).
    pub fn forget_listeners(&self, shop: ShopId) {
        if let Ok(mut l) = self.listeners.lock() {
            l.retain(|(s, _), _| *s != shop);
        }
    }

    /// What was read a moment ago, if it is still fresh.
    fn known(&self, shop: ShopId, kind: EventType) -> Option<bool> {
        self.listeners
            .lock()
            .ok()
            .and_then(|l| l.get(&(shop, kind)).copied())
            .filter(|(at, _)| at.elapsed() < LISTENERS_TTL)
            .map(|(_, yes)| yes)
    }

    /// Whether the shop is known, from a moment ago, to have no endpoint for the event: then
    /// a caller on a hot path (every chat message) need not even build the payload.
    pub fn nobody_listens(&self, shop: ShopId, kind: EventType) -> bool {
        self.known(shop, kind) == Some(false)
    }

    async fn listens(&self, state: &AppState, shop: ShopId, kind: EventType) -> anyhow::Result<bool> {
        if let Some(yes) = self.known(shop, kind) {
            return Ok(yes);
        }
        let yes = state.store.has_subscribers(shop, kind).await?;
        if let Ok(mut l) = self.listeners.lock() {
            l.insert((shop, kind), (std::time::Instant::now(), yes));
        }
        Ok(yes)
    }
}

/// Resolves host names to public addresses only: a name of the shop's choosing could point
/// at 127.0.0.1 or the cloud's metadata address, which the URL check cannot see.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> =
                found.into_iter().filter(|a| webhooks::is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Queues an event for the shop's endpoints that listen for it. A failure is logged, not
/// returned: the change it reports is committed, and the caller's request succeeded.
pub async fn emit(state: &AppState, shop: ShopId, kind: EventType, data: serde_json::Value) {
    if let Err(e) = try_emit(state, shop, kind, data).await {
        tracing::warn!(
            event = kind.as_str(),
            error = format!("{e:#}"),
            "queueing a webhook event"
        );
    }
}

async fn try_emit(state: &AppState, shop: ShopId, kind: EventType, data: serde_json::Value) -> anyhow::Result<()> {
    if !state.outbox.listens(state, shop, kind).await? {
        return Ok(());
    }
    let Some(s) = state.store.shop(shop).await? else {
        return Ok(());
    };
    let now = state.clock.now();
    let envelope = webhooks::Envelope {
        id: uuid::Uuid::now_v7(),
        kind,
        shop: s.slug.as_str().to_string(),
        occurred_at: now,
        data,
    };
    let payload = serde_json::to_string(&envelope)?;
    if state
        .store
        .enqueue_event(shop, kind, envelope.id, &payload, now)
        .await?
        > 0
    {
        state.outbox.wake();
    }
    Ok(())
}

/// `order.updated`: the order as it is now and the action's record.
pub async fn order_updated(state: &AppState, shop: ShopId, applied: &kefu_core::order::Applied) {
    let data = serde_json::json!({ "order": applied.order, "record": applied.record });
    emit(state, shop, EventType::OrderUpdated, data).await
}

/// `aftersales.updated`: the case as it is now and the step it took.
pub async fn after_sales_updated(
    state: &AppState,
    shop: ShopId,
    ticket: &kefu_core::aftersales::AfterSalesTicket,
    step: &kefu_core::aftersales::TicketStep,
) {
    let data = serde_json::json!({ "after_sales": ticket, "step": step });
    emit(state, shop, EventType::AfterSalesUpdated, data).await
}

/// [`emit`] without waiting: for callers on the chat's hot path.
pub fn emit_later(state: &AppState, shop: ShopId, kind: EventType, data: serde_json::Value) {
    let state = state.clone();
    tokio::spawn(async move { emit(&state, shop, kind, data).await });
}

/// Wakes this node's sender (a replay, a queued mail).
pub fn wake(state: &AppState) {
    state.outbox.wake();
}

/// Queues a mail and wakes the sender.
pub async fn queue_mail(state: &AppState, mail: &NewMail) -> crate::error::ApiResult<()> {
    state.store.enqueue_mail(mail).await?;
    state.outbox.wake();
    Ok(())
}

/// Sends what is due, then waits for more, until the server stops.
pub async fn run(state: AppState) {
    loop {
        match deliver_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(tries = n, "webhook deliveries tried"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "delivering webhooks"),
        }
        match send_due_mail(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(tries = n, "mails tried"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "sending mail"),
        }
        let _ = tokio::time::timeout(POLL, state.outbox.wake.notified()).await;
    }
}

/// How long a claim holds: longer than a try can take, so nobody takes over a live one.
fn lease(timeout: std::time::Duration) -> Duration {
    Duration::seconds(timeout.as_secs() as i64 * 2 + 60)
}

/// Claims and tries the deliveries due now; returns how many were tried.
pub async fn deliver_due(state: &AppState) -> anyhow::Result<usize> {
    let mut tried = 0;
    loop {
        let now = state.clock.now();
        let claimed = state
            .store
            .claim_deliveries(now, now + lease(state.outbox.timeout), BATCH)
            .await?;
        if claimed.is_empty() {
            return Ok(tried);
        }
        tried += claimed.len();
        let mut tries = tokio::task::JoinSet::new();
        for c in claimed {
            let state = state.clone();
            tries.spawn(async move {
                let outcome = attempt(&state, &c).await;
                state.store.record_attempt(&c, &outcome).await
            });
        }
        while let Some(done) = tries.join_next().await {
            done??;
        }
    }
}

/// One try of a delivery. The URL is checked again: the rule may have changed since the
/// endpoint was saved.
async fn attempt(state: &AppState, c: &ClaimedDelivery) -> AttemptOutcome {
    let sent_at = state.clock.now();
    let started = std::time::Instant::now();
    let result = match webhooks::check_url(&c.url, state.outbox.allow_private) {
        Err(e) => Err(e.message),
        Ok(_) => post(state, c, sent_at).await,
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    let (status_code, error) = match result {
        Ok(code) if webhooks::is_success(code) => (Some(code), None),
        Ok(code) => (Some(code), Some(format!("the receiver answered HTTP {code}"))),
        Err(e) => (None, Some(webhooks::log_error(&e))),
    };
    let now = state.clock.now();
    let max = state.config.webhooks.max_attempts;
    let (status, next_attempt_at) = webhooks::after_attempt(c.attempt, max, error.is_none(), now);
    AttemptOutcome {
        at: now,
        status_code,
        duration_ms,
        error,
        status,
        next_attempt_at,
    }
}

async fn post(state: &AppState, c: &ClaimedDelivery, at: DateTime<Utc>) -> Result<u16, String> {
    let timestamp = at.timestamp();
    let signature = webhooks::sign(c.secret.as_bytes(), timestamp, c.payload.as_bytes());
    let r = state
        .outbox
        .http
        .post(&c.url)
        .header("content-type", "application/json")
        .header("x-kefu-event", c.event_type.as_str())
        .header("x-kefu-delivery", c.id.to_string())
        .header("x-kefu-timestamp", timestamp.to_string())
        .header("x-kefu-signature", signature)
        .body(c.payload.clone())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    Ok(r.status().as_u16())
}

/// A client error with its causes, without the URL (which may carry the receiver's token).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut out = what.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Claims and sends the mails due now; returns how many were tried.
pub async fn send_due_mail(state: &AppState) -> anyhow::Result<usize> {
    let (Some(smtp), Some(from)) = (&state.outbox.smtp, &state.outbox.from) else {
        return Ok(0);
    };
    let mut tried = 0;
    loop {
        let now = state.clock.now();
        let claimed = state.store.claim_mails(now, now + Duration::minutes(5), BATCH).await?;
        if claimed.is_empty() {
            return Ok(tried);
        }
        for m in claimed {
            tried += 1;
            let error = send_mail(smtp, from, &m).await.err();
            let now = state.clock.now();
            let (status, next_attempt_at) =
                webhooks::after_attempt(m.attempt, webhooks::MAX_ATTEMPTS, error.is_none(), now);
            if let Some(e) = &error {
                tracing::warn!(mail = %m.id, attempt = m.attempt, error = %e, "sending a mail");
            }
            let outcome = AttemptOutcome {
                at: now,
                status_code: None,
                duration_ms: 0,
                error: error.map(|e| webhooks::log_error(&e)),
                status,
                next_attempt_at,
            };
            state.store.record_mail_attempt(&m, &outcome).await?;
        }
    }
}

async fn send_mail(smtp: &AsyncSmtpTransport<Tokio1Executor>, from: &Mailbox, m: &ClaimedMail) -> Result<(), String> {
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| format!("the address {} is not usable: {e}", m.to))?;
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone())
        .multipart(MultiPart::alternative_plain_html(m.text.clone(), m.html.clone()))
        .map_err(|e| format!("building the mail: {e}"))?;
    smtp.send(message).await.map(|_| ()).map_err(|e| e.to_string())
}
