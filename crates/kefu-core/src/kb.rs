//! Knowledge-base rules (SPEC §1.1): what a valid entry is, and what an answer's text means.
//!
//! An answer is plain text that shop staff can type into a spreadsheet cell, so that the
//! CSV/xlsx template stays four columns and export → import round-trips. Links are written
//! as they are; an image is `[图片:https://…]` and a product card `[商品:SKU]` — the same
//! bracket words staff already use in chat tools. [`answer_parts`] turns the text into the
//! parts a chat client renders.

use crate::ValidationError;
use crate::catalog::KbEntry;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub const MAX_QUESTION_CHARS: usize = 200;
pub const MAX_SIMILAR: usize = 300;
pub const MAX_ANSWER_CHARS: usize = 5000;
pub const MAX_CATEGORY_CHARS: usize = 50;

/// One piece of an answer, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerPart {
    Text {
        text: String,
    },
    Link {
        url: String,
    },
    Image {
        url: String,
    },
    /// A product card by SKU; the server fills in title, price and stock.
    Product {
        sku: String,
    },
}

const IMAGE_OPEN: &str = "[图片:";
const PRODUCT_OPEN: &str = "[商品:";

/// The words of an answer without its links, images and product cards: what the bot reads of
/// it when matching a question to the answer itself.
pub fn answer_text(answer: &str) -> String {
    answer_parts(answer)
        .into_iter()
        .filter_map(|p| match p {
            AnswerPart::Text { text } => Some(text),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits an answer into text, links, images and product cards.
pub fn answer_parts(answer: &str) -> Vec<AnswerPart> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = answer;
    while !rest.is_empty() {
        let marker = [IMAGE_OPEN, PRODUCT_OPEN]
            .iter()
            .filter_map(|m| rest.find(m).map(|at| (at, *m)))
            .chain(
                ["http://", "https://"]
                    .iter()
                    .filter_map(|m| rest.find(m).map(|at| (at, *m))),
            )
            .min_by_key(|(at, _)| *at);
        let Some((at, marker)) = marker else {
            text.push_str(rest);
            break;
        };
        text.push_str(&rest[..at]);
        let after = &rest[at..];
        if marker.starts_with('[') {
            let Some(close) = after.find(']') else {
                text.push_str(after);
                break;
            };
            let value = after[marker.len()..close].trim().to_string();
            flush(&mut parts, &mut text);
            parts.push(if marker == IMAGE_OPEN {
                AnswerPart::Image { url: value }
            } else {
                AnswerPart::Product { sku: value }
            });
            rest = &after[close + 1..];
        } else {
            let end = after
                .find(|c: char| c.is_whitespace() || !c.is_ascii() || "<>\"'()[]{}".contains(c))
                .unwrap_or(after.len());
            // A sentence's full stop or comma is not part of the link.
            let url = after[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
            flush(&mut parts, &mut text);
            parts.push(AnswerPart::Link { url: url.to_string() });
            rest = &after[url.len()..];
        }
    }
    flush(&mut parts, &mut text);
    parts
}

fn flush(parts: &mut Vec<AnswerPart>, text: &mut String) {
    if !text.is_empty() {
        parts.push(AnswerPart::Text {
            text: std::mem::take(text),
        });
    }
}

/// Checks the answer's images are web addresses and returns the product SKUs it names,
/// which the caller checks against the shop's products.
pub fn check_answer(answer: &str) -> Result<Vec<String>, ValidationError> {
    if answer.trim().is_empty() {
        return Err(ValidationError::new("answer", "must not be empty"));
    }
    if answer.chars().count() > MAX_ANSWER_CHARS {
        return Err(ValidationError::new(
            "answer",
            format!("is longer than {MAX_ANSWER_CHARS} characters"),
        ));
    }
    let mut skus = Vec::new();
    for part in answer_parts(answer) {
        match part {
            AnswerPart::Image { url } if !(url.starts_with("https://") || url.starts_with("http://")) => {
                return Err(ValidationError::new(
                    "answer",
                    format!("the image “{url}” must be a web address starting with https://"),
                ));
            }
            AnswerPart::Product { sku } if sku.is_empty() => {
                return Err(ValidationError::new("answer", "a product card [商品:…] names no SKU"));
            }
            AnswerPart::Product { sku } => skus.push(sku),
            _ => {}
        }
    }
    Ok(skus)
}

/// Trims a question; refuses empty or overlong ones.
pub fn clean_question(field: &str, q: &str) -> Result<String, ValidationError> {
    let q = q.trim();
    if q.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if q.chars().count() > MAX_QUESTION_CHARS {
        return Err(ValidationError::new(
            field,
            format!("is longer than {MAX_QUESTION_CHARS} characters"),
        ));
    }
    Ok(q.to_string())
}

/// A category name: trimmed, non-empty, short.
pub fn clean_category(name: &str) -> Result<String, ValidationError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(ValidationError::new("category", "must not be empty"));
    }
    if n.chars().count() > MAX_CATEGORY_CHARS {
        return Err(ValidationError::new(
            "category",
            format!("is longer than {MAX_CATEGORY_CHARS} characters"),
        ));
    }
    Ok(n.to_string())
}

impl KbEntry {
    /// Trims the texts, drops blank and repeated phrasings (and any equal to the question),
    /// and checks lengths and the validity period. Returns the SKUs the answer shows.
    pub fn normalize_and_check(&mut self) -> Result<Vec<String>, ValidationError> {
        self.question = clean_question("question", &self.question)?;
        let mut seen = HashSet::from([self.question.clone()]);
        let mut similar = Vec::new();
        for (i, s) in self.similar.iter().enumerate() {
            let s = s.trim();
            if s.is_empty() || !seen.insert(s.to_string()) {
                continue;
            }
            similar.push(clean_question(&format!("similar[{i}]"), s)?);
        }
        if similar.len() > MAX_SIMILAR {
            return Err(ValidationError::new(
                "similar",
                format!("at most {MAX_SIMILAR} similar phrasings per entry"),
            ));
        }
        self.similar = similar;
        self.answer = self.answer.trim().to_string();
        let skus = check_answer(&self.answer)?;
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && from >= until
        {
            return Err(ValidationError::new("valid_until", "must be after valid_from"));
        }
        Ok(skus)
    }
}

/// How often the bot gave an entry, and what buyers said of it (SPEC §1.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryStats {
    pub hits: i64,
    pub helpful: i64,
    pub unhelpful: i64,
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KbImportSummary {
    pub categories_created: i64,
    pub entries_created: i64,
    pub entries_updated: i64,
    /// Entries removed because a replacing import did not list them.
    pub entries_deleted: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CategoryId, EntryId, ShopId};

    #[test]
    fn answer_text_keeps_the_words_only() {
        let a = "亲，尺码表看这里 https://shop.example/size [图片:https://img.example/a.png] 推荐[商品:SKU-1]哦";
        let t = answer_text(a);
        assert!(
            t.contains("亲，尺码表看这里") && t.contains("推荐") && t.contains("哦"),
            "{t}"
        );
        assert!(!t.contains("http") && !t.contains("SKU-1") && !t.contains('['), "{t}");
        assert_eq!(answer_text("包邮的"), "包邮的");
    }
    use chrono::Utc;

    #[test]
    fn answers_split_into_parts() {
        let parts = answer_parts(
            "亲,活动详情见 https://shop.taobao.com/act?id=1。[图片:https://img.example.com/a.png]推荐[商品:BB-001]",
        );
        assert_eq!(
            parts,
            vec![
                AnswerPart::Text {
                    text: "亲,活动详情见 ".into()
                },
                AnswerPart::Link {
                    url: "https://shop.taobao.com/act?id=1".into()
                },
                AnswerPart::Text { text: "。".into() },
                AnswerPart::Image {
                    url: "https://img.example.com/a.png".into()
                },
                AnswerPart::Text { text: "推荐".into() },
                AnswerPart::Product { sku: "BB-001".into() },
            ]
        );
        assert_eq!(
            answer_parts("see http://a.cn/x."),
            vec![
                AnswerPart::Text { text: "see ".into() },
                AnswerPart::Link {
                    url: "http://a.cn/x".into()
                },
                AnswerPart::Text { text: ".".into() },
            ]
        );
        assert_eq!(
            answer_parts("[图片:没有结尾"),
            vec![AnswerPart::Text {
                text: "[图片:没有结尾".into()
            }]
        );
    }

    #[test]
    fn answers_are_checked() {
        assert!(check_answer("  ").is_err());
        assert!(check_answer("[图片:ftp://x]").is_err());
        assert!(check_answer("[商品: ]").is_err());
        assert_eq!(check_answer("看这个[商品:A1]和[商品:B2]").unwrap(), vec!["A1", "B2"]);
    }

    #[test]
    fn entries_are_cleaned() {
        let now = Utc::now();
        let mut e = KbEntry {
            id: EntryId::new(),
            shop_id: ShopId::new(),
            category_id: CategoryId::new(),
            question: " 满多少包邮? ".into(),
            similar: vec!["满多少包邮?".into(), "".into(), "包邮吗".into(), " 包邮吗 ".into()],
            answer: "满99包邮".into(),
            enabled: true,
            valid_from: None,
            valid_until: None,
            created_at: now,
            updated_at: now,
            stats: Default::default(),
        };
        e.normalize_and_check().unwrap();
        assert_eq!(e.question, "满多少包邮?");
        assert_eq!(e.similar, vec!["包邮吗"]);
        e.valid_from = Some(now);
        e.valid_until = Some(now);
        assert_eq!(e.normalize_and_check().unwrap_err().field, "valid_until");
        e.valid_until = None;
        e.question = "x".repeat(MAX_QUESTION_CHARS + 1);
        assert_eq!(e.normalize_and_check().unwrap_err().field, "question");
    }
}
