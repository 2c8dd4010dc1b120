//! The flags of the stage-runtime benchmark (`docflow-runtime-bench`,
//! `docflow bench runtime`) and their conversion into
//! [`docflow_runtime::bench::BenchSettings`].

use docflow_runtime::bench::BenchSettings;
use docflow_runtime::DeliveryMode;

/// Arguments of `docflow bench runtime`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "DOCFLOW_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,
    /// Records to push through the stage.
    #[arg(long, default_value_t = 300_000)]
    pub records: u64,
    /// Body size of each record in bytes.
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Partitions of the benchmark topics.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Stage batch size.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Stage worker count.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// `at_least_once` or `exactly_once` (Kafka transactions).
    #[arg(long, default_value = "at_least_once", value_parser = |s: &str| DeliveryMode::parse(s).map_err(|e| e.to_string()))]
    pub delivery: DeliveryMode,
}

impl From<&BenchArgs> for BenchSettings {
    fn from(a: &BenchArgs) -> Self {
        BenchSettings {
            brokers: a.brokers.clone(),
            records: a.records,
            size: a.size,
            partitions: a.partitions,
            batch_size: a.batch_size,
            concurrency: a.concurrency,
            delivery: a.delivery,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn flags_become_settings() {
        let cli = Cli::try_parse_from(["x", "--brokers", "k:1", "--records", "10", "--delivery", "exactly_once"]).unwrap();
        let s = BenchSettings::from(&cli.args);
        assert_eq!((s.brokers.as_str(), s.records, s.size, s.partitions, s.batch_size, s.concurrency), ("k:1", 10, 1024, 6, 500, 2));
        assert_eq!(s.delivery, DeliveryMode::ExactlyOnce);
        assert!(Cli::try_parse_from(["x", "--delivery", "twice"]).is_err());
    }
}
