//! One module per subcommand. Shared bits (logging, context) live here.

pub mod demo;
pub mod model;
pub mod status;
pub mod store;
pub mod tools;
pub mod topics;

/// Settings every subcommand may need, from global flags or the environment.
pub struct Context {
    /// Kafka bootstrap servers.
    pub brokers: String,
}

/// Logs to stderr: human-readable on a terminal, JSON lines otherwise
/// (so log shippers get structure). Level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn,scylla=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

/// A current-thread-friendly tokio runtime for commands that talk to Kafka or the database.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
