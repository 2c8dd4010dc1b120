//! One module per subcommand. Shared bits (Kafka client settings, context, the tokio runtime) live here.

pub mod choices;
pub mod demo;
pub mod dlq;
pub mod embed;
pub mod eval;
pub mod feedback;
pub mod model;
pub mod model_versions;
pub mod parse;
pub mod process;
pub mod stage;
pub mod status;
pub mod store;
pub mod tools;
pub mod topics;

/// Settings every subcommand may need, from global flags or the environment.
pub struct Context {
    /// Kafka bootstrap servers.
    pub brokers: String,
}

/// A Kafka client configuration for `brokers` with the security settings of
/// the environment (`DOCFLOW_KAFKA_SECURITY_PROTOCOL`, SASL, TLS; see
/// `docflow_core::kafka_env`), so every command reaches a secured cluster the
/// way the stages do.
pub fn kafka_config(brokers: &str) -> anyhow::Result<rdkafka::ClientConfig> {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in docflow_core::kafka_client_properties()? {
        c.set(k, v);
    }
    Ok(c)
}

/// A current-thread-friendly tokio runtime for commands that talk to Kafka or the database.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
