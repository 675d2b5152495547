//! Real-time chat over WebSocket (SPEC §2.6) and what the workbench reads over HTTP: the
//! agent's conversations, a conversation's history, teammates' loads for 转接, presence.
//! The frames are defined in `chat::protocol` and explained in docs/chat-protocol.md.

use crate::AppState;
use crate::auth::Caller;
use crate::chat::protocol::{ClientFrame, ConversationSummary, ServerFrame};
use crate::chat::socket::{Peer, run};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kefu_core::ValidationError;
use kefu_core::account::{Role, SkillGroup};
use kefu_core::chat::{Event, check_visitor_id};
use kefu_core::ids::ConversationId;
use kefu_core::routing::{AgentStatus, Presence};
use serde::Deserialize;
use std::net::SocketAddr;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Frames may be up to this big on the wire; the protocol's own limit (16 KiB) answers with
/// an error frame, anything beyond this closes the connection.
const MAX_WIRE_BYTES: usize = 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(buyer_socket))
        .routes(routes!(agent_socket))
        .routes(routes!(conversations))
        .routes(routes!(history))
        .routes(routes!(agents))
        .routes(routes!(presence))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BuyerSocketParams {
    /// The widget's random visitor id (16–64 letters, digits, - or _), kept in the buyer's
    /// browser: it is what makes the conversation theirs. Give this or `token`.
    visitor: Option<String>,
    /// A buyer token the shop's servers signed with the shop's widget secret
    /// (`v1.<payload>.<signature>`, see docs/chat-protocol.md): the chat then knows the buyer.
    token: Option<String>,
    /// The last sequence number the client has; everything after it is sent first.
    #[serde(default)]
    after: i64,
    /// The buyer's nick, when the shop's page knows it.
    nick: Option<String>,
    /// Where the widget runs: `web` (default) or `h5`.
    channel: Option<String>,
    /// The skill group the entry point stands for (e.g. `售后` on the after-sales page): a
    /// new chat goes to that group's agents (or to agents without a group).
    group: Option<String>,
    /// The SKU of the product page the widget runs on: the bot prefers that product's FAQ.
    sku: Option<String>,
}

/// The buyer's chat socket (the widget). Frames: see `ClientFrame` and `ServerFrame`; the
/// first frame is `welcome`, followed by every event after `after`.
#[utoipa::path(get, path = "/widget/{shop}/chat", tag = "chat",
    params(("shop" = String, Path, description = "the shop's slug"), BuyerSocketParams),
    responses((status = 101, description = "WebSocket; frames as in ClientFrame / ServerFrame", body = ServerFrame),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "too many chat connections from this address", body = ErrorBody)))]
async fn buyer_socket(
    State(state): State<AppState>,
    ConnectInfo(peer_addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(p): Query<BuyerSocketParams>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let slot = socket_slot(&state, &headers, peer_addr)?;
    let shop = crate::api::widget::shop_of(&state, &slug).await?;
    let (visitor, nick) = buyer_identity(
        &state,
        shop.id,
        p.visitor.as_deref(),
        p.token.as_deref(),
        p.nick.clone(),
    )
    .await?;
    let channel = match p.channel.as_deref() {
        None | Some("web") => "web",
        Some("h5") => "h5",
        Some(_) => return Err(ValidationError::new("channel", "must be web or h5").into()),
    };
    if p.after < 0 {
        return Err(ValidationError::new("after", "must not be negative").into());
    }
    let group = p.group.as_deref().map(SkillGroup::parse).transpose()?;
    let c = crate::chat::buyer_conversation(&state, shop.id, &visitor, nick.as_deref(), channel, group).await?;
    let product = p
        .sku
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(64).collect());
    let peer = Peer::Buyer {
        shop: shop.id,
        conversation: c.id,
        product,
    };
    Ok(sized(ws).on_upgrade(move |socket| async move {
        run(state, socket, peer, p.after).await;
        drop(slot);
    }))
}

/// Who the widget's buyer is: an anonymous visitor by their random id, or a buyer the shop
/// signed a token for (then their nick, unless the token has none). Returns the visitor key
/// their chats are kept under and the nick.
pub(crate) async fn buyer_identity(
    state: &AppState,
    shop: kefu_core::ids::ShopId,
    visitor: Option<&str>,
    token: Option<&str>,
    nick: Option<String>,
) -> ApiResult<(String, Option<String>)> {
    match (visitor, token) {
        (Some(v), None) => {
            check_visitor_id(v)?;
            Ok((v.to_string(), nick))
        }
        (None, Some(token)) => {
            let secret = state.store.widget_secret(shop).await?.ok_or_else(|| {
                ApiError::Unauthorized("this shop signs no buyer tokens; connect with a visitor id".into())
            })?;
            let claims = kefu_core::buyer_token::verify(token, secret.as_bytes(), kefu_store::now().timestamp())
                .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
            // A namespace of their own: no visitor id can name a signed buyer's chat.
            let nick = Some(claims.nick).filter(|n| !n.trim().is_empty()).or(nick);
            Ok((format!("buyer:{}", claims.buyer), nick))
        }
        _ => Err(ValidationError::new("visitor", "give either a visitor id or a buyer token").into()),
    }
}

