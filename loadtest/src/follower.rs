//! Results follower: reads `docs.results` and `docs.dlq` from the end
//! offsets captured *before* publishing starts (partitions assigned at their
//! high watermarks, no consumer group offsets involved), and classifies each
//! record in the [`Ledger`] by document id.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use docflow_schemas::{codec_from_headers, decode, DeadLetter, Limits, ResultRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;

use crate::ledger::{Ledger, Outcome};

/// How long metadata and watermark queries may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors setting up the follower.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic {0:?} does not exist or has no partitions")]
    NoTopic(String),
}

/// A consumer positioned at the current end of the followed topics.
pub struct Follower {
    consumer: BaseConsumer,
    results: String,
    dlq: String,
}

impl Follower {
    /// Connects and assigns every partition of `results` and `dlq` at its
    /// current high watermark, so only records produced from now on are seen.
    pub fn at_end(brokers: &str, results: &str, dlq: &str) -> Result<Self, FollowError> {
        let consumer = observer_consumer(brokers, "results")?;
        assign_at_end(&consumer, &[results, dlq])?;
        Ok(Self { consumer, results: results.into(), dlq: dlq.into() })
    }

    /// Polls until `stop` is set, recording every sighting in `ledger`.
    /// Blocking: run it on its own thread.
    pub fn run(self, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) {
        let limits = Limits::default();
        while !stop.load(Ordering::Relaxed) {
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(m)) => self.classify(&m, &ledger, &limits),
                // Transient client errors (broker restart…): librdkafka recovers.
                Some(Err(e)) => eprintln!("loadtest: follower: {e}"),
            }
        }
    }

    fn classify(&self, m: &BorrowedMessage<'_>, ledger: &Ledger, limits: &Limits) {
        let at = Instant::now();
        let key = m.key().and_then(|k| std::str::from_utf8(k).ok()).map(str::to_string);
        let headers: Vec<(&str, Option<&[u8]>)> =
            m.headers().map(|h| h.iter().map(|h| (h.key, h.value)).collect()).unwrap_or_default();
        let payload = m.payload().unwrap_or_default();
        let codec = codec_from_headers(headers);
        if m.topic() == self.results {
            let rec = codec.ok().and_then(|c| decode::<ResultRecord>(payload, c, limits).ok());
            // The value's id is authoritative; the key (also the id) is the fallback.
            let id = match (rec, key) {
                (Some(r), _) => r.id,
                (None, Some(k)) => {
                    ledger.undecodable();
                    k
                }
                (None, None) => return ledger.undecodable(),
            };
            ledger.observe(&id, Outcome::Delivered, None, at);
        } else if m.topic() == self.dlq {
            let dl = codec.ok().and_then(|c| decode::<DeadLetter>(payload, c, limits).ok());
            let reason = dl.as_ref().map(|d| d.error_kind.clone()).unwrap_or_else(|| "undecodable".into());
            // On docs.dlq the Kafka key is the original key (the document id).
            let id = key.or_else(|| {
                dl.and_then(|d| d.original_key).and_then(|k| String::from_utf8(k).ok())
            });
            match id {
                Some(id) => ledger.observe(&id, Outcome::DeadLettered, Some(&reason), at),
                None => ledger.undecodable(),
            }
        }
    }
}

/// A consumer that only watches: a group of its own (`role`, process and
/// time in the name; never used for offsets, but librdkafka wants one),
/// nothing committed or stored, no end-of-partition events.
pub(crate) fn observer_consumer(brokers: &str, role: &str) -> Result<BaseConsumer, FollowError> {
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("docflow-loadtest-{role}-{}-{nonce}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .create()?)
}

/// Assigns every partition of `topics` at its current high watermark, so
/// only records produced from now on are seen.
pub fn assign_at_end(consumer: &BaseConsumer, topics: &[&str]) -> Result<(), FollowError> {
    let mut tpl = TopicPartitionList::new();
    for &topic in topics {
        let md = consumer.fetch_metadata(Some(topic), QUERY_TIMEOUT)?;
        let t = md.topics().iter().find(|t| t.name() == topic).ok_or_else(|| FollowError::NoTopic(topic.into()))?;
        if t.error().is_some() || t.partitions().is_empty() {
            return Err(FollowError::NoTopic(topic.into()));
        }
        for p in t.partitions() {
            let high = end_offset(consumer, topic, p.id())?;
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(high))?;
        }
    }
    consumer.assign(&tpl)?;
    Ok(())
}

/// The end offset of one partition. A topic created a moment ago may not have
/// a leader yet (`NotLeaderForPartition`, `LeaderNotAvailable`): those answers
/// are transient, so ask again for a few seconds before giving up.
fn end_offset(consumer: &BaseConsumer, topic: &str, partition: i32) -> Result<i64, FollowError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        match consumer.fetch_watermarks(topic, partition, QUERY_TIMEOUT) {
            Ok((_, high)) => return Ok(high),
            Err(e) if std::time::Instant::now() < deadline && is_transient(&e) => {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_transient(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(C::NotLeaderForPartition | C::LeaderNotAvailable | C::UnknownTopicOrPartition | C::RequestTimedOut)
    )
}
