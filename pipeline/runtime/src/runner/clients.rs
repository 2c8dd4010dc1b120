//! librdkafka client settings and the two contexts: the producer's delivery
//! callback (acks → [`InFlight`]) and the consumer's rebalance callback
//! (commit on revoke, re-apply pauses on assign).

use super::dispatch::Dispatch;
use super::pauses::PauseState;
use super::shared::{Delivery, InFlight, Shared};
use crate::config::StageConfig;
use crate::offsets::TpKey;
use docflow_core::StageError;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientConfig, ClientContext};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Producer settings: durable (acks=all, idempotent) and compact (lz4).
pub(crate) fn producer_config(cfg: &StageConfig, stage: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("client.id", format!("docflow-{stage}"))
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        // Outputs and dead letters of up to the wire limit (plus envelope)
        // must be producible; librdkafka's default is 1,000,000 bytes.
        .set("message.max.bytes", docflow_schemas::MAX_MESSAGE_BYTES.to_string())
        .set("linger.ms", cfg.linger_ms.to_string())
        .set("message.timeout.ms", cfg.delivery_timeout_ms.to_string())
        // The runtime bounds in-flight records itself; let librdkafka queue them.
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576");
    for (k, v) in &cfg.kafka {
        c.set(k, v);
    }
    c
}

/// Environment variable naming this replica for static group membership
/// (`group.instance.id` = `<value>-<stage>`); unset: dynamic membership.
pub const GROUP_INSTANCE_ID_ENV: &str = "DOCFLOW_GROUP_INSTANCE_ID";

/// Consumer settings: offsets stored by the runtime only after acks, and
/// committed in the background plus on revoke and shutdown.
pub(crate) fn consumer_config(cfg: &StageConfig, stage: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("client.id", format!("docflow-{stage}"))
        .set("group.id", &cfg.group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", cfg.commit_interval_ms.to_string())
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Incremental rebalances: adding a replica only moves the partitions it takes.
        .set("partition.assignment.strategy", "cooperative-sticky")
        // A killed replica's partitions move on within seconds, not 45 s.
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "2000")
        // Bounded prefetch keeps memory flat whatever the backlog.
        .set("queued.max.messages.kbytes", "16384")
        .set("enable.partition.eof", "false")
        // Statistics carry per-partition consumer lag (docflow_consumer_lag).
        .set("statistics.interval.ms", "2000");
    // Static membership (KIP-345) when the replica has a stable name (a
    // StatefulSet pod, a supervisor's slot): a replica restarted within the
    // session timeout takes its partitions back at once instead of waiting
    // for the group to notice the dead member and rebalance. The price: a
    // replica that stops for good keeps its partitions until the session
    // times out, as static members do not leave the group on close.
    if let Some(id) = std::env::var(GROUP_INSTANCE_ID_ENV).ok().filter(|v| !v.trim().is_empty()) {
        c.set("group.instance.id", format!("{}-{stage}", id.trim()));
    }
    for (k, v) in &cfg.kafka {
        c.set(k, v);
    }
    c
}

/// Routes delivery reports to the record they belong to.
pub(crate) struct ProducerCtx;

impl ClientContext for ProducerCtx {}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = Arc<InFlight>;

    fn delivery(&self, result: &DeliveryResult<'_>, record: Arc<InFlight>) {
        let outcome = match result {
            Ok(_) => {
                record.shared().outputs_acked.fetch_add(1, Ordering::Relaxed);
                Delivery::Acked
            }
            Err((e, _)) => classify_produce_error(e),
        };
        record.settle(outcome);
    }
}

/// Errors that belong to one output (it can never be written: dead-letter
/// its input) versus errors of the producer, broker or configuration such as
/// a missing topic (stop the stage; its input is replayed after restart).
pub(crate) fn classify_produce_error(e: &KafkaError) -> Delivery {
    use RDKafkaErrorCode as C;
    match e.rdkafka_error_code() {
        Some(C::MessageSizeTooLarge | C::InvalidMessageSize | C::InvalidRecord | C::InvalidMessage) => {
            Delivery::Rejected(StageError::internal("output_rejected", format!("broker rejected an output: {e}")))
        }
        _ => Delivery::Failed(e.to_string()),
    }
}

/// Consumer callbacks. Rebalance callbacks run on the poll thread inside
/// `poll()`, while the poll loop holds none of these locks.
pub(crate) struct ConsumerCtx {
    pub shared: Arc<Shared>,
    pub dispatch: Mutex<Dispatch>,
    pub pauses: Mutex<PauseState>,
    pub rebalance_drain_timeout: Duration,
}

