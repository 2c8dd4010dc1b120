//! `docflow-gpu-bench`: the GPU benchmarks without the full CLI, for the GPU
//! check (`pipeline/cuda/gpu-check/run.sh`) on a machine with no Rust.
//!
//! - `encode --model DIR --docs DOCS.jsonl [--dump 64 --dump-file F]`
//! - `gemm [--tokens N]`
//! - `check`
//! - `tokens --model DIR --docs DOCS.jsonl`

use clap::{Parser, Subcommand};
use docflow_bench::gpu::{self, EncodeBenchArgs, GemmBenchArgs};

#[derive(Parser)]
#[command(about = "docflow CUDA encoder benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Documents/s text→embedding and model-only, GPU busy fraction, memory.
    Encode(EncodeBenchArgs),
    /// Hand-written GEMM vs cuBLAS on the model's shapes.
    Gemm(GemmBenchArgs),
    /// Token statistics of a documents file (no GPU needed).
    Tokens {
        #[arg(long)]
        model: std::path::PathBuf,
        #[arg(long)]
        docs: std::path::PathBuf,
    },
    /// GPU present and every kernel compiles for it.
    Check {
        #[arg(long, default_value_t = 0)]
        gpu: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Encode(a) => gpu::run_encode_bench(&a),
        Cmd::Gemm(a) => gpu::run_gemm_bench(&a),
        Cmd::Check { gpu } => gpu::run_check(gpu),
        Cmd::Tokens { model, docs } => gpu::run_tokens(&model, &docs),
    }
}
