//! The demo shop (`kefu serve --demo`): a believable mother-and-baby shop read from the
//! readable files in the repository's `demo/` folder (embedded at build time), written in
//! one transaction the first time, left alone after that.

use crate::auth::hash_password;
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use kefu_core::account::{Account, Role, RoutingProfile, SkillGroup, Username};
use kefu_core::catalog::{CloseReason, Customer, KbCategory, KbEntry, Order, OrderItem, OrderState, Product};
use kefu_core::ids::{AccountId, CategoryId, CustomerId, EntryId, OrderId, ProductId, ShopId};
use kefu_core::money::Fen;
use kefu_core::settings::{ShopMode, ShopSettings};
use kefu_core::shop::{Shop, ShopSlug, check_shop_name};
use kefu_store::{Catalog, NewShop, Store, StoreError};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

const SHOP_TOML: &str = include_str!("../../../demo/shop.toml");
const PRODUCTS_CSV: &str = include_str!("../../../demo/products.csv");
const CUSTOMERS_CSV: &str = include_str!("../../../demo/customers.csv");
const ORDERS_CSV: &str = include_str!("../../../demo/orders.csv");
const KNOWLEDGE_CSV: &str = include_str!("../../../demo/knowledge.csv");
const PHRASES_CSV: &str = include_str!("../../../demo/phrases.csv");
const PRODUCT_KNOWLEDGE_CSV: &str = include_str!("../../../demo/product_knowledge.csv");

