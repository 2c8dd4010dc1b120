//! A map that forgets its oldest entries beyond a capacity (insertion order).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// FIFO-bounded map. FIFO rather than LRU: the uses here (first holder of a
/// key, recently processed documents) care about age of arrival, and FIFO
/// needs no bookkeeping on reads. Each insertion gets a generation number so
/// that a removed and re-inserted key is aged from its new insertion.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    map: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
    next_gen: u64,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub fn new(cap: usize) -> Self {
        Self { map: HashMap::new(), order: VecDeque::new(), next_gen: 0, cap: cap.max(1) }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    /// Returns the existing value, or inserts `value` and returns None.
    pub fn get_or_insert(&mut self, key: K, value: V) -> Option<&V> {
        if self.map.contains_key(&key) {
            return self.get(&key);
        }
        self.insert(key, value);
        None
    }

    /// Inserts or replaces (a replaced key keeps its original age).
    pub fn insert(&mut self, key: K, value: V) {
        if let Some(slot) = self.map.get_mut(&key) {
            slot.0 = value;
            return;
        }
        let gen = self.next_gen;
        self.next_gen += 1;
        self.map.insert(key.clone(), (value, gen));
        self.order.push_back((key, gen));
        self.evict();
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        // Its `order` entry goes stale (generation no longer in the map) and
        // is dropped at eviction or compaction.
        self.map.remove(key).map(|(v, _)| v)
    }

    fn evict(&mut self) {
        while self.map.len() > self.cap {
            let Some((old, gen)) = self.order.pop_front() else { break };
            if self.map.get(&old).is_some_and(|(_, g)| *g == gen) {
                self.map.remove(&old);
            }
        }
        // Keep `order` from growing without bound after many removals.
        if self.order.len() > 2 * self.cap {
            let map = &self.map;
            self.order.retain(|(k, gen)| map.get(k).is_some_and(|(_, g)| g == gen));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_and_survives_removals() {
        let mut m = BoundedMap::new(2);
        assert!(m.get_or_insert("a", 1).is_none());
        assert_eq!(m.get_or_insert("a", 9), Some(&1));
        m.insert("b", 2);
        m.insert("c", 3);
        assert!(m.get(&"a").is_none());
        assert_eq!(m.len(), 2);
        for i in 0..100 {
            m.insert("x", i);
            m.remove(&"x");
        }
        assert_eq!(m.get(&"c"), Some(&3));
        assert!(m.order.len() <= 5, "{}", m.order.len());
        // A re-inserted key is aged from its new insertion.
        m.insert("x", 1);
        m.insert("y", 2);
        assert_eq!(m.get(&"x"), Some(&1));
        assert!(m.get(&"c").is_none());
    }
}
