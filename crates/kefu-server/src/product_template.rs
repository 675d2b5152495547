//! The product-knowledge file template (SPEC §2.10): `sku,kind,name,value,similar`, a header
//! row, UTF-8 — as CSV, or the first sheet of an .xlsx workbook. One row is one fact about
//! the product its SKU (商家编码) names, so a product manual of any length fits one sheet and
//! staff can sort and filter it in Excel. `kind` is one of:
//!
//! | kind | name | value | similar |
//! |---|---|---|---|
//! | 属性 | the attribute (材质) | its value (A类纯棉) | |
//! | 尺码表 | | cells separated by `\|`; a SKU's first 尺码表 row is the header | |
//! | 洗涤保养 | | the care text | |
//! | 使用方法 | | the use text | |
//! | 卖点 | | one selling point | |
//! | 竞品对比 | whom buyers compare with (××家) | the shop's answer | |
//! | 常见问题 | the question | the answer (as in the knowledge base) | phrasings separated by `\|` |
//! | 关联推荐 | the related product's SKU | the reason (6个月宝宝可以开始吃辅食) | |
//!
//! Importing replaces the whole knowledge of every SKU the file names (its 属性 rows replace
//! the product's attributes; without any, the catalog's stay); products it does not name keep
//! theirs. A file is read whole or refused whole, with the line and the reason.

pub use crate::sheet::TemplateError;
use crate::sheet::{self, refuse};
use kefu_core::product_knowledge::{ProductKnowledge, SizeChart};

pub const HEADER: [&str; 5] = ["sku", "kind", "name", "value", "similar"];

/// What a row says about its product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Attribute,
    SizeChart,
    Care,
    Usage,
    SellingPoint,
    Comparison,
    Faq,
    Related,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Attribute,
        Kind::SizeChart,
        Kind::Care,
        Kind::Usage,
        Kind::SellingPoint,
        Kind::Comparison,
        Kind::Faq,
        Kind::Related,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Attribute => "属性",
            Kind::SizeChart => "尺码表",
            Kind::Care => "洗涤保养",
            Kind::Usage => "使用方法",
            Kind::SellingPoint => "卖点",
            Kind::Comparison => "竞品对比",
            Kind::Faq => "常见问题",
            Kind::Related => "关联推荐",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == s)
    }
}

/// One row as the template holds it, trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRow {
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    pub sku: String,
    pub kind: Kind,
    pub name: String,
    pub value: String,
    pub similar: String,
}

fn rows(lines: Vec<sheet::Line>) -> Result<Vec<TemplateRow>, TemplateError> {
    let mut out = Vec::with_capacity(lines.len());
    for (line, f) in lines {
        let sku = f[0].trim();
        if sku.is_empty() {
            return Err(refuse(Some(line), "the sku is empty"));
        }
        let kind = Kind::parse(f[1].trim()).ok_or_else(|| {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.label()).collect();
            refuse(
                Some(line),
                format!("the kind “{}” is not one of {}", f[1].trim(), kinds.join(", ")),
            )
        })?;
        let (name, value) = (f[2].trim(), f[3].trim());
        let needs_name = matches!(kind, Kind::Attribute | Kind::Comparison | Kind::Faq | Kind::Related);
        if needs_name && name.is_empty() {
            return Err(refuse(Some(line), format!("a {} row needs a name", kind.label())));
        }
        if value.is_empty() {
            return Err(refuse(Some(line), "the value is empty"));
        }
        out.push(TemplateRow {
            line,
            sku: sku.into(),
            kind,
            name: name.into(),
            value: value.into(),
            similar: f[4].trim().into(),
        });
    }
    if out.is_empty() {
        return Err(refuse(None, "the file has a header but no rows"));
    }
    Ok(out)
}

pub fn parse_csv(bytes: &[u8]) -> Result<Vec<TemplateRow>, TemplateError> {
    rows(sheet::read_csv(bytes, &HEADER)?)
}

pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<TemplateRow>, TemplateError> {
    rows(sheet::read_xlsx(bytes, &HEADER)?)
}

/// The rows of products' knowledge, in the template's order of kinds. `sku_of` names a
/// related product.
pub fn to_rows(
    items: &[ProductKnowledge],
    sku_of: impl Fn(kefu_core::ids::ProductId) -> Option<String>,
) -> Vec<[String; 5]> {
    let mut out = Vec::new();
    for k in items {
        let sku = &k.product.sku;
        let mut row = |kind: Kind, name: &str, value: &str, similar: &str| {
            out.push([
                sku.clone(),
                kind.label().to_string(),
                name.to_string(),
                value.to_string(),
                similar.to_string(),
            ]);
        };
        for (n, v) in &k.info.attributes {
            row(Kind::Attribute, n, v, "");
        }
        let chart: &SizeChart = &k.info.size_chart;
        if !chart.is_empty() {
            row(Kind::SizeChart, "", &chart.columns.join("|"), "");
            for r in &chart.rows {
                row(Kind::SizeChart, "", &r.join("|"), "");
            }
        }
        if !k.info.care.is_empty() {
            row(Kind::Care, "", &k.info.care, "");
        }
        if !k.info.usage.is_empty() {
            row(Kind::Usage, "", &k.info.usage, "");
        }
        for p in &k.info.selling_points {
            row(Kind::SellingPoint, "", p, "");
        }
        for c in &k.info.comparisons {
            row(Kind::Comparison, &c.competitor, &c.answer, "");
        }
        for f in &k.faq {
            row(Kind::Faq, &f.question, &f.answer, &f.similar.join("|"));
        }
        for r in &k.related {
            if let Some(s) = sku_of(r.related_id) {
                row(Kind::Related, &s, &r.reason, "");
            }
        }
    }
    out
}

pub fn to_csv(rows: &[[String; 5]]) -> Vec<u8> {
    sheet::write_csv(&HEADER, rows.iter())
}

pub fn to_xlsx(rows: &[[String; 5]]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    sheet::write_xlsx(
        "product-knowledge",
        &HEADER,
        &[14.0, 12.0, 24.0, 70.0, 40.0],
        rows.iter(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_refuses_bad_ones_by_line() {
        let file = "sku,kind,name,value,similar\nBB-001,属性,材质,A类纯棉,\nBB-001,尺码表,,尺码|身高,\nBB-001,常见问题,会缩水吗,缩水约1%,缩水吗|洗了会变小吗\n";
        let rows = parse_csv(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].kind, Kind::Faq);
        assert_eq!(rows[2].line, 4);
        let e = parse_csv("sku,kind,name,value,similar\nBB-001,属性,材质,A类纯棉,\nBB-001,价格,,1,\n".as_bytes())
            .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("价格"), "{e}");
        let e = parse_csv("sku,kind,name,value,similar\nBB-001,关联推荐,,辅食,\n".as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = parse_csv("sku,kind,name,value,similar\n".as_bytes()).unwrap_err();
        assert_eq!(e.line, None);
    }
}
