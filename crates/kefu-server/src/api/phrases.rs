//! Quick phrases (快捷短语, SPEC §2.7): the team's, which every member of staff reads and
//! owners and admins write, and each account's own, which only that account sees — to anyone
//! else a personal phrase does not exist (404), whatever their role. Groups, places in a group,
//! shortcuts, variables, import and export; the rules are `kefu_core::phrases`.

use crate::AppState;
use crate::api::kb::{Format, ImportMode, attachment, file_error, upload_format};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::phrase_template::{self, PhraseLine};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use kefu_core::ValidationError;
use kefu_core::compliance::Finding;
use kefu_core::ids::{AccountId, PhraseId};
use kefu_core::phrases::{
    Direction, PhraseImportSummary, PhraseRow, PhraseScope, PhraseVars, QuickPhrase, Variable, clean_group,
    clean_shortcut, clean_text, fill, unfilled, variables,
};
use kefu_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_phrases, create_phrase))
        .routes(routes!(get_phrase, update_phrase, delete_phrase))
        .routes(routes!(move_phrase))
        .routes(routes!(fill_phrase))
        .routes(routes!(expand_shortcut))
        .routes(routes!(export_phrases))
        .routes(routes!(import_phrases))
        .routes(routes!(template))
}

/// A quick phrase as the caller sees it.
#[derive(Serialize, ToSchema)]
pub struct Phrase {
    id: PhraseId,
    /// `team` (团队短语) or `personal` (个人短语, the caller's own).
    scope: PhraseScope,
    /// 分组, e.g. 售前, 售后, 物流.
    group: String,
    /// Typed in the message box to expand the phrase, e.g. `sc`.
    shortcut: Option<String>,
    text: String,
    /// 0-based place in its group.
    position: i64,
    /// The variables the text names, filled when the phrase is used.
    variables: Vec<Variable>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// When just saved: what the compliance guard found in the text (SPEC §2.9; the shop
    /// warns, so it was saved anyway). Left out when nothing was found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    compliance: Vec<Finding>,
}

impl From<QuickPhrase> for Phrase {
    fn from(p: QuickPhrase) -> Phrase {
        Phrase {
            id: p.id,
            scope: p.scope(),
            variables: variables(&p.text),
            group: p.group,
            shortcut: p.shortcut,
            text: p.text,
            position: p.position,
            created_at: p.created_at,
            updated_at: p.updated_at,
            compliance: Vec::new(),
        }
    }
}

/// A phrase's text as the compliance guard sees it when it is saved: refused (422 `refused`)
/// when the shop blocks, its findings otherwise. A phrase is for any buyer, so every phone
/// number or address in it is someone else's.
async fn guarded(state: &AppState, caller: &Caller, text: &str) -> ApiResult<Vec<Finding>> {
    let settings = state.store.settings(caller.shop()).await?;
    crate::api::compliance::guard(state, &settings, caller.shop(), None, text).await
}

const NOT_FOUND: &str = "quick phrase";

/// The phrase if the caller may see it: the team's, or the caller's own.
async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<QuickPhrase> {
    state
        .store
        .quick_phrase(caller.shop(), PhraseId(id))
        .await?
        .filter(|p| p.visible_to(caller.account.id))
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

/// Whose phrases of a scope the caller may write: the team's as an owner or admin, their own always.
fn writable(caller: &Caller, scope: PhraseScope) -> ApiResult<Option<AccountId>> {
    match scope {
        PhraseScope::Team => caller.require_manager().map(|_| None),
        PhraseScope::Personal => Ok(Some(caller.account.id)),
    }
}

/// The phrase if the caller may change it (404 for someone else's own, 403 for the team's
/// unless an owner or admin).
async fn editable(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<QuickPhrase> {
    let p = visible(state, caller, id).await?;
    writable(caller, p.scope())?;
    Ok(p)
}

/// A store error in words about the phrase at hand.
fn phrase_error(e: StoreError, p: &QuickPhrase) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound(NOT_FOUND),
        StoreError::Conflict(_) => ApiError::Conflict(format!(
            "the shortcut “{}” is already used by {}",
            p.shortcut.as_deref().unwrap_or_default(),
            match p.scope() {
                PhraseScope::Team => "another team phrase",
                PhraseScope::Personal => "another of your own phrases",
            }
        )),
        e => e.into(),
    }
}

