//! `kefu bench bot`: the bot's accuracy and speed on a knowledge base and a set of test
//! questions (see README). Loading files and timing happen here; the figures are computed by
//! `kefu_bot::eval`.

use anyhow::{Context, bail};
use kefu_bot::eval::{Case, Metrics, Outcome, at_threshold, calibration, outcome, wilson95};
use kefu_bot::semantic::Vector;
use kefu_bot::{Bot, Entry, Fusion, Index, Lexicon, Semantic, Thresholds, decide};
use kefu_embed::Model;
use kefu_server::kb_template::{TemplateRow, parse_csv};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct BotBench<'a> {
    pub kb: &'a Path,
    pub cases: &'a Path,
    pub synthetic: Option<usize>,
    /// Print each case the bot ranks wrong.
    pub misses: bool,
    /// Print the decisions at a range of answer thresholds (and fusion weights).
    pub sweep: bool,
    /// Without the semantic signal.
    pub lexical: bool,
    /// Where to write every case's best candidates with their signals.
    pub dump: Option<&'a Path>,
    /// An adapter file to use in place of the bundled one.
    pub adapter: Option<&'a Path>,
}

/// Candidates per case in `--dump`.
const DUMPED: usize = 5;

/// One row per case and candidate (the best [`DUMPED`]): the case, whether the candidate is the
/// expected entry, and each signal.
fn dump(
    path: &Path,
    rows: &[TemplateRow],
    cases: &[Case],
    bot: &Bot,
    vectors: &[Option<Vector>],
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "case",
        "query",
        "expected",
        "rank",
        "question",
        "right",
        "score",
        "bm25",
        "words",
        "chars",
        "cover",
        "semantic",
        "centroid",
        "whitened",
        "passage",
        "checked",
        "confidence",
        "rest_to_rest",
        "rest_to_phrasing",
        "question_to_rest",
        "phrasing",
    ])?;
    for (i, (c, v)) in cases.iter().zip(vectors).enumerate() {
        let analysis = bot.analyze(&c.query, v.as_deref());
        // The aspect check is of the best candidate only.
        let check = |rank: usize, f: fn(&kefu_bot::aspect::Check) -> f32| {
            analysis
                .check
                .as_ref()
                .filter(|_| rank == 0)
                .map_or(String::new(), |c| f(c).to_string())
        };
        for (rank, k) in analysis.candidates.iter().take(DUMPED).enumerate() {
            let expected = c.expected.map_or("", |e| rows[e].question.as_str());
            w.write_record([
                i.to_string(),
                c.query.clone(),
                expected.to_string(),
                (rank + 1).to_string(),
                rows[k.key].question.clone(),
                u8::from(c.expected == Some(k.key)).to_string(),
                k.score.to_string(),
                k.bm25.to_string(),
                k.words.to_string(),
                k.chars.to_string(),
                k.cover.to_string(),
                k.semantic.to_string(),
                k.centroid.to_string(),
                k.whitened.to_string(),
                k.passage.to_string(),
                check(rank, |c| c.adjusted),
                check(rank, |c| c.confidence),
                check(rank, |c| c.rest_to_rest),
                check(rank, |c| c.rest_to_phrasing),
                check(rank, |c| c.question_to_rest),
                v.as_deref()
                    .and_then(|q| bot.index.nearest_phrasing(k.key, q))
                    .unwrap_or_default(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The knowledge base's standard questions, for finding a case's expected one: as written, or
/// else by its folded form (script, width, punctuation and spaces ignored), so that a case file
/// written with 满多少包邮？ or 滿多少包郵 finds 满多少包邮? — when only one question folds so.
struct Questions {
    exact: HashMap<String, usize>,
    /// `None` where two standard questions fold to the same text.
    folded: HashMap<String, Option<usize>>,
}

impl Questions {
    fn new(rows: &[TemplateRow]) -> Questions {
        let mut folded: HashMap<String, Option<usize>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            folded
                .entry(fold(&r.question))
                .and_modify(|e| *e = None)
                .or_insert(Some(i));
        }
        Questions {
            exact: rows.iter().enumerate().map(|(i, r)| (r.question.clone(), i)).collect(),
            folded,
        }
    }

    fn find(&self, question: &str) -> Result<usize, &'static str> {
        if let Some(&i) = self.exact.get(question) {
            return Ok(i);
        }
        match self.folded.get(&fold(question)) {
            Some(Some(i)) => Ok(*i),
            Some(None) => Err("matches more than one standard question once punctuation is ignored; write it exactly"),
            None => Err("is no standard question of the knowledge base"),
        }
    }
}

fn fold(text: &str) -> String {
    kefu_bot::text::compact(&kefu_bot::text::normalize(text))
}

fn load_cases(path: &Path, questions: &Questions) -> anyhow::Result<Vec<Case>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(|h| h.trim().to_lowercase()).collect();
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
            q => Some(
                questions
                    .find(q)
                    .map_err(|why| anyhow::anyhow!("{} line {}: “{q}” {why}", path.display(), i + 2))?,
            ),
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
            answer: kefu_core::kb::answer_text(&r.answer),
        })
        .collect()
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
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
        let answer = phrase(&mut rng);
        out.push(Entry {
            key,
            question,
            similar,
            answer,
        });
    }
    out
}

