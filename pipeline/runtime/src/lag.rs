//! Consumer lag: `high watermark − committed offset` per partition of a
//! topic for a consumer group. Used by the lag monitor (backpressure and
//! priority lanes) and by operators (`docflow status`).
//!
//! A partition the group never committed counts from the low watermark
//! (everything retained is unread). A known consumer position (records this
//! process already fetched) may replace an older committed offset.

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use std::collections::HashMap;
use std::time::Duration;

/// Lag of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
    /// The group's committed offset, if it has one.
    pub committed: Option<i64>,
    pub lag: u64,
}

/// Lag of a group on one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLag {
    pub topic: String,
    pub partitions: Vec<PartitionLag>,
}

impl TopicLag {
    pub fn total(&self) -> u64 {
        self.partitions.iter().map(|p| p.lag).sum()
    }
}

/// Partition ids of `topic` (an error if the topic does not exist).
pub fn partitions_of<C: ConsumerContext>(probe: &BaseConsumer<C>, topic: &str, timeout: Duration) -> KafkaResult<Vec<i32>> {
    let md = probe.fetch_metadata(Some(topic), timeout)?;
    let t = md.topics().iter().find(|t| t.name() == topic);
    match t {
        Some(t) if t.error().is_none() => Ok(t.partitions().iter().map(|p| p.id()).collect()),
        Some(t) => Err(rdkafka::error::KafkaError::MetadataFetch(t.error().map(Into::into).unwrap_or(rdkafka::types::RDKafkaErrorCode::UnknownTopic))),
        None => Err(rdkafka::error::KafkaError::MetadataFetch(rdkafka::types::RDKafkaErrorCode::UnknownTopic)),
    }
}

/// Lag of the probe's group (its `group.id`) on `topic`. `positions` holds
/// known consumer positions by partition that override older commits.
pub fn topic_lag<C: ConsumerContext>(
    probe: &BaseConsumer<C>,
    topic: &str,
    partitions: &[i32],
    positions: &HashMap<i32, i64>,
    timeout: Duration,
) -> KafkaResult<TopicLag> {
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition(topic, *p);
    }
    let committed = probe.committed_offsets(tpl, timeout)?;
    let mut out = Vec::with_capacity(partitions.len());
    for &p in partitions {
        let (low, high) = probe.fetch_watermarks(topic, p, timeout)?;
        let committed = committed.find_partition(topic, p).and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        });
        let consumed_to = committed.unwrap_or(low).max(low).max(positions.get(&p).copied().unwrap_or(i64::MIN));
        out.push(PartitionLag { partition: p, low, high, committed, lag: (high - consumed_to).max(0) as u64 });
    }
    Ok(TopicLag { topic: topic.to_owned(), partitions: out })
}

/// A client that reads `group`'s offsets without joining the group.
pub fn probe(brokers: &str, group: &str, extra: &std::collections::BTreeMap<String, String>) -> KafkaResult<BaseConsumer> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers).set("group.id", group).set("enable.auto.commit", "false").set("client.id", "docflow-lag-probe");
    for (k, v) in extra {
        c.set(k, v);
    }
    c.create()
}

/// One-shot: lag of `group` on `topic`. The probe uses the environment's
/// Kafka security settings (`docflow_core::kafka_env`).
pub fn group_lag(brokers: &str, group: &str, topic: &str, timeout: Duration) -> KafkaResult<TopicLag> {
    let security = docflow_core::kafka_client_properties().map_err(|e| rdkafka::error::KafkaError::ClientCreation(e.to_string()))?;
    let p = probe(brokers, group, &security)?;
    let parts = partitions_of(&p, topic, timeout)?;
    topic_lag(&p, topic, &parts, &HashMap::new(), timeout)
}
