//! Bounded exponential backoff with jitter for retryable stage errors.
//!
//! Attempt `n` (1-based, the first retry is attempt 2) waits a random time in
//! `[d/2, d]` with `d = min(initial · multiplier^(n-2), max)`: "equal jitter",
//! so replicas hitting the same outage spread out but never retry instantly.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How a stage retries errors whose hint is `Retry` before dead-lettering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Total attempts including the first; after the last failed one the
    /// record goes to the dead-letter topic. 1 disables retries.
    pub max_attempts: u32,
    /// Backoff before the first retry, in milliseconds.
    pub initial_backoff_ms: u64,
    /// Upper bound of one backoff, in milliseconds.
    pub max_backoff_ms: u64,
    /// Growth factor of the backoff between attempts.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: Self::default_max_attempts(), initial_backoff_ms: 100, max_backoff_ms: 5_000, multiplier: 2.0 }
    }
}

impl RetryPolicy {
    const fn default_max_attempts() -> u32 {
        5
    }

    /// Whether another attempt is allowed after `attempts_made` attempts.
    pub fn allows_another(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts.max(1)
    }

    /// Upper bound of the wait before attempt `attempts_made + 1`.
    pub fn ceiling(&self, attempts_made: u32) -> Duration {
        let exp = attempts_made.saturating_sub(1).min(63) as i32;
        let ms = self.initial_backoff_ms as f64 * self.multiplier.max(1.0).powi(exp);
        Duration::from_millis(ms.min(self.max_backoff_ms as f64).max(0.0) as u64)
    }

    /// The jittered wait before attempt `attempts_made + 1`, in `[ceiling/2, ceiling]`.
    pub fn backoff(&self, attempts_made: u32) -> Duration {
        let ceiling = self.ceiling(attempts_made);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_micros() as u64;
        let jitter = if spread == 0 { 0 } else { rand::random_range(0..=spread) };
        half + Duration::from_micros(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let p = RetryPolicy { max_attempts: 10, initial_backoff_ms: 100, max_backoff_ms: 1_000, multiplier: 2.0 };
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(5), Duration::from_millis(1_000));
        assert_eq!(p.ceiling(60), Duration::from_millis(1_000));
    }

    #[test]
    fn jitter_stays_within_half_to_full_ceiling_and_varies() {
        let p = RetryPolicy::default();
        let samples: Vec<Duration> = (0..200).map(|_| p.backoff(3)).collect();
        let c = p.ceiling(3);
        assert!(samples.iter().all(|d| *d >= c / 2 && *d <= c));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 10, "jitter must spread retries");
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy { max_attempts: 3, ..Default::default() };
        assert!(p.allows_another(1));
        assert!(p.allows_another(2));
        assert!(!p.allows_another(3));
        let none = RetryPolicy { max_attempts: 0, ..Default::default() };
        assert!(!none.allows_another(1), "0 behaves as 1: no retries");
    }
}
