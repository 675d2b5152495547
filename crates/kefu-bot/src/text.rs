//! Text as buyers type it, folded into one form before anything is compared: traditional
//! characters to simplified (這個 → 这个), full-width forms to ASCII (ＳＦ２ → sf2), lower case,
//! punctuation, emoji and spacing dropped.

/// The folded form of a message. Runs of anything that is not a letter or digit (in any
/// script) become one space, so words written in Latin letters stay apart.
pub fn normalize(text: &str) -> String {
    let simplified = fast2s::convert(text);
    let mut out = String::with_capacity(simplified.len());
    let mut gap = false;
    for c in simplified.chars() {
        let c = fold_width(c);
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// Full-width ASCII variants (Ｕ+FF01–FF5E) to ASCII; the ideographic space to a space.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        _ => c,
    }
}

/// A folded text with its spaces removed, for character-level (typo-tolerant) comparison.
pub fn compact(normalized: &str) -> String {
    normalized.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_scripts_widths_case_and_punctuation() {
        assert_eq!(normalize("這款連衣裙什麼時候發貨?"), "这款连衣裙什么时候发货");
        assert_eq!(normalize("ＳＦ能发吗？？"), "sf能发吗");
        assert_eq!(normalize("亲~~ 满99包邮吗😊"), "亲 满99包邮吗");
        assert_eq!(normalize("  Hello,   World  "), "hello world");
        assert_eq!(normalize("！！！"), "");
        assert_eq!(compact("亲 满99 包邮"), "亲满99包邮");
    }
}
