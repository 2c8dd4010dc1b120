//! The AVX-512 VNNI micro-kernel: `vpdpbusd` multiplies 4 unsigned bytes
//! by 4 signed bytes and adds them to an i32 lane, 16 lanes at a time.
//!
//! Activations are signed (`q ∈ [-127, 127]`), so the quantiser stores
//! them as `q + 128` for this kernel ([`super::quantize::RowFormat::Offset`])
//! and the surplus `128 · Σ q_w`, computed once per channel at load, is
//! subtracted before dequantising: the i32 sums are exactly those of the
//! scalar kernel.
//!
//! A tile is 4 rows × 4 panels (64 channels): 16 accumulators, 4 weight
//! vectors and a broadcast. 6 rows (24 accumulators) would fit the 32
//! vector registers on paper, but LLVM then spills two accumulators per
//! step, and the kernel ran at a third of the speed (measured with
//! `examples/gemm_int8.rs`).

use super::gemm::Tile;

/// Rows per tile.
pub(crate) const MR: usize = 4;
/// Panels (of 16 channels) per tile.
pub(crate) const NB: usize = 4;

/// Runs one tile of `mr ≤ MR` rows and `nb ≤ NB` panels.
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VNNI, and `t` must describe valid memory
/// for `mr` rows and `nb` panels (see `gemm::run_task`).
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn tile(t: &Tile, mr: usize, nb: usize) {
    dispatch_tile_4x4!(kernel, t, mr, nb)
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn tile(t: &Tile, mr: usize, nb: usize) {
    super::gemm::tile_scalar(t, mr, nb)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
// Index loops on purpose: see the comment on the accumulators.
#[allow(clippy::needless_range_loop)]
unsafe fn kernel<const R: usize, const P: usize>(t: &Tile) {
    use super::quantize::{GROUP, PANEL};
    use std::arch::x86_64::*;

    // Plain index loops over const bounds (no early exits, no iterators)
    // so LLVM unrolls them and keeps all R·P accumulators in registers.
    let mut acc = [[_mm512_setzero_si512(); P]; R];
    let mut a = t.a;
    let mut w = t.w;
    for _ in 0..t.groups {
        let mut wv = [_mm512_setzero_si512(); P];
        for j in 0..P {
            wv[j] = _mm512_loadu_si512(w.add(j * t.panel_stride).cast());
        }
        for i in 0..R {
            // Rows hold q + 128 (unsigned bytes), four per broadcast lane.
            let av = _mm512_set1_epi32(a.add(i * t.a_stride).cast::<i32>().read_unaligned());
            for j in 0..P {
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
            }
        }
        a = a.add(GROUP);
        w = w.add(GROUP * PANEL);
    }
    // Dequantise exactly as `gemm::finish`: convert, × (s_a · s_w), + bias,
    // + residual; masked stores stop at the matrix's last channel.
    for j in 0..P {
        let c0 = j * PANEL;
        if c0 < t.cols_left {
            let cols = (t.cols_left - c0).min(PANEL);
            let mask: __mmask16 = if cols == PANEL { 0xffff } else { (1u16 << cols) - 1 };
            let offsets = _mm512_loadu_si512(t.offset_sums.as_ptr().add(c0).cast());
            let w_scales = _mm512_loadu_ps(t.w_scales.as_ptr().add(c0));
            let bias = _mm512_loadu_ps(t.bias.as_ptr().add(c0));
            for i in 0..R {
                let exact = _mm512_sub_epi32(acc[i][j], offsets);
                let scale = _mm512_mul_ps(_mm512_set1_ps(*t.a_scales.get_unchecked(i)), w_scales);
                let mut v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(exact), scale), bias);
                let at = i * t.out_stride + c0;
                if let Some(r) = t.residual {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, r.add(at)));
                }
                _mm512_mask_storeu_ps(t.out.add(at), mask, v);
            }
        }
    }
}
