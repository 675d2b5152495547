//! Measuring the bot (`kefu bench bot`): how often the expected standard question ranks first
//! or in the top three, the mean reciprocal rank, and — at the shop's thresholds — how many
//! in-scope questions are answered correctly outright and how many out-of-scope ones are not
//! answered. Pure: the caller times the questions.

use crate::{Analysis, Decision};
use serde::Serialize;

/// One test question: the key of the entry that should answer it, or none when the knowledge
/// base does not cover it.
#[derive(Clone, Debug)]
pub struct Case {
    pub query: String,
    pub expected: Option<usize>,
}

/// How the bot did on one case.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// 1-based rank of the expected entry among the candidates (in-scope cases).
    pub rank: Option<usize>,
    pub answered: Option<usize>,
    pub expected: Option<usize>,
    /// The best entry and its confidence (after the aspect check, if any), and its lead over
    /// the second (plain scores), for threshold sweeps.
    pub top: Option<(usize, f32)>,
    pub lead: f32,
}

pub fn outcome(case: &Case, analysis: &Analysis, decision: &Decision) -> Outcome {
    let rank = case
        .expected
        .and_then(|e| analysis.candidates.iter().position(|c| c.key == e).map(|p| p + 1));
    let answered = match decision {
        Decision::Answer { key, .. } => Some(*key),
        _ => None,
    };
    let mut c = analysis.candidates.iter();
    let first = c.next();
    let lead = first.map_or(0.0, |t| t.score - c.next().map_or(0.0, |n| n.score));
    let checked = analysis.check.as_ref().map(|c| c.confidence);
    let top = first.map(|t| (t.key, checked.unwrap_or(t.score)));
    Outcome {
        rank,
        answered,
        expected: case.expected,
        top,
        lead,
    }
}

/// The outcome had the bot answered whenever the best entry reached `answer` with `margin` lead.
pub fn at_threshold(o: &Outcome, answer: f32, margin: f32) -> Outcome {
    let answered = o.top.filter(|(_, s)| *s >= answer && o.lead >= margin).map(|(k, _)| k);
    Outcome { answered, ..o.clone() }
}

/// The cases whose best entry's confidence fell in `from..to` (the last bin includes 1), and
/// how many of them it was the right entry for (an out-of-scope case never is).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bin {
    pub from: f32,
    pub to: f32,
    pub cases: usize,
    pub right: usize,
}

/// Whether the confidence means what it says: for bins between ascending `edges`, how often
/// the best entry was the right one. With the answer model, a bin of 0.90–0.95 should be right
/// about 0.9 of the time; a shop's own cases tell whether that holds for its knowledge base.
pub fn calibration(outcomes: &[Outcome], edges: &[f32]) -> Vec<Bin> {
    let mut bins: Vec<Bin> = edges
        .windows(2)
        .map(|w| Bin {
            from: w[0],
            to: w[1],
            cases: 0,
            right: 0,
        })
        .collect();
    let last = bins.len().saturating_sub(1);
    for o in outcomes {
        let Some((key, confidence)) = o.top else { continue };
        let bin = bins
            .iter()
            .position(|b| confidence >= b.from && confidence < b.to)
            .or_else(|| (confidence == bins.get(last)?.to).then_some(last));
        if let Some(b) = bin.map(|i| &mut bins[i]) {
            b.cases += 1;
            b.right += usize::from(o.expected == Some(key));
        }
    }
    bins
}

/// The figures the benchmark prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub in_scope: usize,
    pub out_of_scope: usize,
    pub top1: f64,
    pub top3: f64,
    pub mrr: f64,
    /// In-scope questions answered outright with the right entry.
    pub answered_correctly: f64,
    /// In-scope questions answered outright with a wrong entry.
    pub answered_wrongly: f64,
    /// Out-of-scope questions not answered outright (suggested or fallen back).
    pub out_of_scope_rejected: f64,
}

