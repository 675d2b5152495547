//! The knowledge base (知识库, SPEC §1.1): categories, entries with similar phrasings,
//! validity and an enabled flag; import and export as .csv or .xlsx in one template.
//! Every member of staff may read it (agents search it in the workbench); owners and admins
//! change it. Every change reaches the bot at its next question (see `bots`).

use crate::AppState;
use crate::api::widget::product_by_sku;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::kb_template::{self, TemplateRow};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kefu_core::ValidationError;
use kefu_core::catalog::{KbCategory, KbEntry};
use kefu_core::ids::{CategoryId, EntryId, ShopId};
use kefu_core::kb::{KbImportSummary, check_answer, clean_category, clean_question};
use kefu_store::KbImportRow;
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories, create_category))
        .routes(routes!(update_category, delete_category))
        .routes(routes!(list_entries, create_entry))
        .routes(routes!(get_entry, update_entry, delete_entry))
        .routes(routes!(export_kb))
        .routes(routes!(import_kb))
        .routes(routes!(template))
}

/// The knowledge base's categories, in order.
#[utoipa::path(get, path = "/kb/categories", tag = "knowledge base", responses((status = 200, body = Vec<KbCategory>)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_categories(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<KbCategory>>> {
    Ok(Json(state.store.kb_categories(caller.shop()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    name: Option<String>,
    /// Where it is listed; new categories go last.
    position: Option<i64>,
}

/// Add a category.
#[utoipa::path(post, path = "/kb/categories", tag = "knowledge base", request_body = CategoryInput,
    responses((status = 403, body = ErrorBody), (status = 201, body = KbCategory), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_category(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<CategoryInput>,
) -> ApiResult<(StatusCode, Json<KbCategory>)> {
    caller.require_manager()?;
    let name = clean_category(input.name.as_deref().unwrap_or(""))?;
    let position = match input.position {
        Some(p) => p,
        None => state
            .store
            .kb_categories(caller.shop())
            .await?
            .iter()
            .map(|c| c.position + 1)
            .max()
            .unwrap_or(0),
    };
    let category = KbCategory {
        id: CategoryId::new(),
        shop_id: caller.shop(),
        name,
        position,
    };
    state.store.create_kb_category(&category).await?;
    Ok((StatusCode::CREATED, Json(category)))
}

/// Rename or move a category.
#[utoipa::path(patch, path = "/kb/categories/{id}", tag = "knowledge base", params(("id" = Uuid, Path)), request_body = CategoryInput,
    responses((status = 403, body = ErrorBody), (status = 200, body = KbCategory), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_category(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<CategoryInput>,
) -> ApiResult<Json<KbCategory>> {
    caller.require_manager()?;
    let mut category = state
        .store
        .kb_categories(caller.shop())
        .await?
        .into_iter()
        .find(|c| c.id.0 == id)
        .ok_or(ApiError::NotFound("category"))?;
    if let Some(name) = input.name {
        category.name = clean_category(&name)?;
    }
    if let Some(p) = input.position {
        category.position = p;
    }
    state.store.update_kb_category(&category).await?;
    Ok(Json(category))
}

/// Remove an empty category (move or delete its entries first).
#[utoipa::path(delete, path = "/kb/categories/{id}", tag = "knowledge base", params(("id" = Uuid, Path)),
    responses((status = 403, body = ErrorBody), (status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn delete_category(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    state
        .store
        .delete_kb_category(caller.shop(), CategoryId(id))
        .await
        .map_err(|e| not_found(e, "category"))?;
    Ok(StatusCode::NO_CONTENT)
}

fn not_found(e: kefu_store::StoreError, what: &'static str) -> ApiError {
    match e {
        kefu_store::StoreError::NotFound => ApiError::NotFound(what),
        e => e.into(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntryParams {
    category_id: Option<Uuid>,
    /// Part of the standard question, a similar phrasing or the answer.
    q: Option<String>,
}

/// Entries, optionally of one category or containing some text, with hit counts and feedback.
#[utoipa::path(get, path = "/kb/entries", tag = "knowledge base", params(EntryParams), responses((status = 200, body = Vec<KbEntry>)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_entries(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<EntryParams>,
) -> ApiResult<Json<Vec<KbEntry>>> {
    let mut entries = state
        .store
        .kb_entries(caller.shop(), p.category_id.map(CategoryId))
        .await?;
    if let Some(q) = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        entries.retain(|e| e.question.contains(q) || e.answer.contains(q) || e.similar.iter().any(|s| s.contains(q)));
    }
    Ok(Json(entries))
}

/// One entry.
#[utoipa::path(get, path = "/kb/entries/{id}", tag = "knowledge base", params(("id" = Uuid, Path)),
    responses((status = 200, body = KbEntry), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_entry(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<KbEntry>> {
    Ok(Json(
        state
            .store
            .kb_entry(caller.shop(), EntryId(id))
            .await?
            .ok_or(ApiError::NotFound("knowledge-base entry"))?,
    ))
}

/// An entry as staff write it. In the answer, links are written as they are, an image as
/// `[图片:https://…]` and a product card as `[商品:SKU]`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    category_id: Uuid,
    /// The standard question (标准问题).
    question: String,
    /// Similar phrasings (相似问法).
    #[serde(default)]
    similar: Vec<String>,
    answer: String,
    #[serde(default = "yes")]
    enabled: bool,
    /// The answer is given from this instant on (e.g. a promotion's start).
    valid_from: Option<DateTime<Utc>>,
    /// …and never after this one.
    valid_until: Option<DateTime<Utc>>,
}

fn yes() -> bool {
    true
}

/// Checks an entry's texts and that the products its answer shows exist.
pub(crate) async fn checked(state: &AppState, shop: ShopId, mut e: KbEntry) -> ApiResult<KbEntry> {
    for sku in e.normalize_and_check()? {
        if product_by_sku(state, shop, &sku).await?.is_none() {
            return Err(ValidationError::new("answer", format!("the shop has no product with SKU “{sku}”")).into());
        }
    }
    Ok(e)
}

/// Add an entry.
#[utoipa::path(post, path = "/kb/entries", tag = "knowledge base", request_body = EntryInput,
    responses((status = 201, body = KbEntry), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_entry(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<EntryInput>,
) -> ApiResult<(StatusCode, Json<KbEntry>)> {
    caller.require_manager()?;
    let now = kefu_store::now();
    let entry = KbEntry {
        id: EntryId::new(),
        shop_id: caller.shop(),
        category_id: CategoryId(input.category_id),
        question: input.question,
        similar: input.similar,
        answer: input.answer,
        enabled: input.enabled,
        valid_from: input.valid_from,
        valid_until: input.valid_until,
        created_at: now,
        updated_at: now,
        stats: Default::default(),
    };
    let entry = checked(&state, caller.shop(), entry).await?;
    state
        .store
        .create_kb_entry(&entry)
        .await
        .map_err(|e| not_found(e, "category"))?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Replace an entry's category, texts, flag and validity.
#[utoipa::path(put, path = "/kb/entries/{id}", tag = "knowledge base", params(("id" = Uuid, Path)), request_body = EntryInput,
    responses((status = 200, body = KbEntry), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<EntryInput>,
) -> ApiResult<Json<KbEntry>> {
    caller.require_manager()?;
    let old = state
        .store
        .kb_entry(caller.shop(), EntryId(id))
        .await?
        .ok_or(ApiError::NotFound("knowledge-base entry"))?;
    let entry = KbEntry {
        category_id: CategoryId(input.category_id),
        question: input.question,
        similar: input.similar,
        answer: input.answer,
        enabled: input.enabled,
        valid_from: input.valid_from,
        valid_until: input.valid_until,
        updated_at: kefu_store::now(),
        ..old
    };
    let entry = checked(&state, caller.shop(), entry).await?;
    state
        .store
        .update_kb_entry(&entry)
        .await
        .map_err(|e| not_found(e, "category"))?;
    Ok(Json(entry))
}

/// Remove an entry.
#[utoipa::path(delete, path = "/kb/entries/{id}", tag = "knowledge base", params(("id" = Uuid, Path)),
    responses((status = 403, body = ErrorBody), (status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn delete_entry(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    state
        .store
        .delete_kb_entry(caller.shop(), EntryId(id))
        .await
        .map_err(|e| not_found(e, "knowledge-base entry"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Csv,
    Xlsx,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FileParams {
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    format: Option<Format>,
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn file_response(format: Format, name: &str, rows: &[TemplateRow]) -> ApiResult<Response> {
    attachment(
        format,
        name,
        || kb_template::to_csv(rows),
        || kb_template::to_xlsx(rows),
    )
}

/// A file to download, written as CSV or .xlsx.
pub(crate) fn attachment(
    format: Format,
    name: &str,
    csv: impl FnOnce() -> Vec<u8>,
    xlsx: impl FnOnce() -> Result<Vec<u8>, rust_xlsxwriter::XlsxError>,
) -> ApiResult<Response> {
    let (bytes, content_type, ext) = match format {
        // A BOM, so that Excel opens the UTF-8 file as UTF-8.
        Format::Csv => {
            let mut b = "\u{feff}".as_bytes().to_vec();
            b.extend(csv());
            (b, "text/csv; charset=utf-8", "csv")
        }
        Format::Xlsx => (
            xlsx().map_err(|e| ApiError::Internal(anyhow::anyhow!("writing xlsx: {e}")))?,
            XLSX_TYPE,
            "xlsx",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The whole knowledge base as a file in the import template (round-trips).
#[utoipa::path(get, path = "/kb/export", tag = "knowledge base", params(FileParams),
    responses((status = 200, description = "the file", content_type = "text/csv")), security(("bearer" = []), ("cookie" = [])))]
async fn export_kb(State(state): State<AppState>, caller: Caller, Query(p): Query<FileParams>) -> ApiResult<Response> {
    let rows = export_rows(&state, caller.shop()).await?;
    let date = kefu_store::now().format("%Y%m%d");
    file_response(p.format.unwrap_or_default(), &format!("knowledge-{date}"), &rows)
}

/// The shop's knowledge base as template rows.
async fn export_rows(state: &AppState, shop: ShopId) -> ApiResult<Vec<TemplateRow>> {
    let categories: HashMap<CategoryId, String> = state
        .store
        .kb_categories(shop)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    Ok(state
        .store
        .kb_entries(shop, None)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, e)| TemplateRow {
            line: i + 2,
            category: categories.get(&e.category_id).cloned().unwrap_or_default(),
            question: e.question,
            similar: e.similar,
            answer: e.answer,
        })
        .collect())
}

/// The knowledge base as a file, for the command line (`kefu kb export`).
pub async fn export_file(state: &AppState, shop: ShopId, format: Format) -> ApiResult<Vec<u8>> {
    let rows = export_rows(state, shop).await?;
    Ok(match format {
        Format::Csv => kb_template::to_csv(&rows),
        Format::Xlsx => {
            kb_template::to_xlsx(&rows).map_err(|e| ApiError::Internal(anyhow::anyhow!("writing xlsx: {e}")))?
        }
    })
}

/// Imports a file, all or nothing (the HTTP handler and `kefu kb import` share it).
pub async fn import_file(
    state: &AppState,
    shop: ShopId,
    format: Format,
    bytes: &[u8],
    replace: bool,
) -> ApiResult<KbImportSummary> {
    let rows = match format {
        Format::Csv => kb_template::parse_csv(bytes),
        Format::Xlsx => kb_template::parse_xlsx(bytes),
    }
    .map_err(|e| file_error(e.to_string()))?;
    let rows = check_rows(state, shop, rows).await?;
    Ok(state.store.import_kb(shop, &rows, replace, kefu_store::now()).await?)
}

/// An empty template with one example row.
#[utoipa::path(get, path = "/kb/template", tag = "knowledge base", params(FileParams),
    responses((status = 200, description = "the file", content_type = "text/csv")), security(("bearer" = []), ("cookie" = [])))]
async fn template(_caller: Caller, Query(p): Query<FileParams>) -> ApiResult<Response> {
    let example = TemplateRow {
        line: 2,
        category: "快递物流".into(),
        question: "满多少包邮?".into(),
        similar: vec!["包邮吗".into(), "运费怎么算".into(), "几件包邮".into()],
        answer: "亲,全场满99元包邮哦(偏远地区除外)~ 活动详情:https://example.com/free-shipping".into(),
    };
    file_response(p.format.unwrap_or_default(), "knowledge-template", &[example])
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// `csv` or `xlsx`; by default taken from the Content-Type.
    #[param(inline)]
    format: Option<Format>,
    /// `merge` (default): add and update entries by standard question. `replace`: the
    /// knowledge base becomes exactly the file.
    #[param(inline)]
    mode: Option<ImportMode>,
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    Merge,
    Replace,
}

/// Checks every row as an entry would be checked; the first problem refuses the file.
async fn check_rows(state: &AppState, shop: ShopId, rows: Vec<TemplateRow>) -> ApiResult<Vec<KbImportRow>> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    let mut known_skus: HashMap<String, bool> = HashMap::new();
    for r in rows {
        let at = |e: ValidationError| file_error(format!("line {}: {} {}", r.line, e.field, e.message));
        let category = clean_category(&r.category).map_err(at)?;
        let question = clean_question("question", &r.question).map_err(at)?;
        if let Some(first) = seen.insert(question.clone(), r.line) {
            return Err(file_error(format!(
                "line {}: the question “{question}” is already on line {first}",
                r.line
            )));
        }
        let mut similar = Vec::new();
        for s in &r.similar {
            let s = clean_question("similar", s).map_err(at)?;
            if s != question && !similar.contains(&s) {
                similar.push(s);
            }
        }
        for sku in check_answer(&r.answer).map_err(at)? {
            let exists = match known_skus.get(&sku) {
                Some(b) => *b,
                None => {
                    let b = product_by_sku(state, shop, &sku).await?.is_some();
                    known_skus.insert(sku.clone(), b);
                    b
                }
            };
            if !exists {
                return Err(file_error(format!(
                    "line {}: the answer shows [商品:{sku}], but the shop has no product with that SKU",
                    r.line
                )));
            }
        }
        out.push(KbImportRow {
            category,
            question,
            similar,
            answer: r.answer.trim().to_string(),
        });
    }
    Ok(out)
}

/// A refused file: the `file` field, with the line and reason in the message.
pub(crate) fn file_error(message: String) -> ApiError {
    ApiError::Invalid(ValidationError::new("file", message))
}

/// Import a file in the template, all or nothing: a bad file is refused with the line and
/// the reason, and nothing changes.
#[utoipa::path(post, path = "/kb/import", tag = "knowledge base", params(ImportParams),
    request_body(content = Vec<u8>, content_type = "text/csv", description = "the file: CSV (UTF-8) or .xlsx"),
    responses((status = 403, body = ErrorBody), (status = 200, body = KbImportSummary), (status = 422, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn import_kb(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ImportParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<KbImportSummary>> {
    caller.require_manager()?;
    let body = body.map_err(|e| ApiError::PayloadTooLarge(format!("the file could not be read: {e}")))?;
    let format = upload_format(p.format, &headers, &body);
    let replace = p.mode == Some(ImportMode::Replace);
    Ok(Json(import_file(&state, caller.shop(), format, &body, replace).await?))
}

/// An uploaded file's format: as asked, else .xlsx by its Content-Type or its zip signature.
pub(crate) fn upload_format(asked: Option<Format>, headers: &HeaderMap, body: &[u8]) -> Format {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    asked.unwrap_or(
        if content_type.starts_with(XLSX_TYPE) || body.starts_with(b"PK\x03\x04") {
            Format::Xlsx
        } else {
            Format::Csv
        },
    )
}
