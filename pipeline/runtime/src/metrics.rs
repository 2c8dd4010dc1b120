//! Counters of one stage runner, readable while it runs (benchmarks, tests,
//! the CLI's status line). Plain atomics; exporting them is the telemetry
//! layer's job.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct StageMetrics {
    /// Records taken from the input topics.
    pub consumed: AtomicU64,
    /// Records whose outputs (or dead letter) were all acknowledged.
    pub completed: AtomicU64,
    /// Outputs produced (acknowledged or not yet).
    pub outputs: AtomicU64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Retry attempts of retryable errors.
    pub retries: AtomicU64,
    /// Times the input was paused for downstream lag.
    pub backpressure_pauses: AtomicU64,
    /// Epoch ms of the first consumed record (0 = none yet).
    pub first_consumed_at_ms: AtomicU64,
    /// Total time workers spent on batches, in ns (utilisation).
    pub busy_ns: AtomicU64,
    /// Number of workers (set by the runner).
    pub workers: AtomicU64,
    /// Exactly-once: transactions committed.
    pub transactions_committed: AtomicU64,
    /// Exactly-once: transactions aborted (their records were redone).
    pub transactions_aborted: AtomicU64,
    /// Exactly-once: transactional producers replaced by a fresh one after
    /// a fatal error (each also counts as an aborted transaction).
    pub producers_replaced: AtomicU64,
}

impl StageMetrics {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// One-line summary for logs.
    pub fn summary(&self) -> String {
        format!(
            "consumed={} completed={} outputs={} dead_lettered={} retries={} backpressure_pauses={}",
            Self::get(&self.consumed),
            Self::get(&self.completed),
            Self::get(&self.outputs),
            Self::get(&self.dead_lettered),
            Self::get(&self.retries),
            Self::get(&self.backpressure_pauses),
        )
    }
}
