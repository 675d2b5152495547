//! Product knowledge (商品知识库, SPEC §2.10): what agents look up while a buyer asks about a
//! product — its attributes (材质, 适用年龄 …), size chart (尺码表), care (洗涤保养) and use,
//! selling points (卖点), the answer to "为什么××家比你们便宜" (竞品对比), the product's own
//! FAQ, and related products (关联推荐) with the reason an agent gives ("6个月宝宝可以开始吃辅食").
//!
//! The limits keep one product's knowledge readable in the workbench's narrow right panel and
//! in one spreadsheet; they are generous for a real shop's product manual.

use crate::ValidationError;
use crate::catalog::Product;
use crate::ids::{ProductFaqId, ProductId, ShopId};
use crate::kb;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

pub const MAX_ATTRIBUTES: usize = 30;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 20;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 200;
pub const MAX_SIZE_COLUMNS: usize = 12;
pub const MAX_SIZE_ROWS: usize = 50;
pub const MAX_SIZE_CELL_CHARS: usize = 30;
pub const MAX_TEXT_CHARS: usize = 1000;
pub const MAX_SELLING_POINTS: usize = 20;
pub const MAX_SELLING_POINT_CHARS: usize = 200;
pub const MAX_COMPARISONS: usize = 10;
pub const MAX_COMPETITOR_CHARS: usize = 50;
pub const MAX_FAQ: usize = 50;
pub const MAX_RELATED: usize = 12;
/// A reason is said in one breath next to a card: "6个月宝宝可以开始吃辅食".
pub const MAX_REASON_CHARS: usize = 60;

/// A size chart as staff write it: a header of columns (尺码, 身高, 体重 …) and rows of the
/// same width — a table in the panel, `|`-separated cells in the import file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SizeChart {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl SizeChart {
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.rows.is_empty()
    }

    /// Cells of one line of the import file: `73|66-73cm|3-6个月`.
    pub fn split_cells(line: &str) -> Vec<String> {
        line.split('|').map(|c| c.trim().to_string()).collect()
    }

    fn check(&mut self) -> Result<(), ValidationError> {
        if self.is_empty() {
            return Ok(());
        }
        let cell = |field: String, c: &str| -> Result<String, ValidationError> {
            let c = c.trim();
            if c.chars().count() > MAX_SIZE_CELL_CHARS {
                return Err(ValidationError::new(
                    field,
                    format!("a cell is longer than {MAX_SIZE_CELL_CHARS} characters"),
                ));
            }
            Ok(c.to_string())
        };
        if self.columns.is_empty() || self.columns.len() > MAX_SIZE_COLUMNS {
            return Err(ValidationError::new(
                "size_chart.columns",
                format!("a size chart has 1 to {MAX_SIZE_COLUMNS} columns"),
            ));
        }
        let mut columns = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            let c = cell("size_chart.columns".into(), c)?;
            if c.is_empty() {
                return Err(ValidationError::new("size_chart.columns", "a column has no name"));
            }
            columns.push(c);
        }
        if self.rows.is_empty() {
            return Err(ValidationError::new(
                "size_chart.rows",
                "a size chart needs at least one row",
            ));
        }
        if self.rows.len() > MAX_SIZE_ROWS {
            return Err(ValidationError::new(
                "size_chart.rows",
                format!("at most {MAX_SIZE_ROWS} rows"),
            ));
        }
        let mut rows = Vec::with_capacity(self.rows.len());
        for (i, r) in self.rows.iter().enumerate() {
            let field = format!("size_chart.rows[{i}]");
            if r.len() != columns.len() {
                return Err(ValidationError::new(
                    field,
                    format!("has {} cells; the header has {} columns", r.len(), columns.len()),
                ));
            }
            let row = r
                .iter()
                .map(|c| cell(field.clone(), c))
                .collect::<Result<Vec<_>, _>>()?;
            if row.iter().all(String::is_empty) {
                return Err(ValidationError::new(field, "is empty"));
            }
            rows.push(row);
        }
        self.columns = columns;
        self.rows = rows;
        Ok(())
    }
}

/// The shop's answer when a buyer says another shop is cheaper: what makes ours worth it,
/// never running the other shop down (seed 000: 突出自身的优势).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comparison {
    /// Whom or what the buyer compares with, e.g. "××家同款（便宜10元）".
    pub competitor: String,
    pub answer: String,
}

