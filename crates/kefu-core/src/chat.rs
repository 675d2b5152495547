//! Conversations (SPEC §2.5–2.6): what a chat is, the states it moves through, and what may be
//! said in it. A conversation starts with the bot, waits in the shop's queue once handed over,
//! is served by one agent, and is closed by the agent, by the buyer leaving, or after idling;
//! the buyer writing again reopens it with the bot. Everything that happens in it is an
//! [`EventBody`] with a sequence number, which is what clients replay after a reconnect.

use crate::ValidationError;
use crate::account::SkillGroup;
use crate::ids::{AccountId, ConversationId, ShopId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// The bot answers.
    Bot,
    /// Handed over, waiting for an agent in the shop's queue.
    Queued,
    /// Served by `agent_id`.
    Assigned,
    Closed,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Bot => "bot",
            ConversationState::Queued => "queued",
            ConversationState::Assigned => "assigned",
            ConversationState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<ConversationState> {
        Some(match s {
            "bot" => ConversationState::Bot,
            "queued" => ConversationState::Queued,
            "assigned" => ConversationState::Assigned,
            "closed" => ConversationState::Closed,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub shop_id: ShopId,
    /// The widget's visitor id or the shop's buyer id.
    pub visitor: String,
    /// What agents call the buyer (买家昵称); the visitor id's start when unknown.
    pub buyer_nick: String,
    /// Where the buyer came from, e.g. `web`, `h5`.
    pub channel: String,
    /// 售前 / 售后 when the entry point or the bot's intent says so.
    pub skill_group: Option<SkillGroup>,
    pub state: ConversationState,
    pub agent_id: Option<AccountId>,
    /// Sequence number of the last event.
    pub last_seq: i64,
    /// The last event each side has read (read receipts, unread counts).
    pub buyer_read_seq: i64,
    pub agent_read_seq: i64,
    pub created_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Since when the buyer waits for an agent's reply (first unanswered message), for the
    /// reply-wait statistics and the workbench's waiting time.
    pub buyer_waiting_since: Option<DateTime<Utc>>,
    /// Whether the current agent has answered yet (first response time).
    pub agent_answered: bool,
    pub last_activity_at: DateTime<Utc>,
}

impl Conversation {
    pub fn new(shop_id: ShopId, visitor: String, buyer_nick: String, channel: String, now: DateTime<Utc>) -> Self {
        Conversation {
            id: ConversationId::new(),
            shop_id,
            visitor,
            buyer_nick,
            channel,
            skill_group: None,
            state: ConversationState::Bot,
            agent_id: None,
            last_seq: 0,
            buyer_read_seq: 0,
            agent_read_seq: 0,
            created_at: now,
            queued_at: None,
            assigned_at: None,
            closed_at: None,
            buyer_waiting_since: None,
            agent_answered: false,
            last_activity_at: now,
        }
    }

    /// Applies a change of state, or says which rule forbids it (answered with 409).
    pub fn apply(&mut self, t: &Transition, now: DateTime<Utc>) -> Result<EventBody, String> {
        use ConversationState::*;
        let state = self.state.as_str();
        let body = match (self.state, t) {
            (Bot, Transition::Handoff { reason, group }) => {
                self.state = Queued;
                self.queued_at = Some(now);
                // The entry point's group stands; the bot's intent fills in where it gave none.
                if self.skill_group.is_none() {
                    self.skill_group = group.clone();
                }
                EventBody::Queued { reason: *reason }
            }
            (Queued | Assigned, Transition::Handoff { .. }) => return Err("the chat is already with the agents".into()),
            (Queued, Transition::Assign { agent, agent_name }) => {
                self.state = Assigned;
                self.agent_id = Some(*agent);
                self.assigned_at = Some(now);
                self.agent_answered = false;
                EventBody::Assigned {
                    agent_id: *agent,
                    agent_name: agent_name.clone(),
                }
            }
            (Assigned, Transition::Transfer { to, to_name, note }) => {
                let from = self.agent_id.expect("an assigned chat has an agent");
                if from == *to {
                    return Err("the chat is already with this agent".into());
                }
                self.agent_id = Some(*to);
                self.assigned_at = Some(now);
                self.agent_answered = false;
                EventBody::Transferred {
                    from,
                    to: *to,
                    to_name: to_name.clone(),
                    note: note.clone(),
                }
            }
            (Closed, Transition::Close { .. }) => return Err("the chat is already closed".into()),
            (_, Transition::Close { reason }) => {
                self.state = Closed;
                self.closed_at = Some(now);
                self.buyer_waiting_since = None;
                EventBody::Closed { reason: *reason }
            }
            (Closed, Transition::Reopen) => {
                self.state = Bot;
                self.agent_id = None;
                self.queued_at = None;
                self.assigned_at = None;
                self.closed_at = None;
                EventBody::Reopened
            }
            (_, Transition::Assign { .. }) => {
                return Err(format!("only a waiting chat can be assigned (it is {state})"));
            }
            (_, Transition::Transfer { .. }) => {
                return Err(format!("only a chat with an agent can be transferred (it is {state})"));
            }
            (_, Transition::Reopen) => return Err("only a closed chat can be reopened".into()),
            (Closed, Transition::Handoff { .. }) => return Err("the chat is closed".into()),
        };
        self.last_activity_at = now;
        Ok(body)
    }
}

/// A change of a conversation's state.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    /// `group`: the skill group the bot's intent points to, if any.
    Handoff {
        reason: HandoffReason,
        group: Option<SkillGroup>,
    },
    Assign {
        agent: AccountId,
        agent_name: String,
    },
    Transfer {
        to: AccountId,
        to_name: String,
        note: String,
    },
    Close {
        reason: CloseReason,
    },
    Reopen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The buyer asked (button or words such as 转人工).
    Asked,
    /// The bot failed too many times in a row.
    Failures,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The agent ended it (ESC in the workbench).
    Agent,
    /// Nobody wrote for the shop's idle time.
    Idle,
    /// The buyer left a message instead of waiting.
    LeftMessage,
}

/// Who caused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "role", content = "id", rename_all = "snake_case")]
pub enum Sender {
    Buyer,
    Agent(AccountId),
    Bot,
    /// kefu itself: queue, assignment, auto-replies.
    System,
}

/// What a message carries (SPEC §2.6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Content {
    Text {
        text: String,
    },
    Image {
        url: String,
    },
    /// A product card (商品卡片), by the shop's SKU; kefu fills `card` from the catalog when
    /// the message is sent (what the sender gives there is ignored).
    Product {
        sku: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card: Option<ProductCard>,
    },
    /// An order card (订单卡片), by order number; `card` filled like a product's.
    Order {
        order_no: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card: Option<OrderCard>,
    },
    /// The bot's reply: the same object `POST /widget/{shop}/ask` returns.
    Bot {
        #[schema(value_type = Object)]
        reply: serde_json::Value,
    },
}

/// A product as a card shows it, as it was when the card was sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductCard {
    pub title: String,
    pub price_fen: i64,
    /// As shown, e.g. ¥89.00.
    pub price: String,
    pub stock: i64,
}

