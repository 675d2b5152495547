//! The adapter boundary for order sources (SPEC §4.8). kefu's own order store is fed by an
//! import (`POST /api/v1/orders/import`) and by signed event hooks
//! (`POST /api/v1/hooks/{shop}/orders/{feed}`). A feed turns a platform's hook payload into
//! kefu's platform-neutral events (`kefu_core::order_feed::FeedEvent`); everything after that —
//! the signature, the state machine, the store — is the same for every platform. To connect a
//! platform, implement [`OrderFeed`] for its payloads and list it in [`feed`].

use kefu_core::ValidationError;
use kefu_core::order_feed::{FeedEvent, MAX_BATCH};
use serde::Deserialize;

pub trait OrderFeed: Send + Sync {
    /// The feed's name in the hook's URL.
    fn name(&self) -> &'static str;
    /// The events a hook request carries, or why the body is not one.
    fn decode(&self, body: &[u8]) -> Result<Vec<FeedEvent>, ValidationError>;
}

/// kefu's own JSON: `{"events": [{"kind": "paid", "order_no": "…"}, …]}`.
pub struct KefuJson;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Events {
    events: Vec<FeedEvent>,
}

impl OrderFeed for KefuJson {
    fn name(&self) -> &'static str {
        "kefu"
    }

    fn decode(&self, body: &[u8]) -> Result<Vec<FeedEvent>, ValidationError> {
        let e: Events = serde_json::from_slice(body).map_err(|e| ValidationError::new("events", e.to_string()))?;
        if e.events.is_empty() || e.events.len() > MAX_BATCH {
            return Err(ValidationError::new("events", format!("send 1 to {MAX_BATCH} events")));
        }
        Ok(e.events)
    }
}

/// The feed a hook URL names.
pub fn feed(name: &str) -> Option<&'static dyn OrderFeed> {
    const FEEDS: &[&dyn OrderFeed] = &[&KefuJson];
    FEEDS.iter().copied().find(|f| f.name() == name)
}
