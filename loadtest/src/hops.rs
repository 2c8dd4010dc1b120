//! Where the time goes: per-stage latency from Kafka record timestamps.
//!
//! End-to-end latency says *that* documents are slow, not *where*. The hop
//! follower reads every topic a document passes through (`docs.raw.*`,
//! `docs.parsed`, `docs.embedded`, `docs.scored`, `docs.results`) and keeps,
//! per document id (the record key on every topic), the first record
//! timestamp seen on each. A stage's hop latency is the timestamp of its
//! output minus the timestamp of its input: the input's trip through the
//! broker, the stage's batching and processing, up to its producer taking
//! the output. Record timestamps are set by each producer (`CreateTime`),
//! so the figures do not depend on how quickly this follower reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;
use serde::Serialize;

use crate::follower::{assign_at_end, FollowError};
use crate::report::Latency;

/// One hop: the stage between two topics.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub stage: String,
    /// Topics the stage reads (several for the raw lanes).
    pub inputs: Vec<String>,
    pub output: String,
}

/// A stage's hop latency over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HopLatency {
    pub stage: String,
    pub output_topic: String,
    pub latency: Latency,
}

/// First record timestamp (ms since the epoch) per id, per hop boundary.
/// Index 0 is the first hop's input; index k+1 is hop k's output.
#[derive(Default)]
pub struct HopBook {
    seen: HashMap<String, Vec<i64>>,
}

impl HopBook {
    fn note(&mut self, id: &str, boundary: usize, boundaries: usize, ts_ms: i64) {
        let row = self.seen.entry(id.to_owned()).or_insert_with(|| vec![0; boundaries]);
        // Replays after a crash re-produce a document: the first sighting is its latency.
        if row[boundary] == 0 {
            row[boundary] = ts_ms;
        }
    }

    /// Per-hop latency over every document seen on both sides of the hop.
    pub fn latencies(&self, hops: &[Hop]) -> Vec<HopLatency> {
        hops.iter()
            .enumerate()
            .map(|(k, hop)| {
                let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds");
                for row in self.seen.values() {
                    let (a, b) = (row[k], row[k + 1]);
                    if a > 0 && b > 0 {
                        // Clocks are one machine's, but a producer's timestamp may
                        // precede its input's by a millisecond of rounding: clamp.
                        let _ = h.record(((b - a).max(0) as u64 * 1000).max(1));
                    }
                }
                HopLatency { stage: hop.stage.clone(), output_topic: hop.output.clone(), latency: Latency::of(&h) }
            })
            .collect()
    }
}

/// Follows every hop boundary from its current end.
pub struct HopFollower {
    consumer: BaseConsumer,
    /// Topic → boundary index.
    boundary_of: HashMap<String, usize>,
    boundaries: usize,
}

impl HopFollower {
    pub fn at_end(brokers: &str, hops: &[Hop]) -> Result<Self, FollowError> {
        let consumer = crate::follower::observer_consumer(brokers, "hops")?;
        let mut boundary_of = HashMap::new();
        for (k, hop) in hops.iter().enumerate() {
            for t in &hop.inputs {
                boundary_of.entry(t.clone()).or_insert(k);
            }
            boundary_of.insert(hop.output.clone(), k + 1);
        }
        let topics: Vec<&str> = boundary_of.keys().map(String::as_str).collect();
        assign_at_end(&consumer, &topics)?;
        Ok(Self { consumer, boundary_of, boundaries: hops.len() + 1 })
    }

    /// Polls until `stop` is set. Blocking: run it on its own thread.
    pub fn run(self, book: Arc<Mutex<HopBook>>, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            let Some(Ok(m)) = self.consumer.poll(Duration::from_millis(100)) else { continue };
            let (Some(key), Some(ts)) = (m.key().and_then(|k| std::str::from_utf8(k).ok()), m.timestamp().to_millis()) else {
                continue;
            };
            if let Some(&b) = self.boundary_of.get(m.topic()) {
                book.lock().unwrap_or_else(|p| p.into_inner()).note(key, b, self.boundaries, ts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hops() -> Vec<Hop> {
        vec![
            Hop { stage: "parse".into(), inputs: vec!["raw.a".into(), "raw.b".into()], output: "parsed".into() },
            Hop { stage: "infer".into(), inputs: vec!["parsed".into()], output: "embedded".into() },
        ]
    }

    #[test]
    fn hop_latency_is_output_minus_input_first_sightings() {
        let mut book = HopBook::default();
        book.note("d1", 0, 3, 1_000);
        book.note("d1", 1, 3, 1_010);
        book.note("d1", 1, 3, 1_500); // a replay: ignored
        book.note("d1", 2, 3, 1_040);
        book.note("d2", 0, 3, 2_000); // never parsed: counts nowhere
        let l = book.latencies(&hops());
        assert_eq!(l[0].latency.samples, 1);
        assert!((l[0].latency.max_ms - 10.0).abs() < 0.1, "{:?}", l[0]);
        assert!((l[1].latency.max_ms - 30.0).abs() < 0.1, "{:?}", l[1]);
    }
}
