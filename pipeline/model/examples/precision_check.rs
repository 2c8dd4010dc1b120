//! `docflow bench precision` for the CPU encoder, runnable from this crate:
//! `cargo run --release -p docflow-model --example precision_check -- --docs FILE [--threads 2]`
//! Prints the min and mean cosine of bf16 and int8 embeddings against fp32.

use clap::Parser;
use docflow_model::cli::cpu_factory;
use docflow_model::precision_check::{run_precision_check, PrecisionCheckArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: PrecisionCheckArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    run_precision_check(&cli.args, &cpu_factory)?;
    Ok(())
}
