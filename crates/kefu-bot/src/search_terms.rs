//! Chat records search (SPEC §5.5), the pure part: the words a message is indexed by, the
//! words a query asks for, and where a found message shows its hits.
//!
//! It lives in kefu-bot, not kefu-core, because it is made of the bot's own parts: the one
//! process-wide jieba ([`crate::lexicon`], whose dictionary takes ~0.4 s to load, so it is
//! never built per call) and [`crate::text::normalize`], so that a query in traditional
//! characters or full-width forms (退貨, ＳＦ) finds what was written in simplified ones (退货, sf)
//! and the other way round. kefu-core stays free of jieba; kefu-store calls this when it
//! writes a message and its index row in one transaction.
//!
//! - [`index_terms`]: jieba's search mode (`cut_for_search`: a long word and the dictionary
//!   words inside it) over the folded text, each distinct term once, joined by spaces — what
//!   the database's full-text index (SQLite FTS5, PostgreSQL `tsvector`) stores.
//! - [`query_terms`]: the query folded and segmented (plain `cut`: the words as typed, which
//!   the search mode of the message also produced); every term must occur. Filler (亲, 请问 …)
//!   is dropped unless nothing else is left.
//! - [`highlight`]: the message as written, cut into segments, the hits marked; joined, the
//!   segments are the text again. Never HTML: the page escapes nothing it did not make.
//!
//! Segmentation runs without jieba's HMM guesses for unknown words: the same word must come
//! out the same in a message and in a query typed later, whatever stands around it, and the
//! dictionary does that; an unknown name then falls apart into characters, which the query
//! does the same way, so it is still found.

use crate::lexicon::{BUILTIN_SYNONYMS, base_jieba, is_filler};
use crate::text::{normalize, normalize_mapped};
use jieba_rs::Jieba;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

/// Longer terms (a pasted string of digits or letters without spaces) are not indexed: no one
/// searches for them, and PostgreSQL would refuse them (2 KiB).
pub const MAX_TERM_CHARS: usize = 64;

/// Shop words jieba's dictionary lacks (it would cut 中通 into 中 and 通), added to it for
/// search, with the bot's built-in synonyms ([`BUILTIN_SYNONYMS`]); separated by spaces. No
/// shop's own words: a message's terms must not depend on when it was indexed.
pub const SEARCH_WORDS: &str = "\
    中通 韵达 申通 圆通 极兔 德邦 百世 邮政 京东快递 菜鸟驿站 单号 快递单号 运单号 订单号 物流信息 \
    派送 揽收 拒收 签收 退货 退款 换货 补发 漏发 错发 少发 七天无理由 运费险 质量问题 色差 起球 \
    掉色 开线 退换 售后 好评 差评 追评 晒图 返现 满减 预售 定金 尾款 催单 拍下 改地址 修改地址 \
    发错 有货 缺货 现货 库存";

/// What [`index_terms`] makes, as a number: bump it with any change to it (the words above,
/// the segmentation, the folding), and stores index their messages again when they open.
pub const VERSION: i64 = 1;

/// The process's one search jieba: the built-in dictionary with [`SEARCH_WORDS`] and the
/// bot's built-in synonyms, made once (cloning the dictionary takes a moment).
fn jieba() -> &'static Jieba {
    static SEARCH: OnceLock<Jieba> = OnceLock::new();
    SEARCH.get_or_init(|| {
        let mut jieba = base_jieba().clone();
        let words = BUILTIN_SYNONYMS
            .iter()
            .flat_map(|g| g.iter().copied())
            .chain(SEARCH_WORDS.split_whitespace());
        for w in words {
            let w = crate::text::compact(&crate::text::normalize(w));
            if w.chars().count() > 1 {
                jieba.add_word(&w, Some(50_000), None);
            }
        }
        jieba
    })
}

/// Loads the dictionary now, so that the first message stored does not wait for it.
pub fn warm() {
    let _ = jieba();
}

fn usable(term: &str) -> bool {
    !term.is_empty() && term.chars().count() <= MAX_TERM_CHARS
}

/// The terms a message is found by, distinct, in order of appearance, joined by spaces.
/// Empty when the text has no letters or digits.
pub fn index_terms(text: &str) -> String {
    let folded = normalize(text);
    let mut seen = HashSet::new();
    let mut out = String::with_capacity(folded.len() * 2);
    for token in jieba().cut_for_search(&folded, false) {
        let term = token.word.trim();
        if usable(term) && seen.insert(term) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(term);
        }
    }
    out
}

/// The terms a query asks for, distinct, in order: all of them must occur in a message.
/// Empty when the query has no letters or digits.
pub fn query_terms(query: &str) -> Vec<String> {
    let folded = normalize(query);
    let mut seen = HashSet::new();
    let terms: Vec<&str> = jieba()
        .cut(&folded, false)
        .into_iter()
        .map(|t| t.word.trim())
        .filter(|w| usable(w) && seen.insert(*w))
        .collect();
    let meaningful: Vec<&str> = terms.iter().copied().filter(|w| !is_filler(w)).collect();
    let kept = if meaningful.is_empty() { terms } else { meaningful };
    kept.into_iter().map(str::to_string).collect()
}

/// A piece of a found message: hits are where a query term occurs (in its folded form, so 退貨
/// is a hit for 退货).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Segment {
    pub text: String,
    pub hit: bool,
}

