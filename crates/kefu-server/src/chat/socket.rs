//! One WebSocket connection, buyer's or agent's: parse a frame, call the chat operation,
//! answer; and deliver what the hub announces, in sequence order without gaps or repeats.
//! `seen` holds, per conversation, the last sequence number this socket has delivered: an
//! event beyond the next one makes the socket fetch the missing ones from the store first,
//! and an event it has already delivered is skipped. A socket that first hears of a
//! conversation (an assignment, a transfer) thus receives the whole history before it.

use super::hub::{Outbound, SOCKET_QUEUE};
use super::protocol::{ClientFrame, ConversationSummary, MAX_FRAME_BYTES, ServerFrame};
use crate::AppState;
use crate::api::widget::BotInput;
use crate::error::{ApiError, ApiResult};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kefu_core::account::Account;
use kefu_core::chat::{CloseReason, Content, Event, EventBody};
use kefu_core::ids::{ConversationId, ShopId};
use kefu_core::links::{LinkPolicy, scan};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Events fetched per store read when filling a gap or replaying.
const PAGE: i64 = 500;

/// Whose socket it is.
pub enum Peer {
    /// `product`: the SKU of the product page the widget runs on.
    Buyer {
        shop: ShopId,
        conversation: ConversationId,
        product: Option<String>,
    },
    Agent(Box<Account>),
}

struct Conn {
    state: AppState,
    peer: Peer,
    seen: HashMap<ConversationId, i64>,
    /// Links in agents' copies of text messages are checked against the shop's policy.
    links: Option<Arc<LinkPolicy>>,
    limiter: DefaultDirectRateLimiter,
    last_typing: Option<Instant>,
}

/// Runs the connection until either side closes it. `after` is the buyer's last seen
/// sequence number (a reconnect); agents sync per conversation with `sync` frames.
pub async fn run(state: AppState, mut ws: WebSocket, peer: Peer, after: i64) {
    let (tx, mut rx) = mpsc::channel::<Outbound>(SOCKET_QUEUE);
    let _subscription = match &peer {
        Peer::Buyer { conversation, .. } => state.hub.buyer(*conversation, tx),
        Peer::Agent(a) => state.hub.agent(a.id, tx),
    };
    let links = match &peer {
        Peer::Agent(a) => match state.store.settings(a.shop_id).await {
            Ok(s) => Some(Arc::new(LinkPolicy::from_settings(&s))),
            Err(e) => {
                tracing::warn!(error = %e, "reading the shop's link policy");
                None
            }
        },
        Peer::Buyer { .. } => None,
    };
    let mut conn = Conn {
        state,
        peer,
        seen: HashMap::new(),
        links,
        // Generous for people, tight for scripts: 20 at once, then 5 a second.
        limiter: RateLimiter::direct(
            Quota::per_second(NonZeroU32::new(5).unwrap()).allow_burst(NonZeroU32::new(20).unwrap()),
        ),
        last_typing: None,
    };
    if let Err(e) = conn.welcome(&mut ws, after).await {
        tracing::warn!(error = %e, "chat socket: welcome failed");
        return;
    }
    let mut heartbeat = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            incoming = ws.recv() => {
                let msg = match incoming {
                    Some(Ok(msg)) => msg,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "chat socket: read failed");
                        break;
                    }
                    None => break,
                };
                let reply = match msg {
                    Message::Text(text) => conn.frame(&mut ws, text).await,
                    Message::Binary(_) => Err(ApiError::BadRequest { code: "bad_frame", message: "frames are JSON text, not binary".into() }),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => Ok(()),
                };
                if let Err(e) = reply
                    && send(&mut ws, &error_frame(&e, None)).await.is_err()
                {
                    break;
                }
            }
            out = rx.recv() => {
                let Some(out) = out else { break };
                // Undeliverable in order (the store failed to fill a gap, or the client is gone):
                // closing makes the client reconnect and replay from its last sequence number.
                if let Err(e) = conn.deliver(&mut ws, out).await {
                    tracing::warn!(error = %e, "chat socket: delivery failed, closing");
                    break;
                }
            }
            _ = heartbeat.tick() => {
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
}

