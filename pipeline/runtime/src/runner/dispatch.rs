//! Batching consumed records and handing batches to the workers.
//!
//! A partition always goes to the same worker (so its records are processed
//! in order); records collect per (worker, lane) until `batch_size` or
//! `batch_linger` and are then sent. With a reserved top-lane worker (the
//! last one), every top-lane partition goes to it and no other lane does. The channels are unbounded in type but
//! bounded in effect: the poll loop stops fetching at `max_in_flight`.

use super::shared::InFlight;
use crate::offsets::TpKey;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Records of one lane for one worker.
pub(crate) struct Batch {
    pub lane: usize,
    pub records: Vec<Arc<InFlight>>,
}

pub(crate) struct Dispatch {
    workers: Vec<UnboundedSender<Batch>>,
    lanes: usize,
    /// Index `worker * lanes + lane`.
    pending: Vec<Vec<Arc<InFlight>>>,
    oldest: Vec<Option<Instant>>,
    batch_size: usize,
    linger: Duration,
    /// The last worker takes the top lane (lane 0), and only it.
    reserved_top_lane: bool,
    /// A worker is gone (it panicked): the stage must stop.
    pub broken: bool,
}

impl Dispatch {
    pub fn new(workers: Vec<UnboundedSender<Batch>>, lanes: usize, batch_size: usize, linger: Duration, reserved_top_lane: bool) -> Self {
        let n = workers.len() * lanes;
        let reserved_top_lane = reserved_top_lane && lanes > 1 && workers.len() > 1;
        Self { workers, lanes, pending: vec![Vec::new(); n], oldest: vec![None; n], batch_size, linger, reserved_top_lane, broken: false }
    }

    /// The worker of a record: the reserved one for the top lane, else by partition.
    fn worker_for(&self, tp: TpKey, lane: usize) -> usize {
        match (self.reserved_top_lane, lane) {
            (true, 0) => self.workers.len() - 1,
            (true, _) => Self::worker_of(tp, self.workers.len() - 1),
            (false, _) => Self::worker_of(tp, self.workers.len()),
        }
    }

    /// Worker of a partition: stable while the worker count is.
    pub fn worker_of(tp: TpKey, workers: usize) -> usize {
        let h = (tp.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (tp.1 as u32 as u64);
        (h % workers as u64) as usize
    }

    pub fn push(&mut self, record: Arc<InFlight>) {
        if self.workers.is_empty() {
            record.abandon();
            return;
        }
        let lane = record.lane.min(self.lanes - 1);
        let slot = self.worker_for(record.tp, lane) * self.lanes + lane;
        self.oldest[slot].get_or_insert_with(Instant::now);
        self.pending[slot].push(record);
        if self.pending[slot].len() >= self.batch_size {
            self.flush(slot);
        }
    }

    fn flush(&mut self, slot: usize) {
        self.oldest[slot] = None;
        let records = std::mem::take(&mut self.pending[slot]);
        if records.is_empty() {
            return;
        }
        if self.workers.is_empty() {
            records.iter().for_each(|r| r.abandon());
            return;
        }
        let batch = Batch { lane: slot % self.lanes, records };
        if let Err(unsent) = self.workers[slot / self.lanes].send(batch) {
            self.broken = true;
            unsent.0.records.iter().for_each(|r| r.abandon());
        }
    }

    /// Send batches whose linger elapsed.
    pub fn flush_due(&mut self, now: Instant) {
        for slot in 0..self.pending.len() {
            if self.oldest[slot].is_some_and(|t| now.duration_since(t) >= self.linger) {
                self.flush(slot);
            }
        }
    }

    pub fn flush_all(&mut self) {
        for slot in 0..self.pending.len() {
            self.flush(slot);
        }
    }

    /// When the next partial batch is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.oldest.iter().flatten().min().map(|t| *t + self.linger)
    }

    /// Send what is pending and close the channels: workers finish their
    /// queues and exit.
    pub fn close(&mut self) {
        self.flush_all();
        self.workers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_spread_over_workers_and_stay_put() {
        let mut used = std::collections::HashSet::new();
        for p in 0..12 {
            let w = Dispatch::worker_of((0, p), 4);
            assert_eq!(w, Dispatch::worker_of((0, p), 4));
            used.insert(w);
        }
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn the_reserved_worker_takes_the_top_lane_and_nothing_else() {
        let senders = (0..3).map(|_| tokio::sync::mpsc::unbounded_channel().0).collect();
        let d = Dispatch::new(senders, 4, 10, Duration::from_millis(5), true);
        for p in 0..12 {
            assert_eq!(d.worker_for((0, p), 0), 2);
            for lane in 1..4 {
                assert!(d.worker_for((lane as u16, p), lane) < 2);
            }
        }
    }
}
