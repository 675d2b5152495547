//! The answer confidence: how likely the best entry is the right one, from every signal the bot
//! has for it — what the answer threshold is held against when the bot has the semantic signal.
//!
//! One signal alone decides badly: a near miss (same product, another aspect) scores as high as
//! a paraphrase, and a paraphrase that barely leads a sibling entry is a coin toss. A logistic
//! model over the top entry's signals, its lead over the runner-up on each, the aspect check's
//! cosines and the question's length separates them better: fitted on 26 case sets (24 shops)
//! (`tools/research/answer_model.py`), and measured leave-one-set-out on the twelve the
//! adapter never saw, at the old rule's answered share it leaves 0.93 of out-of-scope questions
//! unanswered instead of 0.90, and at the same 0.95 answers 0.50 instead of 0.39
//! (docs/research/answer-model.md). Ranking and suggestions keep the plain score.

use crate::aspect::{self, Check};
use crate::index::Candidate;
use serde::Serialize;

/// Questions longer than this count as this long (the weight is linear: a paragraph must not
/// count as certainty).
const MAX_CHARS: usize = 40;

/// How many inputs the model has.
const INPUTS: usize = 17;

/// The model's inputs, in the order of [`MEAN`], [`STD`] and [`WEIGHT`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Features(pub [f32; INPUTS]);

/// Standardisation and weights, from `python3 tools/research/answer_model.py /tmp/sw fit`.
const MEAN: [f32; INPUTS] = [
    0.614743, 0.625075, 0.106049, 0.744354, 0.737271, 0.739494, 0.266138, 0.059996, 0.247363, 0.841018, 0.840182,
    0.866039, 0.768652, 0.075436, 0.067945, 0.056621, 10.722628,
];
const STD: [f32; INPUTS] = [
    0.108285, 0.114302, 0.089701, 0.075325, 0.079573, 0.080223, 0.219313, 0.064545, 0.238160, 0.075328, 0.066941,
    0.056014, 0.064596, 0.068675, 0.060642, 0.059743, 4.038753,
];
const WEIGHT: [f32; INPUTS] = [
    0.178774, 0.195028, 1.476144, 0.151297, -0.086221, 0.423781, -0.424946, -0.294891, 0.346732, 0.665313, 0.583503,
    -0.109573, -0.039115, 0.174182, -0.911895, 0.360457, 0.345975,
];
pub const BIAS: f32 = 1.206104;

/// Positions of the score, the check's adjusted score and its three cosines.
const SCORE: usize = 0;
const ADJUSTED: usize = 1;
const COSINES: [usize; 3] = [3, 4, 5];
/// The lowest cosine the check's texts are assumed to reach: e5's lowest over 5,600 checks of
/// the 26 case sets was ~0.44 (its cosines crowd high), so 0.3 leaves room.
const COSINE_FLOOR: f32 = 0.3;

/// How the answer model's inputs moved a question's confidence, in logits against the average
/// question of the case sets it was fitted on, grouped by what a shop can act on: shown in the
/// test console so that an admin sees why the bot did not answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Factors {
    /// The entry's scores and cosines: how alike the question and the entry are (a similar
    /// phrasing in the buyer's words helps).
    pub similarity: f32,
    /// The lead over the runner-up: another entry asks nearly the same (phrasings that tell the
    /// two apart help).
    pub lead: f32,
    /// The aspect check: what is left of each without their shared words.
    pub aspect: f32,
    /// The question's length.
    pub length: f32,
}

/// The inputs of each factor.
const SIMILARITY: [usize; 8] = [SCORE, 6, 7, 8, 9, 10, 11, 12];
const LEAD: [usize; 4] = [2, 13, 14, 15];
const ASPECT: [usize; 4] = [ADJUSTED, COSINES[0], COSINES[1], COSINES[2]];
const LENGTH: [usize; 1] = [16];

impl Features {
    /// Of the best candidate `top`, with the runner-up `second` (if any), the check's cosines
    /// and adjusted score, and the question as the buyer wrote it.
    pub fn of(top: &Candidate, second: Option<&Candidate>, check: &Check, question: &str) -> Features {
        let s = |f: fn(&Candidate) -> f32| second.map_or(0.0, f);
        Features([
            top.score,
            check.adjusted,
            top.score - s(|c| c.score),
            check.rest_to_rest,
            check.rest_to_phrasing,
            check.question_to_rest,
            top.words,
            top.chars,
            top.cover,
            top.semantic,
            top.centroid,
            top.whitened,
            top.passage,
            top.semantic - s(|c| c.semantic),
            top.centroid - s(|c| c.centroid),
            top.passage - s(|c| c.passage),
            question.chars().count().min(MAX_CHARS) as f32,
        ])
    }

