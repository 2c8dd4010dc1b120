//! `docflow topics apply|list`: topics as code from `topics/topics.toml`.
//!
//! `apply` creates missing topics and reports drift (partition count or
//! configs that differ from the file) in existing ones; it never deletes or
//! shrinks anything, because that loses data. Partitions can only grow in
//! Kafka, so a topic with fewer partitions than declared is reported with
//! the command that fixes it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde::Deserialize;

use super::Context;

/// The topic definitions shipped with this binary (`topics/topics.toml`).
const BUILTIN_TOPICS: &str = include_str!("../../../../topics/topics.toml");

#[derive(clap::Subcommand, Debug)]
pub enum TopicsCommand {
    /// Create missing topics and report drift in existing ones.
    Apply(ApplyArgs),
    /// Print the declared topics with their effective settings.
    List(FileArg),
}

#[derive(clap::Args, Debug)]
pub struct FileArg {
    /// Topic definitions (TOML). Default: the `topics/topics.toml` built into this binary.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    file: FileArg,
    /// Use replication factor 1 and min ISR 1 (a one-broker dev cluster).
    /// Chosen automatically when the cluster has a single broker.
    #[arg(long)]
    single_broker: bool,
    /// Exit non-zero when an existing topic drifts from the file.
    #[arg(long)]
    strict: bool,
    /// Set the file's configs (retention, `max.message.bytes`, …) on existing
    /// topics that drift from it. Partition counts are never changed.
    #[arg(long)]
    alter_configs: bool,
}

/// `topics.toml`: `[defaults]` plus one `[[topic]]` per topic.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsFile {
    pub defaults: TopicSettings,
    #[serde(rename = "topic")]
    pub topics: Vec<TopicEntry>,
}

/// Settings of a topic; in `[[topic]]` every field is optional and falls back to `[defaults]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TopicSettings {
    pub partitions: i32,
    pub replication_factor: i32,
    pub min_insync_replicas: i32,
    pub compression: String,
    /// `max.message.bytes`: the largest record (batch) the topic accepts
    /// (default: docflow's `MAX_MESSAGE_BYTES`, the wire limit plus 1 MiB).
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: i64,
    pub retention_ms: i64,
    pub cleanup_policy: String,
}

fn default_max_message_bytes() -> i64 {
    docflow_schemas::MAX_MESSAGE_BYTES as i64
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicEntry {
    pub name: String,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    pub min_insync_replicas: Option<i32>,
    pub compression: Option<String>,
    pub max_message_bytes: Option<i64>,
    pub retention_ms: Option<i64>,
    pub cleanup_policy: Option<String>,
}

/// A topic with every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Kafka topic configs (`cleanup.policy`, `retention.ms`, …).
    pub configs: BTreeMap<String, String>,
}

impl TopicsFile {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        toml::from_str(text).context("topics file is not valid (see topics/topics.toml for the format)")
    }

    pub fn load(path: Option<&PathBuf>) -> anyhow::Result<Self> {
        match path {
            Some(p) => Self::parse(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?),
            None => Self::parse(BUILTIN_TOPICS),
        }
    }

    /// Every topic with defaults applied; `single_broker` forces RF and min ISR to 1.
    pub fn specs(&self, single_broker: bool) -> Vec<TopicSpec> {
        let d = &self.defaults;
        self.topics
            .iter()
            .map(|t| {
                let mut rf = t.replication_factor.unwrap_or(d.replication_factor);
                let mut min_isr = t.min_insync_replicas.unwrap_or(d.min_insync_replicas);
                if single_broker {
                    rf = 1;
                    min_isr = 1;
                }
                let configs = BTreeMap::from([
                    ("cleanup.policy".to_string(), t.cleanup_policy.clone().unwrap_or(d.cleanup_policy.clone())),
                    ("compression.type".to_string(), t.compression.clone().unwrap_or(d.compression.clone())),
                    ("retention.ms".to_string(), t.retention_ms.unwrap_or(d.retention_ms).to_string()),
                    ("max.message.bytes".to_string(), t.max_message_bytes.unwrap_or(d.max_message_bytes).to_string()),
                    ("min.insync.replicas".to_string(), min_isr.to_string()),
                ]);
                TopicSpec { name: t.name.clone(), partitions: t.partitions.unwrap_or(d.partitions), replication_factor: rf, configs }
            })
            .collect()
    }
}

pub fn run(ctx: &Context, cmd: TopicsCommand) -> anyhow::Result<()> {
    match cmd {
        TopicsCommand::List(file) => {
            let topics = TopicsFile::load(file.file.as_ref())?;
            for spec in topics.specs(false) {
                println!("{:<20} partitions={:<3} rf={} {:?}", spec.name, spec.partitions, spec.replication_factor, spec.configs);
            }
            Ok(())
        }
        TopicsCommand::Apply(args) => {
            let topics = TopicsFile::load(args.file.file.as_ref())?;
            let report = super::runtime()?.block_on(apply(&ctx.brokers, &topics, args.single_broker, args.alter_configs))?;
            for line in &report.lines {
                println!("{line}");
            }
            println!("{} created, {} unchanged, {} drifted, {} altered", report.created, report.unchanged, report.drifted, report.altered);
            if args.strict && report.drifted > 0 {
                bail!("{} topic(s) drift from the topics file", report.drifted);
            }
            Ok(())
        }
    }
}

/// What `apply` did, one line per topic.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub created: usize,
    pub unchanged: usize,
    pub drifted: usize,
    /// Drifted topics whose configs `--alter-configs` set to the file's.
    pub altered: usize,
    pub lines: Vec<String>,
}

