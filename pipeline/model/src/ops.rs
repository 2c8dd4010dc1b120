//! The numeric building blocks of the CPU BERT: a linear layer on the
//! `gemm` crate, LayerNorm, exact (erf) GELU, softmax, and the
//! branch-free `exp`/`erf` they use.
//!
//! Activations are row-major `[rows, width]` `f32` slices. Element-wise
//! passes split rows across the current rayon pool; the `exp`/`erf` are
//! written without branches or library calls so the compiler vectorises the
//! loops that call them.

use gemm::Parallelism;
use rayon::prelude::*;

use crate::weights::{LayerNormWeights, LinearWeights};

/// Runs an element-wise loop compiled for AVX2+FMA when the CPU has them
/// (the crate is built for baseline x86-64, i.e. SSE2). `$avx2` is a
/// `#[target_feature]` wrapper around the `#[inline(always)]` `$plain`, so
/// its body is compiled 8 wide. The GEMM crate does its own dispatch.
macro_rules! dispatch {
    ($avx2:ident, $plain:ident, $($arg:expr),*) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features just checked.
                return unsafe { $avx2($($arg),*) };
            }
        }
        $plain($($arg),*)
    }};
}

/// Rows per rayon task in element-wise passes: big enough to amortise task
/// overhead, small enough to balance two to a few dozen threads.
const ROWS_PER_TASK: usize = 32;

/// `y = x Wᵀ + b` with `W` stored transposed (`[in, out]`) for the GEMM.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[in_features, out_features]`, row-major.
    weight_t: Vec<f32>,
    bias: Vec<f32>,
    in_features: usize,
    out_features: usize,
}

impl Linear {
    /// Builds from HF-layout weights (`[out, in]`), transposing once.
    pub fn load(w: LinearWeights) -> Self {
        let (out_features, in_features) = (w.weight.shape[0], w.weight.shape[1]);
        let mut weight_t = vec![0.0f32; in_features * out_features];
        for o in 0..out_features {
            for i in 0..in_features {
                weight_t[i * out_features + o] = w.weight.data[o * in_features + i];
            }
        }
        Linear { weight_t, bias: w.bias.data, in_features, out_features }
    }

    /// Stacks several linears with the same input into one whose outputs
    /// are laid side by side (used for the fused Q|K|V projection).
    pub fn concat(parts: Vec<LinearWeights>) -> Self {
        Linear::load(crate::dense::concat_weights(parts))
    }

    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// `out = x Wᵀ + b (+ residual)` for `rows` rows.
    ///
    /// Adding the residual inside the GEMM's accumulation saves a pass over
    /// the activations (BERT adds one after every sub-layer).
    pub fn forward(&self, x: &[f32], rows: usize, residual: Option<&[f32]>, out: &mut [f32]) {
        let (k, n) = (self.in_features, self.out_features);
        assert_eq!(x.len(), rows * k, "linear input");
        assert_eq!(out.len(), rows * n, "linear output");
        match residual {
            Some(r) => {
                assert_eq!(r.len(), rows * n, "linear residual");
                out.par_chunks_mut(n * ROWS_PER_TASK).zip(r.par_chunks(n * ROWS_PER_TASK)).for_each(
                    |(o, r)| {
                        for (orow, rrow) in o.chunks_exact_mut(n).zip(r.chunks_exact(n)) {
                            for ((o, r), b) in orow.iter_mut().zip(rrow).zip(&self.bias) {
                                *o = r + b;
                            }
                        }
                    },
                );
            }
            None => out.par_chunks_mut(n * ROWS_PER_TASK).for_each(|o| {
                for orow in o.chunks_exact_mut(n) {
                    orow.copy_from_slice(&self.bias);
                }
            }),
        }
        if rows == 0 {
            return;
        }
        // SAFETY: the asserts above bound every access: dst is rows×n with
        // row stride n, lhs rows×k with row stride k, rhs k×n with row stride
        // n; the three slices are distinct borrows, so they do not alias.
        unsafe {
            gemm::gemm(
                rows,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                true,
                x.as_ptr(),
                1,
                k as isize,
                self.weight_t.as_ptr(),
                1,
                n as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                Parallelism::Rayon(0),
            );
        }
    }
}

