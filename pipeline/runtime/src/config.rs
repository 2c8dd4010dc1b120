//! [`StageConfig`]: everything one stage process needs to know, with
//! defaults. Every field is documented; this file is the user reference
//! (one `[stage.<name>]` table of the docflow TOML config deserialises into it).

use crate::backpressure::BackpressureConfig;
use crate::priority::PriorityConfig;
use crate::retry::RetryPolicy;
use docflow_schemas::{Codec, CodecError, Encoded, Limits};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of one stage runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageConfig {
    /// Kafka bootstrap servers, comma separated.
    pub brokers: String,
    /// Topics consumed. With priority lanes enabled and more than one topic,
    /// they are lanes, highest priority first (`docs.raw.critical`, …).
    pub input_topics: Vec<String>,
    /// Topic of outputs that name none. May be unset for a stage whose
    /// outputs always name their topic (or that produces nothing).
    pub output_topic: Option<String>,
    /// Consumer group; every process running this stage shares it.
    pub group_id: String,
    /// Dead-letter topic for records that cannot be processed.
    pub dlq_topic: String,
    /// Most records handed to one `Stage::process` call.
    pub batch_size: usize,
    /// Longest a partial batch waits for more records (ms).
    pub batch_linger_ms: u64,
    /// Batches processed concurrently (worker tasks). Each partition is
    /// always handled by the same worker, which keeps it in order.
    pub concurrency: usize,
    /// Most records between consumption and acknowledgement of all their
    /// outputs; above it the stage stops fetching (bounded memory).
    pub max_in_flight: usize,
    /// Most payload bytes in flight, same meaning as `max_in_flight`.
    pub max_in_flight_bytes: usize,
    /// Input records larger than this are dead-lettered unread (`too_large`).
    /// Default: the wire limit, 16 MiB (`docflow_schemas::Limits::DEFAULT`),
    /// which the topics' `max.message.bytes` admits.
    pub max_record_bytes: usize,
    /// Encoding of the stage's outputs: `msgpack` (MessagePack, LZ4-framed
    /// above 1 KiB when that is smaller; the default) or `json` (UTF-8 JSON,
    /// header `docflow-codec: json`) for consumers without MessagePack.
    pub output_codec: OutputCodec,
    /// Encoding of the stage's dead letters, as `output_codec`. In JSON the
    /// original key and value are base64 strings; a dead letter whose JSON
    /// would exceed the record limit is written as MessagePack (the header
    /// says which).
    pub dlq_codec: OutputCodec,
    /// Retries of errors whose hint is `Retry`.
    pub retry: RetryPolicy,
    /// Pause while the next stage lags.
    pub backpressure: BackpressureConfig,
    /// Priority lanes over `input_topics`.
    pub priority: PriorityConfig,
    /// On shutdown, how long to wait for in-flight records to finish before
    /// committing what is done and exiting (ms).
    pub drain_timeout_ms: u64,
    /// On partition revoke, how long to wait for the revoked partitions'
    /// in-flight records before committing what is done (ms).
    pub rebalance_drain_timeout_ms: u64,
    /// How often stored offsets are committed (ms).
    pub commit_interval_ms: u64,
    /// How long the producer keeps retrying one output before the stage stops
    /// with an error (ms); the input is then not committed and is replayed.
    pub delivery_timeout_ms: u64,
    /// Producer linger (ms): trades a little latency for larger requests.
    pub linger_ms: u64,
    /// `at_least_once` (default): outputs are acknowledged before offsets
    /// are committed; a crash replays (duplicates, never loss).
    /// `exactly_once`: consume-process-produce in Kafka transactions (outputs
    /// and input offsets commit together, inputs read `read_committed`),
    /// so downstream `read_committed` consumers see each output once.
    /// Also `DOCFLOW_DELIVERY` for `docflow run` / `docflow stage`.
    pub delivery: DeliveryMode,
    /// Exactly-once: how often the open transaction commits (ms). Outputs
    /// become visible downstream at commit, so this adds up to this much
    /// latency per stage; shorter costs more broker round trips.
    pub transaction_interval_ms: u64,
    /// Exactly-once: `transaction.timeout.ms`, how long the broker lets a
    /// transaction stay open before aborting it (ms). A replica that dies
    /// with an open transaction and does not come back (under the same
    /// group instance id) holds back `read_committed` readers of its output
    /// partitions for up to this long. Also caps `delivery_timeout_ms`.
    pub transaction_timeout_ms: u64,
    /// Static group membership (KIP-345): the consumer joins with a stable
    /// `group.instance.id` (`DOCFLOW_GROUP_INSTANCE_ID`-`<stage>`, else
    /// `<host>-<stage>`, `-<n>` for further replicas on the same host), so a
    /// replica restarted after a crash takes its partitions back at once.
    /// On a planned stop it still leaves the group, handing its partitions
    /// over at once. `false`: dynamic membership.
    pub static_membership: bool,
    /// Extra librdkafka properties applied to the consumer and the producer
    /// (e.g. `"security.protocol" = "ssl"`); they override the runtime's.
    pub kafka: BTreeMap<String, String>,
}

