//! Offset tracking: which input offset may be stored for commit.
//!
//! Records of one partition are processed and acknowledged out of order (a
//! batch may wait on a retry while a later batch is already acked), but Kafka
//! commits one number per partition: "everything before this is done". A
//! [`PartitionTracker`] keeps the in-flight offsets of one partition in
//! arrival order and only advances its commit point across the *contiguous*
//! completed prefix, so a crash can replay (duplicates) but never skip (loss).
//!
//! A slot is `Pending` until every output of its record is acknowledged by
//! the broker, then `Done`. `Abandoned` slots (work given up during shutdown,
//! or a delivery that failed for good) are no longer waited for but block the
//! commit point forever, so their record is replayed after a restart.
//!
//! Each assignment of a partition gets a new *generation*: an ack that
//! arrives for an earlier assignment (after a revoke and re-assign) must not
//! complete the same offset of the new assignment.

use std::collections::{HashMap, VecDeque};

/// Input partition key: index into the stage's `input_topics`, partition.
pub type TpKey = (u16, i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Pending,
    Done,
    Abandoned,
}

/// Result of [`PartitionTracker::register`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// New record; process it.
    New,
    /// At or below an offset already registered in this generation (the
    /// client delivered it twice); the first copy is tracked, skip this one.
    Duplicate,
}

/// In-flight offsets of one partition, in arrival order.
#[derive(Debug)]
pub struct PartitionTracker {
    generation: u64,
    slots: VecDeque<(i64, Slot)>,
    /// Highest offset registered in this generation.
    last_registered: Option<i64>,
    /// Next offset to commit (last contiguous done + 1).
    commit_point: Option<i64>,
    /// Whether `commit_point` moved since the last [`take_commit`](Self::take_commit).
    dirty: bool,
    pending: usize,
    /// Where this generation started reading: the first offset registered,
    /// or the offset it was rewound to (exactly-once).
    base: Option<i64>,
    /// A record was abandoned: the commit point can never pass it.
    abandoned: bool,
    /// Exactly-once: the offset sent with the last transaction that
    /// committed. The commit point runs ahead of it (records acknowledged
    /// inside the open transaction), and an aborted transaction takes those
    /// records' outputs with it, so this, not the commit point, is where a
    /// rewind restarts.
    committed: Option<i64>,
}

