//! Exactly-once delivery: consume-process-produce in Kafka transactions
//! (`delivery = "exactly_once"`), the loop of rust-rdkafka's
//! `examples/transactions.rs` fitted to a pipelined runner.
//!
//! One transactional producer per stage process; every output and dead
//! letter goes into the open transaction. The poll thread commits it every
//! `transaction_interval_ms` (and on revoke, and at shutdown):
//!
//! 1. close the gate: workers produce a record's outputs only while holding
//!    it (shared), so with it held exclusively no record is half-produced;
//! 2. flush: every output produced is acknowledged, so the offset book's
//!    commit points cover exactly the records whose outputs are in the
//!    transaction (a partition's records are produced in offset order by
//!    its one worker, so what is produced is a prefix);
//! 3. `send_offsets_to_transaction(commit points, group metadata)`, then
//!    `commit_transaction`, then `begin_transaction`; open the gate.
//!
//! Failures: a retriable error (broker unreachable) is retried at the next
//! tick with the transaction still open; an abortable one aborts the
//! transaction and *rewinds*: every partition starts a new generation and
//! the consumer seeks back to the last committed offsets, and records of the
//! old generation still in the workers are dropped instead of produced
//! (`OffsetBook::may_emit`, checked under the gate). A fatal error (this
//! producer was fenced by a newer instance) stops the stage.
//!
//! Fencing: the transactional id is `<group>-<group instance id>`, stable
//! across restarts, so a restarted replica's `init_transactions` aborts the
//! transaction its dead predecessor left open at once (no wait for the
//! transaction timeout) and fences it should it still be alive. Offsets are
//! sent with the consumer's group metadata (KIP-447), so a replica that lost
//! its partitions in a rebalance cannot commit for them.

use super::clients::{ConsumerCtx, ProducerCtx};
use crate::config::StageConfig;
use crate::offsets::TpKey;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::topic_partition_list::Offset;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bound of one transactional call (flush, offsets, commit, abort, seek):
/// short, so the poll thread (which serves rebalances) never stalls long
/// while the broker is away; retriable failures are retried.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait before retrying after a retriable failure.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// The gate workers hold (shared) while producing one record's outputs.
pub(crate) type Gate = Arc<tokio::sync::RwLock<()>>;

/// The transactional id of a stage's producer.
pub(crate) fn transactional_id(cfg: &StageConfig, instance_id: Option<&str>) -> String {
    match instance_id {
        Some(id) => format!("{}-{id}", cfg.group_id),
        // Dynamic membership: unique per process; a crashed process's open
        // transaction then blocks read_committed readers until it times out.
        None => format!("{}-{}", cfg.group_id, uuid::Uuid::new_v4().simple()),
    }
}

/// What [`Transactions::commit`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Committed {
    Yes,
    /// Retriable failure: the transaction stays open, try again later.
    Later,
    /// Aborted and rewound: the work since the last commit is redone.
    Aborted,
    /// Fatal: the stage must stop (already recorded with `set_fatal`).
    Fatal,
}

pub(crate) struct Transactions {
    producer: Arc<ThreadedProducer<ProducerCtx>>,
    pub gate: Gate,
    interval: Duration,
    last: Instant,
    retry_at: Option<Instant>,
    /// `commit_transaction` failed retriably after the offsets were sent:
    /// only the commit is retried.
    commit_pending: bool,
    /// An abort that has not gone through yet (the broker is away): the
    /// gate stays closed, so nothing is produced into the doomed
    /// transaction, until it does.
    aborting: Option<tokio::sync::OwnedRwLockWriteGuard<()>>,
}

