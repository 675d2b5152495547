//! The quick-phrase file template (SPEC §2.7): `group,shortcut,text`, a header row, UTF-8 —
//! as CSV, or as the first sheet of an .xlsx workbook with the same three columns. The
//! shortcut may be blank. Only the file's shape is checked here; what makes a valid phrase
//! is the core's rule, checked per line by the importer.

pub use crate::sheet::TemplateError;
use crate::sheet::{self, refuse};

pub const HEADER: [&str; 3] = ["group", "shortcut", "text"];

/// One phrase as the file holds it, not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhraseLine {
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    pub group: String,
    pub shortcut: String,
    pub text: String,
}

fn lines(lines: Vec<sheet::Line>) -> Result<Vec<PhraseLine>, TemplateError> {
    if lines.is_empty() {
        return Err(refuse(None, "the file has a header but no phrases"));
    }
    Ok(lines
        .into_iter()
        .map(|(line, mut f)| PhraseLine {
            line,
            text: std::mem::take(&mut f[2]),
            shortcut: std::mem::take(&mut f[1]),
            group: std::mem::take(&mut f[0]),
        })
        .collect())
}

pub fn parse_csv(bytes: &[u8]) -> Result<Vec<PhraseLine>, TemplateError> {
    lines(sheet::read_csv(bytes, &HEADER)?)
}

pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<PhraseLine>, TemplateError> {
    lines(sheet::read_xlsx(bytes, &HEADER)?)
}

fn cells(p: &PhraseLine) -> [String; 3] {
    [p.group.clone(), p.shortcut.clone(), p.text.clone()]
}

/// Writes phrases in the template, so that an export imports back unchanged.
pub fn to_csv(phrases: &[PhraseLine]) -> Vec<u8> {
    sheet::write_csv(&HEADER, phrases.iter().map(cells))
}

pub fn to_xlsx(phrases: &[PhraseLine]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    sheet::write_xlsx("phrases", &HEADER, &[14.0, 12.0, 90.0], phrases.iter().map(cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_both_formats() {
        let file = "\u{feff}group,shortcut,text\n售前,sc,\"亲,都是实物拍摄哦\"\n物流,,\"{买家昵称}您好\n订单{订单号}已发货\"\n";
        let phrases = parse_csv(file.as_bytes()).unwrap();
        assert_eq!(phrases.len(), 2);
        assert_eq!((phrases[1].line, phrases[1].shortcut.as_str()), (3, ""));
        assert_eq!(phrases[1].text, "{买家昵称}您好\n订单{订单号}已发货");
        assert_eq!(parse_csv(&to_csv(&phrases)).unwrap(), phrases);
        assert_eq!(parse_xlsx(&to_xlsx(&phrases).unwrap()).unwrap(), phrases);
    }

    #[test]
    fn refuses_a_file_of_another_shape() {
        let e = parse_csv(b"category,question,similar,answer\na,b,c,d\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("group,shortcut,text"), "{e}");
        let e = parse_csv("group,shortcut,text\n售前,sc\n".as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(parse_csv(b"group,shortcut,text\n").is_err());
        let e = parse_xlsx(b"PK\x03\x04 not a workbook").unwrap_err();
        assert!(e.message.contains(".xlsx"), "{e}");
    }
}
