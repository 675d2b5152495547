//! Who is connected to this node: buyers' sockets by conversation, agents' sockets by account.
//! The store is the truth; the hub only tells connected sockets that something was stored,
//! and each socket fills any gap from the store before sending (see `socket`), so a message
//! published out of order or dropped by a full queue is never lost, only fetched.

use crate::chat::protocol::ServerFrame;
use kefu_core::chat::Event;
use kefu_core::ids::{AccountId, ConversationId};
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
}

/// A socket's queue. Bounded: a client that does not read is cut off (it reconnects and
/// replays) instead of growing the server's memory.
pub type Tx = mpsc::Sender<Outbound>;
pub const SOCKET_QUEUE: usize = 256;

#[derive(Default)]
pub struct Hub {
    next: AtomicU64,
    inner: Mutex<Inner>,
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

    /// A stored event: to the conversation's buyer sockets and to the given agents.
    pub fn event(&self, event: Event, agents: &[AccountId]) {
        let out = Outbound::Event(Arc::new(event));
        let inner = self.inner.lock().expect("hub lock");
        if let Outbound::Event(e) = &out {
            send(inner.conversations.get(&e.conversation_id), &out);
        }
        for a in agents {
            send(inner.agents.get(a), &out);
        }
    }

    pub fn to_buyer(&self, conversation: ConversationId, frame: ServerFrame) {
        let inner = self.inner.lock().expect("hub lock");
        send(
            inner.conversations.get(&conversation),
            &Outbound::Frame(Arc::new(frame)),
        );
    }

    pub fn to_agent(&self, agent: AccountId, frame: ServerFrame) {
        let inner = self.inner.lock().expect("hub lock");
        send(inner.agents.get(&agent), &Outbound::Frame(Arc::new(frame)));
    }
}
