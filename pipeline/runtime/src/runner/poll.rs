//! The poll thread: the only thread that polls the consumer.
//!
//! It never stops polling for long (so `max.poll.interval.ms` never evicts a
//! busy stage): when there is no room for more records it first waits a
//! short while for capacity, then pauses the partitions and keeps polling,
//! which serves rebalances and heartbeats-related events. Each iteration:
//! recompute pause reasons → apply changes → poll one record → batch it →
//! flush due batches → store offsets that moved.
//!
//! States: *Consuming* (the loop below) then *Draining* (after shutdown or a
//! fatal error: pause everything, hand over pending batches, wait for
//! in-flight records up to `drain_timeout`, store and commit).

use super::clients::ConsumerCtx;
use super::shared::{InFlight, LAG_UNKNOWN};
use crate::backpressure::Gate;
use crate::config::StageConfig;
use crate::metrics::StageMetrics;
use crate::offsets::TpKey;
use crate::stage::{RawRecord, RecordMeta};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the loop waits for capacity without polling before it pauses.
const CAPACITY_WAIT: Duration = Duration::from_millis(250);
/// How often moved commit points are stored.
const STORE_EVERY: Duration = Duration::from_millis(20);
/// Longest single poll.
const MAX_POLL: Duration = Duration::from_millis(100);
const STATS_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct PollLoop {
    consumer: Arc<BaseConsumer<ConsumerCtx>>,
    cfg: Arc<StageConfig>,
    gate: Gate,
    hard_since: Option<Instant>,
    last_store: Instant,
    last_commit: Instant,
    last_stats: Instant,
    /// The counters of the last stats line (starts at all zero, never logged).
    last_summary: String,
    applied: Option<super::pauses::Reasons>,
    assignment_seen: usize,
}

impl PollLoop {
    pub fn new(consumer: Arc<BaseConsumer<ConsumerCtx>>, cfg: Arc<StageConfig>) -> Self {
        let now = Instant::now();
        Self { consumer, cfg, gate: Gate::default(), hard_since: None, last_store: now, last_commit: now, last_stats: now, last_summary: StageMetrics::default().summary(), applied: None, assignment_seen: 0 }
    }

    fn ctx(&self) -> &ConsumerCtx {
        self.consumer.context()
    }

    /// Consume until shutdown or a fatal error, then drain.
    pub fn run(mut self) {
        let shared = self.ctx().shared.clone();
        loop {
            if shared.shutdown.is_triggered() || shared.fatal().is_some() {
                break;
            }
            if self.ctx().dispatch.lock().is_ok_and(|d| d.broken) {
                shared.set_fatal("a worker task died".to_owned());
                break;
            }
            let now = Instant::now();
            if self.update_pauses(now) {
                // Waiting for capacity without polling (bounded, see CAPACITY_WAIT).
                std::thread::sleep(Duration::from_millis(1));
                self.store_offsets(now, false);
                self.commit_transaction_if_due(now);
                continue;
            }
            let timeout = self.ctx().lock_dispatch().next_due().map_or(MAX_POLL, |due| due.saturating_duration_since(now).min(MAX_POLL));
            match self.consumer.poll(timeout) {
                Some(Ok(msg)) => self.accept(&msg),
                Some(Err(e)) => self.on_error(e),
                None => {}
            }
            let now = Instant::now();
            self.ctx().lock_dispatch().flush_due(now);
            self.store_offsets(now, false);
            self.commit_transaction_if_due(now);
            if now.duration_since(self.last_stats) >= STATS_EVERY {
                self.last_stats = now;
                // Only when something happened since the last line: an idle
                // stage stays quiet (the counters are on /metrics anyway).
                let summary = shared.metrics.summary();
                if summary != self.last_summary {
                    tracing::info!(stage = %shared.stage_name, in_flight = shared.in_flight.load(Ordering::Relaxed), "{summary}");
                    self.last_summary = summary;
                }
            }
        }
        self.drain();
    }