/// An order as a card shows it, as it was when the card was sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderCard {
    pub state: crate::catalog::OrderState,
    /// The first item's title, e.g. 婴儿纯棉连体衣 (and N more).
    pub title: String,
    pub items: usize,
    pub total_fen: i64,
    pub total: String,
    pub created_at: DateTime<Utc>,
}

pub const MAX_TEXT_CHARS: usize = 2000;

impl Content {
    /// Checks what a person sends (the bot's replies are kefu's own).
    pub fn check(&self) -> Result<(), ValidationError> {
        match self {
            Content::Text { text } => {
                if text.trim().is_empty() {
                    return Err(ValidationError::new("text", "must not be empty"));
                }
                if text.chars().count() > MAX_TEXT_CHARS {
                    return Err(ValidationError::new(
                        "text",
                        format!("is longer than {MAX_TEXT_CHARS} characters"),
                    ));
                }
            }
            Content::Image { url } => {
                let lower = url.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://"))
                    || url.len() > 2000
                    || url.contains(char::is_whitespace)
                {
                    return Err(ValidationError::new(
                        "url",
                        "must be an http(s) address of at most 2000 characters",
                    ));
                }
            }
            Content::Product { sku, .. } => check_code("sku", sku)?,
            Content::Order { order_no, .. } => check_code("order_no", order_no)?,
            Content::Bot { .. } => return Err(ValidationError::new("kind", "only the bot sends bot replies")),
        }
        Ok(())
    }
}

fn check_code(field: &str, s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() || s.chars().count() > 64 {
        return Err(ValidationError::new(field, "must be 1 to 64 characters"));
    }
    Ok(())
}

/// Everything that happens in a conversation, numbered by `seq` from 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Message {
        content: Content,
        /// What the compliance guard (SPEC §2.9) found in an agent's text when it was sent
        /// anyway (the shop warns rather than blocks). For the agents: buyers never see it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        compliance: Vec<crate::compliance::Finding>,
    },
    /// Handed over to the agents; waiting in the queue.
    Queued {
        reason: HandoffReason,
    },
    Assigned {
        agent_id: AccountId,
        agent_name: String,
    },
    /// 转接: from one agent to another, with the whole history.
    Transferred {
        from: AccountId,
        to: AccountId,
        to_name: String,
        note: String,
    },
    Closed {
        reason: CloseReason,
    },
    Reopened,
}