/// Who can log in to the demo shop.
#[derive(Clone, Debug)]
pub struct DemoLogins {
    pub shop: String,
    pub shop_name: String,
    /// Whether this start created the shop (false: it was already there, passwords may have changed).
    pub created: bool,
    /// (login name, role, display name, password)
    pub accounts: Vec<(String, Role, String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoFile {
    shop: DemoShop,
    accounts: Vec<DemoAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoShop {
    slug: String,
    name: String,
    mode: ShopMode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoAccount {
    username: String,
    display_name: String,
    role: Role,
    password: String,
    skill_group: Option<String>,
    capacity: Option<u16>,
}

/// Loads the demo shop unless it exists, and says how to log in.
pub async fn load(store: &dyn Store) -> anyhow::Result<DemoLogins> {
    let file: DemoFile = toml::from_str(SHOP_TOML).context("demo/shop.toml")?;
    let slug = ShopSlug::parse(&file.shop.slug)?;
    let logins = DemoLogins {
        shop: slug.as_str().to_string(),
        shop_name: file.shop.name.clone(),
        created: false,
        accounts: file
            .accounts
            .iter()
            .map(|a| (a.username.clone(), a.role, a.display_name.clone(), a.password.clone()))
            .collect(),
    };
    if store.shop_by_slug(&slug).await?.is_some() {
        return Ok(logins);
    }
    let now = kefu_store::now();
    let new = build(&file, slug, now).await?;
    match store.create_shop(&new).await {
        Ok(()) => {
            parcels(store, &new, now).await.context("the demo's parcels")?;
            phrases(store, &new, now).await.context("demo/phrases.csv")?;
            product_knowledge(store, &new, now)
                .await
                .context("demo/product_knowledge.csv")?;
            Ok(DemoLogins {
                created: true,
                ..logins
            })
        }
        // Another node loaded it at the same moment.
        Err(StoreError::Conflict(_)) => Ok(logins),
        Err(e) => Err(e.into()),
    }
}

async fn build(file: &DemoFile, slug: ShopSlug, now: DateTime<Utc>) -> anyhow::Result<NewShop> {
    check_shop_name(&file.shop.name)?;
    let shop = Shop {
        id: ShopId::new(),
        slug,
        name: file.shop.name.clone(),
        created_at: now,
    };
    let mut accounts = Vec::new();
    for a in &file.accounts {
        let account = Account {
            id: AccountId::new(),
            shop_id: shop.id,
            username: Username::parse(&a.username)?,
            display_name: a.display_name.clone(),
            role: a.role,
            routing: RoutingProfile {
                skill_group: a.skill_group.as_deref().map(SkillGroup::parse).transpose()?,
                takes_chats: a.role == Role::Agent,
                capacity: a.capacity.unwrap_or(RoutingProfile::default().capacity),
            },
            disabled: false,
            created_at: now,
        };
        account.routing.validate()?;
        accounts.push((account, hash_password(a.password.clone()).await?));
    }
    let settings = ShopSettings {
        mode: file.shop.mode,
        ..ShopSettings::default()
    };
    let catalog = catalog(shop.id, now)?;
    Ok(NewShop {
        shop,
        settings,
        accounts,
        catalog,
    })
}

/// Gives the demo's shipped orders a parcel and its tracking, as a carrier's feed would:
/// collected, in transit, out for delivery and — when the buyer has it — signed for.
async fn parcels(store: &dyn Store, new: &NewShop, now: DateTime<Utc>) -> anyhow::Result<()> {
    use kefu_core::order::{LogisticsEvent, LogisticsStatus, OrderDetail, Shipment};
    const CARRIERS: [(&str, &str); 4] = [
        ("中通快递", "ZT"),
        ("圆通速递", "YT"),
        ("韵达快递", "YD"),
        ("顺丰速运", "SF"),
    ];
    let shop = new.shop.id;
    let by_id: HashMap<_, _> = new.catalog.customers.iter().map(|c| (c.id, c)).collect();
    let mut rows = Vec::new();
    let mut tracks = Vec::new();
    for (i, o) in new.catalog.orders.iter().enumerate() {
        let Some(shipped) = o.shipped_at else { continue };
        let (carrier, prefix) = CARRIERS[i % CARRIERS.len()];
        let tail = &o.order_no[o.order_no.len().saturating_sub(12)..];
        let mut d = OrderDetail::new(o.clone());
        d.shipment = Some(Shipment::new(carrier, &format!("{prefix}{tail}"), shipped)?);
        d.shipping_insurance = i % 3 == 0;
        let buyer = (*by_id.get(&o.customer_id).context("an order's buyer")?).clone();
        let head = buyer.address.split('市').next().unwrap_or("");
        let city = head.rsplit(['省', '区']).next().unwrap_or(head).to_string();
        let h = chrono::Duration::hours;
        let mut events = vec![
            (
                shipped + h(1),
                LogisticsStatus::Collected,
                "金华",
                format!("【金华】{carrier} 已揽收"),
            ),
            (
                shipped + h(14),
                LogisticsStatus::InTransit,
                "杭州",
                "快件已到达【杭州转运中心】".to_string(),
            ),
            (
                shipped + h(40),
                LogisticsStatus::OutForDelivery,
                city.as_str(),
                "快件正在派送中，请保持电话畅通".to_string(),
            ),
        ];
        let signed = o
            .completed_at
            .map(|c| c - h(20))
            .unwrap_or(shipped + h(46))
            .max(shipped + h(41));
        events.push((
            signed,
            LogisticsStatus::Delivered,
            city.as_str(),
            "您的快件已签收，感谢使用".to_string(),
        ));
        let events: Vec<LogisticsEvent> = events
            .into_iter()
            .filter(|(at, ..)| *at <= now)
            .map(|(at, status, location, text)| LogisticsEvent {
                at,
                status,
                location: location.to_string(),
                text,
            })
            .collect();
        tracks.push((o.id, events));
        rows.push((buyer, d));
    }
    store.import_orders(shop, &rows).await?;
    for (id, events) in tracks {
        if !events.is_empty() {
            store.add_logistics(shop, id, &events).await?;
        }
    }
    Ok(())
}

/// The 母婴 products' knowledge (SPEC §2.10): size charts, care, selling points, the answers
/// to "××家更便宜", product FAQ and related products by the baby's age — through the same
/// import as an admin's file.
async fn product_knowledge(store: &dyn Store, new: &NewShop, now: DateTime<Utc>) -> anyhow::Result<()> {
    let rows = crate::product_template::parse_csv(PRODUCT_KNOWLEDGE_CSV.as_bytes()).map_err(|e| anyhow!("{e}"))?;
    let products: HashMap<String, Product> = new
        .catalog
        .products
        .iter()
        .map(|p| (p.sku.clone(), p.clone()))
        .collect();
    let items =
        crate::api::products::knowledge_from_rows(new.shop.id, rows, &products, now).map_err(|e| anyhow!("{e:?}"))?;
    store.import_product_knowledge(new.shop.id, &items, now).await?;
    Ok(())
}

/// The team's quick phrases (快捷短语), with the shortcuts agents type (`sc` → 实物拍摄 …).
async fn phrases(store: &dyn Store, new: &NewShop, now: DateTime<Utc>) -> anyhow::Result<()> {
    let lines = crate::phrase_template::parse_csv(PHRASES_CSV.as_bytes()).map_err(|e| anyhow!("{e}"))?;
    let rows = crate::api::phrases::check_lines(lines).map_err(|e| anyhow!("{e:?}"))?;
    store.import_quick_phrases(new.shop.id, None, &rows, false, now).await?;
    Ok(())
}

fn catalog(shop: ShopId, now: DateTime<Utc>) -> anyhow::Result<Catalog> {
    let products = products(shop, now)?;
    let customers = customers(shop, now)?;
    let orders = orders(shop, now, &products, &customers)?;
    let (kb_categories, kb_entries) = knowledge(shop, now)?;
    Ok(Catalog {
        products,
        customers,
        orders,
        kb_categories,
        kb_entries,
    })
}

/// Rows of a CSV file whose header must be exactly `header`; each row numbered from 2 (the
/// header is line 1) for error messages.
fn rows(name: &str, text: &str, header: &[&str]) -> anyhow::Result<Vec<(usize, csv::StringRecord)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let found: Vec<String> = reader
        .headers()
        .with_context(|| format!("{name}: header"))?
        .iter()
        .map(str::to_string)
        .collect();
    if found != header {
        bail!(
            "{name}: the header must be `{}`, found `{}`",
            header.join(","),
            found.join(",")
        );
    }
    reader
        .records()
        .enumerate()
        .map(|(i, r)| r.map(|r| (i + 2, r)).with_context(|| format!("{name}: row {}", i + 2)))
        .collect()
}

fn products(shop: ShopId, now: DateTime<Utc>) -> anyhow::Result<Vec<Product>> {
    rows(
        "demo/products.csv",
        PRODUCTS_CSV,
        &["sku", "title", "category", "price", "stock", "attributes"],
    )?
    .into_iter()
    .map(|(line, r)| {
        let ctx = || format!("demo/products.csv line {line}");
        let mut attributes = BTreeMap::new();
        for pair in r[5].split(';').filter(|p| !p.trim().is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("attribute “{pair}” is not key=value"))
                .with_context(ctx)?;
            attributes.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(Product {
            id: ProductId::new(),
            shop_id: shop,
            sku: r[0].trim().to_string(),
            title: r[1].trim().to_string(),
            category: r[2].trim().to_string(),
            price: Fen::parse_yuan("price", &r[3]).with_context(ctx)?,
            stock: r[4].trim().parse().context("stock").with_context(ctx)?,
            attributes,
            created_at: now,
        })
    })
    .collect()
}

fn customers(shop: ShopId, now: DateTime<Utc>) -> anyhow::Result<Vec<Customer>> {
    Ok(rows(
        "demo/customers.csv",
        CUSTOMERS_CSV,
        &["nick", "name", "phone", "address"],
    )?
    .into_iter()
    .map(|(_, r)| Customer {
        id: CustomerId::new(),
        shop_id: shop,
        nick: r[0].trim().to_string(),
        name: r[1].trim().to_string(),
        phone: r[2].trim().to_string(),
        address: r[3].trim().to_string(),
        created_at: now,
    })
    .collect())
}

/// `-2d4h30m` → that long before `now`; empty → none.
fn relative_time(text: &str, now: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let rest = t
        .strip_prefix('-')
        .ok_or_else(|| anyhow!("time “{t}” must be a past offset such as -2d4h"))?;
    let mut total = Duration::zero();
    let mut number = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number
            .parse()
            .map_err(|_| anyhow!("time “{t}”: a number must precede “{c}”"))?;
        total += match c {
            'd' => Duration::days(n),
            'h' => Duration::hours(n),
            'm' => Duration::minutes(n),
            _ => bail!("time “{t}”: unknown unit “{c}” (use d, h, m)"),
        };
        number.clear();
    }
    if !number.is_empty() || total.is_zero() {
        bail!("time “{t}” must end with a unit, e.g. -45m");
    }
    Ok(Some(now - total))
}

fn orders(
    shop: ShopId,
    now: DateTime<Utc>,
    products: &[Product],
    customers: &[Customer],
) -> anyhow::Result<Vec<Order>> {
    let by_sku: HashMap<&str, &Product> = products.iter().map(|p| (p.sku.as_str(), p)).collect();
    let by_nick: HashMap<&str, &Customer> = customers.iter().map(|c| (c.nick.as_str(), c)).collect();
    let header = [
        "order_no",
        "buyer_nick",
        "state",
        "close_reason",
        "items",
        "shipping_fee",
        "placed",
        "paid",
        "shipped",
        "completed",
        "closed",
    ];
    rows("demo/orders.csv", ORDERS_CSV, &header)?
        .into_iter()
        .map(|(line, r)| {
            let ctx = || format!("demo/orders.csv line {line}");
            let buyer = by_nick
                .get(r[1].trim())
                .ok_or_else(|| anyhow!("unknown buyer “{}”", &r[1]))
                .with_context(ctx)?;
            let mut items = Vec::new();
            for part in r[4].split('|') {
                let (sku, qty) = part
                    .trim()
                    .split_once('*')
                    .ok_or_else(|| anyhow!("item “{part}” is not SKU*quantity"))
                    .with_context(ctx)?;
                let p = by_sku
                    .get(sku)
                    .ok_or_else(|| anyhow!("unknown SKU “{sku}”"))
                    .with_context(ctx)?;
                items.push(OrderItem {
                    product_id: Some(p.id),
                    sku: p.sku.clone(),
                    title: p.title.clone(),
                    unit_price: p.price,
                    quantity: qty.parse().context("quantity").with_context(ctx)?,
                });
            }
            let time = |i: usize| relative_time(&r[i], now).with_context(ctx);
            let order = Order {
                id: OrderId::new(),
                shop_id: shop,
                order_no: r[0].trim().to_string(),
                customer_id: buyer.id,
                state: OrderState::parse(r[2].trim())
                    .ok_or_else(|| anyhow!("unknown state “{}”", &r[2]))
                    .with_context(ctx)?,
                close_reason: match r[3].trim() {
                    "" => None,
                    c => Some(
                        CloseReason::parse(c)
                            .ok_or_else(|| anyhow!("unknown close reason “{c}”"))
                            .with_context(ctx)?,
                    ),
                },
                items,
                shipping_fee: Fen::parse_yuan("shipping_fee", &r[5]).with_context(ctx)?,
                address: buyer.address.clone(),
                created_at: time(6)?
                    .ok_or_else(|| anyhow!("placed is required"))
                    .with_context(ctx)?,
                paid_at: time(7)?,
                shipped_at: time(8)?,
                completed_at: time(9)?,
                closed_at: time(10)?,
            };
            order.check_consistent().with_context(ctx)?;
            Ok(order)
        })
        .collect()
}

/// The knowledge base in the import template `category,question,similar,answer`, similar
/// phrasings separated by `|`.
fn knowledge(shop: ShopId, now: DateTime<Utc>) -> anyhow::Result<(Vec<KbCategory>, Vec<KbEntry>)> {
    let rows =
        crate::kb_template::parse_csv(KNOWLEDGE_CSV.as_bytes()).map_err(|e| anyhow!("demo/knowledge.csv: {e}"))?;
    let mut categories: Vec<KbCategory> = Vec::new();
    let mut entries = Vec::new();
    for r in rows {
        let category_id = match categories.iter().find(|c| c.name == r.category) {
            Some(c) => c.id,
            None => {
                let c = KbCategory {
                    id: CategoryId::new(),
                    shop_id: shop,
                    name: r.category.clone(),
                    position: categories.len() as i64 + 1,
                };
                let id = c.id;
                categories.push(c);
                id
            }
        };
        entries.push(KbEntry {
            id: EntryId::new(),
            shop_id: shop,
            category_id,
            question: r.question,
            similar: r.similar,
            answer: r.answer,
            enabled: true,
            valid_from: None,
            valid_until: None,
            created_at: now,
            updated_at: now,
            stats: Default::default(),
        });
    }
    Ok((categories, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let now = kefu_store::now();
        assert_eq!(
            relative_time("-2d4h30m", now).unwrap(),
            Some(now - Duration::minutes(2 * 1440 + 270))
        );
        assert_eq!(relative_time("-45m", now).unwrap(), Some(now - Duration::minutes(45)));
        assert_eq!(relative_time("", now).unwrap(), None);
        for bad in ["2d", "-2x", "-d", "-5", "-0m"] {
            assert!(relative_time(bad, now).is_err(), "{bad}");
        }
    }

    /// The demo files meet the foundation's promise: ≥ 30 products, ≥ 50 orders over every
    /// state, an owner and 3 agents (2 售前, 1 售后), ≥ 40 knowledge entries in categories.
    #[tokio::test]
    async fn the_demo_files_make_a_believable_shop() {
        let file: DemoFile = toml::from_str(SHOP_TOML).unwrap();
        let new = build(&file, ShopSlug::parse("demo").unwrap(), kefu_store::now())
            .await
            .unwrap();
        let c = &new.catalog;
        assert!(c.products.len() >= 30, "{} products", c.products.len());
        assert!(c.products.iter().all(|p| !p.attributes.is_empty()));
        assert!(c.orders.len() >= 50, "{} orders", c.orders.len());
        for state in OrderState::ALL {
            assert!(
                c.orders.iter().any(|o| o.state == state),
                "no order is {}",
                state.label_zh()
            );
        }
        assert!(c.kb_entries.len() >= 40 && c.kb_categories.len() >= 5);
        let agents: Vec<_> = new
            .accounts
            .iter()
            .filter(|(a, _)| a.role == Role::Agent)
            .map(|(a, _)| a.routing.skill_group.clone().unwrap())
            .collect();
        assert_eq!(agents.iter().filter(|g| g.as_str() == SkillGroup::PRE_SALES).count(), 2);
        assert_eq!(
            agents.iter().filter(|g| g.as_str() == SkillGroup::AFTER_SALES).count(),
            1
        );
        assert_eq!(new.accounts.iter().filter(|(a, _)| a.role == Role::Owner).count(), 1);
        let phrases =
            crate::api::phrases::check_lines(crate::phrase_template::parse_csv(PHRASES_CSV.as_bytes()).unwrap())
                .unwrap();
        assert!(phrases.len() >= 10 && phrases.iter().any(|p| p.shortcut.as_deref() == Some("sc")));
    }
}
