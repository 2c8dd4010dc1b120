//! Bounded retries with exponential backoff and full jitter, applied to
//! idempotent statements on transient failures only.

use std::time::Duration;

use rand::Rng;

/// Backoff before retry number `attempt` (0-based): a random duration in
/// `[0, min(max, base · 2^attempt)]` ("full jitter", so many clients that
/// failed together do not retry together).
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let cap = base.saturating_mul(1u32 << attempt.min(16)).min(max);
    let ms = cap.as_millis() as u64;
    Duration::from_millis(if ms == 0 { 0 } else { rand::rng().random_range(0..=ms) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(10);
        let max = Duration::from_millis(100);
        for attempt in 0..40 {
            let cap = (10u64 << attempt.min(16)).min(100);
            for _ in 0..20 {
                assert!(backoff(attempt, base, max).as_millis() as u64 <= cap);
            }
        }
        // With full jitter the mean of attempt 3 (cap 80ms) is well above attempt 0's cap.
        let mean: u128 = (0..400).map(|_| backoff(3, base, max).as_millis()).sum::<u128>() / 400;
        assert!(mean > 20, "mean {mean}");
    }
}
