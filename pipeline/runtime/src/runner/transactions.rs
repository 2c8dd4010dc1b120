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
//! (`OffsetBook::may_emit`, checked under the gate).
//!
//! A fatal error leaves the producer unusable for good: it was fenced (the
//! coordinator bumps the producer epoch when it aborts a transaction that
//! outlived `transaction.timeout.ms`, e.g. across a broker outage), or an
//! abort could not complete. The stage then drops that producer and starts a
//! fresh one with the same transactional id, with the gate closed all along:
//! its `init_transactions` fences the old one and aborts whatever the old one
//! left open, and every partition rewinds to the offsets of the last
//! committed transaction, so the records of the doomed transaction are
//! redone once. Replacements are bounded (`MAX_REPLACEMENTS` within
//! `REPLACEMENT_WINDOW`): a producer that keeps failing (a live duplicate of
//! this replica fencing it back and forth, missing ACLs) stops the stage.
//!
//! Fencing: the transactional id is `<group>-<group instance id>`, stable
//! across restarts, so a restarted replica's `init_transactions` aborts the
//! transaction its dead predecessor left open at once (no wait for the
//! transaction timeout) and fences it should it still be alive. Offsets are
//! sent with the consumer's group metadata (KIP-447), so a replica that lost
//! its partitions in a rebalance cannot commit for them.

use super::clients::{ConsumerCtx, ProducerCtx, ProducerSlot, StageProducer};
use crate::config::StageConfig;
use crate::offsets::TpKey;
use crate::shutdown::ShutdownSignal;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer;
use rdkafka::topic_partition_list::Offset;
use rdkafka::ClientConfig;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bound of one transactional call (flush, offsets, commit, abort, seek,
/// a fresh producer's init): short, so the poll thread (which serves
/// rebalances) never stalls long while the broker is away; retriable
/// failures are retried.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait before retrying after a retriable failure.
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// At most this many producers replaced within [`REPLACEMENT_WINDOW`];
/// one more stops the stage.
const MAX_REPLACEMENTS: usize = 10;
const REPLACEMENT_WINDOW: Duration = Duration::from_secs(60);
const MAX_REPLACEMENT_BACKOFF: Duration = Duration::from_secs(8);

/// The gate workers hold (shared) while producing one record's outputs.
pub(crate) type Gate = Arc<tokio::sync::RwLock<()>>;
type GateClosed = tokio::sync::OwnedRwLockWriteGuard<()>;

/// The transactional id of a stage's producer.
pub(crate) fn transactional_id(cfg: &StageConfig, instance_id: Option<&str>) -> String {
    match instance_id {
        Some(id) => format!("{}-{id}", cfg.group_id),
        // Dynamic membership: unique per process; a crashed process's open
        // transaction then blocks read_committed readers until it times out.
        None => format!("{}-{}", cfg.group_id, uuid::Uuid::new_v4().simple()),
    }
}

/// Why the transactions of a stage cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error("initialising Kafka transactions: {0}")]
    Init(KafkaError),
    #[error("beginning a Kafka transaction: {0}")]
    Begin(KafkaError),
    #[error("creating a fresh transactional producer: {0}")]
    Create(KafkaError),
    #[error("the transactional producer failed {count} times within {window:?} (fenced by a live duplicate of this replica, or not allowed to use its transactional id?); last failure: {last}")]
    KeepsFailing { count: usize, window: Duration, last: String },
}

/// What [`Transactions::commit`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Committed {
    Yes,
    /// Retriable failure: the transaction stays open (or the abort, or the
    /// producer's replacement, is still to go through): try again later.
    Later,
    /// Aborted and rewound: the work since the last commit is redone.
    Aborted,
    /// The producer was unusable and a fresh one took over; rewound like
    /// an abort.
    Replaced,
    /// Fatal: the stage must stop (already recorded with `set_fatal`).
    Fatal,
}

