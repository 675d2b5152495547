//! The spreadsheet files staff exchange with kefu (the knowledge base, quick phrases): CSV in
//! UTF-8, or the first sheet of an .xlsx workbook, each with a header row naming its columns.
//! Shop staff edit these in Excel or WPS, so the reading is forgiving where that costs nothing
//! (a byte-order mark, blank rows, numbers shown as Excel shows them) and strict where a
//! mistake would import something else than meant (the header, the number of columns): a file
//! is read whole or refused with the line and the reason.

use std::fmt;

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

pub fn refuse(line: Option<usize>, message: impl Into<String>) -> TemplateError {
    TemplateError {
        line,
        message: message.into(),
    }
}

/// A row's cells, with its 1-based line in the file (the header is line 1 in a CSV file).
pub type Line = (usize, Vec<String>);

fn check_header(line: usize, found: &[String], header: &[&str]) -> Result<(), TemplateError> {
    if found.iter().map(String::as_str).ne(header.iter().copied()) {
        return Err(refuse(
            Some(line),
            format!("the header must be `{}`, found `{}`", header.join(","), found.join(",")),
        ));
    }
    Ok(())
}

/// Reads a CSV file with exactly the columns `header` names.
pub fn read_csv(bytes: &[u8], header: &[&str]) -> Result<Vec<Line>, TemplateError> {
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
    let found: Vec<String> = reader
        .headers()
        .map_err(|e| refuse(Some(1), format!("unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    check_header(1, &found, header)?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let r = record.map_err(|e| refuse(Some(line), format!("not a row of {} fields: {e}", header.len())))?;
        rows.push((line, r.iter().map(str::to_string).collect()));
    }
    Ok(rows)
}

/// Reads the first sheet of an .xlsx workbook with exactly the columns `header` names. Blank
/// rows are skipped; numbers and dates are taken as the text Excel shows for them.
pub fn read_xlsx(bytes: &[u8], header: &[&str]) -> Result<Vec<Line>, TemplateError> {
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
    let n = header.len();
    // Rows are numbered as Excel shows them, from the sheet's first used row.
    let first = range.start().map(|(r, _)| r as usize + 1).unwrap_or(1);
    let mut rows_iter = range.rows().enumerate();
    let Some((_, found)) = rows_iter.next() else {
        return Err(refuse(Some(1), "the sheet is empty: the first row must be the header"));
    };
    let found: Vec<String> = (0..found.len().max(n))
        .map(|i| cell(found, i).trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    check_header(first, &found, header)?;
    let mut rows = Vec::new();
    for (i, r) in rows_iter {
        let line = first + i;
        let fields: Vec<String> = (0..n).map(|c| cell(r, c)).collect();
        let beyond = (n..r.len()).any(|c| !cell(r, c).trim().is_empty());
        if fields.iter().all(|f| f.trim().is_empty()) && !beyond {
            continue;
        }
        if beyond {
            return Err(refuse(Some(line), format!("has more than {n} columns")));
        }
        rows.push((line, fields));
    }
    Ok(rows)
}

/// Writes a CSV file: the header, then the rows.
pub fn write_csv<R: AsRef<[String]>>(header: &[&str], rows: impl IntoIterator<Item = R>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r.as_ref());
    }
    w.into_inner().unwrap_or_default()
}

/// Writes an .xlsx workbook of one sheet: the header in bold and frozen, then the rows, each
/// column `widths` wide.
pub fn write_xlsx<R: AsRef<[String]>>(
    sheet_name: &str,
    header: &[&str],
    widths: &[f64],
    rows: impl IntoIterator<Item = R>,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = Format::new().set_bold();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (c, width) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    for (i, r) in rows.into_iter().enumerate() {
        for (c, value) in r.as_ref().iter().enumerate() {
            sheet.write_string(i as u32 + 1, c as u16, value)?;
        }
    }
    book.save_to_buffer()
}
