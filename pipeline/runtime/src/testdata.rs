//! Test data on a real broker: topic creation, a fast producer of
//! [`TestDoc`]s, unique names. The runtime benchmark ([`crate::bench`])
//! needs them, and it ships in the `docflow` binary (`docflow bench
//! runtime`), so they live here rather than in the test-support crate
//! (`docflow-testkit` depends on this crate, for its Kafka probe). Tests
//! reach them through `docflow_testkit::kafka`, with the helpers only tests
//! use (reading a topic back, a scratch broker).

use crate::passthrough::TestDoc;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use std::time::{Duration, Instant};

/// Why test data could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TestDataError {
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
}

/// `Ok` when a broker answers; otherwise why not.
pub fn kafka_reachable(brokers: &str) -> Result<(), String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| e.to_string())?;
    c.fetch_metadata(None, Duration::from_secs(5)).map(|_| ()).map_err(|e| format!("Kafka at {brokers} unreachable: {e}"))
}

/// A name unique to this run: `<prefix>-<8 hex>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Create topics (replication 1, `max.message.bytes` as docflow's topics)
/// and wait until their metadata is visible.
pub async fn create_topics(brokers: &str, topics: &[(&str, i32)]) -> Result<(), TestDataError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let max_message = docflow_schemas::MAX_MESSAGE_BYTES.to_string();
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|(t, p)| NewTopic::new(t, *p, TopicReplication::Fixed(1)).set("max.message.bytes", &max_message)).collect();
    for r in admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)))).await? {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, source)) => return Err(TestDataError::CreateTopic { topic, source }),
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
                return Err(TestDataError::TopicNotReady(t.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// A fast producer for test data (acks=all, lz4).
pub fn producer(brokers: &str) -> Result<ThreadedProducer<DefaultProducerContext>, TestDataError> {
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
) -> Result<(), TestDataError> {
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
pub fn send_doc(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, doc: &TestDoc) -> Result<(), TestDataError> {
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
pub fn flush(producer: &ThreadedProducer<DefaultProducerContext>) -> Result<(), TestDataError> {
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
