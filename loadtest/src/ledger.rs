//! The shared ledger: what was published (with its scheduled send time) and
//! what came back. The publisher writes an entry *before* sending, the
//! follower classifies entries as results and dead letters arrive.
//!
//! Besides the totals it keeps, per schedule phase, a latency histogram
//! (ramp steps, burst phases) and a timeline in fixed buckets from `t0`:
//! documents sent and their latency by *scheduled* second, and arrivals by
//! sighting second (throughput). Poison records (injected on purpose) are
//! counted apart: their expected fate is the DLQ.

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
    phase: u32,
    poison: bool,
}

/// How a published document is tagged in the books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tag {
    /// Index of its schedule phase.
    pub phase: u32,
    /// An injected poison record (expected on the DLQ, not on results).
    pub poison: bool,
}

/// Per-phase books.
pub struct PhaseBooks {
    pub published: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub latency_us: Histogram<u64>,
}

/// One timeline bucket.
pub struct Bucket {
    /// Documents scheduled in this bucket.
    pub sent: u64,
    /// Latency of the documents scheduled in this bucket (first sighting).
    pub latency_us: Histogram<u32>,
    /// Documents first seen (delivered or dead-lettered) in this bucket.
    pub arrivals: u64,
}

fn histogram<T: hdrhistogram::Counter>(sigfig: u8) -> Histogram<T> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, sigfig).expect("static histogram bounds are valid")
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
    /// Injected poison records published, and where they ended.
    pub poison_published: u64,
    pub poison_dead_lettered: u64,
    pub poison_delivered: u64,
    /// Books per schedule phase (index = [`Tag::phase`]).
    pub phases: Vec<PhaseBooks>,
    /// The run's clock origin and timeline bucket width.
    pub t0: Instant,
    pub bucket: std::time::Duration,
    pub timeline: Vec<Bucket>,
}

impl State {
    fn bucket_of(&mut self, at: Instant) -> &mut Bucket {
        let i = (at.saturating_duration_since(self.t0).as_secs_f64() / self.bucket.as_secs_f64()) as usize;
        while self.timeline.len() <= i {
            self.timeline.push(Bucket { sent: 0, latency_us: histogram(2), arrivals: 0 });
        }
        &mut self.timeline[i]
    }

    fn phase(&mut self, k: u32) -> &mut PhaseBooks {
        let k = k as usize;
        while self.phases.len() <= k {
            self.phases.push(PhaseBooks { published: 0, delivered: 0, dead_lettered: 0, latency_us: histogram(3) });
        }
        &mut self.phases[k]
    }
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
    /// A ledger whose clock starts now, with 1 s timeline buckets.
    pub fn new() -> Self {
        Self::with_clock(Instant::now(), std::time::Duration::from_secs(1))
    }

    /// A ledger with clock origin `t0` and timeline buckets of `bucket`.
    pub fn with_clock(t0: Instant, bucket: std::time::Duration) -> Self {
        let bucket = bucket.max(std::time::Duration::from_millis(100));
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
                poison_published: 0,
                poison_dead_lettered: 0,
                poison_delivered: 0,
                phases: Vec::new(),
                t0,
                bucket,
                timeline: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere must not hide the numbers gathered so far.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `id` as about to be sent, scheduled at `scheduled`.
    pub fn register(&self, id: &str, scheduled: Instant) {
        self.register_tagged(id, scheduled, Tag::default())
    }

    /// [`Ledger::register`] with the document's phase and poison flag.
    pub fn register_tagged(&self, id: &str, scheduled: Instant, tag: Tag) {
        let mut s = self.lock();
        s.first_scheduled.get_or_insert(scheduled);
        let entry = Entry { scheduled, outcome: None, phase: tag.phase, poison: tag.poison };
        if s.entries.insert(id.to_string(), entry).is_none() {
            s.order.push(id.to_string());
        }
    }

    /// The send of `id` succeeded (`lag_us` behind its schedule).
    pub fn confirm_published(&self, lag_us: u64) {
        let mut s = self.lock();
        s.published += 1;
        s.max_send_lag_us = s.max_send_lag_us.max(lag_us);
    }

    /// [`Ledger::confirm_published`] that also books `id` in its phase and
    /// timeline bucket.
    pub fn confirm(&self, id: &str, lag_us: u64) {
        let mut s = self.lock();
        s.published += 1;
        s.max_send_lag_us = s.max_send_lag_us.max(lag_us);
        let Some((scheduled, phase, poison)) = s.entries.get(id).map(|e| (e.scheduled, e.phase, e.poison)) else { return };
        s.phase(phase).published += 1;
        s.bucket_of(scheduled).sent += 1;
        if poison {
            s.poison_published += 1;
        }
    }

    /// The send of `id` failed for good: it is not part of the accounting.
    pub fn publish_failed(&self, id: &str) {
        let mut s = self.lock();
        s.publish_errors += 1;
        s.entries.remove(id);
        if let Some(pos) = s.order.iter().rposition(|x| x == id) {
            s.order.remove(pos);
        }
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
        let (scheduled, phase, poison) = (entry.scheduled, entry.phase, entry.poison);
        let lat = at.saturating_duration_since(scheduled).as_micros() as u64;
        let lat = lat.clamp(1, MAX_LATENCY_US);
        s.latency_us.saturating_record(lat);
        s.last_seen = Some(at);
        s.bucket_of(scheduled).latency_us.saturating_record(lat);
        s.bucket_of(at).arrivals += 1;
        let books = s.phase(phase);
        books.latency_us.saturating_record(lat);
        match outcome {
            Outcome::Delivered => books.delivered += 1,
            Outcome::DeadLettered => books.dead_lettered += 1,
        }
        match (outcome, poison) {
            (Outcome::Delivered, true) => s.poison_delivered += 1,
            (Outcome::DeadLettered, true) => s.poison_dead_lettered += 1,
            _ => {}
        }
        match outcome {
            Outcome::Delivered => s.delivered += 1,
            Outcome::DeadLettered => {
                s.dead_lettered += 1;
                let reason = dlq_reason.unwrap_or("unknown").to_string();
                *s.dlq_by_reason.entry(reason).or_default() += 1;
            }
        }
    }

    /// Registered ids of `phase` not yet classified whose scheduled time is
    /// older than `older_than` at `now` (they are already slower than that).
    pub fn overdue_in_phase(&self, phase: u32, now: Instant, older_than: std::time::Duration) -> u64 {
        let s = self.lock();
        s.entries
            .values()
            .filter(|e| e.phase == phase && e.outcome.is_none() && now.saturating_duration_since(e.scheduled) > older_than)
            .count() as u64
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
        // Every classified id is an entry: O(1) instead of a scan.
        (s.entries.len() as u64).saturating_sub(s.delivered + s.dead_lettered)
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
