//! The web UI (SPEC §2.1, §7.1): plain ES modules and CSS under `kefu-server/ui/`, compiled
//! into the binary so `cargo run` serves it with no build step (in debug builds they are read
//! from disk, so an edit shows on reload). Preact + htm are vendored as one file
//! (`ui/vendor/`). Pages:
//!
//! - `/app/` — the agents' workbench (login, the three panes) and administration;
//! - `/widget/{shop}` — the buyer's chat widget, for a shop's pages (an iframe) or a phone;
//! - `/help/{shop}` — the shop's self-service FAQ built from the knowledge base;
//! - `/ui/…` — the shared assets.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

#[derive(rust_embed::Embed)]
#[folder = "ui/"]
struct Assets;

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app/") }))
        .route("/app", get(|| async { Redirect::to("/app/") }))
        .route("/app/", get(|| async { asset("app/index.html") }))
        .route(
            "/widget/{shop}",
            get(|_: Path<String>| async { asset("widget/index.html") }),
        )
        .route(
            "/help/{shop}",
            get(|_: Path<String>| async { asset("help/index.html") }),
        )
        .route(
            "/ui/{*path}",
            get(|Path(path): Path<String>| async move { asset(&path) }),
        )
}

fn asset(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            let cache = if path.starts_with("vendor/") {
                "public, max-age=86400"
            } else {
                // The UI changes with the binary: revalidate, so an upgrade shows at once.
                "no-cache"
            };
            (
                [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache.to_string())],
                file.data.into_owned(),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
