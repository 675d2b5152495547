//! Login, logout, who-am-I and password change, with brute-force protection (SPEC §6.1).

use crate::AppState;
use crate::auth::{Caller, SESSION_COOKIE, hash_password, new_token, verify_password};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{DateTime, Duration, Utc};
use kefu_core::account::{Account, check_new_password};
use kefu_core::lockout::Throttle;
use kefu_core::shop::{Shop, ShopSlug};
use kefu_store::Session;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The shop's short name; may be left out when the installation hosts one shop.
    shop: Option<String>,
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`; the UI uses the cookie set alongside instead.
    token: String,
    expires_at: DateTime<Utc>,
    account: Account,
    shop: Shop,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    account: Account,
    shop: Shop,
}

const WRONG_LOGIN: &str = "the shop, login name or password is wrong";

/// The client address a login (or a widget call) counts against.
pub(crate) fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if state.config.trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next());
        if let Some(ip) = forwarded.and_then(|s| s.trim().parse().ok()) {
            return ip;
        }
    }
    peer.ip()
}

async fn shop_for_login(state: &AppState, slug: Option<&str>) -> ApiResult<Option<Shop>> {
    match slug {
        Some(s) => {
            let Ok(slug) = ShopSlug::parse(s) else {
                return Ok(None);
            };
            Ok(state.store.shop_by_slug(&slug).await?)
        }
        None => {
            let mut shops = state.store.shops().await?;
            if shops.len() > 1 {
                return Err(kefu_core::ValidationError::new(
                    "shop",
                    "this installation hosts several shops: name yours",
                )
                .into());
            }
            Ok(shops.pop())
        }
    }
}

/// Refuses the attempt while either the account or the client address is locked out.
async fn check_throttle(state: &AppState, key: &str, throttle: Throttle) -> ApiResult<()> {
    let now = kefu_store::now();
    if let Some(wait) = throttle.retry_after(state.store.login_failures(key).await?.as_ref(), now) {
        let secs = wait.num_seconds().max(1);
        return Err(ApiError::TooManyRequests {
            retry_after_secs: secs,
            message: format!("too many failed logins; try again in {secs} seconds"),
        });
    }
    Ok(())
}

/// Log in with a password. After 5 failures for one account (or 20 from one address)
/// further attempts are refused with 429 for a time that doubles with each failure.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Response> {
    let ip_key = format!("ip:{}", client_ip(&state, &headers, peer));
    check_throttle(&state, &ip_key, Throttle::CLIENT).await?;
    let shop = shop_for_login(&state, req.shop.as_deref()).await?;
    let username = req.username.trim().to_lowercase();
    let account_key = format!(
        "account:{}:{username}",
        shop.as_ref().map(|s| s.slug.as_str()).unwrap_or("-")
    );
    check_throttle(&state, &account_key, Throttle::ACCOUNT).await?;

    let found = match &shop {
        Some(shop) => state.store.account_for_login(shop.id, &username).await?,
        None => None,
    };
    // Verify against a dummy hash when there is no such account, so timing reveals nothing.
    let hash = found
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| state.dummy_hash.to_string());
    let password_ok = verify_password(req.password, hash).await;
    let (account, shop) = match (found, shop) {
        (Some((account, _)), Some(shop)) if password_ok && !account.disabled => (account, shop),
        _ => {
            let now = kefu_store::now();
            for (key, throttle) in [(&account_key, Throttle::ACCOUNT), (&ip_key, Throttle::CLIENT)] {
                state
                    .store
                    .record_login_failure(key, now, throttle.forget_before(now))
                    .await?;
            }
            tracing::info!(key = %account_key, "failed login");
            return Err(ApiError::Unauthorized(WRONG_LOGIN.into()));
        }
    };
    state.store.clear_login_failures(&account_key).await?;

    let (token, token_hash) = new_token();
    let now = kefu_store::now();
    let expires_at = now + Duration::hours(i64::from(state.config.session_ttl_hours));
    state
        .store
        .create_session(&Session {
            token_hash,
            shop_id: shop.id,
            account_id: account.id,
            created_at: now,
            expires_at,
        })
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, token.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .max_age(time_duration(state.config.session_ttl_hours));
    Ok((
        jar.add(cookie),
        Json(LoginResponse {
            token,
            expires_at,
            account,
            shop,
        }),
    )
        .into_response())
}

fn time_duration(hours: u32) -> time::Duration {
    time::Duration::hours(i64::from(hours))
}

/// End this session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn logout(State(state): State<AppState>, caller: Caller, jar: CookieJar) -> ApiResult<Response> {
    state.store.delete_session(&caller.token_hash).await?;
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

/// The logged-in account and its shop.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Me>> {
    let shop = state
        .store
        .shop(caller.shop())
        .await?
        .ok_or(ApiError::NotFound("shop"))?;
    Ok(Json(Me {
        account: caller.account,
        shop,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Change one's own password. Every other session of the account ends.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let (_, hash) = state
        .store
        .account_for_login(caller.shop(), caller.account.username.as_str())
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    if !verify_password(req.current_password, hash).await {
        return Err(ApiError::Forbidden("the current password is wrong".into()));
    }
    check_new_password(&req.new_password, caller.account.username.as_str())?;
    let hash = hash_password(req.new_password).await?;
    state
        .store
        .set_password(caller.shop(), caller.account.id, &hash)
        .await?;
    state
        .store
        .delete_sessions_of(caller.shop(), caller.account.id, Some(&caller.token_hash))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
