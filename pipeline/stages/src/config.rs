//! [`PipelineConfig`]: the docflow TOML file, one table per stage. Unknown
//! keys anywhere are errors.
//!
//! ```toml
//! brokers = "kafka-1:9092"          # every stage (else DOCFLOW_KAFKA_BROKERS)
//! store_backend = "cassandra"       # or "memory"
//! [stage.infer]                     # docflow_runtime::StageConfig over the standard one
//! batch_size = 512
//! [parse.limits]                    # docflow_parse::ParseLimits
//! deadline_ms = 5000
//! [infer]                           # InferConfig
//! device = "auto"
//! [score]                           # ScoreConfig
//! [persist]                         # PersistConfig
//! [learn]                           # LearnConfig
//! [store]                           # docflow_store::StoreConfig
//! ```

use crate::infer::InferConfig;
use crate::learn::LearnConfig;
use crate::parse::ParseStageConfig;
use crate::persist::PersistConfig;
use crate::score::ScoreConfig;
use docflow_runtime::topology::{standard_config, STAGES};
use docflow_runtime::StageConfig;
use docflow_store::StoreConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Where documents are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// ScyllaDB/Cassandra (`[store]`).
    #[default]
    Cassandra,
    /// In process memory: nothing survives a restart (demos, one-machine trials).
    Memory,
}

/// The whole pipeline's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Kafka bootstrap servers of every stage (overrides `[stage.*] brokers`).
    pub brokers: Option<String>,
    /// Prefix put before every topic and consumer-group name
    /// (`<prefix>.docs.raw.normal`): several pipelines on one cluster, tests.
    pub topic_prefix: Option<String>,
    /// `cassandra` or `memory`.
    pub store_backend: StoreBackend,
    /// Database connection (`DOCFLOW_SCYLLA_NODES`, `DOCFLOW_KEYSPACE` when absent).
    pub store: StoreConfig,
    /// Runtime settings per stage (`[stage.parse]` …), each a
    /// `docflow_runtime::StageConfig` table laid over the stage's standard config.
    pub stage: BTreeMap<String, toml::Table>,
    pub parse: ParseStageConfig,
    pub infer: InferConfig,
    pub score: ScoreConfig,
    pub persist: PersistConfig,
    pub learn: LearnConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            topic_prefix: None,
            store_backend: StoreBackend::default(),
            store: StoreConfig::from_env(),
            stage: BTreeMap::new(),
            parse: ParseStageConfig::default(),
            infer: InferConfig::default(),
            score: ScoreConfig::default(),
            persist: PersistConfig::default(),
            learn: LearnConfig::default(),
        }
    }
}

impl PipelineConfig {
    /// Parses and checks a config file's text (every stage table resolves).
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let cfg: Self = toml::from_str(text)?;
        for name in cfg.stage.keys() {
            anyhow::ensure!(STAGES.contains(&name.as_str()), "unknown stage [stage.{name}] (stages: {})", STAGES.join(", "));
        }
        for name in STAGES {
            cfg.stage_config(name)?;
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// A topic or group name with the prefix applied.
    pub fn name(&self, topic: &str) -> String {
        match self.topic_prefix.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!("{p}.{topic}"),
            None => topic.to_owned(),
        }
    }

    /// Runtime config of stage `name`: standard topology ← `[stage.<name>]`
    /// ← `brokers` ← topic prefix; validated.
    pub fn stage_config(&self, name: &str) -> anyhow::Result<StageConfig> {
        let mut base = standard_config(name).ok_or_else(|| anyhow::anyhow!("unknown stage {name:?} (stages: {})", STAGES.join(", ")))?;
        if name == "learn" {
            // The learner also folds processed results (vendor history, class
            // profiles, embeddings for later labels); feedback is the higher lane.
            base.input_topics.push(self.learn.scored_topic.clone());
        }
        let mut cfg = match self.stage.get(name) {
            Some(table) => docflow_runtime::cli::merge_toml(&base, &toml::to_string(table)?).map_err(|e| anyhow::anyhow!("[stage.{name}]: {e}"))?,
            None => base,
        };
        if let Some(b) = &self.brokers {
            cfg.brokers = b.clone();
        }
        if self.topic_prefix.as_deref().is_some_and(|p| !p.is_empty()) {
            cfg.input_topics = cfg.input_topics.iter().map(|t| self.name(t)).collect();
            cfg.output_topic = cfg.output_topic.as_deref().map(|t| self.name(t));
            cfg.dlq_topic = self.name(&cfg.dlq_topic);
            cfg.group_id = self.name(&cfg.group_id);
            cfg.backpressure.downstream_group = cfg.backpressure.downstream_group.as_deref().map(|g| self.name(g));
            cfg.backpressure.downstream_topic = cfg.backpressure.downstream_topic.as_deref().map(|t| self.name(t));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// `[score]` with the prefix applied to its topic.
    pub fn score_config(&self) -> ScoreConfig {
        ScoreConfig { updates_topic: self.name(&self.score.updates_topic), ..self.score.clone() }
    }

    /// `[learn]` with the prefix applied to its topics.
    pub fn learn_config(&self) -> LearnConfig {
        LearnConfig { updates_topic: self.name(&self.learn.updates_topic), scored_topic: self.name(&self.learn.scored_topic), ..self.learn.clone() }
    }

    /// Every topic the pipeline reads or writes (after the prefix).
    pub fn topics(&self) -> anyhow::Result<Vec<String>> {
        let mut all = std::collections::BTreeSet::new();
        for name in STAGES {
            let c = self.stage_config(name)?;
            all.extend(c.input_topics);
            all.extend(c.output_topic);
            all.insert(c.dlq_topic);
        }
        all.insert(self.score_config().updates_topic);
        Ok(all.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_with_every_table_and_prefix() {
        let cfg = PipelineConfig::from_toml(
            r#"
            brokers = "k:1"
            topic_prefix = "t1"
            store_backend = "memory"
            [stage.parse]
            batch_size = 7
            [parse.limits]
            max_json_depth = 9
            [infer]
            device = "auto"
            long_text = "chunk-mean"
            max_wait_ms = 5
            [learn]
            every_labels = 3
            "#,
        )
        .unwrap();
        let parse = cfg.stage_config("parse").unwrap();
        assert_eq!(parse.batch_size, 7);
        assert_eq!(parse.brokers, "k:1");
        assert_eq!(parse.input_topics[0], "t1.docs.raw.critical");
        assert_eq!(parse.output_topic.as_deref(), Some("t1.docs.parsed"));
        assert_eq!(parse.backpressure.downstream_group.as_deref(), Some("t1.docflow-infer"));
        assert_eq!(cfg.parse.limits.max_json_depth, 9);
        assert_eq!(cfg.infer.long_text, crate::infer::LongTextMode::ChunkMean);
        assert_eq!(cfg.learn_config().scored_topic, "t1.docs.scored");
        assert_eq!(cfg.stage_config("learn").unwrap().input_topics, vec!["t1.docs.feedback", "t1.docs.scored"]);
        assert_eq!(cfg.score_config().updates_topic, "t1.model.updates");
        assert!(cfg.topics().unwrap().contains(&"t1.docs.dlq".to_string()));
    }

    #[test]
    fn unknown_keys_are_errors_everywhere() {
        for bad in ["brokerz = \"x\"", "[infer]\ndevic = \"cpu\"", "[stage.parse]\nbatchsize = 1", "[stage.nope]\nbatch_size = 1", "[store]\nnode = []", "[infer]\ndevice = \"tpu\""] {
            assert!(PipelineConfig::from_toml(bad).is_err(), "{bad}");
        }
    }
}