impl PartitionTracker {
    pub fn new(generation: u64) -> Self {
        Self {
            generation,
            slots: VecDeque::new(),
            last_registered: None,
            commit_point: None,
            dirty: false,
            pending: 0,
            base: None,
            abandoned: false,
            committed: None,
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Track a freshly consumed offset.
    pub fn register(&mut self, offset: i64) -> Registered {
        if self.last_registered.is_some_and(|last| offset <= last) {
            return Registered::Duplicate;
        }
        self.last_registered = Some(offset);
        self.base.get_or_insert(offset);
        self.slots.push_back((offset, Slot::Pending));
        self.pending += 1;
        Registered::New
    }

    /// Mark `offset` done (all its outputs acknowledged). Returns whether the
    /// commit point moved. Unknown or already-resolved offsets are ignored.
    pub fn complete(&mut self, offset: i64) -> bool {
        if !self.resolve(offset, Slot::Done) {
            return false;
        }
        let mut moved = false;
        while let Some(&(front, Slot::Done)) = self.slots.front() {
            self.slots.pop_front();
            self.commit_point = Some(front + 1);
            moved = true;
        }
        self.dirty |= moved;
        moved
    }

    /// Stop waiting for `offset` without letting the commit point pass it.
    pub fn abandon(&mut self, offset: i64) {
        self.abandoned |= self.resolve(offset, Slot::Abandoned);
    }

    fn resolve(&mut self, offset: i64, to: Slot) -> bool {
        let Ok(i) = self.slots.binary_search_by_key(&offset, |&(o, _)| o) else { return false };
        if self.slots[i].1 != Slot::Pending {
            return false;
        }
        self.slots[i].1 = to;
        self.pending -= 1;
        true
    }

    /// The next offset to store for commit, once per move.
    pub fn take_commit(&mut self) -> Option<i64> {
        if std::mem::take(&mut self.dirty) {
            self.commit_point
        } else {
            None
        }
    }

    /// The commit point, whether or not it was taken already.
    pub fn commit_point(&self) -> Option<i64> {
        self.commit_point
    }

    /// Records still being processed or awaiting acknowledgement.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Where consumption must restart to redo everything not committed
    /// (exactly-once rewind): the offset of the last committed transaction,
    /// else where this generation began reading (the group's committed
    /// offset when it was assigned, or the point of the last rewind).
    pub fn restart_point(&self) -> Option<i64> {
        self.committed.or(self.base)
    }

    /// Offset after the last record consumed (the consumer's position as far
    /// as this tracker saw it).
    pub fn position(&self) -> Option<i64> {
        self.last_registered.map(|o| o + 1)
    }
}

/// The trackers of every partition currently assigned to this process.
#[derive(Debug, Default)]
pub struct OffsetBook {
    trackers: HashMap<TpKey, PartitionTracker>,
    next_generation: u64,
}

impl OffsetBook {
    /// Start tracking a newly assigned partition (a new generation).
    pub fn assign(&mut self, tp: TpKey) -> u64 {
        self.next_generation += 1;
        let generation = self.next_generation;
        self.trackers.insert(tp, PartitionTracker::new(generation));
        generation
    }

    /// Stop tracking a partition; later acks for it are ignored.
    pub fn revoke(&mut self, tp: TpKey) -> Option<PartitionTracker> {
        self.trackers.remove(&tp)
    }

    /// Register a consumed offset. A partition not seen in an assignment
    /// callback (should not happen) is assigned on the fly. Returns the
    /// generation to carry with the record, or `None` for a duplicate.
    pub fn register(&mut self, tp: TpKey, offset: i64) -> Option<u64> {
        if !self.trackers.contains_key(&tp) {
            self.assign(tp);
        }
        let tracker = self.trackers.get_mut(&tp)?;
        match tracker.register(offset) {
            Registered::New => Some(tracker.generation),
            Registered::Duplicate => None,
        }
    }

    fn tracker_of(&mut self, tp: TpKey, generation: u64) -> Option<&mut PartitionTracker> {
        self.trackers.get_mut(&tp).filter(|t| t.generation == generation)
    }

    /// Mark a record done; stale generations and revoked partitions are ignored.
    pub fn complete(&mut self, tp: TpKey, generation: u64, offset: i64) {
        if let Some(t) = self.tracker_of(tp, generation) {
            t.complete(offset);
        }
    }

    /// Give up on a record (it will be replayed by whoever consumes next).
    pub fn abandon(&mut self, tp: TpKey, generation: u64, offset: i64) {
        if let Some(t) = self.tracker_of(tp, generation) {
            t.abandon(offset);
        }
    }

    /// Whether a record of generation `generation` may still produce its
    /// outputs (exactly-once): its partition is still assigned in that
    /// generation and no earlier record of it was abandoned.
    pub fn may_emit(&self, tp: TpKey, generation: u64) -> bool {
        self.trackers.get(&tp).is_some_and(|t| t.generation == generation && !t.abandoned)
    }

    /// Start a new generation of `tp` that reads again from its restart
    /// point (exactly-once, after an aborted transaction or an abandoned
    /// record): acks and outputs of the old generation no longer count.
    /// Returns the offset to seek to, `None` when nothing was read yet (the
    /// consumer's position is then still the committed offset).
    pub fn rewind(&mut self, tp: TpKey) -> Option<i64> {
        let at = self.trackers.get(&tp)?.restart_point();
        self.assign(tp);
        if let (Some(at), Some(t)) = (at, self.trackers.get_mut(&tp)) {
            t.base = Some(at);
            t.commit_point = Some(at);
        }
        at
    }

    /// Exactly-once: the transaction that carried these offsets committed.
    pub fn mark_committed(&mut self, points: &[(TpKey, i64)]) {
        for (tp, offset) in points {
            if let Some(t) = self.trackers.get_mut(tp) {
                t.committed = Some(*offset);
            }
        }
    }

    /// Partitions with an abandoned record (exactly-once rewinds them).
    pub fn with_abandoned(&self) -> Vec<TpKey> {
        self.trackers.iter().filter(|(_, t)| t.abandoned).map(|(tp, _)| *tp).collect()
    }

    /// Every partition's commit point (exactly-once: the offsets sent with
    /// each transaction; resending an unchanged one is harmless).
    pub fn commit_points(&self) -> Vec<(TpKey, i64)> {
        self.trackers.iter().filter_map(|(tp, t)| t.commit_point.map(|o| (*tp, o))).collect()
    }

    /// Commit points that moved since the last call.
    pub fn take_commits(&mut self) -> Vec<(TpKey, i64)> {
        self.trackers.iter_mut().filter_map(|(tp, t)| t.take_commit().map(|o| (*tp, o))).collect()
    }

    /// Pending records over the given partitions.
    pub fn pending_in(&self, tps: &[TpKey]) -> usize {
        tps.iter().filter_map(|tp| self.trackers.get(tp)).map(PartitionTracker::pending).sum()
    }

    /// Pending records over all partitions.
    pub fn pending(&self) -> usize {
        self.trackers.values().map(PartitionTracker::pending).sum()
    }

    pub fn get(&self, tp: &TpKey) -> Option<&PartitionTracker> {
        self.trackers.get(tp)
    }

    /// Partitions currently tracked (= assigned).
    pub fn partitions(&self) -> impl Iterator<Item = TpKey> + '_ {
        self.trackers.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_point_follows_contiguous_prefix_only() {
        let mut t = PartitionTracker::new(1);
        for o in 10..15 {
            assert_eq!(t.register(o), Registered::New);
        }
        // Out-of-order completion: 12 and 11 before 10.
        assert!(!t.complete(12));
        assert!(!t.complete(11));
        assert_eq!(t.take_commit(), None);
        assert!(t.complete(10));
        assert_eq!(t.take_commit(), Some(13)); // 10, 11, 12 done
        assert_eq!(t.take_commit(), None, "reported once per move");
        assert_eq!(t.pending(), 2);
        assert!(t.complete(13));
        assert!(t.complete(14));
        assert_eq!(t.take_commit(), Some(15));
        assert_eq!(t.pending(), 0);
    }

    #[test]
    fn gaps_in_offsets_are_fine() {
        // Compacted topics and transaction markers leave holes.
        let mut t = PartitionTracker::new(1);
        t.register(3);
        t.register(7);
        t.register(8);
        t.complete(7);
        assert_eq!(t.take_commit(), None);
        t.complete(3);
        assert_eq!(t.take_commit(), Some(8));
        t.complete(8);
        assert_eq!(t.commit_point(), Some(9));
    }

    #[test]
    fn duplicates_and_unknown_offsets_are_ignored() {
        let mut t = PartitionTracker::new(1);
        t.register(5);
        assert_eq!(t.register(5), Registered::Duplicate);
        assert_eq!(t.register(4), Registered::Duplicate);
        assert!(!t.complete(99));
        assert!(t.complete(5));
        assert!(!t.complete(5), "double ack does not count twice");
        assert_eq!(t.pending(), 0);
        assert_eq!(t.position(), Some(6));
    }

    #[test]
    fn abandoned_offsets_block_the_commit_point_but_not_the_drain() {
        let mut t = PartitionTracker::new(1);
        for o in 0..4 {
            t.register(o);
        }
        t.complete(0);
        t.abandon(1);
        t.complete(2);
        t.complete(3);
        assert_eq!(t.pending(), 0, "nothing left to wait for");
        assert_eq!(t.commit_point(), Some(1), "offset 1 is replayed after a restart");
    }

    #[test]
    fn stale_generation_acks_are_ignored() {
        let mut book = OffsetBook::default();
        let tp = (0, 3);
        let g1 = book.assign(tp);
        assert_eq!(book.register(tp, 100), Some(g1));
        // Revoked and assigned again: offset 100 is consumed anew.
        book.revoke(tp);
        let g2 = book.assign(tp);
        assert_ne!(g1, g2);
        assert_eq!(book.register(tp, 100), Some(g2));
        // The late ack of the first assignment must not complete the new one.
        book.complete(tp, g1, 100);
        assert_eq!(book.pending(), 1);
        assert!(book.take_commits().is_empty());
        book.complete(tp, g2, 100);
        assert_eq!(book.take_commits(), vec![(tp, 101)]);
    }

    #[test]
    fn acks_for_revoked_partitions_are_harmless() {
        let mut book = OffsetBook::default();
        let g = book.assign((1, 0));
        book.register((1, 0), 0);
        book.revoke((1, 0));
        book.complete((1, 0), g, 0);
        book.abandon((1, 0), g, 0);
        assert_eq!(book.pending(), 0);
        assert!(book.take_commits().is_empty());
    }

    #[test]
    fn an_abandoned_record_stops_later_emits_and_rewind_restarts_at_the_commit_point() {
        let mut book = OffsetBook::default();
        let tp = (0, 0);
        let g = book.assign(tp);
        for o in 10..14 {
            book.register(tp, o);
        }
        book.complete(tp, g, 10);
        assert!(book.may_emit(tp, g));
        book.abandon(tp, g, 11);
        assert!(!book.may_emit(tp, g), "records after an abandoned one must not produce");
        assert_eq!(book.with_abandoned(), vec![tp]);
        // The transaction committed with the offsets reached so far.
        let points = book.commit_points();
        book.mark_committed(&points);
        assert_eq!(book.rewind(tp), Some(11));
        assert!(!book.may_emit(tp, g), "the old generation is stale");
        let g2 = book.register(tp, 11).unwrap();
        assert!(book.may_emit(tp, g2));
        assert_eq!(book.commit_points(), vec![(tp, 11)], "the rewound position is where a commit restarts");
        book.complete(tp, g2, 11);
        assert_eq!(book.commit_points(), vec![(tp, 12)]);
    }

    #[test]
    fn an_aborted_transaction_rewinds_to_the_last_committed_offset_not_the_commit_point() {
        let mut book = OffsetBook::default();
        let tp = (0, 1);
        let g = book.assign(tp);
        for o in 20..30 {
            book.register(tp, o);
        }
        for o in 20..24 {
            book.complete(tp, g, o);
        }
        let points = book.commit_points();
        assert_eq!(points, vec![(tp, 24)]);
        book.mark_committed(&points);
        // Acknowledged inside the next transaction, which then aborts: their
        // outputs are gone, so they must be consumed and produced again.
        for o in 24..28 {
            book.complete(tp, g, o);
        }
        assert_eq!(book.commit_points(), vec![(tp, 28)]);
        assert_eq!(book.rewind(tp), Some(24));
        assert_eq!(book.commit_points(), vec![(tp, 24)], "the next transaction sends no offset past the redo");
        // A second rewind before anything commits restarts at the same place.
        assert_eq!(book.rewind(tp), Some(24));
    }

    #[test]
    fn rewind_without_a_commit_restarts_where_reading_began() {
        let mut book = OffsetBook::default();
        let tp = (1, 2);
        book.assign(tp);
        assert_eq!(book.rewind(tp), None, "nothing read: the position is still the committed offset");
        book.register(tp, 40);
        book.register(tp, 41);
        assert_eq!(book.rewind(tp), Some(40));
        assert_eq!(book.rewind((9, 9)), None, "unassigned");
    }

    #[test]
    fn pending_by_partition() {
        let mut book = OffsetBook::default();
        book.assign((0, 0));
        book.assign((0, 1));
        book.register((0, 0), 0);
        book.register((0, 0), 1);
        let g = book.register((0, 1), 0).unwrap();
        assert_eq!(book.pending_in(&[(0, 0)]), 2);
        assert_eq!(book.pending_in(&[(0, 1), (9, 9)]), 1);
        book.complete((0, 1), g, 0);
        assert_eq!(book.pending(), 2);
    }

    #[test]
    fn randomized_completion_order_never_passes_a_pending_offset() {
        use rand::seq::SliceRandom;
        let mut rng = rand::rng();
        for _ in 0..200 {
            let mut t = PartitionTracker::new(1);
            let mut offsets: Vec<i64> = (0..64).map(|i| i * 2).collect();
            for &o in &offsets {
                t.register(o);
            }
            offsets.shuffle(&mut rng);
            let mut done = std::collections::BTreeSet::new();
            for o in offsets {
                t.complete(o);
                done.insert(o);
                if let Some(cp) = t.commit_point() {
                    // Every registered offset below the commit point is done.
                    assert!((0..cp).filter(|x| x % 2 == 0).all(|x| done.contains(&x)));
                }
            }
            assert_eq!(t.commit_point(), Some(127));
        }
    }
}
