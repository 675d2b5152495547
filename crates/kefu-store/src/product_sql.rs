//! Product knowledge (SPEC §2.10): the [`ProductStore`] part of every [`crate::Store`], and
//! `product_impl!`, its SQL for both engines. A product's knowledge is read whole (info, FAQ,
//! related products), because the panel shows it whole and search looks at all of it.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_core::ids::{ProductFaqId, ProductId, ShopId};
use kefu_core::product_knowledge::{ProductFaq, ProductInfo, ProductKnowledge, RelatedProduct};
use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProductImportSummary {
    /// Products whose knowledge the file replaced.
    pub products: i64,
    pub faq: i64,
    pub related: i64,
}

#[async_trait]
pub trait ProductStore: Send + Sync {
    /// `None` if the product is not the shop's.
    async fn product_knowledge(&self, shop: ShopId, product: ProductId) -> Result<Option<ProductKnowledge>>;
    /// Every product of the shop with its knowledge, by SKU: what search and export read.
    async fn all_product_knowledge(&self, shop: ShopId) -> Result<Vec<ProductKnowledge>>;
    /// Replaces the product's info and attributes. `NotFound` if not the shop's.
    async fn put_product_info(
        &self,
        shop: ShopId,
        product: ProductId,
        info: &ProductInfo,
        at: DateTime<Utc>,
    ) -> Result<()>;
    async fn product_faq(&self, shop: ShopId, id: ProductFaqId) -> Result<Option<ProductFaq>>;
    /// `NotFound` if the product is not the shop's, `Conflict` if it has that question.
    async fn create_product_faq(&self, faq: &ProductFaq) -> Result<()>;
    /// Question, phrasings and answer. `NotFound`, or `Conflict` if the question is taken.
    async fn update_product_faq(&self, faq: &ProductFaq) -> Result<()>;
    async fn delete_product_faq(&self, shop: ShopId, id: ProductFaqId) -> Result<()>;
    /// Adds the related product, or changes its reason (keeping its place). `NotFound` if
    /// either product is not the shop's.
    async fn put_related_product(&self, shop: ShopId, related: &RelatedProduct) -> Result<()>;
    async fn delete_related_product(&self, shop: ShopId, product: ProductId, related: ProductId) -> Result<()>;
    /// Replaces each listed product's info, FAQ and related products, in one transaction:
    /// all or nothing. Products the file does not list keep theirs.
    async fn import_product_knowledge(
        &self,
        shop: ShopId,
        items: &[ProductKnowledge],
        at: DateTime<Utc>,
    ) -> Result<ProductImportSummary>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct InfoRow {
    pub product_id: Uuid,
    pub info: Json<ProductInfo>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct FaqRow {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub product_id: Uuid,
    pub question: String,
    pub similar_questions: Json<Vec<String>>,
    pub answer: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<FaqRow> for ProductFaq {
    fn from(r: FaqRow) -> ProductFaq {
        ProductFaq {
            id: ProductFaqId(r.id),
            shop_id: ShopId(r.shop_id),
            product_id: ProductId(r.product_id),
            question: r.question,
            similar: r.similar_questions.0,
            answer: r.answer,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RelatedRow {
    pub product_id: Uuid,
    pub related_id: Uuid,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl From<RelatedRow> for RelatedProduct {
    fn from(r: RelatedRow) -> RelatedProduct {
        RelatedProduct {
            product_id: ProductId(r.product_id),
            related_id: ProductId(r.related_id),
            reason: r.reason,
            created_at: r.created_at,
        }
    }
}

/// Joins products with their rows; the info's attributes are the product's own.
pub(crate) fn assemble(
    products: Vec<kefu_core::catalog::Product>,
    infos: Vec<InfoRow>,
    faqs: Vec<FaqRow>,
    related: Vec<RelatedRow>,
) -> Vec<ProductKnowledge> {
    use std::collections::HashMap;
    let mut infos: HashMap<Uuid, InfoRow> = infos.into_iter().map(|r| (r.product_id, r)).collect();
    let mut faq_of: HashMap<Uuid, Vec<ProductFaq>> = HashMap::new();
    for f in faqs {
        faq_of.entry(f.product_id).or_default().push(f.into());
    }
    let mut related_of: HashMap<Uuid, Vec<RelatedProduct>> = HashMap::new();
    for r in related {
        related_of.entry(r.product_id).or_default().push(r.into());
    }
    products
        .into_iter()
        .map(|p| {
            let row = infos.remove(&p.id.0);
            let mut info = row.as_ref().map(|r| r.info.0.clone()).unwrap_or_default();
            info.attributes = p.attributes.clone();
            ProductKnowledge {
                faq: faq_of.remove(&p.id.0).unwrap_or_default(),
                related: related_of.remove(&p.id.0).unwrap_or_default(),
                updated_at: row.map(|r| r.updated_at),
                info,
                product: p,
            }
        })
        .collect()
}

macro_rules! product_impl {
    ($store:ty, $db:ty, $begin_write:literal) => {
        macro_rules! faq_columns {
            () => {
                "id, shop_id, product_id, question, similar_questions, answer, created_at, updated_at"
            };
        }

        impl $store {
            /// The rows of the shop's products, or of one (`product`).
            async fn knowledge_of(&self, shop: ShopId, product: Option<ProductId>) -> Result<Vec<ProductKnowledge>> {
                use crate::product_sql::{FaqRow, InfoRow, RelatedRow};
                let one = product.map(|p| p.0);
                let products: Vec<crate::rows::ProductRow> = sqlx::query_as(
                    "SELECT id, shop_id, sku, title, category, price_fen, stock, attributes, created_at FROM products
                     WHERE shop_id = $1 AND ($2 IS NULL OR id = $2) ORDER BY sku",
                )
                .bind(shop.0).bind(one).fetch_all(&self.pool).await?;
                let infos: Vec<InfoRow> = sqlx::query_as(
                    "SELECT product_id, info, updated_at FROM product_knowledge WHERE shop_id = $1 AND ($2 IS NULL OR product_id = $2)",
                )
                .bind(shop.0).bind(one).fetch_all(&self.pool).await?;
                let faqs: Vec<FaqRow> = sqlx::query_as(concat!(
                    "SELECT ", faq_columns!(), " FROM product_faq WHERE shop_id = $1 AND ($2 IS NULL OR product_id = $2) ORDER BY created_at, id"
                ))
                .bind(shop.0).bind(one).fetch_all(&self.pool).await?;
                let related: Vec<RelatedRow> = sqlx::query_as(
                    "SELECT product_id, related_id, reason, created_at FROM related_products
                     WHERE shop_id = $1 AND ($2 IS NULL OR product_id = $2) ORDER BY created_at, related_id",
                )
                .bind(shop.0).bind(one).fetch_all(&self.pool).await?;
                Ok(crate::product_sql::assemble(
                    products.into_iter().map(Into::into).collect(),
                    infos,
                    faqs,
                    related,
                ))
            }

            async fn write_info(
                tx: &mut sqlx::Transaction<'static, $db>,
                shop: ShopId,
                product: ProductId,
                info: &ProductInfo,
                at: DateTime<Utc>,
            ) -> Result<()> {
                let done = sqlx::query("UPDATE products SET attributes = $3 WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(product.0).bind(Json(&info.attributes)).execute(&mut **tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                // The attributes live on the product; the info row keeps the rest.
                let mut rest = info.clone();
                rest.attributes.clear();
                sqlx::query(
                    "INSERT INTO product_knowledge (product_id, shop_id, info, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (product_id) DO UPDATE SET info = excluded.info, updated_at = excluded.updated_at",
                )
                .bind(product.0).bind(shop.0).bind(Json(&rest)).bind(at).execute(&mut **tx).await?;
                Ok(())
            }

            async fn insert_faq(tx: &mut sqlx::Transaction<'static, $db>, f: &ProductFaq) -> Result<()> {
                let known: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM products WHERE shop_id = $1 AND id = $2")
                    .bind(f.shop_id.0).bind(f.product_id.0).fetch_optional(&mut **tx).await?;
                if known.is_none() {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(concat!("INSERT INTO product_faq (", faq_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                    .bind(f.id.0).bind(f.shop_id.0).bind(f.product_id.0).bind(&f.question).bind(Json(&f.similar))
                    .bind(&f.answer).bind(f.created_at).bind(f.updated_at)
                    .execute(&mut **tx).await?;
                Ok(())
            }

            async fn upsert_related(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, r: &RelatedProduct) -> Result<()> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM products WHERE shop_id = $1 AND id IN ($2, $3)")
                    .bind(shop.0).bind(r.product_id.0).bind(r.related_id.0).fetch_one(&mut **tx).await?;
                if n != 2 {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO related_products (shop_id, product_id, related_id, reason, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (product_id, related_id) DO UPDATE SET reason = excluded.reason",
                )
                .bind(shop.0).bind(r.product_id.0).bind(r.related_id.0).bind(&r.reason).bind(r.created_at)
                .execute(&mut **tx).await?;
                Ok(())
            }
        }

        #[async_trait]
        impl crate::product_sql::ProductStore for $store {
            async fn product_knowledge(&self, shop: ShopId, product: ProductId) -> Result<Option<ProductKnowledge>> {
                Ok(self.knowledge_of(shop, Some(product)).await?.pop())
            }

            async fn all_product_knowledge(&self, shop: ShopId) -> Result<Vec<ProductKnowledge>> {
                self.knowledge_of(shop, None).await
            }

            async fn put_product_info(&self, shop: ShopId, product: ProductId, info: &ProductInfo, at: DateTime<Utc>) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::write_info(&mut tx, shop, product, info, at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn product_faq(&self, shop: ShopId, id: ProductFaqId) -> Result<Option<ProductFaq>> {
                let row: Option<crate::product_sql::FaqRow> =
                    sqlx::query_as(concat!("SELECT ", faq_columns!(), " FROM product_faq WHERE shop_id = $1 AND id = $2"))
                        .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?;
                Ok(row.map(Into::into))
            }

            async fn create_product_faq(&self, faq: &ProductFaq) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::insert_faq(&mut tx, faq).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_product_faq(&self, f: &ProductFaq) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE product_faq SET question = $3, similar_questions = $4, answer = $5, updated_at = $6 WHERE shop_id = $1 AND id = $2",
                )
                .bind(f.shop_id.0).bind(f.id.0).bind(&f.question).bind(Json(&f.similar)).bind(&f.answer).bind(f.updated_at)
                .execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn delete_product_faq(&self, shop: ShopId, id: ProductFaqId) -> Result<()> {
                let done = sqlx::query("DELETE FROM product_faq WHERE shop_id = $1 AND id = $2")
                    .bind(shop.0).bind(id.0).execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn put_related_product(&self, shop: ShopId, r: &RelatedProduct) -> Result<()> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                Self::upsert_related(&mut tx, shop, r).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_related_product(&self, shop: ShopId, product: ProductId, related: ProductId) -> Result<()> {
                let done = sqlx::query("DELETE FROM related_products WHERE shop_id = $1 AND product_id = $2 AND related_id = $3")
                    .bind(shop.0).bind(product.0).bind(related.0).execute(&self.writer).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn import_product_knowledge(
                &self,
                shop: ShopId,
                items: &[ProductKnowledge],
                at: DateTime<Utc>,
            ) -> Result<crate::product_sql::ProductImportSummary> {
                let mut tx = self.writer.begin_with($begin_write).await?;
                let mut summary = crate::product_sql::ProductImportSummary::default();
                for k in items {
                    let p = k.product.id;
                    Self::write_info(&mut tx, shop, p, &k.info, at).await?;
                    sqlx::query("DELETE FROM product_faq WHERE shop_id = $1 AND product_id = $2")
                        .bind(shop.0).bind(p.0).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM related_products WHERE shop_id = $1 AND product_id = $2")
                        .bind(shop.0).bind(p.0).execute(&mut *tx).await?;
                    for f in &k.faq {
                        Self::insert_faq(&mut tx, f).await?;
                    }
                    for r in &k.related {
                        Self::upsert_related(&mut tx, shop, r).await?;
                    }
                    summary.products += 1;
                    summary.faq += k.faq.len() as i64;
                    summary.related += k.related.len() as i64;
                }
                tx.commit().await?;
                Ok(summary)
            }
        }
    };
}
pub(crate) use product_impl;
