//! `docflow-runtime-testproc`: a pass-through stage as an OS process, so
//! integration tests can start several, stop them with SIGTERM, or `kill -9`
//! them. Exits 0 after a clean drain on SIGTERM/SIGINT.

use clap::Parser;
use docflow_runtime::passthrough::PassThrough;
use docflow_runtime::{run_stage, ShutdownSignal, StageConfig};
use std::time::Duration;

#[derive(Parser)]
struct Cli {
    #[arg(long, env = "DOCFLOW_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,
    #[arg(long)]
    group: String,
    /// Input topics, comma separated (priority lanes, highest first).
    #[arg(long, value_delimiter = ',')]
    input: Vec<String>,
    #[arg(long)]
    output: String,
    #[arg(long, default_value = "passthrough")]
    name: String,
    /// Simulated work per record, microseconds (asleep).
    #[arg(long, default_value_t = 0)]
    delay_us: u64,
    /// Tag outputs with this process name (header x-docflow-processed-by).
    #[arg(long)]
    tag: Option<String>,
    /// Extra StageConfig keys as TOML (e.g. "batch_size = 50").
    #[arg(long, default_value = "")]
    config: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    docflow_runtime::init_tracing();
    let cli = Cli::parse();
    let mut base = StageConfig::new(cli.group, cli.input, Some(cli.output));
    base.brokers = cli.brokers;
    // The delivery tests run once per mode (`DOCFLOW_DELIVERY`); a test's
    // own `--config` (the exactly-once tests) still wins.
    base.delivery = docflow_runtime::testkit::delivery_mode()?;
    let cfg = docflow_runtime::cli::merge_toml(&base, &cli.config)?;
    let mut stage = PassThrough::new(cli.name).with_delay(Duration::from_micros(cli.delay_us));
    if let Some(tag) = cli.tag {
        stage = stage.with_tag(tag);
    }
    let shutdown = ShutdownSignal::on_os_signals()?;
    run_stage(stage, cfg, shutdown).await
}
