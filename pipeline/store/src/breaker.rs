//! A circuit breaker: closed → (N consecutive transient failures) → open →
//! (after a wait) half-open with exactly one probe → closed on success, or
//! open again with a doubled wait on failure.
//!
//! While it is open the persist stage pauses its partitions
//! ([`CircuitBreaker::is_open`]) instead of dead-lettering a flood of
//! records, and calls `probe()` on the store, which goes through
//! [`CircuitBreaker::try_acquire`] like any request, so recovery is detected
//! without consuming.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed { consecutive_failures: u32 },
    Open { until: Instant, open_for: Duration },
    /// One probe is in flight since `since`; others fail fast.
    HalfOpen { since: Instant, open_for: Duration },
}

/// Thread-safe breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    state: Mutex<BreakerState>,
    threshold: u32,
    base_open: Duration,
    max_open: Duration,
    /// A probe not reported within this long is considered lost (its future
    /// was dropped), so another may start.
    probe_timeout: Duration,
}

/// Permission to send one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Normal,
    /// This request is the half-open probe.
    Probe,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, base_open: Duration, max_open: Duration, probe_timeout: Duration) -> Self {
        Self {
            state: Mutex::new(BreakerState::Closed { consecutive_failures: 0 }),
            threshold: threshold.max(1),
            base_open,
            max_open: max_open.max(base_open),
            probe_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        // A panic while holding this lock cannot leave the state half-updated
        // (each update is one assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        *self.lock()
    }

    /// True while requests fail fast (open, or half-open with a probe out):
    /// the stage should pause consuming and call the store's `probe()`.
    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), BreakerState::Closed { .. })
    }

    /// May a request go now? `None`: fail fast with `CircuitOpen`.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.try_acquire_at(Instant::now())
    }

    pub fn try_acquire_at(&self, now: Instant) -> Option<Permit> {
        let mut s = self.lock();
        match *s {
            BreakerState::Closed { .. } => Some(Permit::Normal),
            BreakerState::Open { until, open_for } if now >= until => {
                *s = BreakerState::HalfOpen { since: now, open_for };
                Some(Permit::Probe)
            }
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen { since, open_for } if now.duration_since(since) >= self.probe_timeout => {
                *s = BreakerState::HalfOpen { since: now, open_for };
                Some(Permit::Probe)
            }
            BreakerState::HalfOpen { .. } => None,
        }
    }

    /// The database answered (even with an error that is not about its
    /// availability).
    pub fn on_success(&self) {
        *self.lock() = BreakerState::Closed { consecutive_failures: 0 };
    }

    /// A transient failure (timeout, unavailable, overloaded).
    pub fn on_failure(&self, permit: Permit) {
        self.on_failure_at(permit, Instant::now())
    }

    pub fn on_failure_at(&self, permit: Permit, now: Instant) {
        let mut s = self.lock();
        *s = match (*s, permit) {
            (BreakerState::HalfOpen { open_for, .. }, Permit::Probe) => {
                let next = (open_for * 2).min(self.max_open);
                BreakerState::Open { until: now + next, open_for: next }
            }
            (BreakerState::Closed { consecutive_failures }, _) => {
                let n = consecutive_failures + 1;
                if n >= self.threshold {
                    tracing::warn!(failures = n, open_ms = self.base_open.as_millis() as u64, "database circuit breaker opened");
                    BreakerState::Open { until: now + self.base_open, open_for: self.base_open }
                } else {
                    BreakerState::Closed { consecutive_failures: n }
                }
            }
            // A request admitted before the breaker opened failed late:
            // the breaker already knows.
            (other, _) => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(3, Duration::from_millis(100), Duration::from_millis(350), Duration::from_secs(1))
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let b = breaker();
        let t = Instant::now();
        b.on_failure_at(Permit::Normal, t);
        b.on_failure_at(Permit::Normal, t);
        assert!(!b.is_open());
        b.on_success();
        b.on_failure_at(Permit::Normal, t);
        b.on_failure_at(Permit::Normal, t);
        assert!(!b.is_open(), "success resets the count");
        b.on_failure_at(Permit::Normal, t);
        assert!(b.is_open());
        assert_eq!(b.try_acquire_at(t + Duration::from_millis(50)), None);
    }

    #[test]
    fn half_open_lets_one_probe_and_closes_on_success() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.on_failure_at(Permit::Normal, t);
        }
        let later = t + Duration::from_millis(100);
        assert_eq!(b.try_acquire_at(later), Some(Permit::Probe));
        assert_eq!(b.try_acquire_at(later), None, "only one probe at a time");
        assert!(b.is_open());
        b.on_success();
        assert!(!b.is_open());
        assert_eq!(b.try_acquire_at(later), Some(Permit::Normal));
    }

    #[test]
    fn failed_probe_reopens_with_doubled_capped_wait() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.on_failure_at(Permit::Normal, t);
        }
        let mut now = t + Duration::from_millis(100);
        let mut waits = vec![];
        for _ in 0..3 {
            assert_eq!(b.try_acquire_at(now), Some(Permit::Probe));
            b.on_failure_at(Permit::Probe, now);
            match b.state() {
                BreakerState::Open { open_for, until } => {
                    waits.push(open_for.as_millis());
                    assert_eq!(b.try_acquire_at(until - Duration::from_millis(1)), None);
                    now = until;
                }
                s => panic!("expected open, got {s:?}"),
            }
        }
        assert_eq!(waits, vec![200, 350, 350]);
    }

    #[test]
    fn lost_probe_is_replaced_after_timeout() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.on_failure_at(Permit::Normal, t);
        }
        let p = t + Duration::from_millis(100);
        assert_eq!(b.try_acquire_at(p), Some(Permit::Probe));
        assert_eq!(b.try_acquire_at(p + Duration::from_millis(999)), None);
        assert_eq!(b.try_acquire_at(p + Duration::from_secs(1)), Some(Permit::Probe));
    }
}
