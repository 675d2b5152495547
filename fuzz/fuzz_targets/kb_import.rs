//! The spreadsheet imports: any bytes as CSV and as .xlsx, read with the knowledge base's,
//! the quick phrases' and the product knowledge's templates, are either rows or a refusal with
//! a line and a reason, never a panic; accepted knowledge-base answers pass the answer check
//! or are refused.
#![no_main]
use kefu_server::{kb_template, phrase_template, product_template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for parsed in [kb_template::parse_csv(bytes), kb_template::parse_xlsx(bytes)] {
        if let Ok(rows) = parsed {
            for row in rows {
                let _ = kefu_core::kb::check_answer(&row.answer);
            }
        }
    }
    let _ = phrase_template::parse_csv(bytes);
    let _ = phrase_template::parse_xlsx(bytes);
    let _ = product_template::parse_csv(bytes);
    let _ = product_template::parse_xlsx(bytes);
});
