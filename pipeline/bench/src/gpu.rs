//! The GPU benchmarks' command-line front end (`docflow_cuda::bench`):
//! arguments and JSON printing, shared by `docflow bench gpu-encode|gemm`,
//! `docflow gpu check` and the `docflow-gpu-bench` program.
//!
//! The GPU index comes from `--gpu`; the GEMM choice from the environment
//! (`DOCFLOW_GEMM`, read here once).

use std::path::{Path, PathBuf};

use docflow_cuda::bench::{self, EncodeBench};
use docflow_model::{GpuEnv, GpuSettings};

/// Options of the encode benchmark.
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

/// GEMM micro-benchmark options.
#[derive(Debug, Clone, clap::Args)]
pub struct GemmBenchArgs {
    /// Rows (tokens) of each GEMM; default: a 32768-token batch.
    #[arg(long, default_value_t = 32768)]
    pub tokens: usize,
    /// Timed launches per shape.
    #[arg(long, default_value_t = 50)]
    pub iters: usize,
    /// GPU index.
    #[arg(long, default_value_t = 0)]
    pub gpu: usize,
}

/// GPU `gpu` with the environment's GEMM choice.
fn gpu_settings(gpu: usize) -> anyhow::Result<GpuSettings> {
    Ok(GpuSettings { gpu, gemm: GpuEnv::read()?.gemm.unwrap_or_default() })
}

/// Runs the encode benchmark and prints one JSON object.
pub fn run_encode_bench(a: &EncodeBenchArgs) -> anyhow::Result<()> {
    let settings = EncodeBench {
        model: a.model.clone(),
        docs: a.docs.clone(),
        batch_tokens: a.batch_tokens,
        repeat: a.repeat,
        gpu: gpu_settings(a.gpu)?,
        dump_file: a.dump_file.clone(),
        dump: a.dump,
        limit: a.limit,
    };
    let r = bench::bench_encode_cuda(&settings)?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// Runs the GEMM benchmark and prints one JSON object per shape.
pub fn run_gemm_bench(a: &GemmBenchArgs) -> anyhow::Result<()> {
    for r in bench::bench_gemm(gpu_settings(a.gpu)?, a.tokens, a.iters)? {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(())
}

/// Prints whether a GPU is usable here and whether every kernel compiles
/// for it; fails with the reason otherwise.
pub fn run_check(gpu: usize) -> anyhow::Result<()> {
    let r = bench::check(gpu_settings(gpu)?)?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// Prints the token-length statistics of a documents file (what the GPU sees).
pub fn run_tokens(model: &Path, docs: &Path) -> anyhow::Result<()> {
    let r = bench::token_stats(model, docs)?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}
