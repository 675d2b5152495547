//! The chat's JSON frames over WebSocket (SPEC §2.6), one JSON object per text frame, tagged
//! by `type`. docs/chat-protocol.md explains the protocol with examples; the types here are
//! its definition and appear in the OpenAPI document.

use crate::error::ErrorBody;
use kefu_core::chat::{Content, ConversationState, Event};
use kefu_core::ids::{AccountId, ConversationId, EntryId};
use kefu_core::routing::Presence;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest frame a client may send; larger ones get an `error` frame (`too_large`).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// What a client sends. Buyers omit `conversation_id` (their socket is one conversation);
/// agents name it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// A message. `client_id` is the client's own id for it: sending the same id again (a
    /// retry after a lost `ack`) stores nothing new and is acknowledged with the first one's
    /// sequence number.
    Message {
        #[schema(value_type = Option<String>, format = Uuid)]
        conversation_id: Option<ConversationId>,
        client_id: String,
        content: Content,
    },
    /// The sender is typing (not stored; sent on to the other side).
    Typing {
        #[schema(value_type = Option<String>, format = Uuid)]
        conversation_id: Option<ConversationId>,
    },
    /// Everything up to `seq` has been read (read receipt).
    Read {
        #[schema(value_type = Option<String>, format = Uuid)]
        conversation_id: Option<ConversationId>,
        seq: i64,
    },
    /// Send me every event after `after`, in order (after a reconnect).
    Sync {
        #[schema(value_type = Option<String>, format = Uuid)]
        conversation_id: Option<ConversationId>,
        after: i64,
    },
    /// Buyer: a "您是不是想问" suggestion clicked.
    Pick {
        #[schema(value_type = String, format = Uuid)]
        entry_id: EntryId,
    },
    /// Buyer: the 转人工 button.
    Handoff,
    /// Buyer: the satisfaction survey at chat end (SPEC §5.6), once per chat an agent
    /// answered: 5 非常满意 … 1 非常不满意. Answered with `rated`.
    Rate {
        score: u8,
        #[serde(default)]
        comment: String,
    },
    /// Agent: 在线 / 挂起 / 离线.
    Presence {
        status: Presence,
    },
    /// Agent: end the chat (ESC).
    Close {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
    },
    /// Agent: 转接 to a teammate.
    Transfer {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = String, format = Uuid)]
        to: AccountId,
        #[serde(default)]
        note: String,
    },
    Ping,
}

/// What the server sends.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on a buyer's socket: the conversation and how far it goes.
    Welcome {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        state: ConversationState,
        last_seq: i64,
        /// Place in the shop's queue (1 = next), when waiting.
        queue_position: Option<usize>,
        /// Whether to offer 留言 while waiting, as the last `queue` frame said.
        leave_message: bool,
        /// The agent serving the chat, when one is.
        agent: Option<AgentCard>,
    },
    /// Buyer: the agent now serving the chat (after an assignment or a transfer).
    Agent {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        agent: AgentCard,
    },
    /// Buyer: the rating was stored.
    Rated {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        score: u8,
    },
    /// First frame on an agent's socket.
    AgentWelcome {
        #[schema(value_type = String, format = Uuid)]
        agent_id: AccountId,
        presence: Presence,
        conversations: Vec<ConversationSummary>,
    },
    /// Something happened in a conversation; `seq` numbers them from 1 without gaps.
    Event {
        #[serde(flatten)]
        event: Event,
        /// Links found in a text message, with their verdict (agents only).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<Object>)]
        links: Vec<serde_json::Value>,
    },
    /// The message with this `client_id` is stored as `seq`.
    Ack {
        client_id: String,
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        seq: i64,
        /// It had been stored before (a retry).
        duplicate: bool,
    },
    Typing {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        /// `buyer` or `agent`.
        from: String,
    },
    Read {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        /// `buyer` or `agent`: who has read up to `seq`.
        by: String,
        seq: i64,
    },
    /// Buyer: the place in the queue changed.
    Queue {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        position: usize,
        /// Offer the leave-a-message form (nobody can take the chat soon).
        leave_message: bool,
    },
    /// Agent: the presence now in force.
    Presence {
        status: Presence,
    },
    Error {
        #[serde(flatten)]
        error: ErrorBody,
        /// The message the error is about, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    Pong,
}

/// How the buyer sees their agent: name and 个性签名 (SPEC §1.7).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AgentCard {
    pub name: String,
    pub signature: String,
}

/// A conversation as the workbench's left pane lists it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConversationSummary {
    #[schema(value_type = String, format = Uuid)]
    pub id: ConversationId,
    pub buyer_nick: String,
    pub channel: String,
    pub state: ConversationState,
    pub skill_group: Option<String>,
    pub last_seq: i64,
    /// Events the agent has not read.
    pub unread: i64,
    /// Since when the buyer waits for a reply.
    pub waiting_since: Option<chrono::DateTime<chrono::Utc>>,
    pub assigned_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&kefu_core::chat::Conversation> for ConversationSummary {
    fn from(c: &kefu_core::chat::Conversation) -> Self {
        ConversationSummary {
            id: c.id,
            buyer_nick: c.buyer_nick.clone(),
            channel: c.channel.clone(),
            state: c.state,
            skill_group: c.skill_group.as_ref().map(|g| g.as_str().to_string()),
            last_seq: c.last_seq,
            unread: (c.last_seq - c.agent_read_seq).max(0),
            waiting_since: c.buyer_waiting_since,
            assigned_at: c.assigned_at,
        }
    }
}