impl Transactions {
    /// `init_transactions` (fencing any earlier producer with the same id
    /// and aborting its open transaction) and open the first transaction.
    pub fn start(producer: Arc<ThreadedProducer<ProducerCtx>>, cfg: &StageConfig) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(cfg.transaction_timeout_ms);
        producer.init_transactions(timeout).map_err(|e| anyhow::anyhow!("initialising Kafka transactions: {e}"))?;
        producer.begin_transaction().map_err(|e| anyhow::anyhow!("beginning a Kafka transaction: {e}"))?;
        Ok(Self {
            producer,
            gate: Arc::new(tokio::sync::RwLock::new(())),
            interval: Duration::from_millis(cfg.transaction_interval_ms),
            last: Instant::now(),
            retry_at: None,
            commit_pending: false,
            aborting: None,
        })
    }

    /// Whether a commit is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        match self.retry_at {
            Some(at) => now >= at,
            None => now.duration_since(self.last) >= self.interval,
        }
    }

    /// Commit the open transaction with the offsets of everything it holds
    /// and open the next one; rewind partitions with abandoned records.
    pub fn commit(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Committed {
        if self.aborting.is_some() {
            return self.try_abort(consumer);
        }
        let ctx = consumer.context();
        let shared = ctx.shared.clone();
        if !ctx.is_member(consumer) {
            // Offsets sent now would be fenced (fatal): wait for the group.
            self.retry_at = Some(Instant::now() + RETRY_AFTER);
            return Committed::Later;
        }
        let closed = self.close_gate();
        self.last = Instant::now();
        let outcome = self.commit_locked(consumer);
        match &outcome {
            Ok(()) => {
                self.retry_at = None;
                shared.metrics.transactions_committed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // An abandoned record blocks its partition's commit point:
                // redo it and what follows it.
                let stuck = shared.book().with_abandoned();
                if !stuck.is_empty() {
                    rewind(consumer, &stuck);
                }
                Committed::Yes
            }
            Err(e) => self.on_error(consumer, e, closed),
        }
    }

    /// Close the gate: wait until no worker is producing, keep others out.
    fn close_gate(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        futures::executor::block_on(self.gate.clone().write_owned())
    }

    fn commit_locked(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Result<(), Failure> {
        let ctx = consumer.context();
        if !self.commit_pending {
            self.producer.flush(CALL_TIMEOUT).map_err(Failure::from)?;
            let points = ctx.shared.book().commit_points();
            if !points.is_empty() {
                let tpl = ctx.tpl_of(points.into_iter().map(|(tp, o)| (tp, Some(o))));
                let metadata = consumer.group_metadata().ok_or_else(|| Failure::abort("no consumer group metadata"))?;
                self.producer.send_offsets_to_transaction(&tpl, &metadata, CALL_TIMEOUT).map_err(Failure::from)?;
            }
        }
        self.commit_pending = true;
        self.producer.commit_transaction(CALL_TIMEOUT).map_err(Failure::from)?;
        self.commit_pending = false;
        self.producer.begin_transaction().map_err(Failure::from)?;
        Ok(())
    }

    fn on_error(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        e: &Failure,
        closed: tokio::sync::OwnedRwLockWriteGuard<()>,
    ) -> Committed {
        let shared = consumer.context().shared.clone();
        let Failure { retriable, abort, fatal, .. } = *e;
        if fatal {
            shared.set_fatal(format!("Kafka transaction failed for good (fenced by a newer instance?): {e}"));
            return Committed::Fatal;
        }
        if retriable && !abort {
            tracing::warn!(stage = %shared.stage_name, "transaction commit will be retried: {e}");
            self.retry_at = Some(Instant::now() + RETRY_AFTER);
            return Committed::Later;
        }
        tracing::warn!(stage = %shared.stage_name, "aborting the transaction and redoing its records: {e}");
        self.commit_pending = false;
        self.aborting = Some(closed);
        self.try_abort(consumer)
    }

    /// Abort (again, if an earlier try timed out); once through, rewind
    /// every partition, open the next transaction and open the gate.
    fn try_abort(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Committed {
        let shared = consumer.context().shared.clone();
        if let Err(e) = self.producer.abort_transaction(CALL_TIMEOUT) {
            let e = Failure::from(e);
            if e.retriable && !e.fatal {
                tracing::warn!(stage = %shared.stage_name, "transaction abort will be retried: {e}");
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                return Committed::Later;
            }
            shared.set_fatal(format!("aborting a Kafka transaction: {e}"));
            return Committed::Fatal;
        }
        let all: Vec<TpKey> = shared.book().partitions().collect();
        rewind(consumer, &all);
        if let Err(e) = self.producer.begin_transaction() {
            shared.set_fatal(format!("beginning a Kafka transaction: {e}"));
            return Committed::Fatal;
        }
        self.aborting = None;
        self.retry_at = None;
        shared.metrics.transactions_aborted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Committed::Aborted
    }

    /// At exit, after the last commit: abort the (empty) transaction that
    /// commit opened, so nothing is left open on the broker.
    pub fn close(&mut self) {
        if let Err(e) = self.producer.abort_transaction(CALL_TIMEOUT) {
            tracing::debug!("closing the last transaction: {e}");
        }
    }

    /// Abort the open transaction (a lost assignment: its records are the
    /// new owner's to redo) and rewind every partition. Called from the
    /// rebalance callback: only closes the gate; the poll loop aborts at
    /// once after (and retries while the broker is away).
    pub fn abort(&mut self) {
        if self.aborting.is_none() {
            self.commit_pending = false;
            self.aborting = Some(self.close_gate());
        }
        self.retry_at = Some(Instant::now());
    }
}

/// New generations for `tps` and seek each back to its restart point.
/// Called with the gate closed.
fn rewind(consumer: &BaseConsumer<ConsumerCtx>, tps: &[TpKey]) {
    let ctx = consumer.context();
    let targets: Vec<(TpKey, i64)> = {
        let mut book = ctx.shared.book();
        tps.iter().filter_map(|tp| book.rewind(*tp).map(|at| (*tp, at))).collect()
    };
    for ((topic, partition), at) in targets {
        let topic = &ctx.shared.topics[topic as usize];
        if let Err(e) = consumer.seek(topic, partition, Offset::Offset(at), CALL_TIMEOUT) {
            // Without the seek the partition would skip records: stop.
            ctx.shared.set_fatal(format!("seeking {topic}[{partition}] back to {at} after an aborted transaction: {e}"));
            return;
        }
    }
    tracing::info!(stage = %ctx.shared.stage_name, partitions = tps.len(), "rewound to the last committed offsets");
}

/// A failed transactional step, classified.
#[derive(Debug)]
struct Failure {
    retriable: bool,
    abort: bool,
    fatal: bool,
    message: String,
}

impl Failure {
    fn abort(message: &str) -> Self {
        Self { retriable: false, abort: true, fatal: false, message: message.to_owned() }
    }
}

impl From<KafkaError> for Failure {
    fn from(e: KafkaError) -> Self {
        let (retriable, abort, fatal) = match &e {
            KafkaError::Transaction(t) => (t.is_retriable(), t.txn_requires_abort(), t.is_fatal()),
            // flush timed out: the broker is slow or away; keep the transaction.
            KafkaError::Flush(_) => (true, false, false),
            _ => (false, true, false),
        };
        Self { retriable, abort, fatal, message: e.to_string() }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
