//! Backpressure from the next stage's consumer lag, with hysteresis.
//!
//! The lag monitor measures `Σ (high watermark − committed offset)` of the
//! downstream group on our output topic every `check_interval_ms`. Between
//! two measurements the poll loop keeps the figure honest by adding every
//! output this process sent that the measurement may have missed (sent
//! minus acknowledged-before-the-measurement) and the records it still
//! holds in flight,
//! so the estimate only ever over-states the lag: the stage pauses before the
//! real lag can pass `high_water` by more than about one batch.
//!
//! [`Gate`] is the pure decision: pause above `high_water`; resume only below
//! `low_water` *and* after `min_pause_ms`, so a lag hovering near one mark
//! does not flap pause/resume (each resume re-fetches from the broker).

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Pause this stage while the next stage is behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackpressureConfig {
    /// Consumer group of the next stage. Unset disables backpressure.
    pub downstream_group: Option<String>,
    /// Topic whose lag is watched; defaults to the stage's `output_topic`.
    pub downstream_topic: Option<String>,
    /// Pause all input partitions once the downstream lag (records) exceeds
    /// this. Lag is read from committed offsets, so it includes up to one
    /// commit interval of the downstream's throughput: keep `high_water`
    /// well above `downstream rate × its commit_interval_ms`, or the
    /// downstream's commit cadence, not its speed, caps this stage.
    pub high_water: u64,
    /// Resume once the downstream lag falls below this (must be ≤ `high_water`).
    pub low_water: u64,
    /// Stay paused at least this long (ms), to avoid flapping.
    pub min_pause_ms: u64,
    /// How often the downstream lag is measured (ms).
    pub check_interval_ms: u64,
}

impl Default for BackpressureConfig {
    fn default() -> Self {
        Self {
            downstream_group: None,
            downstream_topic: None,
            high_water: 100_000,
            low_water: 20_000,
            min_pause_ms: 500,
            check_interval_ms: 250,
        }
    }
}

/// Hysteresis state: paused or not, and since when.
#[derive(Debug, Default)]
pub struct Gate {
    paused_since: Option<Instant>,
}

impl Gate {
    /// Feed the current lag estimate (`None` = unknown: keep the current state,
    /// never flap on a failed measurement). Returns whether input is paused.
    pub fn update(&mut self, now: Instant, lag: Option<u64>, high_water: u64, low_water: u64, min_pause: Duration) -> bool {
        match (self.paused_since, lag) {
            (_, None) => {}
            (None, Some(lag)) if lag > high_water => self.paused_since = Some(now),
            (Some(since), Some(lag)) if lag < low_water.min(high_water) && now.duration_since(since) >= min_pause => {
                self.paused_since = None
            }
            _ => {}
        }
        self.paused_since.is_some()
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(500);

    #[test]
    fn pauses_above_high_and_resumes_below_low_only() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        assert!(!g.update(t0, Some(100), 1_000, 200, MIN));
        assert!(!g.update(t0, Some(1_000), 1_000, 200, MIN), "at the mark is not above it");
        assert!(g.update(t0, Some(1_001), 1_000, 200, MIN));
        let later = t0 + Duration::from_secs(5);
        assert!(g.update(later, Some(500), 1_000, 200, MIN), "between the marks: stay paused");
        assert!(!g.update(later, Some(199), 1_000, 200, MIN));
        assert!(!g.update(later, Some(500), 1_000, 200, MIN), "between the marks: stay running");
    }

    #[test]
    fn minimum_pause_is_honoured() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        assert!(g.update(t0, Some(5_000), 1_000, 200, MIN));
        assert!(g.update(t0 + Duration::from_millis(100), Some(0), 1_000, 200, MIN));
        assert!(!g.update(t0 + Duration::from_millis(600), Some(0), 1_000, 200, MIN));
    }

    #[test]
    fn unknown_lag_keeps_state() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        assert!(!g.update(t0, None, 10, 5, MIN));
        g.update(t0, Some(50), 10, 5, MIN);
        assert!(g.update(t0 + Duration::from_secs(9), None, 10, 5, MIN));
    }
}
