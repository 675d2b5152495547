//! The knowledge-base import: any bytes as CSV and as .xlsx are either rows or a refusal with
//! a line and a reason, never a panic; accepted answers pass the answer check or are refused.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for parsed in [kefu_server::kb_template::parse_csv(bytes), kefu_server::kb_template::parse_xlsx(bytes)] {
        if let Ok(rows) = parsed {
            for row in rows {
                let _ = kefu_core::kb::check_answer(&row.answer);
            }
        }
    }
});
