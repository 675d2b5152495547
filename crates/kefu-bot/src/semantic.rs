//! The optional semantic signal: sentence vectors from `kefu-embed` (multilingual-e5-small).
//!
//! A forward pass costs ~20 ms, a thousand times the lexical matching, so vectors are made
//! as rarely as possible: a phrasing's vector is kept by its text, so rebuilding a shop's
//! index after a knowledge-base edit embeds only the new or changed phrasings; a question's
//! vector is kept in a small LRU by its normalised text, because buyers ask the same
//! questions over and over.

use crate::Lexicon;
use crate::aspect::{self, Check};
use kefu_embed::{Model, cosine};
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// A vector, shared between caches and indexes.
pub type Vector = Arc<[f32]>;

/// How a passage's vector is keyed among the phrasings' (one map, so the server stores and
/// restores both alike): a phrasing is never normalised to start with this.
const PASSAGE_KEY: &str = "passage: ";

/// Questions remembered per shop.
const QUESTION_CACHE: usize = 4096;

/// The model and the vectors made with it for one shop. Thread-safe: the server shares one
/// per shop between its requests and its index rebuilds.
pub struct Semantic {
    model: &'static Model,
    phrasings: Mutex<HashMap<String, Vector>>,
    questions: Mutex<LruCache<String, Vector>>,
    /// Passage vectors the aspect check asked for (phrasings and what is left of them).
    passages: Mutex<LruCache<String, Vector>>,
}

impl Semantic {
    /// With any model (leak it to get a `'static` one: a model lives as long as the process).
    pub fn new(model: &'static Model) -> Semantic {
        Semantic {
            model,
            phrasings: Mutex::default(),
            questions: Mutex::new(LruCache::new(NonZeroUsize::new(QUESTION_CACHE).expect("non-zero"))),
            passages: Mutex::new(LruCache::new(NonZeroUsize::new(QUESTION_CACHE).expect("non-zero"))),
        }
    }

    /// With the model built into the binary.
    pub fn bundled() -> Semantic {
        Semantic::new(Model::bundled())
    }

