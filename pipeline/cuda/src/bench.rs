//! GPU benchmarks:
//! - [`bench_encode_cuda`]: documents/s text→embedding (tokenisation on all
//!   cores, overlapped with the GPU) and model-only (pre-tokenised), the GPU
//!   busy fraction from CUDA events, host and GPU memory — through the infer
//!   stage's own path: each document a job for the [`Batcher`], which packs
//!   them for the GPU's worker (two batches in flight);
//! - [`bench_gemm`]: the hand-written GEMM against cuBLAS (`cublasGemmEx`,
//!   fp16 in, fp32 compute) on each of the model's GEMM shapes;
//! - [`check`]: a GPU is usable and every kernel compiles for it;
//!   [`token_stats`]: what the GPU sees of a documents file.
//!
//! Each returns a report (serialisable) or a [`BenchError`]; printing is the
//! command line's.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use cudarc::cublas::{result as blas, sys as blas_sys, CudaBlas};
use cudarc::driver::{sys, CudaContext, DriverError};
use docflow_model::docs::{read_docs, DocsError};
use docflow_model::{BatchPolicy, BatchStats, Batcher, BertTokenizer, EncoderError, GpuSettings, DEFAULT_MAX_TOKENS};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::kernels::{Epilogue, GemmImpl, KernelError, Kernels};
use crate::libs::ToolkitError;
use crate::model::addr;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("no CUDA device ({0})")]
    NoGpu(String),
    #[error("{} holds no documents", .0.display())]
    NoDocuments(PathBuf),
    #[error(transparent)]
    Docs(#[from] DocsError),
    #[error("the encoder")]
    Encoder(#[from] EncoderError),
    #[error("the CUDA toolkit")]
    Toolkit(#[from] ToolkitError),
    #[error("the kernels")]
    Kernel(#[from] KernelError),
    #[error("CUDA driver")]
    Driver(#[from] DriverError),
    #[error("cuBLAS")]
    Blas(#[from] blas::CublasError),
    #[error("writing {}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the text pipeline returned {floats} floats for {docs} documents")]
    Incomplete { floats: usize, docs: usize },
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
    /// Batches the batcher closed in the best model-only pass.
    pub batches: usize,
    /// Tokenisation of every document on all cores, alone.
    pub tokenize_docs_per_s: f64,
    /// Text in, embeddings out: tokenisation overlapped with the GPU.
    pub text_docs_per_s: f64,
    /// Pre-tokenised documents only.
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

/// Settings of [`bench_encode_cuda`].
#[derive(Debug, Clone)]
pub struct EncodeBench {
    /// Model directory (config.json, model.safetensors, tokenizer.json).
    pub model: PathBuf,
    /// JSON lines with a "text" field (peer_bench.py's format).
    pub docs: PathBuf,
    /// Most tokens per GPU batch.
    pub batch_tokens: usize,
    /// Timed passes (the best is reported).
    pub repeat: usize,
    pub gpu: GpuSettings,
    /// Write the embeddings of the first `dump` documents here (raw little-endian f32, N x dim).
    pub dump_file: Option<PathBuf>,
    pub dump: usize,
    /// Only the first N documents (0 = all).
    pub limit: usize,
}

/// The encode benchmark (see the module doc).
pub fn bench_encode_cuda(a: &EncodeBench) -> Result<EncodeReport, BenchError> {
    let mut texts = read_docs(&a.docs)?;
    if a.limit > 0 {
        texts.truncate(a.limit);
    }
    if texts.is_empty() {
        return Err(BenchError::NoDocuments(a.docs.clone()));
    }
    let tok = BertTokenizer::from_file(&a.model.join("tokenizer.json"), DEFAULT_MAX_TOKENS)?;
    let t0 = Instant::now();
    let worker = crate::start_worker(&a.model, a.gpu)?;
    // The infer stage's batching: a batch is what is queued when a slot frees.
    let policy = BatchPolicy { batch_tokens: a.batch_tokens, max_wait: Duration::ZERO };
    let batcher = Batcher::start(Arc::new(worker.clone()), policy)?;
    let startup_s = t0.elapsed().as_secs_f64();
    let dim = batcher.info().dim;
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();

    let t = Instant::now();
    let seqs = tok.encode_batch(&refs)?;
    let tokenize_s = t.elapsed().as_secs_f64();
    let total_tokens: usize = seqs.iter().map(|s| s.len()).sum();
    let max_len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);

    // Warm-up: every document once (sizes the buffers; loads the kernels into the caches).
    let first = encode_all(&batcher, &seqs)?;
    if let (Some(path), n) = (&a.dump_file, a.dump) {
        let bytes: Vec<u8> = first.iter().take(n).flatten().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(path, bytes).map_err(|source| BenchError::Write { path: path.clone(), source })?;
    }

    let mut best_model = f64::INFINITY;
    let mut busy = 0.0;
    let mut batches = 0;
    for _ in 0..a.repeat.max(1) {
        worker.call(|gpu| gpu.stats(true))?;
        let closed = BatchStats::get(&batcher.stats().batches);
        let t = Instant::now();
        encode_all(&batcher, &seqs)?;
        let dt = t.elapsed().as_secs_f64();
        let st = worker.call(|gpu| gpu.stats(false))?;
        if dt < best_model {
            best_model = dt;
            busy = st.busy_ms / 1000.0 / dt;
            batches = (BatchStats::get(&batcher.stats().batches) - closed) as usize;
        }
    }

    let mut best_text = f64::INFINITY;
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        let n = text_to_embeddings(&batcher, &tok, &refs, a.batch_tokens)?;
        let dt = t.elapsed().as_secs_f64();
        if n != refs.len() * dim {
            return Err(BenchError::Incomplete { floats: n, docs: refs.len() });
        }
        best_text = best_text.min(dt);
    }
    let st = worker.call(|gpu| gpu.stats(false))?;
    Ok(EncodeReport {
        gpu: st.device.clone(),
        compute_capability: st.compute_capability.clone(),
        docs: texts.len(),
        mean_tokens: total_tokens as f64 / texts.len() as f64,
        max_tokens: max_len,
        batch_tokens: a.batch_tokens,
        batches,
        tokenize_docs_per_s: texts.len() as f64 / tokenize_s,
        text_docs_per_s: texts.len() as f64 / best_text,
        model_docs_per_s: texts.len() as f64 / best_model,
        model_tokens_per_s: total_tokens as f64 / best_model,
        gpu_busy_fraction: busy,
        host_peak_rss_mb: docflow_model::proc_stats::peak_rss_kb().map_or(0.0, |kb| kb as f64 / 1024.0),
        gpu_mem_used_mb: st.device_mem_used_bytes as f64 / 1048576.0,
        gpu_weights_mb: st.weight_bytes as f64 / 1048576.0,
        kernel_modules_from_cache: st.cached_modules,
        startup_s,
        gemm: st.gemm.clone(),
    })
}

/// Every sequence a document of its own, all queued before any is awaited
/// (as the infer stage queues a poll's documents); embeddings in order.
pub fn encode_all(batcher: &Batcher, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EncoderError> {
    let (tx, rx) = mpsc::channel();
    for (i, s) in seqs.iter().enumerate() {
        let tx = tx.clone();
        batcher.submit(vec![s.clone()], Box::new(move |r| drop(tx.send((i, r)))))?;
    }
    drop(tx);
    let mut out = vec![Vec::new(); seqs.len()];
    let mut answered = 0;
    for (i, r) in rx {
        out[i] = r?;
        answered += 1;
    }
    if answered != seqs.len() {
        return Err(EncoderError::Stopped("the batcher dropped documents"));
    }
    Ok(out)
}

/// Text → embeddings with tokenisation overlapped: a producer thread
/// tokenises chunks on all cores and queues their documents while the GPU
/// works on earlier ones. Returns the number of floats received.
fn text_to_embeddings(batcher: &Batcher, tok: &BertTokenizer, texts: &[&str], budget: usize) -> Result<usize, BenchError> {
    let (tx, rx) = mpsc::channel::<Result<Vec<f32>, EncoderError>>();
    let chunk = (budget / 64).clamp(64, 4096);
    std::thread::scope(|scope| -> Result<usize, BenchError> {
        let producer = scope.spawn(move || -> Result<(), EncoderError> {
            for part in texts.chunks(chunk) {
                for s in tok.encode_batch(part)? {
                    let tx = tx.clone();
                    batcher.submit(vec![s], Box::new(move |r| drop(tx.send(r))))?;
                }
            }
            Ok(())
        });
        let mut n = 0;
        for r in rx {
            n += r?.len();
        }
        producer.join().map_err(|_| EncoderError::Stopped("the tokenising thread panicked"))??;
        Ok(n)
    })
}

/// Token-length statistics of a documents file (what the GPU sees).
#[derive(Debug, Clone, Serialize)]
pub struct TokenReport {
    pub docs: usize,
    pub tokens_mean: f64,
    pub tokens_p50: Option<usize>,
    pub tokens_max: Option<usize>,
    /// Documents cut at the model's limit.
    pub at_limit: usize,
    pub tokenize_docs_per_s: f64,
}

/// [`TokenReport`] of `docs` with the tokenizer of `model` (no GPU needed).
pub fn token_stats(model: &Path, docs: &Path) -> Result<TokenReport, BenchError> {
    let texts = read_docs(docs)?;
    let tok = BertTokenizer::from_file(&model.join("tokenizer.json"), DEFAULT_MAX_TOKENS)?;
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let t = Instant::now();
    let seqs = tok.encode_batch(&refs)?;
    let dt = t.elapsed().as_secs_f64();
    let mut lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
    lens.sort_unstable();
    let total: usize = lens.iter().sum();
    Ok(TokenReport {
        docs: lens.len(),
        tokens_mean: total as f64 / lens.len().max(1) as f64,
        tokens_p50: lens.get(lens.len() / 2).copied(),
        tokens_max: lens.last().copied(),
        at_limit: lens.iter().filter(|&&l| l >= DEFAULT_MAX_TOKENS).count(),
        tokenize_docs_per_s: lens.len() as f64 / dt,
    })
}

/// What [`check`] found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub gpu: String,
    pub compute_capability: String,
    pub modules: usize,
    pub from_cache: usize,
    pub gemm: String,
}

/// Whether a GPU is usable here and every kernel compiles for it.
pub fn check(settings: GpuSettings) -> Result<CheckReport, BenchError> {
    if let Some(why) = crate::gpu_absent_reason() {
        return Err(BenchError::NoGpu(why));
    }
    crate::libs::ensure_nvrtc()?;
    let ctx = CudaContext::new(settings.gpu)?;
    let k = Kernels::load(&ctx, settings.gemm)?;
    let (maj, min) = ctx.compute_capability()?;
    Ok(CheckReport {
        gpu: ctx.name()?,
        compute_capability: format!("{maj}.{min}"),
        modules: docflow_kernels::MODULES.len(),
        from_cache: k.cached_modules,
        gemm: k.gemm_choice,
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
/// after a warm-up), on the GPU of `settings`.
pub fn bench_gemm(settings: GpuSettings, tokens: usize, iters: usize) -> Result<Vec<GemmReport>, BenchError> {
    if let Some(why) = crate::gpu_absent_reason() {
        return Err(BenchError::NoGpu(why));
    }
    crate::libs::ensure_nvrtc()?;
    let ctx = CudaContext::new(settings.gpu)?;
    let stream = ctx.new_stream()?;
    let kernels = Kernels::load(&ctx, settings.gemm)?;
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
        let ours = |imp: GemmImpl| move || kref.gemm_with(imp, sref, xp, wp, bp, yp, m, n, k, Epilogue::Bias).map_err(BenchError::from);
        let alpha = 1.0f32;
        let beta = 0.0f32;
        let theirs = || -> Result<(), BenchError> {
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
        let time = |f: &dyn Fn() -> Result<(), BenchError>| -> Result<f64, BenchError> {
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
        let diff = || -> Result<f32, BenchError> {
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
pub fn read_dump(path: &Path) -> std::io::Result<Vec<f32>> {
    let bytes = std::fs::read(path)?;
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}