impl ClientContext for ConsumerCtx {
    fn error(&self, error: KafkaError, reason: &str) {
        // All brokers down: not ready until records flow or partitions are
        // assigned again.
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::AllBrokersDown)) {
            self.shared.connected.store(false, Ordering::Relaxed);
        }
        tracing::error!(stage = %self.shared.stage_name, "librdkafka: {error}: {reason}");
    }

    /// Keep the committed-offset lag of the assigned input partitions
    /// (librdkafka reports -1 for partitions it does not consume).
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut lags = Vec::new();
        for (topic, t) in &statistics.topics {
            if self.shared.topic_index(topic).is_none() {
                continue;
            }
            for (p, part) in &t.partitions {
                if *p >= 0 && part.consumer_lag >= 0 {
                    lags.push((topic.clone(), *p, part.consumer_lag as u64));
                }
            }
        }
        lags.sort();
        *self.shared.consumer_lag.lock().unwrap_or_else(|p| p.into_inner()) = lags;
    }
}

impl ConsumerCtx {
    fn tp_keys(&self, tpl: &TopicPartitionList) -> Vec<TpKey> {
        tpl.elements().iter().filter_map(|e| self.shared.topic_index(e.topic()).map(|i| (i, e.partition()))).collect()
    }

    pub fn tpl_of(&self, tps: impl IntoIterator<Item = (TpKey, Option<i64>)>) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in tps {
            let topic = &self.shared.topics[topic as usize];
            match offset {
                Some(o) => {
                    // Only fails for an invalid offset value, which `Offset::Offset` is not.
                    let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(o));
                }
                None => {
                    tpl.add_partition(topic, partition);
                }
            }
        }
        tpl
    }

    pub fn lock_dispatch(&self) -> std::sync::MutexGuard<'_, Dispatch> {
        self.dispatch.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn lock_pauses(&self) -> std::sync::MutexGuard<'_, PauseState> {
        self.pauses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Revoke: hand queued records to the workers, wait (bounded) for the
    /// revoked partitions' in-flight records, then store and commit their
    /// contiguous completed offsets. What is still in flight is replayed by
    /// the next owner (duplicates, never loss).
    fn on_revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let tps = self.tp_keys(tpl);
        let lost = consumer.assignment_lost();
        let closing = self.shared.closing.load(Ordering::Acquire);
        if !lost && !closing {
            self.lock_dispatch().flush_all();
            let deadline = Instant::now() + self.rebalance_drain_timeout;
            while self.shared.book().pending_in(&tps) > 0 && Instant::now() < deadline && self.shared.fatal().is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut commits = Vec::new();
        let mut left = 0;
        {
            let mut book = self.shared.book();
            for tp in &tps {
                if let Some(tracker) = book.revoke(*tp) {
                    left += tracker.pending();
                    if let Some(cp) = tracker.commit_point() {
                        commits.push((*tp, Some(cp)));
                    }
                }
            }
        }
        self.lock_pauses().forget(&tps);
        tracing::info!(stage = %self.shared.stage_name, partitions = tps.len(), lost, still_in_flight = left, "partitions revoked");
        if lost || commits.is_empty() {
            return;
        }
        let tpl = self.tpl_of(commits);
        if let Err(e) = consumer.store_offsets(&tpl) {
            tracing::debug!("store on revoke: {e}");
        }
        if let Err(e) = consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync) {
            tracing::warn!(stage = %self.shared.stage_name, "commit on revoke failed (records will be replayed): {e}");
        }
    }

    fn on_assign(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let tps = self.tp_keys(tpl);
        {
            let mut book = self.shared.book();
            for tp in &tps {
                book.assign(*tp);
            }
        }
        // Newly assigned partitions start fetching unpaused: apply the
        // current pause decision to them before the first fetch returns.
        let mut pauses = self.lock_pauses();
        pauses.forget(&tps);
        pauses.apply(consumer, self, tps.iter().copied());
        self.shared.connected.store(true, Ordering::Relaxed);
        tracing::info!(stage = %self.shared.stage_name, partitions = tps.len(), "partitions assigned");
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => self.on_revoke(consumer, tpl),
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => tracing::warn!(stage = %self.shared.stage_name, "rebalance error: {e}"),
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.on_assign(consumer, tpl);
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!(stage = %self.shared.stage_name, "offset commit failed (retried at the next interval): {e}"),
        }
    }
}
