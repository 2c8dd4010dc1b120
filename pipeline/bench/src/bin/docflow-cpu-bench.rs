//! `docflow-cpu-bench`: `docflow bench encode` and `docflow bench precision`
//! for the CPU encoder without the full CLI (what
//! `pipeline/model/scripts/bench_cpu.sh` builds and runs).
//!
//! - `encode --docs FILE [--threads 2] [--precision int8]`
//! - `precision --docs FILE [--threads 2]`

use clap::{Parser, Subcommand};
use docflow_bench::encoder::{self, BenchEncodeArgs, PrecisionCheckArgs};
use docflow_model::tools::cpu_factory;

#[derive(Parser)]
#[command(about = "docflow CPU encoder benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Encoder throughput on a documents file: docs/s, tokens/s, batch size, peak RSS.
    Encode(BenchEncodeArgs),
    /// bf16 and int8 embeddings against fp32 on a documents file: min and mean cosine.
    Precision(PrecisionCheckArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Encode(a) => encoder::run_bench_encode(&a, &cpu_factory).map(drop),
        Cmd::Precision(a) => encoder::run_precision_check(&a, &cpu_factory).map(drop),
    }
}
