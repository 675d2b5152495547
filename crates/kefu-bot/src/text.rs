//! Text as buyers type it, folded into one form before anything is compared: traditional
//! characters to simplified (這個 → 这个), full-width forms to ASCII (ＳＦ２ → sf2), lower case,
//! punctuation, emoji and spacing dropped.

/// The folded form of a message. Runs of anything that is not a letter or digit (in any
/// script) become one space, so words written in Latin letters stay apart.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold(text, |c, _| out.push(c));
    out
}

/// [`normalize`], with where each character of the folded text came from: the byte range of
/// its character in `text` (a space standing for a gap: the empty range where the next run
/// starts). Search uses it to highlight hits in the text as it was written.
pub fn normalize_mapped(text: &str) -> (String, Vec<std::ops::Range<usize>>) {
    let mut out = String::with_capacity(text.len());
    let mut origins = Vec::with_capacity(text.len());
    fold(text, |c, origin| {
        out.push(c);
        origins.push(origin);
    });
    (out, origins)
}

/// The one folding loop behind [`normalize`] and [`normalize_mapped`]. `fast2s` converts
/// character by character (it looks at the neighbours only to choose), so its output lines up
/// with the input one to one.
fn fold(text: &str, mut push: impl FnMut(char, std::ops::Range<usize>)) {
    let simplified = fast2s::convert(text);
    let mut gap = false;
    let mut started = false;
    for ((at, original), c) in text.char_indices().zip(simplified.chars()) {
        let c = fold_width(c);
        if c.is_alphanumeric() {
            if gap && started {
                push(' ', at..at);
            }
            gap = false;
            started = true;
            for lower in c.to_lowercase() {
                push(lower, at..at + original.len_utf8());
            }
        } else {
            gap = true;
        }
    }
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

    #[test]
    fn the_mapped_form_is_the_same_and_points_back_at_the_original() {
        for text in [
            "這款連衣裙什麼時候發貨?",
            "ＳＦ能发吗？？",
            "亲~~ 满99包邮吗😊",
            "  Hello,   World  ",
            "！！！",
            "İx",
        ] {
            let (folded, origins) = normalize_mapped(text);
            assert_eq!(folded, normalize(text), "{text}");
            assert_eq!(folded.chars().count(), origins.len());
        }
        let text = "亲~~ 這款ＳＦ";
        let (folded, origins) = normalize_mapped(text);
        assert_eq!(folded, "亲 这款sf");
        let back: Vec<&str> = origins.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(back, ["亲", "", "這", "款", "Ｓ", "Ｆ"]);
    }
}
