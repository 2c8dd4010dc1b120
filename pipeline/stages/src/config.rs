//! [`PipelineConfig`]: the docflow TOML file, one table per stage. Unknown
//! keys anywhere are errors.
//!
//! ```toml
//! brokers = "kafka-1:9092"          # every stage (else DOCFLOW_KAFKA_BROKERS)
//! store_backend = "cassandra"       # or "memory"
//! results_codec = "json"            # docs.results as JSON (default "msgpack")
//! dlq_codec = "json"                # docs.dlq as JSON (default "msgpack")
//! [stage.infer]                     # docflow_runtime::StageConfig over the standard one
//! batch_size = 512
//! [parse.limits]                    # docflow_parse::ParseLimits
//! deadline_ms = 5000
//! [infer]                           # InferConfig
//! device = "auto"                  # gpu = 0, gemm = "auto" (DOCFLOW_CUDA_DEVICE, DOCFLOW_GEMM)
//! precision = "int8"                # CPU encoder: fp32 (default), bf16, int8
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
use docflow_core::kafka_env::{KafkaEnvError, KafkaSecurity};
use docflow_runtime::config::MergeError;
use crate::topology::{standard_config, STAGES};
use docflow_runtime::{DeliveryMode, OutputCodec, StageConfig};
use docflow_store::store_env::StoreEnvError;
use docflow_store::{StoreConfig, StoreError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a pipeline configuration cannot be used. Each names the file, table,
/// key or variable at fault (the causes follow as sources); none shows a
/// secret's value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// What is wrong inside the file `path`.
    #[error("{}", path.display())]
    File { path: PathBuf, source: Box<ConfigError> },
    /// Bad TOML, an unknown key or a bad value. toml's own message would
    /// quote the line, which may hold a password: this says where instead.
    #[error("line {line}, column {column}: {message}")]
    Toml { line: usize, column: usize, message: String },
    /// [`ConfigError::Toml`] where toml knows no position.
    #[error("{0}")]
    TomlMessage(String),
    #[error("[store]")]
    StoreTable(#[source] toml::de::Error),
    #[error("unknown stage [stage.{name}] (stages: {})", STAGES.join(", "))]
    UnknownStageTable { name: String },
    #[error("unknown stage {name:?} (stages: {})", STAGES.join(", "))]
    UnknownStage { name: String },
    /// A `[stage.<name>]` table that does not fit the runtime's settings.
    #[error("[stage.{name}]")]
    StageTable { name: String, source: MergeError },
    /// A parsed `[stage.<name>]` table that does not print back as TOML
    /// (the merge works on text).
    #[error("[stage.{name}]")]
    StageTableText { name: String, source: toml::ser::Error },
    /// A stage's runtime settings, after every override, that cannot run.
    #[error(transparent)]
    Stage(#[from] docflow_runtime::config::ConfigError),
    /// What [`PipelineConfig::check`] found wrong with stage `name`.
    #[error("stage {name}")]
    Check { name: String, source: Box<ConfigError> },
    #[error(transparent)]
    KafkaEnv(#[from] KafkaEnvError),
    #[error("{}", DeliveryMode::ENV)]
    Delivery(#[source] docflow_runtime::config::ConfigError),
    #[error(transparent)]
    StoreEnv(#[from] StoreEnvError),
    /// `DOCFLOW_CUDA_DEVICE` or `DOCFLOW_GEMM`.
    #[error(transparent)]
    Gpu(#[from] docflow_model::SettingsError),
    #[error("[store]")]
    Store(#[source] StoreError),
}

/// Where documents are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
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
    /// Delivery guarantee of every stage, `at_least_once` (default) or
    /// `exactly_once` (Kafka transactions; `read_committed` consumers of
    /// `docs.results` then see each document once). Overrides
    /// `[stage.*] delivery`; `DOCFLOW_DELIVERY` overrides this.
    pub delivery: Option<docflow_runtime::DeliveryMode>,
    /// `cassandra` or `memory`.
    pub store_backend: StoreBackend,
    /// Database connection (`DOCFLOW_SCYLLA_NODES`, `DOCFLOW_KEYSPACE` when absent).
    pub store: StoreConfig,
    /// Runtime settings per stage (`[stage.parse]` …), each a
    /// `docflow_runtime::StageConfig` table laid over the stage's standard config.
    pub stage: BTreeMap<String, toml::Table>,
    /// Encoding of `docs.results` (the persist stage's output): `msgpack`
    /// (the default) or `json`. A `[stage.persist] output_codec` wins.
    pub results_codec: OutputCodec,
    /// Encoding of `docs.dlq`, written by every stage: `msgpack` (the
    /// default) or `json`. A `[stage.<name>] dlq_codec` wins.
    pub dlq_codec: OutputCodec,
    pub parse: ParseStageConfig,
    pub infer: InferConfig,
    pub score: ScoreConfig,
    pub persist: PersistConfig,
    pub learn: LearnConfig,
    /// Kafka TLS/SASL of every client, from `DOCFLOW_KAFKA_*` (never from the
    /// file: secrets stay out of config files). Set by [`Self::apply_env`].
    #[serde(skip)]
    pub kafka_security: KafkaSecurity,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            topic_prefix: None,
            delivery: None,
            store_backend: StoreBackend::default(),
            store: StoreConfig::from_env(),
            stage: BTreeMap::new(),
            results_codec: OutputCodec::default(),
            dlq_codec: OutputCodec::default(),
            parse: ParseStageConfig::default(),
            infer: InferConfig::default(),
            score: ScoreConfig::default(),
            persist: PersistConfig::default(),
            learn: LearnConfig::default(),
            kafka_security: KafkaSecurity::default(),
        }
    }
}

impl PipelineConfig {
    /// Parses and checks a config file's text (every stage table resolves).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        // Parsed from the text first: its errors carry line and column.
        let mut cfg: Self = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let mut table: toml::Table = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        if let Some(toml::Value::Table(store)) = table.get_mut("store") {
            // `[store]` replaces the environment-based default: let the
            // environment fill what the file leaves out, as without `[store]`.
            if fill_store_table_from_env(store, |k| std::env::var(k).ok()) {
                cfg.store = toml::Value::Table(store.clone()).try_into().map_err(ConfigError::StoreTable)?;
            }
        }
        for name in cfg.stage.keys() {
            if !STAGES.contains(&name.as_str()) {
                return Err(ConfigError::UnknownStageTable { name: name.clone() });
            }
        }
        for name in STAGES {
            cfg.stage_config(name)?;
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text).map_err(|e| ConfigError::File { path: path.to_owned(), source: Box::new(e) })
    }

    /// Reads the security settings of this process's environment: Kafka
    /// TLS/SASL into [`Self::kafka_security`], the store's credentials and
    /// TLS files into [`Self::store`], the GPU index and GEMM choice into
    /// [`Self::infer`]. Errors name the variable; a missing
    /// secret is `missing secret <VAR>`.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        self.apply_env_from(|k| std::env::var(k).ok())
    }

    /// [`Self::apply_env`] over any variable source.
    pub fn apply_env_from(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.kafka_security = KafkaSecurity::from_lookup(&lookup)?;
        if let Some(mode) = lookup(DeliveryMode::ENV).filter(|v| !v.trim().is_empty()) {
            let mode = DeliveryMode::parse(&mode).map_err(ConfigError::Delivery)?;
            self.delivery = Some(mode);
        }
        if self.store_backend == StoreBackend::Cassandra {
            apply_store_env(&mut self.store, &lookup)?;
        }
        self.infer.apply_env_from(&lookup)?;
        Ok(())
    }

    /// Everything a start needs, checked before anything connects: every
    /// stage's runtime config and, with Cassandra, the store settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        for name in STAGES {
            self.stage_config(name).map_err(|e| ConfigError::Check { name: name.to_owned(), source: Box::new(e) })?;
        }
        if self.store_backend == StoreBackend::Cassandra {
            self.store.validate().map_err(ConfigError::Store)?;
        }
        Ok(())
    }

    /// A topic or group name with the prefix applied.
    pub fn name(&self, topic: &str) -> String {
        match self.topic_prefix.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!("{p}.{topic}"),
            None => topic.to_owned(),
        }
    }

    /// Runtime config of stage `name`: standard topology ← `[stage.<name>]`
    /// ← `brokers` ← topic prefix, plus the Kafka security properties
    /// (a key set in `[stage.<name>.kafka]` wins); validated.
    pub fn stage_config(&self, name: &str) -> Result<StageConfig, ConfigError> {
        let mut base = standard_config(name).ok_or_else(|| ConfigError::UnknownStage { name: name.to_owned() })?;
        if name == "learn" {
            // The learner also folds processed results (vendor history, class
            // profiles, embeddings for later labels); feedback is the higher lane.
            base.input_topics.push(self.learn.scored_topic.clone());
        }
        let mut cfg = match self.stage.get(name) {
            Some(table) => {
                let text = toml::to_string(table).map_err(|source| ConfigError::StageTableText { name: name.to_owned(), source })?;
                docflow_runtime::config::merge_toml(&base, &text).map_err(|source| ConfigError::StageTable { name: name.to_owned(), source })?
            }
            None => base,
        };
        if let Some(b) = &self.brokers {
            cfg.brokers = b.clone();
        }
        if let Some(mode) = self.delivery {
            cfg.delivery = mode;
        }
        let set_in_table = |key: &str| self.stage.get(name).is_some_and(|t| t.contains_key(key));
        if name == "persist" && !set_in_table("output_codec") {
            cfg.output_codec = self.results_codec;
        }
        if !set_in_table("dlq_codec") {
            cfg.dlq_codec = self.dlq_codec;
        }
        for (k, v) in self.kafka_security.properties() {
            cfg.kafka.entry(k).or_insert(v);
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
    pub fn topics(&self) -> Result<Vec<String>, ConfigError> {
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

/// A TOML error as `line L, column C: message`, without the source line
/// toml's `Display` quotes (it may be a password).
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim_end().to_owned();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            ConfigError::Toml { line, column, message }
        }
        None => ConfigError::TomlMessage(message),
    }
}

