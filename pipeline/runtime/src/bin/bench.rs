//! `docflow-runtime-bench`: records/s through one pass-through stage.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmark the docflow stage runtime with a pass-through stage")]
struct Cli {
    #[command(flatten)]
    args: docflow_runtime::cli::BenchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    docflow_runtime::init_tracing();
    let cli = Cli::parse();
    let report = docflow_runtime::bench::run_bench(&cli.args).await?;
    println!("{report}");
    Ok(())
}