async fn send(ws: &mut WebSocket, frame: &ServerFrame) -> ApiResult<()> {
    let json = serde_json::to_string(frame).expect("frames serialize");
    ws.send(Message::Text(Utf8Bytes::from(json)))
        .await
        .map_err(|e| ApiError::Internal(e.into()))
}

fn error_frame(e: &ApiError, client_id: Option<String>) -> ServerFrame {
    ServerFrame::Error {
        error: e.body(),
        client_id,
    }
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code,
        message: message.into(),
    }
}

impl Conn {
    fn shop(&self) -> ShopId {
        match &self.peer {
            Peer::Buyer { shop, .. } => *shop,
            Peer::Agent(a) => a.shop_id,
        }
    }

    async fn welcome(&mut self, ws: &mut WebSocket, after: i64) -> ApiResult<()> {
        let state = self.state.clone();
        match &self.peer {
            Peer::Buyer { shop, conversation, .. } => {
                let (shop, conversation) = (*shop, *conversation);
                let c = super::conversation(&state, shop, conversation).await?;
                let position = super::queue_position(&state, shop, conversation).await?;
                let leave_message = match position {
                    Some(p) => {
                        super::offers_leave_message(super::nobody_there(&state, shop, kefu_store::now()).await?, p)
                    }
                    None => false,
                };
                let frame = ServerFrame::Welcome {
                    conversation_id: c.id,
                    state: c.state,
                    last_seq: c.last_seq,
                    queue_position: position,
                    leave_message,
                    agent: super::agent_card(&state, &c).await?,
                };
                send(ws, &frame).await?;
                self.replay(ws, conversation, after.max(0)).await
            }
            Peer::Agent(a) => {
                let presence = state
                    .store
                    .agent_loads(a.shop_id)
                    .await?
                    .into_iter()
                    .find(|s| s.account_id == a.id)
                    .map(|s| s.presence)
                    .unwrap_or(kefu_core::routing::Presence::Offline);
                let conversations: Vec<ConversationSummary> = state
                    .store
                    .agent_conversations(a.shop_id, a.id)
                    .await?
                    .iter()
                    .map(Into::into)
                    .collect();
                let frame = ServerFrame::AgentWelcome {
                    agent_id: a.id,
                    presence,
                    conversations,
                };
                send(ws, &frame).await
            }
        }
    }

    /// Sends every event after `after`, in pages, and remembers how far it got.
    async fn replay(&mut self, ws: &mut WebSocket, conversation: ConversationId, after: i64) -> ApiResult<()> {
        self.seen.insert(conversation, after);
        loop {
            let from = self.seen[&conversation];
            let page = self
                .state
                .store
                .events_after(self.shop(), conversation, from, PAGE)
                .await?;
            let n = page.len();
            for e in page {
                self.send_event(ws, &e).await?;
            }
            if (n as i64) < PAGE {
                return Ok(());
            }
        }
    }

    async fn send_event(&mut self, ws: &mut WebSocket, e: &Event) -> ApiResult<()> {
        let links = match (&self.links, &e.body) {
            (
                Some(policy),
                EventBody::Message {
                    content: Content::Text { text },
                    ..
                },
            ) => scan(text, policy)
                .into_iter()
                .filter_map(|l| serde_json::to_value(l).ok())
                .collect(),
            _ => Vec::new(),
        };
        let mut event = e.clone();
        // A transfer's note and the compliance guard's findings are for the agents: the buyer
        // hears only who serves them now, and only what was said.
        if let Peer::Buyer { .. } = &self.peer {
            match &mut event.body {
                EventBody::Transferred { note, .. } => note.clear(),
                EventBody::Message { compliance, .. } => compliance.clear(),
                _ => {}
            }
        }
        let frame = ServerFrame::Event { event, links };
        send(ws, &frame).await?;
        self.seen.insert(e.conversation_id, e.seq);
        Ok(())
    }