fn position(p: Option<i64>) -> ApiResult<Option<i64>> {
    match p {
        Some(p) if p < 0 => {
            Err(ValidationError::new("position", "must not be negative (0 is the top of the group)").into())
        }
        p => Ok(p),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `team` or `personal`; both by default.
    #[param(inline)]
    scope: Option<PhraseScope>,
    /// One group only.
    group: Option<String>,
    /// Part of the text, or the start of a shortcut.
    q: Option<String>,
}

/// The team's phrases and the caller's own: team first, then by group and place.
#[utoipa::path(get, path = "/phrases", tag = "quick phrases", params(ListParams), responses((status = 200, body = Vec<Phrase>)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_phrases(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Vec<Phrase>>> {
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let q_lower = q.map(str::to_ascii_lowercase);
    let phrases = state
        .store
        .quick_phrases(caller.shop(), caller.account.id)
        .await?
        .into_iter()
        .filter(|x| p.scope.is_none_or(|s| x.scope() == s))
        .filter(|x| p.group.as_deref().is_none_or(|g| x.group == g.trim()))
        .filter(|x| match (q, &q_lower) {
            (Some(q), Some(lower)) => {
                x.text.contains(q) || x.shortcut.as_deref().is_some_and(|s| s.starts_with(lower.as_str()))
            }
            _ => true,
        })
        .map(Phrase::from)
        .collect();
    Ok(Json(phrases))
}

/// A new phrase.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhraseInput {
    /// `team` (owners and admins) or `personal` (the caller's own).
    scope: PhraseScope,
    group: String,
    /// ASCII letters and digits, e.g. `sc`; kept in lower case.
    shortcut: Option<String>,
    /// At most 500 characters; may name {买家昵称} {订单号} {客服昵称} {店铺名}; `{{` is a brace.
    text: String,
    /// 0-based place in the group, the phrases from there moving down; last by default
    /// (and when beyond the end).
    position: Option<i64>,
}