// The store's variables have one home, `docflow_store::store_env`.
use docflow_store::store_env::{KEYSPACE as SCYLLA_KEYSPACE, NODES as SCYLLA_NODES};

/// Puts `nodes` and `keyspace` from the environment into a `[store]` table
/// that does not set them. True when it changed the table.
fn fill_store_table_from_env(store: &mut toml::Table, lookup: impl Fn(&str) -> Option<String>) -> bool {
    let mut changed = false;
    if !store.contains_key("nodes") {
        if let Some(n) = lookup(SCYLLA_NODES).filter(|n| !n.trim().is_empty()) {
            store.insert("nodes".into(), toml::Value::Array(docflow_store::config::split_nodes(&n).into_iter().map(toml::Value::String).collect()));
            changed = true;
        }
    }
    if !store.contains_key("keyspace") {
        if let Some(k) = lookup(SCYLLA_KEYSPACE).map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()) {
            store.insert("keyspace".into(), toml::Value::String(k));
            changed = true;
        }
    }
    changed
}

/// The store's security and locality settings from the environment, filling
/// what the config leaves out (`docflow_store::store_env::apply`: user,
/// password or a file holding it, TLS files, local datacenter). Call after
/// `StoreConfig::from_env()` or loading `[store]`. Errors name the variable
/// and never show a secret.
pub fn apply_store_env(store: &mut StoreConfig, lookup: impl Fn(&str) -> Option<String>) -> Result<(), StoreEnvError> {
    docflow_store::store_env::apply(store, lookup)
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
            precision = "int8"
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
        assert_eq!(cfg.infer.precision, docflow_model::Precision::Int8);
        assert_eq!(cfg.learn_config().scored_topic, "t1.docs.scored");
        assert_eq!(cfg.stage_config("learn").unwrap().input_topics, vec!["t1.docs.feedback", "t1.docs.scored"]);
        assert_eq!(cfg.score_config().updates_topic, "t1.model.updates");
        assert!(cfg.topics().unwrap().contains(&"t1.docs.dlq".to_string()));
    }

    #[test]
    fn results_and_dlq_codecs() {
        let cfg = PipelineConfig::from_toml("store_backend = \"memory\"\nresults_codec = \"json\"\ndlq_codec = \"json\"\n[stage.infer]\ndlq_codec = \"msgpack\"\n").unwrap();
        assert_eq!(cfg.stage_config("persist").unwrap().output_codec, OutputCodec::Json);
        assert_eq!(cfg.stage_config("score").unwrap().output_codec, OutputCodec::Msgpack);
        assert_eq!(cfg.stage_config("parse").unwrap().dlq_codec, OutputCodec::Json);
        assert_eq!(cfg.stage_config("infer").unwrap().dlq_codec, OutputCodec::Msgpack);
        let default = PipelineConfig::from_toml("store_backend = \"memory\"\n").unwrap();
        assert_eq!(default.stage_config("persist").unwrap().output_codec, OutputCodec::Msgpack);
    }

    #[test]
    fn unknown_keys_are_errors_everywhere() {
        for bad in ["brokerz = \"x\"", "[infer]\ndevic = \"cpu\"", "[stage.parse]\nbatchsize = 1", "[stage.nope]\nbatch_size = 1", "[store]\nnode = []", "[infer]\ndevice = \"tpu\"", "[infer]\nprecision = \"int4\""] {
            assert!(PipelineConfig::from_toml(bad).is_err(), "{bad}");
        }
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn tmp_pem(name: &str, label: &str) -> String {
        let dir = std::env::temp_dir().join(format!("docflow-stages-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, format!("-----BEGIN {label}-----\nMIIB\n-----END {label}-----\n")).unwrap();
        p.display().to_string()
    }

    #[test]
    fn kafka_security_reaches_every_stage_and_the_file_wins_per_key() {
        let ca = tmp_pem("kafka-ca.crt", "CERTIFICATE");
        let mut cfg = PipelineConfig::from_toml("store_backend = \"memory\"\n[stage.infer.kafka]\n\"sasl.mechanism\" = \"SCRAM-SHA-256\"\n").unwrap();
        cfg.apply_env_from(env(&[
            ("DOCFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("DOCFLOW_KAFKA_SASL_USERNAME", "docflow"),
            ("DOCFLOW_KAFKA_SASL_PASSWORD", "pw-1"),
            ("DOCFLOW_KAFKA_TLS_CA_FILE", &ca),
        ]))
        .unwrap();
        for name in STAGES {
            let k = cfg.stage_config(name).unwrap().kafka;
            assert_eq!(k["security.protocol"], "sasl_ssl", "{name}");
            assert_eq!(k["sasl.password"], "pw-1", "{name}");
            assert_eq!(k["ssl.ca.location"], ca, "{name}");
            assert_eq!(k["sasl.mechanism"], if name == "infer" { "SCRAM-SHA-256" } else { "SCRAM-SHA-512" }, "{name}");
        }
        assert!(!format!("{cfg:?}").contains("pw-1"), "Debug shows the Kafka password");
        cfg.check().unwrap();
    }

    #[test]
    fn delivery_from_the_file_and_the_environment() {
        use docflow_runtime::DeliveryMode;
        let mut cfg = PipelineConfig::from_toml("store_backend = \"memory\"\n[stage.persist]\ndelivery = \"exactly_once\"\n").unwrap();
        assert_eq!(cfg.stage_config("persist").unwrap().delivery, DeliveryMode::ExactlyOnce, "per stage");
        assert_eq!(cfg.stage_config("parse").unwrap().delivery, DeliveryMode::AtLeastOnce);
        let mut all = PipelineConfig::from_toml("store_backend = \"memory\"\ndelivery = \"exactly_once\"\n").unwrap();
        assert!(["parse", "infer", "score", "persist", "learn"].iter().all(|s| all.stage_config(s).unwrap().exactly_once()));
        all.apply_env_from(env(&[("DOCFLOW_DELIVERY", "at-least-once")])).unwrap();
        assert_eq!(all.stage_config("score").unwrap().delivery, DeliveryMode::AtLeastOnce, "the environment wins");
        cfg.apply_env_from(env(&[("DOCFLOW_DELIVERY", "exactly_once")])).unwrap();
        assert!(cfg.stage_config("infer").unwrap().exactly_once());
        let e = cfg.apply_env_from(env(&[("DOCFLOW_DELIVERY", "twice")])).unwrap_err();
        assert!(e.to_string().contains("DOCFLOW_DELIVERY"), "{e}");
    }

    #[test]
    fn kafka_env_errors_name_the_variable() {
        let mut cfg = PipelineConfig::from_toml("store_backend = \"memory\"").unwrap();
        let e = cfg.apply_env_from(env(&[("DOCFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"), ("DOCFLOW_KAFKA_SASL_USERNAME", "u")])).unwrap_err();
        assert!(e.to_string().contains("missing secret DOCFLOW_KAFKA_SASL_PASSWORD"), "{e}");
    }

    #[test]
    fn store_credentials_and_tls_from_the_environment() {
        let ca = tmp_pem("scylla-ca.crt", "CERTIFICATE");
        let mut s = StoreConfig::default();
        apply_store_env(&mut s, env(&[("DOCFLOW_SCYLLA_USER", "docflow"), ("DOCFLOW_SCYLLA_PASSWORD", "pw"), ("DOCFLOW_SCYLLA_TLS_CA_FILE", &ca)])).unwrap();
        assert_eq!(s.username.as_deref(), Some("docflow"));
        assert_eq!(s.tls.as_ref().and_then(|t| t.ca_file.as_ref()).map(|p| p.display().to_string()), Some(ca));
        s.validate().unwrap();

        let e = apply_store_env(&mut StoreConfig::default(), env(&[("DOCFLOW_SCYLLA_USER", "docflow")])).unwrap_err();
        assert!(e.to_string().starts_with("missing secret DOCFLOW_SCYLLA_PASSWORD"), "{e}");
        let e = apply_store_env(&mut StoreConfig::default(), env(&[("DOCFLOW_SCYLLA_TLS_CA_FILE", "/nonexistent/ca.crt")])).unwrap_err();
        assert!(e.to_string().contains("DOCFLOW_SCYLLA_TLS_CA_FILE=/nonexistent/ca.crt"), "{e}");
        let e = apply_store_env(&mut StoreConfig::default(), env(&[("DOCFLOW_SCYLLA_PASSWORD", "pw")])).unwrap_err();
        assert!(e.to_string().contains("DOCFLOW_SCYLLA_USER"), "{e}");
        // A user in the file, the password from the environment.
        let mut cfg = PipelineConfig::from_toml("[store]\nusername = \"fileuser\"\n").unwrap();
        cfg.apply_env_from(env(&[("DOCFLOW_SCYLLA_PASSWORD", "pw")])).unwrap();
        assert_eq!((cfg.store.username.as_deref(), cfg.store.password.as_deref()), (Some("fileuser"), Some("pw")));
    }

    #[test]
    fn a_store_table_keeps_the_environment_for_what_it_leaves_out() {
        let mut t: toml::Table = toml::from_str("max_in_flight = 8").unwrap();
        assert!(fill_store_table_from_env(&mut t, env(&[("DOCFLOW_SCYLLA_NODES", "a:1, b:2"), ("DOCFLOW_KEYSPACE", "ks1")])));
        let s: StoreConfig = toml::Value::Table(t).try_into().unwrap();
        assert_eq!((s.nodes, s.keyspace.as_str(), s.max_in_flight), (vec!["a:1".to_string(), "b:2".to_string()], "ks1", 8));
        let mut t: toml::Table = toml::from_str("nodes = [\"c:3\"]").unwrap();
        assert!(!fill_store_table_from_env(&mut t, env(&[("DOCFLOW_SCYLLA_NODES", "a:1")])));
    }
}
