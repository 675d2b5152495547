//! The index of a knowledge base's phrasings (each standard question and its similar
//! phrasings) and the scoring of a question against them. Several signals are computed per
//! phrasing and combined into one confidence; an entry scores as its best phrasing.
//!
//! - `bm25`: BM25 over canonical words (the `bm25` crate), used to find candidates and shown
//!   in the console;
//! - `words`: idf-weighted Dice overlap of the canonical word sets, in [0, 1];
//! - `chars`: Sørensen–Dice over character bigrams of the folded text, in [0, 1] — survives
//!   typos and segmentation slips that break words;
//! - `cover`: the idf-weighted share of the question's words found anywhere in the entry's
//!   phrasings — a paraphrase often borrows words from several of them;
//! - `semantic` (optional): the cosine of the question's and the phrasing's sentence vectors
//!   ([`crate::semantic`]); it finds paraphrases that share no words (光棍节 → 双十一) and
//!   nominates candidates. The confidence mixes it with the cosine to the mean vector of the
//!   entry's phrasings ([`Fusion`]). Without vectors the index is the lexical engine alone.

use crate::lexicon::Lexicon;
use crate::semantic::Vector;
use crate::text::{compact, normalize};
use bm25::{Embedder, EmbedderBuilder, Scorer, Tokenizer};
use std::collections::{HashMap, HashSet};

/// One knowledge-base entry as the bot sees it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The caller's key for the entry (e.g. its position in the caller's list).
    pub key: usize,
    pub question: String,
    pub similar: Vec<String>,
}

/// A phrasing, prepared once.
#[derive(Clone, Debug)]
struct Phrasing {
    entry: usize,
    text: String,
    compact: String,
    words: HashSet<String>,
}

/// Tokens are made by the lexicon; the BM25 embedder receives them joined by spaces.
#[derive(Clone, Copy, Debug, Default)]
struct Pretokenized;

impl Tokenizer for Pretokenized {
    fn tokenize(&self, text: &str) -> Vec<String> {
        text.split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect()
    }
}

/// Weights of the combined confidence.
/// Chosen on `bench/demo-cases-dev.csv` with `kefu bench bot --sweep`.
pub const WORDS_WEIGHT: f32 = 0.3;
pub const CHARS_WEIGHT: f32 = 0.3;
pub const COVER_WEIGHT: f32 = 0.4;
/// Phrasings scored in full per question (best by BM25, plus best by shared bigrams).
const CANDIDATES: usize = 32;
/// Entries scored because their mean vector is near the question's, and how many of their
/// phrasings (those nearest the question; lexically close ones come in through BM25 and
/// bigrams anyway).
const SEMANTIC_ENTRIES: usize = 12;
const SEMANTIC_PHRASINGS: usize = 2;

/// How the semantic signal joins the lexical confidence. Chosen on `bench/demo-cases-dev.csv`
/// with `kefu bench bot --sweep`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fusion {
    /// Share of the semantic signal in the confidence.
    pub weight: f32,
    /// e5 cosines crowd into 0.8–1.0 even for unrelated questions: this cosine counts as no
    /// similarity at all, 1 as identity, linearly between.
    pub floor: f32,
    /// Share of the best phrasing's cosine in the semantic signal; the rest is the cosine with
    /// the mean of all the entry's phrasings, which several paraphrases vouch for.
    pub phrasing: f32,
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion {
            weight: 0.65,
            floor: 0.75,
            phrasing: 0.5,
        }
    }
}

/// Phrasing vectors, and for the candidate scan a byte-sized table of each entry's mean
/// vector: a fifth of the rows of a per-phrasing table, which matters at 10,000 entries.
struct Vectors {
    dense: Vec<Vector>,
    centroids: kefu_embed::VectorTable,
    /// The same, exact, for scoring.
    means: Vec<Vec<f32>>,
    /// Each entry's phrasings, a range of `dense`.
    ranges: Vec<std::ops::Range<usize>>,
}

