//! Helpers for tests and benchmarks that talk to a real broker: topic
//! creation, fast producing of test documents, reading a topic back, unique
//! names, and HTTP probes of a stage's `/metrics`, `/healthz`, `/readyz`
//! endpoint. Used by `tests/`, the test process and the benchmark binary.
//! (What a test does when Kafka is not up is `docflow_testkit::require_kafka`.)

use crate::passthrough::TestDoc;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Why a helper could not set up or read back its test data.
#[derive(Debug, thiserror::Error)]
pub enum TestKafkaError {
    /// A Kafka client could not be created, or a call to the broker failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("creating topic {topic}")]
    CreateTopic { topic: String, source: RDKafkaErrorCode },
    /// The topic was created but its partitions have no leader yet.
    #[error("topic {0} not ready in time")]
    TopicNotReady(String),
    #[error(transparent)]
    Encode(#[from] docflow_schemas::CodecError),
    /// `deploy/local/scratch-kafka.sh` failed; `stderr` says why.
    #[error("scratch-kafka.sh {args}: {stderr}")]
    Script { args: String, stderr: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("no free port pair on 127.0.0.1")]
    NoFreePorts,
}

/// Brokers from `DOCFLOW_KAFKA_BROKERS` (default `127.0.0.1:9092`).
pub fn brokers() -> String {
    crate::config::default_brokers()
}

/// `Ok` when a broker answers; otherwise why not.
pub fn kafka_reachable(brokers: &str) -> Result<(), String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| e.to_string())?;
    c.fetch_metadata(None, Duration::from_secs(5)).map(|_| ()).map_err(|e| format!("Kafka at {brokers} unreachable: {e}"))
}

/// The delivery mode integration tests run their stages in:
/// `DOCFLOW_DELIVERY` when set (to run the delivery tests once per mode),
/// else at-least-once.
pub fn delivery_mode() -> Result<crate::config::DeliveryMode, crate::config::ConfigError> {
    match std::env::var(crate::config::DeliveryMode::ENV) {
        Ok(v) => crate::config::DeliveryMode::parse(&v),
        Err(_) => Ok(crate::config::DeliveryMode::default()),
    }
}

