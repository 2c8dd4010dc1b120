//! int8 dense layers: weights quantised per output channel at load,
//! activations per row at run time, i32 sums, f32 out.
//!
//! - [`quantize`]: the quantisers and the packed weight layout;
//! - `gemm`: the tile driver and the scalar reference kernel;
//! - `vnni`, `avx2`: the SIMD micro-kernels (bit-identical to the scalar one).

mod avx2;
mod gemm;
pub mod quantize;
mod vnni;

pub use quantize::{PackedWeights, QuantizedRows, RowFormat};

use crate::precision::Int8Kernel;
use crate::weights::LinearWeights;

/// `y = x Wᵀ + b` with int8 `W` and per-row int8 `x`.
#[derive(Debug, Clone)]
pub struct Int8Linear {
    weights: PackedWeights,
    /// Padded to whole panels (zeros past `out_features`).
    bias: Vec<f32>,
    kernel: Int8Kernel,
}

impl Int8Linear {
    /// Quantises HF-layout weights (`[out, in]`) for `kernel`.
    ///
    /// # Panics
    /// If this CPU cannot run `kernel` (a caller's bug: pick kernels with
    /// [`crate::CpuKernels::detect`]; running it would be undefined behaviour).
    pub fn load(w: &LinearWeights, kernel: Int8Kernel) -> Self {
        assert!(kernel.is_supported(), "this CPU cannot run the {kernel:?} int8 kernel");
        let (n, k) = (w.weight.shape[0], w.weight.shape[1]);
        let weights = PackedWeights::quantize(&w.weight.data, n, k);
        let mut bias = w.bias.data.clone();
        bias.resize(weights.panels * quantize::PANEL, 0.0);
        Int8Linear { weights, bias, kernel }
    }

    pub fn in_features(&self) -> usize {
        self.weights.in_features()
    }

    pub fn out_features(&self) -> usize {
        self.weights.out_features()
    }

    pub fn kernel(&self) -> Int8Kernel {
        self.kernel
    }

    /// The same weights on another kernel (tests compare kernels with it).
    ///
    /// # Panics
    /// If this CPU cannot run `kernel`, as [`load`](Self::load).
    pub fn with_kernel(&self, kernel: Int8Kernel) -> Self {
        assert!(kernel.is_supported(), "this CPU cannot run the {kernel:?} int8 kernel");
        Int8Linear { kernel, ..self.clone() }
    }

    /// `out = x Wᵀ + b (+ residual)` for `rows` rows; `q` is scratch for
    /// the quantised activations (kept by the caller to reuse its memory).
    pub fn forward(&self, x: &[f32], rows: usize, residual: Option<&[f32]>, out: &mut [f32], q: &mut QuantizedRows) {
        q.quantize(x, rows, self.in_features(), gemm::row_format(self.kernel));
        self.forward_quantized(q, residual, out);
    }

    /// As [`forward`](Self::forward) on activations already quantised.
    pub fn forward_quantized(&self, q: &QuantizedRows, residual: Option<&[f32]>, out: &mut [f32]) {
        gemm::gemm(self.kernel, q, &self.weights, &self.bias, residual, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::precision::CpuKernels;
    use crate::weights::Tensor;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn layer(n: usize, k: usize, seed: u64) -> LinearWeights {
        let mut s = seed;
        LinearWeights {
            weight: Tensor { shape: vec![n, k], data: (0..n * k).map(|_| lcg(&mut s) * 0.2).collect() },
            bias: Tensor { shape: vec![n], data: (0..n).map(|_| lcg(&mut s)).collect() },
        }
    }

    fn kernels() -> Vec<Int8Kernel> {
        let mut k = vec![Int8Kernel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                k.push(Int8Kernel::Avx2);
            }
            if CpuKernels::detect().int8 == Int8Kernel::Avx512Vnni {
                k.push(Int8Kernel::Avx512Vnni);
            }
        }
        k
    }

    /// Every kernel gives the same bits as the scalar reference, on shapes
    /// that leave partial tiles, partial panels and padded groups.
    #[test]
    fn simd_kernels_match_the_scalar_reference_bit_for_bit() {
        for &(rows, k, n) in &[(1, 4, 16), (13, 37, 50), (50, 384, 100), (7, 64, 1152), (61, 130, 65)] {
            let lin = Int8Linear::load(&layer(n, k, rows as u64), Int8Kernel::Scalar);
            let mut s = 99 + k as u64;
            let x: Vec<f32> = (0..rows * k).map(|_| lcg(&mut s) * 3.0).collect();
            let res: Vec<f32> = (0..rows * n).map(|_| lcg(&mut s)).collect();
            let mut q = QuantizedRows::default();
            let mut want = vec![f32::NAN; rows * n];
            lin.forward(&x, rows, Some(&res), &mut want, &mut q);
            let mut want_nr = vec![f32::NAN; rows * n];
            lin.forward(&x, rows, None, &mut want_nr, &mut q);
            for kernel in kernels() {
                let l = lin.with_kernel(kernel);
                let mut got = vec![f32::NAN; rows * n];
                l.forward(&x, rows, Some(&res), &mut got, &mut q);
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{kernel:?} rows {rows} k {k} n {n}"
                );
                l.forward(&x, rows, None, &mut got, &mut q);
                assert!(got.iter().zip(&want_nr).all(|(a, b)| a.to_bits() == b.to_bits()), "{kernel:?} no residual");
            }
        }
    }

    /// The scalar reference is the dequantised product: Σ (q_a s_a)(q_w s_w).
    #[test]
    fn reference_is_the_dequantised_product_and_close_to_f32() {
        let (rows, k, n) = (9, 96, 40);
        let w = layer(n, k, 7);
        let lin = Int8Linear::load(&w, Int8Kernel::Scalar);
        let mut s = 5;
        let x: Vec<f32> = (0..rows * k).map(|_| lcg(&mut s)).collect();
        let mut q = QuantizedRows::default();
        let mut out = vec![0.0; rows * n];
        lin.forward(&x, rows, None, &mut out, &mut q);
        let (mut err, mut norm) = (0.0f64, 0.0f64);
        for r in 0..rows {
            for o in 0..n {
                let deq: f64 = (0..k)
                    .map(|i| q.row(r)[i] as f64 * q.scale(r) as f64 * lin.weights.q(o, i) as f64 * lin.weights.scale(o) as f64)
                    .sum::<f64>()
                    + w.bias.data[o] as f64;
                assert!((out[r * n + o] as f64 - deq).abs() < 1e-5, "{r},{o}");
                let exact: f64 =
                    (0..k).map(|i| x[r * k + i] as f64 * w.weight.data[o * k + i] as f64).sum::<f64>() + w.bias.data[o] as f64;
                err += (out[r * n + o] as f64 - exact).powi(2);
                norm += exact.powi(2);
            }
        }
        // Two 8-bit roundings: a relative error of about 1 %.
        assert!((err / norm).sqrt() < 0.02, "relative error {}", (err / norm).sqrt());
    }

    #[test]
    fn zero_rows_are_a_no_op() {
        let lin = Int8Linear::load(&layer(16, 8, 1), CpuKernels::detect().int8);
        let mut q = QuantizedRows::default();
        let mut out: Vec<f32> = Vec::new();
        lin.forward(&[], 0, None, &mut out, &mut q);
        assert!(out.is_empty());
    }
}
