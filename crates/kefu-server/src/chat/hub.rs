//! Who is connected to this node: buyers' sockets by conversation, agents' sockets by account.
//! The store is the truth; the hub only tells connected sockets that something was stored,
//! and each socket fills any gap from the store before sending (see `socket`), so a message
//! published out of order or dropped by a full queue is never lost, only fetched.
//!
//! With several nodes (PostgreSQL), what the hub delivers here it also hands to the relay
//! (`relay.rs`), which tells the other nodes; what they tell, the relay delivers here through
//! the `local_*` methods.

use crate::chat::protocol::ServerFrame;
use kefu_core::chat::Event;
use kefu_core::ids::{AccountId, ConversationId, ShopId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What the hub hands a socket.
#[derive(Clone, Debug)]
pub enum Outbound {
    /// A stored event of a conversation the socket may see.
    Event(Arc<Event>),
    /// A frame that is not stored (typing, read, queue position, presence).
    Frame(Arc<ServerFrame>),
    /// Such a frame from another node, as it was written there.
    Raw(Arc<str>),
    /// News may have been missed (the relay's connection dropped): read every conversation
    /// again from the store.
    Resync,
}

/// What a node tells the others (see `relay.rs`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Note {
    /// A stored event, whole; or, when too big to tell, its place for the store to give.
    Event {
        shop: ShopId,
        conversation: ConversationId,
        seq: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<Box<Event>>,
        agents: Vec<AccountId>,
    },
    Buyer {
        conversation: ConversationId,
        frame: String,
    },
    Agent {
        agent: AccountId,
        frame: String,
    },
}

/// A socket's queue. Bounded: a client that does not read is cut off (it reconnects and
/// replays) instead of growing the server's memory.
pub type Tx = mpsc::Sender<Outbound>;
pub const SOCKET_QUEUE: usize = 256;

#[derive(Default)]
pub struct Hub {
    next: AtomicU64,
    inner: Mutex<Inner>,
    /// Where notes for the other nodes go, once the relay runs.
    relay: std::sync::OnceLock<mpsc::Sender<Note>>,
}

#[derive(Default)]
struct Inner {
    conversations: HashMap<ConversationId, Vec<(u64, Tx)>>,
    agents: HashMap<AccountId, Vec<(u64, Tx)>>,
}

/// Unsubscribes when the socket ends.
pub struct Subscription {
    hub: Arc<Hub>,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut inner = self.hub.inner.lock().expect("hub lock");
        inner.conversations.retain(|_, subs| {
            subs.retain(|(id, _)| *id != self.id);
            !subs.is_empty()
        });
        inner.agents.retain(|_, subs| {
            subs.retain(|(id, _)| *id != self.id);
            !subs.is_empty()
        });
    }
}

fn send(subs: Option<&Vec<(u64, Tx)>>, out: &Outbound) {
    for (_, tx) in subs.into_iter().flatten() {
        // A full queue means a stalled client: dropping is safe, the socket refetches gaps.
        let _ = tx.try_send(out.clone());
    }
}

impl Hub {
    pub fn buyer(self: &Arc<Self>, conversation: ConversationId, tx: Tx) -> Subscription {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.inner
            .lock()
            .expect("hub lock")
            .conversations
            .entry(conversation)
            .or_default()
            .push((id, tx));
        Subscription { hub: self.clone(), id }
    }

    pub fn agent(self: &Arc<Self>, agent: AccountId, tx: Tx) -> Subscription {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.inner
            .lock()
            .expect("hub lock")
            .agents
            .entry(agent)
            .or_default()
            .push((id, tx));
        Subscription { hub: self.clone(), id }
    }

    /// Hands every delivery to `relay` from now on, for the other nodes.
    pub fn relay_to(&self, relay: mpsc::Sender<Note>) {
        let _ = self.relay.set(relay);
    }

    fn tell(&self, note: impl FnOnce() -> Note) {
        if let Some(relay) = self.relay.get() {
            // Full means the database is slow or away: the other nodes' sockets resync when
            // the relay reconnects, or fetch the gap at the next event.
            let _ = relay.try_send(note());
        }
    }

    /// A stored event: to the conversation's buyer sockets and to the given agents, here and
    /// on the other nodes.
    pub fn event(&self, shop: ShopId, event: Event, agents: &[AccountId]) {
        let event = Arc::new(event);
        self.tell(|| Note::Event {
            shop,
            conversation: event.conversation_id,
            seq: event.seq,
            event: Some(Box::new((*event).clone())),
            agents: agents.to_vec(),
        });
        self.local_event(event, agents);
    }

    pub fn local_event(&self, event: Arc<Event>, agents: &[AccountId]) {
        let out = Outbound::Event(event);
        let inner = self.inner.lock().expect("hub lock");
        if let Outbound::Event(e) = &out {
            send(inner.conversations.get(&e.conversation_id), &out);
        }
        for a in agents {
            send(inner.agents.get(a), &out);
        }
    }

    pub fn to_buyer(&self, conversation: ConversationId, frame: ServerFrame) {
        let frame = Arc::new(frame);
        self.tell(|| Note::Buyer {
            conversation,
            frame: serde_json::to_string(&*frame).expect("frames serialize"),
        });
        let inner = self.inner.lock().expect("hub lock");
        send(inner.conversations.get(&conversation), &Outbound::Frame(frame));
    }

    pub fn to_agent(&self, agent: AccountId, frame: ServerFrame) {
        let frame = Arc::new(frame);
        self.tell(|| Note::Agent {
            agent,
            frame: serde_json::to_string(&*frame).expect("frames serialize"),
        });
        let inner = self.inner.lock().expect("hub lock");
        send(inner.agents.get(&agent), &Outbound::Frame(frame));
    }

    /// A frame another node wrote for a buyer's sockets here.
    pub fn local_buyer_frame(&self, conversation: ConversationId, frame: Arc<str>) {
        let inner = self.inner.lock().expect("hub lock");
        send(inner.conversations.get(&conversation), &Outbound::Raw(frame));
    }

    pub fn local_agent_frame(&self, agent: AccountId, frame: Arc<str>) {
        let inner = self.inner.lock().expect("hub lock");
        send(inner.agents.get(&agent), &Outbound::Raw(frame));
    }

    /// Every socket here re-reads its conversations from the store.
    pub fn resync_all(&self) {
        let inner = self.inner.lock().expect("hub lock");
        for subs in inner.conversations.values().chain(inner.agents.values()) {
            send(Some(subs), &Outbound::Resync);
        }
    }
}