/// What staff edit about a product beside its FAQ and related products.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProductInfo {
    /// 材质, 适用年龄, 产地 …; kept on the product itself, where the catalog has them.
    pub attributes: BTreeMap<String, String>,
    pub size_chart: SizeChart,
    /// 洗涤保养.
    pub care: String,
    /// 使用方法, 适用场景.
    pub usage: String,
    pub selling_points: Vec<String>,
    pub comparisons: Vec<Comparison>,
}

fn text(field: &str, t: &str, max: usize, required: bool) -> Result<String, ValidationError> {
    let t = t.trim();
    if required && t.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(ValidationError::new(field, format!("is longer than {max} characters")));
    }
    Ok(t.to_string())
}

impl ProductInfo {
    /// Trims everything, drops blank and repeated selling points, and checks the limits.
    pub fn normalize_and_check(&mut self) -> Result<(), ValidationError> {
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(ValidationError::new(
                "attributes",
                format!("at most {MAX_ATTRIBUTES} attributes"),
            ));
        }
        let mut attributes = BTreeMap::new();
        for (k, v) in &self.attributes {
            let key = text("attributes", k, MAX_ATTRIBUTE_KEY_CHARS, true)
                .map_err(|e| ValidationError::new("attributes", format!("a name {}", e.message)))?;
            let field = format!("attributes.{key}");
            let value = text(&field, v, MAX_ATTRIBUTE_VALUE_CHARS, true)?;
            if attributes.insert(key.clone(), value).is_some() {
                return Err(ValidationError::new(field, "is named twice"));
            }
        }
        self.attributes = attributes;
        self.size_chart.check()?;
        self.care = text("care", &self.care, MAX_TEXT_CHARS, false)?;
        self.usage = text("usage", &self.usage, MAX_TEXT_CHARS, false)?;
        let mut seen = HashSet::new();
        let mut points = Vec::new();
        for (i, p) in self.selling_points.iter().enumerate() {
            let p = text(&format!("selling_points[{i}]"), p, MAX_SELLING_POINT_CHARS, false)?;
            if !p.is_empty() && seen.insert(p.clone()) {
                points.push(p);
            }
        }
        if points.len() > MAX_SELLING_POINTS {
            return Err(ValidationError::new(
                "selling_points",
                format!("at most {MAX_SELLING_POINTS} selling points"),
            ));
        }
        self.selling_points = points;
        if self.comparisons.len() > MAX_COMPARISONS {
            return Err(ValidationError::new(
                "comparisons",
                format!("at most {MAX_COMPARISONS} comparisons"),
            ));
        }
        for (i, c) in self.comparisons.iter_mut().enumerate() {
            c.competitor = text(
                &format!("comparisons[{i}].competitor"),
                &c.competitor,
                MAX_COMPETITOR_CHARS,
                true,
            )?;
            c.answer = text(&format!("comparisons[{i}].answer"), &c.answer, MAX_TEXT_CHARS, true)?;
        }
        Ok(())
    }
}

/// A question buyers ask about this one product (这款会缩水吗?). The bot prefers these when
/// the buyer came from the product's page; agents read them in the panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductFaq {
    pub id: ProductFaqId,
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub question: String,
    pub similar: Vec<String>,
    /// Text as in the knowledge base: links, `[图片:…]`, `[商品:SKU]`.
    pub answer: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductFaq {
    /// The knowledge base's rules for a question, its phrasings and its answer. Returns the
    /// SKUs the answer shows, which the caller checks against the shop's products.
    pub fn normalize_and_check(&mut self) -> Result<Vec<String>, ValidationError> {
        self.question = kb::clean_question("question", &self.question)?;
        let mut seen = HashSet::from([self.question.clone()]);
        let mut similar = Vec::new();
        for (i, s) in self.similar.iter().enumerate() {
            let s = s.trim();
            if s.is_empty() || !seen.insert(s.to_string()) {
                continue;
            }
            similar.push(kb::clean_question(&format!("similar[{i}]"), s)?);
        }
        if similar.len() > kb::MAX_SIMILAR {
            return Err(ValidationError::new(
                "similar",
                format!("at most {} similar phrasings", kb::MAX_SIMILAR),
            ));
        }
        self.similar = similar;
        self.answer = self.answer.trim().to_string();
        kb::check_answer(&self.answer)
    }
}

