//! Product knowledge (商品知识库, SPEC §2.10): every member of staff reads and searches it from
//! the workbench; owners and admins write it, by hand or by importing the template
//! (`product_template.rs`). The rules are `kefu_core::product_knowledge`. An agent sends a
//! related product as a card through the chat's own message path (`{"kind":"product"}`),
//! so a card is checked, stored and delivered like every other message.

use crate::AppState;
use crate::api::kb::{Format, attachment, file_error, upload_format};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::product_template::{self, Kind, TemplateRow};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use kefu_core::ValidationError;
use kefu_core::catalog::Product;
use kefu_core::ids::{ProductFaqId, ProductId, ShopId};
use kefu_core::product_knowledge::{
    self as pk, MAX_FAQ, MAX_RELATED, ProductFaq, ProductInfo, ProductKnowledge, RelatedProduct, SizeChart,
    check_related,
};
use kefu_store::{ProductImportSummary, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_products))
        .routes(routes!(get_knowledge, put_knowledge))
        .routes(routes!(create_faq))
        .routes(routes!(update_faq, delete_faq))
        .routes(routes!(put_related, delete_related))
        .routes(routes!(export_knowledge))
        .routes(routes!(import_knowledge))
        .routes(routes!(knowledge_template))
}

/// A related product as the panel offers it: a card to send, and what to say.
#[derive(Serialize, ToSchema)]
pub struct RelatedCard {
    pub product_id: ProductId,
    pub sku: String,
    pub title: String,
    pub price_fen: i64,
    /// As shown, e.g. ¥89.00.
    pub price: String,
    pub stock: i64,
    pub reason: String,
}

/// One product's knowledge as the workbench shows it.
#[derive(Serialize, ToSchema)]
pub struct KnowledgeView {
    pub product: Product,
    pub info: ProductInfo,
    pub faq: Vec<ProductFaq>,
    pub related: Vec<RelatedCard>,
    pub updated_at: Option<DateTime<Utc>>,
}

async fn view(state: &AppState, shop: ShopId, k: ProductKnowledge) -> ApiResult<KnowledgeView> {
    let mut related = Vec::with_capacity(k.related.len());
    for r in &k.related {
        if let Some(p) = state.store.product(shop, r.related_id).await? {
            related.push(RelatedCard {
                product_id: p.id,
                sku: p.sku,
                title: p.title,
                price_fen: p.price.0,
                price: p.price.to_string(),
                stock: p.stock,
                reason: r.reason.clone(),
            });
        }
    }
    Ok(KnowledgeView {
        product: k.product,
        info: k.info,
        faq: k.faq,
        related,
        updated_at: k.updated_at,
    })
}

async fn knowledge(state: &AppState, shop: ShopId, id: ProductId) -> ApiResult<ProductKnowledge> {
    state
        .store
        .product_knowledge(shop, id)
        .await?
        .ok_or(ApiError::NotFound("product"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words in Chinese (traditional characters find simplified ones), or a SKU.
    q: String,
    /// At most this many hits (default 20, at most 100).
    limit: Option<usize>,
}

/// A product a search found, best first.
#[derive(Serialize, ToSchema)]
pub struct ProductHit {
    pub product: Product,
    /// Where the words were found: title, sku, category, attributes, selling_points,
    /// size_chart, care, usage, comparisons, faq.
    pub matched: Vec<String>,
    pub score: u32,
}

/// How much a hit counts by where it is: a product named by its title first.
fn weight(field: &str) -> u32 {
    match field {
        "title" | "sku" => 8,
        "attributes" | "selling_points" | "category" => 4,
        _ => 1,
    }
}

/// Ranks products for a query: every word of it must occur somewhere in the product's
/// knowledge; the product scores the weight of the best place of each word. Words and
/// texts are folded alike (traditional → simplified, widths, case), so 純棉 finds 纯棉.
pub fn rank(items: Vec<ProductKnowledge>, query: &str, limit: usize) -> Vec<ProductHit> {
    let terms = kefu_bot::search_terms::query_terms(query);
    let folded_query = kefu_bot::text::normalize(query);
    if terms.is_empty() && folded_query.is_empty() {
        return Vec::new();
    }
    let mut hits: Vec<ProductHit> = items
        .into_iter()
        .filter_map(|k| {
            let fields: Vec<(&str, String)> = k
                .search_fields()
                .into_iter()
                .map(|(f, t)| (f, kefu_bot::text::normalize(&t)))
                .collect();
            let mut score = 0;
            let mut matched: Vec<String> = Vec::new();
            let sku = kefu_bot::text::normalize(&k.product.sku);
            if !folded_query.is_empty() && sku == folded_query {
                score += 100;
                matched.push("sku".into());
            }
            let terms: Vec<&str> = if terms.is_empty() {
                vec![folded_query.as_str()]
            } else {
                terms.iter().map(String::as_str).collect()
            };
            for term in terms {
                let mut best = 0;
                for (f, text) in &fields {
                    if text.contains(term) {
                        best = best.max(weight(f));
                        if !matched.iter().any(|m| m == f) {
                            matched.push((*f).to_string());
                        }
                    }
                }
                if best == 0 && score < 100 {
                    return None;
                }
                score += best;
            }
            Some(ProductHit {
                product: k.product,
                matched,
                score,
            })
        })
        .collect();
    hits.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.product.sku.cmp(&b.product.sku)));
    hits.truncate(limit);
    hits
}

