//! Symmetric int8 quantisation: weights per output channel (once, at load,
//! packed into the layout the micro-kernels read), activations per row
//! (every forward pass).
//!
//! A value `x` becomes `q = round(x / s)` in `[-127, 127]` with
//! `s = max|x| / 127` over its channel or row, so `x ≈ q · s`; `-128` is
//! never produced, which keeps the AVX2 kernel's sign trick exact.

/// Output channels per panel: one 512-bit vector of i32 sums.
pub const PANEL: usize = 16;
/// Consecutive `k` values that one i32 lane multiplies and sums at once
/// (`vpdpbusd` takes four bytes per lane).
pub const GROUP: usize = 4;

/// `1.5 · 2²³`: adding it to a float in `[-2²², 2²²]` rounds it to the
/// nearest integer (ties to even) and leaves that integer in the low
/// mantissa bits. Branch-free and exact on every ISA, so the scalar and
/// SIMD quantisers produce the same bytes.
const ROUND_SHIFT: f32 = 12_582_912.0;

/// Rounds `v` (already within ±127) to the nearest integer, ties to even.
#[inline(always)]
fn round_to_i8(v: f32) -> i8 {
    let t = v + ROUND_SHIFT;
    (t.to_bits() as i32).wrapping_sub(ROUND_SHIFT.to_bits() as i32) as i8
}

/// How quantised activation bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowFormat {
    /// `q` as a signed byte (AVX2 and scalar kernels).
    #[default]
    Signed,
    /// `q + 128` as an unsigned byte (the VNNI kernel, whose `vpdpbusd`
    /// takes unsigned activations): the sign bit of `q` flipped.
    Offset,
}

impl RowFormat {
    const fn flip(self) -> i8 {
        match self {
            RowFormat::Signed => 0,
            RowFormat::Offset => i8::MIN,
        }
    }
}

/// Quantises `x` with `inv = 127 / max|x|` into `q`, each byte XOR `flip`.
/// `max`/`min` rather than `clamp`: they compile to plain vector min/max.
#[inline(always)]
#[allow(clippy::manual_clamp)]
fn quantize_slice(x: &[f32], inv: f32, q: &mut [i8], flip: i8) {
    for (q, &v) in q.iter_mut().zip(x) {
        *q = round_to_i8((v * inv).max(-127.0).min(127.0)) ^ flip;
    }
}

/// Largest `|x|` (8 lanes so the loop vectorises; max is exact in any order).
#[inline(always)]
fn max_abs(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for c in chunks {
        for i in 0..8 {
            let a = c[i].abs();
            acc[i] = if a > acc[i] { a } else { acc[i] };
        }
    }
    acc.iter().copied().fold(tail, f32::max)
}