impl EventBody {
    /// A message with nothing found in it.
    pub fn message(content: Content) -> EventBody {
        EventBody::Message {
            content,
            compliance: Vec::new(),
        }
    }
}

/// One stored event of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender: Sender,
    /// The id the sending client gave the message, which makes a retry harmless.
    pub client_id: Option<String>,
    #[serde(flatten)]
    pub body: EventBody,
    pub at: DateTime<Utc>,
}

impl EventBody {
    /// What chat records search finds this event by (SPEC §5.5): the text of a buyer's, an
    /// agent's or the bot's text message, or the text of the bot's reply. `None` for
    /// everything else — kefu's own messages (greeting, busy and away replies, reminders),
    /// state changes, images and cards.
    pub fn searchable_text(&self, sender: &Sender) -> Option<&str> {
        let EventBody::Message { content, .. } = self else {
            return None;
        };
        match (sender, content) {
            (Sender::System, _) => None,
            (_, Content::Text { text }) => Some(text),
            (Sender::Bot, Content::Bot { reply }) => reply["text"].as_str(),
            _ => None,
        }
    }
}

/// A client's message id: 1–64 characters of letters, digits, `-` and `_` (a UUID fits).
pub fn check_client_id(id: &str) -> Result<(), ValidationError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ValidationError::new(
            "client_id",
            "must be 1 to 64 letters, digits, - or _ (a UUID will do)",
        ));
    }
    Ok(())
}

/// An anonymous visitor id is the buyer's only credential for their chat, so it must not be
/// guessable: 16–64 letters, digits, `-` or `_` (the widget makes a random UUID).
pub fn check_visitor_id(id: &str) -> Result<(), ValidationError> {
    if id.len() < 16 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ValidationError::new(
            "visitor",
            "must be 16 to 64 letters, digits, - or _ (the widget makes a random one)",
        ));
    }
    Ok(())
}

/// Counted events for the statistics (SPEC §5.1), recorded as chats happen so that figures can
/// be computed later without touching the chat code. Messages are not among them: the
/// conversation's events already hold each one with its sender and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatKind {
    /// A chat reached the agents' queue (接待量 counts from here).
    Received,
    Assigned,
    /// The agent's first reply after assignment; `value_ms` is the time since assignment.
    FirstResponse,
    /// An agent's reply to a waiting buyer; `value_ms` is how long the buyer waited.
    ReplyWait,
    Transferred,
    Closed,
    /// A span the agent spent in one presence state ended; `value_ms` is its length and
    /// `data` the state.
    PresenceSpan,
    /// An agent sent a message the compliance guard warned about (SPEC §2.9); `data` lists
    /// the findings' kinds, comma-separated.
    ComplianceWarning,
}

impl StatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatKind::Received => "received",
            StatKind::Assigned => "assigned",
            StatKind::FirstResponse => "first_response",
            StatKind::ReplyWait => "reply_wait",
            StatKind::Transferred => "transferred",
            StatKind::Closed => "closed",
            StatKind::PresenceSpan => "presence_span",
            StatKind::ComplianceWarning => "compliance_warning",
        }
    }
}

