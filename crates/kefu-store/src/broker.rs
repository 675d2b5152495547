//! Telling the other nodes on the same database that something happened: PostgreSQL's own
//! LISTEN/NOTIFY, no broker of our own. The chat hub of each node publishes what it delivered
//! (an event, a typing or presence frame) and delivers what the others published. SQLite
//! serves one node, so it has no broker.
//!
//! NOTIFY is at-most-once: a node whose listening connection drops misses what was said
//! meanwhile. The listener reconnects and reports `Lost`, and the hub then has every socket
//! re-read its conversations from the store — the store, not the broker, is the truth.

use crate::{Result, StoreError};
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// The channel every node listens on.
pub const CHANNEL: &str = "kefu_hub";

/// NOTIFY payloads must stay under 8000 bytes; bigger news is sent as a pointer to the store.
pub const MAX_PAYLOAD: usize = 7900;

#[async_trait]
pub trait Broker: Send + Sync {
    /// Sends a payload (at most [`MAX_PAYLOAD`] bytes) to every listening node, this one too.
    async fn publish(&self, payload: &str) -> Result<()>;
    /// Starts listening.
    async fn listen(&self) -> Result<Box<dyn Subscription>>;
}

/// What a listener hears next.
pub enum Heard {
    Payload(String),
    /// The connection dropped and was made again: notifications in between are lost.
    Lost,
}

#[async_trait]
pub trait Subscription: Send {
    /// Waits for the next notification; an error means the database does not answer now
    /// (call again later: the listener reconnects).
    async fn next(&mut self) -> Result<Heard>;
}

pub struct PgBroker {
    pool: PgPool,
}

impl PgBroker {
    pub fn new(pool: PgPool) -> PgBroker {
        PgBroker { pool }
    }
}

#[async_trait]
impl Broker for PgBroker {
    async fn publish(&self, payload: &str) -> Result<()> {
        if payload.len() > MAX_PAYLOAD {
            return Err(StoreError::Refused(format!(
                "a notification of {} bytes is too long",
                payload.len()
            )));
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn listen(&self) -> Result<Box<dyn Subscription>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Box::new(PgSubscription { listener }))
    }
}

struct PgSubscription {
    listener: PgListener,
}

#[async_trait]
impl Subscription for PgSubscription {
    async fn next(&mut self) -> Result<Heard> {
        // `try_recv` answers None when the connection was lost; the next call reconnects
        // and listens again.
        Ok(match self.listener.try_recv().await? {
            Some(n) => Heard::Payload(n.payload().to_string()),
            None => Heard::Lost,
        })
    }
}