/// Add a phrase, at the end of its group or at a place in it (插入).
#[utoipa::path(post, path = "/phrases", tag = "quick phrases", request_body = PhraseInput,
    responses((status = 201, body = Phrase), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_phrase(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<PhraseInput>,
) -> ApiResult<(StatusCode, Json<Phrase>)> {
    let owner = writable(&caller, input.scope)?;
    let now = kefu_store::now();
    let mut phrase = QuickPhrase {
        id: PhraseId::new(),
        shop_id: caller.shop(),
        owner,
        group: input.group,
        shortcut: input.shortcut,
        text: input.text,
        position: position(input.position)?.unwrap_or(i64::MAX),
        created_at: now,
        updated_at: now,
    };
    phrase.normalize_and_check()?;
    let compliance = guarded(&state, &caller, &phrase.text).await?;
    let stored = state
        .store
        .create_quick_phrase(&phrase)
        .await
        .map_err(|e| phrase_error(e, &phrase))?;
    Ok((
        StatusCode::CREATED,
        Json(Phrase {
            compliance,
            ..stored.into()
        }),
    ))
}

/// One phrase.
#[utoipa::path(get, path = "/phrases/{id}", tag = "quick phrases", params(("id" = Uuid, Path)),
    responses((status = 200, body = Phrase), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_phrase(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Phrase>> {
    Ok(Json(visible(&state, &caller, id).await?.into()))
}

/// A phrase's new content. A phrase keeps its scope.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhraseChange {
    group: String,
    /// Left out or blank: no shortcut.
    shortcut: Option<String>,
    text: String,
    /// 0-based place in the group. Left out: the phrase keeps its place, or goes last in a
    /// group it moves to.
    position: Option<i64>,
}

/// Replace a phrase's group, shortcut, text and (optionally) place.
#[utoipa::path(put, path = "/phrases/{id}", tag = "quick phrases", params(("id" = Uuid, Path)), request_body = PhraseChange,
    responses((status = 200, body = Phrase), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_phrase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<PhraseChange>,
) -> ApiResult<Json<Phrase>> {
    let old = editable(&state, &caller, id).await?;
    let mut phrase = QuickPhrase {
        group: input.group,
        shortcut: input.shortcut,
        text: input.text,
        updated_at: kefu_store::now(),
        ..old.clone()
    };
    phrase.normalize_and_check()?;
    let compliance = guarded(&state, &caller, &phrase.text).await?;
    phrase.position = match position(input.position)? {
        Some(p) => p,
        None if phrase.group == old.group => old.position,
        None => i64::MAX,
    };
    let stored = state
        .store
        .update_quick_phrase(&phrase)
        .await
        .map_err(|e| phrase_error(e, &phrase))?;
    Ok(Json(Phrase {
        compliance,
        ..stored.into()
    }))
}

/// Remove a phrase; the ones below it move up.
#[utoipa::path(delete, path = "/phrases/{id}", tag = "quick phrases", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn delete_phrase(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let p = editable(&state, &caller, id).await?;
    state
        .store
        .delete_quick_phrase(caller.shop(), p.id)
        .await
        .map_err(|e| phrase_error(e, &p))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where to move a phrase in its group: one `direction`, or to a `position`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    /// `up` (上移) or `down` (下移): swap with the neighbour. The top phrase moving up, or the
    /// bottom one down, stays where it is.
    direction: Option<Direction>,
    /// 0-based place in the group (beyond the end: last).
    position: Option<i64>,
}

/// Move a phrase up or down in its group, or to a place.
#[utoipa::path(post, path = "/phrases/{id}/move", tag = "quick phrases", params(("id" = Uuid, Path)), request_body = MoveInput,
    responses((status = 200, body = Phrase), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn move_phrase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<MoveInput>,
) -> ApiResult<Json<Phrase>> {
    let p = editable(&state, &caller, id).await?;
    let moved = match (input.direction, position(input.position)?) {
        (Some(d), None) => state.store.move_quick_phrase(caller.shop(), p.id, d).await,
        (None, Some(at)) => {
            state
                .store
                .update_quick_phrase(&QuickPhrase {
                    position: at,
                    ..p.clone()
                })
                .await
        }
        _ => {
            return Err(ValidationError::new("direction", "give either a direction (up or down) or a position").into());
        }
    };
    Ok(Json(moved.map_err(|e| phrase_error(e, &p))?.into()))
}

/// The values to fill a phrase with; the shop's name is always filled.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FillInput {
    /// The chat the phrase goes into: its buyer's nick fills {买家昵称} unless given.
    #[schema(value_type = Option<String>, format = Uuid)]
    conversation_id: Option<kefu_core::ids::ConversationId>,
    /// {买家昵称}
    buyer_nick: Option<String>,
    /// {订单号}
    order_no: Option<String>,
    /// {客服昵称}; the caller's display name by default.
    agent_nick: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Filled {
    /// The text to put in the message box. A variable left without a value stays as written,
    /// e.g. `{订单号}`, for the agent to fill in before sending.
    text: String,
    /// The variables left so.
    missing: Vec<Variable>,
}

/// A phrase's text with its variables filled.
#[utoipa::path(post, path = "/phrases/{id}/fill", tag = "quick phrases", params(("id" = Uuid, Path)), request_body = FillInput,
    responses((status = 200, body = Filled), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn fill_phrase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<FillInput>,
) -> ApiResult<Json<Filled>> {
    let p = visible(&state, &caller, id).await?;
    let shop = state
        .store
        .shop(caller.shop())
        .await?
        .ok_or(ApiError::NotFound("shop"))?;
    let from_chat = match input.conversation_id {
        Some(id) => {
            let c = crate::chat::conversation(&state, caller.shop(), id).await?;
            if !crate::chat::may_act(&caller.account, &c) {
                return Err(ApiError::Forbidden("this chat is not with you".into()));
            }
            Some(c.buyer_nick)
        }
        None => None,
    };
    let vars = PhraseVars {
        buyer_nick: input.buyer_nick.filter(|n| !n.trim().is_empty()).or(from_chat),
        order_no: input.order_no,
        agent_nick: input
            .agent_nick
            .filter(|n| !n.trim().is_empty())
            .or(Some(caller.account.display_name.clone())),
        shop_name: Some(shop.name),
    };
    Ok(Json(Filled {
        text: fill(&p.text, &vars),
        missing: unfilled(&p.text, &vars),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExpandParams {
    /// As typed, in any case.
    shortcut: String,
}

/// The phrase a shortcut typed in the message box expands to: the caller's own if they have
/// one with that shortcut, else the team's.
#[utoipa::path(get, path = "/phrases/expand", tag = "quick phrases", params(ExpandParams),
    responses((status = 200, body = Phrase), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn expand_shortcut(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ExpandParams>,
) -> ApiResult<Json<Phrase>> {
    let shortcut = clean_shortcut(&p.shortcut)?.ok_or_else(|| ValidationError::new("shortcut", "must not be empty"))?;
    Ok(Json(
        state
            .store
            .quick_phrase_by_shortcut(caller.shop(), caller.account.id, &shortcut)
            .await?
            .ok_or(ApiError::NotFound(NOT_FOUND))?
            .into(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    format: Option<Format>,
    /// `team` (default) or `personal` (the caller's own).
    #[param(inline)]
    scope: Option<PhraseScope>,
}

/// A scope's phrases as a file in the import template, `group,shortcut,text` (round-trips).
#[utoipa::path(get, path = "/phrases/export", tag = "quick phrases", params(ExportParams),
    responses((status = 200, description = "the file", content_type = "text/csv")), security(("bearer" = []), ("cookie" = [])))]
async fn export_phrases(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    let scope = p.scope.unwrap_or(PhraseScope::Team);
    let lines: Vec<PhraseLine> = state
        .store
        .quick_phrases(caller.shop(), caller.account.id)
        .await?
        .into_iter()
        .filter(|x| x.scope() == scope)
        .enumerate()
        .map(|(i, x)| PhraseLine {
            line: i + 2,
            group: x.group,
            shortcut: x.shortcut.unwrap_or_default(),
            text: x.text,
        })
        .collect();
    let date = kefu_store::now().format("%Y%m%d");
    attachment(
        p.format.unwrap_or_default(),
        &format!("phrases-{}-{date}", scope.as_str()),
        || phrase_template::to_csv(&lines),
        || phrase_template::to_xlsx(&lines),
    )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// `csv` or `xlsx`; by default taken from the Content-Type.
    #[param(inline)]
    format: Option<Format>,
    /// `merge` (default): add phrases and update those the file names by shortcut, or by
    /// group and text; nothing is removed. `replace`: the scope becomes exactly the file.
    #[param(inline)]
    mode: Option<ImportMode>,
    /// `team` (default; owners and admins) or `personal` (the caller's own).
    #[param(inline)]
    scope: Option<PhraseScope>,
}

/// Checks every line as a phrase is checked; the first problem refuses the file.
pub(crate) fn check_lines(lines: Vec<PhraseLine>) -> ApiResult<Vec<PhraseRow>> {
    let mut shortcuts: HashMap<String, usize> = HashMap::new();
    let mut texts: HashMap<(String, String), usize> = HashMap::new();
    let mut rows = Vec::with_capacity(lines.len());
    for l in lines {
        let at = |e: ValidationError| file_error(format!("line {}: the {} {}", l.line, e.field, e.message));
        let group = clean_group(&l.group).map_err(at)?;
        let shortcut = clean_shortcut(&l.shortcut).map_err(at)?;
        let text = clean_text(&l.text).map_err(at)?;
        if let Some(sc) = &shortcut
            && let Some(first) = shortcuts.insert(sc.clone(), l.line)
        {
            return Err(file_error(format!(
                "line {}: the shortcut “{sc}” is already on line {first}",
                l.line
            )));
        }
        if let Some(first) = texts.insert((group.clone(), text.clone()), l.line) {
            return Err(file_error(format!(
                "line {}: the same phrase is already on line {first} of group “{group}”",
                l.line
            )));
        }
        rows.push(PhraseRow { group, shortcut, text });
    }
    Ok(rows)
}

/// Import a file in the template into the team's phrases or the caller's own, all or nothing:
/// a bad file is refused with the line and the reason, and nothing changes.
#[utoipa::path(post, path = "/phrases/import", tag = "quick phrases", params(ImportParams),
    request_body(content = Vec<u8>, content_type = "text/csv", description = "the file: CSV (UTF-8) or .xlsx"),
    responses((status = 200, body = PhraseImportSummary), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn import_phrases(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ImportParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<PhraseImportSummary>> {
    let owner = writable(&caller, p.scope.unwrap_or(PhraseScope::Team))?;
    let body = body.map_err(|e| ApiError::PayloadTooLarge(format!("the file could not be read: {e}")))?;
    let lines = match upload_format(p.format, &headers, &body) {
        Format::Csv => phrase_template::parse_csv(&body),
        Format::Xlsx => phrase_template::parse_xlsx(&body),
    }
    .map_err(|e| file_error(e.to_string()))?;
    // A shop that blocks takes no file with a phrase its agents could not send.
    let settings = state.store.settings(caller.shop()).await?;
    if settings.compliance.mode == kefu_core::compliance::Mode::Block {
        let policy = kefu_core::compliance::Policy::from_settings(&settings);
        for l in &lines {
            let found = kefu_core::compliance::check(&l.text, &policy, &Default::default());
            if !found.is_empty() {
                let why: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
                return Err(ApiError::Refused {
                    message: format!("line {}: 违规提醒：{}", l.line, why.join("；")),
                    findings: found,
                });
            }
        }
    }
    let rows = check_lines(lines)?;
    let replace = p.mode == Some(ImportMode::Replace);
    Ok(Json(
        state
            .store
            .import_quick_phrases(caller.shop(), owner, &rows, replace, kefu_store::now())
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TemplateParams {
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    format: Option<Format>,
}

/// An import file with example phrases.
#[utoipa::path(get, path = "/phrases/template", tag = "quick phrases", params(TemplateParams),
    responses((status = 200, description = "the file", content_type = "text/csv")), security(("bearer" = []), ("cookie" = [])))]
async fn template(_caller: Caller, Query(p): Query<TemplateParams>) -> ApiResult<Response> {
    let example = |line: usize, group: &str, shortcut: &str, text: &str| PhraseLine {
        line,
        group: group.into(),
        shortcut: shortcut.into(),
        text: text.into(),
    };
    let lines = [
        example(
            2,
            "售前",
            "sc",
            "亲,我们家都是实物拍摄的哦,和图片是一样的,基本没有色差~",
        ),
        example(
            3,
            "物流",
            "fh",
            "{买家昵称}您好,您的订单{订单号}已经发货啦,请留意物流信息哦~",
        ),
        example(
            4,
            "售后",
            "",
            "亲,给您带来不便非常抱歉,我是客服{客服昵称},马上为您处理~",
        ),
    ];
    attachment(
        p.format.unwrap_or_default(),
        "phrases-template",
        || phrase_template::to_csv(&lines),
        || phrase_template::to_xlsx(&lines),
    )
}
