//! The web UI in a real browser (issue 7): starts the server with the demo shop, then runs the
//! browser tests in `ui-tests/` (node's test runner, playwright-core driving Debian's headless
//! Chromium at /usr/bin/chromium) against it. Needs `npm ci --prefix ui-tests` once and the
//! `chromium` package; `.ci/run` does both. Screenshots go to `$KEFU_SHOTS` when it is set.
//! Every `ui-tests/*.test.mjs` runs (node finds them), e.g. `products.test.mjs` for product
//! knowledge and related-product cards.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_headless_chromium() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui-tests");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests need their npm packages: run `npm ci --prefix ui-tests` (and install Debian's chromium)"
    );
    let chromium = std::env::var("KEFU_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no browser at {chromium}: `apt-get install chromium` (or set KEFU_CHROMIUM)"
    );
    // Webhooks go to a receiver the tests start on this machine, and are given up after one
    // try, so that the page shows a failed delivery to replay without waiting hours.
    let configure = |c: &mut kefu_server::Config| {
        c.webhooks.allow_private = true;
        c.webhooks.max_attempts = 1;
    };
    with_app_config(Engine::Sqlite, configure, move |app| async move {
        // Open around the clock, so that hand-overs do not depend on the hour the tests run.
        let owner = app.login("demo", "owner", OWNER_PW).await;
        let mut settings = app.get("/api/v1/shop/settings", &owner).await.1;
        settings["business_hours"] = json!([{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}]);
        let (status, body) = app
            .call(Method::PUT, "/api/v1/shop/settings", &owner, Some(settings))
            .await;
        assert!(status.is_success(), "{body}");
        let base = app.base.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .args(["--test", "--test-concurrency=1"])
                .arg(&dir)
                .env("KEFU_BASE", base)
                .env("KEFU_CHROMIUM", chromium)
                .current_dir(&dir)
                .output()
        })
        .await
        .unwrap()
        .expect("node must be installed to run the browser tests");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}");
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "browser tests failed (output above)");
        assert!(stdout.contains("# pass "), "node's runner ran no test: {stdout}");
    })
    .await;
}
