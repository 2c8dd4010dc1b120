//! Reading `model.updates` (compacted, key = model name) without a consumer
//! group: every reader assigns all partitions from the beginning, so each
//! replica of the score stage and each (re)started learner sees the full
//! history. [`catch_up`] reads up to the high watermark taken at start
//! (the latest version before processing begins); [`follow`] then keeps
//! reading on a thread until stopped.

use docflow_runtime::stage::decode_record;
use docflow_runtime::{RawRecord, RecordMeta};
use docflow_schemas::{Limits, ModelUpdate};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why the updates topic could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UpdatesError {
    #[error("topic {topic}: {reason} (create it with `docflow topics apply`)")]
    Topic { topic: String, reason: rdkafka::error::KafkaError },
    #[error("topic {0} has no partitions (create it with `docflow topics apply`)")]
    NoPartitions(String),
    #[error("reading {topic} to its end took longer than {timeout:?}")]
    Timeout { topic: String, timeout: Duration },
    #[error(transparent)]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The thread reading the topic (off the async threads) panicked.
    #[error("reading the updates topic")]
    Reader(#[from] tokio::task::JoinError),
}

/// A group-less reader of the updates topic.
pub struct UpdatesReader {
    consumer: BaseConsumer,
    topic: String,
    key: String,
}

impl UpdatesReader {
    /// Assigns every partition of `topic` from the beginning. Only records
    /// keyed `key` (the model name) are returned.
    pub fn open(brokers: &str, topic: &str, key: &str, kafka: &BTreeMap<String, String>) -> Result<Self, UpdatesError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", brokers)
            // Never used for commits: assign() + no auto commit.
            .set("group.id", format!("docflow-updates-reader-{}", std::process::id()))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false");
        for (k, v) in kafka {
            cfg.set(k, v);
        }
        let consumer: BaseConsumer = cfg.create()?;
        let parts = docflow_runtime::lag::partitions_of(&consumer, topic, Duration::from_secs(10))
            .map_err(|reason| UpdatesError::Topic { topic: topic.to_owned(), reason })?;
        if parts.is_empty() {
            return Err(UpdatesError::NoPartitions(topic.to_owned()));
        }
        let mut tpl = TopicPartitionList::new();
        for p in parts {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        Ok(Self { consumer, topic: topic.to_owned(), key: key.to_owned() })
    }

    /// Reads until every partition reached the high watermark it had when
    /// this was called, handing each update to `apply` in offset order.
    /// Returns how many updates were read.
    pub fn catch_up(&self, timeout: Duration, mut apply: impl FnMut(ModelUpdate)) -> Result<usize, UpdatesError> {
        let deadline = Instant::now() + timeout;
        let assignment = self.consumer.assignment()?;
        let mut remaining: HashMap<i32, i64> = HashMap::new();
        for el in assignment.elements() {
            // A topic created moments ago may have no leader yet
            // (`NotLeaderForPartition`): asked again until the deadline.
            let (low, high) = loop {
                match self.consumer.fetch_watermarks(&self.topic, el.partition(), Duration::from_secs(10)) {
                    Ok(marks) => break marks,
                    Err(e) if Instant::now() < deadline => {
                        tracing::debug!(topic = %self.topic, "updates reader: watermarks not ready: {e}");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            if high > low {
                remaining.insert(el.partition(), high);
            }
        }
        let mut n = 0;
        while !remaining.is_empty() {
            if Instant::now() >= deadline {
                return Err(UpdatesError::Timeout { topic: self.topic.clone(), timeout });
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    if let Some(u) = self.decode(&m) {
                        apply(u);
                        n += 1;
                    }
                    if remaining.get(&m.partition()).is_some_and(|high| m.offset() + 1 >= *high) {
                        remaining.remove(&m.partition());
                    }
                }
                Some(Err(e)) => tracing::debug!(topic = %self.topic, "updates reader: {e}"),
                None => {
                    // Compaction can remove the last offsets: re-check the position.
                    remaining.retain(|p, high| {
                        let pos = self.consumer.position().ok().and_then(|tpl| tpl.find_partition(&self.topic, *p).map(|e| e.offset()));
                        !matches!(pos, Some(Offset::Offset(o)) if o >= *high)
                    });
                }
            }
        }
        Ok(n)
    }

    /// Keeps reading on a thread until `stop` is set, handing updates to `apply`.
    pub fn follow(self, stop: Arc<AtomicBool>, mut apply: impl FnMut(ModelUpdate) + Send + 'static) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("docflow-model-updates".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    match self.consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(m)) => {
                            if let Some(u) = self.decode(&m) {
                                apply(u);
                            }
                        }
                        Some(Err(e)) => tracing::warn!(topic = %self.topic, "model updates: {e}"),
                        None => {}
                    }
                }
            })
            .expect("spawning the model-updates thread")
    }

    /// A record as a `ModelUpdate`; other keys, tombstones and undecodable
    /// records are skipped with a log line (they are not ours to fix).
    fn decode(&self, m: &rdkafka::message::BorrowedMessage<'_>) -> Option<ModelUpdate> {
        if m.key().is_some_and(|k| k != self.key.as_bytes()) {
            return None;
        }
        let record = RawRecord {
            meta: RecordMeta { topic: self.topic.as_str().into(), partition: m.partition(), offset: m.offset(), timestamp_ms: m.timestamp().to_millis() },
            key: m.key().map(<[u8]>::to_vec),
            payload: Some(m.payload()?.to_vec()),
            headers: m.headers().map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect()).unwrap_or_default(),
        };
        let limits = Limits { max_encoded_bytes: 256 << 20, max_decoded_bytes: 256 << 20, ..Limits::DEFAULT };
        match decode_record::<ModelUpdate>(&record, &limits) {
            Ok(u) => Some(u),
            Err(e) => {
                tracing::warn!(topic = %self.topic, offset = m.offset(), "skipping an undecodable model update: {e}");
                None
            }
        }
    }
}