/// A name unique to this run: `<prefix>-<8 hex>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Create topics (replication 1, `max.message.bytes` as docflow's topics)
/// and wait until their metadata is visible.
pub async fn create_topics(brokers: &str, topics: &[(&str, i32)]) -> Result<(), TestKafkaError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let max_message = docflow_schemas::MAX_MESSAGE_BYTES.to_string();
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|(t, p)| NewTopic::new(t, *p, TopicReplication::Fixed(1)).set("max.message.bytes", &max_message)).collect();
    for r in admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)))).await? {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, source)) => return Err(TestKafkaError::CreateTopic { topic, source }),
        }
    }
    let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    for (t, p) in topics {
        loop {
            let ok = probe
                .fetch_metadata(Some(t), Duration::from_secs(5))
                .ok()
                .and_then(|md| md.topics().first().map(|m| m.error().is_none() && m.partitions().len() == *p as usize && m.partitions().iter().all(|p| p.leader() >= 0)))
                .unwrap_or(false);
            if ok {
                break;
            }
            if Instant::now() >= deadline {
                return Err(TestKafkaError::TopicNotReady(t.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// A fast producer for test data (acks=all, lz4).
pub fn producer(brokers: &str) -> Result<ThreadedProducer<DefaultProducerContext>, TestKafkaError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("message.max.bytes", docflow_schemas::MAX_MESSAGE_BYTES.to_string())
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()?)
}

/// Produce one raw record, retrying while the local queue is full.
pub fn send_raw(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: &[(&str, &[u8])],
) -> Result<(), TestKafkaError> {
    let mut h = OwnedHeaders::new_with_capacity(headers.len());
    for (k, v) in headers {
        h = h.insert(Header { key: k, value: Some(*v) });
    }
    let mut record = BaseRecord::to(topic).key(key).payload(payload).headers(h);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// Produce a [`TestDoc`] with the docflow codec headers.
pub fn send_doc(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, doc: &TestDoc) -> Result<(), TestKafkaError> {
    let enc = docflow_schemas::encode(doc, &docflow_schemas::Limits::DEFAULT)?;
    let schema = docflow_schemas::schema_header_value();
    send_raw(
        producer,
        topic,
        doc.id.as_bytes(),
        &enc.bytes,
        &[(docflow_schemas::HEADER_CODEC, enc.codec.header_value().as_bytes()), (docflow_schemas::HEADER_SCHEMA, schema.as_bytes())],
    )
}

/// Wait until everything produced is acknowledged.
pub fn flush(producer: &ThreadedProducer<DefaultProducerContext>) -> Result<(), TestKafkaError> {
    producer.flush(Duration::from_secs(60))?;
    Ok(())
}

/// A test document with a `size`-byte body.
pub fn test_doc(seq: u64, size: usize) -> TestDoc {
    let mut body = vec![0u8; size];
    // Text-like, mildly compressible content (not all zeros: lz4 would hide costs).
    for (i, b) in body.iter_mut().enumerate() {
        *b = b"abcdefghijklmnopqrstuvwxyz0123456789 "[(i * 7 + seq as usize * 13) % 37];
    }
    TestDoc { id: format!("doc-{seq:08}"), seq, created_at_ms: crate::dlq::now_ms(), body }
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
pub fn read_topic(brokers: &str, topic: &str, timeout: Duration, mut done: impl FnMut(&[Consumed]) -> bool) -> Result<Vec<Consumed>, TestKafkaError> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("docflow-reader"))
        .set("enable.auto.commit", "false")
        // Only committed transactions (librdkafka's default, said out loud:
        // exactly-once tests count what a read_committed consumer sees).
        .set("isolation.level", "read_committed")
        .create()?;
    let parts = crate::lag::partitions_of(&c, topic, Duration::from_secs(10))?;
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

/// Resident set size of a process in KiB (Linux `/proc`), if readable.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// `GET path` from a stage's metrics/health endpoint over a plain socket:
/// (status, body). A test helper: a refused connection, a truncated answer
/// or a `Content-Length` that disagrees with the body panics with the reason.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("socket timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\nAccept: text/plain\r\n\r\n").expect("send the request");
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap_or_else(|e| panic!("read the answer to GET {path}: {e}"));
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or_else(|| panic!("an incomplete HTTP answer to GET {path}: {resp:?}"));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status code in {head:?}"));
    let len: Option<usize> = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.trim().parse().ok());
    assert_eq!(len, Some(body.len()), "Content-Length of GET {path} matches the body");
    (status, body.to_owned())
}

/// Poll `GET path` (off the async threads) until it answers `want`; the
/// body of that answer. Panics with the last answer after `timeout`.
pub async fn wait_http_status(addr: SocketAddr, path: &str, want: u16, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let p = path.to_owned();
        let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, &p)).await.expect("probe thread");
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} stayed {status} ({body:?}), wanted {want} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    pub fn start(parent: &std::path::Path) -> Result<Self, TestKafkaError> {
        let port = free_port_pair()?;
        let kafka = Self { dir: parent.join(unique("scratch-kafka")), port };
        kafka.up()?;
        Ok(kafka)
    }

    /// `host:port` for clients.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn run(&self, args: &[&str]) -> Result<(), TestKafkaError> {
        let out = std::process::Command::new("bash").arg(Self::script()).args(args).output()?;
        if !out.status.success() {
            return Err(TestKafkaError::Script { args: format!("{args:?}"), stderr: String::from_utf8_lossy(&out.stderr).into_owned() });
        }
        Ok(())
    }

    /// Start (again, on the same data) and wait until it answers.
    pub fn up(&self) -> Result<(), TestKafkaError> {
        let dir = self.dir.to_string_lossy().into_owned();
        self.run(&["up", &dir, &self.port.to_string()])
    }

    /// SIGKILL the broker: no controlled shutdown.
    pub fn kill9(&self) -> Result<(), TestKafkaError> {
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
fn free_port_pair() -> Result<u16, TestKafkaError> {
    for _ in 0..50 {
        let a = std::net::TcpListener::bind("127.0.0.1:0")?;
        let p = a.local_addr()?.port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return Ok(p);
        }
    }
    Err(TestKafkaError::NoFreePorts)
}
