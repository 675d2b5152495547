//! Starts the real server on a random port over a fresh database (a temporary SQLite file,
//! or a scratch PostgreSQL database) and talks HTTP to it.

#![allow(dead_code)]

use kefu_core::account::{Account, Role, RoutingProfile, Username};
use kefu_core::catalog::*;
use kefu_core::ids::*;
use kefu_core::money::Fen;
use kefu_core::settings::ShopSettings;
use kefu_core::shop::{Shop, ShopSlug};
use kefu_store::{Catalog, NewShop, Store, now};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;

pub const OWNER_PW: &str = "demo-owner-123";
pub const AGENT_PW: &str = "demo-agent-123";

#[derive(Clone, Copy, Debug)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn Store>,
    /// The running server's state, for jobs a test runs by hand (e.g. closing idle chats).
    pub state: kefu_server::AppState,
    pub client: Client,
    _dir: tempfile::TempDir,
    pg_url: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Runs `test` against a server on each engine's fresh database.
pub async fn with_app<F, Fut>(engine: Engine, test: F)
where
    F: FnOnce(Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_app_semantic(engine, false, test).await
}

/// The same, choosing whether the bot has the semantic signal. Most tests run without it:
/// it joins a few seconds after each knowledge-base change, and they check what must hold
/// either way; the bot's own tests turn it on.
pub async fn with_app_semantic<F, Fut>(engine: Engine, semantic: bool, test: F)
where
    F: FnOnce(Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let app = Arc::new(TestApp::spawn(engine, semantic).await);
    run_app(app, test).await
}

/// The same with the configuration changed first (webhooks to local receivers, a test SMTP server …).
pub async fn with_app_config<F, Fut>(engine: Engine, configure: impl FnOnce(&mut kefu_server::Config), test: F)
where
    F: FnOnce(Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let app = Arc::new(TestApp::spawn_with(engine, false, configure).await);
    run_app(app, test).await
}

async fn run_app<F, Fut>(app: Arc<TestApp>, test: F)
where
    F: FnOnce(Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(test(app.clone())).await;
    Arc::into_inner(app).expect("test kept the app").stop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares a black-box test run once per engine.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::common::with_app($crate::common::Engine::Sqlite, super::$name).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::common::with_app($crate::common::Engine::Postgres, super::$name).await
            }
        }
    };
}

impl TestApp {
    pub async fn spawn(engine: Engine, semantic: bool) -> TestApp {
        Self::spawn_with(engine, semantic, |_| {}).await
    }

    pub async fn spawn_with(
        engine: Engine,
        semantic: bool,
        configure: impl FnOnce(&mut kefu_server::Config),
    ) -> TestApp {
        kefu_server::install_tls_provider();
        let dir = tempfile::tempdir().unwrap();
        let pg_url = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(
                kefu_store::testing::scratch_postgres()
                    .await
                    .expect("PostgreSQL must answer at KEFU_TEST_PG"),
            ),
        };
        let mut config = kefu_server::Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            db: pg_url.clone(),
            demo: true,
            max_body_bytes: 64 * 1024,
            bot_semantic: semantic,
            ..Default::default()
        };
        configure(&mut config);
        let prepared = kefu_server::prepare(config).await.unwrap();
        let store = prepared.state.store.clone();
        let state = prepared.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            kefu_server::serve(prepared, listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap()
        });
        TestApp {
            base,
            store,
            state,
            client: Client::new(),
            _dir: dir,
            pg_url,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        let store = self.store.clone();
        drop(self.store);
        drop(self.state);
        drop(store);
        if let Some(url) = &self.pg_url {
            kefu_store::testing::drop_postgres(url).await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in and returns the bearer token (panics unless it works).
    pub async fn login(&self, shop: &str, username: &str, password: &str) -> String {
        let (status, body) = self.try_login(shop, username, password).await;
        assert_eq!(status, StatusCode::OK, "login {shop}/{username}: {body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn try_login(&self, shop: &str, username: &str, password: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"shop": shop, "username": username, "password": password}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub fn req(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    /// Sends and returns status and JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self.req(method, path, token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    /// A second shop ("other") with an owner (`boss` / OWNER_PW) and one of everything.
    pub async fn other_shop(&self) -> (Shop, Catalog) {
        let shop = Shop {
            id: ShopId::new(),
            slug: ShopSlug::parse("other").unwrap(),
            name: "别家小店".into(),
            created_at: now(),
        };
        let owner = Account {
            id: AccountId::new(),
            shop_id: shop.id,
            username: Username::parse("boss").unwrap(),
            display_name: "老板".into(),
            role: Role::Owner,
            routing: RoutingProfile::default(),
            disabled: false,
            created_at: now(),
        };
        let hash = kefu_server::auth::hash_password(OWNER_PW.into()).await.unwrap();
        let product = Product {
            id: ProductId::new(),
            shop_id: shop.id,
            sku: "O-1".into(),
            title: "别家奶瓶".into(),
            category: "喂养用品".into(),
            price: Fen(8800),
            stock: 3,
            attributes: Default::default(),
            created_at: now(),
        };
        let customer = Customer {
            id: CustomerId::new(),
            shop_id: shop.id,
            nick: "别家买家".into(),
            name: "李四".into(),
            phone: "13900001111".into(),
            address: "上海市浦东新区1号".into(),
            created_at: now(),
        };
        let order = Order {
            id: OrderId::new(),
            shop_id: shop.id,
            order_no: "900000000000000001".into(),
            customer_id: customer.id,
            state: OrderState::AwaitingPayment,
            close_reason: None,
            items: vec![OrderItem {
                product_id: Some(product.id),
                sku: "O-1".into(),
                title: "别家奶瓶".into(),
                unit_price: Fen(8800),
                quantity: 1,
            }],
            shipping_fee: Fen(0),
            address: customer.address.clone(),
            created_at: now(),
            paid_at: None,
            shipped_at: None,
            completed_at: None,
            closed_at: None,
        };
        let category = KbCategory {
            id: CategoryId::new(),
            shop_id: shop.id,
            name: "快递物流".into(),
            position: 1,
        };
        let entry = KbEntry {
            id: EntryId::new(),
            shop_id: shop.id,
            category_id: category.id,
            question: "发什么快递".into(),
            similar: vec![],
            answer: "韵达".into(),
            enabled: true,
            valid_from: None,
            valid_until: None,
            created_at: now(),
            updated_at: now(),
            stats: Default::default(),
        };
        let catalog = Catalog {
            products: vec![product],
            customers: vec![customer],
            orders: vec![order],
            kb_categories: vec![category],
            kb_entries: vec![entry],
        };
        self.store
            .create_shop(&NewShop {
                shop: shop.clone(),
                settings: ShopSettings::default(),
                accounts: vec![(owner, hash)],
                catalog: catalog.clone(),
            })
            .await
            .unwrap();
        (shop, catalog)
    }
}

/// Like `on_both_engines!`, with the server's configuration changed by `$configure`.
#[macro_export]
macro_rules! on_both_engines_with {
    ($name:ident, $configure:expr) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::common::with_app_config($crate::common::Engine::Sqlite, $configure, super::$name).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::common::with_app_config($crate::common::Engine::Postgres, $configure, super::$name).await
            }
        }
    };
}
