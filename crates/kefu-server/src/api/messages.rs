//! The leave-a-message queue (留言, SPEC §1.3): messages buyers left when nobody could take
//! the chat, oldest first, for any member of staff to work through.

use crate::AppState;
use crate::api::catalog::ListOf;
use crate::api::page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use kefu_core::ValidationError;
use kefu_core::bot::{LeaveMessage, MessageStatus};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages))
        .routes(routes!(update_message))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessageParams {
    /// `open` or `done`; all by default.
    status: Option<MessageStatus>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The queue, oldest first.
#[utoipa::path(get, path = "/messages", tag = "messages", params(MessageParams),
    responses((status = 200, body = ListOf<LeaveMessage>)), security(("bearer" = []), ("cookie" = [])))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<MessageParams>,
) -> ApiResult<Json<ListOf<LeaveMessage>>> {
    let page = page(p.limit, p.offset)?;
    Ok(Json(
        state.store.leave_messages(caller.shop(), p.status, page).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageChange {
    status: Option<MessageStatus>,
    /// What was done, e.g. 已电话联系,补发了赠品.
    note: Option<String>,
}

/// Mark a message done (or open again) and note what was done; the caller is recorded.
#[utoipa::path(patch, path = "/messages/{id}", tag = "messages", params(("id" = Uuid, Path)), request_body = MessageChange,
    responses((status = 200, body = LeaveMessage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(change): Json<MessageChange>,
) -> ApiResult<Json<LeaveMessage>> {
    let mut m = state
        .store
        .leave_message(caller.shop(), id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    if let Some(note) = change.note {
        let note = note.trim().to_string();
        if note.chars().count() > 1000 {
            return Err(ValidationError::new("note", "is longer than 1000 characters").into());
        }
        m.note = note;
    }
    if let Some(status) = change.status {
        m.status = status;
    }
    match m.status {
        MessageStatus::Done => {
            m.handled_by = Some(caller.account.id);
            m.handled_at = Some(kefu_store::now());
        }
        MessageStatus::Open => {
            m.handled_by = None;
            m.handled_at = None;
        }
    }
    state.store.update_leave_message(&m).await?;
    Ok(Json(m))
}