    async fn deliver(&mut self, ws: &mut WebSocket, out: Outbound) -> ApiResult<()> {
        match out {
            Outbound::Frame(f) => send(ws, &f).await,
            Outbound::Raw(text) => ws
                .send(Message::Text(Utf8Bytes::from(&*text)))
                .await
                .map_err(|e| ApiError::Internal(e.into())),
            Outbound::Resync => {
                let known: Vec<(ConversationId, i64)> = self.seen.iter().map(|(c, s)| (*c, *s)).collect();
                for (conversation, seen) in known {
                    self.replay(ws, conversation, seen).await?;
                }
                Ok(())
            }
            Outbound::Event(e) => {
                let seen = self.seen.get(&e.conversation_id).copied().unwrap_or(0);
                if e.seq <= seen {
                    return Ok(());
                }
                if e.seq > seen + 1 {
                    // Published out of order, or dropped from a full queue: fetch the gap.
                    let missing = self
                        .state
                        .store
                        .events_after(self.shop(), e.conversation_id, seen, e.seq - seen - 1)
                        .await?;
                    for m in missing {
                        self.send_event(ws, &m).await?;
                    }
                }
                self.send_event(ws, &e).await
            }
        }
    }

    /// The conversation a frame is about: the buyer's own, or the one an agent names.
    fn target(&self, named: Option<ConversationId>) -> ApiResult<ConversationId> {
        match (&self.peer, named) {
            (Peer::Buyer { conversation, .. }, None) => Ok(*conversation),
            (Peer::Buyer { conversation, .. }, Some(c)) if c == *conversation => Ok(c),
            (Peer::Buyer { .. }, Some(_)) => Err(ApiError::Forbidden("not your conversation".into())),
            (Peer::Agent(_), Some(c)) => Ok(c),
            (Peer::Agent(_), None) => Err(bad("bad_frame", "name the conversation_id")),
        }
    }