/// A product to suggest with another (关联推荐), with the words the agent says for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RelatedProduct {
    pub product_id: ProductId,
    pub related_id: ProductId,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// A related product is another product, with a short reason.
pub fn check_related(product: ProductId, related: ProductId, reason: &str) -> Result<String, ValidationError> {
    if product == related {
        return Err(ValidationError::new("related", "a product cannot be related to itself"));
    }
    text("reason", reason, MAX_REASON_CHARS, true)
}

/// Everything known about one product, as the panel shows it and the import file holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductKnowledge {
    pub product: Product,
    pub info: ProductInfo,
    pub faq: Vec<ProductFaq>,
    pub related: Vec<RelatedProduct>,
    /// When the info was last saved; `None` if never.
    pub updated_at: Option<DateTime<Utc>>,
}

impl ProductKnowledge {
    /// The texts a search looks in, each with the name of the place it comes from, title
    /// first: a hit there ranks above one in a FAQ answer.
    pub fn search_fields(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![("title", self.product.title.clone()), ("sku", self.product.sku.clone())];
        f.push(("category", self.product.category.clone()));
        for (k, v) in &self.info.attributes {
            f.push(("attributes", format!("{k} {v}")));
        }
        for p in &self.info.selling_points {
            f.push(("selling_points", p.clone()));
        }
        if !self.info.size_chart.is_empty() {
            let cells: Vec<&str> = self
                .info
                .size_chart
                .columns
                .iter()
                .chain(self.info.size_chart.rows.iter().flatten())
                .map(String::as_str)
                .collect();
            f.push(("size_chart", cells.join(" ")));
        }
        f.push(("care", self.info.care.clone()));
        f.push(("usage", self.info.usage.clone()));
        for c in &self.info.comparisons {
            f.push(("comparisons", format!("{} {}", c.competitor, c.answer)));
        }
        for q in &self.faq {
            f.push(("faq", format!("{} {} {}", q.question, q.similar.join(" "), q.answer)));
        }
        f.retain(|(_, t)| !t.trim().is_empty());
        f
    }
}

