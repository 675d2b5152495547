//! The knowledge-base file template (SPEC §1.1): `category,question,similar,answer`, a header
//! row, UTF-8, similar phrasings separated by `|` — as CSV, or as the first sheet of an .xlsx
//! workbook with the same four columns (a row there is a "line"). A file is read whole or
//! refused whole, with the line and the reason — nothing is imported from a bad file.

use std::fmt;

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

/// Why a file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TemplateError {}

fn refuse(line: Option<usize>, message: impl Into<String>) -> TemplateError {
    TemplateError {
        line,
        message: message.into(),
    }
}

/// Reads a CSV file in the template.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<TemplateRow>, TemplateError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        refuse(
            None,
            format!(
                "the file is not UTF-8 (byte {}): save it as “CSV UTF-8” and import again",
                e.valid_up_to() + 1
            ),
        )
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| refuse(Some(1), format!("unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header != HEADER {
        return Err(refuse(
            Some(1),
            format!(
                "the header must be `{}`, found `{}`",
                HEADER.join(","),
                header.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let r = record.map_err(|e| refuse(Some(line), format!("not a row of 4 fields: {e}")))?;
        rows.push(row(line, &r[0], &r[1], &r[2], &r[3])?);
    }
    if rows.is_empty() {
        return Err(refuse(None, "the file has a header but no entries"));
    }
    Ok(rows)
}

/// Reads the first sheet of an .xlsx workbook in the template. Blank rows are skipped;
/// numbers and dates are taken as the text Excel shows for them.
pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<TemplateRow>, TemplateError> {
    use calamine::{Data, Reader, Xlsx};
    let mut book = Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| refuse(None, format!("the file is not a readable .xlsx workbook: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| refuse(None, "the workbook has no sheet"))?
        .map_err(|e| refuse(None, format!("the first sheet cannot be read: {e}")))?;
    let cell = |row: &[Data], i: usize| -> String {
        match row.get(i) {
            None | Some(Data::Empty) => String::new(),
            Some(Data::Float(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Some(d) => d.to_string(),
        }
    };
    // Rows are numbered as Excel shows them, from the sheet's first used row.
    let first = range.start().map(|(r, _)| r as usize + 1).unwrap_or(1);
    let mut rows_iter = range.rows().enumerate();
    let Some((_, header)) = rows_iter.next() else {
        return Err(refuse(Some(1), "the sheet is empty: the first row must be the header"));
    };
    let header: Vec<String> = (0..header.len().max(4))
        .map(|i| cell(header, i).trim().to_string())
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).filter(|h| !h.is_empty()).collect();
    if header != HEADER {
        return Err(refuse(
            Some(first),
            format!(
                "the header must be `{}`, found `{}`",
                HEADER.join(","),
                header.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, r) in rows_iter {
        let line = first + i;
        let fields: Vec<String> = (0..4).map(|c| cell(r, c)).collect();
        if fields.iter().all(|f| f.trim().is_empty()) && (4..r.len()).all(|c| cell(r, c).trim().is_empty()) {
            continue;
        }
        if (4..r.len()).any(|c| !cell(r, c).trim().is_empty()) {
            return Err(refuse(Some(line), "has more than 4 columns"));
        }
        rows.push(row(line, &fields[0], &fields[1], &fields[2], &fields[3])?);
    }
    if rows.is_empty() {
        return Err(refuse(None, "the file has a header but no entries"));
    }
    Ok(rows)
}

/// Writes rows as an .xlsx workbook in the template (one sheet, header row, frozen).
pub fn to_xlsx(rows: &[TemplateRow]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("knowledge")?;
    let bold = Format::new().set_bold();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (c, width) in [(0u16, 14.0), (1, 36.0), (2, 60.0), (3, 80.0)] {
        sheet.set_column_width(c, width)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let n = i as u32 + 1;
        sheet.write_string(n, 0, &r.category)?;
        sheet.write_string(n, 1, &r.question)?;
        sheet.write_string(n, 2, r.similar.join("|"))?;
        sheet.write_string(n, 3, &r.answer)?;
    }
    book.save_to_buffer()
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
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(HEADER);
    for r in rows {
        let _ = w.write_record([
            r.category.as_str(),
            r.question.as_str(),
            &r.similar.join("|"),
            r.answer.as_str(),
        ]);
    }
    w.into_inner().unwrap_or_default()
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
