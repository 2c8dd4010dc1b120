//! bf16 dense layers: weights rounded to bfloat16 at load, activations per
//! forward pass, products summed in f32 (`vdpbf16ps` on AVX512_BF16).
//!
//! bf16 keeps f32's exponent and 8 bits of mantissa, so nothing is scaled:
//! the only loss is rounding each input to 8 bits. The layout and driver
//! mirror [`crate::int8`] with pairs instead of groups of four: panel `p`,
//! pair `g`, lane `l`, element `b` of the packed weights is
//! `w[p·16 + l][g·2 + b]`.

mod avx512;

use rayon::prelude::*;

use crate::precision::Bf16Kernel;
use crate::weights::LinearWeights;

/// Output channels per panel (one vector of 16 f32 sums).
pub const PANEL: usize = 16;
/// Consecutive `k` values one f32 lane takes per instruction.
pub const PAIR: usize = 2;

/// f32 → bf16 bits, rounding to nearest even. Branch-free so the loops over
/// it vectorise; inputs are finite (activations and trained weights).
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// bf16 bits → f32 (exact).
#[inline(always)]
pub fn from_bf16(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

#[inline(always)]
fn convert_body(x: &[f32], out: &mut [u16]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = to_bf16(v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn convert_avx512(x: &[f32], out: &mut [u16]) {
    convert_body(x, out)
}

/// Rounds a row to bf16 into `out[..x.len()]` and zeroes the padding.
pub fn convert_row(x: &[f32], out: &mut [u16]) {
    let (body, pad) = out.split_at_mut(x.len());
    pad.fill(0);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU supports the features just checked.
            return unsafe { convert_avx512(x, body) };
        }
    }
    convert_body(x, body)
}

/// Activations `[rows, k]` in bf16, each row padded to an even width.
#[derive(Debug, Clone, Default)]
pub struct Bf16Rows {
    data: Vec<u16>,
    k_pad: usize,
    rows: usize,
}

const ROWS_PER_CONVERT_TASK: usize = 32;

impl Bf16Rows {
    /// Rounds `x` (`[rows, k]`), reusing this buffer's memory.
    pub fn convert(&mut self, x: &[f32], rows: usize, k: usize) {
        assert_eq!(x.len(), rows * k, "activation shape");
        let k_pad = k.div_ceil(PAIR) * PAIR;
        self.data.resize(rows * k_pad, 0);
        (self.k_pad, self.rows) = (k_pad, rows);
        if rows == 0 {
            return;
        }
        self.data.par_chunks_mut(k_pad * ROWS_PER_CONVERT_TASK).zip(x.par_chunks(k * ROWS_PER_CONVERT_TASK)).for_each(
            |(out, x)| {
                for (o, x) in out.chunks_exact_mut(k_pad).zip(x.chunks_exact(k)) {
                    convert_row(x, o);
                }
            },
        );
    }
}

/// `y = x Wᵀ + b` with bf16 `W` and `x`, f32 sums.
#[derive(Debug, Clone)]
pub struct Bf16Linear {
    /// Packed as described in the module docs.
    packed: Vec<u16>,
    /// Padded to whole panels.
    bias: Vec<f32>,
    k: usize,
    k_pad: usize,
    n: usize,
    panels: usize,
    kernel: Bf16Kernel,
}

/// One tile for the micro-kernels (see `int8::gemm::Tile`).
pub(crate) struct Tile<'a> {
    pub a: *const u16,
    pub a_stride: usize,
    pub w: *const u16,
    pub panel_stride: usize,
    /// `k_pad / 2`.
    pub pairs: usize,
    pub bias: &'a [f32],
    pub cols_left: usize,
    pub residual: Option<*const f32>,
    pub out: *mut f32,
    pub out_stride: usize,
}

/// Rows per rayon task.
const ROWS_PER_TASK: usize = 48;

