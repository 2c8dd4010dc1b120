//! State shared by the poll thread, the workers, the producer's delivery
//! callback and the lag monitor of one stage; and [`InFlight`], one consumed
//! record on its way from poll to "all outputs acknowledged".

use crate::metrics::StageMetrics;
use crate::offsets::{OffsetBook, TpKey};
use crate::shutdown::ShutdownSignal;
use crate::stage::RawRecord;
use crate::telemetry::record_trace::RecordTrace;
use crate::telemetry::{Histogram, Registry, DURATION_BUCKETS};
use docflow_core::StageError;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::mpsc;

/// Lag figure "not measured (yet)".
pub(crate) const LAG_UNKNOWN: u64 = u64::MAX;

pub(crate) struct Shared {
    pub stage_name: String,
    /// `"{stage_name} record"`, the name of every record span.
    pub record_span_name: &'static str,
    /// Input topics by index (the `u16` of a [`TpKey`]).
    pub topics: Vec<Arc<str>>,
    pub book: Mutex<OffsetBook>,
    /// Records consumed and not yet resolved (done or abandoned).
    pub in_flight: AtomicUsize,
    pub in_flight_bytes: AtomicUsize,
    /// Outputs and dead letters handed to the producer so far (backpressure estimate).
    pub outputs_sent: AtomicU64,
    /// Outputs (and dead letters) acknowledged by the broker so far.
    pub outputs_acked: AtomicU64,
    /// Last measured downstream lag, or [`LAG_UNKNOWN`].
    pub downstream_lag: AtomicU64,
    /// `outputs_acked` just before `downstream_lag` was measured: every
    /// output sent since then, or sent earlier but acked later, may be
    /// missing from the measurement.
    pub acked_at_measure: AtomicU64,
    /// Bit `i` set: lane (input topic) `i` paused by the priority policy.
    pub lanes_paused: AtomicU64,
    /// The first fatal error; set once, stops the stage.
    fatal: Mutex<Option<String>>,
    pub shutdown: ShutdownSignal,
    /// Set when the runner is tearing down (monitor exits, revoke skips waits).
    pub closing: AtomicBool,
    /// Records whose output the broker rejected for good: dead-letter them.
    pub dlq_tx: mpsc::UnboundedSender<(Arc<InFlight>, StageError)>,
    pub metrics: Arc<StageMetrics>,
    /// Group membership and coordinator reachability (`/readyz`).
    pub membership: super::membership::Membership,
    /// `document_processing_duration_seconds` by outcome: `ok`, `dead_letter`.
    pub duration_ok: Option<Arc<Histogram>>,
    pub duration_dead_letter: Option<Arc<Histogram>>,
    /// (topic, partition, lag behind the committed offset) of the assigned
    /// partitions, from librdkafka statistics.
    pub consumer_lag: Mutex<Vec<(String, i32, u64)>>,
    /// Exactly-once mode: a failed delivery aborts the transaction (the
    /// record is redone) instead of stopping the stage.
    pub exactly_once: bool,
    /// Exactly-once: inputs whose output the broker rejected for good, by
    /// (partition, offset). The transaction that held the output aborts;
    /// when the record comes again it is dead-lettered instead.
    pub rejected: Mutex<std::collections::HashMap<(TpKey, i64), StageError>>,
    /// Exactly-once: when the poll thread's current transactional call
    /// began. librdkafka's `send_offsets_to_transaction` can wait for a
    /// group coordinator that is down past its timeout (it waits until the
    /// broker is back), and the poll thread then serves no event that
    /// would tell `/readyz` the broker is gone.
    pub txn_call: TxnCall,
    /// The stage's own readiness (`Stage::ready`), set once the stage runs.
    pub stage_ready: std::sync::OnceLock<Box<dyn Fn() -> Result<(), String> + Send + Sync>>,
}

impl Shared {
    pub fn new(
        stage_name: String,
        topics: Vec<Arc<str>>,
        shutdown: ShutdownSignal,
        dlq_tx: mpsc::UnboundedSender<(Arc<InFlight>, StageError)>,
        metrics: Arc<StageMetrics>,
        exactly_once: bool,
    ) -> Self {
        Self {
            duration_ok: duration_histogram(&stage_name, "ok"),
            duration_dead_letter: duration_histogram(&stage_name, "dead_letter"),
            record_span_name: crate::telemetry::record_trace::record_span_name(&stage_name),
            stage_name,
            topics,
            book: Mutex::new(OffsetBook::default()),
            in_flight: AtomicUsize::new(0),
            in_flight_bytes: AtomicUsize::new(0),
            outputs_sent: AtomicU64::new(0),
            outputs_acked: AtomicU64::new(0),
            downstream_lag: AtomicU64::new(LAG_UNKNOWN),
            acked_at_measure: AtomicU64::new(0),
            lanes_paused: AtomicU64::new(0),
            fatal: Mutex::new(None),
            shutdown,
            closing: AtomicBool::new(false),
            dlq_tx,
            metrics,
            membership: Default::default(),
            consumer_lag: Mutex::new(Vec::new()),
            stage_ready: std::sync::OnceLock::new(),
            exactly_once,
            rejected: Mutex::new(std::collections::HashMap::new()),
            txn_call: TxnCall::default(),
        }
    }