impl Default for StageConfig {
    fn default() -> Self {
        Self {
            brokers: default_brokers(),
            input_topics: Vec::new(),
            output_topic: None,
            group_id: String::new(),
            dlq_topic: docflow_schemas::topology::DLQ.name().to_owned(),
            batch_size: 256,
            batch_linger_ms: 5,
            concurrency: 2,
            max_in_flight: 20_000,
            max_in_flight_bytes: 64 << 20,
            max_record_bytes: docflow_schemas::Limits::DEFAULT.max_encoded_bytes,
            output_codec: OutputCodec::Msgpack,
            dlq_codec: OutputCodec::Msgpack,
            retry: RetryPolicy::default(),
            backpressure: BackpressureConfig::default(),
            priority: PriorityConfig::default(),
            drain_timeout_ms: 15_000,
            rebalance_drain_timeout_ms: 5_000,
            commit_interval_ms: 1_000,
            delivery_timeout_ms: 120_000,
            linger_ms: 5,
            delivery: DeliveryMode::AtLeastOnce,
            transaction_interval_ms: 100,
            transaction_timeout_ms: 60_000,
            static_membership: true,
            kafka: BTreeMap::new(),
        }
    }
}

/// Delivery guarantee of a stage ([`StageConfig::delivery`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Offsets follow acknowledgements; replays after failures.
    #[default]
    AtLeastOnce,
    /// Kafka transactions: outputs and offsets commit atomically.
    ExactlyOnce,
}

impl DeliveryMode {
    /// Environment variable that sets the mode of every stage of `docflow run` / `docflow stage`.
    pub const ENV: &'static str = "DOCFLOW_DELIVERY";

    /// `at_least_once` | `exactly_once` (also `at-least-once`, `exactly-once`).
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "at_least_once" => Ok(Self::AtLeastOnce),
            "exactly_once" => Ok(Self::ExactlyOnce),
            other => Err(ConfigError(format!("delivery {other:?}: expected at_least_once or exactly_once"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtLeastOnce => "at_least_once",
            Self::ExactlyOnce => "exactly_once",
        }
    }
}

/// How a stage encodes what it writes (see [`StageConfig::output_codec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputCodec {
    /// MessagePack with named fields, LZ4-framed above the threshold when smaller.
    #[default]
    Msgpack,
    /// UTF-8 JSON (`docflow-codec: json`).
    Json,
}

impl OutputCodec {
    /// Encodes `value` with this codec.
    pub fn encode<T: Serialize>(self, value: &T, limits: &Limits) -> Result<Encoded, CodecError> {
        match self {
            OutputCodec::Msgpack => docflow_schemas::encode(value, limits),
            OutputCodec::Json => docflow_schemas::encode_with(value, Codec::Json, limits),
        }
    }
}

/// `DOCFLOW_KAFKA_BROKERS`, else `127.0.0.1:9092`.
pub fn default_brokers() -> String {
    std::env::var("DOCFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid stage config: {0}")]
pub struct ConfigError(pub String);

