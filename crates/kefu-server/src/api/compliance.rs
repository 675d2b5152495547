//! The compliance guard (违规提醒, SPEC §2.9) at the edge: the check the workbench calls while
//! the agent types, and the context every check of an agent's text is made in — the shop's
//! rules and, in a chat, what is the buyer's own (their record, their orders' addresses, what
//! they wrote). The rules themselves are `kefu_core::compliance`; the chat applies them to
//! every agent's text message (`chat::agent_message`), quick phrases when they are saved.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use axum::extract::State;
use kefu_core::chat::{Content, EventBody, MAX_TEXT_CHARS, Sender};
use kefu_core::compliance::{BuyerContact, Finding, Mode, Policy, check, needs_buyer};
use kefu_core::ids::{ConversationId, ShopId};
use kefu_core::settings::ShopSettings;
use kefu_store::{OrderQuery, Page};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check_text))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The chat the text is for: the buyer's own phone and address are then no finding.
    #[schema(value_type = Option<String>, format = Uuid)]
    conversation_id: Option<uuid::Uuid>,
    /// At most 2000 characters, as a message.
    text: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckResult {
    /// What sending it would do: `warn` (sent, and counted) or `block` (refused).
    mode: Mode,
    /// In order of position; empty when the text is fine.
    findings: Vec<Finding>,
}

/// What the compliance guard would say about a text before it is sent (the workbench asks
/// while the agent types). Anyone on the staff; in a chat, only who may act in it.
#[utoipa::path(post, path = "/compliance/check", tag = "chat", request_body = CheckRequest,
    responses((status = 200, body = CheckResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn check_text(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CheckRequest>,
) -> ApiResult<Json<CheckResult>> {
    if req.text.chars().count() > MAX_TEXT_CHARS {
        return Err(
            kefu_core::ValidationError::new("text", format!("is longer than {MAX_TEXT_CHARS} characters")).into(),
        );
    }
    let shop = caller.shop();
    let conversation = match req.conversation_id {
        Some(id) => {
            let c = crate::chat::conversation(&state, shop, ConversationId(id)).await?;
            if !crate::chat::may_act(&caller.account, &c) {
                return Err(ApiError::Forbidden("this chat is not with you".into()));
            }
            Some(c.id)
        }
        None => None,
    };
    let settings = state.store.settings(shop).await?;
    let findings = findings(&state, &settings, shop, conversation, &req.text).await?;
    Ok(Json(CheckResult {
        mode: settings.compliance.mode,
        findings,
    }))
}

/// What the guard finds in a text an agent writes, in a chat or (`None`) to nobody in
/// particular. The buyer's data is read only when a phone number or address was found.
pub(crate) async fn findings(
    state: &AppState,
    settings: &ShopSettings,
    shop: ShopId,
    conversation: Option<ConversationId>,
    text: &str,
) -> ApiResult<Vec<Finding>> {
    let policy = Policy::from_settings(settings);
    let found = check(text, &policy, &BuyerContact::default());
    let Some(conversation) = conversation.filter(|_| needs_buyer(&found)) else {
        return Ok(found);
    };
    let contact = buyer_contact(state, shop, conversation).await?;
    Ok(check(text, &policy, &contact))
}

/// Events of a chat read for what the buyer wrote: the latest this many.
const BUYER_TEXT_EVENTS: i64 = 1000;

/// What is this chat's buyer's own: a signed buyer's record and their orders' addresses, and
/// whatever numbers and addresses they wrote in the chat.
async fn buyer_contact(state: &AppState, shop: ShopId, conversation: ConversationId) -> ApiResult<BuyerContact> {
    let mut contact = BuyerContact::default();
    let c = crate::chat::conversation(state, shop, conversation).await?;
    if let Some(nick) = c.visitor.strip_prefix("buyer:")
        && let Some(customer) = state.store.customer_by_nick(shop, nick).await?
    {
        contact.add_phone(&customer.phone);
        contact.add_address(&customer.address);
        let q = OrderQuery {
            customer_id: Some(customer.id),
            page: Page { limit: 50, offset: 0 },
            ..Default::default()
        };
        for o in state.store.orders(shop, &q).await?.items {
            contact.add_address(&o.address);
        }
    }
    let from = (c.last_seq - BUYER_TEXT_EVENTS).max(0);
    for e in state.store.events_after(shop, c.id, from, BUYER_TEXT_EVENTS).await? {
        if let (
            Sender::Buyer,
            EventBody::Message {
                content: Content::Text { text },
                ..
            },
        ) = (e.sender, &e.body)
        {
            contact.learn_from_buyer(text);
        }
    }
    Ok(contact)
}

/// The refusal when the shop blocks: every finding's explanation, and the findings.
pub(crate) fn refusal(findings: Vec<Finding>) -> ApiError {
    let why: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    ApiError::Refused {
        message: format!("违规提醒，未发送：{}", why.join("；")),
        findings,
    }
}

/// A text checked as the shop's mode says: refused with its findings when the shop blocks,
/// otherwise the findings (empty when it is fine).
pub(crate) async fn guard(
    state: &AppState,
    settings: &ShopSettings,
    shop: ShopId,
    conversation: Option<ConversationId>,
    text: &str,
) -> ApiResult<Vec<Finding>> {
    let found = findings(state, settings, shop, conversation, text).await?;
    if !found.is_empty() && settings.compliance.mode == Mode::Block {
        return Err(refusal(found));
    }
    Ok(found)
}
