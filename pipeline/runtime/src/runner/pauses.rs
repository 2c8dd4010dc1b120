//! Which input partitions are paused, and why.
//!
//! A partition is paused when any reason holds: shutting down, in-flight
//! capacity reached, downstream backpressure, or (for lower priority lanes)
//! the lane policy. The poll loop recomputes the reasons every iteration and
//! [`PauseState::apply`] only calls librdkafka for partitions whose state
//! changes. Partitions whose state is unknown (just assigned) are always
//! applied, which is how pauses are re-established after a rebalance.

use super::clients::ConsumerCtx;
use crate::offsets::TpKey;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::collections::HashMap;

/// Reasons that apply to every partition, or to lower lanes only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reasons {
    pub shutting_down: bool,
    /// Hard in-flight capacity reached: every lane.
    pub capacity_all: bool,
    /// Soft capacity reached: every lane but the top one (lanes only).
    pub capacity_lower: bool,
    pub backpressure: bool,
    /// Bit `i`: lane `i` held back by the priority policy.
    pub lanes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct PauseState {
    pub reasons: Reasons,
    /// Whether lanes are enabled (topic index = lane).
    pub lanes_enabled: bool,
    actual: HashMap<TpKey, bool>,
}

impl PauseState {
    pub fn new(lanes_enabled: bool) -> Self {
        Self { lanes_enabled, ..Self::default() }
    }

    pub fn desired(&self, tp: TpKey) -> bool {
        let r = &self.reasons;
        let lower = self.lanes_enabled && tp.0 > 0;
        r.shutting_down
            || r.capacity_all
            || r.backpressure
            || (lower && (r.capacity_lower || r.lanes & (1u64 << tp.0) != 0))
    }

    /// Forget the known state of these partitions (revoked or re-assigned).
    pub fn forget(&mut self, tps: &[TpKey]) {
        for tp in tps {
            self.actual.remove(tp);
        }
    }

    /// Bring the given partitions to their desired state.
    pub fn apply(&mut self, consumer: &BaseConsumer<ConsumerCtx>, ctx: &ConsumerCtx, tps: impl Iterator<Item = TpKey>) {
        let mut to_pause = Vec::new();
        let mut to_resume = Vec::new();
        for tp in tps {
            let want = self.desired(tp);
            if self.actual.get(&tp) != Some(&want) {
                if want { to_pause.push(tp) } else { to_resume.push(tp) }
            }
        }
        if !to_pause.is_empty() {
            match consumer.pause(&ctx.tpl_of(to_pause.iter().map(|tp| (*tp, None)))) {
                Ok(()) => self.actual.extend(to_pause.iter().map(|tp| (*tp, true))),
                Err(e) => tracing::warn!("pause failed (retried): {e}"),
            }
        }
        if !to_resume.is_empty() {
            match consumer.resume(&ctx.tpl_of(to_resume.iter().map(|tp| (*tp, None)))) {
                Ok(()) => self.actual.extend(to_resume.iter().map(|tp| (*tp, false))),
                Err(e) => tracing::warn!("resume failed (retried): {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_reasons_only_touch_lower_lanes() {
        let mut s = PauseState::new(true);
        s.reasons.lanes = 0b0110;
        assert!(!s.desired((0, 0)));
        assert!(s.desired((1, 3)));
        assert!(s.desired((2, 0)));
        assert!(!s.desired((3, 0)));
        s.reasons.capacity_lower = true;
        assert!(!s.desired((0, 0)), "top lane keeps headroom");
        assert!(s.desired((3, 0)));
        s.reasons.capacity_all = true;
        assert!(s.desired((0, 0)));
    }

    #[test]
    fn without_lanes_only_global_reasons_count() {
        let mut s = PauseState::new(false);
        s.reasons.lanes = u64::MAX;
        s.reasons.capacity_lower = true;
        assert!(!s.desired((1, 0)));
        s.reasons.backpressure = true;
        assert!(s.desired((0, 0)));
    }
}
