//! The cache of decoded documents: an LRU (hashlink) bounded in bytes, not entries.
//!
//! A document is charged its stored text length plus a fixed overhead, a stable stand-in
//! for the size of its decoded tree. Raw bytes are not cached: reads of the text come from
//! the page cache or the memory map, and a second copy costs more than it saves.

use std::sync::Arc;

use compact_str::CompactString;
use hashlink::LruCache;

use crate::toon::Value;

/// Bytes charged per entry on top of its text.
const ENTRY_OVERHEAD: usize = 64;

/// Where a cached document came from: a key or a row id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    Key(CompactString),
    Row(u64),
}

pub(crate) struct Cache {
    entries: LruCache<Slot, (Arc<Value>, usize)>,
    bytes: usize,
    limit: usize,
    pub hits: u64,
    pub misses: u64,
}

impl Cache {
    pub fn new(limit: usize) -> Cache {
        Cache { entries: LruCache::new_unbounded(), bytes: 0, limit, hits: 0, misses: 0 }
    }

    pub fn get(&mut self, slot: &Slot) -> Option<Arc<Value>> {
        match self.entries.get(slot) {
            Some((value, _)) => {
                self.hits += 1;
                Some(value.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    pub fn insert(&mut self, slot: Slot, value: Arc<Value>, text_len: usize) {
        let charge = text_len + ENTRY_OVERHEAD;
        if charge > self.limit {
            return;
        }
        if let Some((_, old)) = self.entries.insert(slot, (value, charge)) {
            self.bytes -= old;
        }
        self.bytes += charge;
        while self.bytes > self.limit {
            match self.entries.remove_lru() {
                Some((_, (_, evicted))) => self.bytes -= evicted,
                None => break,
            }
        }
    }

    pub fn remove(&mut self, slot: &Slot) {
        if let Some((_, charge)) = self.entries.remove(slot) {
            self.bytes -= charge;
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_byte_budget_evicting_the_least_recent() {
        let mut cache = Cache::new(3 * (100 + ENTRY_OVERHEAD));
        for i in 0..3 {
            cache.insert(Slot::Row(i), Arc::new(Value::Null), 100);
        }
        assert!(cache.get(&Slot::Row(0)).is_some(), "touch 0 so 1 is the least recent");
        cache.insert(Slot::Row(3), Arc::new(Value::Null), 100);
        assert!(cache.get(&Slot::Row(1)).is_none());
        assert!(cache.get(&Slot::Row(0)).is_some());
        assert!(cache.bytes() <= 3 * (100 + ENTRY_OVERHEAD));
        assert_eq!((cache.hits, cache.misses), (2, 1));
        cache.insert(Slot::Key("huge".into()), Arc::new(Value::Null), 10_000);
        assert!(cache.get(&Slot::Key("huge".into())).is_none(), "too large to cache at all");
    }
}