impl Bf16Linear {
    /// Rounds and packs HF-layout weights (`[out, in]`).
    ///
    /// # Panics
    /// If this CPU cannot run `kernel` (a caller's bug: pick kernels with
    /// [`crate::CpuKernels::detect`]; running it would be undefined behaviour).
    pub fn load(w: &LinearWeights, kernel: Bf16Kernel) -> Self {
        assert!(kernel.is_supported(), "this CPU cannot run the {kernel:?} bf16 kernel");
        let (n, k) = (w.weight.shape[0], w.weight.shape[1]);
        let k_pad = k.div_ceil(PAIR) * PAIR;
        let panels = n.div_ceil(PANEL);
        let pairs = k_pad / PAIR;
        let mut packed = vec![0u16; panels * PANEL * k_pad];
        for o in 0..n {
            let (p, lane) = (o / PANEL, o % PANEL);
            for i in 0..k {
                packed[((p * pairs + i / PAIR) * PANEL + lane) * PAIR + i % PAIR] = to_bf16(w.weight.data[o * k + i]);
            }
        }
        let mut bias = w.bias.data.clone();
        bias.resize(panels * PANEL, 0.0);
        Bf16Linear { packed, bias, k, k_pad, n, panels, kernel }
    }

    pub fn in_features(&self) -> usize {
        self.k
    }

    pub fn out_features(&self) -> usize {
        self.n
    }

    /// The same weights on another kernel (tests compare kernels with it).
    ///
    /// # Panics
    /// If this CPU cannot run `kernel`, as [`load`](Self::load).
    pub fn with_kernel(&self, kernel: Bf16Kernel) -> Self {
        assert!(kernel.is_supported(), "this CPU cannot run the {kernel:?} bf16 kernel");
        Bf16Linear { kernel, ..self.clone() }
    }

    /// `out = x Wᵀ + b (+ residual)`; `a` is scratch for the bf16 rows.
    pub fn forward(&self, x: &[f32], rows: usize, residual: Option<&[f32]>, out: &mut [f32], a: &mut Bf16Rows) {
        a.convert(x, rows, self.k);
        let n = self.n;
        assert_eq!(out.len(), rows * n, "bf16 linear output");
        if let Some(r) = residual {
            assert_eq!(r.len(), rows * n, "bf16 linear residual");
        }
        if rows == 0 {
            return;
        }
        let a = &*a;
        out.par_chunks_mut(n * ROWS_PER_TASK).enumerate().for_each(|(t, out)| {
            let row0 = t * ROWS_PER_TASK;
            let task_rows = out.len() / n;
            let res = residual.map(|r| &r[row0 * n..(row0 + task_rows) * n]);
            self.run_task(a, res, out, row0, task_rows);
        });
    }

    fn run_task(&self, a: &Bf16Rows, residual: Option<&[f32]>, out: &mut [f32], row0: usize, rows: usize) {
        let (mr_max, nb_max) = match self.kernel {
            Bf16Kernel::Avx512Bf16 => (avx512::MR, avx512::NB),
            Bf16Kernel::Scalar => (4, 1),
        };
        let (n, panel_stride) = (self.n, self.k_pad * PANEL);
        let mut p = 0;
        while p < self.panels {
            let nb = nb_max.min(self.panels - p);
            let col0 = p * PANEL;
            let mut i = 0;
            while i < rows {
                let mr = mr_max.min(rows - i);
                let tile = Tile {
                    a: a.data[(row0 + i) * a.k_pad..].as_ptr(),
                    a_stride: a.k_pad,
                    w: self.packed[p * panel_stride..].as_ptr(),
                    panel_stride,
                    pairs: self.k_pad / PAIR,
                    bias: &self.bias[col0..],
                    cols_left: n - col0,
                    residual: residual.map(|r| r[i * n + col0..].as_ptr()),
                    out: out[i * n + col0..].as_mut_ptr(),
                    out_stride: n,
                };
                // SAFETY: as in `int8::gemm::run_task`: rows, panels and
                // stored columns are inside the slices borrowed above, and
                // the kernel matches the CPU (`CpuKernels::detect`).
                unsafe {
                    match self.kernel {
                        Bf16Kernel::Avx512Bf16 => avx512::tile(&tile, mr, nb),
                        Bf16Kernel::Scalar => tile_scalar(&tile, mr, nb),
                    }
                }
                i += mr;
            }
            p += nb;
        }
    }
}