/// Work to finish before records are produced again. Both hold the gate
/// closed, so nothing is produced into a doomed transaction meanwhile.
enum Pending {
    None,
    /// An abort that has not gone through yet (the broker is away).
    Abort(GateClosed),
    /// The producer cannot go on: a fresh one is to take over (`fresh_needed`:
    /// not created yet, or the last fresh one failed too; else it is in
    /// place and its `init_transactions` is retried).
    Replace { _closed: GateClosed, fresh_needed: bool, cause: String },
}

pub(crate) struct Transactions {
    /// Where workers take the producer from.
    slot: Arc<ProducerSlot>,
    /// The producer of the open transaction (the one in `slot`).
    producer: Arc<StageProducer>,
    /// Settings of a fresh producer: the same transactional id.
    config: ClientConfig,
    pub gate: Gate,
    interval: Duration,
    last: Instant,
    retry_at: Option<Instant>,
    /// `commit_transaction` failed retriably after the offsets were sent:
    /// only the commit is retried.
    commit_pending: bool,
    /// The offsets sent with the open transaction, marked committed in the
    /// offset book once it commits (where a later abort rewinds to).
    sent: Vec<(TpKey, i64)>,
    pending: Pending,
    /// When producers were found unusable lately (see `MAX_REPLACEMENTS`).
    failures: VecDeque<Instant>,
}

