//! The AVX2 micro-kernel, for CPUs without AVX-512 VNNI.
//!
//! `vpmaddubsw` multiplies unsigned by signed bytes and adds pairs into
//! saturating i16; with `|q_a|` as the unsigned side and `q_w · sign(q_a)`
//! as the signed one (`vpsignb`) each pair is at most 2 · 127 · 127 =
//! 32,258, so nothing saturates, and `vpmaddwd` by 1 widens the pairs into
//! i32 sums of four: the same exact integers as the other kernels.
//!
//! A tile is 4 rows × 1 panel (16 channels, two 8-lane halves): 8
//! accumulators within AVX2's 16 vector registers.

use super::gemm::Tile;

/// Rows per tile.
pub(crate) const MR: usize = 4;
/// Panels (of 16 channels) per tile.
pub(crate) const NB: usize = 1;

/// Runs one tile of `mr ≤ MR` rows and one panel.
///
/// # Safety
/// The CPU must have AVX2, and `t` must describe valid memory for `mr`
/// rows and one panel (see `gemm::run_task`).
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn tile(t: &Tile, mr: usize, _nb: usize) {
    match mr {
        1 => kernel::<1>(t),
        2 => kernel::<2>(t),
        3 => kernel::<3>(t),
        _ => kernel::<4>(t),
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn tile(t: &Tile, mr: usize, nb: usize) {
    super::gemm::tile_scalar(t, mr, nb)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn kernel<const R: usize>(t: &Tile) {
    use super::quantize::{GROUP, PANEL};
    use std::arch::x86_64::*;

    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for g in 0..t.groups {
        let w = t.w.add(g * GROUP * PANEL);
        let w = [_mm256_loadu_si256(w.cast()), _mm256_loadu_si256(w.add(32).cast())];
        for (i, acc) in acc.iter_mut().enumerate() {
            let a = _mm256_set1_epi32(t.a.add(i * t.a_stride + g * GROUP).cast::<i32>().read_unaligned());
            let a_abs = _mm256_sign_epi8(a, a);
            for (acc, w) in acc.iter_mut().zip(&w) {
                let pairs = _mm256_maddubs_epi16(a_abs, _mm256_sign_epi8(*w, a));
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
            }
        }
    }
    // Dequantise exactly as `gemm::finish`.
    for half in 0..2 {
        let c0 = half * 8;
        if c0 >= t.cols_left {
            break;
        }
        let cols = (t.cols_left - c0).min(8);
        let w_scales = _mm256_loadu_ps(t.w_scales.as_ptr().add(c0));
        let bias = _mm256_loadu_ps(t.bias.as_ptr().add(c0));
        for (i, acc) in acc.iter().enumerate() {
            let scale = _mm256_mul_ps(_mm256_set1_ps(t.a_scales[i]), w_scales);
            let mut v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[half]), scale), bias);
            let at = i * t.out_stride + c0;
            if cols == 8 {
                if let Some(r) = t.residual {
                    v = _mm256_add_ps(v, _mm256_loadu_ps(r.add(at)));
                }
                _mm256_storeu_ps(t.out.add(at), v);
            } else {
                let mut lanes = [0.0f32; 8];
                _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                for (c, v) in lanes[..cols].iter().enumerate() {
                    *t.out.add(at + c) = match t.residual {
                        Some(r) => v + *r.add(at + c),
                        None => *v,
                    };
                }
            }
        }
    }
}
