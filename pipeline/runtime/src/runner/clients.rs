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
use rdkafka::producer::{ProducerContext, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientConfig, ClientContext};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Producer settings: durable (acks=all, idempotent) and compact (lz4).
/// Exactly-once: transactional (`transactional_id`), with the transaction
/// timeout and a message timeout within it.
pub(crate) fn producer_config(cfg: &StageConfig, stage: &str, transactional_id: Option<&str>) -> ClientConfig {
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
        .set("message.timeout.ms", cfg.message_timeout_ms().to_string())
        .set("reconnect.backoff.max.ms", "1000")
        // The runtime bounds in-flight records itself; let librdkafka queue them.
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576");
    if let Some(id) = transactional_id {
        c.set("transactional.id", id).set("transaction.timeout.ms", cfg.transaction_timeout_ms.to_string());
    }
    for (k, v) in &cfg.kafka {
        c.set(k, v);
    }
    c
}

/// Consumer settings: offsets stored by the runtime only after acks, and
/// committed by the poll loop every `commit_interval_ms` while the consumer
/// is a member of its group, plus on revoke and shutdown. (Not librdkafka's
/// auto-commit: a static member that commits after its session timed out,
/// before it rejoined, is fenced for good, which is fatal to the client.)
pub(crate) fn consumer_config(cfg: &StageConfig, stage: &str, instance_id: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("client.id", format!("docflow-{stage}"))
        .set("group.id", &cfg.group_id)
        .set("enable.auto.commit", "false")
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
        // Statistics carry per-partition consumer lag (docflow_consumer_lag)
        // and the group's state, which `/readyz` follows (see `membership`).
        .set("statistics.interval.ms", "1000")
        // Reconnect within a second of a broker's return, not after the
        // default backoff of up to 10 s.
        .set("reconnect.backoff.max.ms", "1000");
    if cfg.exactly_once() {
        // Offsets commit inside the transactions only; read only committed
        // records of the upstream stage's transactions.
        c.set("isolation.level", "read_committed");
    }
    // Static membership (see `instance`): a replica restarted within the
    // session timeout takes its partitions back without a rebalance.
    if let Some(id) = instance_id {
        c.set("group.instance.id", id);
    }
    for (k, v) in &cfg.kafka {
        c.set(k, v);
    }
    c
}

pub(crate) type StageProducer = ThreadedProducer<ProducerCtx>;

/// The stage's producer, as workers see it. Exactly-once replaces a producer
/// left in a fatal transactional state by a fresh one (see `transactions`);
/// workers take the current one for each record, while holding the
/// transaction gate, so none produces through a producer being replaced.
pub(crate) struct ProducerSlot(RwLock<Arc<StageProducer>>);

impl ProducerSlot {
    pub fn new(producer: Arc<StageProducer>) -> Self {
        Self(RwLock::new(producer))
    }

    pub fn current(&self) -> Arc<StageProducer> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Put `fresh` in place; returns the producer it replaces.
    pub fn replace(&self, fresh: Arc<StageProducer>) -> Arc<StageProducer> {
        std::mem::replace(&mut *self.0.write().unwrap_or_else(|p| p.into_inner()), fresh)
    }
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
    /// Exactly-once: the transactions, committed by the poll thread.
    pub txn: Option<Mutex<super::transactions::Transactions>>,
}

impl ClientContext for ConsumerCtx {
    fn error(&self, error: KafkaError, reason: &str) {
        // Consumer errors come through poll(); this sees the client's own.
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::AllBrokersDown)) {
            self.shared.membership.on_all_brokers_down();
        }
        tracing::error!(stage = %self.shared.stage_name, "librdkafka: {error}: {reason}");
    }

    /// Keep the committed-offset lag of the assigned input partitions
    /// (librdkafka reports -1 for partitions it does not consume).
    fn stats(&self, statistics: rdkafka::Statistics) {
        match self.shared.membership.on_stats(&statistics) {
            Some(true) => tracing::info!(stage = %self.shared.stage_name, "group coordinator reachable"),
            Some(false) => tracing::warn!(stage = %self.shared.stage_name, "group coordinator unreachable: not ready"),
            None => {}
        }
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

    /// Whether offsets may be committed now: the consumer holds its
    /// assignment and reaches the coordinator (see `consumer_config`).
    pub fn is_member(&self, consumer: &BaseConsumer<Self>) -> bool {
        self.shared.membership.ready().is_ok() && !consumer.assignment_lost()
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
        if lost {
            self.shared.membership.on_lost();
        }
        if !lost && !closing {
            self.lock_dispatch().flush_all();
            let deadline = Instant::now() + self.rebalance_drain_timeout;
            while self.shared.book().pending_in(&tps) > 0 && Instant::now() < deadline && self.shared.fatal().is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if let Some(txn) = &self.txn {
            // Exactly-once: the revoked partitions' progress commits with the
            // open transaction; what is still in flight is stale after the
            // revoke and is not produced (the next owner redoes it).
            if !lost {
                txn.lock().unwrap_or_else(|p| p.into_inner()).commit(consumer);
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
        if let (Some(txn), true) = (&self.txn, lost) {
            // The open transaction holds outputs of the lost partitions, which
            // their new owner redoes: abort it and redo the partitions kept.
            txn.lock().unwrap_or_else(|p| p.into_inner()).abort();
        }
        tracing::info!(stage = %self.shared.stage_name, partitions = tps.len(), lost, still_in_flight = left, "partitions revoked");
        if lost || commits.is_empty() || self.txn.is_some() || !self.is_member(consumer) {
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
        self.shared.membership.on_assign();
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