    /// The offset book. A poisoned lock only means another thread panicked
    /// mid-update of plain counters; the data is still usable.
    pub fn book(&self) -> MutexGuard<'_, OffsetBook> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn topic_index(&self, topic: &str) -> Option<u16> {
        self.topics.iter().position(|t| &**t == topic).map(|i| i as u16)
    }

    /// Record a fatal error (first one wins) and stop the process's stages.
    pub fn set_fatal(&self, message: String) {
        let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if fatal.is_none() {
            tracing::error!(stage = %self.stage_name, "fatal: {message}");
            *fatal = Some(message);
        }
        drop(fatal);
        self.shutdown.trigger();
    }

    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn duration_histogram(stage: &str, outcome: &str) -> Option<Arc<Histogram>> {
    Registry::global()
        .histogram("document_processing_duration_seconds", &[("stage", stage), ("outcome", outcome)], &DURATION_BUCKETS)
        .map_err(|e| tracing::warn!(stage, "metrics: {e}"))
        .ok()
}

impl crate::telemetry::stages::TelemetryView for Shared {
    fn stage_name(&self) -> &str {
        &self.stage_name
    }
    fn metrics(&self) -> &StageMetrics {
        &self.metrics
    }
    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
    fn ready(&self) -> Result<(), String> {
        if let Some(fatal) = self.fatal() {
            return Err(format!("stopping: {fatal}"));
        }
        self.membership.ready()?;
        self.txn_call.ready()?;
        self.stage_ready.get().map_or(Ok(()), |ready| ready())
    }
    fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
    fn consumer_lag(&self) -> Vec<(String, i32, u64)> {
        self.consumer_lag.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A transactional call of the poll thread in progress, if any.
#[derive(Debug, Default)]
pub(crate) struct TxnCall {
    /// Microseconds since `epoch` when the call began; 0: none.
    began_us: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

impl TxnCall {
    /// Longer than any transactional call takes with the broker up (they
    /// take milliseconds; their own timeouts are 2 s).
    const STUCK_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

    fn now_us(&self) -> u64 {
        // At least 1, so that 0 keeps meaning "no call".
        self.epoch.get_or_init(Instant::now).elapsed().as_micros() as u64 + 1
    }

    pub fn begin(&self) {
        self.began_us.store(self.now_us(), Ordering::Release);
    }

    pub fn end(&self) {
        self.began_us.store(0, Ordering::Release);
    }

    /// Not ready while a call has waited longer than any call should.
    pub fn ready(&self) -> Result<(), String> {
        let began = self.began_us.load(Ordering::Acquire);
        let waited = std::time::Duration::from_micros(self.now_us().saturating_sub(began));
        match began {
            0 => Ok(()),
            _ if waited > Self::STUCK_AFTER => {
                Err(format!("not connected to Kafka (a transaction call has waited {:.1} s for the broker)", waited.as_secs_f64()))
            }
            _ => Ok(()),
        }
    }
}

/// How a delivery (or an immediate produce attempt) ended.
pub(crate) enum Delivery {
    Acked,
    /// The broker will never take this output (too large, invalid): the
    /// input goes to the dead-letter topic instead.
    Rejected(StageError),
    /// The producer gave up (timeout, fatal producer error): stop the stage;
    /// the input is not committed and is replayed after restart.
    Failed(String),
}

/// One consumed record until all its outputs are acknowledged.
///
/// `remaining` counts outstanding holds: 1 for the worker while it decides
/// the outputs, plus one per output handed to the producer. When it drops to
/// zero the record is done — unless an output was rejected, in which case
/// the record is dead-lettered first (one more hold) and done after that.
pub(crate) struct InFlight {
    pub raw: RawRecord,
    pub tp: TpKey,
    pub generation: u64,
    /// Priority lane (input topic index when lanes are enabled, else 0).
    pub lane: usize,
    /// The record's trace (`None` while tracing is off); its spans end
    /// when the last reference to this record goes, right after completion.
    pub trace: Option<RecordTrace>,
    /// When the record was consumed (processing-duration histogram).
    started: Instant,
    remaining: AtomicU32,
    failure: Mutex<Option<StageError>>,
    dead_lettered: AtomicBool,
    resolved: AtomicBool,
    shared: Arc<Shared>,
}

impl InFlight {
    pub fn new(raw: RawRecord, tp: TpKey, generation: u64, lane: usize, shared: Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        shared.in_flight_bytes.fetch_add(raw.payload_len(), Ordering::Relaxed);
        Self {
            trace: RecordTrace::start(shared.record_span_name, &raw),
            raw,
            tp,
            generation,
            lane,
            started: Instant::now(),
            remaining: AtomicU32::new(1),
            failure: Mutex::new(None),
            dead_lettered: AtomicBool::new(false),
            resolved: AtomicBool::new(false),
            shared,
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Add `n` holds (outputs about to be produced).
    pub fn hold(&self, n: u32) {
        self.remaining.fetch_add(n, Ordering::AcqRel);
    }

    /// Drop the worker's hold.
    pub fn release(self: &Arc<Self>) {
        self.settle(Delivery::Acked);
    }

    /// An output of this record was rejected at once (by the producer, before
    /// any broker): take the error, so the worker dead-letters the record
    /// itself before releasing it.
    pub fn take_rejection(&self) -> Option<StageError> {
        if self.dead_lettered.load(Ordering::Acquire) {
            return None;
        }
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Exactly-once: an output of this record was rejected by the broker
    /// (delivery callback). Remember it for the redo and give the record up.
    pub fn reject_for_redo(&self, err: StageError) {
        let key = (self.tp, self.raw.meta.offset);
        self.shared.rejected.lock().unwrap_or_else(|p| p.into_inner()).insert(key, err);
        self.abandon();
    }

    /// Exactly-once: the error an earlier attempt at this record met, if any.
    pub fn earlier_rejection(&self) -> Option<StageError> {
        let key = (self.tp, self.raw.meta.offset);
        self.shared.rejected.lock().unwrap_or_else(|p| p.into_inner()).remove(&key)
    }

    /// Mark this record as being dead-lettered (its DLQ output is next).
    pub fn mark_dead_lettered(&self) -> bool {
        !self.dead_lettered.swap(true, Ordering::AcqRel)
    }

    /// One hold ends with `outcome`.
    pub fn settle(self: &Arc<Self>, outcome: Delivery) {
        match outcome {
            Delivery::Acked => {}
            Delivery::Rejected(err) => {
                let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
                failure.get_or_insert(err);
            }
            Delivery::Failed(message) if self.shared.exactly_once => {
                // The transaction holding this output cannot commit: it is
                // aborted at the next commit and the record redone.
                tracing::debug!(stage = %self.shared.stage_name, "output not delivered (the transaction will abort): {message}");
                self.abandon();
            }
            Delivery::Failed(message) => {
                self.shared.set_fatal(format!(
                    "output of {}[{}]@{} not delivered: {message}",
                    self.raw.meta.topic, self.raw.meta.partition, self.raw.meta.offset
                ));
                self.abandon();
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish();
        }
    }

    fn finish(self: &Arc<Self>) {
        let failure = self.failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        match failure {
            None => self.complete(),
            Some(err) if !self.dead_lettered.load(Ordering::Acquire) => {
                // Hand over to the DLQ task; if it is gone we are shutting down.
                if self.shared.dlq_tx.send((self.clone(), err)).is_err() {
                    self.abandon();
                }
            }
            Some(err) => {
                self.shared.set_fatal(format!("dead letter rejected by the broker: {err}"));
                self.abandon();
            }
        }
    }

    /// All outputs acknowledged: the offset may be committed.
    fn complete(&self) {
        if self.resolve() {
            self.shared.book().complete(self.tp, self.generation, self.raw.meta.offset);
            self.shared.metrics.completed.fetch_add(1, Ordering::Relaxed);
            let h = if self.dead_lettered.load(Ordering::Acquire) { &self.shared.duration_dead_letter } else { &self.shared.duration_ok };
            if let Some(h) = h {
                h.observe(self.started.elapsed().as_secs_f64());
            }
        }
    }

    /// Stop waiting for this record; its offset is never committed (replay).
    pub fn abandon(&self) {
        if self.resolve() {
            self.shared.book().abandon(self.tp, self.generation, self.raw.meta.offset);
        }
    }

    fn resolve(&self) -> bool {
        if self.resolved.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.shared.in_flight_bytes.fetch_sub(self.raw.payload_len(), Ordering::Relaxed);
        true
    }
}