/// One more chat socket from the caller's address, within `max_sockets_per_address`.
fn socket_slot(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> ApiResult<crate::limits::SocketSlot> {
    let ip = crate::api::auth::client_ip(state, headers, peer);
    state.widget_limits.socket(ip, state.config.max_sockets_per_address)
}

/// The agent's chat socket (the workbench), with the login's cookie or bearer token. The
/// first frame is `agent_welcome` with the agent's open chats; `sync` replays one.
#[utoipa::path(get, path = "/chat/socket", tag = "chat",
    responses((status = 101, description = "WebSocket; frames as in ClientFrame / ServerFrame", body = ClientFrame),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn agent_socket(
    State(state): State<AppState>,
    ConnectInfo(peer_addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    caller: Caller,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let slot = socket_slot(&state, &headers, peer_addr)?;
    let peer = Peer::Agent(Box::new(caller.account));
    Ok(sized(ws).on_upgrade(move |socket| async move {
        run(state, socket, peer, 0).await;
        drop(slot);
    }))
}

/// Small buffers: most of a shop's connections are buyers idling in a widget, and the
/// library's defaults (128 KiB each way) would make every one of them cost ~150 KiB. Chat
/// frames are small; a bigger one is read in several chunks.
fn sized(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_WIRE_BYTES)
        .max_frame_size(MAX_WIRE_BYTES)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WIRE_BYTES * 4)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversationParams {
    /// `mine` (default): the caller's open chats; `queue`: the chats waiting (supervisors
    /// and managers).
    view: Option<String>,
}

/// The caller's open chats, longest waiting first — or, for supervisors, the queue.
#[utoipa::path(get, path = "/chat/conversations", tag = "chat", params(ConversationParams),
    responses((status = 200, body = Vec<ConversationSummary>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn conversations(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ConversationParams>,
) -> ApiResult<Json<Vec<ConversationSummary>>> {
    let list = match p.view.as_deref() {
        None | Some("mine") => {
            let mut mine = state
                .store
                .agent_conversations(caller.shop(), caller.account.id)
                .await?;
            mine.sort_by_key(|c| (c.buyer_waiting_since.is_none(), c.buyer_waiting_since, c.assigned_at));
            mine
        }
        Some("queue") => {
            if caller.account.role == Role::Agent {
                return Err(ApiError::Forbidden("the queue is for supervisors and managers".into()));
            }
            state.store.queued_conversations(caller.shop()).await?
        }
        Some(_) => return Err(ValidationError::new("view", "must be mine or queue").into()),
    };
    Ok(Json(list.iter().map(Into::into).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Events after this sequence number (default 0: from the start).
    after: Option<i64>,
    /// At most this many (default 200, up to 1000).
    limit: Option<i64>,
}

/// A conversation's events in order: its agent's, or any for supervisors and managers.
#[utoipa::path(get, path = "/chat/conversations/{id}/events", tag = "chat",
    params(("id" = String, Path, format = Uuid), HistoryParams),
    responses((status = 200, body = Vec<Event>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<uuid::Uuid>,
    Query(p): Query<HistoryParams>,
) -> ApiResult<Json<Vec<Event>>> {
    let limit = p.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ValidationError::new("limit", "must be between 1 and 1000").into());
    }
    let id = ConversationId(id);
    let c = crate::chat::conversation(&state, caller.shop(), id).await?;
    if !crate::chat::may_act(&caller.account, &c) {
        return Err(ApiError::Forbidden("this chat is not with you".into()));
    }
    Ok(Json(
        state
            .store
            .events_after(caller.shop(), id, p.after.unwrap_or(0).max(0), limit)
            .await?,
    ))
}

/// Everyone on the team with presence and load: the transfer dialog and the monitor.
#[utoipa::path(get, path = "/chat/agents", tag = "chat",
    responses((status = 200, body = Vec<AgentStatus>)), security(("bearer" = []), ("cookie" = [])))]
async fn agents(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<AgentStatus>>> {
    let all = state.store.agent_loads(caller.shop()).await?;
    Ok(Json(all.into_iter().filter(|a| !a.disabled).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPresence {
    status: Presence,
}

/// 在线 / 挂起 / 离线 (SPEC §2.3): suspended keeps current chats and gets no new ones.
#[utoipa::path(put, path = "/chat/presence", tag = "chat", request_body = SetPresence,
    responses((status = 204), (status = 422, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn presence(State(state): State<AppState>, caller: Caller, Json(p): Json<SetPresence>) -> ApiResult<StatusCode> {
    crate::chat::set_presence(&state, &caller.account, p.status).await?;
    Ok(StatusCode::NO_CONTENT)
}
