//! `docflow bench encode` for the CPU encoder, runnable from this crate:
//! `cargo run --release -p docflow-model --example bench_encode -- --docs FILE [--threads 2]`
//! (the `docflow` binary runs the same `run_bench_encode`, with CUDA too).

use clap::Parser;
use docflow_model::cli::{cpu_factory, run_bench_encode, BenchEncodeArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchEncodeArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    run_bench_encode(&cli.args, &cpu_factory)?;
    Ok(())
}