/// LayerNorm over the last dimension: `(x - mean) / sqrt(var + eps) * γ + β`
/// with the biased variance, as `torch.nn.LayerNorm`.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    pub fn load(w: LayerNormWeights, eps: f64) -> Self {
        LayerNorm { gamma: w.gamma.data, beta: w.beta.data, eps: eps as f32 }
    }

    /// Normalises every row of `x` in place.
    pub fn forward_inplace(&self, x: &mut [f32]) {
        let width = self.gamma.len();
        x.par_chunks_mut(width * ROWS_PER_TASK).for_each(|rows| {
            for row in rows.chunks_exact_mut(width) {
                self.row(row);
            }
        });
    }

    /// One row; also used directly by the embedding layer.
    pub fn row(&self, row: &mut [f32]) {
        dispatch!(layer_norm_row_avx2, layer_norm_row, self, row)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn layer_norm_row_avx2(ln: &LayerNorm, row: &mut [f32]) {
    layer_norm_row(ln, row)
}

#[inline(always)]
fn layer_norm_row(ln: &LayerNorm, row: &mut [f32]) {
    let n = row.len() as f32;
    let mean = lanes_sum(row) / n;
    // Centre in place, then the variance is a plain sum of squares.
    for v in row.iter_mut() {
        *v -= mean;
    }
    let mut sq = [0.0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for c in chunks {
        for i in 0..8 {
            sq[i] += c[i] * c[i];
        }
    }
    let var = (sq.iter().sum::<f32>() + tail) / n;
    let inv = 1.0 / (var + ln.eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(&ln.gamma).zip(&ln.beta) {
        *v = *v * inv * g + b;
    }
}

/// Exact GELU, `x · Φ(x) = 0.5 · x · (1 + erf(x / √2))`, in place (HF
/// `hidden_act = "gelu"`; not the tanh approximation).
pub fn gelu_inplace(x: &mut [f32]) {
    x.par_chunks_mut(4096).for_each(gelu_chunk);
}

fn gelu_chunk(x: &mut [f32]) {
    dispatch!(gelu_avx2, gelu_slice, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_avx2(x: &mut [f32]) {
    gelu_slice(x)
}

#[inline(always)]
fn gelu_slice(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// Softmax of one row in place (max-subtracted, so no overflow).
pub fn softmax_inplace(row: &mut [f32]) {
    dispatch!(softmax_avx2, softmax_slice, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_avx2(row: &mut [f32]) {
    softmax_slice(row)
}

#[inline(always)]
fn softmax_slice(row: &mut [f32]) {
    // Three separate loops, each free of a loop-carried scalar dependency
    // (the lane-wise reductions below), so all three vectorise.
    let max = lanes_max(row);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let inv = 1.0 / lanes_sum(row);
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// Sum with 8 independent accumulators (a plain `sum()` is one serial
/// chain of adds, which the compiler may not reorder).
#[inline(always)]
fn lanes_sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum with 8 independent lanes.
#[inline(always)]
fn lanes_max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for i in 0..8 {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    acc.iter().copied().fold(tail, f32::max)
}

/// `erf(x)` for f32, a rational approximation (the one Eigen and XLA use,
/// `generic_fast_erf_float`), within a few ulp of the true value;
/// branch-free so loops over it vectorise.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    // erf(±4) rounds to ±1 in f32: clamping keeps the polynomial in range.
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-08;
    p = p * x2 - 2.101_024e-06;
    p = p * x2 - 5.692_506_4e-05;
    p = p * x2 - 7.349_906_3e-04;
    p = p * x2 - 2.9546e-3;
    p = p * x2 - 1.609_603_3e-02;
    p *= x;
    let mut q = -1.456_607_2e-05_f32;
    q = q * x2 - 2.133_740_6e-04;
    q = q * x2 - 1.682_827e-03;
    q = q * x2 - 7.373_329_4e-03;
    q = q * x2 - 1.426_474e-02;
    p / q
}

/// `e^x` for f32 (Cephes `expf`: range reduction by ln 2, a degree-6
/// polynomial, the exponent set through the bits); relative error ~1e-7;
/// branch-free so loops over it vectorise. Inputs below -87 give ~0.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // max/min rather than clamp, and the exponent from the bits rather than
    // an `as i32` cast: both keep the loop vectorisable (a saturating float
    // to int cast made LLVM emit it scalar, 8× slower in softmax).
    let x = x.max(-87.0).min(88.0);
    // Round x·log2(e) to the nearest integer without a library call: adding
    // 1.5·2²³ pushes the fraction bits out of the mantissa.
    const SHIFT: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    // r = x - n·ln2, with ln2 split in two for precision.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let y = p * r * r + r + 1.0;
    // t lies in [2²³, 2²⁴), where one unit of the mantissa is 1.0, so its
    // low bits hold n as a two's-complement integer.
    let n_int = (t.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    let scale = f32::from_bits((n_int.wrapping_add(127) << 23) as u32);
    y * scale
}

/// Scales `v` to unit L2 norm (a zero vector stays zero, as
/// `torch.nn.functional.normalize` does).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let inv = 1.0 / norm.max(1e-12);
    for x in v {
        *x *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0.0f32;
        let mut x = -6.0f32;
        while x < 6.0 {
            worst = worst.max((erf(x) - libm::erff(x)).abs());
            x += 0.0007;
        }
        assert!(worst < 5e-7, "max |erf - libm| = {worst}");
    }

    #[test]
    fn exp_matches_libm() {
        let mut worst = 0.0f32;
        let mut x = -80.0f32;
        while x < 80.0 {
            let want = libm::expf(x);
            worst = worst.max(((exp(x) - want) / want).abs());
            x += 0.0031;
        }
        assert!(worst < 5e-7, "max relative error {worst}");
        assert!(exp(-1e30) >= 0.0 && exp(-1e30) < 1e-37);
    }

    #[test]
    fn layer_norm_and_softmax() {
        use crate::weights::Tensor;
        let ln = LayerNorm::load(
            LayerNormWeights {
                gamma: Tensor { shape: vec![4], data: vec![1.0, 2.0, 1.0, 1.0] },
                beta: Tensor { shape: vec![4], data: vec![0.0, 0.0, 0.0, 1.0] },
            },
            1e-12,
        );
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        ln.forward_inplace(&mut x);
        let s = 1.25f32.sqrt();
        let want = [-1.5 / s, 2.0 * -0.5 / s, 0.5 / s, 1.5 / s + 1.0];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{x:?}");
        }
        let mut row = vec![1000.0, 1000.0, -1e30];
        softmax_inplace(&mut row);
        assert!((row[0] - 0.5).abs() < 1e-6 && row[2] < 1e-30);
    }

    #[test]
    fn linear_matches_naive() {
        use crate::weights::Tensor;
        let (rows, k, n) = (37, 19, 23);
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0).collect();
        let b: Vec<f32> = (0..n).map(|i| i as f32 / 7.0).collect();
        let x: Vec<f32> = (0..rows * k).map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0).collect();
        let res: Vec<f32> = (0..rows * n).map(|i| (i % 3) as f32).collect();
        let lin = Linear::load(LinearWeights {
            weight: Tensor { shape: vec![n, k], data: w.clone() },
            bias: Tensor { shape: vec![n], data: b.clone() },
        });
        let mut out = vec![f32::NAN; rows * n];
        lin.forward(&x, rows, Some(&res), &mut out);
        for r in 0..rows {
            for o in 0..n {
                let want: f32 =
                    (0..k).map(|i| x[r * k + i] * w[o * k + i]).sum::<f32>() + b[o] + res[r * n + o];
                assert!((out[r * n + o] - want).abs() < 1e-4);
            }
        }
    }
}
