//! Sub-accounts (子账号管理, SPEC §6.1): owners and admins create, change and remove staff;
//! every staff member may list teammates (the transfer dialog needs them).

use crate::AppState;
use crate::auth::{Caller, hash_password};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use axum::extract::State;
use axum::http::StatusCode;
use kefu_core::account::{Account, Role, RoutingProfile, SkillGroup, Username, check_display_name, check_new_password};
use kefu_core::bot::AgentReplies;
use kefu_core::ids::AccountId;
use kefu_core::settings::AutoReplies;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(reset_password))
        .routes(routes!(get_my_replies, put_my_replies))
        .routes(routes!(get_replies, put_replies))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    username: String,
    display_name: String,
    role: Role,
    password: String,
    /// 售前, 售后 or a group of the shop's own.
    skill_group: Option<String>,
    #[serde(default = "yes")]
    takes_chats: bool,
    #[serde(default = "default_capacity")]
    capacity: u16,
}

fn yes() -> bool {
    true
}

fn default_capacity() -> u16 {
    RoutingProfile::default().capacity
}

/// Changes to an account; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    display_name: Option<String>,
    role: Option<Role>,
    /// A group name, or `null` to clear it.
    #[serde(default, deserialize_with = "serde_with_null::deserialize")]
    #[schema(value_type = Option<String>)]
    skill_group: Option<Option<String>>,
    takes_chats: Option<bool>,
    capacity: Option<u16>,
    disabled: Option<bool>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
mod serde_with_null {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    new_password: String,
}

fn skill_group(s: Option<&str>) -> ApiResult<Option<SkillGroup>> {
    Ok(s.map(SkillGroup::parse).transpose()?)
}

/// Loads an account of the caller's shop that the caller may manage.
async fn managed_account(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<Account> {
    caller.require_manager()?;
    let account = state
        .store
        .account(caller.shop(), AccountId(id))
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    if !caller.account.role.may_manage(account.role) {
        return Err(ApiError::Forbidden(format!(
            "{} may not change {} account",
            caller.account.role.with_article(),
            account.role.with_article()
        )));
    }
    Ok(account)
}

/// The shop's staff, owner first.
#[utoipa::path(get, path = "/accounts", tag = "accounts", responses((status = 200, body = Vec<Account>), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_accounts(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Account>>> {
    Ok(Json(state.store.accounts(caller.shop()).await?))
}