impl Metrics {
    pub fn of(outcomes: &[Outcome]) -> Metrics {
        let inside: Vec<&Outcome> = outcomes.iter().filter(|o| o.expected.is_some()).collect();
        let outside: Vec<&Outcome> = outcomes.iter().filter(|o| o.expected.is_none()).collect();
        let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let within = |k: usize| inside.iter().filter(|o| o.rank.is_some_and(|r| r <= k)).count();
        Metrics {
            in_scope: inside.len(),
            out_of_scope: outside.len(),
            top1: share(within(1), inside.len()),
            top3: share(within(3), inside.len()),
            mrr: if inside.is_empty() {
                0.0
            } else {
                inside
                    .iter()
                    .map(|o| o.rank.map_or(0.0, |r| 1.0 / r as f64))
                    .sum::<f64>()
                    / inside.len() as f64
            },
            answered_correctly: share(
                inside
                    .iter()
                    .filter(|o| o.answered.is_some() && o.answered == o.expected)
                    .count(),
                inside.len(),
            ),
            answered_wrongly: share(
                inside
                    .iter()
                    .filter(|o| o.answered.is_some() && o.answered != o.expected)
                    .count(),
                inside.len(),
            ),
            out_of_scope_rejected: share(outside.iter().filter(|o| o.answered.is_none()).count(), outside.len()),
        }
    }
}

/// The 95 % Wilson score interval of a share measured on `n` cases: how far the true rate may
/// lie from what a small benchmark shows (on 118 cases, 0.83 could be anything from 0.75 to
/// 0.89), so that two runs are compared knowing what a difference of a few cases means.
pub fn wilson95(share: f64, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_964;
    let n = n as f64;
    let centre = share + Z * Z / (2.0 * n);
    let spread = Z * (share * (1.0 - share) / n + Z * Z / (4.0 * n * n)).sqrt();
    let scale = 1.0 + Z * Z / n;
    (
        ((centre - spread) / scale).max(0.0),
        ((centre + spread) / scale).min(1.0),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn calibration_counts_the_right_top_entries_per_bin() {
        let o = |top: Option<(usize, f32)>, expected: Option<usize>| Outcome {
            rank: None,
            answered: None,
            expected,
            top,
            lead: 0.0,
        };
        let outcomes = [
            o(Some((1, 0.95)), Some(1)),
            o(Some((2, 0.97)), Some(1)),
            o(Some((3, 1.0)), Some(3)),
            o(Some((3, 0.6)), None),
            o(None, Some(2)),
        ];
        let bins = calibration(&outcomes, &[0.0, 0.9, 1.0]);
        assert_eq!((bins[0].cases, bins[0].right), (1, 0), "out of scope is never right");
        assert_eq!((bins[1].cases, bins[1].right), (3, 2), "1.0 falls in the last bin");
        assert_eq!((bins[1].from, bins[1].to), (0.9, 1.0));
    }

    use super::*;

    #[test]
    fn metrics_count_what_they_say() {
        let o = |rank, answered, expected| Outcome {
            rank,
            answered,
            expected,
            top: None,
            lead: 0.0,
        };
        let m = Metrics::of(&[
            o(Some(1), Some(0), Some(0)), // right, answered
            o(Some(2), None, Some(1)),    // second, suggested
            o(None, Some(5), Some(2)),    // missed, answered wrongly
            o(None, None, None),          // out of scope, rejected
            o(None, Some(3), None),       // out of scope, answered
        ]);
        assert_eq!((m.in_scope, m.out_of_scope), (3, 2));
        assert!((m.top1 - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.top3 - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.mrr - 0.5).abs() < 1e-9);
        assert!((m.answered_correctly - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.answered_wrongly - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.out_of_scope_rejected - 0.5).abs() < 1e-9);
    }

    #[test]
    fn wilson_interval_matches_the_textbook_and_stays_in_bounds() {
        // 98 of 118 (0.831): the interval from the closed form, to three places.
        let (lo, hi) = wilson95(98.0 / 118.0, 118);
        assert!((lo - 0.752).abs() < 1e-3 && (hi - 0.888).abs() < 1e-3, "{lo} {hi}");
        // All right or all wrong still leaves room on the other side, never outside [0, 1].
        let (lo, hi) = wilson95(1.0, 24);
        assert!(lo > 0.85 && lo < 0.87 && (hi - 1.0).abs() < 1e-9, "{lo} {hi}");
        let (lo, hi) = wilson95(0.0, 24);
        assert!(lo.abs() < 1e-9 && hi > 0.13 && hi < 0.15, "{lo} {hi}");
        // More cases, a narrower interval.
        let narrow = wilson95(0.9, 1000);
        let wide = wilson95(0.9, 100);
        assert!(narrow.1 - narrow.0 < wide.1 - wide.0);
        assert_eq!(wilson95(0.5, 0), (0.0, 1.0));
    }
}
