//! Webhooks and e-mail (SPEC §7.2, §7.3), part of every [`crate::Store`]: a shop's webhook
//! endpoints, and two outboxes — webhook deliveries and mails — that every node works from.
//!
//! A node claims due rows for a while (`claimed_until`, with a token that says whose claim
//! it is): on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so nodes claiming at once take
//! different rows; on SQLite the single writer makes the claim's `UPDATE` atomic. A try's
//! outcome is written only by the claim's holder, so a node that stalls past its claim and
//! comes back cannot overwrite what the node that took over recorded.

use crate::{Listed, Page, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_core::ids::{ConversationId, ShopId};
use kefu_core::mail::MailKind;
use kefu_core::webhooks::{DeliveryStatus, EventType};
use serde::Serialize;
use uuid::Uuid;

/// A shop's endpoint. The secret signs every delivery; the API shows it only when it is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub shop_id: ShopId,
    pub url: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One event for one endpoint, as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event's id (the payload's `id`), the same for every endpoint that got it.
    pub event_id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    /// Tries so far.
    pub attempts: u32,
    /// When the next try is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last try's HTTP status; `null` when no answer came (refused, timed out).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One try of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    /// 1 for the first try.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// A delivery this node claimed, with what it needs to send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub shop_id: ShopId,
    pub webhook_id: Uuid,
    pub url: String,
    pub secret: String,
    pub event_type: EventType,
    pub payload: String,
    /// The number this try will have (tries so far + 1).
    pub attempt: u32,
    pub claim: Uuid,
}

/// What a try came to: its log line and, from `kefu_core::webhooks::after_attempt`, the
/// delivery's next state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A mail to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMail {
    pub id: Uuid,
    pub shop_id: ShopId,
    pub kind: MailKind,
    pub conversation_id: Option<ConversationId>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: DateTime<Utc>,
}

/// A mail this node claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: Uuid,
    pub shop_id: ShopId,
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attempt: u32,
    pub claim: Uuid,
}

/// A queued mail as stored (for the shop's own checks and the tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MailRecord {
    pub id: Uuid,
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait HookStore: Send + Sync {
    /// `NotFound` for an unknown shop.
    async fn create_webhook(&self, hook: &Webhook) -> Result<()>;
    /// The shop's endpoints, oldest first.
    async fn webhooks(&self, shop: ShopId) -> Result<Vec<Webhook>>;
    async fn webhook(&self, shop: ShopId, id: Uuid) -> Result<Option<Webhook>>;
    /// Saves url, events, enabled, secret and the update time. `NotFound` if not the shop's.
    async fn update_webhook(&self, hook: &Webhook) -> Result<()>;
    /// Removes the endpoint with its deliveries and their log. `NotFound` if not the shop's.
    async fn delete_webhook(&self, shop: ShopId, id: Uuid) -> Result<()>;

    /// Whether any enabled endpoint of the shop listens for `kind` (a read: most shops have
    /// none, and the chat's messages must not each cost more than that).
    async fn has_subscribers(&self, shop: ShopId, kind: EventType) -> Result<bool>;
    /// Queues an event for every enabled endpoint of the shop subscribed to its type, due
    /// at `at`; returns how many deliveries were queued. `payload` is the exact body to send.
    async fn enqueue_event(
        &self,
        shop: ShopId,
        kind: EventType,
        event_id: Uuid,
        payload: &str,
        at: DateTime<Utc>,
    ) -> Result<usize>;
    /// Claims up to `limit` pending deliveries, of any shop, due at `now` and not claimed by
    /// anyone else, until `until`. Deliveries of disabled endpoints wait.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Logs a try and moves the delivery on, releasing the claim; `false` (nothing written)
    /// when the claim is no longer this one's.
    async fn record_attempt(&self, claimed: &ClaimedDelivery, outcome: &AttemptOutcome) -> Result<bool>;
    /// An endpoint's deliveries, newest first.
    async fn deliveries(&self, shop: ShopId, webhook: Uuid, page: Page) -> Result<Listed<Delivery>>;
    async fn delivery(&self, shop: ShopId, id: Uuid) -> Result<Option<Delivery>>;
    /// A delivery's tries, first first.
    async fn delivery_attempts(&self, shop: ShopId, id: Uuid) -> Result<Vec<Attempt>>;
    /// Queues a failed delivery again, due at `now`. `NotFound`; `Refused` unless it failed.
    async fn replay_delivery(&self, shop: ShopId, id: Uuid, now: DateTime<Utc>) -> Result<Delivery>;

    /// Queues a mail, due now.
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<()>;
    /// How many transcripts of a conversation were queued at or after `since`.
    async fn transcripts_since(&self, shop: ShopId, conversation: ConversationId, since: DateTime<Utc>) -> Result<i64>;
    /// Claims due mails like [`HookStore::claim_deliveries`].
    async fn claim_mails(&self, now: DateTime<Utc>, until: DateTime<Utc>, limit: i64) -> Result<Vec<ClaimedMail>>;
    /// Records a try of a mail (`error` `None`: sent); `false` when the claim is not this one's.
    async fn record_mail_attempt(&self, claimed: &ClaimedMail, outcome: &AttemptOutcome) -> Result<bool>;
    /// The shop's mails, newest first.
    async fn mails(&self, shop: ShopId, page: Page) -> Result<Listed<MailRecord>>;
}