/// Create a sub-account (owners: admin, supervisor, agent; admins: supervisor, agent).
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, body = Account), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewAccount>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    caller.require_manager()?;
    if !caller.account.role.may_manage(req.role) {
        return Err(ApiError::Forbidden(format!(
            "{} may not create {} account",
            caller.account.role.with_article(),
            req.role.with_article()
        )));
    }
    let username = Username::parse(&req.username)?;
    check_display_name(&req.display_name)?;
    check_new_password(&req.password, username.as_str())?;
    let routing = RoutingProfile {
        skill_group: skill_group(req.skill_group.as_deref())?,
        takes_chats: req.takes_chats,
        capacity: req.capacity,
    };
    routing.validate()?;
    let account = Account {
        id: AccountId::new(),
        shop_id: caller.shop(),
        username,
        display_name: req.display_name.trim().to_string(),
        role: req.role,
        routing,
        disabled: false,
        created_at: kefu_store::now(),
    };
    let hash = hash_password(req.password).await?;
    state.store.create_account(&account, &hash).await.map_err(|e| match e {
        kefu_store::StoreError::Conflict(_) => ApiError::Conflict(format!(
            "the login name {} is taken in this shop",
            account.username.as_str()
        )),
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// One account of the caller's shop.
#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Account), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_account(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Account>> {
    Ok(Json(
        state
            .store
            .account(caller.shop(), AccountId(id))
            .await?
            .ok_or(ApiError::NotFound("account"))?,
    ))
}

/// Change an account's name, role, skill group, routing or disabled flag. Disabling ends its sessions.
#[utoipa::path(patch, path = "/accounts/{id}", tag = "accounts", params(("id" = Uuid, Path)), request_body = AccountChange,
    responses((status = 200, body = Account), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(req): Json<AccountChange>,
) -> ApiResult<Json<Account>> {
    // Owners and admins set their own name and routing (the owner, 主账号, takes the chats when
    // no sub-account is online); their own role and access stay as they are.
    let own = id == caller.account.id.0;
    let mut account = if own {
        caller.require_manager()?;
        if req.role.is_some() || req.disabled.is_some() {
            return Err(ApiError::Forbidden(
                "you may not change your own role or disable your own account; ask the shop owner".into(),
            ));
        }
        state
            .store
            .account(caller.shop(), caller.account.id)
            .await?
            .ok_or(ApiError::NotFound("account"))?
    } else {
        managed_account(&state, &caller, id).await?
    };
    if let Some(name) = req.display_name {
        check_display_name(&name)?;
        account.display_name = name.trim().to_string();
    }
    if let Some(role) = req.role {
        if !caller.account.role.may_manage(role) {
            return Err(ApiError::Forbidden(format!(
                "{} may not make an account {}",
                caller.account.role.with_article(),
                role.as_str()
            )));
        }
        account.role = role;
    }
    if let Some(group) = req.skill_group {
        account.routing.skill_group = skill_group(group.as_deref())?;
    }
    if let Some(t) = req.takes_chats {
        account.routing.takes_chats = t;
    }
    if let Some(c) = req.capacity {
        account.routing.capacity = c;
    }
    account.routing.validate()?;
    if let Some(d) = req.disabled {
        account.disabled = d;
    }
    state.store.update_account(&account).await?;
    if account.disabled {
        state.store.delete_sessions_of(caller.shop(), account.id, None).await?;
    }
    Ok(Json(account))
}

/// Remove a sub-account. The owner account cannot be removed.
#[utoipa::path(delete, path = "/accounts/{id}", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn delete_account(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let account = managed_account(&state, &caller, id).await?;
    state.store.delete_account(caller.shop(), account.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a sub-account's password (when its holder forgot it). Its sessions end.
#[utoipa::path(put, path = "/accounts/{id}/password", tag = "accounts", params(("id" = Uuid, Path)), request_body = PasswordReset,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(req): Json<PasswordReset>,
) -> ApiResult<StatusCode> {
    let account = managed_account(&state, &caller, id).await?;
    check_new_password(&req.new_password, account.username.as_str())?;
    let hash = hash_password(req.new_password).await?;
    state.store.set_password(caller.shop(), account.id, &hash).await?;
    state.store.delete_sessions_of(caller.shop(), account.id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The replies an agent sends: their own where set, the shop's otherwise.
#[derive(Serialize, ToSchema)]
pub struct Replies {
    /// What the agent set (empty fields use the shop's).
    own: AgentReplies,
    /// What buyers get from this agent.
    effective: AutoReplies,
}

async fn replies_of(state: &AppState, caller: &Caller, id: AccountId) -> ApiResult<Json<Replies>> {
    let own = state.store.agent_replies(caller.shop(), id).await?;
    let shop = state.store.settings(caller.shop()).await?.auto_replies;
    Ok(Json(Replies {
        effective: own.effective(&shop),
        own,
    }))
}

/// The caller's own greeting, busy and away replies and signature (个性签名, SPEC §1.7).
#[utoipa::path(get, path = "/me/replies", tag = "accounts", responses((status = 200, body = Replies)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_my_replies(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Replies>> {
    replies_of(&state, &caller, caller.account.id).await
}

/// Set the caller's own replies and signature; a blank reply uses the shop's.
#[utoipa::path(put, path = "/me/replies", tag = "accounts", request_body = AgentReplies,
    responses((status = 200, body = Replies), (status = 422, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn put_my_replies(
    State(state): State<AppState>,
    caller: Caller,
    Json(mut replies): Json<AgentReplies>,
) -> ApiResult<Json<Replies>> {
    replies.normalize_and_check()?;
    state
        .store
        .put_agent_replies(caller.shop(), caller.account.id, &replies)
        .await?;
    replies_of(&state, &caller, caller.account.id).await
}

/// A teammate's replies and signature.
#[utoipa::path(get, path = "/accounts/{id}/replies", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Replies), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn get_replies(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Replies>> {
    replies_of(&state, &caller, AccountId(id)).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::NotFound("account"),
        e => e,
    })
}

/// Set a sub-account's replies and signature (owners and admins, for accounts they manage).
#[utoipa::path(put, path = "/accounts/{id}/replies", tag = "accounts", params(("id" = Uuid, Path)), request_body = AgentReplies,
    responses((status = 200, body = Replies), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn put_replies(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(mut replies): Json<AgentReplies>,
) -> ApiResult<Json<Replies>> {
    let account = managed_account(&state, &caller, id).await?;
    replies.normalize_and_check()?;
    state
        .store
        .put_agent_replies(caller.shop(), account.id, &replies)
        .await?;
    replies_of(&state, &caller, account.id).await
}
