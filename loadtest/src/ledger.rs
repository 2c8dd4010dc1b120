//! The shared ledger: what was published (with its scheduled send time) and
//! what came back. The publisher writes an entry *before* sending, the
//! follower classifies entries as results and dead letters arrive.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use hdrhistogram::Histogram;

/// Largest latency the histogram tracks exactly (1 hour, in microseconds);
/// larger values are clamped to it.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// What became of a published document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    DeadLettered,
}

struct Entry {
    scheduled: Instant,
    outcome: Option<Outcome>,
}

/// Counters and histogram behind the ledger's lock.
pub struct State {
    entries: HashMap<String, Entry>,
    /// Ids in publish order (for stable lost-id listings).
    order: Vec<String>,
    pub published: u64,
    /// Sends the broker refused (never counted as published).
    pub publish_errors: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    /// Second and later sightings of an already classified id (either topic).
    pub duplicates: u64,
    /// Records on the followed topics whose id this run did not publish.
    pub foreign: u64,
    /// Followed records that could not be decoded.
    pub undecodable: u64,
    pub dlq_by_reason: BTreeMap<String, u64>,
    /// End-to-end latency from scheduled send to first sighting, microseconds.
    pub latency_us: Histogram<u64>,
    /// Worst lateness of an actual send behind its schedule, microseconds.
    pub max_send_lag_us: u64,
    pub first_scheduled: Option<Instant>,
    pub last_seen: Option<Instant>,
}

/// Thread-safe ledger shared by publisher, follower and progress line.
pub struct Ledger {
    state: Mutex<State>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

impl Ledger {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                entries: HashMap::new(),
                order: Vec::new(),
                published: 0,
                publish_errors: 0,
                delivered: 0,
                dead_lettered: 0,
                duplicates: 0,
                foreign: 0,
                undecodable: 0,
                dlq_by_reason: BTreeMap::new(),
                latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                    .expect("static histogram bounds are valid"),
                max_send_lag_us: 0,
                first_scheduled: None,
                last_seen: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere must not hide the numbers gathered so far.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `id` as about to be sent, scheduled at `scheduled`.
    pub fn register(&self, id: &str, scheduled: Instant) {
        let mut s = self.lock();
        s.first_scheduled.get_or_insert(scheduled);
        if s.entries.insert(id.to_string(), Entry { scheduled, outcome: None }).is_none() {
            s.order.push(id.to_string());
        }
    }

    /// The send of `id` succeeded (`lag_us` behind its schedule).
    pub fn confirm_published(&self, lag_us: u64) {
        let mut s = self.lock();
        s.published += 1;
        s.max_send_lag_us = s.max_send_lag_us.max(lag_us);
    }

    /// The send of `id` failed for good: it is not part of the accounting.
    pub fn publish_failed(&self, id: &str) {
        let mut s = self.lock();
        s.publish_errors += 1;
        s.entries.remove(id);
        s.order.retain(|x| x != id);
    }

    /// A follower sighting of `id` at `at`; `dlq_reason` is set for dead letters.
    pub fn observe(&self, id: &str, outcome: Outcome, dlq_reason: Option<&str>, at: Instant) {
        let mut s = self.lock();
        let Some(entry) = s.entries.get_mut(id) else {
            s.foreign += 1;
            return;
        };
        if entry.outcome.is_some() {
            s.duplicates += 1;
            return;
        }
        entry.outcome = Some(outcome);
        let lat = at.saturating_duration_since(entry.scheduled).as_micros() as u64;
        s.latency_us.saturating_record(lat.clamp(1, MAX_LATENCY_US));
        s.last_seen = Some(at);
        match outcome {
            Outcome::Delivered => s.delivered += 1,
            Outcome::DeadLettered => {
                s.dead_lettered += 1;
                let reason = dlq_reason.unwrap_or("unknown").to_string();
                *s.dlq_by_reason.entry(reason).or_default() += 1;
            }
        }
    }

    /// A record on a followed topic that did not decode.
    pub fn undecodable(&self) {
        self.lock().undecodable += 1;
    }

    /// Registered ids not yet classified, in publish order.
    pub fn outstanding_ids(&self) -> Vec<String> {
        let s = self.lock();
        s.order.iter().filter(|id| s.entries.get(*id).is_some_and(|e| e.outcome.is_none())).cloned().collect()
    }

    /// Number of registered ids not yet classified.
    pub fn outstanding(&self) -> u64 {
        let s = self.lock();
        s.entries.values().filter(|e| e.outcome.is_none()).count() as u64
    }

    /// Runs `f` on the locked state (for the report and the progress line).
    pub fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn classifies_counts_duplicates_and_foreign() {
        let l = Ledger::new();
        let t0 = Instant::now();
        for id in ["a", "b", "c"] {
            l.register(id, t0);
            l.confirm_published(0);
        }
        l.observe("a", Outcome::Delivered, None, t0 + Duration::from_millis(5));
        l.observe("b", Outcome::DeadLettered, Some("truncated"), t0 + Duration::from_millis(7));
        l.observe("a", Outcome::Delivered, None, t0 + Duration::from_millis(9));
        l.observe("zzz", Outcome::Delivered, None, t0);
        assert_eq!(l.outstanding_ids(), vec!["c".to_string()]);
        l.with(|s| {
            assert_eq!((s.published, s.delivered, s.dead_lettered, s.duplicates, s.foreign), (3, 1, 1, 1, 1));
            assert_eq!(s.dlq_by_reason.get("truncated"), Some(&1));
            assert_eq!(s.latency_us.len(), 2);
            assert!(s.latency_us.max() >= 6_900);
        });
    }
}