    async fn frame(&mut self, ws: &mut WebSocket, text: Utf8Bytes) -> ApiResult<()> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "frames are at most {MAX_FRAME_BYTES} bytes"
            )));
        }
        let frame: ClientFrame = serde_json::from_str(text.as_str())
            .map_err(|e| bad("bad_frame", format!("not a frame of the chat protocol: {e}")))?;
        let state = self.state.clone();
        let shop = self.shop();
        match frame {
            ClientFrame::Ping => send(ws, &ServerFrame::Pong).await,
            ClientFrame::Message {
                conversation_id,
                client_id,
                content,
            } => {
                let conversation = self.target(conversation_id)?;
                if self.limiter.check().is_err() {
                    return Err(ApiError::TooManyRequests {
                        retry_after_secs: 1,
                        message: "too many messages; slow down".into(),
                    });
                }
                kefu_core::chat::check_client_id(&client_id)?;
                let result = match &self.peer {
                    Peer::Buyer { .. } => {
                        super::buyer_message(&state, shop, conversation, client_id.clone(), content).await
                    }
                    Peer::Agent(a) => super::agent_message(&state, a, conversation, client_id.clone(), content).await,
                };
                let a = match result {
                    Ok(a) => a,
                    Err(e) => {
                        return send(ws, &error_frame(&e, Some(client_id))).await;
                    }
                };
                let ack = ServerFrame::Ack {
                    client_id,
                    conversation_id: conversation,
                    seq: a.event.seq,
                    duplicate: a.duplicate,
                };
                send(ws, &ack).await?;
                if let Peer::Buyer { product, .. } = &self.peer {
                    super::after_buyer_message(&state, &a, product.as_deref()).await?;
                }
                Ok(())
            }
            ClientFrame::Typing { conversation_id } => {
                let conversation = self.target(conversation_id)?;
                if self.last_typing.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
                    return Ok(());
                }
                self.last_typing = Some(Instant::now());
                let c = super::conversation(&state, shop, conversation).await?;
                match &self.peer {
                    Peer::Buyer { .. } => {
                        if let Some(agent) = c.agent_id {
                            state.hub.to_agent(
                                agent,
                                ServerFrame::Typing {
                                    conversation_id: c.id,
                                    from: "buyer".into(),
                                },
                            );
                        }
                    }
                    Peer::Agent(a) => {
                        if c.agent_id != Some(a.id) {
                            return Err(ApiError::Forbidden("this chat is not with you".into()));
                        }
                        state.hub.to_buyer(
                            c.id,
                            ServerFrame::Typing {
                                conversation_id: c.id,
                                from: "agent".into(),
                            },
                        );
                    }
                }
                Ok(())
            }
            ClientFrame::Read { conversation_id, seq } => {
                let conversation = self.target(conversation_id)?;
                let c = super::conversation(&state, shop, conversation).await?;
                match &self.peer {
                    Peer::Buyer { .. } => {
                        state.store.mark_read(shop, conversation, false, seq).await?;
                        if let Some(agent) = c.agent_id {
                            state.hub.to_agent(
                                agent,
                                ServerFrame::Read {
                                    conversation_id: c.id,
                                    by: "buyer".into(),
                                    seq,
                                },
                            );
                        }
                    }
                    Peer::Agent(a) => {
                        if !super::may_act(a, &c) {
                            return Err(ApiError::Forbidden("this chat is not with you".into()));
                        }
                        if c.agent_id == Some(a.id) {
                            state.store.mark_read(shop, conversation, true, seq).await?;
                            state.hub.to_buyer(
                                c.id,
                                ServerFrame::Read {
                                    conversation_id: c.id,
                                    by: "agent".into(),
                                    seq,
                                },
                            );
                        }
                    }
                }
                Ok(())
            }
            ClientFrame::Sync { conversation_id, after } => {
                let conversation = self.target(conversation_id)?;
                if let Peer::Agent(a) = &self.peer {
                    let c = super::conversation(&state, shop, conversation).await?;
                    if !super::may_act(a, &c) {
                        return Err(ApiError::Forbidden("this chat is not with you".into()));
                    }
                }
                self.replay(ws, conversation, after.max(0)).await
            }
            ClientFrame::Pick { entry_id } => {
                let Peer::Buyer { conversation, .. } = self.peer else {
                    return Err(bad("bad_frame", "only buyers pick suggestions"));
                };
                let c = super::conversation(&state, shop, conversation).await?;
                if c.state != kefu_core::chat::ConversationState::Bot {
                    return Err(ApiError::Conflict("the chat is with the agents now".into()));
                }
                super::bot_answers(&state, &c, BotInput::Pick(entry_id), None).await
            }
            ClientFrame::Handoff => {
                let Peer::Buyer { conversation, .. } = self.peer else {
                    return Err(bad("bad_frame", "only buyers ask for a person"));
                };
                let c = super::conversation(&state, shop, conversation).await?;
                match c.state {
                    kefu_core::chat::ConversationState::Bot => {
                        super::bot_answers(&state, &c, BotInput::Human, None).await
                    }
                    kefu_core::chat::ConversationState::Closed => {
                        let reopened = state
                            .store
                            .transition(
                                shop,
                                conversation,
                                &kefu_core::chat::Transition::Reopen,
                                kefu_store::now(),
                            )
                            .await?;
                        super::publish(&state, &reopened);
                        super::bot_answers(&state, &reopened.conversation, BotInput::Human, None).await
                    }
                    _ => Ok(()),
                }
            }
            ClientFrame::Rate { score, comment } => {
                let Peer::Buyer { conversation, .. } = self.peer else {
                    return Err(bad("bad_frame", "only buyers rate chats"));
                };
                super::rate(&state, shop, conversation, score, &comment).await?;
                send(
                    ws,
                    &ServerFrame::Rated {
                        conversation_id: conversation,
                        score,
                    },
                )
                .await
            }
            ClientFrame::Presence { status } => match &self.peer {
                Peer::Agent(a) => super::set_presence(&state, a, status).await,
                Peer::Buyer { .. } => Err(bad("bad_frame", "only agents have a presence")),
            },
            ClientFrame::Close { conversation_id } => match &self.peer {
                Peer::Agent(a) => super::close(&state, a, conversation_id, CloseReason::Agent).await,
                Peer::Buyer { .. } => Err(bad("bad_frame", "buyers leave by closing the window")),
            },
            ClientFrame::Transfer {
                conversation_id,
                to,
                note,
            } => match &self.peer {
                Peer::Agent(a) => super::transfer(&state, a, conversation_id, to, &note).await,
                Peer::Buyer { .. } => Err(bad("bad_frame", "only agents transfer chats")),
            },
        }
    }
}
