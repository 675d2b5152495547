//! kefu's smart FAQ bot (智能客服), a pure library: no I/O, no async.
//!
//! A question goes through [`text::normalize`] (traditional → simplified, widths, case,
//! punctuation), [`lexicon::Lexicon`] (jieba with the shop's words, synonyms, filler), and
//! [`index::Index::analyze`] (candidates by BM25 and character bigrams, several signals, one
//! confidence per entry; with a [`Semantic`], sentence vectors too); [`decide::decide`] turns
//! that into answer / suggest / fallback by the shop's thresholds. The server keeps one [`Bot`]
//! per shop (and one [`Semantic`]) and rebuilds the bot when the knowledge base changes.
//!
//! [`search_terms`] serves chat records search (SPEC §5.5) with the same folding and jieba.

pub mod answer;
pub mod aspect;
pub mod decide;
pub mod eval;
pub mod index;
pub mod learn;
pub mod lexicon;
pub mod search_terms;
pub mod semantic;
pub mod text;

use aspect::Check;
pub use decide::{Decision, Thresholds, decide, pick_suggestion, wants_human};
pub use index::{Analysis, Candidate, Entry, Fusion, Index};
pub use lexicon::Lexicon;
pub use semantic::Semantic;
use std::sync::Arc;

/// A shop's bot: its index and thresholds, and the semantic signal if it has one.
pub struct Bot {
    pub index: Index,
    pub thresholds: Thresholds,
    semantic: Option<Arc<Semantic>>,
}

impl Bot {
    /// The lexical engine alone.
    pub fn new(lexicon: Lexicon, entries: Vec<Entry>, thresholds: Thresholds) -> Bot {
        Bot {
            index: Index::new(lexicon, entries),
            thresholds,
            semantic: None,
        }
    }

    /// With the semantic signal: phrasings are embedded now, except those `semantic` already
    /// has vectors for (keep one [`Semantic`] per shop across rebuilds).
    pub fn with_semantic(
        lexicon: Lexicon,
        entries: Vec<Entry>,
        thresholds: Thresholds,
        semantic: Arc<Semantic>,
    ) -> Bot {
        let (vectors, passages) = semantic.vectors(&Index::phrasing_texts(&entries), &Index::passage_texts(&entries));
        Bot {
            index: Index::with_vectors(lexicon, entries, vectors, passages),
            thresholds,
            semantic: Some(semantic),
        }
    }

    /// From an index built elsewhere (the benchmark's tuned and synthetic ones); `semantic`
    /// should be the one the index's vectors were made with.
    pub fn from_index(index: Index, thresholds: Thresholds, semantic: Option<Arc<Semantic>>) -> Bot {
        Bot {
            index,
            thresholds,
            semantic,
        }
    }

    pub fn semantic(&self) -> Option<&Arc<Semantic>> {
        self.semantic.as_ref()
    }

    /// Analyses a question and decides. The aspect check runs only when it can change the
    /// decision, which saves its model pass. For about a quarter of the questions of the 26 case
    /// sets it cannot: the lead is too small to answer, or no check could lift the answer
    /// model's confidence to the threshold.
    pub fn ask(&self, question: &str) -> (Analysis, Decision) {
        let vector = self
            .semantic
            .as_ref()
            .map(|s| s.question_vector(&text::normalize(question)));
        let mut analysis = self.index.analyze_with(question, vector.as_deref());
        if self.could_answer(&analysis, question) {
            self.check(&mut analysis, vector.as_deref(), question);
        }
        let decision = decide(&analysis, &self.thresholds);
        (analysis, decision)
    }

    /// The analysis of a question whose vector is given, with the aspect check of the best
    /// candidate whenever the bot has the semantic signal (the benchmark sweeps thresholds over
    /// it, so it is not skipped here).
    pub fn analyze(&self, question: &str, vector: Option<&[f32]>) -> Analysis {
        let mut analysis = self.index.analyze_with(question, vector);
        self.check(&mut analysis, vector, question);
        analysis
    }

    /// Whether the best candidate could be answered after some check: it leads by the margin,
    /// and the answer model's confidence with the best check imaginable reaches the threshold.
    fn could_answer(&self, analysis: &Analysis, question: &str) -> bool {
        let mut c = analysis.candidates.iter();
        let Some(top) = c.next() else { return false };
        let second = c.next();
        let lead = top.score - second.map_or(0.0, |s| s.score);
        lead >= self.thresholds.margin
            && answer::Features::of(top, second, &Check::default(), question).best_case() >= self.thresholds.answer
    }

