//! The knowledge-base file template (SPEC §1.1): `category,question,similar,answer`, a header
//! row, UTF-8, similar phrasings separated by `|` — as CSV, or as the first sheet of an .xlsx
//! workbook with the same four columns (a row there is a "line"). A file is read whole or
//! refused whole, with the line and the reason — nothing is imported from a bad file.

pub use crate::sheet::TemplateError;
use crate::sheet::{self, refuse};

pub const HEADER: [&str; 4] = ["category", "question", "similar", "answer"];

/// One entry as the template holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRow {
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    pub category: String,
    pub question: String,
    pub similar: Vec<String>,
    pub answer: String,
}

fn rows(lines: Vec<sheet::Line>) -> Result<Vec<TemplateRow>, TemplateError> {
    let rows = lines
        .into_iter()
        .map(|(line, f)| row(line, &f[0], &f[1], &f[2], &f[3]))
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        return Err(refuse(None, "the file has a header but no entries"));
    }
    Ok(rows)
}

/// Reads a CSV file in the template.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<TemplateRow>, TemplateError> {
    rows(sheet::read_csv(bytes, &HEADER)?)
}

/// Reads the first sheet of an .xlsx workbook in the template. Blank rows are skipped;
/// numbers and dates are taken as the text Excel shows for them.
pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<TemplateRow>, TemplateError> {
    rows(sheet::read_xlsx(bytes, &HEADER)?)
}

fn cells(r: &TemplateRow) -> [String; 4] {
    [
        r.category.clone(),
        r.question.clone(),
        r.similar.join("|"),
        r.answer.clone(),
    ]
}

/// Writes rows as an .xlsx workbook in the template (one sheet, header row, frozen).
pub fn to_xlsx(rows: &[TemplateRow]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    sheet::write_xlsx("knowledge", &HEADER, &[14.0, 36.0, 60.0, 80.0], rows.iter().map(cells))
}

/// Checks one row's fields and splits the similar phrasings.
pub fn row(
    line: usize,
    category: &str,
    question: &str,
    similar: &str,
    answer: &str,
) -> Result<TemplateRow, TemplateError> {
    let (category, question, answer) = (category.trim(), question.trim(), answer.trim());
    for (name, value) in [("category", category), ("question", question), ("answer", answer)] {
        if value.is_empty() {
            return Err(refuse(Some(line), format!("the {name} is empty")));
        }
    }
    if question.chars().count() > 200 {
        return Err(refuse(Some(line), "the question is longer than 200 characters"));
    }
    let similar = similar
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Ok(TemplateRow {
        line,
        category: category.into(),
        question: question.into(),
        similar,
        answer: answer.into(),
    })
}

/// Writes rows in the template, so that an export imports back unchanged.
pub fn to_csv(rows: &[TemplateRow]) -> Vec<u8> {
    sheet::write_csv(&HEADER, rows.iter().map(cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_template_and_round_trips() {
        let file =
            "\u{feff}category,question,similar,answer\n快递物流,满多少包邮?,包邮吗|运费怎么算 | ,\"亲,满99包邮哦\"\n";
        let rows = parse_csv(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].similar, vec!["包邮吗", "运费怎么算"]);
        assert_eq!(rows[0].answer, "亲,满99包邮哦");
        assert_eq!(parse_csv(&to_csv(&rows)).unwrap(), rows);
    }

    #[test]
    fn refuses_bad_files_with_line_and_reason() {
        let e = parse_csv(b"category,question,answer\nx,y,z\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e =
            parse_csv("category,question,similar,answer\n快递物流,包邮吗,,满99包邮\n快递物流, ,,空问题\n".as_bytes())
                .unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (Some(3), "the question is empty"));
        let e = parse_csv("category,question,similar,answer\n快递物流,包邮吗,满99\n".as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(2));
        // GBK bytes for 包邮: not UTF-8.
        let e = parse_csv(b"category,question,similar,answer\n\xb0\xfc\xd3\xca,a,b,c\n").unwrap_err();
        assert!(e.message.contains("UTF-8"), "{e}");
        assert!(parse_csv(b"category,question,similar,answer\n").is_err());
    }

    #[test]
    fn xlsx_round_trips_and_bad_workbooks_are_refused() {
        let rows = parse_csv(
            "category,question,similar,answer\n快递物流,满多少包邮?,包邮吗|运费怎么算,\"亲,满99包邮哦 https://a.cn/x\"\n活动,618,,[图片:https://i.cn/a.png]\n"
                .as_bytes(),
        )
        .unwrap();
        let book = to_xlsx(&rows).unwrap();
        assert_eq!(parse_xlsx(&book).unwrap(), rows);
        let e = parse_xlsx(b"PK\x03\x04 not really a zip").unwrap_err();
        assert!(e.message.contains(".xlsx"), "{e}");
        let e = parse_xlsx(&book[..book.len() / 2]).unwrap_err();
        assert_eq!(e.line, None, "{e}");

        // A row with an empty question names its row.
        let mut bad = rows.clone();
        bad[1].question = " ".into();
        let e = parse_xlsx(&to_xlsx(&bad).unwrap()).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (Some(3), "the question is empty"));
    }
}