    /// Recompute pause reasons and apply changes. Returns true when the loop
    /// should wait for capacity instead of polling.
    fn update_pauses(&mut self, now: Instant) -> bool {
        let cfg = self.cfg.clone();
        let shared = self.ctx().shared.clone();
        let lanes = cfg.lanes_enabled();
        let records = shared.in_flight.load(Ordering::Relaxed);
        let bytes = shared.in_flight_bytes.load(Ordering::Relaxed);
        let (max_r, max_b) = (cfg.max_in_flight, cfg.max_in_flight_bytes);
        // With lanes, the top lane gets 25% headroom over the lower lanes.
        let (hard_r, hard_b) = if lanes { (max_r + max_r / 4, max_b + max_b / 4) } else { (max_r, max_b) };
        let over = |r: usize, b: usize| records >= r || bytes >= b;
        let under = |r: usize, b: usize| records <= r * 3 / 4 && bytes <= b / 4 * 3;

        let mut reasons = self.ctx().lock_pauses().reasons;
        if lanes {
            if over(max_r, max_b) {
                reasons.capacity_lower = true;
            } else if under(max_r, max_b) {
                reasons.capacity_lower = false;
            }
        }
        let mut wait = false;
        if over(hard_r, hard_b) {
            if !reasons.capacity_all {
                self.ctx().lock_dispatch().flush_all();
                let since = *self.hard_since.get_or_insert(now);
                if now.duration_since(since) < CAPACITY_WAIT {
                    wait = true;
                } else {
                    reasons.capacity_all = true;
                }
            }
        } else {
            self.hard_since = None;
            if reasons.capacity_all && under(hard_r, hard_b) {
                reasons.capacity_all = false;
            }
        }

        if cfg.backpressure.downstream_group.is_some() {
            let measured = shared.downstream_lag.load(Ordering::Relaxed);
            let estimate = (measured != LAG_UNKNOWN).then(|| {
                let since = shared.outputs_sent.load(Ordering::Relaxed).saturating_sub(shared.acked_at_measure.load(Ordering::Relaxed));
                measured + since + records as u64
            });
            let bp = &cfg.backpressure;
            let was = self.gate.is_paused();
            let paused = self.gate.update(now, estimate, bp.high_water, bp.low_water, Duration::from_millis(bp.min_pause_ms));
            if paused && !was {
                shared.metrics.backpressure_pauses.fetch_add(1, Ordering::Relaxed);
                tracing::info!(stage = %shared.stage_name, lag_estimate = estimate.unwrap_or(0), "downstream lag above high water: pausing input");
            } else if !paused && was {
                tracing::info!(stage = %shared.stage_name, "downstream lag below low water: resuming input");
            }
            reasons.backpressure = paused;
        }
        reasons.lanes = if lanes { shared.lanes_paused.load(Ordering::Relaxed) } else { 0 };

        let assigned = shared.book().partitions().count();
        if self.applied != Some(reasons) || assigned != self.assignment_seen {
            self.applied = Some(reasons);
            self.assignment_seen = assigned;
            let tps: Vec<TpKey> = shared.book().partitions().collect();
            let mut pauses = self.ctx().lock_pauses();
            pauses.reasons = reasons;
            pauses.apply(&self.consumer, self.ctx(), tps.into_iter());
        }
        wait
    }

