//! Priority lanes: drain `critical` before `high` before `normal` before `low`.
//!
//! Policy (documented for operators):
//!
//! - The stage's `input_topics` are lanes, highest priority first.
//! - Every `check_interval_ms` the lag of each lane is measured for this
//!   stage's own group: `Σ (high watermark − max(committed, our position))`,
//!   i.e. records nobody in the group has fetched yet.
//! - A lane is paused while any higher lane has a lag above `lag_threshold`.
//!   The top lane is never paused.
//! - Anti-starvation: a lane that has been held back for `max_starvation_ms`
//!   in a row is released for `starvation_slice_ms`, then held again if the
//!   higher lanes are still busy. So under a sustained critical flood a lower
//!   lane still gets at least `slice / (max_starvation + slice)` of the time
//!   (10% with the defaults), and a document in `low` waits bounded time.
//! - Isolation: the top lane has a worker of its own (`top_lane_worker`), so
//!   its records never wait for a lower lane's batch to finish; a stage
//!   whose work is CPU-heavy keeps the lanes apart on its side too (the
//!   parse stage parses the top lane on a pool of its own).
//! - An unknown lag (failed measurement) counts as zero: the policy fails open
//!   rather than pausing lanes on missing information.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Priority-lane settings; used when the stage has more than one input topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityConfig {
    /// Treat multiple `input_topics` as priority lanes (highest first). When
    /// false, all input topics are consumed alike.
    pub enabled: bool,
    /// A higher lane counts as busy while its lag exceeds this many records.
    /// Not zero: under steady mixed traffic a higher lane almost always has
    /// a few records in transit, and pausing the lower lanes for those left
    /// them to the anti-starvation slices (seconds of latency at 200
    /// docs/s). A lane that keeps up holds a handful; one that is behind
    /// holds hundreds.
    pub lag_threshold: u64,
    /// How often lane lags are measured (ms).
    pub check_interval_ms: u64,
    /// A lane held back this long (ms) in a row gets a slice (anti-starvation).
    pub max_starvation_ms: u64,
    /// Length of the anti-starvation slice (ms).
    pub starvation_slice_ms: u64,
    /// Give the top lane a worker of its own, in addition to `concurrency`:
    /// its records are then never queued behind a batch of a lower lane
    /// (a flood of slow documents in `low` cannot hold `critical` back).
    pub top_lane_worker: bool,
}