/// One counted event (SPEC §5.1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct StatEvent {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub conversation_id: Option<ConversationId>,
    pub account_id: Option<AccountId>,
    pub value_ms: Option<i64>,
    pub data: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> Conversation {
        Conversation::new(ShopId::new(), "v".repeat(16), "买家".into(), "web".into(), Utc::now())
    }

    #[test]
    fn the_lifecycle_and_what_it_refuses() {
        let now = Utc::now();
        let a = AccountId::new();
        let b = AccountId::new();
        let mut c = conv();
        let assign = Transition::Assign {
            agent: a,
            agent_name: "小美".into(),
        };
        assert!(c.apply(&assign, now).unwrap_err().contains("only a waiting chat"));
        assert_eq!(
            c.apply(
                &Transition::Handoff {
                    reason: HandoffReason::Asked,
                    group: None
                },
                now
            )
            .unwrap(),
            EventBody::Queued {
                reason: HandoffReason::Asked
            }
        );
        assert_eq!(c.state, ConversationState::Queued);
        assert!(
            c.apply(
                &Transition::Handoff {
                    reason: HandoffReason::Asked,
                    group: None
                },
                now
            )
            .is_err()
        );
        c.apply(&assign, now).unwrap();
        assert_eq!((c.state, c.agent_id), (ConversationState::Assigned, Some(a)));
        assert!(c.apply(&assign, now).is_err(), "never two agents for one chat");
        let to_self = Transition::Transfer {
            to: a,
            to_name: "小美".into(),
            note: String::new(),
        };
        assert!(c.apply(&to_self, now).is_err());
        let to_b = Transition::Transfer {
            to: b,
            to_name: "小丽".into(),
            note: "退货".into(),
        };
        assert!(
            matches!(c.apply(&to_b, now).unwrap(), EventBody::Transferred { from, to, .. } if from == a && to == b)
        );
        c.apply(
            &Transition::Close {
                reason: CloseReason::Agent,
            },
            now,
        )
        .unwrap();
        assert!(
            c.apply(
                &Transition::Close {
                    reason: CloseReason::Idle
                },
                now
            )
            .is_err()
        );
        assert!(c.apply(&to_b, now).is_err());
        assert_eq!(c.apply(&Transition::Reopen, now).unwrap(), EventBody::Reopened);
        assert_eq!((c.state, c.agent_id), (ConversationState::Bot, None));
        assert!(c.apply(&Transition::Reopen, now).is_err());

        // The bot's intent gives a group where the entry point gave none, never over it.
        let after = SkillGroup::parse("售后").unwrap();
        let pre = SkillGroup::parse("售前").unwrap();
        let mut c = conv();
        let handoff = Transition::Handoff {
            reason: HandoffReason::Asked,
            group: Some(after.clone()),
        };
        c.apply(&handoff, now).unwrap();
        assert_eq!(c.skill_group, Some(after.clone()));
        let mut d = conv();
        d.skill_group = Some(pre.clone());
        d.apply(&handoff, now).unwrap();
        assert_eq!(d.skill_group, Some(pre));
    }

    #[test]
    fn contents_are_checked() {
        assert!(Content::Text { text: "你好".into() }.check().is_ok());
        assert!(Content::Text { text: "  ".into() }.check().is_err());
        assert!(
            Content::Text {
                text: "好".repeat(MAX_TEXT_CHARS + 1)
            }
            .check()
            .is_err()
        );
        assert!(
            Content::Image {
                url: "https://img.example.cn/a.jpg".into()
            }
            .check()
            .is_ok()
        );
        assert!(
            Content::Image {
                url: "javascript:alert(1)".into()
            }
            .check()
            .is_err()
        );
        assert!(
            Content::Product {
                sku: "".into(),
                card: None
            }
            .check()
            .is_err()
        );
        assert!(
            Content::Bot {
                reply: serde_json::json!({})
            }
            .check()
            .is_err()
        );
        let wire: Content = serde_json::from_str(r#"{"kind":"order","order_no":"2026112300001"}"#).unwrap();
        assert_eq!(
            wire,
            Content::Order {
                order_no: "2026112300001".into(),
                card: None
            }
        );
        assert!(serde_json::from_str::<Content>(r#"{"kind":"text","text":"x","extra":1}"#).is_err());
    }

    #[test]
    fn only_what_people_and_the_bot_wrote_is_searchable() {
        let text = |t: &str| EventBody::Message {
            content: Content::Text { text: t.into() },
            compliance: Vec::new(),
        };
        let agent = Sender::Agent(AccountId::new());
        assert_eq!(text("顺丰").searchable_text(&Sender::Buyer), Some("顺丰"));
        assert_eq!(text("好的").searchable_text(&agent), Some("好的"));
        assert_eq!(text("欢迎光临").searchable_text(&Sender::System), None);
        let bot = EventBody::Message {
            content: Content::Bot {
                reply: serde_json::json!({"kind": "answer", "text": "满99包邮"}),
            },
            compliance: Vec::new(),
        };
        assert_eq!(bot.searchable_text(&Sender::Bot), Some("满99包邮"));
        let image = EventBody::Message {
            content: Content::Image {
                url: "https://example.com/a.png".into(),
            },
            compliance: Vec::new(),
        };
        assert_eq!(image.searchable_text(&Sender::Buyer), None);
        assert_eq!(EventBody::Reopened.searchable_text(&Sender::System), None);
    }

    #[test]
    fn ids_from_clients_are_checked() {
        assert!(check_client_id("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b").is_ok());
        assert!(check_client_id("").is_err());
        assert!(check_client_id("a b").is_err());
        assert!(check_visitor_id("short").is_err());
        assert!(check_visitor_id("v-0193a1b27c3d7e4f").is_ok());
    }
}
