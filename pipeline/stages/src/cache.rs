//! [`EmbeddingCache`]: a least-recently-used map from a hash of the
//! normalised text to its embedding, bounded in bytes. Re-sent and
//! duplicated documents (a common pattern: the same e-mail to many
//! recipients, re-published batches) then skip the encoder.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// Bookkeeping bytes counted per entry on top of the floats.
const ENTRY_OVERHEAD: usize = 96;

/// Cache key: 128 bits of SHA-256 of the whitespace-collapsed text.
pub type CacheKey = u128;

/// The key of `text`: whitespace runs collapse to one space and the ends
/// are trimmed, so layout-only differences share an entry.
pub fn cache_key(text: &str) -> CacheKey {
    let mut h = Sha256::new();
    let mut first = true;
    for word in text.split_whitespace() {
        if !first {
            h.update(b" ");
        }
        h.update(word.as_bytes());
        first = false;
    }
    let d = h.finalize();
    u128::from_le_bytes(d[..16].try_into().expect("sha256 has 32 bytes"))
}

/// Byte-bounded LRU of embeddings.
#[derive(Debug)]
pub struct EmbeddingCache {
    capacity_bytes: usize,
    used_bytes: usize,
    tick: u64,
    entries: HashMap<CacheKey, (Vec<f32>, u64)>,
    /// tick → key, oldest first: the eviction order.
    order: BTreeMap<u64, CacheKey>,
}

impl EmbeddingCache {
    /// A cache holding at most `capacity_bytes` (0 disables it).
    pub fn new(capacity_bytes: usize) -> Self {
        Self { capacity_bytes, used_bytes: 0, tick: 0, entries: HashMap::new(), order: BTreeMap::new() }
    }

    fn cost(v: &[f32]) -> usize {
        v.len() * 4 + ENTRY_OVERHEAD
    }

    /// The embedding of `key`, marking it most recently used.
    pub fn get(&mut self, key: CacheKey) -> Option<Vec<f32>> {
        self.tick += 1;
        let tick = self.tick;
        let (v, t) = self.entries.get_mut(&key)?;
        self.order.remove(t);
        *t = tick;
        self.order.insert(tick, key);
        Some(v.clone())
    }

    /// Inserts (or refreshes) an entry, evicting the least recently used
    /// ones until the bound holds. An entry larger than the bound is not kept.
    pub fn insert(&mut self, key: CacheKey, value: Vec<f32>) {
        let cost = Self::cost(&value);
        if cost > self.capacity_bytes {
            return;
        }
        if let Some((old, t)) = self.entries.remove(&key) {
            self.order.remove(&t);
            self.used_bytes -= Self::cost(&old);
        }
        while self.used_bytes + cost > self.capacity_bytes {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            if let Some((v, _)) = self.entries.remove(&oldest) {
                self.used_bytes -= Self::cost(&v);
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key);
        self.entries.insert(key, (value, self.tick));
        self.used_bytes += cost;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes accounted to the entries now (never above the capacity).
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_layout_only() {
        assert_eq!(cache_key("a  b\n c "), cache_key("a b c"));
        assert_ne!(cache_key("a b c"), cache_key("a b d"));
    }

    #[test]
    fn evicts_least_recently_used_within_the_byte_bound() {
        let entry = 4 * 4 + ENTRY_OVERHEAD;
        let mut c = EmbeddingCache::new(entry * 2);
        c.insert(1, vec![1.0; 4]);
        c.insert(2, vec![2.0; 4]);
        assert!(c.get(1).is_some(), "1 becomes most recent");
        c.insert(3, vec![3.0; 4]);
        assert!(c.get(2).is_none(), "2 was the least recently used");
        assert_eq!(c.get(1), Some(vec![1.0; 4]));
        assert_eq!(c.get(3), Some(vec![3.0; 4]));
        assert!(c.used_bytes() <= entry * 2);
        c.insert(3, vec![4.0; 4]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(3), Some(vec![4.0; 4]));
        let mut off = EmbeddingCache::new(0);
        off.insert(1, vec![1.0]);
        assert!(off.is_empty());
    }
}