impl StageConfig {
    /// Minimal config for a stage; everything else defaulted.
    pub fn new(group_id: impl Into<String>, input_topics: Vec<String>, output_topic: Option<String>) -> Self {
        Self { group_id: group_id.into(), input_topics, output_topic, ..Self::default() }
    }

    /// Parse from TOML text (unknown keys are errors).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.to_string()))
    }

    /// Check invariants the runner relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: &str| Err(ConfigError(m.to_owned()));
        if self.brokers.trim().is_empty() {
            return err("brokers is empty");
        }
        if self.group_id.trim().is_empty() {
            return err("group_id is empty");
        }
        if self.input_topics.is_empty() {
            return err("input_topics is empty");
        }
        if self.input_topics.len() > 64 {
            return err("at most 64 input topics");
        }
        if self.batch_size == 0 || self.concurrency == 0 || self.max_in_flight == 0 {
            return err("batch_size, concurrency and max_in_flight must be > 0");
        }
        if self.max_in_flight < self.batch_size {
            return err("max_in_flight must be >= batch_size");
        }
        if self.backpressure.low_water > self.backpressure.high_water {
            return err("backpressure.low_water must be <= high_water");
        }
        if self.backpressure.downstream_group.is_some() && self.downstream_topic().is_none() {
            return err("backpressure needs downstream_topic or output_topic");
        }
        if self.exactly_once() {
            if self.transaction_interval_ms == 0 || self.transaction_timeout_ms < 1_000 {
                return err("transaction_interval_ms must be > 0 and transaction_timeout_ms >= 1000");
            }
            if self.transaction_interval_ms >= self.transaction_timeout_ms {
                return err("transaction_interval_ms must be below transaction_timeout_ms");
            }
        }
        Ok(())
    }

    /// Whether the stage runs in Kafka transactions.
    pub fn exactly_once(&self) -> bool {
        self.delivery == DeliveryMode::ExactlyOnce
    }

    /// The producer's `message.timeout.ms`: `delivery_timeout_ms`, capped by
    /// the transaction timeout in exactly-once mode (librdkafka requires it).
    pub fn message_timeout_ms(&self) -> u64 {
        if self.exactly_once() {
            self.delivery_timeout_ms.min(self.transaction_timeout_ms)
        } else {
            self.delivery_timeout_ms
        }
    }

    /// Topic whose downstream lag drives backpressure.
    pub fn downstream_topic(&self) -> Option<&str> {
        self.backpressure.downstream_topic.as_deref().or(self.output_topic.as_deref())
    }

    /// Whether input topics are treated as priority lanes.
    pub fn lanes_enabled(&self) -> bool {
        self.priority.enabled && self.input_topics.len() > 1
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }

    pub fn rebalance_drain_timeout(&self) -> Duration {
        Duration::from_millis(self.rebalance_drain_timeout_ms)
    }
}

/// Why a TOML overlay could not be laid over a [`StageConfig`]: the text
/// is not TOML, or it holds a key or value `StageConfig` does not have.
/// Shown as the TOML library's own message (line, column, key).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    #[error(transparent)]
    Base(#[from] toml::ser::Error),
}

/// `base` with the keys present in `text` laid over it (nested tables
/// merge); unknown keys are errors.
pub fn merge_toml(base: &StageConfig, text: &str) -> Result<StageConfig, MergeError> {
    let mut merged = toml::Table::try_from(base)?;
    let overlay: toml::Table = toml::from_str(text)?;
    merge_tables(&mut merged, overlay);
    // Deserialising the merged table applies deny_unknown_fields to the file's keys.
    Ok(StageConfig::deserialize(toml::Value::Table(merged))?)
}