    pub fn model(&self) -> &'static Model {
        self.model
    }

    /// Vectors of a knowledge base's (normalised) phrasings, as queries, and of its entries'
    /// passages ([`crate::Index::passage_texts`]), embedding in one batch each only those not
    /// seen before; vectors of texts no longer listed are dropped.
    pub fn vectors(&self, phrasings: &[String], passages: &[String]) -> (Vec<Vector>, Vec<Vector>) {
        let passage_keys: Vec<String> = passages.iter().map(|t| format!("{PASSAGE_KEY}{t}")).collect();
        let mut known = self.phrasings.lock().unwrap_or_else(|e| e.into_inner());
        self.embed_missing(&mut known, phrasings, "", Model::embed_queries);
        self.embed_missing(&mut known, &passage_keys, PASSAGE_KEY, Model::embed_passages);
        let out = |keys: &[String]| keys.iter().map(|k| known[k].clone()).collect::<Vec<Vector>>();
        let vectors = (out(phrasings), out(&passage_keys));
        let listed: std::collections::HashSet<&str> =
            phrasings.iter().chain(&passage_keys).map(String::as_str).collect();
        known.retain(|k, _| listed.contains(k.as_str()));
        vectors
    }

    /// Embeds, in one batch, the texts (`keys` less `prefix`) of the keys not known yet.
    fn embed_missing(
        &self,
        known: &mut HashMap<String, Vector>,
        keys: &[String],
        prefix: &str,
        embed: fn(&Model, &[&str]) -> Vec<Vec<f32>>,
    ) {
        let mut missing: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| !known.contains_key(*k))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let texts: Vec<&str> = missing.iter().map(|k| &k[prefix.len()..]).collect();
        for (key, v) in missing.iter().zip(embed(self.model, &texts)) {
            known.insert(key.to_string(), v.into());
        }
    }

    /// The vector of a (normalised) question, from the cache when it was asked recently.
    pub fn question_vector(&self, text: &str) -> Vector {
        if let Some(v) = self.questions.lock().unwrap_or_else(|e| e.into_inner()).get(text) {
            return v.clone();
        }
        let v: Vector = self.model.embed_query(text).into();
        self.questions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(text.to_string(), v.clone());
        v
    }

    /// The aspect check ([`crate::aspect`]) of an entry's `score` for a (normalised) question
    /// with vector `q`, against the entry's phrasing nearest it. Its three texts come from the
    /// caches when asked for recently; the missing ones are embedded in one batch.
    pub fn check(&self, lexicon: &Lexicon, question: &str, q: &[f32], phrasing: &str, score: f32) -> Check {
        let (question_rest, phrasing_rest) = aspect::rests(lexicon, question, phrasing);
        let texts = [phrasing, phrasing_rest.as_str()];
        let cached_query = self
            .questions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&question_rest)
            .cloned();
        let mut passages: HashMap<&str, Vector> = {
            let mut cache = self.passages.lock().unwrap_or_else(|e| e.into_inner());
            texts
                .iter()
                .filter_map(|&t| cache.get(t).map(|v| (t, v.clone())))
                .collect()
        };
        let mut missing: Vec<&str> = texts.into_iter().filter(|t| !passages.contains_key(t)).collect();
        missing.dedup();
        let queries: Vec<&str> = match cached_query {
            Some(_) => vec![],
            None => vec![question_rest.as_str()],
        };
        let (made_queries, made_passages) = if queries.is_empty() && missing.is_empty() {
            (vec![], vec![])
        } else {
            self.model.embed_mixed(&queries, &missing)
        };
        {
            let mut cache = self.passages.lock().unwrap_or_else(|e| e.into_inner());
            for (t, v) in missing.into_iter().zip(made_passages) {
                let v = Vector::from(v);
                cache.put(t.to_string(), v.clone());
                passages.insert(t, v);
            }
        }
        let q_rest: Vector = match cached_query {
            Some(v) => v,
            None => {
                let v: Vector = made_queries.into_iter().next().expect("one query, one vector").into();
                self.questions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .put(question_rest.clone(), v.clone());
                v
            }
        };
        let (p_whole, p_rest) = (&passages[phrasing], &passages[phrasing_rest.as_str()]);
        let rest_to_rest = cosine(&q_rest, p_rest);
        let rest_to_phrasing = cosine(&q_rest, p_whole);
        let question_to_rest = cosine(q, p_rest);
        let adjusted = aspect::adjusted(score, rest_to_rest, rest_to_phrasing, question_to_rest);
        Check {
            adjusted,
            phrasing: phrasing.to_string(),
            question_rest,
            phrasing_rest,
            rest_to_rest,
            rest_to_phrasing,
            question_to_rest,
            // The answer model's confidence and factors are the bot's to set: it knows the
            // other candidates.
            ..Default::default()
        }
    }

    /// Takes phrasing vectors made earlier (stored by the server, or by another node), so that
    /// they are not embedded again. Vectors of the wrong size are ignored.
    pub fn remember(&self, vectors: impl IntoIterator<Item = (String, Vector)>) {
        let dim = self.model.dim();
        let mut known = self.phrasings.lock().unwrap_or_else(|e| e.into_inner());
        for (text, v) in vectors {
            if v.len() == dim {
                known.entry(text).or_insert(v);
            }
        }
    }

    /// Every phrasing vector held now, to store the ones made since [`Semantic::remember`].
    pub fn phrasings(&self) -> Vec<(String, Vector)> {
        let known = self.phrasings.lock().unwrap_or_else(|e| e.into_inner());
        known.iter().map(|(t, v)| (t.clone(), v.clone())).collect()
    }

    /// Whether a question's vector is cached (for the benchmark's timing split).
    pub fn has_question(&self, text: &str) -> bool {
        self.questions.lock().unwrap_or_else(|e| e.into_inner()).contains(text)
    }

    /// Empties the question cache and the aspect check's (the benchmark times cold embeddings).
    pub fn forget_questions(&self) {
        self.questions.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.passages.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod remember_tests {
    use super::*;

    #[test]
    fn remembered_vectors_are_not_embedded_again() {
        let s = Semantic::bundled();
        let fake: Vector = vec![0.5; s.model().dim()].into();
        s.remember([
            ("包邮吗".to_string(), fake.clone()),
            ("短".to_string(), vec![1.0; 3].into()),
        ]);
        let (got, _) = s.vectors(&["包邮吗".to_string()], &[]);
        assert_eq!(got[0], fake, "taken from memory, not from the model");
        assert_eq!(
            s.phrasings().len(),
            1,
            "wrong-sized vectors are ignored; unlisted ones dropped"
        );
    }
}
