//! Reads texts, one a line, on stdin; writes each one's normalised sentence vector as
//! little-endian f32 on stdout (for experiments outside Rust).
use std::io::{BufRead, Write};

fn main() {
    let model = kefu_embed::Model::bundled();
    let texts: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map(|l| kefu_bot::text::normalize(&l.expect("utf-8 line")))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut out = std::io::stdout().lock();
    for v in model.embed_queries(&refs) {
        for x in v {
            out.write_all(&x.to_le_bytes()).expect("stdout");
        }
    }
}
