//! kefu's smart FAQ bot (智能客服), a pure library: no I/O, no async.
//!
//! A question goes through [`text::normalize`] (traditional → simplified, widths, case,
//! punctuation), [`lexicon::Lexicon`] (jieba with the shop's words, synonyms, filler), and
//! [`index::Index::analyze`] (candidates by BM25 and character bigrams, several signals, one
//! confidence per entry); [`decide::decide`] turns that into answer / suggest / fallback by the
//! shop's thresholds. The server keeps one [`Bot`] per shop and rebuilds it when the knowledge
//! base changes.

pub mod decide;
pub mod eval;
pub mod index;
pub mod lexicon;
pub mod semantic;
pub mod text;

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
    pub fn with_semantic(lexicon: Lexicon, entries: Vec<Entry>, thresholds: Thresholds, semantic: Arc<Semantic>) -> Bot {
        let vectors = semantic.phrasing_vectors(&Index::phrasing_texts(&entries));
        Bot {
            index: Index::with_vectors(lexicon, entries, vectors),
            thresholds,
            semantic: Some(semantic),
        }
    }

    pub fn semantic(&self) -> Option<&Arc<Semantic>> {
        self.semantic.as_ref()
    }

    /// Analyses a question and decides.
    pub fn ask(&self, question: &str) -> (Analysis, Decision) {
        let vector = self
            .semantic
            .as_ref()
            .map(|s| s.question_vector(&text::normalize(question)));
        let analysis = self.index.analyze_with(question, vector.as_deref());
        let decision = decide(&analysis, &self.thresholds);
        (analysis, decision)
    }
}