/// Vectors for the synthetic phrasings, composed rather than embedded (50,000 forward passes
/// would take half an hour): each is the normalised mean of three real phrasings' vectors plus
/// a little noise, so it lies where real vectors lie and the scan and the scoring do real work.
fn synthetic_vectors(real: &[Vector], n: usize) -> Vec<Vector> {
    let mut rng = StdRng::seed_from_u64(2027);
    let dim = real.first().map_or(kefu_embed::DIM, |v| v.len());
    (0..n)
        .map(|_| {
            let mut v = vec![0f32; dim];
            for _ in 0..3 {
                let r = &real[rng.random_range(0..real.len())];
                v.iter_mut().zip(r.iter()).for_each(|(v, r)| *v += r);
            }
            v.iter_mut().for_each(|x| *x += rng.random_range(-0.02..0.02));
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(|x| x / norm).collect()
        })
        .collect()
}

/// Analyses and decides every case with the given question vectors.
fn outcomes(bot: &Bot, thresholds: &Thresholds, cases: &[Case], vectors: &[Option<Vector>]) -> Vec<Outcome> {
    cases
        .iter()
        .zip(vectors)
        .map(|(c, v)| {
            let analysis = bot.analyze(&c.query, v.as_deref());
            outcome(c, &analysis, &decide(&analysis, thresholds))
        })
        .collect()
}

/// Times matching (analysis, the aspect check and the decision) with the question vectors
/// already made, 5 times; an untimed round first leaves the check's vectors cached.
fn time_matching(bot: &Bot, thresholds: &Thresholds, cases: &[Case], vectors: &[Option<Vector>]) -> Vec<Duration> {
    outcomes(bot, thresholds, cases, vectors);
    let mut times = Vec::with_capacity(cases.len() * 5);
    for _ in 0..5 {
        for (c, v) in cases.iter().zip(vectors) {
            let start = Instant::now();
            let analysis = bot.analyze(&c.query, v.as_deref());
            std::hint::black_box(decide(&analysis, thresholds));
            times.push(start.elapsed());
        }
    }
    times.sort();
    times
}

