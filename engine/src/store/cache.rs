//! The cache of decoded documents: LRUs (hashlink) bounded in bytes, not entries.
//!
//! A document is charged its stored text length plus a fixed overhead, a stable stand-in
//! for the size of its decoded tree. Raw bytes are not cached: reads of the text come from
//! the page cache or the memory map, and a second copy costs more than it saves.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use compact_str::CompactString;
use hashlink::LruCache;

use crate::toon::Value;

/// Bytes charged per entry on top of its text.
const ENTRY_OVERHEAD: usize = 64;

/// Independent LRUs, each with its own lock and an equal share of the budget, so parallel
/// readers rarely wait on each other.
const SHARDS: usize = 16;

type FastHasher = foldhash::fast::RandomState;

/// Where a cached document came from: a key or a row id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    Key(CompactString),
    Row(u64),
}

struct Shard {
    entries: LruCache<Slot, (Arc<Value>, usize), FastHasher>,
    bytes: usize,
}

/// A shard's lock and its counters side by side: a hit writes no line that taking the lock
/// did not already write (global counters were a line every thread wrote).
struct ShardCell {
    shard: Mutex<Shard>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ShardCell {
    fn lock(&self) -> MutexGuard<'_, Shard> {
        self.shard.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) struct Cache {
    shards: Box<[ShardCell]>,
    /// Picks a slot's shard (the shards hash again with their own seeds).
    spread: FastHasher,
    shard_limit: usize,
}

impl Cache {
    pub fn new(limit: usize) -> Cache {
        let cell = || ShardCell {
            shard: Mutex::new(Shard {
                entries: LruCache::with_hasher(usize::MAX, FastHasher::default()),
                bytes: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        };
        Cache {
            shards: (0..SHARDS).map(|_| cell()).collect(),
            spread: FastHasher::default(),
            shard_limit: limit / SHARDS,
        }
    }

    fn cell(&self, slot: &Slot) -> &ShardCell {
        &self.shards[self.spread.hash_one(slot) as usize % SHARDS]
    }

    fn shard(&self, slot: &Slot) -> MutexGuard<'_, Shard> {
        self.cell(slot).lock()
    }

    pub fn get(&self, slot: &Slot) -> Option<Arc<Value>> {
        let cell = self.cell(slot);
        let found = match self.shard_limit {
            0 => None,
            _ => cell.lock().entries.get(slot).map(|(value, _)| value.clone()),
        };
        let counter = if found.is_some() { &cell.hits } else { &cell.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn insert(&self, slot: Slot, value: Arc<Value>, text_len: usize) {
        let charge = text_len + ENTRY_OVERHEAD;
        if charge > self.shard_limit {
            return;
        }
        let mut shard = self.shard(&slot);
        if let Some((_, old)) = shard.entries.insert(slot, (value, charge)) {
            shard.bytes -= old;
        }
        shard.bytes += charge;
        while shard.bytes > self.shard_limit {
            match shard.entries.remove_lru() {
                Some((_, (_, evicted))) => shard.bytes -= evicted,
                None => break,
            }
        }
    }

    pub fn remove(&self, slot: &Slot) {
        if self.shard_limit == 0 {
            return;
        }
        let mut shard = self.shard(slot);
        if let Some((_, charge)) = shard.entries.remove(slot) {
            shard.bytes -= charge;
        }
    }

    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|cell| cell.lock().bytes).sum()
    }

    pub fn hits(&self) -> u64 {
        self.shards.iter().map(|cell| cell.hits.load(Ordering::Relaxed)).sum()
    }

    pub fn misses(&self) -> u64 {
        self.shards.iter().map(|cell| cell.misses.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_byte_budget_evicting_the_least_recent() {
        // Slots of one shard, so its share of the budget (3 entries) decides.
        let cache = Cache::new(SHARDS * 3 * (100 + ENTRY_OVERHEAD));
        let shard_of = |slot: &Slot| cache.spread.hash_one(slot) as usize % SHARDS;
        let one_shard: Vec<Slot> =
            (0..).map(Slot::Row).filter(|s| shard_of(s) == 0).take(4).collect();
        for slot in &one_shard[..3] {
            cache.insert(slot.clone(), Arc::new(Value::Null), 100);
        }
        assert!(cache.get(&one_shard[0]).is_some(), "touch 0 so 1 is the least recent");
        cache.insert(one_shard[3].clone(), Arc::new(Value::Null), 100);
        assert!(cache.get(&one_shard[1]).is_none());
        assert!(cache.get(&one_shard[0]).is_some());
        assert_eq!(cache.bytes(), 3 * (100 + ENTRY_OVERHEAD));
        assert_eq!((cache.hits(), cache.misses()), (2, 1));
        cache.insert(Slot::Key("huge".into()), Arc::new(Value::Null), 10_000);
        assert!(cache.get(&Slot::Key("huge".into())).is_none(), "too large to cache at all");
    }
}
