//! The int8 GEMM driver and its portable reference kernel:
//! `out = (Σₖ q_a · q_w) · s_a · s_w + bias (+ residual)`, in tiles of
//! `MR` rows × `NB` panels of 16 channels, rows split across the rayon pool.
//!
//! Every kernel computes the exact i32 sum, then the same f32 operations in
//! the same order (convert, multiply by `s_a · s_w`, add bias, add
//! residual), so all kernels give bit-identical outputs.

use rayon::prelude::*;

use super::quantize::{PackedWeights, QuantizedRows, RowFormat, GROUP, PANEL};
use crate::precision::Int8Kernel;

/// One tile's inputs and outputs, as raw pointers for the micro-kernels.
///
/// Rows `0..mr` of the tile are rows `row0..row0 + mr` of the task; panels
/// `0..nb` are panels `panel0..panel0 + nb` of the weights.
pub(crate) struct Tile<'a> {
    /// Quantised row 0 of the tile; rows are `a_stride` bytes apart.
    pub a: *const i8,
    pub a_stride: usize,
    /// Scales of the tile's rows.
    pub a_scales: &'a [f32],
    /// First byte of the tile's first panel; panels are `panel_stride` apart.
    pub w: *const i8,
    pub panel_stride: usize,
    /// `k_pad / 4`.
    pub groups: usize,
    /// Scales, offset sums and bias from the tile's first channel on.
    pub w_scales: &'a [f32],
    pub offset_sums: &'a [i32],
    pub bias: &'a [f32],
    /// Real channels from the tile's first one to the end of the matrix
    /// (stores stop there).
    pub cols_left: usize,
    /// Residual row 0 (same layout as `out`), if any.
    pub residual: Option<*const f32>,
    /// Output row 0, column of the tile's first channel; rows `out_stride` apart.
    pub out: *mut f32,
    pub out_stride: usize,
}

/// The f32 result of one output: the single formula all kernels follow.
#[inline(always)]
pub(crate) fn finish(acc: i32, a_scale: f32, w_scale: f32, bias: f32, residual: Option<f32>) -> f32 {
    let v = acc as f32 * (a_scale * w_scale) + bias;
    match residual {
        Some(r) => v + r,
        None => v,
    }
}

/// Reference kernel: plain loops over the packed layout.
///
/// # Safety
/// `t` must describe memory valid for `mr` rows and `nb` panels (the driver
/// guarantees it).
pub(crate) unsafe fn tile_scalar(t: &Tile, mr: usize, nb: usize) {
    'rows: for i in 0..mr {
        let a = std::slice::from_raw_parts(t.a.add(i * t.a_stride), t.groups * GROUP);
        for j in 0..nb {
            let w = std::slice::from_raw_parts(t.w.add(j * t.panel_stride), t.panel_stride);
            for lane in 0..PANEL {
                let c = j * PANEL + lane;
                if c >= t.cols_left {
                    continue 'rows;
                }
                let mut acc = 0i32;
                for g in 0..t.groups {
                    for b in 0..GROUP {
                        acc += a[g * GROUP + b] as i32 * w[(g * PANEL + lane) * GROUP + b] as i32;
                    }
                }
                let res = t.residual.map(|r| *r.add(i * t.out_stride + c));
                *t.out.add(i * t.out_stride + c) = finish(acc, t.a_scales[i], t.w_scales[c], t.bias[c], res);
            }
        }
    }
}

/// The activation bytes `kernel` reads.
pub(crate) const fn row_format(kernel: Int8Kernel) -> RowFormat {
    match kernel {
        Int8Kernel::Avx512Vnni => RowFormat::Offset,
        Int8Kernel::Avx2 | Int8Kernel::Scalar => RowFormat::Signed,
    }
}

/// Rows per rayon task: whole tiles of every kernel (4 rows), and
/// enough of them that a task's weight traffic is amortised.
const ROWS_PER_TASK: usize = 48;

/// `out[rows, n] = a · wᵀ` dequantised, plus `bias` (padded to whole
/// panels) and `residual`.
pub(crate) fn gemm(
    kernel: Int8Kernel,
    a: &QuantizedRows,
    w: &PackedWeights,
    bias: &[f32],
    residual: Option<&[f32]>,
    out: &mut [f32],
) {
    let (rows, n) = (a.rows, w.n);
    assert_eq!(a.k_pad, w.k_pad, "activation and weight widths");
    assert_eq!(a.format, row_format(kernel), "activation bytes in the kernel's format");
    assert_eq!(out.len(), rows * n, "gemm output");
    assert_eq!(bias.len(), w.panels * PANEL, "padded bias");
    if let Some(r) = residual {
        assert_eq!(r.len(), rows * n, "gemm residual");
    }
    if rows == 0 {
        return;
    }
    let task = |(t, out_rows): (usize, &mut [f32])| {
        let row0 = t * ROWS_PER_TASK;
        let task_rows = out_rows.len() / n;
        let res = residual.map(|r| &r[row0 * n..(row0 + task_rows) * n]);
        run_task(kernel, a, w, bias, res, out_rows, row0, task_rows);
    };
    out.par_chunks_mut(n * ROWS_PER_TASK).enumerate().for_each(task);
}

/// One task: every panel group, then every row block within it, so a
/// group's weights stay in L1/L2 while the task's rows stream past.
#[allow(clippy::too_many_arguments)]
fn run_task(
    kernel: Int8Kernel,
    a: &QuantizedRows,
    w: &PackedWeights,
    bias: &[f32],
    residual: Option<&[f32]>,
    out: &mut [f32],
    row0: usize,
    rows: usize,
) {
    let (mr_max, nb_max) = match kernel {
        Int8Kernel::Avx512Vnni => (super::vnni::MR, super::vnni::NB),
        Int8Kernel::Avx2 => (super::avx2::MR, super::avx2::NB),
        Int8Kernel::Scalar => (4, 1),
    };
    let n = w.n;
    let panel_stride = w.k_pad * PANEL;
    let mut p = 0;
    while p < w.panels {
        let nb = nb_max.min(w.panels - p);
        let col0 = p * PANEL;
        let mut i = 0;
        while i < rows {
            let mr = mr_max.min(rows - i);
            let r = row0 + i;
            let tile = Tile {
                a: a.data[r * a.k_pad..].as_ptr(),
                a_stride: a.k_pad,
                a_scales: &a.scales[r..r + mr],
                w: w.data[p * panel_stride..].as_ptr(),
                panel_stride,
                groups: w.k_pad / GROUP,
                w_scales: &w.scales[col0..],
                offset_sums: &w.offset_sums[col0..],
                bias: &bias[col0..],
                cols_left: n - col0,
                residual: residual.map(|res| res[i * n + col0..].as_ptr()),
                out: out[i * n + col0..].as_mut_ptr(),
                out_stride: n,
            };
            // SAFETY: rows r..r+mr exist in `a` (r + mr ≤ a.rows) and in this
            // task's `out`/`residual` slices (i + mr ≤ rows); panels p..p+nb
            // exist in `w` (each `panel_stride` bytes); kernels store only
            // columns below `cols_left`, i.e. inside row i's n columns; the
            // kernel was chosen by `CpuKernels::detect` (or is scalar), so the
            // CPU has its features.
            unsafe {
                match kernel {
                    Int8Kernel::Avx512Vnni => super::vnni::tile(&tile, mr, nb),
                    Int8Kernel::Avx2 => super::avx2::tile(&tile, mr, nb),
                    Int8Kernel::Scalar => tile_scalar(&tile, mr, nb),
                }
            }
            i += mr;
        }
        p += nb;
    }
}
