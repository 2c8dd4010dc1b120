//! GPU benchmarks:
//! - [`bench_encode_cuda`]: documents/s text→embedding (tokenisation on all
//!   cores, overlapped with the GPU) and model-only (pre-tokenised), the GPU
//!   busy fraction from CUDA events, host and GPU memory;
//! - [`bench_gemm`]: the hand-written GEMM against cuBLAS (`cublasGemmEx`,
//!   fp16 in, fp32 compute) on each of the model's GEMM shapes.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context};
use cudarc::cublas::{result as blas, sys as blas_sys, CudaBlas};
use cudarc::driver::{sys, CudaContext};
use docflow_model::{BertTokenizer, Encoder, PackedBatch, DEFAULT_MAX_TOKENS};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::encoder::CudaEncoder;
use crate::kernels::{Epilogue, GemmImpl, Kernels};
use crate::model::addr;

/// Packs sequences, in order, into batches of at most `budget` tokens.
pub fn pack_under_budget(seqs: &[Vec<u32>], budget: usize) -> Vec<PackedBatch> {
    let mut out = Vec::new();
    let mut cur = PackedBatch::default();
    for s in seqs {
        if !cur.is_empty() && cur.total_tokens() + s.len() > budget {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(s);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// What `bench_encode_cuda` measured.
#[derive(Debug, Clone, Serialize)]
pub struct EncodeReport {
    pub gpu: String,
    pub compute_capability: String,
    pub docs: usize,
    pub mean_tokens: f64,
    pub max_tokens: usize,
    pub batch_tokens: usize,
    pub batches: usize,
    /// Tokenisation of every document on all cores, alone.
    pub tokenize_docs_per_s: f64,
    /// Text in, embeddings out: tokenisation overlapped with the GPU.
    pub text_docs_per_s: f64,
    /// Pre-tokenised batches only.
    pub model_docs_per_s: f64,
    pub model_tokens_per_s: f64,
    /// Fraction of the model-only wall time the GPU spent in forward passes.
    pub gpu_busy_fraction: f64,
    pub host_peak_rss_mb: f64,
    pub gpu_mem_used_mb: f64,
    pub gpu_weights_mb: f64,
    pub kernel_modules_from_cache: usize,
    pub startup_s: f64,
    /// GEMM implementation chosen at start-up, and why.
    pub gemm: String,
}

/// Options of [`bench_encode_cuda`].
#[derive(Debug, Clone, clap::Args)]
pub struct EncodeBenchArgs {
    /// Model directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// JSON lines with a "text" field (peer_bench.py's format).
    #[arg(long)]
    pub docs: PathBuf,
    /// Most tokens per GPU batch.
    #[arg(long, default_value_t = 32768)]
    pub batch_tokens: usize,
    /// Timed passes (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// GPU index.
    #[arg(long, default_value_t = 0)]
    pub gpu: usize,
    /// Write the embeddings of the first N documents here (raw little-endian f32, N x dim).
    #[arg(long)]
    pub dump_file: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub dump: usize,
    /// Only the first N documents (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
}

/// The encode benchmark (see the module doc).
pub fn bench_encode_cuda(a: &EncodeBenchArgs) -> anyhow::Result<EncodeReport> {
    let mut texts = docflow_model::cli::read_docs(&a.docs)?;
    if a.limit > 0 {
        texts.truncate(a.limit);
    }
    if texts.is_empty() {
        bail!("{} holds no documents", a.docs.display());
    }
    let tok = BertTokenizer::from_file(&a.model.join("tokenizer.json"), DEFAULT_MAX_TOKENS)?;
    let t0 = Instant::now();
    let enc = CudaEncoder::load(&a.model, a.gpu).context("starting the CUDA encoder")?;
    let startup_s = t0.elapsed().as_secs_f64();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();

    let t = Instant::now();
    let seqs = tok.encode_batch(&refs)?;
    let tokenize_s = t.elapsed().as_secs_f64();
    let total_tokens: usize = seqs.iter().map(|s| s.len()).sum();
    let max_len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
    let batches = pack_under_budget(&seqs, a.batch_tokens);

    // Warm-up: every batch once (sizes the buffers; loads the kernels into the caches).
    let first = run_batches(&enc, &batches)?;
    if let (Some(path), n) = (&a.dump_file, a.dump) {
        let n = n.min(texts.len());
        let bytes: Vec<u8> = first[..n * enc.dim()].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }

    let mut best_model = f64::INFINITY;
    let mut busy = 0.0;
    for _ in 0..a.repeat.max(1) {
        enc.stats(true)?;
        let t = Instant::now();
        run_batches(&enc, &batches)?;
        let dt = t.elapsed().as_secs_f64();
        let st = enc.stats(false)?;
        if dt < best_model {
            best_model = dt;
            busy = st.busy_ms / 1000.0 / dt;
        }
    }

    let mut best_text = f64::INFINITY;
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        let n = text_to_embeddings(&enc, &tok, &refs, a.batch_tokens)?;
        let dt = t.elapsed().as_secs_f64();
        if n != refs.len() * enc.dim() {
            bail!("text pipeline returned {n} floats for {} documents", refs.len());
        }
        best_text = best_text.min(dt);
    }
    let st = enc.stats(false)?;
    Ok(EncodeReport {
        gpu: st.device.clone(),
        compute_capability: st.compute_capability.clone(),
        docs: texts.len(),
        mean_tokens: total_tokens as f64 / texts.len() as f64,
        max_tokens: max_len,
        batch_tokens: a.batch_tokens,
        batches: batches.len(),
        tokenize_docs_per_s: texts.len() as f64 / tokenize_s,
        text_docs_per_s: texts.len() as f64 / best_text,
        model_docs_per_s: texts.len() as f64 / best_model,
        model_tokens_per_s: total_tokens as f64 / best_model,
        gpu_busy_fraction: busy,
        host_peak_rss_mb: docflow_model::cli::peak_rss_kb().map_or(0.0, |kb| kb as f64 / 1024.0),
        gpu_mem_used_mb: st.device_mem_used_bytes as f64 / 1048576.0,
        gpu_weights_mb: st.weight_bytes as f64 / 1048576.0,
        kernel_modules_from_cache: st.cached_modules,
        startup_s,
        gemm: st.gemm.clone(),
    })
}

/// Submits every batch ahead (the GPU thread keeps two in flight) and
/// collects the embeddings in order.
fn run_batches(enc: &CudaEncoder, batches: &[PackedBatch]) -> anyhow::Result<Vec<f32>> {
    let rxs = batches.iter().map(|b| enc.submit(b.clone())).collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for rx in rxs {
        out.extend(rx.recv().context("GPU thread stopped")??);
    }
    Ok(out)
}

/// Text → embeddings with tokenisation overlapped: a producer thread
/// tokenises chunks on all cores and submits their batches while the GPU
/// works on the previous ones. Returns the number of floats received.
fn text_to_embeddings(enc: &CudaEncoder, tok: &BertTokenizer, texts: &[&str], budget: usize) -> anyhow::Result<usize> {
    let sub = enc.sender();
    let (tx, rx) = mpsc::sync_channel(8);
    let chunk = (budget / 64).clamp(64, 4096);
    std::thread::scope(|scope| -> anyhow::Result<usize> {
        scope.spawn(move || {
            let mut pending: Vec<Vec<u32>> = Vec::new();
            let mut pending_tokens = 0usize;
            for part in texts.chunks(chunk) {
                let seqs = match tok.encode_batch(part) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                for s in seqs {
                    if pending_tokens + s.len() > budget && !pending.is_empty() {
                        let b = PackedBatch::from_sequences(&pending);
                        pending.clear();
                        pending_tokens = 0;
                        if tx.send(sub.submit(b).map_err(anyhow::Error::from)).is_err() {
                            return;
                        }
                    }
                    pending_tokens += s.len();
                    pending.push(s);
                }
            }
            if !pending.is_empty() {
                let _ = tx.send(sub.submit(PackedBatch::from_sequences(&pending)).map_err(anyhow::Error::from));
            }
        });
        let mut n = 0;
        for r in rx {
            n += r?.recv().context("GPU thread stopped")??.len();
        }
        Ok(n)
    })
}

/// One GEMM shape's result.
#[derive(Debug, Clone, Serialize)]
pub struct GemmReport {
    pub name: String,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// The faster of the hand-written kernels.
    pub docflow_tflops: f64,
    pub mma_sync_tflops: f64,
    /// `None` where the GPU has no wgmma (before Hopper).
    pub wgmma_tflops: Option<f64>,
    pub cublas_tflops: f64,
    /// docflow_tflops / cublas_tflops.
    pub ratio: f64,
    /// Largest |docflow - cuBLAS| over the output (same inputs, zero bias), per kernel.
    pub max_abs_diff: f32,
    pub max_abs_diff_wgmma: Option<f32>,
    /// The implementation the encoder chose at start-up.
    pub encoder_uses: String,
}

/// The model's GEMM shapes at `tokens` rows: (name, N, K).
pub fn model_gemm_shapes(hidden: usize, intermediate: usize) -> Vec<(&'static str, usize, usize)> {
    vec![("qkv", 3 * hidden, hidden), ("attn_out", hidden, hidden), ("ffn1", intermediate, hidden), ("ffn2", hidden, intermediate)]
}

/// Times the hand-written GEMM and cuBLAS on each shape (`iters` launches each,
/// after a warm-up), on GPU `ordinal`.
pub fn bench_gemm(ordinal: usize, tokens: usize, iters: usize) -> anyhow::Result<Vec<GemmReport>> {
    if let Some(why) = crate::gpu_absent_reason() {
        bail!("no CUDA device ({why})");
    }
    crate::libs::ensure_nvrtc()?;
    let ctx = CudaContext::new(ordinal)?;
    let stream = ctx.new_stream()?;
    let kernels = Kernels::load(&ctx)?;
    let blas = CudaBlas::new(stream.clone())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut out = Vec::new();
    for (name, n, k) in model_gemm_shapes(384, 1536) {
        let m = tokens;
        let rand_half = |len: usize, rng: &mut rand::rngs::StdRng| -> Vec<u16> {
            (0..len).map(|_| half::f16::from_f32(rng.random_range(-1.0f32..1.0)).to_bits()).collect()
        };
        let x = stream.clone_htod(&rand_half(m * k, &mut rng))?;
        let w = stream.clone_htod(&rand_half(n * k, &mut rng))?;
        let bias = stream.alloc_zeros::<u16>(n)?;
        let y = stream.alloc_zeros::<u16>(m * n)?;
        let yb = stream.alloc_zeros::<u16>(m * n)?;
        let (xp, wp, bp, yp, ybp) = (addr(&x, &stream), addr(&w, &stream), addr(&bias, &stream), addr(&y, &stream), addr(&yb, &stream));
        let (kref, sref) = (&kernels, &stream);
        let ours = |imp: GemmImpl| move || kref.gemm_with(imp, sref, xp, wp, bp, yp, m, n, k, Epilogue::Bias).map_err(anyhow::Error::from);
        let alpha = 1.0f32;
        let beta = 0.0f32;
        let theirs = || -> anyhow::Result<()> {
            // Row-major Y[M,N] = X[M,K] W[N,K]^T is column-major Y^T = W^T(op T) X^T.
            // SAFETY: all three buffers are live device allocations of the sizes
            // named by m/n/k and the leading dimensions; the handle's stream is `stream`.
            unsafe {
                blas::gemm_ex(
                    *blas.handle(),
                    blas_sys::cublasOperation_t::CUBLAS_OP_T,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    n as i32,
                    m as i32,
                    k as i32,
                    &alpha as *const f32 as *const _,
                    wp as *const _,
                    blas_sys::cudaDataType_t::CUDA_R_16F,
                    k as i32,
                    xp as *const _,
                    blas_sys::cudaDataType_t::CUDA_R_16F,
                    k as i32,
                    &beta as *const f32 as *const _,
                    ybp as *mut _,
                    blas_sys::cudaDataType_t::CUDA_R_16F,
                    n as i32,
                    blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                    blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                )?
            };
            Ok(())
        };
        let time = |f: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<f64> {
            for _ in 0..5 {
                f()?;
            }
            let e0 = ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))?;
            let e1 = ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))?;
            e0.record(&stream)?;
            for _ in 0..iters {
                f()?;
            }
            e1.record(&stream)?;
            e1.synchronize()?;
            Ok(e0.elapsed_ms(&e1)? as f64 / 1000.0 / iters as f64)
        };
        let t_blas = time(&theirs)?;
        let diff = || -> anyhow::Result<f32> {
            stream.synchronize()?;
            let a: Vec<u16> = stream.clone_dtoh(&y)?;
            let b: Vec<u16> = stream.clone_dtoh(&yb)?;
            Ok(a.iter()
                .zip(&b)
                .map(|(p, q)| (half::f16::from_bits(*p).to_f32() - half::f16::from_bits(*q).to_f32()).abs())
                .fold(0.0f32, |acc, d| if d.is_nan() { f32::INFINITY } else { acc.max(d) }))
        };
        let t_mma = time(&ours(GemmImpl::MmaSync))?;
        let d_mma = diff()?;
        let (t_wg, d_wg) = if kernels.has_wgmma() {
            let t = time(&ours(GemmImpl::Wgmma))?;
            (Some(t), Some(diff()?))
        } else {
            (None, None)
        };
        let flops = 2.0 * m as f64 * n as f64 * k as f64;
        // Only a kernel that agrees with cuBLAS counts as "docflow's".
        let wg_ok = d_wg.is_some_and(|d| d <= 0.05);
        let t_best = match t_wg {
            Some(t) if wg_ok && t < t_mma => t,
            _ => t_mma,
        };
        out.push(GemmReport {
            name: name.into(),
            m,
            n,
            k,
            docflow_tflops: flops / t_best / 1e12,
            mma_sync_tflops: flops / t_mma / 1e12,
            wgmma_tflops: t_wg.map(|t| flops / t / 1e12),
            cublas_tflops: flops / t_blas / 1e12,
            ratio: t_blas / t_best,
            max_abs_diff: d_mma,
            max_abs_diff_wgmma: d_wg,
            encoder_uses: kernels.gemm_choice.clone(),
        });
    }
    Ok(out)
}

/// Reads a raw f32 dump written by [`bench_encode_cuda`].
pub fn read_dump(path: &Path) -> anyhow::Result<Vec<f32>> {
    let bytes = std::fs::read(path)?;
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}
