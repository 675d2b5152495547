//! The workbench's right pane for one chat (SPEC §2.1): who the buyer is to the shop and what
//! can be done about their orders, in one call, so the agent never leaves the chat to look.

use crate::AppState;
use crate::api::customers::{CustomerProfile, profile};
use crate::api::orders::{OrderView, order_view};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use axum::extract::State;
use kefu_core::chat::Conversation;
use kefu_core::ids::ConversationId;
use kefu_store::{OrderQuery, Page};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(chat_panel))
}

/// How many of the buyer's orders the panel shows, newest first.
const PANEL_ORDERS: i64 = 10;

#[derive(Serialize, ToSchema)]
pub struct ChatPanel {
    conversation: Conversation,
    /// The shop's customer behind a signed buyer (profile, groups, tags, notes); `null` for
    /// an anonymous visitor, whose orders cannot be known.
    customer: Option<CustomerProfile>,
    /// Their latest orders, each with the actions its state allows, its record and parcel.
    orders: Vec<OrderView>,
}

/// The buyer's profile, groups, notes and orders for a chat: its agent's, or any for
/// supervisors and managers.
#[utoipa::path(get, path = "/chat/conversations/{id}/panel", tag = "chat",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = ChatPanel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn chat_panel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Json<ChatPanel>> {
    let shop = caller.shop();
    let c = crate::chat::conversation(&state, shop, ConversationId(id)).await?;
    if !crate::chat::may_act(&caller.account, &c) {
        return Err(ApiError::Forbidden("this chat is not with you".into()));
    }
    let customer = match c.visitor.strip_prefix("buyer:") {
        Some(nick) => state.store.customer_by_nick(shop, nick).await?,
        None => None,
    };
    let (customer, orders) = match customer {
        Some(cu) => {
            let q = OrderQuery {
                customer_id: Some(cu.id),
                page: Page {
                    limit: PANEL_ORDERS,
                    offset: 0,
                },
                ..Default::default()
            };
            let settings = state.store.settings(shop).await?;
            let mut orders = Vec::new();
            for o in state.store.order_details(shop, &q).await?.items {
                orders.push(order_view(&state, &caller, &settings, o).await?);
            }
            (Some(profile(&state, &caller, cu.id.0).await?), orders)
        }
        None => (None, Vec::new()),
    };
    Ok(Json(ChatPanel {
        conversation: c,
        customer,
        orders,
    }))
}
