//! Kafka for integration tests: the broker the tests use, topics, producing
//! test documents (from `docflow_runtime::testdata`, which the runtime's
//! benchmark shares), reading a topic back, and a scratch broker of a
//! test's own to kill and restart. What a test does when Kafka is not up is
//! [`crate::require_kafka`].

pub use docflow_runtime::testdata::{create_topics, flush, kafka_reachable, producer, send_doc, send_raw, test_doc, unique, TestDataError};

use docflow_runtime::config::{ConfigError, DeliveryMode};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use std::time::{Duration, Instant};

/// Why a scratch broker could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScratchKafkaError {
    /// `deploy/local/scratch-kafka.sh` failed; `stderr` says why.
    #[error("scratch-kafka.sh {args}: {stderr}")]
    Script { args: String, stderr: String },
    #[error("running scratch-kafka.sh")]
    Run(#[source] std::io::Error),
    #[error("no free port pair on 127.0.0.1")]
    NoFreePorts,
}

/// Brokers from `DOCFLOW_KAFKA_BROKERS` (default `127.0.0.1:9092`).
pub fn brokers() -> String {
    docflow_runtime::config::default_brokers()
}

/// The delivery mode integration tests run their stages in:
/// `DOCFLOW_DELIVERY` when set (to run the delivery tests once per mode),
/// else at-least-once.
pub fn delivery_mode() -> Result<DeliveryMode, ConfigError> {
    match std::env::var(DeliveryMode::ENV) {
        Ok(v) => DeliveryMode::parse(&v),
        Err(_) => Ok(DeliveryMode::default()),
    }
}

/// A record read back from a topic.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: Option<i64>,
}

impl Consumed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Read `topic` from the beginning (no group) until `done(records)` holds
/// or `timeout` passes; returns what was read.
pub fn read_topic(brokers: &str, topic: &str, timeout: Duration, mut done: impl FnMut(&[Consumed]) -> bool) -> Result<Vec<Consumed>, KafkaError> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("docflow-reader"))
        .set("enable.auto.commit", "false")
        // Only committed transactions (librdkafka's default, said out loud:
        // exactly-once tests count what a read_committed consumer sees).
        .set("isolation.level", "read_committed")
        .create()?;
    let parts = docflow_runtime::lag::partitions_of(&c, topic, Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    for p in parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    c.assign(&tpl)?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while Instant::now() < deadline && !done(&out) {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(Consumed {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec())).collect())
                    .unwrap_or_default(),
                timestamp_ms: m.timestamp().to_millis(),
            }),
            Some(Err(e)) => tracing::debug!("read_topic: {e}"),
            None => {}
        }
    }
    Ok(out)
}

/// A throw-away single-node broker of its own (`deploy/local/scratch-kafka.sh`)
/// for tests that kill and restart Kafka without disturbing the shared local
/// stack. Stopped (SIGTERM, then SIGKILL) on drop.
pub struct ScratchKafka {
    dir: std::path::PathBuf,
    port: u16,
}

impl ScratchKafka {
    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/scratch-kafka.sh")
    }

    /// Why a scratch broker cannot start here (no Java, no cached Kafka jars), if so.
    pub fn unavailable() -> Option<String> {
        let java = std::env::var("JAVA_HOME").map(|h| format!("{h}/bin/java")).unwrap_or_else(|_| "java".to_owned());
        if std::process::Command::new(&java).arg("-version").output().is_err() {
            return Some(format!("{java} not found: a scratch Kafka needs Java 17+"));
        }
        let cache = std::env::var("DOCFLOW_JAR_CACHE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/docflow/jars"));
        let has_jars = std::fs::read_dir(&cache)
            .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("kafka-") && e.path().join(".complete").exists()))
            .unwrap_or(false);
        (!has_jars).then(|| format!("no Kafka jars in {} (run deploy/local/stack.sh fetch)", cache.display()))
    }

    /// Format and start a broker in a fresh directory under `parent` on a
    /// free port pair; returns once it answers.
    pub fn start(parent: &std::path::Path) -> Result<Self, ScratchKafkaError> {
        let port = free_port_pair()?;
        let kafka = Self { dir: parent.join(unique("scratch-kafka")), port };
        kafka.up()?;
        Ok(kafka)
    }

    /// `host:port` for clients.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn run(&self, args: &[&str]) -> Result<(), ScratchKafkaError> {
        let out = std::process::Command::new("bash").arg(Self::script()).args(args).output().map_err(ScratchKafkaError::Run)?;
        if !out.status.success() {
            return Err(ScratchKafkaError::Script { args: format!("{args:?}"), stderr: String::from_utf8_lossy(&out.stderr).into_owned() });
        }
        Ok(())
    }

    /// Start (again, on the same data) and wait until it answers.
    pub fn up(&self) -> Result<(), ScratchKafkaError> {
        let dir = self.dir.to_string_lossy().into_owned();
        self.run(&["up", &dir, &self.port.to_string()])
    }

    /// SIGKILL the broker: no controlled shutdown.
    pub fn kill9(&self) -> Result<(), ScratchKafkaError> {
        self.run(&["kill", &self.dir.to_string_lossy()])
    }
}

impl Drop for ScratchKafka {
    fn drop(&mut self) {
        let _ = self.run(&["down", &self.dir.to_string_lossy()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port `p` with `p + 1` free too (a broker and its controller).
fn free_port_pair() -> Result<u16, ScratchKafkaError> {
    for _ in 0..50 {
        let Ok(a) = std::net::TcpListener::bind("127.0.0.1:0") else { continue };
        let Ok(p) = a.local_addr().map(|a| a.port()) else { continue };
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return Ok(p);
        }
    }
    Err(ScratchKafkaError::NoFreePorts)
}
