//! The storage contract: every test runs against SQLite (a temporary file) and PostgreSQL
//! (a scratch database on the server `KEFU_TEST_PG` names, default 127.0.0.1:5432).
//! A later feature that extends `Store` extends this suite, so both engines stay equal.

use chrono::{Duration, TimeZone, Utc};
use kefu_core::account::{Account, Role, RoutingProfile, SkillGroup, Username};
use kefu_core::bot::{AgentReplies, BotLexicon, BotQuestion, BotSession, LeaveMessage, MessageStatus, Outcome};
use kefu_core::catalog::*;
use kefu_core::ids::*;
use kefu_core::lockout::Throttle;
use kefu_core::money::Fen;
use kefu_core::phrases::{Direction, PhraseRow, QuickPhrase};
use kefu_core::settings::{ShopMode, ShopSettings};
use kefu_core::shop::{Shop, ShopSlug};
use kefu_store::{
    Catalog, KbImportRow, Learn, NewShop, OrderQuery, Page, ProductQuery, Session, Store, StoreError, now,
};
use std::future::Future;
use std::sync::Arc;

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kefu.db").display());
    let store = kefu_store::open(&url).await.unwrap();
    assert_eq!(store.engine(), "sqlite");
    test(store).await;
}

async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = kefu_store::testing::scratch_postgres()
        .await
        .expect("PostgreSQL must answer at KEFU_TEST_PG (default 127.0.0.1:5432)");
    let store = kefu_store::open(&url).await.unwrap();
    assert_eq!(store.engine(), "postgres");
    // Run the test as its own task so the scratch database is dropped even when it fails.
    let outcome = tokio::spawn(test(store.clone())).await;
    drop(store);
    kefu_store::testing::drop_postgres(&url).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares one contract test, run once per engine.
macro_rules! contract {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::on_sqlite(super::$name).await
            }
            #[tokio::test]
            async fn postgres() {
                super::on_postgres(super::$name).await
            }
        }
    };
}

fn account(shop: ShopId, username: &str, role: Role) -> Account {
    Account {
        id: AccountId::new(),
        shop_id: shop,
        username: Username::parse(username).unwrap(),
        display_name: format!("{username} 客服"),
        role,
        routing: RoutingProfile {
            skill_group: Some(SkillGroup::parse("售前").unwrap()),
            takes_chats: true,
            capacity: 5,
        },
        disabled: false,
        created_at: now(),
    }
}

fn new_shop(slug: &str) -> NewShop {
    let shop = Shop {
        id: ShopId::new(),
        slug: ShopSlug::parse(slug).unwrap(),
        name: format!("{slug} 旗舰店"),
        created_at: now(),
    };
    let owner = account(shop.id, "owner", Role::Owner);
    NewShop {
        accounts: vec![(owner, "$argon2id$fake".into())],
        settings: ShopSettings::default(),
        catalog: Catalog::default(),
        shop,
    }
}