/// Quantises one row; returns its scale. A row of zeros (or one holding a
/// non-finite value, which no trained layer produces) gets scale 0 and all
/// zeros rather than NaNs in the integer domain.
#[inline(always)]
fn quantize_row_body(x: &[f32], q: &mut [i8], flip: i8) -> f32 {
    let amax = max_abs(x);
    if !(amax > 0.0 && amax.is_finite()) {
        q.fill(flip);
        return 0.0;
    }
    quantize_slice(x, 127.0 / amax, q, flip);
    amax / 127.0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_row_avx2(x: &[f32], q: &mut [i8], flip: i8) -> f32 {
    quantize_row_body(x, q, flip)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_row_avx512(x: &[f32], q: &mut [i8], flip: i8) -> f32 {
    quantize_row_body(x, q, flip)
}

/// Quantises `x` into `q[..x.len()]` (signed bytes; the rest of `q`, the
/// padding, is zeroed) and returns the scale.
pub fn quantize_row(x: &[f32], q: &mut [i8]) -> f32 {
    quantize_row_as(x, q, RowFormat::Signed)
}

/// [`quantize_row`] storing `format`'s bytes (padding holds `q = 0` too).
/// The same bytes on every CPU: the wider builds only vectorise the same
/// IEEE operations.
pub fn quantize_row_as(x: &[f32], q: &mut [i8], format: RowFormat) -> f32 {
    let flip = format.flip();
    let (body, pad) = q.split_at_mut(x.len());
    pad.fill(flip);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU supports the features just checked.
            return unsafe { quantize_row_avx512(x, body, flip) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { quantize_row_avx2(x, body, flip) };
        }
    }
    quantize_row_body(x, body, flip)
}

/// `k` rounded up to a whole number of groups.
pub const fn padded_k(k: usize) -> usize {
    k.div_ceil(GROUP) * GROUP
}

/// A weight matrix `[n, k]` quantised per output channel and packed in
/// panels of [`PANEL`] channels: panel `p`, group `g`, lane `l`, byte `b`
/// holds `q[p·16 + l][g·4 + b]` at `((p·G + g)·16 + l)·4 + b` (`G` groups
/// per panel), so one 64-byte load feeds one `vpdpbusd` for 16 channels.
/// Channels past `n` and `k` past the real width are zero.
#[derive(Debug, Clone)]
pub struct PackedWeights {
    pub(crate) data: Vec<i8>,
    /// Per channel (padded to whole panels): `w ≈ q · scale`.
    pub(crate) scales: Vec<f32>,
    /// Per channel: `128 · Σₖ q`, what the VNNI kernel's unsigned
    /// activations (`q + 128`) add on top of `Σ q_a · q_w`.
    pub(crate) offset_sums: Vec<i32>,
    pub(crate) k: usize,
    pub(crate) k_pad: usize,
    pub(crate) n: usize,
    pub(crate) panels: usize,
}

impl PackedWeights {
    /// Quantises and packs `weight`, row-major `[n, k]` (HF `[out, in]`).
    pub fn quantize(weight: &[f32], n: usize, k: usize) -> Self {
        assert_eq!(weight.len(), n * k, "weight shape");
        let k_pad = padded_k(k);
        let panels = n.div_ceil(PANEL);
        let groups = k_pad / GROUP;
        let mut data = vec![0i8; panels * PANEL * k_pad];
        let mut scales = vec![0.0f32; panels * PANEL];
        let mut offset_sums = vec![0i32; panels * PANEL];
        let mut q = vec![0i8; k_pad];
        for o in 0..n {
            scales[o] = quantize_row(&weight[o * k..(o + 1) * k], &mut q);
            offset_sums[o] = 128 * q.iter().map(|&v| v as i32).sum::<i32>();
            let (p, lane) = (o / PANEL, o % PANEL);
            for (g, four) in q.chunks_exact(GROUP).enumerate() {
                let at = ((p * groups + g) * PANEL + lane) * GROUP;
                data[at..at + GROUP].copy_from_slice(four);
            }
        }
        PackedWeights { data, scales, offset_sums, k, k_pad, n, panels }
    }

    pub fn in_features(&self) -> usize {
        self.k
    }

    pub fn out_features(&self) -> usize {
        self.n
    }

    /// Quantised value of channel `o`, input `i` (tests and tools).
    pub fn q(&self, o: usize, i: usize) -> i8 {
        let groups = self.k_pad / GROUP;
        let (p, lane, g, b) = (o / PANEL, o % PANEL, i / GROUP, i % GROUP);
        self.data[((p * groups + g) * PANEL + lane) * GROUP + b]
    }

    /// Scale of channel `o`.
    pub fn scale(&self, o: usize) -> f32 {
        self.scales[o]
    }
}

/// Activations `[rows, k]` quantised per row, each row padded to `k_pad`.
#[derive(Debug, Clone, Default)]
pub struct QuantizedRows {
    pub(crate) data: Vec<i8>,
    pub(crate) scales: Vec<f32>,
    pub(crate) k_pad: usize,
    pub(crate) rows: usize,
    pub(crate) format: RowFormat,
}

/// Rows per rayon task when quantising.
const ROWS_PER_TASK: usize = 32;

impl QuantizedRows {
    /// Quantises `x` (`[rows, k]`) into `format`'s bytes, reusing this
    /// buffer's memory.
    pub fn quantize(&mut self, x: &[f32], rows: usize, k: usize, format: RowFormat) {
        use rayon::prelude::*;
        assert_eq!(x.len(), rows * k, "activation shape");
        let k_pad = padded_k(k);
        self.data.resize(rows * k_pad, 0);
        self.scales.resize(rows, 0.0);
        self.k_pad = k_pad;
        self.rows = rows;
        self.format = format;
        if rows == 0 {
            return;
        }
        self.data
            .par_chunks_mut(k_pad * ROWS_PER_TASK)
            .zip(self.scales.par_chunks_mut(ROWS_PER_TASK))
            .zip(x.par_chunks(k * ROWS_PER_TASK))
            .for_each(|((q, s), x)| {
                for ((q, s), x) in q.chunks_exact_mut(k_pad).zip(s).zip(x.chunks_exact(k)) {
                    *s = quantize_row_as(x, q, format);
                }
            });
    }

    /// Quantised row `r` (with its padding), as signed `q` whatever the
    /// stored format.
    pub fn row(&self, r: usize) -> Vec<i8> {
        let flip = self.format.flip();
        self.data[r * self.k_pad..(r + 1) * self.k_pad].iter().map(|&b| b ^ flip).collect()
    }

    pub fn scale(&self, r: usize) -> f32 {
        self.scales[r]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_within_half_a_step() {
        let x: Vec<f32> = (0..77).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        let mut q = vec![1i8; 80];
        let s = quantize_row(&x, &mut q);
        assert_eq!(&q[77..], &[0, 0, 0]);
        assert!(q.iter().all(|&v| v != -128));
        let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((s - amax / 127.0).abs() < 1e-7);
        for (v, &qv) in x.iter().zip(&q) {
            assert!((v - qv as f32 * s).abs() <= s * 0.5 + 1e-6, "{v} vs {qv}·{s}");
        }
        // The VNNI format is the same q, sign bit flipped.
        let mut u = vec![0i8; 80];
        assert_eq!(quantize_row_as(&x, &mut u, RowFormat::Offset), s);
        assert!(u.iter().zip(&q).all(|(&u, &q)| u as u8 == (q as i16 + 128) as u8));
        // Ties go to even, as the SIMD rounding does.
        assert_eq!(round_to_i8(2.5), 2);
        assert_eq!(round_to_i8(-3.5), -4);
    }

    #[test]
    fn zero_and_non_finite_rows_quantise_to_zero() {
        let mut q = vec![5i8; 4];
        assert_eq!(quantize_row(&[0.0; 4], &mut q), 0.0);
        assert_eq!(q, [0; 4]);
        q.fill(5);
        assert_eq!(quantize_row(&[1.0, f32::NAN, f32::INFINITY, 2.0], &mut q), 0.0);
        assert_eq!(q, [0; 4]);
    }

    #[test]
    fn weights_are_packed_per_channel() {
        let (n, k) = (19, 10);
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 13 % 29) as f32 - 14.0) * (1.0 + (i / k) as f32)).collect();
        let p = PackedWeights::quantize(&w, n, k);
        assert_eq!((p.k_pad, p.panels), (12, 2));
        for o in 0..n {
            let row = &w[o * k..(o + 1) * k];
            let amax = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!((p.scale(o) - amax / 127.0).abs() <= 1e-6 * amax);
            let mut sum = 0;
            for (i, v) in row.iter().enumerate() {
                let q = p.q(o, i);
                sum += q as i32;
                assert!((v - q as f32 * p.scale(o)).abs() <= p.scale(o) * 0.5 + 1e-5);
            }
            assert_eq!(p.q(o, 10), 0);
            assert_eq!(p.offset_sums[o], 128 * sum);
        }
        assert_eq!(p.scales[n..], [0.0; 13]);
    }
}
