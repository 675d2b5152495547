//! Customers (客户管理, SPEC §3): profiles, lifecycle and custom groups, tags and notes,
//! proactive outreach, and the privacy rules — phone and address masked for staff without the
//! privacy permission (owners and admins have it), every reveal and export audited.
//!
//! A buyer's chats are those of the signed buyer id `buyer:<nick>` (see `kefu_store::buyer_visitor`);
//! lifecycle groups (咨询组 订单组 发货组 成交组) are computed from those chats and the buyer's
//! orders by `kefu_core::customers::lifecycle`, never stored, so they are always current.

use crate::AppState;
use crate::api::kb::{Format, attachment};
use crate::api::{non_empty, page};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use kefu_core::account::Role;
use kefu_core::buyer_types::BuyerType;
use kefu_core::catalog::{Customer, Order, mask_address};
use kefu_core::customers::{
    AuditKind, LifecycleGroup, NoOutreach, OUTREACH_PERIOD_DAYS, OutreachHistory, clean_group_name, clean_note,
    clean_tags, lifecycle, may_send,
};
use kefu_core::ids::{CustomerGroupId, CustomerId, ProductId};
use kefu_core::phrases::{PhraseVars, Variable, clean_text, fill, variables};
use kefu_core::{ValidationError, settings::ShopSettings};
use kefu_store::{
    AuditEntry, AuditQuery, BuyerTypeRecord, CustomerFacts, CustomerFilter, CustomerGroup, CustomerNote, Listed,
    NewOutreach, OrderQuery, Page, REFUSED_CAP_REACHED, REFUSED_OPTED_OUT, StoreError,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers))
        .routes(routes!(export_customers))
        .routes(routes!(get_customer))
        .routes(routes!(reveal_customer))
        .routes(routes!(add_note))
        .routes(routes!(set_tags))
        .routes(routes!(set_opt_out))
        .routes(routes!(set_buyer_type))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(rename_group, delete_group))
        .routes(routes!(change_members))
        .routes(routes!(send_outreach))
        .routes(routes!(audit_log))
}

/// A page of rows and how many match in all.
#[derive(Serialize, ToSchema)]
pub struct ListOf<T: ToSchema> {
    items: Vec<T>,
    total: i64,
}

impl<T: ToSchema> From<Listed<T>> for ListOf<T> {
    fn from(l: Listed<T>) -> Self {
        ListOf {
            items: l.items,
            total: l.total,
        }
    }
}

/// Whether the caller sees buyers' phone and address whole (SPEC §3.4).
pub(crate) fn sees_private(caller: &Caller) -> bool {
    caller.account.role.is_manager()
}

fn privacy(caller: &Caller, c: Customer) -> Customer {
    if sees_private(caller) { c } else { c.masked() }
}

/// A buyer as lists show them.
#[derive(Serialize, ToSchema)]
pub struct CustomerSummary {
    #[serde(flatten)]
    customer: Customer,
    /// Every lifecycle group the buyer is in, least to most advanced.
    groups: Vec<LifecycleGroup>,
    /// The most advanced, for one badge.
    group: Option<LifecycleGroup>,
    custom_groups: Vec<CustomerGroupId>,
    tags: Vec<String>,
    /// Whether they asked to hear no more outreach (退订).
    opted_out: bool,
    /// Their first chat's start and their chats' last activity; `null`: never chatted.
    first_contact: Option<DateTime<Utc>>,
    last_contact: Option<DateTime<Utc>>,
}

fn groups_of(f: &CustomerFacts) -> Vec<LifecycleGroup> {
    lifecycle(f.chatted(), &[], &f.order_states).groups
}