/// Reference kernel: f32 products of the bf16 values, pair by pair.
///
/// # Safety
/// `t` must describe valid memory for `mr` rows and `nb` panels.
pub(crate) unsafe fn tile_scalar(t: &Tile, mr: usize, nb: usize) {
    'rows: for i in 0..mr {
        let a = std::slice::from_raw_parts(t.a.add(i * t.a_stride), t.pairs * PAIR);
        for j in 0..nb {
            let w = std::slice::from_raw_parts(t.w.add(j * t.panel_stride), t.panel_stride);
            for lane in 0..PANEL {
                let c = j * PANEL + lane;
                if c >= t.cols_left {
                    continue 'rows;
                }
                let mut acc = 0.0f32;
                for g in 0..t.pairs {
                    for b in 0..PAIR {
                        acc += from_bf16(a[g * PAIR + b]) * from_bf16(w[(g * PANEL + lane) * PAIR + b]);
                    }
                }
                let mut v = acc + t.bias[c];
                if let Some(r) = t.residual {
                    v += *r.add(i * t.out_stride + c);
                }
                *t.out.add(i * t.out_stride + c) = v;
            }
        }
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

    #[test]
    fn rounding_is_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2⁻⁸ is halfway between two bf16 values: ties to even (1.0).
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
        assert_eq!(to_bf16(1.2345), half::bf16::from_f32(1.2345).to_bits());
    }

    /// The SIMD kernel against the reference (sums in another order, so
    /// to f32 rounding) and both against the f32 product (to bf16 rounding).
    #[test]
    fn kernels_agree_and_stay_close_to_f32() {
        for &(rows, k, n) in &[(1, 2, 16), (13, 37, 50), (50, 384, 100), (61, 130, 65)] {
            let mut s = (rows * k * n) as u64;
            let w = LinearWeights {
                weight: Tensor { shape: vec![n, k], data: (0..n * k).map(|_| lcg(&mut s) * 0.2).collect() },
                bias: Tensor { shape: vec![n], data: (0..n).map(|_| lcg(&mut s)).collect() },
            };
            let x: Vec<f32> = (0..rows * k).map(|_| lcg(&mut s) * 3.0).collect();
            let res: Vec<f32> = (0..rows * n).map(|_| lcg(&mut s)).collect();
            let lin = Bf16Linear::load(&w, Bf16Kernel::Scalar);
            let mut a = Bf16Rows::default();
            let mut want = vec![f32::NAN; rows * n];
            lin.forward(&x, rows, Some(&res), &mut want, &mut a);
            for r in 0..rows {
                for o in 0..n {
                    let exact: f32 =
                        (0..k).map(|i| x[r * k + i] * w.weight.data[o * k + i]).sum::<f32>() + w.bias.data[o] + res[r * n + o];
                    let tol = 0.01 * (k as f32).sqrt();
                    assert!((want[r * n + o] - exact).abs() < tol, "{} vs {exact}", want[r * n + o]);
                }
            }
            if CpuKernels::detect().bf16 == Bf16Kernel::Avx512Bf16 {
                let fast = lin.with_kernel(Bf16Kernel::Avx512Bf16);
                let mut got = vec![f32::NAN; rows * n];
                fast.forward(&x, rows, Some(&res), &mut got, &mut a);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w} (rows {rows} k {k} n {n})");
                }
                fast.forward(&x, rows, None, &mut got, &mut a);
                let mut plain = vec![f32::NAN; rows * n];
                lin.forward(&x, rows, None, &mut plain, &mut a);
                assert!(got.iter().zip(&plain).all(|(g, w)| (g - w).abs() <= 1e-4 * (1.0 + w.abs())));
            }
        }
    }
}