    fn accept(&self, msg: &BorrowedMessage<'_>) {
        let shared = self.ctx().shared.clone();
        let Some(topic) = shared.topic_index(msg.topic()) else {
            tracing::warn!(topic = msg.topic(), "record from a topic this stage does not consume; ignored");
            return;
        };
        let tp = (topic, msg.partition());
        let Some(generation) = shared.book().register(tp, msg.offset()) else {
            return; // Delivered twice by the client; the first copy is tracked.
        };
        let raw = RawRecord {
            meta: RecordMeta {
                topic: shared.topics[topic as usize].clone(),
                partition: msg.partition(),
                offset: msg.offset(),
                timestamp_ms: msg.timestamp().to_millis(),
            },
            key: msg.key().map(<[u8]>::to_vec),
            payload: msg.payload().map(<[u8]>::to_vec),
            headers: msg
                .headers()
                .map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect())
                .unwrap_or_default(),
        };
        let lane = if self.cfg.lanes_enabled() { topic as usize } else { 0 };
        let metrics = &shared.metrics;
        if metrics.consumed.fetch_add(1, Ordering::Relaxed) == 0 {
            metrics.first_consumed_at_ms.store(crate::dlq::now_ms() as u64, Ordering::Relaxed);
        }
        let record = Arc::new(InFlight::new(raw, tp, generation, lane, shared.clone()));
        self.ctx().lock_dispatch().push(record);
    }

    fn on_error(&self, e: KafkaError) {
        match e {
            KafkaError::MessageConsumptionFatal(code) => {
                self.ctx().shared.set_fatal(format!("fatal consumer error: {code}"));
            }
            KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown) => {
                // Not ready until the statistics or an assignment say otherwise.
                if self.ctx().shared.membership.on_all_brokers_down() {
                    tracing::warn!(stage = %self.ctx().shared.stage_name, "all brokers down: not ready until the group coordinator answers");
                }
            }
            KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                tracing::warn!(stage = %self.ctx().shared.stage_name, "input topic missing (waiting for it): {e}");
            }
            e => tracing::warn!(stage = %self.ctx().shared.stage_name, "consumer error (librdkafka retries): {e}"),
        }
    }

    /// Exactly-once: commit the open transaction when its interval is up.
    fn commit_transaction_if_due(&self, now: Instant) {
        if let Some(txn) = &self.ctx().txn {
            let mut txn = txn.lock().unwrap_or_else(|p| p.into_inner());
            if txn.due(now) {
                txn.commit(&self.consumer);
            }
        }
    }

    /// Store commit points that moved (committed by the auto-commit timer,
    /// on revoke and on shutdown). Exactly-once: offsets go with the
    /// transactions instead.
    fn store_offsets(&mut self, now: Instant, force: bool) {
        if self.ctx().txn.is_some() {
            return;
        }
        if !force && now.duration_since(self.last_store) < STORE_EVERY {
            return;
        }
        self.last_store = now;
        let commits = self.ctx().shared.book().take_commits();
        if !commits.is_empty() {
            let tpl = self.ctx().tpl_of(commits.into_iter().map(|(tp, o)| (tp, Some(o))));
            if let Err(e) = self.consumer.store_offsets(&tpl) {
                // Only partitions revoked in between fail; harmless.
                tracing::debug!("store offsets: {e}");
            }
        }
        if now.duration_since(self.last_commit) >= Duration::from_millis(self.cfg.commit_interval_ms)
            && self.ctx().is_member(&self.consumer)
        {
            self.last_commit = now;
            match self.consumer.commit_consumer_state(CommitMode::Async) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => tracing::warn!(stage = %self.ctx().shared.stage_name, "offset commit failed (retried at the next interval): {e}"),
            }
        }
    }

    /// Draining: stop fetching, let workers finish, commit what is done.
    fn drain(mut self) {
        let shared = self.ctx().shared.clone();
        {
            let tps: Vec<TpKey> = shared.book().partitions().collect();
            let mut pauses = self.ctx().lock_pauses();
            pauses.reasons.shutting_down = true;
            pauses.apply(&self.consumer, self.ctx(), tps.into_iter());
        }
        self.ctx().lock_dispatch().close();
        let deadline = Instant::now() + self.cfg.drain_timeout();
        tracing::info!(stage = %shared.stage_name, in_flight = shared.in_flight.load(Ordering::Relaxed), "draining");
        while shared.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline && shared.fatal().is_none() {
            // Keep serving events; records still arriving are not registered,
            // so they are not committed and will be consumed again.
            let _ = self.consumer.poll(Duration::from_millis(20));
            self.store_offsets(Instant::now(), false);
            self.commit_transaction_if_due(Instant::now());
        }
        let left = shared.in_flight.load(Ordering::Relaxed);
        if left > 0 {
            tracing::warn!(stage = %shared.stage_name, left, "drain timed out; unfinished records will be replayed");
        }
        self.store_offsets(Instant::now(), true);
        if let Some(txn) = &self.ctx().txn {
            let mut txn = txn.lock().unwrap_or_else(|p| p.into_inner());
            let committed = txn.commit(&self.consumer);
            tracing::info!(stage = %shared.stage_name, ?committed, "last transaction");
        } else if self.ctx().is_member(&self.consumer) {
            match self.consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => tracing::warn!(stage = %shared.stage_name, "final commit failed (records will be replayed): {e}"),
            }
        }
        tracing::info!(stage = %shared.stage_name, "drained: {}", shared.metrics.summary());
    }
}