fn at(day: u32, hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

/// A small catalog: 3 products, 2 buyers, one order in every state, 2 KB entries.
fn catalog(shop: ShopId) -> Catalog {
    let products: Vec<Product> = (1..=3)
        .map(|i| Product {
            id: ProductId::new(),
            shop_id: shop,
            sku: format!("SKU-{i}"),
            title: format!("纯棉婴儿连体衣 {i}"),
            category: if i == 3 { "玩具".into() } else { "童装".into() },
            price: Fen(5900 + i),
            stock: 10 * i,
            attributes: [("材质".to_string(), "纯棉".to_string())].into(),
            created_at: now(),
        })
        .collect();
    let customers: Vec<Customer> = ["tb_小王", "tb_lily"]
        .iter()
        .map(|nick| Customer {
            id: CustomerId::new(),
            shop_id: shop,
            nick: nick.to_string(),
            name: "王小明".into(),
            phone: "13812345678".into(),
            address: "浙江省杭州市西湖区文三路1号".into(),
            created_at: now(),
        })
        .collect();
    let orders = OrderState::ALL
        .iter()
        .enumerate()
        .map(|(i, &state)| {
            let paid = matches!(state, OrderState::Paid | OrderState::Shipped | OrderState::Completed);
            Order {
                id: OrderId::new(),
                shop_id: shop,
                order_no: format!("20261101{i:04}"),
                customer_id: customers[i % 2].id,
                state,
                close_reason: (state == OrderState::Closed).then_some(CloseReason::PaymentTimeout),
                items: vec![OrderItem {
                    product_id: Some(products[0].id),
                    sku: "SKU-1".into(),
                    title: "纯棉婴儿连体衣 1".into(),
                    unit_price: Fen(5901),
                    quantity: 1,
                }],
                shipping_fee: Fen(0),
                address: "浙江省杭州市西湖区文三路1号".into(),
                created_at: at(1 + i as u32, 8),
                paid_at: paid.then(|| at(1 + i as u32, 9)),
                shipped_at: matches!(state, OrderState::Shipped | OrderState::Completed).then(|| at(1 + i as u32, 10)),
                completed_at: (state == OrderState::Completed).then(|| at(1 + i as u32, 11)),
                closed_at: (state == OrderState::Closed).then(|| at(1 + i as u32, 12)),
            }
        })
        .collect::<Vec<_>>();
    for o in &orders {
        o.check_consistent().unwrap();
    }
    let cat = KbCategory {
        id: CategoryId::new(),
        shop_id: shop,
        name: "快递物流".into(),
        position: 1,
    };
    let entry = |q: &str, valid_until| KbEntry {
        id: EntryId::new(),
        shop_id: shop,
        category_id: cat.id,
        question: q.into(),
        similar: vec!["满多少包邮".into(), "包邮吗".into()],
        answer: "亲,全场满99元包邮哦~".into(),
        enabled: true,
        valid_from: None,
        valid_until,
        created_at: now(),
        updated_at: now(),
        stats: Default::default(),
    };
    let kb_entries = vec![entry("包邮吗", None), entry("双十一活动", Some(at(12, 0)))];
    Catalog {
        products,
        customers,
        orders,
        kb_categories: vec![cat],
        kb_entries,
    }
}

async fn shops_are_created_whole(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    store.create_shop(&a).await.unwrap();
    assert_eq!(store.shop_by_slug(&a.shop.slug).await.unwrap().as_ref(), Some(&a.shop));
    assert_eq!(store.shop(a.shop.id).await.unwrap().as_ref(), Some(&a.shop));
    assert_eq!(store.settings(a.shop.id).await.unwrap(), ShopSettings::default());

    // A taken slug is a conflict and leaves nothing behind.
    let mut again = new_shop("shop-a");
    again.accounts[0].0.username = Username::parse("other").unwrap();
    assert!(matches!(store.create_shop(&again).await, Err(StoreError::Conflict(_))));
    assert!(store.shop(again.shop.id).await.unwrap().is_none());

    // No owner, or two: refused.
    let mut ownerless = new_shop("shop-b");
    ownerless.accounts.clear();
    assert!(store.create_shop(&ownerless).await.is_err());

    // A broken catalog rolls the whole shop back.
    let mut broken = new_shop("shop-c");
    let mut cat = catalog(broken.shop.id);
    cat.products[1].sku = cat.products[0].sku.clone();
    broken.catalog = cat;
    assert!(matches!(store.create_shop(&broken).await, Err(StoreError::Conflict(_))));
    assert!(store.shop(broken.shop.id).await.unwrap().is_none());
    assert_eq!(store.shops().await.unwrap().len(), 1);

    let mut s = ShopSettings {
        mode: ShopMode::Mall,
        unpaid_timeout_minutes: 60,
        ..ShopSettings::default()
    };
    s.trusted_link_domains.push("example.cn".into());
    store.put_settings(a.shop.id, &s).await.unwrap();
    assert_eq!(store.settings(a.shop.id).await.unwrap(), s);
    assert!(matches!(
        store.put_settings(ShopId::new(), &s).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(store.settings(ShopId::new()).await, Err(StoreError::NotFound)));
}
contract!(shops_are_created_whole);

async fn accounts_belong_to_one_shop(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    let b = new_shop("shop-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let agent = account(a.shop.id, "xiaomei", Role::Agent);
    store.create_account(&agent, "hash-1").await.unwrap();
    assert_eq!(store.account(a.shop.id, agent.id).await.unwrap().as_ref(), Some(&agent));
    // The same id asked through another shop is not there.
    assert_eq!(store.account(b.shop.id, agent.id).await.unwrap(), None);
    assert!(store.account_for_login(b.shop.id, "xiaomei").await.unwrap().is_none());
    let (found, hash) = store.account_for_login(a.shop.id, "xiaomei").await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (agent.clone(), "hash-1"));

    // Usernames are unique per shop, not per installation.
    assert!(matches!(
        store
            .create_account(&account(a.shop.id, "xiaomei", Role::Agent), "h")
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_account(&account(b.shop.id, "xiaomei", Role::Agent), "h")
        .await
        .unwrap();
    // One owner per shop.
    assert!(matches!(
        store
            .create_account(&account(a.shop.id, "boss2", Role::Owner), "h")
            .await,
        Err(StoreError::Conflict(_))
    ));

    let mut changed = agent.clone();
    changed.display_name = "小美".into();
    changed.routing = RoutingProfile {
        skill_group: None,
        takes_chats: false,
        capacity: 12,
    };
    changed.role = Role::Supervisor;
    store.update_account(&changed).await.unwrap();
    assert_eq!(store.account(a.shop.id, agent.id).await.unwrap(), Some(changed.clone()));
    let mut foreign = changed.clone();
    foreign.shop_id = b.shop.id;
    assert!(matches!(
        store.update_account(&foreign).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_password(b.shop.id, agent.id, "x").await,
        Err(StoreError::NotFound)
    ));
    store.set_password(a.shop.id, agent.id, "hash-2").await.unwrap();
    assert_eq!(
        store.account_for_login(a.shop.id, "xiaomei").await.unwrap().unwrap().1,
        "hash-2"
    );

    let roles: Vec<Role> = store
        .accounts(a.shop.id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.role)
        .collect();
    assert_eq!(roles, vec![Role::Owner, Role::Supervisor]);
    // The owner cannot be deleted; others can, but only through their own shop.
    let owner = &a.accounts[0].0;
    assert!(matches!(
        store.delete_account(a.shop.id, owner.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_account(b.shop.id, agent.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_account(a.shop.id, agent.id).await.unwrap();
    assert_eq!(store.accounts(a.shop.id).await.unwrap().len(), 1);
}
contract!(accounts_belong_to_one_shop);

async fn sessions_expire_and_end(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    store.create_shop(&a).await.unwrap();
    let owner = a.accounts[0].0.clone();
    let t = now();
    let session = |token: &[u8]| Session {
        token_hash: token.to_vec(),
        shop_id: a.shop.id,
        account_id: owner.id,
        created_at: t,
        expires_at: t + Duration::hours(1),
    };
    for token in [b"one".as_slice(), b"two", b"three"] {
        store.create_session(&session(token)).await.unwrap();
    }
    let (s, acc) = store.session(b"one", t).await.unwrap().unwrap();
    assert_eq!((s, acc.id), (session(b"one"), owner.id));
    assert!(
        store.session(b"one", t + Duration::hours(1)).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.session(b"nope", t).await.unwrap().is_none());

    store.delete_session(b"one").await.unwrap();
    assert!(store.session(b"one", t).await.unwrap().is_none());
    store
        .delete_sessions_of(a.shop.id, owner.id, Some(b"two"))
        .await
        .unwrap();
    assert!(store.session(b"two", t).await.unwrap().is_some());
    assert!(store.session(b"three", t).await.unwrap().is_none());

    // A disabled account's sessions stop working at once.
    let agent = account(a.shop.id, "agent1", Role::Agent);
    store.create_account(&agent, "h").await.unwrap();
    store
        .create_session(&Session {
            account_id: agent.id,
            ..session(b"agent")
        })
        .await
        .unwrap();
    assert!(store.session(b"agent", t).await.unwrap().is_some());
    store
        .update_account(&Account {
            disabled: true,
            ..agent.clone()
        })
        .await
        .unwrap();
    assert!(store.session(b"agent", t).await.unwrap().is_none());
    // A session cannot name an account of another shop.
    let b = new_shop("shop-b");
    store.create_shop(&b).await.unwrap();
    assert!(
        store
            .create_session(&Session {
                shop_id: b.shop.id,
                ..session(b"cross")
            })
            .await
            .is_err()
    );
}
contract!(sessions_expire_and_end);

async fn login_failures_count_and_are_forgotten(store: Arc<dyn Store>) {
    let t = now();
    let th = Throttle::ACCOUNT;
    for n in 1..=6 {
        let r = store
            .record_login_failure("acct:x", t + Duration::seconds(n), th.forget_before(t))
            .await
            .unwrap();
        assert_eq!(r.failures, n as u32);
        assert_eq!(r.last_failure_at, t + Duration::seconds(n));
    }
    assert_eq!(store.login_failures("acct:x").await.unwrap().unwrap().failures, 6);
    assert!(
        th.retry_after(
            store.login_failures("acct:x").await.unwrap().as_ref(),
            t + Duration::seconds(7)
        )
        .is_some()
    );
    // Two hours later the old failures no longer count.
    let later = t + Duration::hours(2);
    assert_eq!(
        store
            .record_login_failure("acct:x", later, th.forget_before(later))
            .await
            .unwrap()
            .failures,
        1
    );
    store.clear_login_failures("acct:x").await.unwrap();
    assert!(store.login_failures("acct:x").await.unwrap().is_none());
    assert!(store.login_failures("ip:127.0.0.1").await.unwrap().is_none());
}
contract!(login_failures_count_and_are_forgotten);

async fn catalog_is_searchable_and_scoped(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    let b = new_shop("shop-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let cat = catalog(a.shop.id);
    store.import_catalog(a.shop.id, &cat).await.unwrap();

    let all = store.products(a.shop.id, &ProductQuery::default()).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items, cat.products);
    let toys = store
        .products(
            a.shop.id,
            &ProductQuery {
                category: Some("玩具".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        toys.items.iter().map(|p| p.sku.as_str()).collect::<Vec<_>>(),
        vec!["SKU-3"]
    );
    let paged = store
        .products(
            a.shop.id,
            &ProductQuery {
                text: Some("连体衣".into()),
                page: Page { limit: 2, offset: 2 },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((paged.total, paged.items.len()), (3, 1));
    assert_eq!(
        store.products(b.shop.id, &ProductQuery::default()).await.unwrap().total,
        0
    );
    assert_eq!(
        store.product(a.shop.id, cat.products[0].id).await.unwrap().as_ref(),
        Some(&cat.products[0])
    );
    assert_eq!(store.product(b.shop.id, cat.products[0].id).await.unwrap(), None);

    let buyers = store.customers(a.shop.id, Some("小王"), Page::default()).await.unwrap();
    assert_eq!(buyers.items, vec![cat.customers[0].clone()]);
    assert_eq!(store.customer(b.shop.id, cat.customers[0].id).await.unwrap(), None);

    let orders = store.orders(a.shop.id, &OrderQuery::default()).await.unwrap();
    assert_eq!(orders.total, 5);
    assert_eq!(orders.items[0], cat.orders[4], "newest first");
    let paid = store
        .orders(
            a.shop.id,
            &OrderQuery {
                state: Some(OrderState::Paid),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.items, vec![cat.orders[1].clone()]);
    let by_no = store
        .orders(
            a.shop.id,
            &OrderQuery {
                text: Some("202611010003".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_no.items, vec![cat.orders[3].clone()]);
    let by_nick = store
        .orders(
            a.shop.id,
            &OrderQuery {
                text: Some("lily".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_nick.total, 2);
    let in_window = store
        .orders(
            a.shop.id,
            &OrderQuery {
                from: Some(at(2, 0)),
                until: Some(at(4, 0)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(in_window.items, vec![cat.orders[2].clone(), cat.orders[1].clone()]);
    assert_eq!(store.orders(b.shop.id, &OrderQuery::default()).await.unwrap().total, 0);
    assert_eq!(
        store.order(a.shop.id, cat.orders[0].id).await.unwrap().as_ref(),
        Some(&cat.orders[0])
    );
    assert_eq!(store.order(b.shop.id, cat.orders[0].id).await.unwrap(), None);

    assert_eq!(store.kb_categories(a.shop.id).await.unwrap(), cat.kb_categories);
    assert_eq!(store.kb_entries(a.shop.id, None).await.unwrap(), cat.kb_entries);
    assert_eq!(
        store.kb_entries(a.shop.id, Some(CategoryId::new())).await.unwrap(),
        vec![]
    );
    assert_eq!(
        store.kb_entry(a.shop.id, cat.kb_entries[1].id).await.unwrap().as_ref(),
        Some(&cat.kb_entries[1])
    );
    assert_eq!(store.kb_entry(b.shop.id, cat.kb_entries[1].id).await.unwrap(), None);
    assert!(store.kb_categories(b.shop.id).await.unwrap().is_empty());
}
contract!(catalog_is_searchable_and_scoped);

async fn imports_are_all_or_nothing_and_cannot_cross_shops(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    let b = new_shop("shop-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let cat_a = catalog(a.shop.id);
    store.import_catalog(a.shop.id, &cat_a).await.unwrap();

    // The last order has a taken number: nothing of the batch is written.
    let mut bad = catalog(a.shop.id);
    bad.orders[4].order_no = cat_a.orders[0].order_no.clone();
    assert!(matches!(
        store.import_catalog(a.shop.id, &bad).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.products(a.shop.id, &ProductQuery::default()).await.unwrap().total,
        3
    );
    assert_eq!(
        store.customers(a.shop.id, None, Page::default()).await.unwrap().total,
        2
    );

    // Shop B's order cannot point at shop A's buyer, nor its entry at A's category.
    let mut cross = catalog(b.shop.id);
    cross.orders[0].customer_id = cat_a.customers[0].id;
    assert!(store.import_catalog(b.shop.id, &cross).await.is_err());
    let mut cross_kb = catalog(b.shop.id);
    cross_kb.kb_entries[0].category_id = cat_a.kb_categories[0].id;
    assert!(store.import_catalog(b.shop.id, &cross_kb).await.is_err());
    assert_eq!(
        store.products(b.shop.id, &ProductQuery::default()).await.unwrap().total,
        0
    );

    // Rows are written to the shop named by the call, whatever shop id they carry.
    let mut mislabelled = catalog(a.shop.id);
    for p in &mut mislabelled.products {
        p.sku = format!("B-{}", p.sku);
    }
    mislabelled
        .customers
        .iter_mut()
        .for_each(|c| c.nick = format!("b_{}", c.nick));
    mislabelled
        .orders
        .iter_mut()
        .for_each(|o| o.order_no = format!("B{}", o.order_no));
    mislabelled.kb_categories[0].name = "B".into();
    store.import_catalog(b.shop.id, &mislabelled).await.unwrap();
    assert!(
        store
            .products(b.shop.id, &ProductQuery::default())
            .await
            .unwrap()
            .items
            .iter()
            .all(|p| p.shop_id == b.shop.id)
    );
    assert_eq!(
        store.products(a.shop.id, &ProductQuery::default()).await.unwrap().total,
        3
    );
}
contract!(imports_are_all_or_nothing_and_cannot_cross_shops);

fn import_row(category: &str, question: &str, similar: &[&str], answer: &str) -> KbImportRow {
    KbImportRow {
        category: category.into(),
        question: question.into(),
        similar: similar.iter().map(|s| s.to_string()).collect(),
        answer: answer.into(),
    }
}

async fn knowledge_base_edits_bump_the_bot(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    let b = new_shop("shop-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let shop = a.shop.id;
    assert_eq!(store.bot_version(shop).await.unwrap(), 0);

    let cat = KbCategory {
        id: CategoryId::new(),
        shop_id: shop,
        name: "快递物流".into(),
        position: 0,
    };
    store.create_kb_category(&cat).await.unwrap();
    let v1 = store.bot_version(shop).await.unwrap();
    assert!(v1 > 0);
    let taken = KbCategory {
        id: CategoryId::new(),
        ..cat.clone()
    };
    assert!(matches!(
        store.create_kb_category(&taken).await,
        Err(StoreError::Conflict(_))
    ));

    let mut entry = KbEntry {
        id: EntryId::new(),
        shop_id: shop,
        category_id: cat.id,
        question: "发什么快递?".into(),
        similar: vec!["默认快递是哪家".into()],
        answer: "默认中通,可补差价发顺丰".into(),
        enabled: true,
        valid_from: None,
        valid_until: None,
        created_at: now(),
        updated_at: now(),
        stats: Default::default(),
    };
    store.create_kb_entry(&entry).await.unwrap();
    assert!(store.bot_version(shop).await.unwrap() > v1);
    // The same question twice is refused; so is another shop's category.
    let twin = KbEntry {
        id: EntryId::new(),
        ..entry.clone()
    };
    assert!(matches!(
        store.create_kb_entry(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    let foreign = KbEntry {
        id: EntryId::new(),
        shop_id: b.shop.id,
        question: "别家的".into(),
        ..entry.clone()
    };
    assert!(matches!(
        store.create_kb_entry(&foreign).await,
        Err(StoreError::NotFound)
    ));

    entry.similar.push("能发顺丰吗".into());
    entry.enabled = false;
    store.update_kb_entry(&entry).await.unwrap();
    let read = store.kb_entry(shop, entry.id).await.unwrap().unwrap();
    assert_eq!(read.similar, entry.similar);
    assert!(!read.enabled);
    // Another shop cannot edit or delete it, nor delete the category in use.
    assert!(matches!(
        store.delete_kb_entry(b.shop.id, entry.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_kb_category(shop, cat.id).await,
        Err(StoreError::Refused(_))
    ));

    // Import: updates by question, creates categories by name; replace removes the rest.
    let rows = vec![
        import_row("快递物流", "发什么快递?", &["默认快递"], "中通"),
        import_row("售后", "怎么退货?", &["退货流程"], "申请退货退款即可"),
    ];
    let s = store.import_kb(shop, &rows, false, now()).await.unwrap();
    assert_eq!((s.categories_created, s.entries_created, s.entries_updated), (1, 1, 1));
    assert_eq!(store.kb_entry(shop, entry.id).await.unwrap().unwrap().answer, "中通");
    let s = store.import_kb(shop, &rows[1..], true, now()).await.unwrap();
    assert_eq!((s.entries_created, s.entries_updated, s.entries_deleted), (0, 0, 1));
    let cats = store.kb_categories(shop).await.unwrap();
    assert_eq!(cats.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["售后"]);
    // A failing import changes nothing: the second row repeats the first's question.
    let before = store.kb_entries(shop, None).await.unwrap();
    let dup = vec![
        import_row("新分类", "新问题", &[], "答"),
        import_row("新分类", "新问题", &[], "答"),
    ];
    assert!(store.import_kb(shop, &dup, false, now()).await.is_err());
    assert_eq!(store.kb_entries(shop, None).await.unwrap(), before);
    assert_eq!(store.kb_categories(shop).await.unwrap().len(), 1);
    assert!(store.kb_entries(b.shop.id, None).await.unwrap().is_empty());

    // The lexicon is the shop's own and bumps the version.
    let v = store.bot_version(shop).await.unwrap();
    let lx = BotLexicon {
        words: vec!["拍下".into()],
        synonyms: vec![vec!["拉拉裤".into(), "安睡裤".into()]],
    };
    store.put_bot_lexicon(shop, &lx).await.unwrap();
    assert_eq!(store.bot_lexicon(shop).await.unwrap(), lx);
    assert_eq!(store.bot_lexicon(b.shop.id).await.unwrap(), BotLexicon::default());
    assert!(store.bot_version(shop).await.unwrap() > v);
    let v = store.bot_version(shop).await.unwrap();
    store.put_settings(shop, &ShopSettings::default()).await.unwrap();
    assert!(store.bot_version(shop).await.unwrap() > v);
}
contract!(knowledge_base_edits_bump_the_bot);

async fn bot_log_feedback_learning_and_messages(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    let b = new_shop("shop-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let shop = a.shop.id;
    store
        .import_kb(
            shop,
            &[import_row("活动", "双十一有活动吗?", &[], "全场满300减50")],
            false,
            now(),
        )
        .await
        .unwrap();
    let entry = store.kb_entries(shop, None).await.unwrap().remove(0);

    let mut session = BotSession::new(shop, "visitor-1".into(), now());
    store.save_bot_session(&session).await.unwrap();
    session.failures = 1;
    session.offered = vec![entry.id];
    store.save_bot_session(&session).await.unwrap();
    assert_eq!(
        store.bot_session(shop, session.id).await.unwrap().as_ref(),
        Some(&session)
    );
    assert_eq!(store.bot_session(b.shop.id, session.id).await.unwrap(), None);
    // Another shop cannot overwrite it.
    let hijack = BotSession {
        shop_id: b.shop.id,
        ..session.clone()
    };
    assert!(store.save_bot_session(&hijack).await.is_err());

    let question = |text: &str, outcome, entry_id| BotQuestion {
        id: uuid::Uuid::now_v7(),
        shop_id: shop,
        session_id: session.id,
        question: text.into(),
        outcome,
        entry_id,
        confidence: 0.5,
        helpful: None,
        confirmed: false,
        resolved: false,
        asked_at: now(),
    };
    let answered = question("双11优惠", Outcome::Answered, Some(entry.id));
    store.log_bot_question(&answered).await.unwrap();
    store
        .log_bot_question(&question("光棍节打折不", Outcome::Suggested, Some(entry.id)))
        .await
        .unwrap();
    let unknown = question("你们老板是谁", Outcome::Unknown, None);
    store.log_bot_question(&unknown).await.unwrap();
    assert_eq!(store.kb_entry(shop, entry.id).await.unwrap().unwrap().stats.hits, 1);
    // The buyer picked the entry from the suggestions of the session's latest suggested question.
    store.confirm_suggestion(b.shop.id, session.id, entry.id).await.unwrap();
    store.confirm_suggestion(shop, session.id, entry.id).await.unwrap();
    let open_now = store.open_bot_questions(shop, 50).await.unwrap();
    let suggested = open_now.iter().find(|q| q.question == "光棍节打折不").unwrap();
    assert!(suggested.confirmed);
    assert!(open_now.iter().filter(|q| q.confirmed).count() == 1);

    // Feedback once, on answers only, in the caller's shop only.
    assert!(matches!(
        store.set_bot_feedback(b.shop.id, answered.id, true).await,
        Err(StoreError::NotFound)
    ));
    store.set_bot_feedback(shop, answered.id, false).await.unwrap();
    assert!(matches!(
        store.set_bot_feedback(shop, answered.id, true).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store.set_bot_feedback(shop, unknown.id, true).await,
        Err(StoreError::Refused(_))
    ));
    let stats = store.kb_entry(shop, entry.id).await.unwrap().unwrap().stats;
    assert_eq!((stats.hits, stats.helpful, stats.unhelpful), (1, 0, 1));

    // The learning loop sees the two unanswered questions, newest first.
    let open = store.open_bot_questions(shop, 50).await.unwrap();
    assert_eq!(
        open.iter().map(|q| q.question.as_str()).collect::<Vec<_>>(),
        vec!["你们老板是谁", "光棍节打折不"]
    );
    assert!(store.open_bot_questions(b.shop.id, 50).await.unwrap().is_empty());
    // A foreign question id fails the whole call.
    let learn = Learn::AddSimilar {
        entry: entry.id,
        phrasings: vec!["光棍节打折不".into()],
    };
    assert!(matches!(
        store
            .resolve_bot_questions(shop, &[open[1].id, uuid::Uuid::now_v7()], &learn, now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.open_bot_questions(shop, 50).await.unwrap().len(), 2);
    store
        .resolve_bot_questions(shop, &[open[1].id], &learn, now())
        .await
        .unwrap();
    assert_eq!(
        store.kb_entry(shop, entry.id).await.unwrap().unwrap().similar,
        vec!["光棍节打折不"]
    );
    store
        .resolve_bot_questions(shop, &[open[0].id], &Learn::Dismiss, now())
        .await
        .unwrap();
    assert!(store.open_bot_questions(shop, 50).await.unwrap().is_empty());

    // Leave-a-message queue, oldest first.
    let msg = |text: &str| LeaveMessage {
        id: uuid::Uuid::now_v7(),
        shop_id: shop,
        session_id: Some(session.id),
        name: "王女士".into(),
        contact: "13800000000".into(),
        text: text.into(),
        status: MessageStatus::Open,
        note: String::new(),
        handled_by: None,
        created_at: now(),
        handled_at: None,
    };
    let first = msg("想问下尺码");
    store.create_leave_message(&first).await.unwrap();
    store.create_leave_message(&msg("什么时候发货")).await.unwrap();
    let queue = store
        .leave_messages(shop, Some(MessageStatus::Open), Page::default())
        .await
        .unwrap();
    assert_eq!(queue.total, 2);
    assert_eq!(queue.items[0], first);
    assert_eq!(
        store
            .leave_messages(b.shop.id, None, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    let owner = a.accounts[0].0.id;
    let done = LeaveMessage {
        status: MessageStatus::Done,
        note: "已电话联系".into(),
        handled_by: Some(owner),
        handled_at: Some(now()),
        ..first.clone()
    };
    store.update_leave_message(&done).await.unwrap();
    assert_eq!(store.leave_message(shop, first.id).await.unwrap().as_ref(), Some(&done));
    assert_eq!(store.leave_message(b.shop.id, first.id).await.unwrap(), None);
    assert!(matches!(
        store
            .update_leave_message(&LeaveMessage {
                shop_id: b.shop.id,
                ..done.clone()
            })
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .leave_messages(shop, Some(MessageStatus::Open), Page::default())
            .await
            .unwrap()
            .total,
        1
    );

    // Stored sentence vectors, per shop and model.
    let v = |x: f32| vec![x, -x, 0.25];
    store
        .put_bot_vectors(shop, "m1", &[("包邮吗".into(), v(0.5)), ("退货".into(), v(1.5))], &[])
        .await
        .unwrap();
    // Adding an existing text keeps the stored one; removing works in the same call.
    store
        .put_bot_vectors(shop, "m1", &[("包邮吗".into(), v(9.0))], &["退货".into()])
        .await
        .unwrap();
    assert_eq!(
        store.bot_vectors(shop, "m1").await.unwrap(),
        vec![("包邮吗".to_string(), v(0.5))]
    );
    assert!(store.bot_vectors(shop, "m2").await.unwrap().is_empty());
    assert!(store.bot_vectors(b.shop.id, "m1").await.unwrap().is_empty());

    // Agents' own replies.
    assert_eq!(store.agent_replies(shop, owner).await.unwrap(), AgentReplies::default());
    let mine = AgentReplies {
        greeting: Some("我是店长~".into()),
        signature: "店长 · 竭诚为您服务".into(),
        ..Default::default()
    };
    store.put_agent_replies(shop, owner, &mine).await.unwrap();
    assert_eq!(store.agent_replies(shop, owner).await.unwrap(), mine);
    assert!(matches!(
        store.put_agent_replies(b.shop.id, owner, &mine).await,
        Err(StoreError::NotFound)
    ));
}
contract!(bot_log_feedback_learning_and_messages);

/// Many writers at once (a busy shop, a failed write among them) queue for the database
/// instead of failing with "database is locked".
async fn concurrent_writes_queue(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    store.create_shop(&a).await.unwrap();
    let shop = a.shop.id;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let cat = KbCategory {
                id: CategoryId::new(),
                shop_id: shop,
                name: format!("分类{}", i % 12),
                position: i,
            };
            // Half of these collide on the name and fail; the rest must not be hurt by it.
            let created = store.create_kb_category(&cat).await.is_ok();
            if created {
                let e = KbEntry {
                    id: EntryId::new(),
                    shop_id: shop,
                    category_id: cat.id,
                    question: format!("问题{i}"),
                    similar: vec![],
                    answer: "答".into(),
                    enabled: true,
                    valid_from: None,
                    valid_until: None,
                    created_at: now(),
                    updated_at: now(),
                    stats: Default::default(),
                };
                store.create_kb_entry(&e).await.unwrap();
            }
            created
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    assert_eq!(created, 12);
    assert_eq!(store.kb_entries(shop, None).await.unwrap().len(), 12);
}
contract!(concurrent_writes_queue);

// ---- Real-time chat (SPEC §2) ----

use kefu_core::chat::{
    CloseReason as ChatClose, Content, Conversation, ConversationState, EventBody, HandoffReason, Sender, Transition,
};
use kefu_core::routing::Presence;
use kefu_store::NewEvent;

/// A shop with agents of the given skill groups and capacities (owner excluded from routing).
async fn chat_shop(
    store: &Arc<dyn Store>,
    slug: &str,
    agents: &[(&str, Option<&str>, u16)],
) -> (ShopId, Vec<AccountId>) {
    let mut shop = new_shop(slug);
    shop.accounts[0].0.routing.takes_chats = false;
    let mut ids = Vec::new();
    for (name, group, capacity) in agents {
        let mut a = account(shop.shop.id, name, Role::Agent);
        a.routing.skill_group = group.map(|g| SkillGroup::parse(g).unwrap());
        a.routing.capacity = *capacity;
        ids.push(a.id);
        shop.accounts.push((a, "$argon2id$fake".into()));
    }
    store.create_shop(&shop).await.unwrap();
    (shop.shop.id, ids)
}

async fn new_chat(store: &Arc<dyn Store>, shop: ShopId, group: Option<&str>) -> Conversation {
    let mut c = Conversation::new(
        shop,
        format!("visitor-{}", uuid::Uuid::now_v7()),
        "买家".into(),
        "web".into(),
        now(),
    );
    c.skill_group = group.map(|g| SkillGroup::parse(g).unwrap());
    store.create_conversation(&c).await.unwrap();
    c
}

fn say(sender: Sender, client_id: Option<&str>, text: &str) -> NewEvent {
    NewEvent {
        sender,
        client_id: client_id.map(str::to_string),
        body: EventBody::message(Content::Text { text: text.into() }),
        at: now(),
    }
}

async fn chat_lifecycle_and_retries(store: Arc<dyn Store>) {
    let (shop, agents) = chat_shop(&store, "chat-life", &[("xiaomei", None, 3), ("xiaoli", None, 3)]).await;
    let (other, _) = chat_shop(&store, "chat-other", &[]).await;
    let c = new_chat(&store, shop, None).await;

    let first = store
        .append_event(shop, c.id, &say(Sender::Buyer, Some("m1"), "在吗"))
        .await
        .unwrap();
    assert_eq!((first.event.seq, first.duplicate), (1, false));
    let again = store
        .append_event(shop, c.id, &say(Sender::Buyer, Some("m1"), "在吗"))
        .await
        .unwrap();
    assert!(again.duplicate, "a retried client id is not stored twice");
    assert_eq!(again.event.seq, 1);
    store
        .append_event(shop, c.id, &say(Sender::Bot, None, "您好"))
        .await
        .unwrap();

    // Handed over with nobody online: it waits.
    let queued = store
        .transition(
            shop,
            c.id,
            &Transition::Handoff {
                reason: HandoffReason::Asked,
                group: None,
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(queued.conversation.state, ConversationState::Queued);
    assert!(store.route_queue(shop, now()).await.unwrap().is_empty());
    assert_eq!(store.queued_conversations(shop).await.unwrap().len(), 1);
    store
        .append_event(shop, c.id, &say(Sender::Buyer, Some("m2"), "人呢"))
        .await
        .unwrap();

    store
        .set_presence(shop, agents[0], Presence::Online, now())
        .await
        .unwrap();
    let routed = store.route_queue(shop, now()).await.unwrap();
    assert_eq!(routed.len(), 1);
    assert_eq!(routed[0].conversation.agent_id, Some(agents[0]));
    assert!(matches!(routed[0].event.body, EventBody::Assigned { agent_id, .. } if agent_id == agents[0]));

    // Only the chat's agent may write in it.
    let not_yours = store
        .append_event(shop, c.id, &say(Sender::Agent(agents[1]), Some("a1"), "您好"))
        .await;
    assert!(matches!(not_yours, Err(StoreError::Refused(_))));
    let reply = store
        .append_event(shop, c.id, &say(Sender::Agent(agents[0]), Some("a1"), "亲，在的"))
        .await
        .unwrap();
    assert!(!reply.conversation.agent_answered || reply.conversation.buyer_waiting_since.is_none());
    let all = store.events_after(shop, c.id, 0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=all.len() as i64).collect::<Vec<_>>()
    );
    assert_eq!(all.len(), 6);
    assert_eq!(store.events_after(shop, c.id, 4, 100).await.unwrap().len(), 2);
    let kinds: Vec<String> = store
        .stat_events(shop, at(1, 0))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.kind)
        .collect();
    for k in ["received", "assigned", "first_response", "reply_wait"] {
        assert!(kinds.iter().any(|x| x == k), "stat {k} recorded: {kinds:?}");
    }

    store.mark_read(shop, c.id, true, 6).await.unwrap();
    store.mark_read(shop, c.id, true, 3).await.unwrap();
    store.mark_read(shop, c.id, true, 99).await.unwrap();
    assert_eq!(
        store.conversation(shop, c.id).await.unwrap().unwrap().agent_read_seq,
        6,
        "never back, never past the end"
    );

    // Another shop sees nothing of it and can change nothing.
    assert!(store.conversation(other, c.id).await.unwrap().is_none());
    assert!(matches!(
        store.append_event(other, c.id, &say(Sender::Buyer, None, "x")).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.events_after(other, c.id, 0, 100).await.unwrap().is_empty());
    assert!(matches!(
        store.set_presence(other, agents[0], Presence::Online, now()).await,
        Err(StoreError::NotFound)
    ));

    let closed = store
        .transition(
            shop,
            c.id,
            &Transition::Close {
                reason: ChatClose::Agent,
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(closed.conversation.state, ConversationState::Closed);
    assert!(matches!(
        store
            .append_event(shop, c.id, &say(Sender::Buyer, None, "还在吗"))
            .await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store
            .transition(
                shop,
                c.id,
                &Transition::Close {
                    reason: ChatClose::Idle
                },
                now()
            )
            .await,
        Err(StoreError::Refused(_))
    ));
    let reopened = store.transition(shop, c.id, &Transition::Reopen, now()).await.unwrap();
    assert_eq!(
        (reopened.conversation.state, reopened.conversation.agent_id),
        (ConversationState::Bot, None)
    );
    assert_eq!(
        store.visitor_conversation(shop, &c.visitor).await.unwrap().unwrap().id,
        c.id
    );
    assert!(store.agent_loads(shop).await.unwrap().iter().all(|a| a.load == 0));
}
contract!(chat_lifecycle_and_retries);

async fn routing_holds_under_concurrent_handovers(store: Arc<dyn Store>) {
    let (shop, agents) = chat_shop(
        &store,
        "chat-rush",
        &[("a1", None, 2), ("a2", None, 3), ("a3", None, 4)],
    )
    .await;
    store
        .set_presence(shop, agents[0], Presence::Online, now())
        .await
        .unwrap();
    store
        .set_presence(shop, agents[1], Presence::Online, now())
        .await
        .unwrap();
    store
        .set_presence(shop, agents[2], Presence::Suspended, now())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let c = new_chat(&store, shop, None).await;
            // Concurrent messages and hand-overs: sequence numbers stay gapless.
            let message = say(Sender::Buyer, Some("x"), "转人工");
            let (a, b) = tokio::join!(
                store.append_event(shop, c.id, &message),
                store.transition(
                    shop,
                    c.id,
                    &Transition::Handoff {
                        reason: HandoffReason::Asked,
                        group: None
                    },
                    now()
                ),
            );
            a.unwrap();
            b.unwrap();
            store.route_queue(shop, now()).await.unwrap();
            c.id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let loads = store.agent_loads(shop).await.unwrap();
    let load = |a: AccountId| loads.iter().find(|l| l.account_id == a).unwrap().load;
    assert_eq!(
        (load(agents[0]), load(agents[1]), load(agents[2])),
        (2, 3, 0),
        "full, full, suspended"
    );
    let mut assigned = 0;
    for id in &ids {
        let events = store.events_after(shop, *id, 0, 100).await.unwrap();
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=events.len() as i64).collect::<Vec<_>>()
        );
        let assignments = events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Assigned { .. }))
            .count();
        assert!(assignments <= 1, "never two agents for one chat");
        assigned += assignments;
    }
    assert_eq!(assigned, 5);
    assert_eq!(store.queued_conversations(shop).await.unwrap().len(), 11);

    // A freed slot takes the head of the queue; resuming brings the suspended agent work.
    let head = store.queued_conversations(shop).await.unwrap()[0].id;
    let mine = store.agent_conversations(shop, agents[0]).await.unwrap();
    store
        .transition(
            shop,
            mine[0].id,
            &Transition::Close {
                reason: ChatClose::Agent,
            },
            now(),
        )
        .await
        .unwrap();
    let routed = store.route_queue(shop, now()).await.unwrap();
    assert_eq!(routed.len(), 1);
    assert_eq!(
        (routed[0].conversation.id, routed[0].conversation.agent_id),
        (head, Some(agents[0]))
    );
    store
        .set_presence(shop, agents[2], Presence::Online, now())
        .await
        .unwrap();
    assert_eq!(store.route_queue(shop, now()).await.unwrap().len(), 4);
    assert_eq!(store.queued_conversations(shop).await.unwrap().len(), 6);
}
contract!(routing_holds_under_concurrent_handovers);

async fn skill_groups_suspend_and_transfer(store: Arc<dyn Store>) {
    let (shop, agents) = chat_shop(
        &store,
        "chat-skills",
        &[("pre", Some("售前"), 5), ("after", Some("售后"), 1), ("off", None, 5)],
    )
    .await;
    for (a, p) in [(agents[0], Presence::Online), (agents[1], Presence::Online)] {
        store.set_presence(shop, a, p, now()).await.unwrap();
    }
    let c = new_chat(&store, shop, Some("售后")).await;
    store
        .transition(
            shop,
            c.id,
            &Transition::Handoff {
                reason: HandoffReason::Failures,
                group: None,
            },
            now(),
        )
        .await
        .unwrap();
    let routed = store.route_queue(shop, now()).await.unwrap();
    assert_eq!(
        routed[0].conversation.agent_id,
        Some(agents[1]),
        "售后 chats go to 售后"
    );

    // The 售后 agent is full: another 售后 chat waits although 售前 has room.
    let d = new_chat(&store, shop, Some("售后")).await;
    store
        .transition(
            shop,
            d.id,
            &Transition::Handoff {
                reason: HandoffReason::Asked,
                group: None,
            },
            now(),
        )
        .await
        .unwrap();
    assert!(store.route_queue(shop, now()).await.unwrap().is_empty());

    // Suspended, the 售前 agent still serves and still receives transfers.
    store
        .set_presence(shop, agents[0], Presence::Suspended, now())
        .await
        .unwrap();
    let refused = store.transfer(shop, c.id, agents[1], agents[2], "", now()).await;
    assert!(matches!(refused, Err(StoreError::Refused(m)) if m.contains("offline")));
    let moved = store
        .transfer(shop, c.id, agents[1], agents[0], "要换货", now())
        .await
        .unwrap();
    assert_eq!(moved.conversation.agent_id, Some(agents[0]));
    assert!(matches!(&moved.event.body, EventBody::Transferred { note, .. } if note == "要换货"));
    // The slot freed by the transfer goes to the waiting 售后 chat.
    let routed = store.route_queue(shop, now()).await.unwrap();
    assert_eq!(routed.len(), 1);
    assert_eq!(routed[0].conversation.id, d.id);
    let spans = store.stat_events(shop, at(1, 0)).await.unwrap();
    assert!(
        spans
            .iter()
            .any(|s| s.kind == "presence_span" && s.data.as_deref() == Some("online"))
    );
    assert!(spans.iter().any(|s| s.kind == "transferred"));
}
contract!(skill_groups_suspend_and_transfer);

// ---- Chat records search (SPEC §5.5) ----

use kefu_store::MessageSearch;

fn said(sender: Sender, content: Content, when: chrono::DateTime<Utc>) -> NewEvent {
    NewEvent {
        sender,
        client_id: None,
        body: EventBody::Message {
            content,
            compliance: Vec::new(),
        },
        at: when,
    }
}

fn text(t: &str) -> Content {
    Content::Text { text: t.into() }
}

async fn buyer_chat(store: &Arc<dyn Store>, shop: ShopId, nick: &str) -> Conversation {
    let c = Conversation::new(shop, format!("buyer:{nick}"), nick.into(), "web".into(), at(1, 0));
    store.create_conversation(&c).await.unwrap();
    c
}

async fn hand_to(store: &Arc<dyn Store>, shop: ShopId, c: ConversationId, agent: AccountId) {
    store
        .transition(
            shop,
            c,
            &Transition::Handoff {
                reason: HandoffReason::Asked,
                group: None,
            },
            now(),
        )
        .await
        .unwrap();
    let routed = store.route_queue(shop, now()).await.unwrap();
    assert_eq!(routed[0].conversation.agent_id, Some(agent));
}

fn words(terms: &[&str]) -> MessageSearch {
    MessageSearch {
        terms: terms
            .iter()
            .map(|t| kefu_bot::search_terms::query_terms(t).remove(0))
            .collect(),
        limit: 50,
        ..Default::default()
    }
}

async fn texts(store: &Arc<dyn Store>, shop: ShopId, q: &MessageSearch) -> Vec<String> {
    store
        .search_messages(shop, q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.text)
        .collect()
}

async fn chat_records_are_searchable(store: Arc<dyn Store>) {
    let (shop, agents) = chat_shop(&store, "records", &[("a1", None, 5), ("a2", None, 5)]).await;
    let (other, _) = chat_shop(&store, "records-other", &[]).await;
    let wang = buyer_chat(&store, shop, "tb_小王").await;
    let lily = buyer_chat(&store, shop, "tb_lily").await;
    let elsewhere = buyer_chat(&store, other, "tb_小王").await;

    // 小王 talks to the bot, then to a1; kefu's own messages are not records.
    let s = |c: &Conversation, e: NewEvent| {
        let store = store.clone();
        let (shop, id) = (c.shop_id, c.id);
        async move { store.append_event(shop, id, &e).await.unwrap() }
    };
    s(&wang, said(Sender::System, text("欢迎光临，顺丰包邮"), at(1, 9))).await;
    s(&wang, said(Sender::Buyer, text("我想退货，能发顺丰吗？"), at(1, 10))).await;
    let reply = serde_json::json!({"kind": "answer", "text": "亲，退货请用顺丰到付哦"});
    s(&wang, said(Sender::Bot, Content::Bot { reply }, at(1, 11))).await;
    s(
        &wang,
        said(
            Sender::Buyer,
            Content::Image {
                url: "https://img.example.com/顺丰.png".into(),
            },
            at(1, 12),
        ),
    )
    .await;
    store
        .set_presence(shop, agents[0], Presence::Online, now())
        .await
        .unwrap();
    hand_to(&store, shop, wang.id, agents[0]).await;
    s(
        &wang,
        said(Sender::Agent(agents[0]), text("好的，顺丰单号发我一下"), at(2, 10)),
    )
    .await;
    s(&wang, said(Sender::Agent(agents[0]), text("收到了"), at(2, 11))).await;
    // lily talks to a2 (a1 is offline by then).
    store
        .set_presence(shop, agents[0], Presence::Offline, now())
        .await
        .unwrap();
    store
        .set_presence(shop, agents[1], Presence::Online, now())
        .await
        .unwrap();
    s(&lily, said(Sender::Buyer, text("順豐什麼時候到"), at(3, 10))).await;
    hand_to(&store, shop, lily.id, agents[1]).await;
    s(&lily, said(Sender::Agent(agents[1]), text("明天就到"), at(3, 11))).await;
    s(&elsewhere, said(Sender::Buyer, text("顺丰到了吗"), at(3, 12))).await;

    // Words, newest first; traditional characters are found by simplified ones.
    let found = store.search_messages(shop, &words(&["顺丰"])).await.unwrap();
    let got: Vec<&str> = found.items.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        got,
        [
            "順豐什麼時候到",
            "好的，顺丰单号发我一下",
            "亲，退货请用顺丰到付哦",
            "我想退货，能发顺丰吗？"
        ]
    );
    assert_eq!(found.next_cursor, None);
    let first = &found.items[0];
    assert_eq!(
        (
            first.conversation_id,
            first.seq,
            first.sender,
            first.buyer_nick.as_str(),
            first.agent_id,
            first.at
        ),
        (lily.id, 1, Sender::Buyer, "tb_lily", Some(agents[1]), at(3, 10))
    );
    assert_eq!(first.agent_name.as_deref(), Some("a2 客服"));
    assert_eq!(found.items[1].sender, Sender::Agent(agents[0]));
    assert_eq!(found.items[2].sender, Sender::Bot);
    assert_eq!(
        texts(&store, shop, &words(&["退货", "顺丰"])).await,
        ["亲，退货请用顺丰到付哦", "我想退货，能发顺丰吗？"],
        "every term must occur"
    );
    assert!(texts(&store, shop, &words(&["退货", "明天"])).await.is_empty());
    assert!(
        texts(&store, shop, &words(&["欢迎光临"])).await.is_empty(),
        "kefu's own messages are not records"
    );

    // By buyer, with or without words.
    let by = |buyer: &str, terms: &[&str]| MessageSearch {
        buyer: Some(buyer.into()),
        ..words(terms)
    };
    assert_eq!(texts(&store, shop, &by("tb_lily", &["顺丰"])).await, ["順豐什麼時候到"]);
    assert_eq!(
        texts(&store, shop, &by("tb_小王", &[])).await,
        [
            "收到了",
            "好的，顺丰单号发我一下",
            "亲，退货请用顺丰到付哦",
            "我想退货，能发顺丰吗？"
        ]
    );
    assert!(
        texts(&store, shop, &by("tb_小", &[])).await.is_empty(),
        "the nick exactly"
    );

    // By agent: the conversations they were assigned, the bot's part before included.
    let of = |agent: AccountId, terms: &[&str]| MessageSearch {
        agent: Some(agent),
        ..words(terms)
    };
    assert_eq!(
        texts(&store, shop, &of(agents[0], &["顺丰"])).await,
        [
            "好的，顺丰单号发我一下",
            "亲，退货请用顺丰到付哦",
            "我想退货，能发顺丰吗？"
        ]
    );
    assert_eq!(texts(&store, shop, &of(agents[1], &["顺丰"])).await, ["順豐什麼時候到"]);
    // A transfer gives the new agent the conversation too; the old one keeps it.
    store
        .set_presence(shop, agents[0], Presence::Online, now())
        .await
        .unwrap();
    store
        .transfer(shop, lily.id, agents[1], agents[0], "", now())
        .await
        .unwrap();
    assert_eq!(texts(&store, shop, &of(agents[0], &["顺丰"])).await.len(), 4);
    assert_eq!(
        texts(&store, shop, &of(agents[1], &["到"])).await,
        ["明天就到", "順豐什麼時候到"]
    );

    // By time: from inclusive, to exclusive.
    let between = |from: Option<chrono::DateTime<Utc>>, to: Option<chrono::DateTime<Utc>>| MessageSearch {
        from,
        to,
        ..words(&["顺丰"])
    };
    assert_eq!(
        texts(&store, shop, &between(Some(at(2, 10)), None)).await,
        ["順豐什麼時候到", "好的，顺丰单号发我一下"]
    );
    assert_eq!(
        texts(&store, shop, &between(None, Some(at(2, 10)))).await,
        ["亲，退货请用顺丰到付哦", "我想退货，能发顺丰吗？"]
    );
    assert_eq!(
        texts(&store, shop, &between(Some(at(1, 11)), Some(at(3, 10)))).await,
        ["好的，顺丰单号发我一下", "亲，退货请用顺丰到付哦"]
    );
    assert!(
        texts(&store, shop, &between(Some(at(3, 10)), Some(at(3, 10))))
            .await
            .is_empty()
    );
    // A range over several months, and one far wider.
    let wide = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    assert_eq!(
        texts(&store, shop, &between(Some(wide), Some(at(30, 0)))).await.len(),
        4
    );
    let wider = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(texts(&store, shop, &between(Some(wider), None)).await.len(), 4);

    // Pages follow each other without gaps or repeats.
    let mut q = MessageSearch {
        limit: 3,
        ..words(&["顺丰"])
    };
    let page1 = store.search_messages(shop, &q).await.unwrap();
    assert_eq!(page1.items.len(), 3);
    q.cursor = Some(page1.next_cursor.expect("a second page"));
    let page2 = store.search_messages(shop, &q).await.unwrap();
    assert_eq!(
        page2.items.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["我想退货，能发顺丰吗？"]
    );
    assert_eq!(page2.next_cursor, None);
    let mut q = MessageSearch {
        limit: 2,
        ..by("tb_小王", &[])
    };
    let page1 = store.search_messages(shop, &q).await.unwrap();
    q.cursor = page1.next_cursor;
    let page2 = store.search_messages(shop, &q).await.unwrap();
    assert_eq!(
        page2.items.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["亲，退货请用顺丰到付哦", "我想退货，能发顺丰吗？"]
    );

    // Another shop's records are its own.
    assert_eq!(texts(&store, other, &words(&["顺丰"])).await, ["顺丰到了吗"]);
    assert_eq!(texts(&store, other, &by("tb_小王", &[])).await, ["顺丰到了吗"]);
}
contract!(chat_records_are_searchable);

/// Runs a statement behind the store's back, with one id bound if given.
async fn raw(url: &str, sql: &'static str, id: Option<uuid::Uuid>) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let mut q = sqlx::query(sql);
        if let Some(id) = id {
            q = q.bind(id);
        }
        q.execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let mut q = sqlx::query(sql);
        if let Some(id) = id {
            q = q.bind(id);
        }
        q.execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// Messages stored before the index existed: migration 0010 lists their conversations, and
/// the store indexes them after opening.
async fn earlier_messages_are_indexed_after_opening(url: String) {
    let store = kefu_store::open(&url).await.unwrap();
    let (shop, agents) = chat_shop(&store, "records-earlier", &[("a1", None, 5), ("a2", None, 5)]).await;
    let c = buyer_chat(&store, shop, "tb_old").await;
    for (i, t) in ["以前的顺丰单号", "还有一个问题"].iter().enumerate() {
        store
            .append_event(shop, c.id, &said(Sender::Buyer, text(t), at(1, i as u32)))
            .await
            .unwrap();
    }
    assert_eq!(texts(&store, shop, &words(&["顺丰"])).await.len(), 1);
    // Assigned to a1, transferred to a2 (who had the chat is also made from earlier events).
    store
        .set_presence(shop, agents[0], Presence::Online, now())
        .await
        .unwrap();
    let d = buyer_chat(&store, shop, "tb_other").await;
    hand_to(&store, shop, d.id, agents[0]).await;
    store
        .set_presence(shop, agents[1], Presence::Online, now())
        .await
        .unwrap();
    store
        .transfer(shop, d.id, agents[0], agents[1], "", now())
        .await
        .unwrap();
    let had = |agent: AccountId| MessageSearch {
        agent: Some(agent),
        buyer: Some("tb_other".into()),
        ..words(&[])
    };
    store
        .append_event(shop, d.id, &said(Sender::Agent(agents[1]), text("您好"), at(1, 3)))
        .await
        .unwrap();
    assert_eq!(texts(&store, shop, &had(agents[0])).await, ["您好"]);
    drop(store);
    let migration = if url.starts_with("sqlite:") {
        include_str!("../migrations/sqlite/0010_search.sql")
    } else {
        include_str!("../migrations/postgres/0010_search.sql")
    };
    let start = migration
        .find("INTO conversation_agents (conversation_id, account_id)\nSELECT")
        .unwrap();
    let start = migration[..start].rfind("INSERT").unwrap();
    let end = start + migration[start..].find(';').unwrap();
    let statement: &'static str = Box::leak(migration[start..end].to_string().into_boxed_str());
    raw(&url, "DELETE FROM conversation_agents", None).await;
    let store = kefu_store::open(&url).await.unwrap();
    assert!(texts(&store, shop, &had(agents[0])).await.is_empty());
    drop(store);
    raw(&url, statement, None).await;
    let store = kefu_store::open(&url).await.unwrap();
    assert_eq!(texts(&store, shop, &had(agents[0])).await, ["您好"]);
    assert_eq!(texts(&store, shop, &had(agents[1])).await, ["您好"]);
    drop(store);
    // As the migration leaves a database of that time: no index rows, the conversation listed.
    let forget = if url.starts_with("sqlite:") {
        "INSERT INTO message_search (message_search) VALUES ('delete-all')"
    } else {
        "DELETE FROM message_search"
    };
    let list = "INSERT INTO search_backfill (conversation_id, up_to_seq) VALUES ($1, 2)";
    raw(&url, forget, None).await;
    let store = kefu_store::open(&url).await.unwrap();
    assert!(texts(&store, shop, &words(&["顺丰"])).await.is_empty(), "forgotten");
    drop(store);
    raw(&url, list, Some(c.id.0)).await;
    let store = kefu_store::open(&url).await.unwrap();
    for _ in 0..100 {
        if !texts(&store, shop, &words(&["顺丰"])).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(texts(&store, shop, &words(&["顺丰"])).await, ["以前的顺丰单号"]);
    assert_eq!(texts(&store, shop, &words(&["问题"])).await, ["还有一个问题"]);
    // Messages after it are indexed as they come, once.
    store
        .append_event(shop, c.id, &said(Sender::Buyer, text("新的顺丰单号"), at(1, 5)))
        .await
        .unwrap();
    assert_eq!(
        texts(&store, shop, &words(&["顺丰"])).await,
        ["新的顺丰单号", "以前的顺丰单号"]
    );
    drop(store);

    // The index was made by other search terms: everything is indexed again, once.
    raw(&url, forget, None).await;
    raw(&url, "UPDATE search_meta SET terms_version = 0", None).await;
    let store = kefu_store::open(&url).await.unwrap();
    for _ in 0..100 {
        if texts(&store, shop, &words(&["顺丰"])).await.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        texts(&store, shop, &words(&["顺丰"])).await,
        ["新的顺丰单号", "以前的顺丰单号"]
    );
    assert_eq!(texts(&store, shop, &had(agents[1])).await, ["您好"]);
    drop(store);
    let store = kefu_store::open(&url).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        texts(&store, shop, &words(&["单号"])).await,
        ["新的顺丰单号", "以前的顺丰单号"],
        "not again"
    );
}

mod earlier_messages_are_indexed_after_opening {
    #[tokio::test]
    async fn sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kefu.db").display());
        super::earlier_messages_are_indexed_after_opening(url).await;
    }
    #[tokio::test]
    async fn postgres() {
        let url = kefu_store::testing::scratch_postgres().await.unwrap();
        let outcome = tokio::spawn(super::earlier_messages_are_indexed_after_opening(url.clone())).await;
        kefu_store::testing::drop_postgres(&url).await.unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

fn phrase(
    shop: ShopId,
    owner: Option<AccountId>,
    group: &str,
    shortcut: Option<&str>,
    text: &str,
    position: i64,
) -> QuickPhrase {
    QuickPhrase {
        id: PhraseId::new(),
        shop_id: shop,
        owner,
        group: group.into(),
        shortcut: shortcut.map(str::to_string),
        text: text.into(),
        position,
        created_at: now(),
        updated_at: now(),
    }
}

/// The texts of a scope's group, in order, checking positions are 0, 1, 2 …
async fn group_texts(
    store: &dyn Store,
    shop: ShopId,
    viewer: AccountId,
    owner: Option<AccountId>,
    group: &str,
) -> Vec<String> {
    let phrases: Vec<QuickPhrase> = store
        .quick_phrases(shop, viewer)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.owner == owner && p.group == group)
        .collect();
    let positions: Vec<i64> = phrases.iter().map(|p| p.position).collect();
    assert_eq!(positions, (0..phrases.len() as i64).collect::<Vec<_>>(), "{group}");
    phrases.into_iter().map(|p| p.text).collect()
}

async fn quick_phrases_keep_their_order_and_scope(store: Arc<dyn Store>) {
    let mut a = new_shop("shop-a");
    let xm = account(a.shop.id, "xiaomei", Role::Agent);
    let xy = account(a.shop.id, "xiaoyu", Role::Agent);
    a.accounts.push((xm.clone(), "$argon2id$fake".into()));
    a.accounts.push((xy.clone(), "$argon2id$fake".into()));
    let b = new_shop("shop-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let shop = a.shop.id;
    let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Appending, and inserting at a place: the others move down.
    for t in ["A", "B", "C"] {
        let p = store
            .create_quick_phrase(&phrase(shop, None, "售前", None, t, i64::MAX))
            .await
            .unwrap();
        assert_eq!(p.text, t);
    }
    let x = store
        .create_quick_phrase(&phrase(shop, None, "售前", Some("sc"), "X", 1))
        .await
        .unwrap();
    assert_eq!(x.position, 1);
    let f = store
        .create_quick_phrase(&phrase(shop, None, "售前", None, "F", -3))
        .await
        .unwrap();
    assert_eq!(f.position, 0);
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "售前").await,
        texts(&["F", "A", "X", "B", "C"])
    );
    store
        .create_quick_phrase(&phrase(shop, None, "物流", Some("fh"), "已发货", 0))
        .await
        .unwrap();
    let mine = store
        .create_quick_phrase(&phrase(shop, Some(xm.id), "售前", Some("sc"), "小美的实拍说明", 0))
        .await
        .unwrap();
    assert_eq!(mine.position, 0, "a personal group is numbered on its own");

    // Team first, by group and position; another agent never sees xiaomei's own.
    let listed = store.quick_phrases(shop, xm.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
        vec!["F", "A", "X", "B", "C", "已发货", "小美的实拍说明"]
    );
    assert_eq!(store.quick_phrases(shop, xy.id).await.unwrap().len(), 6);
    assert_eq!(store.quick_phrase(shop, mine.id).await.unwrap().unwrap(), mine);

    // Shortcuts: unique per scope; an agent's own shadows the team's.
    assert!(matches!(
        store
            .create_quick_phrase(&phrase(shop, None, "售后", Some("sc"), "重复", 0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_quick_phrase(&phrase(shop, Some(xm.id), "售后", Some("sc"), "重复", 0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let got = |account: AccountId, sc: &'static str| {
        let store = store.clone();
        async move {
            store
                .quick_phrase_by_shortcut(shop, account, sc)
                .await
                .unwrap()
                .map(|p| p.text)
        }
    };
    assert_eq!(got(xm.id, "sc").await.as_deref(), Some("小美的实拍说明"));
    assert_eq!(got(xy.id, "sc").await.as_deref(), Some("X"));
    assert_eq!(got(xm.id, "fh").await.as_deref(), Some("已发货"));
    assert_eq!(got(xm.id, "nope").await, None);
    // Another agent may have the same shortcut for their own.
    store
        .create_quick_phrase(&phrase(shop, Some(xy.id), "售前", Some("sc"), "小鱼的", 0))
        .await
        .unwrap();
    assert_eq!(got(xy.id, "sc").await.as_deref(), Some("小鱼的"));

    // Moving: the first up and the last down stay; otherwise it swaps with its neighbour.
    let first = store.move_quick_phrase(shop, f.id, Direction::Up).await.unwrap();
    assert_eq!((first.text.as_str(), first.position), ("F", 0));
    let moved = store.move_quick_phrase(shop, x.id, Direction::Up).await.unwrap();
    assert_eq!(moved.position, 1);
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "售前").await,
        texts(&["F", "X", "A", "B", "C"])
    );
    let moved = store.move_quick_phrase(shop, f.id, Direction::Down).await.unwrap();
    assert_eq!(moved.position, 1);
    let c = listed.iter().find(|p| p.text == "C").unwrap().clone();
    assert_eq!(
        store
            .move_quick_phrase(shop, c.id, Direction::Down)
            .await
            .unwrap()
            .position,
        4
    );
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "售前").await,
        texts(&["X", "F", "A", "B", "C"])
    );

    // Editing in place, moving to a place, and to another group (no gap left behind).
    let a_phrase = listed.iter().find(|p| p.text == "A").unwrap().clone();
    let edited = store
        .update_quick_phrase(&QuickPhrase {
            text: "A2".into(),
            shortcut: Some("aa".into()),
            position: 2,
            updated_at: now(),
            ..a_phrase.clone()
        })
        .await
        .unwrap();
    assert_eq!((edited.position, edited.created_at), (2, a_phrase.created_at));
    let edited = store
        .update_quick_phrase(&QuickPhrase { position: 0, ..edited })
        .await
        .unwrap();
    assert_eq!(edited.position, 0);
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "售前").await,
        texts(&["A2", "X", "F", "B", "C"])
    );
    let edited = store
        .update_quick_phrase(&QuickPhrase {
            group: "物流".into(),
            position: i64::MAX,
            ..edited
        })
        .await
        .unwrap();
    assert_eq!(edited.position, 1);
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "售前").await,
        texts(&["X", "F", "B", "C"])
    );
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "物流").await,
        texts(&["已发货", "A2"])
    );
    // The owner stays as stored: an update cannot turn a team phrase into someone's own.
    let kept = store
        .update_quick_phrase(&QuickPhrase {
            owner: Some(xm.id),
            ..edited.clone()
        })
        .await
        .unwrap();
    assert_eq!(kept.owner, None);
    assert!(matches!(
        store
            .update_quick_phrase(&QuickPhrase {
                shortcut: Some("fh".into()),
                ..edited.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Deleting closes the gap.
    store.delete_quick_phrase(shop, f.id).await.unwrap();
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "售前").await,
        texts(&["X", "B", "C"])
    );
    assert!(matches!(
        store.delete_quick_phrase(shop, f.id).await,
        Err(StoreError::NotFound)
    ));

    // Another shop reaches none of it.
    let other = b.shop.id;
    let b_owner = b.accounts[0].0.id;
    assert!(store.quick_phrase(other, x.id).await.unwrap().is_none());
    assert!(store.quick_phrases(other, b_owner).await.unwrap().is_empty());
    assert!(
        store
            .quick_phrase_by_shortcut(other, b_owner, "sc")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.delete_quick_phrase(other, x.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.move_quick_phrase(other, x.id, Direction::Down).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .update_quick_phrase(&QuickPhrase {
                shop_id: other,
                text: "被改了".into(),
                ..x.clone()
            })
            .await,
        Err(StoreError::NotFound)
    ));
    // A phrase cannot be given to another shop's account.
    assert!(matches!(
        store
            .create_quick_phrase(&phrase(other, Some(xm.id), "售前", None, "越界", 0))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.quick_phrase(shop, x.id).await.unwrap().unwrap().text, "X");

    // An account's own phrases go with it.
    store.delete_account(shop, xm.id).await.unwrap();
    assert!(store.quick_phrase(shop, mine.id).await.unwrap().is_none());
}
contract!(quick_phrases_keep_their_order_and_scope);

fn phrase_row(group: &str, shortcut: Option<&str>, text: &str) -> PhraseRow {
    PhraseRow {
        group: group.into(),
        shortcut: shortcut.map(str::to_string),
        text: text.into(),
    }
}

async fn quick_phrase_imports_are_all_or_nothing(store: Arc<dyn Store>) {
    let mut a = new_shop("shop-a");
    let xm = account(a.shop.id, "xiaomei", Role::Agent);
    a.accounts.push((xm.clone(), "$argon2id$fake".into()));
    let b = new_shop("shop-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let shop = a.shop.id;
    let kept = store
        .create_quick_phrase(&phrase(shop, None, "售前", Some("sc"), "实物拍摄", 0))
        .await
        .unwrap();
    store
        .create_quick_phrase(&phrase(shop, Some(xm.id), "售前", Some("sc"), "我的", 0))
        .await
        .unwrap();

    let rows = vec![
        phrase_row("售前", Some("sc"), "亲,都是实物拍摄哦"),
        phrase_row("售前", None, "在的亲"),
        phrase_row("物流", Some("fh"), "{买家昵称}您好,您的订单{订单号}已发货"),
    ];
    let s = store
        .import_quick_phrases(shop, None, &rows, false, now())
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.deleted), (2, 1, 0));
    let after = store.quick_phrase(shop, kept.id).await.unwrap().unwrap();
    assert_eq!(after.text, "亲,都是实物拍摄哦");
    assert_eq!(
        group_texts(&*store, shop, xm.id, None, "售前").await,
        vec!["亲,都是实物拍摄哦", "在的亲"]
    );
    // Importing the same again changes nothing.
    let s = store
        .import_quick_phrases(shop, None, &rows, false, now())
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.deleted), (0, 0, 0));
    // The agent's own phrases are another scope: untouched by the team's import.
    assert_eq!(
        group_texts(&*store, shop, xm.id, Some(xm.id), "售前").await,
        vec!["我的"]
    );

    // A failing import (two rows with one shortcut) changes nothing.
    let before = store.quick_phrases(shop, xm.id).await.unwrap();
    let bad = vec![
        phrase_row("售后", Some("th"), "退货"),
        phrase_row("售后", Some("th"), "换货"),
    ];
    assert!(store.import_quick_phrases(shop, None, &bad, true, now()).await.is_err());
    assert!(
        store
            .import_quick_phrases(shop, None, &bad, false, now())
            .await
            .is_err()
    );
    assert_eq!(store.quick_phrases(shop, xm.id).await.unwrap(), before);

    // Replacing the agent's own: exactly the file, the team's untouched.
    let s = store
        .import_quick_phrases(
            shop,
            Some(xm.id),
            &[
                phrase_row("售后", Some("th"), "退货请联系我"),
                phrase_row("售后", None, "二"),
            ],
            true,
            now(),
        )
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.deleted), (2, 0, 1));
    let listed = store.quick_phrases(shop, xm.id).await.unwrap();
    let own: Vec<&str> = listed
        .iter()
        .filter(|p| p.owner.is_some())
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(own, vec!["退货请联系我", "二"]);
    assert_eq!(listed.iter().filter(|p| p.owner.is_none()).count(), 3);

    // Not into another shop's account, nor seen there.
    assert!(matches!(
        store
            .import_quick_phrases(b.shop.id, Some(xm.id), &rows, false, now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .quick_phrases(b.shop.id, b.accounts[0].0.id)
            .await
            .unwrap()
            .is_empty()
    );
}
contract!(quick_phrase_imports_are_all_or_nothing);

/// Agents inserting into one group at once each get a place of their own.
async fn concurrent_phrase_inserts_keep_places_dense(store: Arc<dyn Store>) {
    let a = new_shop("shop-a");
    store.create_shop(&a).await.unwrap();
    let (shop, owner) = (a.shop.id, a.accounts[0].0.id);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_quick_phrase(&phrase(shop, None, "售前", None, &format!("短语{i}"), i % 3))
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let texts = group_texts(&*store, shop, owner, None, "售前").await;
    assert_eq!(texts.len(), 16);
}
contract!(concurrent_phrase_inserts_keep_places_dense);

/// Orders and cases save only at the version they were read at: of two agents (or two nodes'
/// jobs) acting at once, one wins and the other is told to read again; the loser writes
/// nothing, not even its record. A refund that closes the trade is one transaction with it.
async fn order_saves_are_versioned_and_whole(store: Arc<dyn Store>) {
    use kefu_core::aftersales::{AfterSalesKind, AfterSalesReason, AfterSalesTicket, TicketAction, TicketRequest};
    use kefu_core::order::{Actor, OrderAction};
    let new = new_shop("orders");
    let shop = new.shop.id;
    store.create_shop(&new).await.unwrap();
    store.import_catalog(shop, &catalog(shop)).await.unwrap();
    let settings = ShopSettings::default();
    let staff = Actor::Staff {
        account_id: AccountId::new(),
        role: Role::Agent,
    };
    let unpaid = store
        .order_details(
            shop,
            &OrderQuery {
                state: Some(OrderState::AwaitingPayment),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
        .remove(0);
    let read = store.order_detail(shop, unpaid.order.id).await.unwrap().unwrap();
    assert_eq!(read.value, unpaid);
    let memo = |m: &str| OrderAction::SetMemo { memo: m.into() };
    let first = read.value.apply(&memo("甲"), staff, &settings, now()).unwrap();
    let second = read.value.apply(&memo("乙"), staff, &settings, now()).unwrap();
    store.save_order(shop, &first, read.version).await.unwrap();
    assert!(matches!(
        store.save_order(shop, &second, read.version).await,
        Err(StoreError::Stale)
    ));
    let now_stored = store.order_detail(shop, unpaid.order.id).await.unwrap().unwrap();
    assert_eq!(now_stored.value.seller_memo, "甲");
    assert_eq!(now_stored.version, read.version + 1);
    assert_eq!(store.order_records(shop, unpaid.order.id).await.unwrap().len(), 1);
    // Another shop cannot save it.
    let other = new_shop("orders-other");
    store.create_shop(&other).await.unwrap();
    let again = now_stored.value.apply(&memo("丙"), staff, &settings, now()).unwrap();
    assert!(matches!(
        store.save_order(other.shop.id, &again, now_stored.version).await,
        Err(StoreError::Stale)
    ));
    assert!(
        store
            .order_detail(other.shop.id, unpaid.order.id)
            .await
            .unwrap()
            .is_none()
    );

    // A paid order's full refund: the case and the trade's close in one go.
    let paid = store
        .order_details(
            shop,
            &OrderQuery {
                state: Some(OrderState::Paid),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    let Some(paid) = paid.into_iter().next() else { return };
    let total = paid.order.total().unwrap();
    let req = TicketRequest {
        kind: AfterSalesKind::RefundOnly,
        reason: AfterSalesReason::Unwanted,
        amount: total,
        description: String::new(),
    };
    let (ticket, step) = AfterSalesTicket::request(&req, &paid, staff, None, Fen(0), now()).unwrap();
    store.save_after_sales(shop, &ticket, &step, None, None).await.unwrap();
    let (twin, twin_step) = AfterSalesTicket::request(&req, &paid, staff, None, Fen(0), now()).unwrap();
    assert!(
        matches!(
            store.save_after_sales(shop, &twin, &twin_step, None, None).await,
            Err(StoreError::Refused(_))
        ),
        "one open case per order"
    );
    let stored = store.after_sales(shop, ticket.id).await.unwrap().unwrap();
    let (agreed, step) = stored
        .value
        .apply(&TicketAction::Agree, staff, &paid.order, Fen(0), now())
        .unwrap();
    store
        .save_after_sales(shop, &agreed, &step, Some(stored.version), None)
        .await
        .unwrap();
    let (refunded, step) = agreed
        .apply(&TicketAction::Refund, staff, &paid.order, Fen(0), now())
        .unwrap();
    assert!(step.refund.unwrap().close_trade.is_some());
    let order = store.order_detail(shop, paid.order.id).await.unwrap().unwrap();
    let close = order
        .value
        .apply(&OrderAction::CloseRefunded, staff, &settings, now())
        .unwrap();
    // A stale order version fails the whole step: the case stays agreed.
    let stale = store
        .save_after_sales(
            shop,
            &refunded,
            &step,
            Some(stored.version + 1),
            Some((&close, order.version + 5)),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Stale)));
    assert_eq!(
        store.after_sales(shop, ticket.id).await.unwrap().unwrap().value.state,
        agreed.state
    );
    assert_eq!(store.refunded(shop, paid.order.id, None).await.unwrap(), Fen(0));
    store
        .save_after_sales(
            shop,
            &refunded,
            &step,
            Some(stored.version + 1),
            Some((&close, order.version)),
        )
        .await
        .unwrap();
    assert_eq!(store.refunded(shop, paid.order.id, None).await.unwrap(), total);
    assert_eq!(
        store.refunded(shop, paid.order.id, Some(ticket.id)).await.unwrap(),
        Fen(0)
    );
    let closed = store.order_detail(shop, paid.order.id).await.unwrap().unwrap().value;
    assert_eq!(
        (closed.order.state, closed.order.close_reason),
        (OrderState::Closed, Some(CloseReason::Refunded))
    );
    assert_eq!(store.after_sales_steps(shop, ticket.id).await.unwrap().len(), 3);
}
contract!(order_saves_are_versioned_and_whole);

// ---- Customers, outreach, audit and payment reminders (SPEC §3, §4.7) ----

use kefu_core::customers::AuditKind;
use kefu_core::reminders::UnpaidReason;
use kefu_store::{
    AuditEntry, AuditQuery, CustomerFilter, CustomerGroup, CustomerNote, NewOutreach, NewReminder, REFUSED_CAP_REACHED,
    REFUSED_NOT_AWAITING, REFUSED_OPTED_OUT,
};

/// A shop with the small catalog; returns it and the catalog.
async fn shop_with_catalog(store: &Arc<dyn Store>, slug: &str) -> (ShopId, Catalog) {
    let mut s = new_shop(slug);
    s.catalog = catalog(s.shop.id);
    store.create_shop(&s).await.unwrap();
    (s.shop.id, s.catalog)
}

async fn customers_have_facts_tags_notes_and_groups(store: Arc<dyn Store>) {
    let (shop, cat) = shop_with_catalog(&store, "cust-a").await;
    let (other, other_cat) = shop_with_catalog(&store, "cust-b").await;
    let (wang, lily) = (&cat.customers[0], &cat.customers[1]);

    // A signed buyer's chat: visitor buyer:<nick>, with product cards from both sides.
    let mut c = Conversation::new(shop, "buyer:tb_小王".into(), "tb_小王".into(), "web".into(), at(2, 1));
    c.last_activity_at = at(2, 1);
    store.create_conversation(&c).await.unwrap();
    for (sender, sku, hour) in [
        (Sender::Buyer, "SKU-2", 2),
        (Sender::System, "SKU-3", 3),
        (Sender::Buyer, "SKU-2", 4),
    ] {
        let e = NewEvent {
            sender,
            client_id: None,
            body: EventBody::message(Content::Product {
                sku: sku.into(),
                card: None,
            }),
            at: at(2, hour),
        };
        store.append_event(shop, c.id, &e).await.unwrap();
    }
    assert_eq!(
        store.asked_about(shop, wang.id).await.unwrap(),
        vec![cat.products[1].id, cat.products[2].id]
    );
    assert!(store.asked_about(shop, lily.id).await.unwrap().is_empty());
    assert!(store.asked_about(other, wang.id).await.unwrap().is_empty());

    let all = store.customer_facts(shop, &CustomerFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let w = all.iter().find(|f| f.customer.id == wang.id).unwrap();
    assert_eq!(w.first_contact, Some(at(2, 1)));
    assert_eq!(w.last_contact, Some(at(2, 4)));
    assert_eq!(
        w.order_states,
        vec![OrderState::AwaitingPayment, OrderState::Shipped, OrderState::Closed]
    );
    let l = all.iter().find(|f| f.customer.id == lily.id).unwrap();
    assert!(!l.chatted());
    assert_eq!(l.order_states, vec![OrderState::Paid, OrderState::Completed]);

    // ensure_customer makes a chatting stranger a customer, once.
    let new = store.ensure_customer(shop, "tb_新客", now()).await.unwrap();
    assert_eq!(store.ensure_customer(shop, "tb_新客", now()).await.unwrap(), new);
    assert_eq!(
        store.customer_by_nick(shop, "tb_新客").await.unwrap(),
        Some(new.clone())
    );
    assert_eq!(
        store.customer_by_nick(shop, "tb_新").await.unwrap(),
        None,
        "the exact nick only"
    );
    assert_eq!((new.name.as_str(), new.phone.as_str()), ("", ""));
    assert_eq!(
        store
            .customer_facts(shop, &CustomerFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );

    // Tags: replaced as a set; filter by tag and text.
    store
        .set_customer_tags(shop, wang.id, &["老客户".into(), "讲价型".into()])
        .await
        .unwrap();
    store
        .set_customer_tags(shop, wang.id, &["老客户".into()])
        .await
        .unwrap();
    store
        .set_customer_tags(shop, lily.id, &["老客户".into()])
        .await
        .unwrap();
    assert!(matches!(
        store.set_customer_tags(other, wang.id, &["x".into()]).await,
        Err(StoreError::NotFound)
    ));
    let tagged = |tag: &str| CustomerFilter {
        tag: Some(tag.into()),
        ..Default::default()
    };
    assert_eq!(store.customer_facts(shop, &tagged("老客户")).await.unwrap().len(), 2);
    assert!(store.customer_facts(shop, &tagged("讲价型")).await.unwrap().is_empty());
    let by_text = CustomerFilter {
        text: Some("lily".into()),
        ..Default::default()
    };
    let found = store.customer_facts(shop, &by_text).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tags, vec!["老客户"]);

    // Notes: appended, oldest first; never onto another shop's buyer.
    for (i, text) in ["问过80码", "答应到货通知"].iter().enumerate() {
        let n = CustomerNote {
            id: uuid::Uuid::now_v7(),
            customer_id: wang.id,
            author_id: None,
            author_name: "小美".into(),
            text: text.to_string(),
            created_at: at(3, i as u32),
        };
        store.add_customer_note(shop, &n).await.unwrap();
    }
    let foreign = CustomerNote {
        id: uuid::Uuid::now_v7(),
        customer_id: other_cat.customers[0].id,
        author_id: None,
        author_name: "小美".into(),
        text: "x".into(),
        created_at: now(),
    };
    assert!(matches!(
        store.add_customer_note(shop, &foreign).await,
        Err(StoreError::NotFound)
    ));
    let notes = store.customer_notes(shop, wang.id).await.unwrap();
    assert_eq!(
        notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        ["问过80码", "答应到货通知"]
    );
    assert!(store.customer_notes(other, wang.id).await.unwrap().is_empty());

    // Custom groups: names unique per shop; members all or nothing.
    let group = CustomerGroup {
        id: CustomerGroupId::new(),
        shop_id: shop,
        name: "双十一回访".into(),
        created_at: now(),
        members: 0,
    };
    store.create_customer_group(&group).await.unwrap();
    let twin = CustomerGroup {
        id: CustomerGroupId::new(),
        ..group.clone()
    };
    assert!(matches!(
        store.create_customer_group(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    let elsewhere = CustomerGroup {
        id: CustomerGroupId::new(),
        shop_id: other,
        ..group.clone()
    };
    store.create_customer_group(&elsewhere).await.unwrap();
    store
        .change_group_members(shop, group.id, &[wang.id, lily.id], &[], now())
        .await
        .unwrap();
    // Another shop's buyer in the list: nothing changes.
    assert!(matches!(
        store
            .change_group_members(shop, group.id, &[new.id, other_cat.customers[0].id], &[wang.id], now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.change_group_members(other, group.id, &[], &[], now()).await,
        Err(StoreError::NotFound)
    ));
    store
        .change_group_members(shop, group.id, &[lily.id], &[wang.id], now())
        .await
        .unwrap();
    let groups = store.customer_groups(shop).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].members, 1);
    let in_group = CustomerFilter {
        custom_group: Some(group.id),
        ..Default::default()
    };
    let members = store.customer_facts(shop, &in_group).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].customer.id, lily.id);
    assert_eq!(members[0].custom_groups, vec![group.id]);
    assert!(matches!(
        store.rename_customer_group(other, group.id, "x").await,
        Err(StoreError::NotFound)
    ));
    store.rename_customer_group(shop, group.id, "回访").await.unwrap();
    assert_eq!(store.customer_groups(shop).await.unwrap()[0].name, "回访");
    assert!(matches!(
        store.delete_customer_group(other, group.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_customer_group(shop, group.id).await.unwrap();
    assert!(store.customer_groups(shop).await.unwrap().is_empty());
    assert_eq!(store.customer_groups(other).await.unwrap().len(), 1);
}
contract!(customers_have_facts_tags_notes_and_groups);

async fn outreach_is_capped_and_opt_outs_hold(store: Arc<dyn Store>) {
    let (shop, cat) = shop_with_catalog(&store, "reach-a").await;
    let (other, _) = shop_with_catalog(&store, "reach-b").await;
    let (wang, lily) = (&cat.customers[0], &cat.customers[1]);
    let send = |customer: CustomerId, hour: u32, max: u8| NewOutreach {
        customer,
        text: "亲,您看过的宝贝今天特价哦".into(),
        by: None,
        at: at(10, hour),
        max,
        since: at(10, hour) - Duration::days(7),
    };
    // Lily never chatted: the message opens a closed conversation she sees when she comes.
    let a = store.send_outreach(shop, &send(lily.id, 2, 2)).await.unwrap();
    assert_eq!(a.conversation.visitor, "buyer:tb_lily");
    assert_eq!(a.conversation.state, ConversationState::Closed);
    assert_eq!(a.event.sender, Sender::System);
    let b = store.send_outreach(shop, &send(lily.id, 3, 2)).await.unwrap();
    assert_eq!(b.conversation.id, a.conversation.id, "the same chat");
    assert_eq!(b.event.seq, a.event.seq + 1);
    match store.send_outreach(shop, &send(lily.id, 4, 2)).await {
        Err(StoreError::Refused(why)) => assert_eq!(why, REFUSED_CAP_REACHED),
        other => panic!("{other:?}"),
    }
    let events = store.events_after(shop, a.conversation.id, 0, 10).await.unwrap();
    assert_eq!(events.len(), 2, "the refused one left nothing");
    assert_eq!(store.outreach_sent(shop, at(1, 0)).await.unwrap().len(), 2);
    assert!(store.outreach_sent(shop, at(10, 2)).await.unwrap().len() == 1);
    assert!(store.outreach_sent(other, at(1, 0)).await.unwrap().is_empty());
    assert!(matches!(
        store.send_outreach(other, &send(wang.id, 2, 2)).await,
        Err(StoreError::NotFound)
    ));

    // 回复TD: the buyer's chat opts them out; staff can clear it.
    assert!(store.opt_out_visitor(shop, "buyer:tb_小王", now()).await.unwrap());
    assert!(
        !store.opt_out_visitor(shop, "buyer:tb_小王", now()).await.unwrap(),
        "once"
    );
    assert!(
        !store
            .opt_out_visitor(shop, "anonymous-visitor-0001", now())
            .await
            .unwrap()
    );
    // The other shop's tb_小王 is its own buyer: opting out there is separate.
    assert!(store.opt_out_visitor(other, "buyer:tb_小王", now()).await.unwrap());
    match store.send_outreach(shop, &send(wang.id, 2, 2)).await {
        Err(StoreError::Refused(why)) => assert_eq!(why, REFUSED_OPTED_OUT),
        other => panic!("{other:?}"),
    }
    let facts = store.customer_facts(shop, &CustomerFilter::default()).await.unwrap();
    assert!(facts.iter().find(|f| f.customer.id == wang.id).unwrap().opted_out);
    store.set_opted_out(shop, wang.id, false, now()).await.unwrap();
    store.send_outreach(shop, &send(wang.id, 2, 2)).await.unwrap();
    store.set_opted_out(shop, lily.id, true, now()).await.unwrap();
    store.set_opted_out(shop, lily.id, true, now()).await.unwrap();
    assert!(matches!(
        store.set_opted_out(other, lily.id, true, now()).await,
        Err(StoreError::NotFound)
    ));
}
contract!(outreach_is_capped_and_opt_outs_hold);

async fn reminders_are_claimed_once_and_counted(store: Arc<dyn Store>) {
    let (shop, cat) = shop_with_catalog(&store, "remind-a").await;
    let (other, _) = shop_with_catalog(&store, "remind-b").await;
    let unpaid = &cat.orders[0];
    assert_eq!(unpaid.state, OrderState::AwaitingPayment);
    let remind = |order: OrderId, number: u32, hour: u32| NewReminder {
        order,
        number,
        reason: UnpaidReason::Forgot,
        text: "亲,您拍下的订单还没有付款哦".into(),
        by: None,
        at: at(1, hour),
    };
    // Two senders at once (two nodes, or an agent and the scheduler): one wins.
    let (first, again) = (remind(unpaid.id, 1, 9), remind(unpaid.id, 1, 9));
    let (x, y) = tokio::join!(store.send_reminder(shop, &first), store.send_reminder(shop, &again));
    assert!(x.is_ok() != y.is_ok(), "{x:?} {y:?}");
    let (record, appended) = x.or(y).unwrap();
    assert!(matches!(
        y_or_conflict(&store, shop, &remind(unpaid.id, 1, 10)).await,
        StoreError::Conflict(_)
    ));
    assert_eq!(record.number, 1);
    assert_eq!(appended.event.sender, Sender::System);
    assert_eq!(appended.conversation.visitor, "buyer:tb_小王");
    let events = store.events_after(shop, appended.conversation.id, 0, 10).await.unwrap();
    assert_eq!(events.len(), 1, "the loser's message rolled back");
    assert_eq!(store.reminders_of(shop, unpaid.id).await.unwrap(), vec![record.clone()]);
    assert!(store.reminders_of(other, unpaid.id).await.unwrap().is_empty());
    // The second reminder (when a shop allows more) is its own claim.
    let mut second = remind(unpaid.id, 2, 14);
    second.reason = UnpaidReason::Bargaining;
    second.by = Some(AccountId::new());
    store.send_reminder(shop, &second).await.unwrap();
    // Paid orders, and other shops' orders, are not reminded.
    let paid = &cat.orders[1];
    assert!(
        matches!(store.send_reminder(shop, &remind(paid.id, 1, 9)).await, Err(StoreError::Refused(w)) if w == REFUSED_NOT_AWAITING)
    );
    assert!(matches!(
        store.send_reminder(other, &remind(unpaid.id, 3, 9)).await,
        Err(StoreError::NotFound)
    ));

    let stats = store.reminder_stats(shop, None, None).await.unwrap();
    assert_eq!(
        (stats.sent, stats.automatic, stats.orders, stats.paid_after),
        (2, 1, 1, 0)
    );
    assert_eq!(stats.by_reason.len(), 2);
    assert_eq!(store.reminder_stats(shop, Some(at(1, 12)), None).await.unwrap().sent, 1);
    assert_eq!(store.reminder_stats(other, None, None).await.unwrap().sent, 0);
}
contract!(reminders_are_claimed_once_and_counted);

async fn y_or_conflict(store: &Arc<dyn Store>, shop: ShopId, r: &NewReminder) -> StoreError {
    store.send_reminder(shop, r).await.unwrap_err()
}

async fn audit_entries_filter_and_page(store: Arc<dyn Store>) {
    let (shop, cat) = shop_with_catalog(&store, "audit-a").await;
    let (other, _) = shop_with_catalog(&store, "audit-b").await;
    for (i, kind) in [AuditKind::Reveal, AuditKind::Export, AuditKind::Reveal]
        .iter()
        .enumerate()
    {
        store
            .record_audit(&AuditEntry {
                id: uuid::Uuid::now_v7(),
                shop_id: shop,
                at: at(5, i as u32),
                account_id: None,
                account_name: "老板".into(),
                kind: *kind,
                customer_id: (*kind == AuditKind::Reveal).then_some(cat.customers[0].id),
                detail: format!("entry {i}"),
            })
            .await
            .unwrap();
    }
    let all = store.audit_log(shop, &AuditQuery::default()).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].detail, "entry 2", "newest first");
    let reveals = AuditQuery {
        kind: Some(AuditKind::Reveal),
        ..Default::default()
    };
    assert_eq!(store.audit_log(shop, &reveals).await.unwrap().total, 2);
    let window = AuditQuery {
        from: Some(at(5, 1)),
        until: Some(at(5, 2)),
        ..Default::default()
    };
    let w = store.audit_log(shop, &window).await.unwrap();
    assert_eq!((w.total, w.items[0].kind), (1, AuditKind::Export));
    let paged = AuditQuery {
        page: Page { limit: 1, offset: 1 },
        ..Default::default()
    };
    let p = store.audit_log(shop, &paged).await.unwrap();
    assert_eq!((p.total, p.items.len(), p.items[0].detail.as_str()), (3, 1, "entry 1"));
    assert_eq!(store.audit_log(other, &AuditQuery::default()).await.unwrap().total, 0);
}
contract!(audit_entries_filter_and_page);

/// Marks an order paid behind the store's back (order changes are not this suite's subject).
async fn pay_raw(url: &str, order: OrderId, at: chrono::DateTime<Utc>) {
    let sql = "UPDATE orders SET state = 'paid', paid_at = $1 WHERE id = $2";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).bind(at).bind(order.0).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).bind(at).bind(order.0).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn orders_paid_after_a_reminder_are_counted(store: Arc<dyn Store>, url: String) {
    let (shop, cat) = shop_with_catalog(&store, "paid-after").await;
    let unpaid = &cat.orders[0];
    let r = NewReminder {
        order: unpaid.id,
        number: 1,
        reason: UnpaidReason::Worried,
        text: "亲,有顾虑随时问我哦".into(),
        by: None,
        at: at(1, 9),
    };
    store.send_reminder(shop, &r).await.unwrap();
    let before = store.reminder_stats(shop, None, None).await.unwrap();
    assert_eq!((before.sent, before.paid_after), (1, 0));
    pay_raw(&url, unpaid.id, at(1, 10)).await;
    let after = store.reminder_stats(shop, None, None).await.unwrap();
    assert_eq!((after.sent, after.orders, after.paid_after), (1, 1, 1));
    assert_eq!(after.by_reason[0].reason, UnpaidReason::Worried);
    assert_eq!(after.by_reason[0].paid_after, 1);
}

mod orders_paid_after_a_reminder_are_counted {
    #[tokio::test]
    async fn sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kefu.db").display());
        let store = kefu_store::open(&url).await.unwrap();
        super::orders_paid_after_a_reminder_are_counted(store, url).await;
    }
    #[tokio::test]
    async fn postgres() {
        let url = kefu_store::testing::scratch_postgres().await.unwrap();
        let store = kefu_store::open(&url).await.unwrap();
        let outcome = tokio::spawn(super::orders_paid_after_a_reminder_are_counted(
            store.clone(),
            url.clone(),
        ))
        .await;
        drop(store);
        kefu_store::testing::drop_postgres(&url).await.unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

// ---- Buyer types (SPEC §3.1) ----

use kefu_core::buyer_types::{Behaviour, BuyerType};
use kefu_store::BuyerTypeRecord;

async fn buyer_types_are_set_and_behaviour_is_read(store: Arc<dyn Store>) {
    let (shop, cat) = shop_with_catalog(&store, "types-a").await;
    let (other, _) = shop_with_catalog(&store, "types-b").await;
    let wang = &cat.customers[0];
    assert_eq!(store.buyer_type(shop, wang.id).await.unwrap(), None);
    let set = BuyerTypeRecord {
        buyer_type: BuyerType::Bargainer,
        set_by: Some(AccountId::new()),
        set_by_name: "小美".into(),
        set_at: at(3, 1),
    };
    store.set_buyer_type(shop, wang.id, Some(&set)).await.unwrap();
    assert_eq!(store.buyer_type(shop, wang.id).await.unwrap(), Some(set.clone()));
    let again = BuyerTypeRecord {
        buyer_type: BuyerType::NoPay,
        set_by: None,
        set_at: at(3, 2),
        ..set.clone()
    };
    store.set_buyer_type(shop, wang.id, Some(&again)).await.unwrap();
    assert_eq!(store.buyer_type(shop, wang.id).await.unwrap(), Some(again));
    // Another shop's customer: not found, and nothing written.
    assert!(matches!(
        store.set_buyer_type(other, wang.id, Some(&set)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.buyer_type(other, wang.id).await.unwrap(), None);
    store.set_buyer_type(shop, wang.id, None).await.unwrap();
    assert_eq!(store.buyer_type(shop, wang.id).await.unwrap(), None);

    // Behaviour: the orders, the buyer's own texts oldest first, complaints.
    let mut c = Conversation::new(shop, "buyer:tb_小王".into(), "tb_小王".into(), "web".into(), at(2, 1));
    c.last_activity_at = at(2, 1);
    store.create_conversation(&c).await.unwrap();
    for (sender, content, hour) in [
        (
            Sender::Buyer,
            Content::Text {
                text: "能便宜点吗".into(),
            },
            2,
        ),
        (
            Sender::System,
            Content::Text {
                text: "亲,您好".into()
            },
            3,
        ),
        (
            Sender::Buyer,
            Content::Product {
                sku: "SKU-2".into(),
                card: None,
            },
            4,
        ),
        (
            Sender::Buyer,
            Content::Text {
                text: "包邮吧".into()
            },
            5,
        ),
    ] {
        let e = NewEvent {
            sender,
            client_id: None,
            body: EventBody::message(content),
            at: at(2, hour),
        };
        store.append_event(shop, c.id, &e).await.unwrap();
    }
    let b = store.buyer_behaviour(shop, wang.id).await.unwrap();
    let texts: Vec<&str> = b.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["能便宜点吗", "包邮吧"]);
    assert_eq!(b.messages[0].at, at(2, 2));
    let theirs = cat.orders.iter().filter(|o| o.customer_id == wang.id).count();
    assert_eq!(b.orders.len(), theirs);
    assert_eq!(b.orders.iter().filter(|o| o.closed_unpaid).count(), 1, "{b:?}");
    assert_eq!(b.complaints, 0);
    assert_eq!(
        kefu_core::buyer_types::suggest(&b).map(|s| s.buyer_type),
        Some(BuyerType::Bargainer)
    );
    assert_eq!(
        store.buyer_behaviour(other, wang.id).await.unwrap(),
        Behaviour::default()
    );
}
contract!(buyer_types_are_set_and_behaviour_is_read);

// ---- Follow-up visits (SPEC §4.6) ----

use kefu_core::visits::{Visit, VisitOutcome, VisitSource};
use kefu_store::VisitQuery;

async fn visits_are_scheduled_once_listed_by_due_and_done_once(store: Arc<dyn Store>) {
    let (shop, cat) = shop_with_catalog(&store, "visits-a").await;
    let (other, _) = shop_with_catalog(&store, "visits-b").await;
    let (wang, lily) = (&cat.customers[0], &cat.customers[1]);
    let (mei, yu) = (AccountId::new(), AccountId::new());
    let case = uuid::Uuid::now_v7();
    let first = Visit::schedule(
        shop,
        wang.id,
        VisitSource::AfterSales,
        case,
        None,
        Some(mei),
        at(5, 2),
        at(2, 1),
    );
    assert!(store.schedule_visit(&first).await.unwrap());
    let twice = Visit::schedule(
        shop,
        wang.id,
        VisitSource::AfterSales,
        case,
        None,
        Some(yu),
        at(6, 2),
        at(2, 2),
    );
    assert!(!store.schedule_visit(&twice).await.unwrap(), "one visit per case");
    let theirs = Visit::schedule(
        shop,
        lily.id,
        VisitSource::Complaint,
        uuid::Uuid::now_v7(),
        Some(cat.orders[1].id),
        Some(yu),
        at(4, 2),
        at(2, 1),
    );
    let anyone = Visit::schedule(
        shop,
        lily.id,
        VisitSource::NegativeReview,
        uuid::Uuid::now_v7(),
        None,
        None,
        at(7, 2),
        at(2, 1),
    );
    for v in [&theirs, &anyone] {
        assert!(store.schedule_visit(v).await.unwrap());
    }
    assert_eq!(store.visit(shop, first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.visit(other, first.id).await.unwrap(), None);

    let ids = |l: kefu_store::Listed<Visit>| l.items.into_iter().map(|v| v.id).collect::<Vec<_>>();
    let all = store.visits(shop, &VisitQuery::default()).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(ids(all), [theirs.id, first.id, anyone.id], "earliest due first");
    let due = VisitQuery {
        open: Some(true),
        due_by: Some(at(5, 2)),
        ..Default::default()
    };
    assert_eq!(ids(store.visits(shop, &due).await.unwrap()), [theirs.id, first.id]);
    let mine = VisitQuery {
        for_account: Some(mei),
        ..Default::default()
    };
    assert_eq!(
        ids(store.visits(shop, &mine).await.unwrap()),
        [first.id, anyone.id],
        "mine and nobody's"
    );
    assert_eq!(store.visits(other, &VisitQuery::default()).await.unwrap().total, 0);

    let done = first
        .record(VisitOutcome::Satisfied, "退款已到账", mei, at(5, 3))
        .unwrap();
    store.record_visit(&done).await.unwrap();
    assert_eq!(store.visit(shop, first.id).await.unwrap(), Some(done.clone()));
    let late = first.record(VisitOutcome::Unreachable, "", yu, at(5, 4)).unwrap();
    assert!(matches!(store.record_visit(&late).await, Err(StoreError::Conflict(_))));
    let foreign = Visit {
        shop_id: other,
        ..late.clone()
    };
    assert!(matches!(store.record_visit(&foreign).await, Err(StoreError::NotFound)));
    let open = VisitQuery {
        open: Some(true),
        ..Default::default()
    };
    assert_eq!(ids(store.visits(shop, &open).await.unwrap()), [theirs.id, anyone.id]);
    let closed = VisitQuery {
        open: Some(false),
        ..Default::default()
    };
    assert_eq!(ids(store.visits(shop, &closed).await.unwrap()), [first.id]);
}
contract!(visits_are_scheduled_once_listed_by_due_and_done_once);

async fn product_knowledge_is_whole_scoped_and_imported_all_or_nothing(store: Arc<dyn Store>) {
    use kefu_core::product_knowledge::{Comparison, ProductFaq, ProductInfo, RelatedProduct, SizeChart};
    let (shop, c) = shop_with_catalog(&store, "pk-a").await;
    let (other, oc) = shop_with_catalog(&store, "pk-b").await;
    let (p1, p2, p3) = (c.products[0].id, c.products[1].id, c.products[2].id);

    // A product nobody described has empty knowledge with its catalog attributes.
    let k = store.product_knowledge(shop, p1).await.unwrap().unwrap();
    assert_eq!(k.info.attributes["材质"], "纯棉");
    assert!(k.faq.is_empty() && k.related.is_empty() && k.updated_at.is_none());
    assert!(store.product_knowledge(other, p1).await.unwrap().is_none());

    let info = ProductInfo {
        attributes: [
            ("材质".to_string(), "A类纯棉".to_string()),
            ("适用年龄".into(), "0-12个月".into()),
        ]
        .into(),
        size_chart: SizeChart {
            columns: vec!["尺码".into(), "身高".into()],
            rows: vec![vec!["66".into(), "59-66cm".into()], vec!["73".into(), "66-73cm".into()]],
        },
        care: "30℃以下手洗".into(),
        usage: String::new(),
        selling_points: vec!["无荧光剂".into()],
        comparisons: vec![Comparison {
            competitor: "××家".into(),
            answer: "我们是A类标准".into(),
        }],
    };
    let t = now();
    store.put_product_info(shop, p1, &info, t).await.unwrap();
    assert!(matches!(
        store.put_product_info(other, p1, &info, t).await,
        Err(StoreError::NotFound)
    ));
    let k = store.product_knowledge(shop, p1).await.unwrap().unwrap();
    assert_eq!(k.info, info);
    assert_eq!(k.product.attributes["适用年龄"], "0-12个月");
    assert_eq!(k.updated_at, Some(t));

    let faq = |product: ProductId, s: ShopId, q: &str| ProductFaq {
        id: ProductFaqId::new(),
        shop_id: s,
        product_id: product,
        question: q.into(),
        similar: vec!["缩水吗".into()],
        answer: "缩水约1%".into(),
        created_at: t,
        updated_at: t,
    };
    let mut f = faq(p1, shop, "这款会缩水吗");
    store.create_product_faq(&f).await.unwrap();
    assert!(matches!(
        store.create_product_faq(&faq(p1, shop, "这款会缩水吗")).await,
        Err(StoreError::Conflict(_))
    ));
    // Another shop cannot hang a question on this shop's product.
    assert!(matches!(
        store.create_product_faq(&faq(p1, other, "别家的问题")).await,
        Err(StoreError::NotFound)
    ));
    f.answer = "洗后缩水约1%".into();
    store.update_product_faq(&f).await.unwrap();
    assert_eq!(
        store.product_faq(shop, f.id).await.unwrap().unwrap().answer,
        "洗后缩水约1%"
    );
    assert!(store.product_faq(other, f.id).await.unwrap().is_none());
    let mut foreign = f.clone();
    foreign.shop_id = other;
    assert!(matches!(
        store.update_product_faq(&foreign).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_product_faq(other, f.id).await,
        Err(StoreError::NotFound)
    ));

    let rel = |a: ProductId, b: ProductId, reason: &str| RelatedProduct {
        product_id: a,
        related_id: b,
        reason: reason.into(),
        created_at: now(),
    };
    store
        .put_related_product(shop, &rel(p1, p2, "6个月宝宝可以开始吃辅食"))
        .await
        .unwrap();
    store
        .put_related_product(shop, &rel(p1, p3, "宝宝可以用饮水杯了"))
        .await
        .unwrap();
    store
        .put_related_product(shop, &rel(p1, p2, "辅食期必备"))
        .await
        .unwrap();
    // Not across shops, in either direction.
    assert!(matches!(
        store.put_related_product(shop, &rel(p1, oc.products[0].id, "x")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.put_related_product(other, &rel(p1, p2, "x")).await,
        Err(StoreError::NotFound)
    ));
    let k = store.product_knowledge(shop, p1).await.unwrap().unwrap();
    let reasons: Vec<(ProductId, &str)> = k.related.iter().map(|r| (r.related_id, r.reason.as_str())).collect();
    assert_eq!(reasons, vec![(p2, "辅食期必备"), (p3, "宝宝可以用饮水杯了")]);
    assert_eq!(k.faq.len(), 1);
    assert!(matches!(
        store.delete_related_product(other, p1, p3).await,
        Err(StoreError::NotFound)
    ));
    store.delete_related_product(shop, p1, p3).await.unwrap();

    // An import replaces each listed product's knowledge; a bad item leaves everything as it was.
    let mut all = store.all_product_knowledge(shop).await.unwrap();
    assert_eq!(all.len(), 3);
    let mut k2 = all.remove(1);
    assert_eq!(k2.product.id, p2);
    k2.info.selling_points = vec!["食品级硅胶".into()];
    k2.faq = vec![faq(p2, shop, "可以进微波炉吗")];
    k2.related = vec![rel(p2, p1, "搭配连体衣")];
    let mut bad = k2.clone();
    bad.related = vec![rel(p2, oc.products[1].id, "别家的")];
    let mut k1 = store.product_knowledge(shop, p1).await.unwrap().unwrap();
    k1.faq.clear();
    k1.related.clear();
    assert!(matches!(
        store.import_product_knowledge(shop, &[k1.clone(), bad], now()).await,
        Err(StoreError::NotFound)
    ));
    let unchanged = store.product_knowledge(shop, p1).await.unwrap().unwrap();
    assert_eq!((unchanged.faq.len(), unchanged.related.len()), (1, 1));
    let s = store.import_product_knowledge(shop, &[k1, k2], now()).await.unwrap();
    assert_eq!((s.products, s.faq, s.related), (2, 1, 1));
    let k = store.product_knowledge(shop, p1).await.unwrap().unwrap();
    assert!(k.faq.is_empty() && k.related.is_empty());
    let k = store.product_knowledge(shop, p2).await.unwrap().unwrap();
    assert_eq!(k.info.selling_points, vec!["食品级硅胶"]);
    assert_eq!(k.faq[0].question, "可以进微波炉吗");
    assert_eq!(k.related[0].related_id, p1);
    assert!(
        store
            .all_product_knowledge(other)
            .await
            .unwrap()
            .iter()
            .all(|k| k.faq.is_empty())
    );
}
contract!(product_knowledge_is_whole_scoped_and_imported_all_or_nothing);
fn webhook(shop: ShopId, events: Vec<kefu_core::webhooks::EventType>) -> kefu_store::Webhook {
    let t = now();
    kefu_store::Webhook {
        id: uuid::Uuid::now_v7(),
        shop_id: shop,
        url: "https://hooks.example.com/kefu".into(),
        events,
        enabled: true,
        secret: "whsec_test".into(),
        created_at: t,
        updated_at: t,
    }
}

fn outcome(
    at: chrono::DateTime<Utc>,
    code: Option<u16>,
    status: kefu_core::webhooks::DeliveryStatus,
    next: Option<chrono::DateTime<Utc>>,
) -> kefu_store::AttemptOutcome {
    kefu_store::AttemptOutcome {
        at,
        status_code: code,
        duration_ms: 12,
        error: code.filter(|c| *c >= 300).map(|c| format!("HTTP {c}")),
        status,
        next_attempt_at: next,
    }
}

/// Webhook endpoints belong to one shop; an event is queued once for each enabled endpoint
/// subscribed to it; a claimed delivery is no one else's until its claim runs out; only the
/// claim's holder records a try; the log keeps every try; only a failed delivery replays.
async fn webhook_outbox_claims_once_and_logs_tries(store: Arc<dyn Store>) {
    use kefu_core::webhooks::{DeliveryStatus, EventType};
    let a = new_shop("hooks-a");
    let b = new_shop("hooks-b");
    store.create_shop(&a).await.unwrap();
    store.create_shop(&b).await.unwrap();
    let (sa, sb) = (a.shop.id, b.shop.id);

    let orders = webhook(sa, vec![EventType::OrderUpdated]);
    let chats = webhook(sa, vec![EventType::ConversationCreated, EventType::MessageCreated]);
    let mut off = webhook(sa, vec![EventType::OrderUpdated]);
    off.enabled = false;
    let theirs = webhook(sb, vec![EventType::OrderUpdated]);
    for h in [&orders, &chats, &off, &theirs] {
        store.create_webhook(h).await.unwrap();
    }
    assert_eq!(store.webhooks(sa).await.unwrap().len(), 3);
    assert_eq!(store.webhook(sa, orders.id).await.unwrap().unwrap(), orders);
    assert!(store.webhook(sb, orders.id).await.unwrap().is_none());
    let mut stolen = orders.clone();
    stolen.shop_id = sb;
    assert!(matches!(store.update_webhook(&stolen).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.delete_webhook(sb, orders.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.has_subscribers(sa, EventType::OrderUpdated).await.unwrap());
    assert!(!store.has_subscribers(sa, EventType::AfterSalesUpdated).await.unwrap());

    let t0 = at(20, 8);
    let event = uuid::Uuid::now_v7();
    let queued = store
        .enqueue_event(sa, EventType::OrderUpdated, event, r#"{"id":"x"}"#, t0)
        .await
        .unwrap();
    assert_eq!(queued, 1, "the enabled order endpoint only");
    assert_eq!(
        store
            .enqueue_event(sa, EventType::AfterSalesUpdated, uuid::Uuid::now_v7(), "{}", t0)
            .await
            .unwrap(),
        0
    );

    // Not due yet; then due, claimed once.
    assert!(
        store
            .claim_deliveries(t0 - Duration::seconds(1), t0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim_deliveries(t0, t0 + Duration::minutes(2), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!((c.shop_id, c.webhook_id, c.attempt), (sa, orders.id, 1));
    assert_eq!(
        (c.url.as_str(), c.secret.as_str(), c.payload.as_str()),
        (orders.url.as_str(), "whsec_test", r#"{"id":"x"}"#)
    );
    assert!(
        store
            .claim_deliveries(t0 + Duration::seconds(30), t0 + Duration::minutes(3), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The try fails; due again in a minute.
    let t1 = t0 + Duration::seconds(1);
    assert!(
        store
            .record_attempt(
                c,
                &outcome(t1, Some(500), DeliveryStatus::Pending, Some(t1 + Duration::minutes(1)))
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_attempt(c, &outcome(t1, Some(200), DeliveryStatus::Delivered, None))
            .await
            .unwrap(),
        "the claim was released"
    );
    let log = store.deliveries(sa, orders.id, Page::default()).await.unwrap();
    assert_eq!(log.total, 1);
    let d = &log.items[0];
    assert_eq!(
        (d.status, d.attempts, d.last_status, d.event_id),
        (DeliveryStatus::Pending, 1, Some(500), event)
    );
    assert_eq!(d.next_attempt_at, Some(t1 + Duration::minutes(1)));
    assert!(
        store
            .deliveries(sb, orders.id, Page::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(store.delivery(sb, d.id).await.unwrap().is_none());

    // A claim that runs out is taken over; the stale holder cannot write any more.
    let t2 = t1 + Duration::minutes(1);
    let first = store.claim_deliveries(t2, t2 + Duration::minutes(2), 10).await.unwrap();
    assert_eq!(first[0].attempt, 2);
    let t3 = t2 + Duration::minutes(3);
    let second = store.claim_deliveries(t3, t3 + Duration::minutes(2), 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(
        !store
            .record_attempt(&first[0], &outcome(t3, Some(200), DeliveryStatus::Delivered, None))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_attempt(&second[0], &outcome(t3, None, DeliveryStatus::Failed, None))
            .await
            .unwrap()
    );
    let tries = store.delivery_attempts(sa, d.id).await.unwrap();
    assert_eq!(
        tries.iter().map(|t| (t.attempt, t.status_code)).collect::<Vec<_>>(),
        vec![(1, Some(500)), (2, None)]
    );
    assert!(store.delivery_attempts(sb, d.id).await.unwrap().is_empty());
    assert!(
        store
            .claim_deliveries(t3 + Duration::days(1), t3 + Duration::days(2), 10)
            .await
            .unwrap()
            .is_empty(),
        "failed stays failed"
    );

    // Replay: only the shop's own, only a failed one.
    assert!(matches!(
        store.replay_delivery(sb, d.id, t3).await,
        Err(StoreError::NotFound)
    ));
    let replayed = store.replay_delivery(sa, d.id, t3).await.unwrap();
    assert_eq!(replayed.status, DeliveryStatus::Pending);
    assert!(matches!(
        store.replay_delivery(sa, d.id, t3).await,
        Err(StoreError::Refused(_))
    ));
    let again = store.claim_deliveries(t3, t3 + Duration::minutes(2), 10).await.unwrap();
    assert_eq!(again[0].attempt, 3);
    assert!(
        store
            .record_attempt(&again[0], &outcome(t3, Some(204), DeliveryStatus::Delivered, None))
            .await
            .unwrap()
    );
    let d = store.delivery(sa, d.id).await.unwrap().unwrap();
    assert_eq!(
        (d.status, d.attempts, d.delivered_at),
        (DeliveryStatus::Delivered, 3, Some(t3))
    );

    // A disabled endpoint's deliveries wait; removing the endpoint removes its log.
    let mut paused = chats.clone();
    store
        .enqueue_event(sa, EventType::MessageCreated, uuid::Uuid::now_v7(), "{}", t3)
        .await
        .unwrap();
    paused.enabled = false;
    store.update_webhook(&paused).await.unwrap();
    assert!(
        store
            .claim_deliveries(t3, t3 + Duration::minutes(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    paused.enabled = true;
    store.update_webhook(&paused).await.unwrap();
    assert_eq!(
        store
            .claim_deliveries(t3, t3 + Duration::minutes(2), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.delete_webhook(sa, orders.id).await.unwrap();
    assert!(store.delivery(sa, d.id).await.unwrap().is_none());
}
contract!(webhook_outbox_claims_once_and_logs_tries);

/// Two claimers at once never take the same delivery (on PostgreSQL several nodes do this).
async fn concurrent_claims_split_the_outbox(store: Arc<dyn Store>) {
    use kefu_core::webhooks::EventType;
    let a = new_shop("hooks-race");
    store.create_shop(&a).await.unwrap();
    store
        .create_webhook(&webhook(a.shop.id, vec![EventType::MessageCreated]))
        .await
        .unwrap();
    let t = at(20, 8);
    for _ in 0..40 {
        store
            .enqueue_event(a.shop.id, EventType::MessageCreated, uuid::Uuid::now_v7(), "{}", t)
            .await
            .unwrap();
    }
    let claim = |s: Arc<dyn Store>| async move {
        let mut got = Vec::new();
        loop {
            let c = s.claim_deliveries(t, t + Duration::minutes(5), 3).await.unwrap();
            if c.is_empty() {
                return got;
            }
            got.extend(c.into_iter().map(|c| c.id));
        }
    };
    let (x, y, z) = tokio::join!(claim(store.clone()), claim(store.clone()), claim(store.clone()));
    let mut all: Vec<_> = x.into_iter().chain(y).chain(z).collect();
    assert_eq!(all.len(), 40);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "a delivery was claimed twice");
}
contract!(concurrent_claims_split_the_outbox);

/// Mails are queued per shop, claimed once, retried or marked sent; transcripts of a chat
/// are counted for its hourly limit.
async fn mail_outbox_claims_once(store: Arc<dyn Store>) {
    use kefu_core::mail::MailKind;
    use kefu_core::webhooks::DeliveryStatus;
    let a = new_shop("mail-a");
    store.create_shop(&a).await.unwrap();
    let sa = a.shop.id;
    let t = at(20, 8);
    let conversation = ConversationId::new();
    let mail = |kind, c: Option<ConversationId>, at| kefu_store::NewMail {
        id: uuid::Uuid::now_v7(),
        shop_id: sa,
        kind,
        conversation_id: c,
        to: "buyer@example.com".into(),
        subject: "聊天记录".into(),
        text: "你好".into(),
        html: "<p>你好</p>".into(),
        created_at: at,
    };
    store
        .enqueue_mail(&mail(MailKind::LeaveMessage, None, t))
        .await
        .unwrap();
    store
        .enqueue_mail(&mail(MailKind::Transcript, Some(conversation), t))
        .await
        .unwrap();
    store
        .enqueue_mail(&mail(MailKind::Transcript, Some(conversation), t - Duration::hours(2)))
        .await
        .unwrap();
    let mut unknown = mail(MailKind::LeaveMessage, None, t);
    unknown.shop_id = ShopId::new();
    assert!(matches!(store.enqueue_mail(&unknown).await, Err(StoreError::NotFound)));
    assert_eq!(
        store
            .transcripts_since(sa, conversation, t - Duration::hours(1))
            .await
            .unwrap(),
        1
    );

    let claimed = store.claim_mails(t, t + Duration::minutes(5), 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(
        store
            .claim_mails(t, t + Duration::minutes(5), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let sent = outcome(t, None, DeliveryStatus::Delivered, None);
    let retry = outcome(t, None, DeliveryStatus::Pending, Some(t + Duration::minutes(1)));
    assert!(store.record_mail_attempt(&claimed[0], &sent).await.unwrap());
    assert!(store.record_mail_attempt(&claimed[1], &retry).await.unwrap());
    assert!(store.record_mail_attempt(&claimed[2], &sent).await.unwrap());
    assert!(!store.record_mail_attempt(&claimed[2], &sent).await.unwrap());
    let again = store
        .claim_mails(t + Duration::minutes(1), t + Duration::minutes(6), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempt), (claimed[1].id, 2));
    let listed = store.mails(sa, Page::default()).await.unwrap();
    assert_eq!(listed.total, 3);
    assert_eq!(
        listed
            .items
            .iter()
            .filter(|m| m.status == DeliveryStatus::Delivered && m.sent_at == Some(t))
            .count(),
        2
    );
}
contract!(mail_outbox_claims_once);