impl Default for PriorityConfig {
    fn default() -> Self {
        Self { enabled: true, lag_threshold: 100, check_interval_ms: 100, max_starvation_ms: 2_000, starvation_slice_ms: 200, top_lane_worker: true }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct LaneState {
    /// Held back continuously since.
    held_since: Option<Instant>,
    /// Anti-starvation slice running until.
    slice_until: Option<Instant>,
}

/// The lane pause decision, one state per lane.
#[derive(Debug)]
pub struct LanePolicy {
    lanes: Vec<LaneState>,
    threshold: u64,
    max_starvation: Duration,
    slice: Duration,
}

impl LanePolicy {
    pub fn new(lanes: usize, cfg: &PriorityConfig) -> Self {
        Self {
            lanes: vec![LaneState::default(); lanes],
            threshold: cfg.lag_threshold,
            max_starvation: Duration::from_millis(cfg.max_starvation_ms),
            slice: Duration::from_millis(cfg.starvation_slice_ms),
        }
    }

    /// Given each lane's lag (highest priority first; `None` = unknown),
    /// return which lanes to pause.
    pub fn decide(&mut self, now: Instant, lags: &[Option<u64>]) -> Vec<bool> {
        let mut paused = vec![false; self.lanes.len()];
        let mut higher_busy = false;
        for (i, state) in self.lanes.iter_mut().enumerate() {
            if !higher_busy {
                *state = LaneState::default();
            } else {
                paused[i] = Self::held(state, now, self.max_starvation, self.slice);
            }
            higher_busy |= lags.get(i).copied().flatten().unwrap_or(0) > self.threshold;
        }
        paused
    }

    /// A lane a higher lane wants held: pause it unless its slice is due/running.
    fn held(state: &mut LaneState, now: Instant, max_starvation: Duration, slice: Duration) -> bool {
        if let Some(until) = state.slice_until {
            if now < until {
                return false;
            }
            state.slice_until = None;
            state.held_since = Some(now);
            return true;
        }
        let since = *state.held_since.get_or_insert(now);
        if now.duration_since(since) >= max_starvation {
            state.held_since = None;
            state.slice_until = Some(now + slice);
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PriorityConfig {
        PriorityConfig { lag_threshold: 0, max_starvation_ms: 1_000, starvation_slice_ms: 100, ..Default::default() }
    }

    #[test]
    fn by_default_records_in_transit_do_not_pause_lower_lanes() {
        let mut p = LanePolicy::new(3, &PriorityConfig::default());
        let t = Instant::now();
        assert_eq!(p.decide(t, &[Some(12), Some(40), Some(5)]), vec![false; 3]);
        assert_eq!(p.decide(t, &[Some(5_000), Some(40), Some(5)]), vec![false, true, true]);
    }

    #[test]
    fn lower_lanes_pause_while_a_higher_lane_has_lag() {
        let mut p = LanePolicy::new(4, &cfg());
        let t = Instant::now();
        assert_eq!(p.decide(t, &[Some(0), Some(0), Some(10), Some(5)]), vec![false, false, false, true]);
        assert_eq!(p.decide(t, &[Some(3), Some(0), Some(10), Some(5)]), vec![false, true, true, true]);
        assert_eq!(p.decide(t, &[Some(0), Some(0), Some(0), Some(5)]), vec![false; 4]);
    }

    #[test]
    fn top_lane_is_never_paused_and_unknown_lag_fails_open() {
        let mut p = LanePolicy::new(2, &cfg());
        let t = Instant::now();
        assert_eq!(p.decide(t, &[None, Some(100)]), vec![false, false]);
        assert_eq!(p.decide(t, &[Some(100), None]), vec![false, true]);
    }

    #[test]
    fn starving_lane_gets_a_slice_then_is_held_again() {
        let mut p = LanePolicy::new(2, &cfg());
        let t0 = Instant::now();
        let busy = [Some(1_000), Some(50)];
        assert_eq!(p.decide(t0, &busy), vec![false, true]);
        assert_eq!(p.decide(t0 + Duration::from_millis(999), &busy), vec![false, true]);
        // Starved for 1 s: released for a 100 ms slice.
        assert_eq!(p.decide(t0 + Duration::from_millis(1_000), &busy), vec![false, false]);
        assert_eq!(p.decide(t0 + Duration::from_millis(1_050), &busy), vec![false, false]);
        // Slice over: held again, and the starvation clock restarts.
        assert_eq!(p.decide(t0 + Duration::from_millis(1_100), &busy), vec![false, true]);
        assert_eq!(p.decide(t0 + Duration::from_millis(2_050), &busy), vec![false, true]);
        assert_eq!(p.decide(t0 + Duration::from_millis(2_100), &busy), vec![false, false]);
    }

    #[test]
    fn share_of_a_starving_lane_is_bounded_below() {
        let mut p = LanePolicy::new(2, &cfg());
        let t0 = Instant::now();
        let busy = [Some(1_000), Some(1_000)];
        let mut running = 0;
        let steps = 10_000;
        for ms in 0..steps {
            if !p.decide(t0 + Duration::from_millis(ms), &busy)[1] {
                running += 1;
            }
        }
        let share = running as f64 / steps as f64;
        assert!((0.08..0.12).contains(&share), "share {share}");
    }

    #[test]
    fn threshold_defines_busy() {
        let mut p = LanePolicy::new(2, &PriorityConfig { lag_threshold: 10, ..cfg() });
        let t = Instant::now();
        assert_eq!(p.decide(t, &[Some(10), Some(1)]), vec![false, false]);
        assert_eq!(p.decide(t, &[Some(11), Some(1)]), vec![false, true]);
    }
}
