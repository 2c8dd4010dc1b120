//! The AVX512_BF16 micro-kernel: `vdpbf16ps` multiplies pairs of bf16 and
//! adds both products to an f32 lane, 16 lanes at a time. A tile is 4 rows
//! × 4 panels (64 channels), as the int8 VNNI kernel (and for the same
//! reason: 6 rows made LLVM spill accumulators).

use super::Tile;

/// Rows per tile.
pub(crate) const MR: usize = 4;
/// Panels (of 16 channels) per tile.
pub(crate) const NB: usize = 4;

/// Runs one tile of `mr ≤ MR` rows and `nb ≤ NB` panels.
///
/// # Safety
/// The CPU must have AVX-512 F/BW/BF16, and `t` must describe valid memory
/// for `mr` rows and `nb` panels (see `Bf16Linear::run_task`).
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn tile(t: &Tile, mr: usize, nb: usize) {
    dispatch_tile_4x4!(kernel, t, mr, nb)
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn tile(t: &Tile, mr: usize, nb: usize) {
    super::tile_scalar(t, mr, nb)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
// Index loops on purpose: see the comment on the accumulators.
#[allow(clippy::needless_range_loop)]
unsafe fn kernel<const R: usize, const P: usize>(t: &Tile) {
    use super::{PAIR, PANEL};
    use std::arch::x86_64::*;

    // Plain index loops over const bounds (no early exits, no iterators)
    // so LLVM unrolls them and keeps all R·P accumulators in registers.
    let mut acc = [[_mm512_setzero_ps(); P]; R];
    let mut a = t.a;
    let mut w = t.w;
    for _ in 0..t.pairs {
        let mut wv = [_mm512_setzero_si512(); P];
        for j in 0..P {
            wv[j] = _mm512_loadu_si512(w.add(j * t.panel_stride).cast());
        }
        for i in 0..R {
            let av = _mm512_set1_epi32(a.add(i * t.a_stride).cast::<i32>().read_unaligned());
            for j in 0..P {
                // SAFETY (transmutes): __m512i and __m512bh are both 64
                // bytes of plain lanes; these hold 32 bf16 values each.
                acc[i][j] = _mm512_dpbf16_ps(
                    acc[i][j],
                    std::mem::transmute::<__m512i, __m512bh>(av),
                    std::mem::transmute::<__m512i, __m512bh>(wv[j]),
                );
            }
        }
        a = a.add(PAIR);
        w = w.add(PAIR * PANEL);
    }
    for j in 0..P {
        let c0 = j * PANEL;
        if c0 < t.cols_left {
            let cols = (t.cols_left - c0).min(PANEL);
            let mask: __mmask16 = if cols == PANEL { 0xffff } else { (1u16 << cols) - 1 };
            let bias = _mm512_loadu_ps(t.bias.as_ptr().add(c0));
            for i in 0..R {
                let mut v = _mm512_add_ps(acc[i][j], bias);
                let at = i * t.out_stride + c0;
                if let Some(r) = t.residual {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, r.add(at)));
                }
                _mm512_mask_storeu_ps(t.out.add(at), mask, v);
            }
        }
    }
}