/// How one phrasing scored, with each signal, for the test console.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Candidate {
    /// The entry's key.
    pub key: usize,
    /// The phrasing that scored best for the entry.
    pub matched: String,
    pub bm25: f32,
    pub words: f32,
    pub chars: f32,
    pub cover: f32,
    /// Cosine of the question's and the phrasing's sentence vectors; 0 without vectors.
    pub semantic: f32,
    /// The combined confidence, in [0, 1].
    pub score: f32,
}

/// What the bot made of a question, for decisions and for the console.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Analysis {
    pub normalized: String,
    pub tokens: Vec<String>,
    /// Entries best first, one candidate per entry.
    pub candidates: Vec<Candidate>,
}

pub struct Index {
    lexicon: Lexicon,
    entries: Vec<Entry>,
    phrasings: Vec<Phrasing>,
    /// Every word of each entry's phrasings.
    entry_words: Vec<HashSet<String>>,
    idf: HashMap<String, f32>,
    /// idf given to a word no phrasing has.
    unseen_idf: f32,
    embedder: Embedder<u32, Pretokenized>,
    scorer: Scorer<usize, u32>,
    bigrams: HashMap<(char, char), Vec<u32>>,
    vectors: Option<Vectors>,
    fusion: Fusion,
}

fn bigrams(s: &str) -> HashSet<(char, char)> {
    let chars: Vec<char> = s.chars().collect();
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

impl Index {
    /// The texts whose vectors [`Index::with_vectors`] takes, in its order: each entry's
    /// question then its similar phrasings, normalised.
    pub fn phrasing_texts(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .flat_map(|e| std::iter::once(&e.question).chain(e.similar.iter()))
            .map(|t| normalize(t))
            .collect()
    }

    /// An index that also scores by sentence vectors: `vectors[i]` belongs to
    /// `phrasing_texts(&entries)[i]`. Vectors are passed in, not made here, so the caller can
    /// keep them across rebuilds ([`crate::Semantic::phrasing_vectors`]).
    ///
    /// Panics if there are not as many vectors as phrasings.
    pub fn with_vectors(lexicon: Lexicon, entries: Vec<Entry>, vectors: Vec<Vector>) -> Index {
        let mut index = Index::new(lexicon, entries);
        assert_eq!(vectors.len(), index.phrasings.len(), "one vector per phrasing");
        let dim = vectors.first().map_or(kefu_embed::DIM, |v| v.len());
        let mut ranges = vec![0..0; index.entries.len()];
        for (i, p) in index.phrasings.iter().enumerate() {
            let r = &mut ranges[p.entry];
            if r.start == r.end {
                *r = i..i;
            }
            r.end = i + 1;
        }
        let mut centroids = kefu_embed::VectorTable::new(dim);
        let mut means = Vec::with_capacity(ranges.len());
        for r in &ranges {
            let mut c = vec![0f32; dim];
            for v in &vectors[r.clone()] {
                c.iter_mut().zip(v.iter()).for_each(|(c, v)| *c += v);
            }
            let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            c.iter_mut().for_each(|x| *x /= norm);
            centroids.push(&c);
            means.push(c);
        }
        index.vectors = Some(Vectors {
            dense: vectors,
            centroids,
            means,
            ranges,
        });
        index
    }

    /// Whether the index has phrasing vectors.
    pub fn is_semantic(&self) -> bool {
        self.vectors.is_some()
    }

    pub fn fusion(&self) -> Fusion {
        self.fusion
    }

    /// Changes how the semantic signal is weighed (for tuning).
    pub fn set_fusion(&mut self, fusion: Fusion) {
        self.fusion = fusion;
    }

    pub fn new(lexicon: Lexicon, entries: Vec<Entry>) -> Index {
        let mut phrasings = Vec::new();
        let mut docs = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            for text in std::iter::once(&e.question).chain(e.similar.iter()) {
                let norm = normalize(text);
                let tokens = lexicon.tokens(&norm);
                docs.push(tokens.join(" "));
                phrasings.push(Phrasing {
                    entry: i,
                    text: text.clone(),
                    compact: compact(&norm),
                    words: tokens.into_iter().collect(),
                });
            }
        }
        let mut entry_words = vec![HashSet::new(); entries.len()];
        for p in &phrasings {
            entry_words[p.entry].extend(p.words.iter().cloned());
        }
        let n = phrasings.len().max(1) as f32;
        let mut df: HashMap<&str, u32> = HashMap::new();
        for p in &phrasings {
            for w in &p.words {
                *df.entry(w.as_str()).or_default() += 1;
            }
        }
        let idf_of = |d: f32| (1.0 + n / (d + 0.5)).ln();
        let idf = df.iter().map(|(w, d)| (w.to_string(), idf_of(*d as f32))).collect();
        let corpus: Vec<&str> = docs.iter().map(String::as_str).collect();
        let embedder =
            EmbedderBuilder::<u32, Pretokenized>::with_tokenizer_and_fit_to_corpus(Pretokenized, &corpus).build();
        let mut scorer = Scorer::<usize, u32>::new();
        let mut postings: HashMap<(char, char), Vec<u32>> = HashMap::new();
        for (i, (doc, p)) in docs.iter().zip(&phrasings).enumerate() {
            scorer.upsert(&i, embedder.embed(doc));
            for b in bigrams(&p.compact) {
                postings.entry(b).or_default().push(i as u32);
            }
        }
        Index {
            lexicon,
            entries,
            phrasings,
            entry_words,
            idf,
            unseen_idf: idf_of(0.0),
            embedder,
            scorer,
            bigrams: postings,
            vectors: None,
            fusion: Fusion::default(),
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn idf(&self, w: &str) -> f32 {
        self.idf.get(w).copied().unwrap_or(self.unseen_idf) * self.lexicon.weight(w)
    }

    /// Scores a question against every entry it could match, best first, by the lexical
    /// signals alone.
    pub fn analyze(&self, question: &str) -> Analysis {
        self.analyze_with(question, None)
    }

    /// [`Index::analyze`], with the semantic signal too when both the index and the question
    /// have vectors (the question's: the vector of its normalised text).
    pub fn analyze_with(&self, question: &str, vector: Option<&[f32]>) -> Analysis {
        let semantic = self.vectors.as_ref().zip(vector);
        let normalized = normalize(question);
        let tokens = self.lexicon.tokens(&normalized);
        let q_compact = compact(&normalized);
        let q_words: HashSet<&str> = tokens.iter().map(String::as_str).collect();

        // Candidates: the best phrasings by BM25, and by shared character bigrams.
        let mut bm25: HashMap<usize, f32> = HashMap::new();
        for m in self
            .scorer
            .matches(&self.embedder.embed(&tokens.join(" ")))
            .into_iter()
            .take(CANDIDATES)
        {
            bm25.insert(m.id, m.score);
        }
        let mut shared: HashMap<u32, u32> = HashMap::new();
        for b in bigrams(&q_compact) {
            if let Some(list) = self.bigrams.get(&b) {
                for &p in list {
                    *shared.entry(p).or_default() += 1;
                }
            }
        }
        let mut by_bigrams: Vec<(u32, u32)> = shared.into_iter().collect();
        by_bigrams.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut pool: Vec<usize> = bm25.keys().copied().collect();
        pool.extend(by_bigrams.into_iter().take(CANDIDATES).map(|(p, _)| p as usize));
        if let Some((vectors, q)) = semantic {
            for (entry, _) in vectors.centroids.nearest(q, SEMANTIC_ENTRIES) {
                let mut by_cosine: Vec<(f32, usize)> = vectors.ranges[entry]
                    .clone()
                    .map(|p| (kefu_embed::cosine(q, &vectors.dense[p]), p))
                    .collect();
                by_cosine.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                pool.extend(by_cosine.into_iter().take(SEMANTIC_PHRASINGS).map(|(_, p)| p));
            }
        }
        pool.sort_unstable();
        pool.dedup();

        let q_weight: f32 = q_words.iter().map(|w| self.idf(w)).sum();
        let mut best: HashMap<usize, Candidate> = HashMap::new();
        for p_index in pool {
            let p = &self.phrasings[p_index];
            let d_weight: f32 = p.words.iter().map(|w| self.idf(w)).sum();
            let common: f32 = q_words
                .iter()
                .filter(|w| p.words.contains(**w))
                .map(|w| self.idf(w))
                .sum();
            let words = if q_weight + d_weight > 0.0 {
                2.0 * common / (q_weight + d_weight)
            } else {
                0.0
            };
            let chars = strsim::sorensen_dice(&q_compact, &p.compact) as f32;
            let bag = &self.entry_words[p.entry];
            let covered: f32 = q_words.iter().filter(|w| bag.contains(**w)).map(|w| self.idf(w)).sum();
            let cover = if q_weight > 0.0 { covered / q_weight } else { 0.0 };
            let lexical = (WORDS_WEIGHT * words + CHARS_WEIGHT * chars + COVER_WEIGHT * cover).clamp(0.0, 1.0);
            let (semantic, score) = match semantic {
                Some((vectors, q)) => {
                    let cos = kefu_embed::cosine(q, &vectors.dense[p_index]);
                    let f = self.fusion;
                    let mean = kefu_embed::cosine(q, &vectors.means[p.entry]);
                    let cos_mix = f.phrasing * cos + (1.0 - f.phrasing) * mean;
                    let sim = ((cos_mix - f.floor) / (1.0 - f.floor)).clamp(0.0, 1.0);
                    (cos, (1.0 - f.weight) * lexical + f.weight * sim)
                }
                None => (0.0, lexical),
            };
            let c = Candidate {
                key: self.entries[p.entry].key,
                matched: p.text.clone(),
                bm25: bm25.get(&p_index).copied().unwrap_or(0.0),
                words,
                chars,
                cover,
                semantic,
                score,
            };
            match best.get(&p.entry) {
                Some(b) if b.score >= c.score => {}
                _ => {
                    best.insert(p.entry, c);
                }
            }
        }
        let mut candidates: Vec<Candidate> = best.into_values().collect();
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.key.cmp(&b.key)));
        Analysis {
            normalized,
            tokens,
            candidates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        let e = |key, q: &str, s: &[&str]| Entry {
            key,
            question: q.into(),
            similar: s.iter().map(|x| x.to_string()).collect(),
        };
        Index::new(
            Lexicon::default(),
            vec![
                e(0, "满多少包邮?", &["包邮吗", "运费怎么算"]),
                e(1, "退货运费谁出?", &["退货邮费谁承担"]),
                e(2, "什么时候发货?", &["多久发货", "今天能发吗"]),
                e(3, "可以开发票吗?", &[]),
            ],
        )
    }

    #[test]
    fn finds_the_entry_through_synonyms_typos_and_filler() {
        let idx = index();
        for (q, key) in [
            ("满多少免邮啊亲", 0),
            ("亲 买多少钱包油", 0),
            ("寄回去的快递费谁出", 1),
            ("啥时候发货呀", 2),
            ("這個什麼時候發貨", 2),
            ("能开票不", 3),
        ] {
            let a = idx.analyze(q);
            assert_eq!(
                a.candidates.first().map(|c| c.key),
                Some(key),
                "{q}: {:?}",
                a.candidates
            );
        }
    }

    #[test]
    fn scores_are_bounded_and_explain_themselves() {
        let idx = index();
        let a = idx.analyze("包邮吗");
        let top = &a.candidates[0];
        assert_eq!(top.matched, "包邮吗");
        assert!((top.score - 1.0).abs() < 1e-6, "an exact phrasing scores 1: {top:?}");
        assert!(top.bm25 > 0.0);
        for c in &a.candidates {
            assert!((0.0..=1.0).contains(&c.score));
        }
        let unrelated = idx.analyze("今天天气怎么样");
        assert!(
            unrelated.candidates.first().is_none_or(|c| c.score < 0.22),
            "{:?}",
            unrelated.candidates
        );
        assert!(idx.analyze("").candidates.is_empty());
    }
}
