//! The HTTP API under `/api/v1`, its OpenAPI document at `/api/openapi.json`, and `/healthz`.
//! Each resource module registers its handlers with utoipa-axum, so the document is built
//! from the same registrations that route requests and cannot drift from them.

mod accounts;
pub(crate) mod auth;
mod bot;
mod catalog;
mod orders;
mod panel;
pub use orders::close_unpaid;
mod chat;
pub(crate) mod compliance;
mod customers;
mod kb;
mod messages;
pub(crate) mod phrases;
pub(crate) mod products;
mod records;
pub mod reminders;
mod shop;
mod stats;
pub(crate) mod visits;
mod webhooks;
pub(crate) mod widget;

pub use kb::{Format as KbFormat, export_file as export_kb_file, import_file as import_kb_file};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::get;
use serde::Serialize;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "kefu API", description = "kefu (客服): customer service for online shops. Every endpoint is scoped to the caller's shop and role. Errors are JSON `{error, message}`."),
    modifiers(&SecurityAddon),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Login, logout, password"),
        (name = "shop", description = "The caller's shop and its settings (SPEC §6.2)"),
        (name = "accounts", description = "Sub-accounts, roles, skill groups and routing (SPEC §6.1)"),
        (name = "catalog", description = "Products and their knowledge: attributes, size charts, selling points, comparisons, FAQ, related products, import and export (SPEC §2.10)"),
        (name = "orders", description = "Orders and their actions, after-sales cases, reviews and complaints (SPEC §4)"),
        (name = "customers", description = "Buyers' profiles, lifecycle and custom groups, tags and notes, outreach, privacy reveals and their audit log (SPEC §3)"),
        (name = "reminders", description = "Payment reminders (催付) for unpaid orders, by agents or the scheduler, and their statistics (SPEC §4.7)"),
        (name = "knowledge base", description = "Categories, entries, import and export (SPEC §1.1)"),
        (name = "bot", description = "Dictionary and synonyms, test console, learning loop (SPEC §1.2, §1.4, §1.5)"),
        (name = "messages", description = "Messages buyers left for agents (留言, SPEC §1.3)"),
        (name = "chat", description = "Real-time chat over WebSocket, the agent's chats, presence and teammates (SPEC §2); protocol in docs/chat-protocol.md"),
        (name = "records", description = "Chat records: full-text search by words, buyer, agent and time, with the hits marked (聊天记录, SPEC §5.5)"),
        (name = "quick phrases", description = "Team and personal quick phrases: groups, places, shortcuts, variables, import and export (快捷短语, SPEC §2.7)"),
        (name = "stats", description = "Statistics per agent, team, day and hour, with export; the live monitor (SPEC §5)"),
        (name = "webhooks", description = "Webhook 推送: signed event deliveries to the shop's systems, their log and replays (SPEC §7.2)"),
        (name = "widget", description = "What the buyer's widget calls, without login: greeting, the bot, feedback, leave a message")
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

/// The OpenAPI document and the router it describes.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .merge(auth::router())
                .merge(shop::router())
                .merge(accounts::router())
                .merge(catalog::router())
                .merge(products::router())
                .merge(orders::router())
                .merge(panel::router())
                .merge(customers::router())
                .merge(reminders::router())
                .merge(kb::router())
                .merge(bot::router())
                .merge(messages::router())
                .merge(phrases::router())
                .merge(records::router())
                .merge(widget::router())
                .merge(chat::router())
                .merge(stats::router())
                .merge(compliance::router())
                .merge(visits::router())
                .merge(webhooks::router()),
        )
        .split_for_parts()
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = std::sync::Arc::new(doc);
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || async move { axum::Json(doc.as_ref().clone()) }),
        )
        .route("/healthz", get(healthz))
        .merge(crate::ui::router())
        .fallback(|| async { ApiError::NotFound("page") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        // The path only: query strings carry buyers' signed tokens (`?token=`), never logged.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
    engine: &'static str,
    version: &'static str,
}

/// Alive and the database answers.
async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await?;
    Ok(Json(Health {
        status: "ok",
        engine: state.store.engine(),
        version: env!("CARGO_PKG_VERSION"),
    }))
}

/// A search parameter as typed, or `None` when it holds only spaces.
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Turns a list endpoint's `limit` and `offset` parameters into a page (default 50 rows).
pub fn page(limit: Option<i64>, offset: Option<i64>) -> Result<kefu_store::Page, ApiError> {
    let limit = limit.unwrap_or(50);
    let offset = offset.unwrap_or(0);
    if !(1..=200).contains(&limit) {
        return Err(kefu_core::ValidationError::new("limit", "must be between 1 and 200").into());
    }
    if offset < 0 {
        return Err(kefu_core::ValidationError::new("offset", "must not be negative").into());
    }
    Ok(kefu_store::Page { limit, offset })
}