/// Creates missing topics, compares existing ones with the file and, with
/// `alter_configs`, sets the file's configs on those that drift.
pub async fn apply(brokers: &str, topics: &TopicsFile, force_single_broker: bool, alter_configs: bool) -> anyhow::Result<ApplyReport> {
    let admin: AdminClient<DefaultClientContext> = super::kafka_config(brokers)?
        .create()
        .context("creating the Kafka admin client")?;
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .with_context(|| format!("Kafka at {brokers} did not answer a metadata request (is the stack up? `deploy/local/stack.sh status`)"))?;
    let single_broker = force_single_broker || metadata.brokers().len() == 1;
    let existing: BTreeMap<String, usize> =
        metadata.topics().iter().map(|t| (t.name().to_string(), t.partitions().len())).collect();

    let specs = topics.specs(single_broker);
    let mut report = ApplyReport::default();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));

    let missing: Vec<&TopicSpec> = specs.iter().filter(|s| !existing.contains_key(&s.name)).collect();
    if !missing.is_empty() {
        let new_topics: Vec<NewTopic> = missing
            .iter()
            .map(|s| {
                let mut t = NewTopic::new(&s.name, s.partitions, TopicReplication::Fixed(s.replication_factor));
                for (k, v) in &s.configs {
                    t = t.set(k, v);
                }
                t
            })
            .collect();
        for result in admin.create_topics(new_topics.iter(), &opts).await? {
            match result {
                Ok(name) => {
                    report.created += 1;
                    report.lines.push(format!("created   {name}"));
                }
                // Another `apply` raced us: the topic exists now, which is what we wanted.
                Err((name, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                    report.unchanged += 1;
                    report.lines.push(format!("exists    {name}"));
                }
                Err((name, code)) => bail!("creating topic {name} failed: {code}"),
            }
        }
    }

    let present: Vec<&TopicSpec> = specs.iter().filter(|s| existing.contains_key(&s.name)).collect();
    if !present.is_empty() {
        let resources: Vec<ResourceSpecifier> = present.iter().map(|s| ResourceSpecifier::Topic(&s.name)).collect();
        let described = admin.describe_configs(resources.iter(), &opts).await?;
        let mut to_alter = Vec::new();
        for (spec, result) in present.iter().zip(described) {
            let mut drift = Vec::new();
            let actual_partitions = existing[&spec.name] as i32;
            if actual_partitions < spec.partitions {
                drift.push(format!(
                    "partitions {actual_partitions} < {} (grow with kafka-topics --alter --partitions {})",
                    spec.partitions, spec.partitions
                ));
            } else if actual_partitions > spec.partitions {
                drift.push(format!("partitions {actual_partitions} > {} (Kafka cannot shrink; update the file)", spec.partitions));
            }
            let resource = result.map_err(|e| anyhow::anyhow!("describing configs of {}: {e}", spec.name))?;
            let mut config_drift = false;
            for (key, want) in &spec.configs {
                let have = resource.get(key).and_then(|e| e.value.clone()).unwrap_or_default();
                if &have != want {
                    drift.push(format!("{key}={have} (file: {want})"));
                    config_drift = true;
                }
            }
            if config_drift && alter_configs {
                to_alter.push(*spec);
            }
            if drift.is_empty() {
                report.unchanged += 1;
                report.lines.push(format!("ok        {}", spec.name));
            } else {
                report.drifted += 1;
                report.lines.push(format!("DRIFT     {}: {}", spec.name, drift.join("; ")));
            }
        }
        // AlterConfigs sets the whole config set of a topic; the file's set is it.
        let alters: Vec<AlterConfig<'_>> = to_alter
            .iter()
            .map(|spec| spec.configs.iter().fold(AlterConfig::new(ResourceSpecifier::Topic(&spec.name)), |a, (k, v)| a.set(k, v)))
            .collect();
        if !alters.is_empty() {
            for result in admin.alter_configs(alters.iter(), &opts).await? {
                match result {
                    Ok(resource) => {
                        report.altered += 1;
                        report.lines.push(format!("altered   {resource:?}: configs set to the file's"));
                    }
                    Err((resource, code)) => bail!("altering configs of {resource:?} failed: {code}"),
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_file_declares_every_topic_of_the_design() {
        let file = TopicsFile::parse(BUILTIN_TOPICS).unwrap();
        let names: Vec<String> = file.specs(false).into_iter().map(|s| s.name).collect();
        for (want, _) in docflow_schemas::topology::ALL {
            assert!(names.iter().any(|n| n == want), "{want} missing from topics.toml");
        }
        let updates = file.specs(false).into_iter().find(|s| s.name == docflow_schemas::topology::MODEL_UPDATES.name()).unwrap();
        assert_eq!(updates.configs["cleanup.policy"], "compact");
    }

    #[test]
    fn every_topic_admits_the_documented_wire_limit() {
        let file = TopicsFile::parse(BUILTIN_TOPICS).unwrap();
        for spec in file.specs(false) {
            assert_eq!(spec.configs["max.message.bytes"], docflow_schemas::MAX_MESSAGE_BYTES.to_string(), "{}", spec.name);
        }
    }

    #[test]
    fn single_broker_forces_replication_one() {
        let file = TopicsFile::parse(BUILTIN_TOPICS).unwrap();
        assert!(file.specs(true).iter().all(|s| s.replication_factor == 1 && s.configs["min.insync.replicas"] == "1"));
        assert!(file.specs(false).iter().all(|s| s.replication_factor == 3));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let bad = "[defaults]\npartitions=1\nreplication_factor=1\nmin_insync_replicas=1\ncompression='lz4'\nmax_message_bytes=1\nretention_ms=1\ncleanup_policy='delete'\n[[topic]]\nname='a'\npartitons=3\n";
        let err = TopicsFile::parse(bad).unwrap_err();
        assert!(format!("{err:#}").contains("partitons"), "{err:#}");
    }
}