/// Checks a whole product's knowledge as an import brings it: the info, at most
/// [`MAX_FAQ`] questions none asked twice, at most [`MAX_RELATED`] related products none
/// named twice nor the product itself.
pub fn check_import(k: &mut ProductKnowledge) -> Result<Vec<String>, ValidationError> {
    k.info.normalize_and_check()?;
    if k.faq.len() > MAX_FAQ {
        return Err(ValidationError::new(
            "faq",
            format!("at most {MAX_FAQ} questions per product"),
        ));
    }
    let mut skus = Vec::new();
    let mut questions = HashSet::new();
    for q in &mut k.faq {
        skus.extend(q.normalize_and_check()?);
        if !questions.insert(q.question.clone()) {
            return Err(ValidationError::new(
                "question",
                format!("“{}” is asked twice", q.question),
            ));
        }
    }
    if k.related.len() > MAX_RELATED {
        return Err(ValidationError::new(
            "related",
            format!("at most {MAX_RELATED} related products"),
        ));
    }
    let mut related = HashSet::new();
    for r in &mut k.related {
        r.reason = check_related(k.product.id, r.related_id, &r.reason)?;
        if !related.insert(r.related_id) {
            return Err(ValidationError::new("related", "names the same product twice"));
        }
    }
    Ok(skus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Fen;

    fn product() -> Product {
        Product {
            id: ProductId::new(),
            shop_id: ShopId::new(),
            sku: "BB-001".into(),
            title: "婴儿纯棉连体衣".into(),
            category: "童装".into(),
            price: Fen(8900),
            stock: 10,
            attributes: BTreeMap::new(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn info_is_trimmed_and_checked() {
        let mut info = ProductInfo {
            attributes: BTreeMap::from([(" 材质 ".into(), " A类纯棉 ".into())]),
            size_chart: SizeChart {
                columns: vec!["尺码".into(), " 身高 ".into()],
                rows: vec![vec!["66".into(), "59-66cm".into()]],
            },
            care: " 30℃以下手洗 ".into(),
            usage: String::new(),
            selling_points: vec!["无荧光剂".into(), " ".into(), "无荧光剂".into(), "A类标准".into()],
            comparisons: vec![Comparison {
                competitor: " ××家 ".into(),
                answer: "我们用的是新疆长绒棉".into(),
            }],
        };
        info.normalize_and_check().unwrap();
        assert_eq!(info.attributes["材质"], "A类纯棉");
        assert_eq!(info.size_chart.columns, vec!["尺码", "身高"]);
        assert_eq!(info.selling_points, vec!["无荧光剂", "A类标准"]);
        assert_eq!(info.comparisons[0].competitor, "××家");
        assert_eq!(info.care, "30℃以下手洗");

        let mut bad = info.clone();
        bad.size_chart.rows.push(vec!["73".into()]);
        assert_eq!(bad.normalize_and_check().unwrap_err().field, "size_chart.rows[1]");
        let mut bad = info.clone();
        bad.size_chart.rows.clear();
        assert_eq!(bad.normalize_and_check().unwrap_err().field, "size_chart.rows");
        let mut bad = info.clone();
        bad.attributes.insert("材质2".into(), " ".into());
        assert_eq!(bad.normalize_and_check().unwrap_err().field, "attributes.材质2");
        let mut bad = info.clone();
        bad.attributes
            .insert("x".repeat(MAX_ATTRIBUTE_KEY_CHARS + 1), "v".into());
        assert_eq!(bad.normalize_and_check().unwrap_err().field, "attributes");
        let mut bad = info.clone();
        bad.comparisons[0].answer = "".into();
        assert_eq!(bad.normalize_and_check().unwrap_err().field, "comparisons[0].answer");
        let mut bad = info.clone();
        bad.selling_points = (0..=MAX_SELLING_POINTS).map(|i| i.to_string()).collect();
        assert_eq!(bad.normalize_and_check().unwrap_err().field, "selling_points");
        // No size chart at all is fine.
        let mut none = ProductInfo::default();
        none.normalize_and_check().unwrap();
    }

    #[test]
    fn related_products_are_others_with_a_short_reason() {
        let (a, b) = (ProductId::new(), ProductId::new());
        assert_eq!(
            check_related(a, b, " 6个月宝宝可以开始吃辅食 ").unwrap(),
            "6个月宝宝可以开始吃辅食"
        );
        assert_eq!(check_related(a, a, "同款").unwrap_err().field, "related");
        assert_eq!(check_related(a, b, " ").unwrap_err().field, "reason");
        assert_eq!(
            check_related(a, b, &"很".repeat(MAX_REASON_CHARS + 1))
                .unwrap_err()
                .field,
            "reason"
        );
    }

    #[test]
    fn an_import_names_each_question_and_related_product_once() {
        let p = product();
        let now = Utc::now();
        let faq = |q: &str| ProductFaq {
            id: ProductFaqId::new(),
            shop_id: p.shop_id,
            product_id: p.id,
            question: q.into(),
            similar: vec![q.into(), "会缩水吗".into()],
            answer: "洗后缩水约1%，推荐[商品:BB-002]".into(),
            created_at: now,
            updated_at: now,
        };
        let other = ProductId::new();
        let mut k = ProductKnowledge {
            product: p.clone(),
            info: ProductInfo::default(),
            faq: vec![faq("这款会缩水吗?")],
            related: vec![RelatedProduct {
                product_id: p.id,
                related_id: other,
                reason: "6个月宝宝可以开始吃辅食".into(),
                created_at: now,
            }],
            updated_at: None,
        };
        assert_eq!(check_import(&mut k).unwrap(), vec!["BB-002"]);
        assert_eq!(k.faq[0].similar, vec!["会缩水吗"]);
        let mut twice = k.clone();
        twice.faq.push(faq("这款会缩水吗?"));
        assert_eq!(check_import(&mut twice).unwrap_err().field, "question");
        let mut twice = k.clone();
        twice.related.push(twice.related[0].clone());
        assert_eq!(check_import(&mut twice).unwrap_err().field, "related");
        let mut own = k.clone();
        own.related[0].related_id = p.id;
        assert_eq!(check_import(&mut own).unwrap_err().field, "related");
        let fields: Vec<&str> = k.search_fields().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["title", "sku", "category", "faq"]);
    }
}
