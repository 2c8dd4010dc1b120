//! What the `docflow` CLI needs from the runtime: argument structs (clap)
//! and the functions behind `docflow stage <name>`, `docflow run` and
//! `docflow bench runtime`.
//!
//! The CLI builds each stage (parse, infer, …) itself and calls
//! [`StageArgs::resolve`] for its config, then [`crate::run_stage`] or
//! [`crate::run_stages`] with [`crate::ShutdownSignal::on_os_signals`].

use crate::config::StageConfig;
use std::path::PathBuf;

/// Config selection and common overrides for running a stage.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StageArgs {
    /// TOML file holding one `StageConfig` table (unknown keys are errors);
    /// its values override the stage's standard defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers.
    #[arg(long, env = "DOCFLOW_KAFKA_BROKERS")]
    pub brokers: Option<String>,
    /// Consumer group (default `docflow-<stage>`).
    #[arg(long)]
    pub group: Option<String>,
    /// Input topics, comma separated, highest priority first.
    #[arg(long, value_delimiter = ',')]
    pub input: Vec<String>,
    /// Default output topic.
    #[arg(long)]
    pub output: Option<String>,
    /// Records per `process` call.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Batches processed concurrently.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Next stage's consumer group, for backpressure ("" disables it).
    #[arg(long)]
    pub downstream_group: Option<String>,
}

impl StageArgs {
    /// `base` (e.g. [`crate::topology::standard_config`]) ← config file ← flags.
    pub fn resolve(&self, base: StageConfig) -> anyhow::Result<StageConfig> {
        let mut cfg = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                merge_toml(&base, &text)?
            }
            None => base,
        };
        if let Some(b) = &self.brokers {
            cfg.brokers = b.clone();
        }
        if let Some(g) = &self.group {
            cfg.group_id = g.clone();
        }
        if !self.input.is_empty() {
            cfg.input_topics = self.input.clone();
        }
        if let Some(o) = &self.output {
            cfg.output_topic = Some(o.clone());
        }
        if let Some(n) = self.batch_size {
            cfg.batch_size = n;
        }
        if let Some(n) = self.concurrency {
            cfg.concurrency = n;
        }
        if let Some(g) = &self.downstream_group {
            cfg.backpressure.downstream_group = (!g.is_empty()).then(|| g.clone());
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Overlay the keys present in `text` on `base` (nested tables merge).
pub fn merge_toml(base: &StageConfig, text: &str) -> anyhow::Result<StageConfig> {
    let mut merged = toml::Table::try_from(base)?;
    let overlay: toml::Table = toml::from_str(text)?;
    merge(&mut merged, overlay);
    // Deserialising the merged table applies deny_unknown_fields to the file's keys.
    StageConfig::deserialize(toml::Value::Table(merged)).map_err(|e| anyhow::anyhow!("{e}"))
}

use serde::Deserialize as _;

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

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
    #[arg(long, default_value = "at_least_once", value_parser = |s: &str| crate::config::DeliveryMode::parse(s).map_err(|e| e.to_string()))]
    pub delivery: crate::config::DeliveryMode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let base = crate::topology::standard_config("parse").unwrap();
        let cfg = merge_toml(&base, "batch_size = 32\n[backpressure]\nhigh_water = 7\nlow_water = 3\n").unwrap();
        assert_eq!(cfg.batch_size, 32);
        assert_eq!(cfg.backpressure.high_water, 7);
        assert_eq!(cfg.backpressure.downstream_group.as_deref(), Some("docflow-infer"), "untouched keys survive");
        assert_eq!(cfg.input_topics.len(), 4);
        assert!(merge_toml(&base, "bach_size = 1\n").is_err(), "typos are errors");

        let args = StageArgs { group: Some("g2".into()), downstream_group: Some(String::new()), ..Default::default() };
        let cfg = args.resolve(cfg).unwrap();
        assert_eq!(cfg.group_id, "g2");
        assert_eq!(cfg.backpressure.downstream_group, None);
    }
}
