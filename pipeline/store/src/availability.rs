//! Waiting out a database outage instead of failing: [`wait_while_open`]
//! holds the caller while the store's circuit breaker is open, probing the
//! database, until it answers again, `max` passes, or `cancel` resolves.
//!
//! Callers whose failures would otherwise be dead-lettered after a few
//! quick retries (the persist stage, the score stage's invoice registry)
//! call it before touching the store, so a database outage pauses them
//! (the input stays uncommitted, the runtime's in-flight bound stops
//! consumption) rather than emptying their input into the DLQ.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::store::DocumentStore;

/// How often an open breaker is probed while waiting.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);

/// What [`wait_while_open`] ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// The breaker was closed, or a probe succeeded.
    Available,
    /// Still open after `max`.
    TimedOut,
    /// `cancel` resolved first (shutdown).
    Cancelled,
}

/// Waits while `store.is_open()`, probing every [`PROBE_EVERY`], for at
/// most `max`.
pub async fn wait_while_open<S: DocumentStore + ?Sized>(store: &S, max: Duration, cancel: impl Future<Output = ()>) -> Availability {
    if !store.is_open() {
        return Availability::Available;
    }
    tokio::pin!(cancel);
    let until = Instant::now() + max;
    loop {
        if store.probe().await.is_ok() || !store.is_open() {
            return Availability::Available;
        }
        if Instant::now() >= until {
            return Availability::TimedOut;
        }
        tokio::select! {
            _ = tokio::time::sleep(PROBE_EVERY.min(until.saturating_duration_since(Instant::now()))) => {}
            _ = &mut cancel => return Availability::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;
    use crate::model::{ClaimResult, DocumentView, IndexEntry, Page, PageRequest, PersistOutcome, Resolution, Verdict};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A store whose database comes back after `down_for` probes.
    struct Flaky {
        probes: AtomicU32,
        down_for: u32,
    }

    impl DocumentStore for Flaky {
        async fn persist(&self, _: &docflow_schemas::ScoredDocument) -> Result<PersistOutcome, StoreError> {
            Err(StoreError::CircuitOpen)
        }
        async fn claim_invoice_number(&self, _: &str, _: &str, _: &str) -> Result<ClaimResult, StoreError> {
            Err(StoreError::CircuitOpen)
        }
        async fn get(&self, _: &str) -> Result<Option<DocumentView>, StoreError> {
            Err(StoreError::CircuitOpen)
        }
        async fn anomalies(&self, _: chrono::NaiveDate, _: f64, _: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
            Err(StoreError::CircuitOpen)
        }
        async fn pending_audits(&self, _: Option<chrono::NaiveDate>, _: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
            Err(StoreError::CircuitOpen)
        }
        async fn resolve_audit(&self, _: &str, _: Verdict, _: Option<&str>, _: &str) -> Result<Resolution, StoreError> {
            Err(StoreError::CircuitOpen)
        }
        fn is_open(&self) -> bool {
            self.probes.load(Ordering::SeqCst) < self.down_for
        }
        async fn probe(&self) -> Result<(), StoreError> {
            let n = self.probes.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= self.down_for {
                Ok(())
            } else {
                Err(StoreError::CircuitOpen)
            }
        }
    }

    #[tokio::test]
    async fn waits_until_a_probe_succeeds() {
        let s = Flaky { probes: AtomicU32::new(0), down_for: 3 };
        let t = tokio::time::Instant::now();
        assert_eq!(wait_while_open(&s, Duration::from_secs(60), std::future::pending()).await, Availability::Available);
        assert_eq!(s.probes.load(Ordering::SeqCst), 3);
        assert!(t.elapsed() >= PROBE_EVERY * 2, "it waited between probes");
    }

    #[tokio::test]
    async fn gives_up_after_max_and_on_cancel() {
        let s = Flaky { probes: AtomicU32::new(0), down_for: u32::MAX };
        assert_eq!(wait_while_open(&s, Duration::from_millis(600), std::future::pending()).await, Availability::TimedOut);
        let s = Flaky { probes: AtomicU32::new(0), down_for: u32::MAX };
        let cancel = tokio::time::sleep(Duration::from_millis(300));
        assert_eq!(wait_while_open(&s, Duration::from_secs(60), cancel).await, Availability::Cancelled);
        let up = Flaky { probes: AtomicU32::new(0), down_for: 0 };
        assert_eq!(wait_while_open(&up, Duration::ZERO, std::future::pending()).await, Availability::Available);
        assert_eq!(up.probes.load(Ordering::SeqCst), 0, "a closed breaker is not probed");
    }
}
