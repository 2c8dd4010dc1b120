//! Start-up choice between the two GEMM implementations on Hopper: the
//! wgmma kernel is first checked against the mma.sync kernel on a random
//! problem (any disagreement keeps mma.sync), then both are timed on a
//! model-sized shape and the faster one is used.

use std::sync::Arc;

use cudarc::driver::{sys, CudaContext};
use docflow_model::GemmChoice;

use crate::kernels::{Epilogue, GemmImpl, KResult, KernelError, Kernels};
use crate::model::addr;

/// Deterministic fp16 test data in [-scale, scale] (as bits).
fn lcg_half(n: usize, seed: u64, scale: f32) -> Vec<u16> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = ((s >> 40) as f32) / ((1u64 << 24) as f32);
            half::f16::from_f32((u * 2.0 - 1.0) * scale).to_bits()
        })
        .collect()
}

/// Returns the implementation to use and a one-line reason; a `forced`
/// choice other than `Auto` is taken as it is.
pub fn choose_gemm(ctx: &Arc<CudaContext>, k: &Kernels, forced: GemmChoice) -> KResult<(GemmImpl, String)> {
    match forced {
        GemmChoice::Mma => return Ok((GemmImpl::MmaSync, "mma.sync (forced by the settings)".into())),
        GemmChoice::Wgmma => return Ok((GemmImpl::Wgmma, "wgmma (forced by the settings)".into())),
        GemmChoice::Auto => {}
    }
    let e = |source| KernelError::Driver { what: "choosing the GEMM implementation".into(), source };
    let s = ctx.new_stream().map_err(e)?;
    // Check: ragged M, several N tiles, K of 6 wgmma stages.
    let (m, n, kk) = (2048 + 77, 1536, 384);
    let x = s.clone_htod(&lcg_half(m * kk, 1, 1.0)).map_err(e)?;
    let w = s.clone_htod(&lcg_half(n * kk, 2, 0.1)).map_err(e)?;
    let b = s.clone_htod(&lcg_half(n, 3, 0.5)).map_err(e)?;
    let y1 = s.alloc_zeros::<u16>(m * n).map_err(e)?;
    let y2 = s.alloc_zeros::<u16>(m * n).map_err(e)?;
    let (xp, wp, bp) = (addr(&x, &s), addr(&w, &s), addr(&b, &s));
    k.gemm_with(GemmImpl::MmaSync, &s, xp, wp, bp, addr(&y1, &s), m, n, kk, Epilogue::Bias)?;
    k.gemm_with(GemmImpl::Wgmma, &s, xp, wp, bp, addr(&y2, &s), m, n, kk, Epilogue::Bias)?;
    s.synchronize().map_err(e)?;
    let a: Vec<u16> = s.clone_dtoh(&y1).map_err(e)?;
    let c: Vec<u16> = s.clone_dtoh(&y2).map_err(e)?;
    let diff = a
        .iter()
        .zip(&c)
        .map(|(p, q)| (half::f16::from_bits(*p).to_f32() - half::f16::from_bits(*q).to_f32()).abs())
        .fold(0.0f32, |acc, d| if d.is_nan() { f32::INFINITY } else { acc.max(d) });
    if diff > 2e-2 {
        return Ok((GemmImpl::MmaSync, format!("mma.sync (wgmma disagreed by {diff} on the start-up check)")));
    }
    // Time both on the FFN1 shape of a 16k-token batch.
    let m = 16384;
    let xt = s.alloc_zeros::<u16>(m * kk).map_err(e)?;
    let yt = s.alloc_zeros::<u16>(m * n).map_err(e)?;
    let (xtp, ytp) = (addr(&xt, &s), addr(&yt, &s));
    let time = |imp: GemmImpl| -> KResult<f32> {
        for _ in 0..3 {
            k.gemm_with(imp, &s, xtp, wp, bp, ytp, m, n, kk, Epilogue::Bias)?;
        }
        let e0 = ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(e)?;
        let e1 = ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(e)?;
        e0.record(&s).map_err(e)?;
        for _ in 0..10 {
            k.gemm_with(imp, &s, xtp, wp, bp, ytp, m, n, kk, Epilogue::Bias)?;
        }
        e1.record(&s).map_err(e)?;
        e1.synchronize().map_err(e)?;
        e0.elapsed_ms(&e1).map_err(e)
    };
    let t_mma = time(GemmImpl::MmaSync)?;
    let t_wg = time(GemmImpl::Wgmma)?;
    s.synchronize().map_err(e)?;
    let why = format!("check max diff {diff}; 10 x {m}x{n}x{kk}: mma.sync {t_mma:.3} ms, wgmma {t_wg:.3} ms");
    Ok(if t_wg < t_mma { (GemmImpl::Wgmma, format!("wgmma ({why})")) } else { (GemmImpl::MmaSync, format!("mma.sync ({why})")) })
}