/// Search products by their title, attributes, selling points, size chart, care and use,
/// comparisons and FAQ, in Chinese (SPEC §2.10).
#[utoipa::path(get, path = "/products/search", tag = "catalog", params(SearchParams),
    responses((status = 200, body = Vec<ProductHit>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn search_products(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<Vec<ProductHit>>> {
    let q = p.q.trim();
    if q.is_empty() || q.chars().count() > 100 {
        return Err(ValidationError::new("q", "give 1 to 100 characters").into());
    }
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ValidationError::new("limit", "must be between 1 and 100").into());
    }
    let items = state.store.all_product_knowledge(caller.shop()).await?;
    let q = q.to_string();
    let hits = tokio::task::spawn_blocking(move || rank(items, &q, limit))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("search failed: {e}")))?;
    Ok(Json(hits))
}

/// A product's knowledge: attributes, size chart, care, use, selling points, comparisons,
/// FAQ and related products with their reasons.
#[utoipa::path(get, path = "/products/{id}/knowledge", tag = "catalog", params(("id" = Uuid, Path)),
    responses((status = 200, body = KnowledgeView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_knowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<KnowledgeView>> {
    let k = knowledge(&state, caller.shop(), ProductId(id)).await?;
    Ok(Json(view(&state, caller.shop(), k).await?))
}

/// Replace a product's attributes, size chart, care, use, selling points and comparisons
/// (owners and admins). Its FAQ and related products have their own endpoints.
#[utoipa::path(put, path = "/products/{id}/knowledge", tag = "catalog", params(("id" = Uuid, Path)),
    request_body = ProductInfo,
    responses((status = 200, body = KnowledgeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn put_knowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(mut info): Json<ProductInfo>,
) -> ApiResult<Json<KnowledgeView>> {
    caller.require_manager()?;
    info.normalize_and_check()?;
    let id = ProductId(id);
    state
        .store
        .put_product_info(caller.shop(), id, &info, kefu_store::now())
        .await
        .map_err(|e| not_found(e, "product"))?;
    let k = knowledge(&state, caller.shop(), id).await?;
    Ok(Json(view(&state, caller.shop(), k).await?))
}

fn not_found(e: StoreError, what: &'static str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound(what),
        e => e.into(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaqInput {
    question: String,
    #[serde(default)]
    similar: Vec<String>,
    /// As in the knowledge base: links, `[图片:https://…]`, `[商品:SKU]`.
    answer: String,
}

/// Checks a question and that the products its answer shows are the shop's.
async fn checked_faq(state: &AppState, faq: &mut ProductFaq) -> ApiResult<()> {
    for sku in faq.normalize_and_check()? {
        if crate::api::widget::product_by_sku(state, faq.shop_id, &sku)
            .await?
            .is_none()
        {
            return Err(ValidationError::new("answer", format!("the shop has no product {sku}")).into());
        }
    }
    Ok(())
}

fn faq_conflict(e: StoreError, q: &str) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::Conflict(format!("the product already has the question “{q}”")),
        StoreError::NotFound => ApiError::NotFound("product"),
        e => e.into(),
    }
}

/// Add a question to a product's FAQ (owners and admins).
#[utoipa::path(post, path = "/products/{id}/faq", tag = "catalog", params(("id" = Uuid, Path)), request_body = FaqInput,
    responses((status = 201, body = ProductFaq), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_faq(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<FaqInput>,
) -> ApiResult<(StatusCode, Json<ProductFaq>)> {
    caller.require_manager()?;
    let k = knowledge(&state, caller.shop(), ProductId(id)).await?;
    if k.faq.len() >= MAX_FAQ {
        return Err(ValidationError::new("question", format!("at most {MAX_FAQ} questions per product")).into());
    }
    let now = kefu_store::now();
    let mut faq = ProductFaq {
        id: ProductFaqId::new(),
        shop_id: caller.shop(),
        product_id: k.product.id,
        question: input.question,
        similar: input.similar,
        answer: input.answer,
        created_at: now,
        updated_at: now,
    };
    checked_faq(&state, &mut faq).await?;
    state
        .store
        .create_product_faq(&faq)
        .await
        .map_err(|e| faq_conflict(e, &faq.question))?;
    Ok((StatusCode::CREATED, Json(faq)))
}

/// Change a product FAQ question (owners and admins).
#[utoipa::path(put, path = "/product-faq/{id}", tag = "catalog", params(("id" = Uuid, Path)), request_body = FaqInput,
    responses((status = 200, body = ProductFaq), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_faq(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<FaqInput>,
) -> ApiResult<Json<ProductFaq>> {
    caller.require_manager()?;
    let mut faq = state
        .store
        .product_faq(caller.shop(), ProductFaqId(id))
        .await?
        .ok_or(ApiError::NotFound("product FAQ question"))?;
    faq.question = input.question;
    faq.similar = input.similar;
    faq.answer = input.answer;
    faq.updated_at = kefu_store::now();
    checked_faq(&state, &mut faq).await?;
    state
        .store
        .update_product_faq(&faq)
        .await
        .map_err(|e| faq_conflict(e, &faq.question))?;
    Ok(Json(faq))
}

/// Remove a product FAQ question (owners and admins).
#[utoipa::path(delete, path = "/product-faq/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn delete_faq(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    state
        .store
        .delete_product_faq(caller.shop(), ProductFaqId(id))
        .await
        .map_err(|e| not_found(e, "product FAQ question"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelatedInput {
    /// What the agent says with the card, e.g. 6个月宝宝可以开始吃辅食.
    reason: String,
}

/// Relate another product to this one with a reason, or change the reason (owners and admins).
#[utoipa::path(put, path = "/products/{id}/related/{related}", tag = "catalog",
    params(("id" = Uuid, Path), ("related" = Uuid, Path, description = "the product to suggest")), request_body = RelatedInput,
    responses((status = 200, body = KnowledgeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn put_related(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, related)): Path<(Uuid, Uuid)>,
    Json(input): Json<RelatedInput>,
) -> ApiResult<Json<KnowledgeView>> {
    caller.require_manager()?;
    let (id, related) = (ProductId(id), ProductId(related));
    let reason = check_related(id, related, &input.reason)?;
    let k = knowledge(&state, caller.shop(), id).await?;
    if k.related.len() >= MAX_RELATED && !k.related.iter().any(|r| r.related_id == related) {
        return Err(ValidationError::new("related", format!("at most {MAX_RELATED} related products")).into());
    }
    let r = RelatedProduct {
        product_id: id,
        related_id: related,
        reason,
        created_at: kefu_store::now(),
    };
    state
        .store
        .put_related_product(caller.shop(), &r)
        .await
        .map_err(|e| not_found(e, "product"))?;
    let k = knowledge(&state, caller.shop(), id).await?;
    Ok(Json(view(&state, caller.shop(), k).await?))
}

/// Stop suggesting a product with this one (owners and admins).
#[utoipa::path(delete, path = "/products/{id}/related/{related}", tag = "catalog",
    params(("id" = Uuid, Path), ("related" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn delete_related(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, related)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    state
        .store
        .delete_related_product(caller.shop(), ProductId(id), ProductId(related))
        .await
        .map_err(|e| not_found(e, "related product"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FileParams {
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    format: Option<Format>,
}

fn file_response(format: Format, name: &str, rows: &[[String; 5]]) -> ApiResult<Response> {
    attachment(
        format,
        name,
        || product_template::to_csv(rows),
        || product_template::to_xlsx(rows),
    )
}

/// Every product's knowledge as a file in the import template (round-trips).
#[utoipa::path(get, path = "/product-knowledge/export", tag = "catalog", params(FileParams),
    responses((status = 200, description = "the file", content_type = "text/csv"), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn export_knowledge(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<FileParams>,
) -> ApiResult<Response> {
    let items = state.store.all_product_knowledge(caller.shop()).await?;
    let skus: HashMap<ProductId, String> = items.iter().map(|k| (k.product.id, k.product.sku.clone())).collect();
    let described: Vec<ProductKnowledge> = items
        .into_iter()
        .filter(|k| {
            k.updated_at.is_some() || !k.faq.is_empty() || !k.related.is_empty() || !k.info.attributes.is_empty()
        })
        .collect();
    let rows = product_template::to_rows(&described, |id| skus.get(&id).cloned());
    let date = kefu_store::now().format("%Y%m%d");
    file_response(
        p.format.unwrap_or_default(),
        &format!("product-knowledge-{date}"),
        &rows,
    )
}

/// An example file: one product's attributes, size chart, care, selling point, comparison,
/// FAQ and related product.
#[utoipa::path(get, path = "/product-knowledge/template", tag = "catalog", params(FileParams),
    responses((status = 200, description = "the file", content_type = "text/csv"), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn knowledge_template(_caller: Caller, Query(p): Query<FileParams>) -> ApiResult<Response> {
    let r = |kind: Kind, name: &str, value: &str, similar: &str| {
        [
            "BB-001".to_string(),
            kind.label().to_string(),
            name.to_string(),
            value.to_string(),
            similar.to_string(),
        ]
    };
    let rows = vec![
        r(Kind::Attribute, "材质", "A类纯棉", ""),
        r(Kind::Attribute, "适用年龄", "0-12个月", ""),
        r(Kind::SizeChart, "", "尺码|身高|体重|月龄", ""),
        r(Kind::SizeChart, "", "66|59-66cm|5-7kg|3-6个月", ""),
        r(Kind::SizeChart, "", "73|66-73cm|7-9kg|6-9个月", ""),
        r(Kind::Care, "", "30℃以下温水手洗，不可漂白，反面晾晒", ""),
        r(Kind::Usage, "", "四季可穿，夏季单穿，春秋内搭", ""),
        r(Kind::SellingPoint, "", "A类婴幼儿标准，无荧光剂", ""),
        r(
            Kind::Comparison,
            "××家同款（便宜10元）",
            "亲，我们用的是新疆长绒棉，A类婴幼儿标准并有检测报告，洗多次也不起球，给宝宝贴身穿更放心哦",
            "",
        ),
        r(
            Kind::Faq,
            "这款会缩水吗?",
            "亲，纯棉洗后会有1%左右的正常缩水，按平时尺码选就好~",
            "洗了会变小吗|缩水吗",
        ),
        r(Kind::Related, "BB-004", "6个月宝宝可以开始吃辅食", ""),
    ];
    file_response(p.format.unwrap_or_default(), "product-knowledge-template", &rows)
}

/// Turns a file's rows into the knowledge of each product it names, checking every row as it
/// comes so that a problem names its line; `products` maps the shop's SKUs.
pub fn knowledge_from_rows(
    shop: ShopId,
    rows: Vec<TemplateRow>,
    products: &HashMap<String, Product>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<ProductKnowledge>> {
    let mut order: Vec<String> = Vec::new();
    let mut by_sku: HashMap<String, (usize, ProductKnowledge)> = HashMap::new();
    let mut header_seen: HashSet<String> = HashSet::new();
    let mut attributes_seen: HashSet<String> = HashSet::new();
    for row in rows {
        let line = row.line;
        let at = |e: ValidationError| file_error(format!("line {line}: the {} {}", e.field, e.message));
        let product = products
            .get(&row.sku)
            .ok_or_else(|| file_error(format!("line {line}: the shop has no product {}", row.sku)))?;
        let (_, k) = by_sku.entry(row.sku.clone()).or_insert_with(|| {
            order.push(row.sku.clone());
            // Without 属性 rows the product keeps the catalog's attributes.
            let info = ProductInfo {
                attributes: product.attributes.clone(),
                ..Default::default()
            };
            (
                line,
                ProductKnowledge {
                    product: product.clone(),
                    info,
                    faq: Vec::new(),
                    related: Vec::new(),
                    updated_at: None,
                },
            )
        });
        match row.kind {
            Kind::Attribute => {
                if attributes_seen.insert(row.sku.clone()) {
                    k.info.attributes.clear();
                }
                if k.info.attributes.insert(row.name.clone(), row.value).is_some() {
                    return Err(file_error(format!(
                        "line {line}: the attribute {} is named twice",
                        row.name
                    )));
                }
            }
            Kind::SizeChart => {
                let cells = SizeChart::split_cells(&row.value);
                if header_seen.insert(row.sku.clone()) {
                    k.info.size_chart.columns = cells;
                } else {
                    if cells.len() != k.info.size_chart.columns.len() {
                        return Err(file_error(format!(
                            "line {line}: the size chart row has {} cells; its header has {}",
                            cells.len(),
                            k.info.size_chart.columns.len()
                        )));
                    }
                    k.info.size_chart.rows.push(cells);
                }
            }
            Kind::Care => k.info.care = join(&k.info.care, &row.value),
            Kind::Usage => k.info.usage = join(&k.info.usage, &row.value),
            Kind::SellingPoint => k.info.selling_points.push(row.value),
            Kind::Comparison => k.info.comparisons.push(pk::Comparison {
                competitor: row.name,
                answer: row.value,
            }),
            Kind::Faq => {
                let mut f = ProductFaq {
                    id: ProductFaqId::new(),
                    shop_id: shop,
                    product_id: product.id,
                    question: row.name,
                    similar: row.similar.split('|').map(str::to_string).collect(),
                    answer: row.value,
                    created_at: now,
                    updated_at: now,
                };
                for sku in f.normalize_and_check().map_err(at)? {
                    if !products.contains_key(&sku) {
                        return Err(file_error(format!(
                            "line {line}: the answer shows {sku}, which the shop does not have"
                        )));
                    }
                }
                if k.faq.iter().any(|q| q.question == f.question) {
                    return Err(file_error(format!(
                        "line {line}: the question “{}” is asked twice",
                        f.question
                    )));
                }
                k.faq.push(f);
            }
            Kind::Related => {
                let other = products
                    .get(&row.name)
                    .ok_or_else(|| file_error(format!("line {line}: the shop has no product {}", row.name)))?;
                let reason = check_related(product.id, other.id, &row.value).map_err(at)?;
                if k.related.iter().any(|r| r.related_id == other.id) {
                    return Err(file_error(format!("line {line}: {} is related twice", row.name)));
                }
                k.related.push(RelatedProduct {
                    product_id: product.id,
                    related_id: other.id,
                    reason,
                    created_at: now,
                });
            }
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for sku in order {
        let (first, mut k) = by_sku.remove(&sku).expect("listed");
        pk::check_import(&mut k)
            .map_err(|e| file_error(format!("line {first} (product {sku}): the {} {}", e.field, e.message)))?;
        out.push(k);
    }
    Ok(out)
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}\n{b}")
    }
}

/// Import product knowledge from a file in the template (owners and admins), all or nothing:
/// every product the file names gets exactly the file's knowledge; a bad file is refused with
/// the line and the reason, and nothing changes.
#[utoipa::path(post, path = "/product-knowledge/import", tag = "catalog", params(FileParams),
    request_body(content = Vec<u8>, content_type = "text/csv", description = "the file: CSV (UTF-8) or .xlsx"),
    responses((status = 200, body = ProductImportSummary), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn import_knowledge(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<FileParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ProductImportSummary>> {
    caller.require_manager()?;
    let body = body.map_err(|e| ApiError::PayloadTooLarge(format!("the file could not be read: {e}")))?;
    let rows = match upload_format(p.format, &headers, &body) {
        Format::Csv => product_template::parse_csv(&body),
        Format::Xlsx => product_template::parse_xlsx(&body),
    }
    .map_err(|e| file_error(e.to_string()))?;
    let products: HashMap<String, Product> = state
        .store
        .all_product_knowledge(caller.shop())
        .await?
        .into_iter()
        .map(|k| (k.product.sku.clone(), k.product))
        .collect();
    let now = kefu_store::now();
    let items = knowledge_from_rows(caller.shop(), rows, &products, now)?;
    Ok(Json(
        state.store.import_product_knowledge(caller.shop(), &items, now).await?,
    ))
}