    /// The probability that the best candidate is the right entry, in (0, 1).
    pub fn confidence(&self) -> f32 {
        let logit: f32 = (0..INPUTS).map(|i| self.effect(i)).sum::<f32>() + BIAS;
        1.0 / (1.0 + (-logit).exp())
    }

    /// The confidence's logit, taken apart: the factors and [`BIAS`] add up to it.
    pub fn factors(&self) -> Factors {
        let sum = |inputs: &[usize]| inputs.iter().map(|&i| self.effect(i)).sum();
        Factors {
            similarity: sum(&SIMILARITY),
            lead: sum(&LEAD),
            aspect: sum(&ASPECT),
            length: sum(&LENGTH),
        }
    }

    /// Input `i`'s share of the logit.
    fn effect(&self, i: usize) -> f32 {
        WEIGHT[i] * (self.0[i] - MEAN[i]) / STD[i]
    }

    /// The highest confidence any aspect check could give (its cosines between
    /// [`COSINE_FLOOR`] and 1, the score moved by at most [`aspect::MOST_ADDED`]): below the
    /// answer threshold, the check need not run.
    pub fn best_case(mut self) -> f32 {
        self.0[ADJUSTED] = (self.0[SCORE] + aspect::MOST_ADDED).min(1.0);
        for i in COSINES {
            self.0[i] = if WEIGHT[i] > 0.0 { 1.0 } else { COSINE_FLOOR };
        }
        self.confidence()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(score: f32, semantic: f32) -> Candidate {
        Candidate {
            key: 0,
            matched: String::new(),
            bm25: 0.0,
            words: 0.3,
            chars: 0.05,
            cover: 0.3,
            semantic,
            centroid: semantic - 0.02,
            whitened: semantic,
            passage: semantic - 0.08,
            score,
        }
    }

    fn check(cosine: f32, adjusted: f32) -> Check {
        Check {
            rest_to_rest: cosine,
            rest_to_phrasing: cosine,
            question_to_rest: cosine,
            adjusted,
            ..Default::default()
        }
    }

    #[test]
    fn a_clear_lead_is_likelier_than_a_near_tie() {
        let top = candidate(0.75, 0.92);
        let clear = Features::of(&top, Some(&candidate(0.5, 0.8)), &check(0.85, 0.78), "满多少包邮啊").confidence();
        let tie = Features::of(&top, Some(&candidate(0.74, 0.91)), &check(0.85, 0.78), "满多少包邮啊").confidence();
        assert!(clear > 0.9 && tie < clear - 0.1, "clear {clear}, tie {tie}");
        // A check that finds the rests apart lowers it.
        let apart = Features::of(&top, Some(&candidate(0.5, 0.8)), &check(0.55, 0.7), "满多少包邮啊").confidence();
        assert!(apart < clear, "{apart} vs {clear}");
    }

    #[test]
    fn no_check_can_beat_the_best_case() {
        let (top, second) = (candidate(0.6, 0.86), candidate(0.55, 0.84));
        let bound = Features::of(&top, Some(&second), &check(0.0, 0.0), "能开发票吗").best_case();
        for step in 0..=14 {
            let c = COSINE_FLOOR + step as f32 * 0.05;
            for adjusted in [0.0, 0.5, top.score + aspect::MOST_ADDED] {
                let p = Features::of(&top, Some(&second), &check(c, adjusted), "能开发票吗").confidence();
                assert!(p <= bound, "{p} > {bound}");
            }
        }
        assert!(bound < 1.0);
    }

    #[test]
    fn the_factors_add_up_to_the_confidence() {
        let f = Features::of(
            &candidate(0.7, 0.9),
            Some(&candidate(0.6, 0.85)),
            &check(0.8, 0.72),
            "能开发票吗",
        );
        let x = f.factors();
        // Every input is in exactly one factor.
        let mut all: Vec<usize> = [&SIMILARITY[..], &LEAD, &ASPECT, &LENGTH].concat();
        all.sort_unstable();
        assert_eq!(all, (0..INPUTS).collect::<Vec<_>>());
        let logit = x.similarity + x.lead + x.aspect + x.length + BIAS;
        assert!((1.0 / (1.0 + (-logit).exp()) - f.confidence()).abs() < 1e-6);
        // A nearer runner-up costs lead, nothing else.
        let close = Features::of(
            &candidate(0.7, 0.9),
            Some(&candidate(0.69, 0.89)),
            &check(0.8, 0.72),
            "能开发票吗",
        );
        assert!(close.factors().lead < x.lead && close.factors().similarity == x.similarity);
    }

    #[test]
    fn a_long_question_counts_as_forty_characters() {
        let (top, c) = (candidate(0.7, 0.9), check(0.8, 0.75));
        let long = "请问".repeat(30);
        assert_eq!(
            Features::of(&top, None, &c, &long),
            Features::of(&top, None, &c, &"请问".repeat(20))
        );
    }
}
