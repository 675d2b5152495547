//! Chat records (聊天记录, SPEC §5.5): full-text search over what buyers, agents and the bot
//! wrote, by words, buyer, agent and time, newest first, with the hits marked.
//!
//! Owners, admins and supervisors search the whole shop (they read every chat's history, see
//! `chat::may_act`); an agent searches the chats they ever had (assigned or transferred to
//! them). A found message's whole conversation is `GET /chat/conversations/{id}/events`.
//! Words are folded and segmented by `kefu_bot::search_terms` (so 退貨 finds 退货); the index
//! is the database's own (`kefu_store::RecordStore`).

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Query};
use axum::extract::State;
use chrono::{DateTime, Utc};
use kefu_bot::search_terms::{Segment, highlight, query_terms};
use kefu_core::ValidationError;
use kefu_core::account::Role;
use kefu_core::chat::Sender;
use kefu_core::ids::{AccountId, ConversationId};
use kefu_store::MessageSearch;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// Longer queries are refused (422).
pub const MAX_QUERY_CHARS: usize = 100;
const MAX_NICK_CHARS: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_records))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordParams {
    /// Words to find (up to 100 characters), e.g. `顺丰 退货`: every word must occur.
    /// Traditional characters and full-width forms find simplified ones (退貨 → 退货). May be
    /// left out when `buyer` is given: then everything the chats with that buyer hold.
    q: Option<String>,
    /// The buyer's nick (买家昵称), exactly.
    buyer: Option<String>,
    /// Only chats this agent had (account id). Agents always search only their own chats.
    agent: Option<Uuid>,
    /// Sent at or after this instant (RFC 3339, e.g. `2026-11-01T00:00:00+08:00`).
    from: Option<DateTime<Utc>>,
    /// Sent before this instant.
    to: Option<DateTime<Utc>>,
    /// 1–100, default 20.
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// One message found.
#[derive(Serialize, ToSchema)]
pub struct RecordHit {
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender: Sender,
    pub buyer_nick: String,
    /// The chat's (last) agent.
    pub agent_id: Option<AccountId>,
    pub agent_name: Option<String>,
    pub at: DateTime<Utc>,
    /// As written.
    pub text: String,
    /// `text` in pieces, the words searched for marked `hit`; joined, they are `text`. Plain
    /// text, never HTML.
    pub segments: Vec<Segment>,
}

/// A page of messages, newest first.
#[derive(Serialize, ToSchema)]
pub struct RecordPage {
    pub items: Vec<RecordHit>,
    /// Pass it as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// Search chat records (SPEC §5.5): messages of buyers, agents and the bot with every word of
/// `q`, of a buyer, of an agent's chats, in a time range; newest first, hits marked.
#[utoipa::path(get, path = "/records/search", tag = "records", params(RecordParams),
    responses((status = 200, body = RecordPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn search_records(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<RecordParams>,
) -> ApiResult<Json<RecordPage>> {
    let q = crate::api::non_empty(p.q).unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ValidationError::new("q", format!("is longer than {MAX_QUERY_CHARS} characters")).into());
    }
    let terms = query_terms(&q);
    if !q.is_empty() && terms.is_empty() {
        return Err(ValidationError::new("q", "has no words to search for (letters or digits)").into());
    }
    let buyer = crate::api::non_empty(p.buyer);
    if buyer.as_ref().is_some_and(|b| b.chars().count() > MAX_NICK_CHARS) {
        return Err(ValidationError::new("buyer", format!("is longer than {MAX_NICK_CHARS} characters")).into());
    }
    if terms.is_empty() && buyer.is_none() {
        return Err(ValidationError::new("q", "give words to search for, or a buyer").into());
    }
    if let (Some(from), Some(to)) = (p.from, p.to)
        && from >= to
    {
        return Err(ValidationError::new("to", "must be after from").into());
    }
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ValidationError::new("limit", "must be between 1 and 100").into());
    }
    let cursor = p
        .cursor
        .map(|c| c.parse::<i64>().ok().filter(|c| *c > 0))
        .map(|c| c.ok_or_else(|| ValidationError::new("cursor", "is not one a search gave")))
        .transpose()?;
    let agent = match caller.account.role {
        Role::Owner | Role::Admin | Role::Supervisor => p.agent.map(AccountId),
        Role::Agent => {
            if p.agent.is_some_and(|a| a != caller.account.id.0) {
                return Err(ApiError::Forbidden("agents search the chats they had".into()));
            }
            Some(caller.account.id)
        }
    };
    let found = state
        .store
        .search_messages(
            caller.shop(),
            &MessageSearch {
                terms: terms.clone(),
                buyer,
                agent,
                from: p.from,
                to: p.to,
                limit,
                cursor,
            },
        )
        .await?;
    let items = found
        .items
        .into_iter()
        .map(|m| RecordHit {
            segments: highlight(&m.text, &terms),
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender: m.sender,
            buyer_nick: m.buyer_nick,
            agent_id: m.agent_id,
            agent_name: m.agent_name,
            at: m.at,
            text: m.text,
        })
        .collect();
    Ok(Json(RecordPage {
        items,
        next_cursor: found.next_cursor.map(|c| c.to_string()),
    }))
}
