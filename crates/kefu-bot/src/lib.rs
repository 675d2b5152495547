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
pub mod learn;
pub mod lexicon;
pub mod text;

pub use decide::{Decision, Thresholds, decide, pick_suggestion, wants_human};
pub use index::{Analysis, Candidate, Entry, Index};
pub use lexicon::Lexicon;

/// A shop's bot: its index and thresholds.
pub struct Bot {
    pub index: Index,
    pub thresholds: Thresholds,
}

impl Bot {
    pub fn new(lexicon: Lexicon, entries: Vec<Entry>, thresholds: Thresholds) -> Bot {
        Bot {
            index: Index::new(lexicon, entries),
            thresholds,
        }
    }

    /// Analyses a question and decides.
    pub fn ask(&self, question: &str) -> (Analysis, Decision) {
        let analysis = self.index.analyze(question);
        let decision = decide(&analysis, &self.thresholds);
        (analysis, decision)
    }
}
