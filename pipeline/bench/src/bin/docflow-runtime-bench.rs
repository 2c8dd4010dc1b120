//! `docflow-runtime-bench`: records/s through one pass-through stage.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmark the docflow stage runtime with a pass-through stage")]
struct Cli {
    #[command(flatten)]
    args: docflow_bench::runtime::BenchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // OTEL_EXPORTER_OTLP_ENDPOINT set: measured with tracing and OTLP export on.
    let telemetry = docflow_runtime::telemetry::init_from_env("info")?;
    let report = docflow_runtime::bench::run_bench(&(&cli.args).into()).await?;
    println!("{report} (telemetry: {})", match telemetry.exporting() {
        (false, false) => "off".to_owned(),
        _ => format!("OTLP export on, head sampling {}", docflow_runtime::telemetry::sample_ratio().unwrap_or(0.0)),
    });
    tokio::task::spawn_blocking(move || drop(telemetry)).await?;
    Ok(())
}