pub(crate) fn events_column(events: &[EventType]) -> String {
    let mut s = String::from(",");
    for e in events {
        s.push_str(e.as_str());
        s.push(',');
    }
    s
}

pub(crate) fn parse_events(s: &str) -> Result<Vec<EventType>> {
    s.split(',')
        .filter(|e| !e.is_empty())
        .map(|e| EventType::parse(e).ok_or_else(|| crate::StoreError::Corrupt(format!("webhook event {e}"))))
        .collect()
}

pub(crate) fn parse_status(s: &str) -> Result<DeliveryStatus> {
    DeliveryStatus::parse(s).ok_or_else(|| crate::StoreError::Corrupt(format!("delivery status {s}")))
}

pub(crate) fn parse_event_type(s: &str) -> Result<EventType> {
    EventType::parse(s).ok_or_else(|| crate::StoreError::Corrupt(format!("webhook event {s}")))
}

pub(crate) fn parse_kind(s: &str) -> Result<MailKind> {
    MailKind::parse(s).ok_or_else(|| crate::StoreError::Corrupt(format!("mail kind {s}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub url: String,
    pub events: String,
    pub enabled: bool,
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = crate::StoreError;
    fn try_from(r: WebhookRow) -> Result<Webhook> {
        Ok(Webhook {
            id: r.id,
            shop_id: r.shop_id.into(),
            url: r.url,
            events: parse_events(&r.events)?,
            enabled: r.enabled,
            secret: r.secret,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = crate::StoreError;
    fn try_from(r: DeliveryRow) -> Result<Delivery> {
        Ok(Delivery {
            id: r.id,
            webhook_id: r.webhook_id,
            event_id: r.event_id,
            event_type: parse_event_type(&r.event_type)?,
            status: parse_status(&r.status)?,
            attempts: r.attempts.max(0) as u32,
            next_attempt_at: r.next_attempt_at,
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            last_duration_ms: r.last_duration_ms,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        })
    }
}

macro_rules! delivery_columns {
    () => {
        "id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, last_status, last_error, last_duration_ms, created_at, delivered_at"
    };
}
pub(crate) use delivery_columns;

/// The deliveries due at `$1`: pending, not claimed by anyone, their endpoint enabled.
macro_rules! due_deliveries {
    () => {
        "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.shop_id = d.shop_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.claimed_until IS NULL OR d.claimed_until <= $1) AND w.enabled"
    };
}
pub(crate) use due_deliveries;

/// The mails due at `$1`.
macro_rules! due_mails {
    () => {
        "FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)"
    };
}
pub(crate) use due_mails;

macro_rules! hook_impl {
    ($store:ty, $db:ty, $begin_write:literal) => {
        #[async_trait]
        impl crate::hook_sql::HookStore for $store {
            async fn create_webhook(&self, h: &crate::hook_sql::Webhook) -> Result<()> {
                let done = sqlx::query(
                    "INSERT INTO webhooks (id, shop_id, url, events, enabled, secret, created_at, updated_at)
                     SELECT $1, id, $3, $4, $5, $6, $7, $8 FROM shops WHERE id = $2",
                )
                .bind(h.id).bind(h.shop_id.0).bind(&h.url).bind(crate::hook_sql::events_column(&h.events)).bind(h.enabled)
                .bind(&h.secret).bind(h.created_at).bind(h.updated_at)
                .execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn webhooks(&self, shop: ShopId) -> Result<Vec<crate::hook_sql::Webhook>> {
                let rows: Vec<crate::hook_sql::WebhookRow> = sqlx::query_as(
                    "SELECT id, shop_id, url, events, enabled, secret, created_at, updated_at FROM webhooks
                     WHERE shop_id = $1 ORDER BY created_at, id",
                )
                .bind(shop.0).fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn webhook(&self, shop: ShopId, id: Uuid) -> Result<Option<crate::hook_sql::Webhook>> {
                let row: Option<crate::hook_sql::WebhookRow> = sqlx::query_as(
                    "SELECT id, shop_id, url, events, enabled, secret, created_at, updated_at FROM webhooks
                     WHERE shop_id = $1 AND id = $2",
                )
                .bind(shop.0).bind(id).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn update_webhook(&self, h: &crate::hook_sql::Webhook) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE webhooks SET url = $3, events = $4, enabled = $5, secret = $6, updated_at = $7
                     WHERE shop_id = $1 AND id = $2",
                )
                .bind(h.shop_id.0).bind(h.id).bind(&h.url).bind(crate::hook_sql::events_column(&h.events)).bind(h.enabled)
                .bind(&h.secret).bind(h.updated_at)
                .execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn delete_webhook(&self, shop: ShopId, id: Uuid) -> Result<()> {
                let done = sqlx::query("DELETE FROM webhooks WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id).execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn has_subscribers(&self, shop: ShopId, kind: kefu_core::webhooks::EventType) -> Result<bool> {
                let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM webhooks WHERE shop_id = $1 AND enabled AND events LIKE $2 LIMIT 1")
                    .bind(shop.0).bind(format!("%,{},%", kind.as_str())).fetch_optional(&self.pool).await?;
                Ok(found.is_some())
            }

            async fn enqueue_event(
                &self,
                shop: ShopId,
                kind: kefu_core::webhooks::EventType,
                event_id: Uuid,
                payload: &str,
                at: DateTime<Utc>,
            ) -> Result<usize> {
                // A read first, on the readers' pool: most shops have no endpoint, and the
                // chat's messages must not each cost a write for nothing.
                let pattern = format!("%,{},%", kind.as_str());
                let targets: Vec<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM webhooks WHERE shop_id = $1 AND enabled AND events LIKE $2 ORDER BY id",
                )
                .bind(shop.0).bind(&pattern).fetch_all(&self.pool).await?;
                if targets.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.writer.begin_with($begin_write).await?;
                let mut queued = 0;
                for (webhook,) in targets {
                    // Skipped when the endpoint was removed or changed since the read.
                    let done = sqlx::query(
                        "INSERT INTO webhook_deliveries (id, shop_id, webhook_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at)
                         SELECT $1, shop_id, id, $4, $5, $6, 'pending', 0, $7, $7 FROM webhooks
                         WHERE shop_id = $2 AND id = $3 AND enabled AND events LIKE $8",
                    )
                    .bind(Uuid::now_v7()).bind(shop.0).bind(webhook).bind(event_id).bind(kind.as_str()).bind(payload).bind(at).bind(&pattern)
                    .execute(&mut *tx).await?;
                    queued += done.rows_affected() as usize;
                }
                tx.commit().await?;
                Ok(queued)
            }

            async fn claim_deliveries(&self, now: DateTime<Utc>, until: DateTime<Utc>, limit: i64) -> Result<Vec<crate::hook_sql::ClaimedDelivery>> {
                // Nothing due is the common case: a read answers it without taking the writer.
                let due: Option<(Uuid,)> = sqlx::query_as(concat!("SELECT d.id ", crate::hook_sql::due_deliveries!(), " LIMIT 1"))
                .bind(now).fetch_optional(&self.pool).await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let claim = Uuid::now_v7();
                sqlx::query(<$store>::CLAIM_DELIVERIES)
                    .bind(now).bind(until).bind(claim).bind(limit)
                    .execute(&self.writer).await?;
                let rows: Vec<(Uuid, Uuid, Uuid, String, String, String, String, i32)> = sqlx::query_as(
                    "SELECT d.id, d.shop_id, d.webhook_id, w.url, w.secret, d.event_type, d.payload, d.attempts
                     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.shop_id = d.shop_id
                     WHERE d.claim_token = $1 ORDER BY d.next_attempt_at, d.id",
                )
                .bind(claim).fetch_all(&self.writer).await?;
                rows.into_iter()
                    .map(|(id, shop, webhook, url, secret, kind, payload, attempts)| {
                        Ok(crate::hook_sql::ClaimedDelivery {
                            id,
                            shop_id: shop.into(),
                            webhook_id: webhook,
                            url,
                            secret,
                            event_type: crate::hook_sql::parse_event_type(&kind)?,
                            payload,
                            attempt: attempts.max(0) as u32 + 1,
                            claim,
                        })
                    })
                    .collect()
            }

            async fn record_attempt(&self, c: &crate::hook_sql::ClaimedDelivery, o: &crate::hook_sql::AttemptOutcome) -> Result<bool> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let done = sqlx::query(
                    "UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5, claimed_until = NULL,
                            claim_token = NULL, last_status = $6, last_error = $7, last_duration_ms = $8,
                            delivered_at = CASE WHEN $3 = 'delivered' THEN $9 ELSE delivered_at END
                     WHERE id = $1 AND claim_token = $2",
                )
                .bind(c.id).bind(c.claim).bind(o.status.as_str()).bind(c.attempt as i32).bind(o.next_attempt_at)
                .bind(o.status_code.map(i32::from)).bind(&o.error).bind(o.duration_ms).bind(o.at)
                .execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, duration_ms, error) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(c.id).bind(c.attempt as i32).bind(o.at).bind(o.status_code.map(i32::from)).bind(o.duration_ms).bind(&o.error)
                .execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn deliveries(&self, shop: ShopId, webhook: Uuid, page: Page) -> Result<Listed<crate::hook_sql::Delivery>> {
                let rows: Vec<crate::hook_sql::DeliveryRow> = sqlx::query_as(concat!(
                    "SELECT ", crate::hook_sql::delivery_columns!(), " FROM webhook_deliveries
                     WHERE shop_id = $1 AND webhook_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
                ))
                .bind(shop.0).bind(webhook).bind(page.limit).bind(page.offset).fetch_all(&self.pool).await?;
                let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE shop_id = $1 AND webhook_id = $2")
                    .bind(shop.0).bind(webhook).fetch_one(&self.pool).await?;
                Ok(Listed { items: rows.into_iter().map(TryInto::try_into).collect::<Result<_>>()?, total })
            }

            async fn delivery(&self, shop: ShopId, id: Uuid) -> Result<Option<crate::hook_sql::Delivery>> {
                let row: Option<crate::hook_sql::DeliveryRow> = sqlx::query_as(concat!(
                    "SELECT ", crate::hook_sql::delivery_columns!(), " FROM webhook_deliveries WHERE shop_id = $1 AND id = $2"
                ))
                .bind(shop.0).bind(id).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn delivery_attempts(&self, shop: ShopId, id: Uuid) -> Result<Vec<crate::hook_sql::Attempt>> {
                let rows: Vec<(i32, DateTime<Utc>, Option<i32>, i64, Option<String>)> = sqlx::query_as(
                    "SELECT a.attempt, a.at, a.status_code, a.duration_ms, a.error FROM webhook_attempts a
                     JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.shop_id = $1 AND a.delivery_id = $2 ORDER BY a.attempt",
                )
                .bind(shop.0).bind(id).fetch_all(&self.pool).await?;
                Ok(rows
                    .into_iter()
                    .map(|(attempt, at, status_code, duration_ms, error)| crate::hook_sql::Attempt {
                        attempt: attempt.max(0) as u32,
                        at,
                        status_code: status_code.and_then(|s| u16::try_from(s).ok()),
                        duration_ms,
                        error,
                    })
                    .collect())
            }

            async fn replay_delivery(&self, shop: ShopId, id: Uuid, now: DateTime<Utc>) -> Result<crate::hook_sql::Delivery> {
                let done = sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, claimed_until = NULL, claim_token = NULL
                     WHERE shop_id = $1 AND id = $2 AND status = 'failed'",
                )
                .bind(shop.0).bind(id).bind(now).execute(&self.writer).await?;
                let d = self.delivery(shop, id).await?.ok_or(StoreError::NotFound)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Refused(
                        kefu_core::webhooks::may_replay(d.status).err().unwrap_or("only a failed delivery can be replayed").into(),
                    ));
                }
                Ok(d)
            }

            async fn enqueue_mail(&self, m: &crate::hook_sql::NewMail) -> Result<()> {
                let done = sqlx::query(
                    "INSERT INTO mail_outbox (id, shop_id, kind, conversation_id, to_addr, subject, text_body, html_body, status, attempts, next_attempt_at, created_at)
                     SELECT $1, id, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9 FROM shops WHERE id = $2",
                )
                .bind(m.id).bind(m.shop_id.0).bind(m.kind.as_str()).bind(m.conversation_id.map(|c| c.0)).bind(&m.to)
                .bind(&m.subject).bind(&m.text).bind(&m.html).bind(m.created_at)
                .execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn transcripts_since(&self, shop: ShopId, conversation: kefu_core::ids::ConversationId, since: DateTime<Utc>) -> Result<i64> {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM mail_outbox WHERE shop_id = $1 AND conversation_id = $2 AND kind = 'transcript' AND created_at >= $3",
                )
                .bind(shop.0).bind(conversation.0).bind(since).fetch_one(&self.writer).await?;
                Ok(n)
            }

            async fn claim_mails(&self, now: DateTime<Utc>, until: DateTime<Utc>, limit: i64) -> Result<Vec<crate::hook_sql::ClaimedMail>> {
                let due: Option<(Uuid,)> = sqlx::query_as(concat!("SELECT id ", crate::hook_sql::due_mails!(), " LIMIT 1"))
                .bind(now).fetch_optional(&self.pool).await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let claim = Uuid::now_v7();
                sqlx::query(<$store>::CLAIM_MAILS)
                    .bind(now).bind(until).bind(claim).bind(limit)
                    .execute(&self.writer).await?;
                let rows: Vec<(Uuid, Uuid, String, String, String, String, String, i32)> = sqlx::query_as(
                    "SELECT id, shop_id, kind, to_addr, subject, text_body, html_body, attempts FROM mail_outbox
                     WHERE claim_token = $1 ORDER BY next_attempt_at, id",
                )
                .bind(claim).fetch_all(&self.writer).await?;
                rows.into_iter()
                    .map(|(id, shop, kind, to, subject, text, html, attempts)| {
                        Ok(crate::hook_sql::ClaimedMail {
                            id,
                            shop_id: shop.into(),
                            kind: crate::hook_sql::parse_kind(&kind)?,
                            to,
                            subject,
                            text,
                            html,
                            attempt: attempts.max(0) as u32 + 1,
                            claim,
                        })
                    })
                    .collect()
            }

            async fn record_mail_attempt(&self, c: &crate::hook_sql::ClaimedMail, o: &crate::hook_sql::AttemptOutcome) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE mail_outbox SET status = $3, attempts = $4, next_attempt_at = $5, claimed_until = NULL, claim_token = NULL,
                            last_error = $6, sent_at = CASE WHEN $3 = 'delivered' THEN $7 ELSE sent_at END
                     WHERE id = $1 AND claim_token = $2",
                )
                .bind(c.id).bind(c.claim).bind(o.status.as_str()).bind(c.attempt as i32).bind(o.next_attempt_at)
                .bind(&o.error).bind(o.at)
                .execute(&self.writer).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn mails(&self, shop: ShopId, page: Page) -> Result<Listed<crate::hook_sql::MailRecord>> {
                let rows: Vec<(Uuid, String, String, String, String, i32, Option<String>, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
                    "SELECT id, kind, to_addr, subject, status, attempts, last_error, created_at, sent_at FROM mail_outbox
                     WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
                )
                .bind(shop.0).bind(page.limit).bind(page.offset).fetch_all(&self.pool).await?;
                let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mail_outbox WHERE shop_id = $1")
                    .bind(shop.0).fetch_one(&self.pool).await?;
                let items = rows
                    .into_iter()
                    .map(|(id, kind, to, subject, status, attempts, last_error, created_at, sent_at)| {
                        Ok(crate::hook_sql::MailRecord {
                            id,
                            kind: crate::hook_sql::parse_kind(&kind)?,
                            to,
                            subject,
                            status: crate::hook_sql::parse_status(&status)?,
                            attempts: attempts.max(0) as u32,
                            last_error,
                            created_at,
                            sent_at,
                        })
                    })
                    .collect::<Result<_>>()?;
                Ok(Listed { items, total })
            }
        }
    };
}
pub(crate) use hook_impl;