fn summary(caller: &Caller, f: CustomerFacts) -> CustomerSummary {
    let groups = groups_of(&f);
    CustomerSummary {
        group: groups.last().copied(),
        groups,
        custom_groups: f.custom_groups,
        tags: f.tags,
        opted_out: f.opted_out,
        first_contact: f.first_contact,
        last_contact: f.last_contact,
        customer: privacy(caller, f.customer),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomerParams {
    /// Part of the buyer's nick or name.
    q: Option<String>,
    /// Only buyers with this tag.
    tag: Option<String>,
    /// Only buyers in this lifecycle group.
    #[param(inline)]
    group: Option<LifecycleGroup>,
    /// Only members of this custom group.
    custom_group: Option<Uuid>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The buyers a filter names, lifecycle group included (computed, so filtered here).
async fn matching(
    state: &AppState,
    caller: &Caller,
    filter: &CustomerFilter,
    group: Option<LifecycleGroup>,
) -> ApiResult<Vec<CustomerFacts>> {
    let mut all = state.store.customer_facts(caller.shop(), filter).await?;
    if let Some(g) = group {
        all.retain(|f| groups_of(f).contains(&g));
    }
    Ok(all)
}

fn filter_of(q: Option<String>, tag: Option<String>, custom_group: Option<Uuid>) -> CustomerFilter {
    CustomerFilter {
        text: non_empty(q),
        tag: non_empty(tag),
        custom_group: custom_group.map(CustomerGroupId),
        id: None,
    }
}

/// Search the shop's buyers, by nick; filter by lifecycle group (咨询组 `consulting`, 订单组
/// `ordered`, 发货组 `shipping`, 成交组 `dealt`), custom group, tag or text.
#[utoipa::path(get, path = "/customers", tag = "customers", params(CustomerParams),
    responses((status = 200, body = ListOf<CustomerSummary>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<CustomerParams>,
) -> ApiResult<Json<ListOf<CustomerSummary>>> {
    let Page { limit, offset } = page(p.limit, p.offset)?;
    let all = matching(&state, &caller, &filter_of(p.q, p.tag, p.custom_group), p.group).await?;
    let total = all.len() as i64;
    let items = all
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|f| summary(&caller, f))
        .collect();
    Ok(Json(ListOf { items, total }))
}

#[derive(Serialize, ToSchema)]
pub struct AskedProduct {
    id: ProductId,
    sku: String,
    title: String,
}

/// A buyer's profile (SPEC §3.1).
#[derive(Serialize, ToSchema)]
pub struct CustomerProfile {
    #[serde(flatten)]
    summary: CustomerSummary,
    /// Where their latest chat came from (`web`, `h5`); `null`: never chatted.
    channel: Option<String>,
    /// Products shown as cards in their chats, first first (咨询组: what they asked about).
    asked_about: Vec<AskedProduct>,
    /// Newest first, at most 50.
    orders: Vec<Order>,
    notes: Vec<CustomerNote>,
    /// 买家类型 (SPEC §3.1): the one set on the buyer and the one their behaviour suggests.
    buyer_type: BuyerTypes,
}

/// A buyer type with the seeds' words on it.
#[derive(Serialize, ToSchema)]
pub struct TypeInfo {
    #[serde(rename = "type")]
    buyer_type: BuyerType,
    /// 讲价型 …
    label: &'static str,
    /// What such a buyer is like (特质).
    traits: &'static str,
    /// How to serve them (策略).
    strategy: &'static str,
}

impl From<BuyerType> for TypeInfo {
    fn from(t: BuyerType) -> Self {
        TypeInfo {
            buyer_type: t,
            label: t.label_zh(),
            traits: t.traits_zh(),
            strategy: t.strategy_zh(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SetType {
    #[serde(flatten)]
    info: TypeInfo,
    set_by_name: String,
    set_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SuggestedType {
    #[serde(flatten)]
    info: TypeInfo,
    /// Why, from what the buyer did (Chinese).
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct BuyerTypes {
    /// Set by the staff; `null` when nobody has.
    current: Option<SetType>,
    /// What kefu infers from orders, chats and complaints; `null` when nothing stands out.
    suggestion: Option<SuggestedType>,
}

async fn buyer_types(state: &AppState, shop: kefu_core::ids::ShopId, id: CustomerId) -> ApiResult<BuyerTypes> {
    let current = state.store.buyer_type(shop, id).await?.map(|r| SetType {
        info: r.buyer_type.into(),
        set_by_name: r.set_by_name,
        set_at: r.set_at,
    });
    let behaviour = state.store.buyer_behaviour(shop, id).await?;
    let suggestion = kefu_core::buyer_types::suggest(&behaviour).map(|s| SuggestedType {
        info: s.buyer_type.into(),
        reason: s.reason,
    });
    Ok(BuyerTypes { current, suggestion })
}

async fn facts(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<CustomerFacts> {
    let filter = CustomerFilter {
        id: Some(CustomerId(id)),
        ..Default::default()
    };
    state
        .store
        .customer_facts(caller.shop(), &filter)
        .await?
        .pop()
        .ok_or(ApiError::NotFound("customer"))
}

/// One buyer: groups, tags, contacts, orders, notes and the products they asked about.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers", params(("id" = Uuid, Path)),
    responses((status = 200, body = CustomerProfile), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CustomerProfile>> {
    Ok(Json(profile(&state, &caller, id).await?))
}

/// A buyer's profile as the caller may see it (the workbench's panel shows the same).
pub(crate) async fn profile(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<CustomerProfile> {
    let shop = caller.shop();
    let f = facts(state, caller, id).await?;
    let id = f.customer.id;
    let channel = state
        .store
        .visitor_conversation(shop, &kefu_store::buyer_visitor(&f.customer.nick))
        .await?
        .map(|c| c.channel);
    let mut asked_about = Vec::new();
    for p in state.store.asked_about(shop, id).await? {
        if let Some(p) = state.store.product(shop, p).await? {
            asked_about.push(AskedProduct {
                id: p.id,
                sku: p.sku,
                title: p.title,
            });
        }
    }
    let q = OrderQuery {
        customer_id: Some(id),
        page: Page { limit: 50, offset: 0 },
        ..Default::default()
    };
    let whole = sees_private(caller);
    let orders = state
        .store
        .orders(shop, &q)
        .await?
        .items
        .into_iter()
        .map(|mut o| {
            if !whole {
                o.address = mask_address(&o.address);
            }
            o
        })
        .collect();
    let notes = state.store.customer_notes(shop, id).await?;
    let buyer_type = buyer_types(state, shop, id).await?;
    Ok(CustomerProfile {
        summary: summary(caller, f),
        channel,
        asked_about,
        orders,
        notes,
        buyer_type,
    })
}

fn audit(
    caller: &Caller,
    kind: AuditKind,
    customer: Option<CustomerId>,
    detail: String,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry {
        id: Uuid::now_v7(),
        shop_id: caller.shop(),
        at,
        account_id: Some(caller.account.id),
        account_name: format!("{} ({})", caller.account.display_name, caller.account.username.as_str()),
        kind,
        customer_id: customer,
        detail,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// Why (kept in the audit log), e.g. 核对收货地址; up to 100 characters.
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    id: CustomerId,
    phone: String,
    address: String,
}

/// The buyer's phone and address whole, for owners, admins and supervisors; recorded in the
/// audit log with who, when and why (SPEC §3.4). Agents are refused.
#[utoipa::path(post, path = "/customers/{id}/reveal", tag = "customers", params(("id" = Uuid, Path)),
    request_body = RevealRequest,
    responses((status = 200, body = Revealed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn reveal_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<RevealRequest>,
) -> ApiResult<Json<Revealed>> {
    if !matches!(caller.account.role, Role::Owner | Role::Admin | Role::Supervisor) {
        return Err(ApiError::Forbidden(
            "only owners, admins and supervisors may see a buyer's phone and address".into(),
        ));
    }
    let reason = body.reason.map(|r| r.trim().to_string()).unwrap_or_default();
    if reason.chars().count() > 100 || reason.chars().any(char::is_control) {
        return Err(
            ValidationError::new("reason", "must be at most 100 characters, without control characters").into(),
        );
    }
    let c = state
        .store
        .customer(caller.shop(), CustomerId(id))
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let detail = if reason.is_empty() {
        format!("phone, address of {}", c.nick)
    } else {
        format!("phone, address of {}: {reason}", c.nick)
    };
    // Audited before it is shown: no record, no data.
    state
        .store
        .record_audit(&audit(
            &caller,
            AuditKind::Reveal,
            Some(c.id),
            detail,
            state.clock.now(),
        ))
        .await?;
    Ok(Json(Revealed {
        id: c.id,
        phone: c.phone,
        address: c.address,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// 1–500 characters.
    text: String,
}

/// Adds a note to the buyer (备注): what they asked about, what was promised. Notes are kept
/// in order with their author and time, never edited.
#[utoipa::path(post, path = "/customers/{id}/notes", tag = "customers", params(("id" = Uuid, Path)),
    request_body = NoteRequest,
    responses((status = 201, body = CustomerNote), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<NoteRequest>,
) -> ApiResult<(StatusCode, Json<CustomerNote>)> {
    let text = clean_note(&body.text)?;
    let note = CustomerNote {
        id: Uuid::now_v7(),
        customer_id: CustomerId(id),
        author_id: Some(caller.account.id),
        author_name: caller.account.display_name.clone(),
        text,
        created_at: state.clock.now(),
    };
    state
        .store
        .add_customer_note(caller.shop(), &note)
        .await
        .map_err(not_found("customer"))?;
    Ok((StatusCode::CREATED, Json(note)))
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsRequest {
    /// The buyer's tags, replacing those they had: up to 20, each 1–20 characters.
    tags: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Tags {
    tags: Vec<String>,
}

/// Sets the buyer's tags (e.g. 老客户, 讲价型).
#[utoipa::path(put, path = "/customers/{id}/tags", tag = "customers", params(("id" = Uuid, Path)),
    request_body = TagsRequest,
    responses((status = 200, body = Tags), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn set_tags(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<TagsRequest>,
) -> ApiResult<Json<Tags>> {
    let tags = clean_tags(&body.tags)?;
    state
        .store
        .set_customer_tags(caller.shop(), CustomerId(id), &tags)
        .await
        .map_err(not_found("customer"))?;
    Ok(Json(Tags { tags }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyerTypeRequest {
    /// One of the nine (`friendly` 友善型, `dominant` 独断型, `analytical` 分析型, `self_centered`
    /// 自我型, `sociable` 交际型, `decisive` 购买型, `polite` 礼貌型, `bargainer` 讲价型, `no_pay`
    /// 拍下不买型), or `null` to clear it.
    #[serde(rename = "type")]
    buyer_type: Option<BuyerType>,
}

/// Sets the buyer's type (买家类型), or clears it; any staff member may. Answers with the type
/// set and kefu's suggestion, as the profile shows them.
#[utoipa::path(put, path = "/customers/{id}/type", tag = "customers", params(("id" = Uuid, Path)),
    request_body = BuyerTypeRequest,
    responses((status = 200, body = BuyerTypes), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn set_buyer_type(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<BuyerTypeRequest>,
) -> ApiResult<Json<BuyerTypes>> {
    let shop = caller.shop();
    let record = body.buyer_type.map(|buyer_type| BuyerTypeRecord {
        buyer_type,
        set_by: Some(caller.account.id),
        set_by_name: caller.account.display_name.clone(),
        set_at: state.clock.now(),
    });
    state
        .store
        .set_buyer_type(shop, CustomerId(id), record.as_ref())
        .await
        .map_err(not_found("customer"))?;
    Ok(Json(buyer_types(&state, shop, CustomerId(id)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutRequest {
    opted_out: bool,
}

/// Opts the buyer out of outreach, or back in (a buyer's own 退订/TD in chat opts them out too).
#[utoipa::path(put, path = "/customers/{id}/opt-out", tag = "customers", params(("id" = Uuid, Path)),
    request_body = OptOutRequest,
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn set_opt_out(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<OptOutRequest>,
) -> ApiResult<StatusCode> {
    state
        .store
        .set_opted_out(caller.shop(), CustomerId(id), body.opted_out, state.clock.now())
        .await
        .map_err(not_found("customer"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    format: Option<Format>,
    q: Option<String>,
    tag: Option<String>,
    #[param(inline)]
    group: Option<LifecycleGroup>,
    custom_group: Option<Uuid>,
}

const EXPORT_HEADER: [&str; 9] = [
    "nick",
    "name",
    "phone",
    "address",
    "groups",
    "tags",
    "opted_out",
    "first_contact",
    "last_contact",
];

/// The buyers a filter names as a file, phone and address whole; owners and admins only, and
/// recorded in the audit log (SPEC §3.4).
#[utoipa::path(get, path = "/customers/export", tag = "customers", params(ExportParams),
    responses((status = 200, description = "the file", content_type = "text/csv"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn export_customers(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    caller.require_manager()?;
    let filter = filter_of(p.q, p.tag, p.custom_group);
    let all = matching(&state, &caller, &filter, p.group).await?;
    let settings = state.store.settings(caller.shop()).await?;
    let time = |t: Option<DateTime<Utc>>| t.map(|t| settings.time_zone.format(t)).unwrap_or_default();
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|f| {
            let groups: Vec<&str> = groups_of(f).iter().map(|g| g.label_zh()).collect();
            vec![
                f.customer.nick.clone(),
                f.customer.name.clone(),
                f.customer.phone.clone(),
                f.customer.address.clone(),
                groups.join("|"),
                f.tags.join("|"),
                if f.opted_out { "yes".into() } else { String::new() },
                time(f.first_contact),
                time(f.last_contact),
            ]
        })
        .collect();
    let mut what = vec![];
    if let Some(q) = &filter.text {
        what.push(format!("q={q}"));
    }
    if let Some(t) = &filter.tag {
        what.push(format!("tag={t}"));
    }
    if let Some(g) = p.group {
        what.push(format!("group={}", g.label_zh()));
    }
    if let Some(g) = filter.custom_group {
        what.push(format!("custom_group={g}"));
    }
    let detail = format!(
        "{} buyers with phone and address{}",
        rows.len(),
        if what.is_empty() {
            String::new()
        } else {
            format!(" ({})", what.join(", "))
        }
    );
    state
        .store
        .record_audit(&audit(&caller, AuditKind::Export, None, detail, state.clock.now()))
        .await?;
    let date = state.clock.now().format("%Y%m%d");
    attachment(
        p.format.unwrap_or_default(),
        &format!("customers-{date}"),
        || crate::sheet::write_csv(&EXPORT_HEADER, &rows),
        || {
            crate::sheet::write_xlsx(
                "customers",
                &EXPORT_HEADER,
                &[18., 10., 14., 40., 16., 20., 8., 18., 18.],
                &rows,
            )
        },
    )
}

// ---- custom groups ----

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    /// 1–20 characters, unique in the shop.
    name: String,
}

/// The shop's custom groups (自定义分组) with their member counts.
#[utoipa::path(get, path = "/customer-groups", tag = "customers",
    responses((status = 200, body = Vec<CustomerGroup>)), security(("bearer" = []), ("cookie" = [])))]
async fn list_groups(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<CustomerGroup>>> {
    Ok(Json(state.store.customer_groups(caller.shop()).await?))
}

fn name_taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::Conflict("the shop has a group of that name".into()),
        StoreError::NotFound => ApiError::NotFound("customer group"),
        other => other.into(),
    }
}

/// Creates a custom group (owners and admins).
#[utoipa::path(post, path = "/customer-groups", tag = "customers", request_body = GroupRequest,
    responses((status = 201, body = CustomerGroup), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<GroupRequest>,
) -> ApiResult<(StatusCode, Json<CustomerGroup>)> {
    caller.require_manager()?;
    let group = CustomerGroup {
        id: CustomerGroupId::new(),
        shop_id: caller.shop(),
        name: clean_group_name(&body.name)?,
        created_at: state.clock.now(),
        members: 0,
    };
    state.store.create_customer_group(&group).await.map_err(name_taken)?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// Renames a custom group (owners and admins).
#[utoipa::path(patch, path = "/customer-groups/{id}", tag = "customers", params(("id" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn rename_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<GroupRequest>,
) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    let name = clean_group_name(&body.name)?;
    state
        .store
        .rename_customer_group(caller.shop(), CustomerGroupId(id), &name)
        .await
        .map_err(name_taken)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a custom group; its buyers stay (owners and admins).
#[utoipa::path(delete, path = "/customer-groups/{id}", tag = "customers", params(("id" = Uuid, Path)),
    responses((status = 403, body = ErrorBody), (status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn delete_group(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    state
        .store
        .delete_customer_group(caller.shop(), CustomerGroupId(id))
        .await
        .map_err(name_taken)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    #[serde(default)]
    add: Vec<CustomerId>,
    #[serde(default)]
    remove: Vec<CustomerId>,
}

/// Puts buyers into a custom group and takes others out, all or nothing (any staff): a buyer
/// who is not the shop's makes it 404 and changes nothing.
#[utoipa::path(post, path = "/customer-groups/{id}/members", tag = "customers", params(("id" = Uuid, Path)),
    request_body = MembersRequest,
    responses((status = 200, body = CustomerGroup), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn change_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<MembersRequest>,
) -> ApiResult<Json<CustomerGroup>> {
    if body.add.len() + body.remove.len() > 500 {
        return Err(ValidationError::new("add", "change at most 500 buyers at a time").into());
    }
    if let Some(c) = body.add.iter().find(|c| body.remove.contains(c)) {
        return Err(ValidationError::new("remove", format!("{c} is both added and removed")).into());
    }
    let group = CustomerGroupId(id);
    let shop = caller.shop();
    state
        .store
        .change_group_members(shop, group, &body.add, &body.remove, state.clock.now())
        .await
        .map_err(not_found("customer group or customer"))?;
    let g = state
        .store
        .customer_groups(shop)
        .await?
        .into_iter()
        .find(|g| g.id == group)
        .ok_or(ApiError::NotFound("customer group"))?;
    Ok(Json(g))
}

// ---- outreach ----

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutreachRequest {
    /// A lifecycle group; or give `custom_group`.
    #[serde(default)]
    group: Option<LifecycleGroup>,
    #[serde(default)]
    custom_group: Option<CustomerGroupId>,
    /// The message (promotion, restock, greeting): up to 500 characters; may name
    /// `{买家昵称}` `{店铺名}` `{客服昵称}` (not `{订单号}`: it goes to many buyers).
    text: String,
}

#[derive(Serialize, ToSchema)]
pub struct OutreachReport {
    /// Buyers in the group.
    recipients: usize,
    sent: usize,
    /// Buyers skipped, by reason: `opted_out`, `cap_reached`.
    skipped: BTreeMap<String, usize>,
}

/// Sends a message to every buyer of a group through their chat (主动营销, SPEC §3.3), as the
/// shop (sender `system`; the sender's account is recorded). Buyers who opted out or reached
/// the weekly cap are skipped and counted; outside the shop's contact hours nothing is sent (409,
/// naming when it opens). Owners and admins.
#[utoipa::path(post, path = "/outreach", tag = "customers", request_body = OutreachRequest,
    responses((status = 200, body = OutreachReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn send_outreach(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<OutreachRequest>,
) -> ApiResult<Json<OutreachReport>> {
    caller.require_manager()?;
    let shop = caller.shop();
    let text = clean_text(&body.text)?;
    if variables(&text).contains(&Variable::OrderNo) {
        return Err(ValidationError::new("text", "{订单号} has no value in a message to a group").into());
    }
    let filter = match (body.group, body.custom_group) {
        (Some(_), None) => CustomerFilter::default(),
        (None, Some(g)) => {
            if !state.store.customer_groups(shop).await?.iter().any(|x| x.id == g) {
                return Err(ApiError::NotFound("customer group"));
            }
            CustomerFilter {
                custom_group: Some(g),
                ..Default::default()
            }
        }
        _ => return Err(ValidationError::new("group", "give either group or custom_group").into()),
    };
    let settings = state.store.settings(shop).await?;
    let now = state.clock.now();
    // The shop-wide rules first: off, or out of hours, means nobody gets it.
    match may_send(&OutreachHistory::default(), &settings, now) {
        Err(NoOutreach::Disabled) => {
            return Err(ApiError::Conflict(
                "店铺已关闭主动营销 (outreach.max_per_week is 0)".into(),
            ));
        }
        Err(NoOutreach::OutsideHours { next }) => {
            return Err(ApiError::Conflict(format!(
                "{}{}",
                NoOutreach::OutsideHours { next },
                when(&settings, next)
            )));
        }
        _ => {}
    }
    let members = matching(&state, &caller, &filter, body.group).await?;
    let since = now - Duration::days(OUTREACH_PERIOD_DAYS);
    let mut sent_at: HashMap<CustomerId, Vec<DateTime<Utc>>> = HashMap::new();
    for (c, t) in state.store.outreach_sent(shop, since).await? {
        sent_at.entry(c).or_default().push(t);
    }
    let shop_name = state.store.shop(shop).await?.map(|s| s.name);
    let mut report = OutreachReport {
        recipients: members.len(),
        sent: 0,
        skipped: BTreeMap::new(),
    };
    for f in members {
        let history = OutreachHistory {
            opted_out: f.opted_out,
            sent_at: sent_at.remove(&f.customer.id).unwrap_or_default(),
        };
        let why = match may_send(&history, &settings, now) {
            Ok(()) => {
                let vars = PhraseVars {
                    buyer_nick: Some(f.customer.nick.clone()),
                    order_no: None,
                    agent_nick: Some(caller.account.display_name.clone()),
                    shop_name: shop_name.clone(),
                };
                let message = NewOutreach {
                    customer: f.customer.id,
                    text: fill(&text, &vars),
                    by: Some(caller.account.id),
                    at: now,
                    max: settings.outreach.max_per_week,
                    since,
                };
                // The store checks opt-out and cap again under the buyer's lock.
                match state.store.send_outreach(shop, &message).await {
                    Ok(a) => {
                        crate::chat::publish(&state, &a);
                        report.sent += 1;
                        continue;
                    }
                    Err(StoreError::Refused(why)) if why == REFUSED_OPTED_OUT => "opted_out",
                    Err(StoreError::Refused(why)) if why == REFUSED_CAP_REACHED => "cap_reached",
                    Err(e) => return Err(e.into()),
                }
            }
            Err(NoOutreach::OptedOut) => "opted_out",
            Err(NoOutreach::CapReached { .. }) => "cap_reached",
            Err(NoOutreach::Disabled | NoOutreach::OutsideHours { .. }) => "outside_hours",
        };
        *report.skipped.entry(why.to_string()).or_default() += 1;
    }
    Ok(Json(report))
}

/// "; 下次可发送时间 …" in the shop's time, for refusals that name when it would be allowed.
pub(crate) fn when(settings: &ShopSettings, next: Option<DateTime<Utc>>) -> String {
    match next {
        Some(t) => format!("；最早可在 {} 发送", settings.time_zone.format(t)),
        None => String::new(),
    }
}

// ---- audit log ----

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// `reveal` or `export`.
    #[param(inline)]
    kind: Option<AuditKind>,
    /// At or after this instant (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    until: Option<DateTime<Utc>>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Who saw buyers' phone and address whole, or exported them, newest first (owners and admins).
#[utoipa::path(get, path = "/audit", tag = "customers", params(AuditParams),
    responses((status = 200, body = ListOf<AuditEntry>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> ApiResult<Json<ListOf<AuditEntry>>> {
    caller.require_manager()?;
    if let (Some(f), Some(u)) = (p.from, p.until)
        && u <= f
    {
        return Err(ValidationError::new("until", "must be after from").into());
    }
    let q = AuditQuery {
        kind: p.kind,
        from: p.from,
        until: p.until,
        page: page(p.limit, p.offset)?,
    };
    Ok(Json(state.store.audit_log(caller.shop(), &q).await?.into()))
}