impl Transactions {
    /// `init_transactions` (fencing any earlier producer with the same id
    /// and aborting its open transaction) and open the first transaction.
    /// `config` creates fresh producers should this one become unusable.
    /// While the broker cannot be reached this waits for it, as an
    /// at-least-once stage does, until `shutdown` fires: then `None`.
    pub fn start(slot: Arc<ProducerSlot>, config: ClientConfig, cfg: &StageConfig, shutdown: &ShutdownSignal) -> Result<Option<Self>, TxnError> {
        let producer = slot.current();
        let mut waiting_since: Option<Instant> = None;
        while let Err(e) = producer.init_transactions(CALL_TIMEOUT) {
            let failure = Failure::from(&e);
            if !failure.retriable || failure.fatal {
                return Err(TxnError::Init(e));
            }
            if shutdown.is_triggered() {
                return Ok(None);
            }
            let since = *waiting_since.get_or_insert_with(Instant::now);
            tracing::warn!(group = %cfg.group_id, waited = ?since.elapsed(), "waiting for the transaction coordinator: {e}");
            std::thread::sleep(RETRY_AFTER);
        }
        producer.begin_transaction().map_err(TxnError::Begin)?;
        Ok(Some(Self {
            slot,
            producer,
            config,
            gate: Arc::new(tokio::sync::RwLock::new(())),
            interval: Duration::from_millis(cfg.transaction_interval_ms),
            last: Instant::now(),
            retry_at: None,
            commit_pending: false,
            sent: Vec::new(),
            pending: Pending::None,
            failures: VecDeque::new(),
        }))
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
    /// With an abort or a replacement pending, carry that on instead.
    pub fn commit(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Committed {
        let shared = consumer.context().shared.clone();
        shared.txn_call.begin();
        let committed = self.commit_inner(consumer);
        shared.txn_call.end();
        committed
    }

    fn commit_inner(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Committed {
        match self.pending {
            Pending::Abort(_) => return self.try_abort(consumer),
            Pending::Replace { .. } => return self.try_replace(consumer),
            Pending::None => {}
        }
        let ctx = consumer.context();
        let shared = ctx.shared.clone();
        if !ctx.is_member(consumer) {
            // Offsets sent now would be fenced (fatal): wait for the group.
            self.retry_at = Some(Instant::now() + RETRY_AFTER);
            return Committed::Later;
        }
        let closed = self.close_gate();
        let outcome = self.commit_locked(consumer);
        // The interval counts from the end of the commit: the gate was closed
        // while it ran, and workers get a whole interval to produce.
        self.last = Instant::now();
        match &outcome {
            Ok(()) => {
                self.retry_at = None;
                shared.book().mark_committed(&std::mem::take(&mut self.sent));
                shared.metrics.transactions_committed.fetch_add(1, Ordering::Relaxed);
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
    fn close_gate(&self) -> GateClosed {
        futures::executor::block_on(self.gate.clone().write_owned())
    }

    fn commit_locked(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Result<(), Failure> {
        let ctx = consumer.context();
        if !self.commit_pending {
            wait_for_acks(&self.producer, CALL_TIMEOUT)?;
            let points = ctx.shared.book().commit_points();
            if !points.is_empty() {
                let tpl = ctx.tpl_of(points.iter().map(|&(tp, o)| (tp, Some(o))));
                let metadata = consumer.group_metadata().ok_or_else(|| Failure::abort("no consumer group metadata"))?;
                self.producer.send_offsets_to_transaction(&tpl, &metadata, CALL_TIMEOUT).map_err(Failure::from)?;
            }
            self.sent = points;
        }
        self.commit_pending = true;
        self.producer.commit_transaction(CALL_TIMEOUT).map_err(Failure::from)?;
        self.commit_pending = false;
        self.producer.begin_transaction().map_err(Failure::from)?;
        Ok(())
    }

    /// Whether librdkafka has put the producer in its fatal state (then
    /// every transactional call fails, whatever the error at hand says).
    fn producer_failed(&self) -> bool {
        self.producer.client().fatal_error().is_some()
    }

    fn on_error(&mut self, consumer: &BaseConsumer<ConsumerCtx>, e: &Failure, closed: GateClosed) -> Committed {
        let shared = consumer.context().shared.clone();
        if e.fatal || self.producer_failed() {
            return self.begin_replace(consumer, format!("committing: {e}"), closed);
        }
        if e.retriable && !e.abort {
            tracing::warn!(stage = %shared.stage_name, "transaction commit will be retried: {e}");
            self.retry_at = Some(Instant::now() + RETRY_AFTER);
            return Committed::Later;
        }
        tracing::warn!(stage = %shared.stage_name, "aborting the transaction and redoing its records: {e}");
        self.commit_pending = false;
        self.pending = Pending::Abort(closed);
        self.try_abort(consumer)
    }

    /// Abort (again, if an earlier try timed out); once through, rewind
    /// every partition, open the next transaction and open the gate. An
    /// abort that cannot go through at all replaces the producer.
    fn try_abort(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Committed {
        let shared = consumer.context().shared.clone();
        if let Err(e) = self.end_for_abort(&shared) {
            if e.retriable && !e.fatal && !self.producer_failed() {
                tracing::warn!(stage = %shared.stage_name, "transaction abort will be retried: {e}");
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                return Committed::Later;
            }
            let closed = self.take_closed_gate();
            return self.begin_replace(consumer, format!("aborting: {e}"), closed);
        }
        let all: Vec<TpKey> = shared.book().partitions().collect();
        rewind(consumer, &all);
        if let Err(e) = self.producer.begin_transaction() {
            let closed = self.take_closed_gate();
            return self.begin_replace(consumer, format!("beginning a transaction after an abort: {e}"), closed);
        }
        self.pending = Pending::None;
        self.retry_at = None;
        shared.metrics.transactions_aborted.fetch_add(1, Ordering::Relaxed);
        Committed::Aborted
    }

    /// End the open transaction for a pending abort. A `commit_transaction`
    /// that timed out is still in progress inside librdkafka, which refuses
    /// an abort until that call is made again ("conflicting API call"), so
    /// resume it first: if it commits, there is nothing left to abort (the
    /// rewind then restarts after what it committed); if it fails in an
    /// abortable way, abort.
    fn end_for_abort(&mut self, shared: &super::shared::Shared) -> Result<(), Failure> {
        if self.commit_pending {
            match self.producer.commit_transaction(CALL_TIMEOUT).map_err(Failure::from) {
                Ok(()) => {
                    self.commit_pending = false;
                    shared.book().mark_committed(&std::mem::take(&mut self.sent));
                    shared.metrics.transactions_committed.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.abort && !e.fatal => self.commit_pending = false,
                Err(e) => return Err(e),
            }
        }
        self.producer.abort_transaction(CALL_TIMEOUT).map_err(Failure::from)
    }

    /// The gate of the pending abort (closed now if none was pending).
    fn take_closed_gate(&mut self) -> GateClosed {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Abort(closed) | Pending::Replace { _closed: closed, .. } => closed,
            Pending::None => self.close_gate(),
        }
    }

    /// The producer cannot go on (`cause`): redo everything since the last
    /// committed transaction through a fresh producer. The gate stays
    /// closed until the fresh one has its first transaction open.
    fn begin_replace(&mut self, consumer: &BaseConsumer<ConsumerCtx>, cause: String, closed: GateClosed) -> Committed {
        let shared = consumer.context().shared.clone();
        tracing::warn!(stage = %shared.stage_name, "the transactional producer cannot go on ({cause}): replacing it with a fresh one of the same transactional id and redoing the records since the last commit");
        if let Some(stop) = self.count_failure(&cause) {
            shared.set_fatal(stop.to_string());
            return Committed::Fatal;
        }
        self.commit_pending = false;
        self.sent.clear();
        // New generations now: records of the doomed transaction still in
        // the workers are dropped, not produced through the fresh producer,
        // and late delivery reports of the old one count for nothing.
        let all: Vec<TpKey> = shared.book().partitions().collect();
        rewind(consumer, &all);
        self.pending = Pending::Replace { _closed: closed, fresh_needed: true, cause };
        // A producer that fails again soon after the last one is probably
        // fenced by a live contender for its transactional id (one still
        // retrying its own start): starting at once would fence that one
        // back and forth, so give it the way for a growing while.
        let backoff = self.replacement_backoff();
        if !backoff.is_zero() {
            tracing::info!(stage = %shared.stage_name, ?backoff, "fresh transactional producer starts after a pause");
            self.retry_at = Some(Instant::now() + backoff);
            return Committed::Later;
        }
        self.try_replace(consumer)
    }

    /// None for the first failure within `REPLACEMENT_WINDOW`; then
    /// `RETRY_AFTER`, doubling per failure up to `MAX_REPLACEMENT_BACKOFF`.
    fn replacement_backoff(&self) -> Duration {
        match self.failures.len() {
            0 | 1 => Duration::ZERO,
            n => RETRY_AFTER.saturating_mul(1 << (n - 2).min(8)).min(MAX_REPLACEMENT_BACKOFF),
        }
    }

    /// Note one more unusable producer; the error that stops the stage when
    /// there were too many lately.
    fn count_failure(&mut self, cause: &str) -> Option<TxnError> {
        let now = Instant::now();
        while self.failures.front().is_some_and(|at| now.duration_since(*at) > REPLACEMENT_WINDOW) {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        (self.failures.len() > MAX_REPLACEMENTS).then(|| TxnError::KeepsFailing {
            count: self.failures.len(),
            window: REPLACEMENT_WINDOW,
            last: cause.to_owned(),
        })
    }

    /// Put a fresh, not yet started producer in place of the current one and
    /// drop the current one, here and now: dropping purges what it still
    /// queues, and librdkafka may answer that with a request for a new
    /// producer epoch of the shared transactional id, which would fence the
    /// fresh producer had it started already. Workers hold no producer
    /// while the gate is closed, so this drops the last reference.
    fn install_fresh(&mut self) -> Result<(), TxnError> {
        let fresh: Arc<StageProducer> = Arc::new(self.config.create_with_context(ProducerCtx).map_err(TxnError::Create)?);
        let old = self.slot.replace(fresh.clone());
        drop(std::mem::replace(&mut self.producer, fresh));
        drop(old);
        Ok(())
    }

    /// Start the fresh producer (again, when its `init_transactions` timed
    /// out: the broker is away); once it has a transaction open, open the
    /// gate.
    fn try_replace(&mut self, consumer: &BaseConsumer<ConsumerCtx>) -> Committed {
        let shared = consumer.context().shared.clone();
        let Pending::Replace { fresh_needed, .. } = &mut self.pending else {
            return Committed::Later;
        };
        if std::mem::take(fresh_needed) {
            if let Err(e) = self.install_fresh() {
                shared.set_fatal(e.to_string());
                return Committed::Fatal;
            }
        }
        // Fences the old producer and aborts the transaction it left open.
        let started = self.producer.init_transactions(CALL_TIMEOUT).map_err(|e| ("initialising transactions", Failure::from(e)));
        let started = started.and_then(|()| self.producer.begin_transaction().map_err(|e| ("beginning a transaction", Failure::from(e))));
        if let Err((step, e)) = started {
            if e.retriable && !e.fatal && !self.producer_failed() {
                tracing::warn!(stage = %shared.stage_name, "fresh transactional producer: {step} will be retried: {e}");
            } else {
                tracing::warn!(stage = %shared.stage_name, "fresh transactional producer unusable too ({step}: {e}); trying another");
                if let Some(stop) = self.count_failure(&format!("{step}: {e}")) {
                    shared.set_fatal(stop.to_string());
                    return Committed::Fatal;
                }
                if let Pending::Replace { fresh_needed, .. } = &mut self.pending {
                    *fresh_needed = true;
                }
                self.retry_at = Some(Instant::now() + self.replacement_backoff().max(RETRY_AFTER));
                return Committed::Later;
            }
            self.retry_at = Some(Instant::now() + RETRY_AFTER);
            return Committed::Later;
        }
        let cause = match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Replace { cause, .. } => cause,
            Pending::Abort(_) | Pending::None => String::new(),
        };
        self.retry_at = None;
        self.last = Instant::now();
        shared.metrics.transactions_aborted.fetch_add(1, Ordering::Relaxed);
        shared.metrics.producers_replaced.fetch_add(1, Ordering::Relaxed);
        tracing::info!(stage = %shared.stage_name, "fresh transactional producer in place after: {cause}; resuming from the last committed offsets");
        Committed::Replaced
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
    /// once after (and retries while the broker is away). A pending
    /// replacement covers it already: the fresh producer's start aborts the
    /// open transaction, and every partition was rewound.
    pub fn abort(&mut self) {
        if matches!(self.pending, Pending::None) {
            // `commit_pending` stays: a timed-out commit call is resumed
            // before the abort (see `end_for_abort`).
            self.pending = Pending::Abort(self.close_gate());
        }
        self.retry_at = Some(Instant::now());
    }
}

/// Wait until everything handed to the producer is acknowledged (the gate
/// is closed, so nothing more comes). Not `Producer::flush`: the producer's
/// own thread serves the delivery reports, and flush, polling the same
/// queue for them in slices of 100 ms, sits each slice out while the gate
/// stays closed; that cut the stage's throughput to a few percent.
fn wait_for_acks(producer: &StageProducer, timeout: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    // Sends what lingers at once (librdkafka ignores linger.ms while a
    // flush is on); with no time given it returns at once.
    let _ = producer.flush(Duration::ZERO);
    loop {
        let left = producer.in_flight_count();
        if left <= 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            // The broker is slow or away: keep the transaction, retry later.
            return Err(Failure { retriable: true, abort: false, fatal: false, message: format!("{left} outputs not acknowledged within {timeout:?}") });
        }
        std::thread::sleep(Duration::from_micros(200));
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
        Self::from(&e)
    }
}

impl From<&KafkaError> for Failure {
    fn from(e: &KafkaError) -> Self {
        let (retriable, abort, fatal) = match e {
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
