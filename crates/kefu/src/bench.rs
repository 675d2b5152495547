//! `kefu bench bot`: the bot's accuracy and speed on a knowledge base and a set of test
//! questions (see README). Loading files and timing happen here; the figures are computed by
//! `kefu_bot::eval`.

use anyhow::{Context, bail};
use kefu_bot::eval::{Case, Metrics, at_threshold, outcome};
use kefu_bot::{Bot, Entry, Lexicon, Thresholds};
use kefu_server::kb_template::{TemplateRow, parse_csv};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct BotBench<'a> {
    pub kb: &'a Path,
    pub cases: &'a Path,
    pub synthetic: Option<usize>,
    /// Print each case the bot ranks wrong.
    pub misses: bool,
    /// Print the decisions at a range of answer thresholds.
    pub sweep: bool,
}

fn load_cases(path: &Path, questions: &HashMap<String, usize>) -> anyhow::Result<Vec<Case>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    if header != ["query", "expected"] {
        bail!(
            "{}: the header must be `query,expected`, found `{}`",
            path.display(),
            header.join(",")
        );
    }
    let mut cases = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.with_context(|| format!("{} line {}", path.display(), i + 2))?;
        let expected = match r[1].trim() {
            "" => None,
            q => Some(*questions.get(q).with_context(|| {
                format!(
                    "{} line {}: “{q}” is no standard question of the knowledge base",
                    path.display(),
                    i + 2
                )
            })?),
        };
        cases.push(Case {
            query: r[0].to_string(),
            expected,
        });
    }
    Ok(cases)
}

fn entries(rows: &[TemplateRow]) -> Vec<Entry> {
    rows.iter()
        .enumerate()
        .map(|(key, r)| Entry {
            key,
            question: r.question.clone(),
            similar: r.similar.clone(),
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Times every case `rounds` times; returns the sorted per-query durations.
fn time_queries(bot: &Bot, cases: &[Case], rounds: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(cases.len() * rounds);
    for _ in 0..rounds {
        for c in cases {
            let start = Instant::now();
            std::hint::black_box(bot.ask(&c.query));
            times.push(start.elapsed());
        }
    }
    times.sort();
    times
}

/// A knowledge base of `n` entries: the real ones, then made-up entries whose phrasings are
/// random runs of the real knowledge base's words, so the index has a realistic vocabulary.
fn synthetic(rows: &[TemplateRow], n: usize, lexicon: &Lexicon) -> Vec<Entry> {
    let mut words: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            std::iter::once(&r.question)
                .chain(&r.similar)
                .chain(std::iter::once(&r.answer))
        })
        .flat_map(|t| lexicon.tokens(&kefu_bot::text::normalize(t)))
        .collect();
    words.sort();
    words.dedup();
    let mut rng = StdRng::seed_from_u64(2026);
    let phrase = |rng: &mut StdRng| {
        (0..rng.random_range(3..8))
            .map(|_| words[rng.random_range(0..words.len())].as_str())
            .collect::<String>()
    };
    let mut out = entries(rows);
    for key in out.len()..n {
        let question = phrase(&mut rng);
        let similar = (0..rng.random_range(1..5)).map(|_| phrase(&mut rng)).collect();
        out.push(Entry { key, question, similar });
    }
    out
}

pub fn bot(args: BotBench<'_>) -> anyhow::Result<()> {
    let bytes = std::fs::read(args.kb).with_context(|| format!("reading {}", args.kb.display()))?;
    let rows = parse_csv(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", args.kb.display()))?;
    let questions: HashMap<String, usize> = rows.iter().enumerate().map(|(i, r)| (r.question.clone(), i)).collect();
    let cases = load_cases(args.cases, &questions)?;
    let thresholds = Thresholds::default();
    let lexicon = Lexicon::default();
    let bot = Bot::new(lexicon.clone(), entries(&rows), thresholds);

    let mut outcomes = Vec::new();
    for c in &cases {
        let (analysis, decision) = bot.ask(&c.query);
        let o = outcome(c, &analysis, &decision);
        if args.misses && (o.rank != Some(1) || (c.expected.is_none() && o.answered.is_some())) {
            let got = analysis
                .candidates
                .first()
                .map(|t| format!("{} ({:.2}, via “{}”)", rows[t.key].question, t.score, t.matched));
            let want = c
                .expected
                .map(|e| rows[e].question.as_str())
                .unwrap_or("(out of scope)");
            println!(
                "miss: {:<28} want {:<16} rank {:?}  got {}",
                c.query,
                want,
                o.rank,
                got.unwrap_or_default()
            );
        }
        outcomes.push(o);
    }
    let m = Metrics::of(&outcomes);
    let phrasings: usize = rows.iter().map(|r| 1 + r.similar.len()).sum();
    println!("kefu bench bot");
    println!(
        "  knowledge base  {} ({} entries, {phrasings} phrasings)",
        args.kb.display(),
        rows.len()
    );
    println!(
        "  cases           {} ({} in scope, {} out of scope)",
        args.cases.display(),
        m.in_scope,
        m.out_of_scope
    );
    println!(
        "  thresholds      answer ≥ {:.2} (lead ≥ {:.2}), suggest ≥ {:.2}, up to {} suggestions",
        thresholds.answer, thresholds.margin, thresholds.suggest, thresholds.max_suggestions
    );
    report(&m);
    if args.sweep {
        println!(
            "  sweep: answer threshold, then per required lead: in scope answered correctly/wrongly, out of scope not answered"
        );
        for step in 4..=16 {
            let t = step as f32 * 0.05;
            let cells: Vec<String> = [0.0, 0.02, 0.04, 0.08]
                .iter()
                .map(|&lead| {
                    let m = Metrics::of(&outcomes.iter().map(|o| at_threshold(o, t, lead)).collect::<Vec<_>>());
                    format!(
                        "lead {lead:.2}: {:.2}/{:.2} {:.2}",
                        m.answered_correctly, m.answered_wrongly, m.out_of_scope_rejected
                    )
                })
                .collect();
            println!("    {t:.2}  {}", cells.join("   "));
        }
    }
    let times = time_queries(&bot, &cases, 5);
    println!(
        "  latency         p50 {:?}  p99 {:?}  per query ({} timed)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len()
    );

    if let Some(n) = args.synthetic {
        let start = Instant::now();
        let big = Bot::new(
            lexicon.clone(),
            synthetic(&rows, n.max(rows.len()), &lexicon),
            thresholds,
        );
        let built = start.elapsed();
        let times = time_queries(&big, &cases, 5);
        println!(
            "  synthetic       {} entries (built in {:.1?}): p50 {:?}  p99 {:?}  per query",
            big.index.entries().len(),
            built,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    Ok(())
}

fn report(m: &Metrics) {
    println!(
        "  ranking         top-1 {:.3}  top-3 {:.3}  MRR {:.3}",
        m.top1, m.top3, m.mrr
    );
    println!(
        "  at thresholds   in scope answered correctly {:.3} (wrongly {:.3}); out of scope not answered {:.3}",
        m.answered_correctly, m.answered_wrongly, m.out_of_scope_rejected
    );
}