/// `text` as written, cut into segments where the `terms` (as [`query_terms`] makes them)
/// occur. Joined, the segments are `text`; neighbouring hits are one segment.
pub fn highlight(text: &str, terms: &[String]) -> Vec<Segment> {
    let (folded, origins) = normalize_mapped(text);
    let chars: Vec<char> = folded.chars().collect();
    let mut hits: Vec<Range<usize>> = Vec::new();
    for term in terms {
        let term: Vec<char> = term.chars().collect();
        if term.is_empty() || term.len() > chars.len() {
            continue;
        }
        for start in 0..=chars.len() - term.len() {
            if chars[start..start + term.len()] == term[..] {
                hits.push(origins[start].start..origins[start + term.len() - 1].end);
            }
        }
    }
    hits.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in hits {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let mut out = Vec::with_capacity(merged.len() * 2 + 1);
    let mut at = 0;
    for r in merged {
        if r.start > at {
            out.push(Segment {
                text: text[at..r.start].to_string(),
                hit: false,
            });
        }
        out.push(Segment {
            text: text[r.clone()].to_string(),
            hit: true,
        });
        at = r.end;
    }
    if at < text.len() {
        out.push(Segment {
            text: text[at..].to_string(),
            hit: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        index_terms(text).split(' ').map(str::to_string).collect()
    }

    fn joined(segments: &[Segment]) -> String {
        segments.iter().map(|s| s.text.as_str()).collect()
    }

    fn hits(segments: &[Segment]) -> Vec<&str> {
        segments.iter().filter(|s| s.hit).map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn a_message_is_indexed_by_its_words_and_the_words_inside_them() {
        let t = terms("亲，我想退货，能发顺丰吗？订单号2026112300001");
        for w in ["退货", "顺丰", "2026112300001"] {
            assert!(t.contains(&w.to_string()), "{w} in {t:?}");
        }
        // Search mode: a long dictionary word and the words inside it.
        let t = terms("中华人民共和国");
        assert!(
            t.contains(&"中华人民共和国".to_string()) && t.contains(&"共和国".to_string()),
            "{t:?}"
        );
        // Each term once; nothing for a text without letters or digits.
        assert_eq!(terms("退货退货").iter().filter(|w| *w == "退货").count(), 1);
        assert_eq!(index_terms("！！？？ 😊"), "");
        // A pasted run of 65 letters is no term.
        assert_eq!(index_terms(&"a".repeat(65)), "");
    }

    #[test]
    fn scripts_and_widths_fold_on_both_sides() {
        assert_eq!(query_terms("退貨"), vec!["退货"]);
        assert!(terms("我要退貨").contains(&"退货".to_string()));
        assert_eq!(query_terms("ＳＦ"), vec!["sf"]);
        assert!(terms("能发SF吗").contains(&"sf".to_string()));
    }

    #[test]
    fn every_query_term_of_a_message_is_among_its_index_terms() {
        let messages = [
            "你好，我买的婴儿纯棉连体衣尺码偏小，想换大一码",
            "快递三天了还没到，顺丰单号SF1234567890",
            "宝宝的纸尿裤漏尿了，可以退货退款吗？",
            "亲，满99包邮，今天下单明天发货哦",
        ];
        for m in messages {
            let indexed = terms(m);
            for q in query_terms(m) {
                assert!(indexed.contains(&q), "{q} of “{m}” not in {indexed:?}");
            }
        }
    }

    #[test]
    fn filler_is_dropped_from_queries_unless_it_is_all_there_is() {
        assert_eq!(query_terms("请问退货"), vec!["退货"]);
        assert_eq!(query_terms("顺丰 退货"), vec!["顺丰", "退货"]);
        assert_eq!(query_terms("亲"), vec!["亲"]);
        assert!(query_terms("？？ ！").is_empty());
        assert!(query_terms("").is_empty());
    }

    #[test]
    fn hits_are_marked_on_the_text_as_written() {
        let text = "亲，能發順豐嗎？我要退貨";
        let s = highlight(text, &query_terms("顺丰 退货"));
        assert_eq!(joined(&s), text);
        assert_eq!(hits(&s), ["順豐", "退貨"]);
        assert_eq!(
            s,
            [
                Segment {
                    text: "亲，能發".into(),
                    hit: false
                },
                Segment {
                    text: "順豐".into(),
                    hit: true
                },
                Segment {
                    text: "嗎？我要".into(),
                    hit: false
                },
                Segment {
                    text: "退貨".into(),
                    hit: true
                },
            ]
        );
        // Full width and case: the original characters are the hit.
        let s = highlight("发ＳＦ还是Sf?", &query_terms("sf"));
        assert_eq!(hits(&s), ["ＳＦ", "Sf"]);
        // Overlapping and touching hits are one segment; every occurrence counts.
        let s = highlight("顺丰退货，顺丰", &["顺丰".into(), "丰退".into(), "退货".into()]);
        assert_eq!(hits(&s), ["顺丰退货", "顺丰"]);
        // No hit, no text.
        assert_eq!(
            highlight("你好", &["退货".into()]),
            [Segment {
                text: "你好".into(),
                hit: false
            }]
        );
        assert!(highlight("", &["退货".into()]).is_empty());
        // A term does not match across punctuation the folding turned into a space.
        assert!(hits(&highlight("顺·丰", &["顺丰".into()])).is_empty());
    }

    #[test]
    fn segments_always_join_to_the_text() {
        for text in ["İstanbul退货", "😊退货😊", "  退货  ", "ﬁ退ﬁ"] {
            for q in ["退货", "i", "istanbul", "fi"] {
                let s = highlight(text, &query_terms(q));
                assert_eq!(joined(&s), text, "{text} / {q}");
                assert!(s.iter().all(|seg| !seg.text.is_empty()));
            }
        }
    }
}
