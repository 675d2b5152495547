//! Several nodes on one PostgreSQL (issue 8): each node's hub tells the others what it
//! delivered, through the store's broker (LISTEN/NOTIFY), and delivers what they tell. A
//! buyer on node A and an agent on node B thus talk live. Nothing here is the truth: notes
//! only say "look"; sockets fetch whatever they miss from the store, and after the broker's
//! connection drops every socket here re-reads its conversations (`Outbound::Resync`).

use crate::AppState;
use crate::chat::hub::Note;
use kefu_store::broker::{Broker, Heard, MAX_PAYLOAD};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Notes waiting for the database; beyond this the hub drops them (see `Hub::tell`).
const QUEUE: usize = 8192;

#[derive(Serialize, Deserialize)]
struct Wire {
    /// Which node wrote it: a node skips its own, it delivered them already.
    node: Uuid,
    note: Note,
}

/// Starts relaying when the store has a broker (PostgreSQL); SQLite serves one node.
pub fn start(state: &AppState) {
    let Some(broker) = state.store.broker() else { return };
    let node = Uuid::now_v7();
    let (tx, rx) = mpsc::channel(QUEUE);
    state.hub.relay_to(tx);
    tokio::spawn(publish(broker.clone(), node, rx));
    tokio::spawn(listen(state.clone(), broker, node));
    tracing::info!(%node, "relaying chat traffic to the other nodes through PostgreSQL LISTEN/NOTIFY");
}

/// The wire form of a note: whole, or for an event too big for NOTIFY, where to read it.
fn wire(node: Uuid, note: Note) -> Option<String> {
    let text = serde_json::to_string(&Wire { node, note }).ok()?;
    if text.len() <= MAX_PAYLOAD {
        return Some(text);
    }
    let Wire { note, .. } = serde_json::from_str(&text).ok()?;
    match note {
        Note::Event {
            shop,
            conversation,
            seq,
            agents,
            ..
        } => serde_json::to_string(&Wire {
            node,
            note: Note::Event {
                shop,
                conversation,
                seq,
                event: None,
                agents,
            },
        })
        .ok(),
        // Frames are small; one that is not is not worth a second node's attention.
        _ => None,
    }
}

async fn publish(broker: Arc<dyn Broker>, node: Uuid, mut rx: mpsc::Receiver<Note>) {
    let mut failing = false;
    while let Some(note) = rx.recv().await {
        let Some(text) = wire(node, note) else { continue };
        match broker.publish(&text).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "telling the other nodes; they resync when it answers again");
            }
            Err(_) => {}
        }
    }
}

async fn listen(state: AppState, broker: Arc<dyn Broker>, node: Uuid) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut sub = match broker.listen().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "listening for the other nodes");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        // Whatever was said while nobody here listened is in the store.
        state.hub.resync_all();
        loop {
            match sub.next().await {
                Ok(Heard::Payload(text)) => deliver(&state, node, &text).await,
                Ok(Heard::Lost) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "the other nodes' notifications stopped; listening again");
                    break;
                }
            }
        }
    }
}

async fn deliver(state: &AppState, node: Uuid, text: &str) {
    let wire: Wire = match serde_json::from_str(text) {
        Ok(w) => w,
        Err(e) => return tracing::warn!(error = %e, "a note from another node that does not parse"),
    };
    if wire.node == node {
        return;
    }
    match wire.note {
        Note::Event {
            event: Some(event),
            agents,
            ..
        } => state.hub.local_event(Arc::new(*event), &agents),
        Note::Event {
            shop,
            conversation,
            seq,
            event: None,
            agents,
        } => match state.store.events_after(shop, conversation, seq - 1, 1).await {
            Ok(mut events) if !events.is_empty() => state.hub.local_event(Arc::new(events.remove(0)), &agents),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading an event another node stored"),
        },
        Note::Buyer { conversation, frame } => state.hub.local_buyer_frame(conversation, frame.into()),
        Note::Agent { agent, frame } => state.hub.local_agent_frame(agent, frame.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_core::chat::{Content, Event, EventBody, Sender};
    use kefu_core::ids::{AccountId, ConversationId, ShopId};

    fn event(text: &str) -> Event {
        Event {
            conversation_id: ConversationId::new(),
            seq: 7,
            sender: Sender::Buyer,
            client_id: Some("c-1".into()),
            body: EventBody::Message {
                content: Content::Text { text: text.into() },
                compliance: Vec::new(),
            },
            at: kefu_store::now(),
        }
    }

    fn note(e: &Event) -> Note {
        Note::Event {
            shop: ShopId::new(),
            conversation: e.conversation_id,
            seq: e.seq,
            event: Some(Box::new(e.clone())),
            agents: vec![AccountId::new()],
        }
    }

    #[test]
    fn an_event_goes_whole_or_as_its_place() {
        let node = Uuid::now_v7();
        let small = event("在吗");
        let text = wire(node, note(&small)).unwrap();
        let back: Wire = serde_json::from_str(&text).unwrap();
        assert_eq!(back.node, node);
        let Note::Event { event: Some(e), .. } = back.note else {
            panic!("{text}")
        };
        assert_eq!(*e, small);

        let big = event(&"长".repeat(4000));
        let text = wire(node, note(&big)).unwrap();
        assert!(text.len() <= MAX_PAYLOAD);
        let back: Wire = serde_json::from_str(&text).unwrap();
        let Note::Event {
            event,
            seq,
            conversation,
            ..
        } = back.note
        else {
            panic!()
        };
        assert!(event.is_none());
        assert_eq!((seq, conversation), (7, big.conversation_id));
    }
}