    /// The aspect check of the best candidate, and with it the answer model's confidence.
    fn check(&self, analysis: &mut Analysis, vector: Option<&[f32]>, question: &str) {
        if let (Some(q), Some(top)) = (vector, analysis.candidates.first()) {
            analysis.check = self.check_of(&analysis.normalized, q, top, analysis.candidates.get(1), question);
        }
    }

    /// The aspect check of `candidate` for a question (normalised, its vector `q`, and as the
    /// buyer wrote it), with the answer model's confidence that it is right rather than
    /// `rival`; `None` without the semantic signal.
    fn check_of(
        &self,
        normalized: &str,
        q: &[f32],
        candidate: &Candidate,
        rival: Option<&Candidate>,
        question: &str,
    ) -> Option<Check> {
        let s = self.semantic.as_ref()?;
        let phrasing = self.index.nearest_phrasing(candidate.key, q)?;
        let mut check = s.check(self.index.lexicon(), normalized, q, &phrasing, candidate.score);
        let features = answer::Features::of(candidate, rival, &check, question);
        check.confidence = features.confidence();
        check.factors = features.factors();
        Some(check)
    }

    /// The confidence, on the answer threshold's scale, that `candidate` (one of `analysis`'s)
    /// is right rather than `rival`: for choosing among some of the candidates only, such as a
    /// product's own questions on its page. Without the semantic signal, its score.
    pub fn confidence_of(
        &self,
        analysis: &Analysis,
        candidate: &Candidate,
        rival: Option<&Candidate>,
        question: &str,
    ) -> f32 {
        self.semantic
            .as_ref()
            .map(|s| s.question_vector(&analysis.normalized))
            .and_then(|q| self.check_of(&analysis.normalized, &q, candidate, rival, question))
            .map_or(candidate.score, |c| c.confidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        let e = |key, q: &str, s: &[&str]| Entry {
            key,
            question: q.into(),
            similar: s.iter().map(|x| x.to_string()).collect(),
            answer: String::new(),
        };
        vec![
            e(0, "双十一有什么活动?", &["双11有活动吗"]),
            e(1, "什么时候发货?", &["多久发货"]),
            e(2, "宝宝几个月可以吃辅食?", &[]),
        ]
    }

    #[test]
    fn the_semantic_signal_finds_paraphrases_without_shared_words() {
        let semantic = Arc::new(Semantic::bundled());
        let bot = Bot::with_semantic(Lexicon::default(), entries(), Thresholds::SEMANTIC, semantic.clone());
        let (a, _) = bot.ask("光棍节打几折");
        assert_eq!(a.candidates[0].key, 0, "{:?}", a.candidates);
        assert!(
            a.candidates[0].semantic > a.candidates[1].semantic + 0.1,
            "{:?}",
            a.candidates
        );
        assert!(a.candidates.iter().all(|c| (0.0..=1.0).contains(&c.score)));
        let (_, d) = bot.ask("多久发货");
        assert!(matches!(d, Decision::Answer { key: 1, .. }), "{d:?}");
        assert!(semantic.has_question("多久发货"));

        // The lexical bot is unchanged: no vectors, no semantic field.
        let lexical = Bot::new(Lexicon::default(), entries(), Thresholds::default());
        assert!(!lexical.index.is_semantic());
        let (a, _) = lexical.ask("多久发货");
        assert!(a.candidates.iter().all(|c| c.semantic == 0.0));
        assert_eq!(a.candidates, bot.index.analyze("多久发货").candidates);
    }

    #[test]
    fn the_aspect_check_holds_back_a_near_miss() {
        let semantic = Arc::new(Semantic::bundled());
        let e = |key, q: &str, s: &[&str]| Entry {
            key,
            question: q.into(),
            similar: s.iter().map(|x| x.to_string()).collect(),
            answer: String::new(),
        };
        let kb = vec![
            e(0, "吸管杯几个月能用?", &["吸管杯适合几个月的宝宝", "6个月能用吸管杯吗"]),
            e(1, "什么时候发货?", &["多久发货", "几天发货"]),
            e(2, "退货运费谁出?", &["退货邮费谁承担"]),
        ];
        let bot = Bot::with_semantic(Lexicon::default(), kb, Thresholds::SEMANTIC, semantic);
        // Same product, another question: the rests (能装热水 / 几个月能用) are far apart.
        let checked = |q: &str| bot.analyze(q, Some(&bot.semantic().unwrap().question_vector(&text::normalize(q))));
        let near_miss = checked("吸管杯能装热水吗");
        let miss = near_miss.check.clone().expect("checked");
        assert_eq!(near_miss.candidates[0].key, 0);
        assert!(!miss.question_rest.contains("吸管杯"), "{miss:?}");
        // A paraphrase of the same question: its rest is near the phrasing's.
        let paraphrase = checked("吸管杯多大的宝宝可以用");
        let hit = paraphrase.check.clone().expect("checked");
        assert_eq!(paraphrase.candidates[0].key, 0);
        assert!(
            hit.adjusted - paraphrase.candidates[0].score > miss.adjusted - near_miss.candidates[0].score,
            "the paraphrase gains more from the check: {hit:?} vs {miss:?}"
        );
        assert!(hit.rest_to_rest > miss.rest_to_rest, "{hit:?} vs {miss:?}");
        // Bot::ask skips the check only where it cannot change the decision.
        for q in [
            "吸管杯能装热水吗",
            "吸管杯多大的宝宝可以用",
            "宝宝几个月能吃辅食",
            "今天天气怎么样",
            "多久发货",
        ] {
            let (asked, decision) = bot.ask(q);
            let v = bot.semantic().unwrap().question_vector(&text::normalize(q));
            let full = bot.analyze(q, Some(&v));
            assert_eq!(decision, decide(&full, &bot.thresholds), "{q}");
            assert!(asked.check.is_none() || asked.check == full.check, "{q}");
        }
        // Without the semantic signal there is no check.
        let lexical = Bot::new(Lexicon::default(), entries(), Thresholds::default());
        assert!(lexical.ask("多久发货").0.check.is_none());
    }

    #[test]
    fn an_entry_is_as_near_as_its_nearest_phrasing() {
        let semantic = Arc::new(Semantic::bundled());
        let bot = Bot::with_semantic(Lexicon::default(), entries(), Thresholds::SEMANTIC, semantic.clone());
        let (vectors, _) = semantic.vectors(&Index::phrasing_texts(&entries()), &[]);
        for q in ["双十一有什么活动", "光棍节有活动吗", "双11打几折"] {
            let (a, _) = bot.ask(q);
            let c = a
                .candidates
                .iter()
                .find(|c| c.key == 0)
                .expect("entry 0 is a candidate");
            let v = semantic.question_vector(&text::normalize(q));
            let nearest = vectors[..2]
                .iter()
                .map(|p| kefu_embed::cosine(&v, p))
                .fold(f32::MIN, f32::max);
            assert_eq!(c.semantic, nearest, "{q}: {c:?}");
        }
    }

    #[test]
    fn the_answer_is_read_as_a_passage() {
        let semantic = Arc::new(Semantic::bundled());
        let mut with_answers = entries();
        with_answers[2].answer = "一般宝宝满6个月开始添加辅食，第一口推荐高铁米粉".into();
        let bot = Bot::with_semantic(
            Lexicon::default(),
            with_answers.clone(),
            Thresholds::SEMANTIC,
            semantic.clone(),
        );
        let passage = semantic
            .model()
            .embed_passages(&[&Index::passage_texts(&with_answers)[2]]);
        let q = "第一口辅食吃什么米粉";
        let (a, _) = bot.ask(q);
        let c = a
            .candidates
            .iter()
            .find(|c| c.key == 2)
            .expect("entry 2 is a candidate");
        let v = semantic.question_vector(&text::normalize(q));
        assert_eq!(c.passage, kefu_embed::cosine(&v, &passage[0]), "{c:?}");
        // A passage vector is not the query vector of the same text: e5 reads the two sides
        // differently.
        let as_query = semantic.model().embed_query(&Index::passage_texts(&with_answers)[2]);
        assert!(kefu_embed::cosine(&as_query, &passage[0]) < 0.999);
        // Kept with the phrasings, so the server stores and restores both; dropped with them.
        assert_eq!(semantic.phrasings().len(), 5 + 3);
        semantic.vectors(
            &Index::phrasing_texts(&entries()[..1]),
            &Index::passage_texts(&entries()[..1]),
        );
        assert_eq!(semantic.phrasings().len(), 2 + 1);
    }

    #[test]
    fn a_rebuild_embeds_only_new_phrasings() {
        let semantic = Semantic::bundled();
        let texts = Index::phrasing_texts(&entries());
        let (first, _) = semantic.vectors(&texts, &[]);
        let mut edited = texts.clone();
        edited[0] = "双十一满减怎么算".into();
        let (second, _) = semantic.vectors(&edited, &[]);
        assert!(
            Arc::ptr_eq(&first[1], &second[1]),
            "unchanged phrasings keep their vector"
        );
        assert!(!Arc::ptr_eq(&first[0], &second[0]));
    }
}