/// The answer threshold and lead at which most in-scope questions are answered correctly while
/// at least `target` of the out-of-scope ones go unanswered.
fn best_thresholds(outcomes: &[Outcome], target: f64) -> Option<(f32, f32, Metrics)> {
    let mut best: Option<(f32, f32, Metrics)> = None;
    for step in 20..=95 {
        let t = step as f32 * 0.01;
        for lead in [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15] {
            let m = Metrics::of(&outcomes.iter().map(|o| at_threshold(o, t, lead)).collect::<Vec<_>>());
            if m.out_of_scope_rejected < target {
                continue;
            }
            let better = best.as_ref().is_none_or(|(_, _, b)| {
                (m.answered_correctly, -m.answered_wrongly) > (b.answered_correctly, -b.answered_wrongly)
            });
            if better {
                best = Some((t, lead, m));
            }
        }
    }
    best
}

pub fn bot(args: BotBench<'_>) -> anyhow::Result<()> {
    let bytes = std::fs::read(args.kb).with_context(|| format!("reading {}", args.kb.display()))?;
    let rows = parse_csv(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", args.kb.display()))?;
    let cases = load_cases(args.cases, &Questions::new(&rows))?;
    let thresholds = if args.lexical {
        Thresholds::default()
    } else {
        Thresholds::SEMANTIC
    };
    let lexicon = Lexicon::default();

    let semantic = if args.lexical {
        None
    } else {
        let start = Instant::now();
        let model = match args.adapter {
            None => Model::bundled(),
            Some(path) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("cannot read the adapter {}", path.display()))?;
                let model = Model::bundled_with(&bytes)
                    .with_context(|| format!("{} is not an adapter for the bundled model", path.display()))?;
                // A model lives as long as the process (`Semantic::new` takes a `'static` one).
                Box::leak(Box::new(model))
            }
        };
        let s = Arc::new(Semantic::new(model));
        s.model().dim(); // forces the load
        Some((s, start.elapsed()))
    };
    let start = Instant::now();
    let bot = match &semantic {
        Some((s, _)) => Bot::with_semantic(lexicon.clone(), entries(&rows), thresholds, s.clone()),
        None => Bot::new(lexicon.clone(), entries(&rows), thresholds),
    };
    let built = start.elapsed();

    // Each question embedded cold, once per round, by the model itself (no cache), with the
    // aspect check's texts.
    let mut embed_times = Vec::new();
    let mut vectors: Vec<Option<Vector>> = vec![None; cases.len()];
    if let Some((s, _)) = &semantic {
        for _ in 0..3 {
            s.forget_questions();
            for (c, v) in cases.iter().zip(&mut vectors) {
                let text = kefu_bot::text::normalize(&c.query);
                let start = Instant::now();
                let e: Vector = s.model().embed_query(&text).into();
                std::hint::black_box(bot.analyze(&c.query, Some(&e)));
                embed_times.push(start.elapsed());
                *v = Some(e);
            }
        }
        embed_times.sort();
    }

    let results = outcomes(&bot, &thresholds, &cases, &vectors);
    if let Some(path) = args.dump {
        dump(path, &rows, &cases, &bot, &vectors)?;
    }
    if args.misses {
        for ((c, o), v) in cases.iter().zip(&results).zip(&vectors) {
            if o.rank == Some(1) && (c.expected.is_some() || o.answered.is_none()) {
                continue;
            }
            let analysis = bot.analyze(&c.query, v.as_deref());
            let got = analysis.candidates.first().map(|t| {
                format!(
                    "{} ({:.2}, cos {:.3}, via “{}”)",
                    rows[t.key].question, t.score, t.semantic, t.matched
                )
            });
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
    }
    let m = Metrics::of(&results);
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
    match &semantic {
        Some((_, loaded)) => {
            let f = bot.index.fusion();
            let model = args.adapter.map_or("bundled e5-small".to_string(), |p| {
                format!("e5-small with {}", p.display())
            });
            println!(
                "  engine          lexical + semantic ({model}, loaded in {loaded:.1?}; weight {:.2}, floor {:.2}, phrasing {:.2})",
                f.weight, f.floor, f.phrasing
            );
        }
        None => println!("  engine          lexical only"),
    }
    println!(
        "  thresholds      answer ≥ {:.2} (lead ≥ {:.2}), suggest ≥ {:.2}, up to {} suggestions",
        thresholds.answer, thresholds.margin, thresholds.suggest, thresholds.max_suggestions
    );
    report(&m);
    if semantic.is_some() {
        let cells: Vec<String> = calibration(&results, &[0.0, 0.5, 0.7, 0.84, 0.9, 0.95, 1.0])
            .iter()
            .filter(|b| b.cases > 0)
            .map(|b| {
                format!(
                    "{:.2}–{:.2} {:.2} ({})",
                    b.from,
                    b.to,
                    b.right as f64 / b.cases as f64,
                    b.cases
                )
            })
            .collect();
        println!(
            "  calibration     best entry right, by its answer confidence (cases): {}",
            cells.join(" · ")
        );
    }
    if args.sweep {
        println!(
            "  sweep: answer threshold, then per required lead: in scope answered correctly/wrongly, out of scope not answered"
        );
        for step in 20..=48 {
            let t = step as f32 * 0.02;
            let cells: Vec<String> = [0.0, 0.02, 0.04, 0.06, 0.08]
                .iter()
                .map(|&lead| {
                    let m = Metrics::of(&results.iter().map(|o| at_threshold(o, t, lead)).collect::<Vec<_>>());
                    format!(
                        "lead {lead:.2}: {:.2}/{:.2} {:.2}",
                        m.answered_correctly, m.answered_wrongly, m.out_of_scope_rejected
                    )
                })
                .collect();
            println!("    {t:.2}  {}", cells.join("   "));
        }
        println!(
            "  suggestion threshold: in scope with the right entry offered (answered or suggested), out of scope falling back"
        );
        let analyses: Vec<_> = cases
            .iter()
            .zip(&vectors)
            .map(|(c, v)| (c, bot.index.analyze_with(&c.query, v.as_deref())))
            .collect();
        for step in 4..=12 {
            let suggest = step as f32 * 0.05;
            let (mut offered, mut fell) = (0, 0);
            for (c, a) in &analyses {
                let shown: Vec<usize> = a
                    .candidates
                    .iter()
                    .take_while(|x| x.score >= suggest)
                    .take(thresholds.max_suggestions)
                    .map(|x| x.key)
                    .collect();
                match c.expected {
                    Some(e) => offered += usize::from(shown.contains(&e)),
                    None => fell += usize::from(shown.is_empty()),
                }
            }
            println!(
                "    {suggest:.2}  {:.3}  {:.3}",
                offered as f64 / m.in_scope.max(1) as f64,
                fell as f64 / m.out_of_scope.max(1) as f64
            );
        }
        if semantic.is_some() {
            println!(
                "  fusion sweep: weight floor phrasing whitened passage → top-1 top-3 MRR; best answer/lead with ≥ 0.95 out of scope not answered → correctly/wrongly, out of scope not answered"
            );
            let kb = entries(&rows);
            let (phrasings, passages) = semantic
                .as_ref()
                .map(|(s, _)| s.vectors(&Index::phrasing_texts(&kb), &Index::passage_texts(&kb)))
                .unwrap_or_default();
            let mut tuned = Bot::from_index(
                Index::with_vectors(lexicon.clone(), kb, phrasings, passages),
                thresholds,
                bot.semantic().cloned(),
            );
            for weight in [0.65, 0.75, 0.85] {
                for floor in [0.3, 0.5] {
                    for phrasing in [0.3, 0.5] {
                        for (whitened, passage) in [
                            (0.0, 0.0),
                            (0.2, 0.0),
                            (0.0, 0.3),
                            (0.2, 0.3),
                            (0.35, 0.3),
                            (0.5, 0.3),
                            (0.35, 0.45),
                            (0.5, 0.2),
                        ] {
                            tuned.index.set_fusion(Fusion {
                                weight,
                                floor,
                                phrasing,
                                whitened,
                                passage,
                                ..Fusion::default()
                            });
                            let o = outcomes(&tuned, &thresholds, &cases, &vectors);
                            let m = Metrics::of(&o);
                            let best = best_thresholds(&o, 0.95).map_or("—".to_string(), |(t, lead, b)| {
                                format!(
                                    "answer {t:.2} lead {lead:.2} → {:.3}/{:.3} {:.3}",
                                    b.answered_correctly, b.answered_wrongly, b.out_of_scope_rejected
                                )
                            });
                            println!(
                                "    {weight:.2} {floor:.2} {phrasing:.2} {whitened:.2} {passage:.2} → {:.3} {:.3} {:.3}; {best}",
                                m.top1, m.top3, m.mrr
                            );
                        }
                    }
                }
            }
        }
    }
    println!("  index built     in {built:.1?} (with the phrasings' embeddings, if any)");
    if !embed_times.is_empty() {
        println!(
            "  embedding       p50 {:?}  p99 {:?}  per question, uncached, with the aspect check ({} timed, single thread)",
            percentile(&embed_times, 0.5),
            percentile(&embed_times, 0.99),
            embed_times.len()
        );
    }
    let times = time_matching(&bot, &thresholds, &cases, &vectors);
    println!(
        "  matching        p50 {:?}  p99 {:?}  per query ({} timed{})",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len(),
        if semantic.is_some() {
            ", question vector given"
        } else {
            ""
        }
    );
    if semantic.is_some() {
        // Bot::ask as the server calls it, for questions asked before: the LRU serves the vectors.
        for c in &cases {
            bot.ask(&c.query);
        }
        let mut asks = Vec::new();
        for _ in 0..3 {
            for c in &cases {
                let start = Instant::now();
                std::hint::black_box(bot.ask(&c.query));
                asks.push(start.elapsed());
            }
        }
        asks.sort();
        println!(
            "  ask, repeated   p50 {:?}  p99 {:?}  per query (Bot::ask, the question's vector in the LRU cache)",
            percentile(&asks, 0.5),
            percentile(&asks, 0.99)
        );
    }

    if let Some(n) = args.synthetic {
        let big_entries = synthetic(&rows, n.max(rows.len()), &lexicon);
        let start = Instant::now();
        let index = match &semantic {
            Some((s, _)) => {
                let kb = entries(&rows);
                let (real, real_passages) = s.vectors(&Index::phrasing_texts(&kb), &Index::passage_texts(&kb));
                let total: usize = big_entries.iter().map(|e| 1 + e.similar.len()).sum();
                let mut all = real.clone();
                all.extend(synthetic_vectors(&real, total - real.len()));
                let mut passages = real_passages.clone();
                passages.extend(synthetic_vectors(
                    &real_passages,
                    big_entries.len() - real_passages.len(),
                ));
                Index::with_vectors(lexicon.clone(), big_entries, all, passages)
            }
            None => Index::new(lexicon.clone(), big_entries),
        };
        let built = start.elapsed();
        let big = Bot::from_index(index, thresholds, bot.semantic().cloned());
        let times = time_matching(&big, &thresholds, &cases, &vectors);
        println!(
            "  synthetic       {} entries (built in {:.1?}{}): matching p50 {:?}  p99 {:?}  per query",
            big.index.entries().len(),
            built,
            if semantic.is_some() {
                "; synthetic phrasings' vectors composed from real ones, not embedded"
            } else {
                ""
            },
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
    let range = |share, n| {
        let (lo, hi) = wilson95(share, n);
        format!("{lo:.2}–{hi:.2}")
    };
    println!(
        "  95% interval    top-1 {}  top-3 {}; answered correctly {}; out of scope not answered {} (Wilson, {} and {} cases)",
        range(m.top1, m.in_scope),
        range(m.top3, m.in_scope),
        range(m.answered_correctly, m.in_scope),
        range(m.out_of_scope_rejected, m.out_of_scope),
        m.in_scope,
        m.out_of_scope
    );
}