fn merge_tables(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_with_defaults_and_nested_tables() {
        let cfg = StageConfig::from_toml(
            r#"
            group_id = "docflow-parse"
            input_topics = ["docs.raw.critical", "docs.raw.normal"]
            output_topic = "docs.parsed"
            batch_size = 64
            [backpressure]
            downstream_group = "docflow-infer"
            high_water = 5000
            low_water = 1000
            [kafka]
            "fetch.min.bytes" = "1"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.batch_size, 64);
        assert_eq!(cfg.dlq_topic, "docs.dlq");
        assert_eq!(cfg.backpressure.high_water, 5000);
        assert_eq!(cfg.backpressure.min_pause_ms, BackpressureConfig::default().min_pause_ms);
        assert_eq!(cfg.downstream_topic(), Some("docs.parsed"));
        assert!(cfg.lanes_enabled());
        cfg.validate().unwrap();
    }

    #[test]
    fn delivery_mode_from_toml_and_text() {
        let cfg = StageConfig::from_toml("group_id = \"g\"\ndelivery = \"exactly_once\"\n").unwrap();
        assert!(cfg.exactly_once());
        assert_eq!(cfg.message_timeout_ms(), 60_000, "capped by the transaction timeout");
        assert!(StageConfig::from_toml("delivery = \"twice\"\n").is_err());
        assert_eq!(DeliveryMode::parse(" Exactly-Once ").unwrap(), DeliveryMode::ExactlyOnce);
        assert_eq!(DeliveryMode::parse("at_least_once").unwrap(), DeliveryMode::AtLeastOnce);
        assert!(DeliveryMode::parse("once").is_err());
        assert!(!StageConfig::default().exactly_once());
    }

    #[test]
    fn output_codecs() {
        let cfg = StageConfig::from_toml("output_codec = \"json\"\n").unwrap();
        assert_eq!((cfg.output_codec, cfg.dlq_codec), (OutputCodec::Json, OutputCodec::Msgpack));
        assert!(StageConfig::from_toml("output_codec = \"xml\"\n").is_err());
        let enc = OutputCodec::Json.encode(&serde_json::json!({"id": "a"}), &Limits::DEFAULT).unwrap();
        assert_eq!((enc.codec, enc.bytes.as_slice()), (Codec::Json, br#"{"id":"a"}"#.as_slice()));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = StageConfig::from_toml("group_id = \"g\"\nbatchsize = 3\n").unwrap_err();
        assert!(e.0.contains("batchsize"), "{e}");
        let e = StageConfig::from_toml("[retry]\nmax_attempt = 3\n").unwrap_err();
        assert!(e.0.contains("max_attempt"), "{e}");
    }

    #[test]
    fn validation_catches_unrunnable_configs() {
        let ok = StageConfig::new("g", vec!["in".into()], Some("out".into()));
        ok.validate().unwrap();
        assert!(StageConfig { group_id: String::new(), ..ok.clone() }.validate().is_err());
        assert!(StageConfig { input_topics: vec![], ..ok.clone() }.validate().is_err());
        assert!(StageConfig { max_in_flight: 10, batch_size: 100, ..ok.clone() }.validate().is_err());
        let mut bp = ok.clone();
        bp.backpressure.low_water = bp.backpressure.high_water + 1;
        assert!(bp.validate().is_err());
        assert!(StageConfig { delivery: DeliveryMode::ExactlyOnce, transaction_interval_ms: 0, ..ok.clone() }.validate().is_err());
        let mut no_topic = StageConfig { output_topic: None, ..ok };
        no_topic.backpressure.downstream_group = Some("next".into());
        assert!(no_topic.validate().is_err());
    }

    #[test]
    fn toml_overlay_keeps_untouched_keys_and_rejects_typos() {
        let mut base = StageConfig::new("g", ["in.a", "in.b", "in.c", "in.d"].map(String::from).to_vec(), Some("out".into()));
        base.backpressure.downstream_group = Some("next".into());
        let cfg = merge_toml(&base, "batch_size = 32\n[backpressure]\nhigh_water = 7\nlow_water = 3\n").unwrap();
        assert_eq!(cfg.batch_size, 32);
        assert_eq!(cfg.backpressure.high_water, 7);
        assert_eq!(cfg.backpressure.downstream_group.as_deref(), Some("next"), "untouched keys survive");
        assert_eq!(cfg.input_topics.len(), 4);
        let e = merge_toml(&base, "bach_size = 1\n").unwrap_err();
        assert!(e.to_string().contains("bach_size"), "typos are errors that name the key: {e}");
    }
}
