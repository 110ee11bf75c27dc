//! The in-memory index: where every live document is.
//!
//! Keys have two structures: a hash map from key to location answers point reads and
//! writes in one probe, and an ordered set of the same keys serves scans. Only adding or
//! removing a key touches the ordered set, so overwriting a document (the usual write) and
//! reading one (the usual read) never walk a tree. Row ids are dense and ordered: a B-tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use compact_str::CompactString;

use super::record::Op;

/// Where a document's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub segment: u64,
    /// Of the value's first byte in the segment file.
    pub offset: u64,
    pub len: u32,
    /// CRC32C of the value, checked on every read.
    pub crc: u32,
}

/// Record bytes charged to one live entry (frame, body header, target, value).
fn record_cost(key_len: usize, value_len: u32) -> u64 {
    (8 + 9 + 2 + key_len) as u64 + u64::from(value_len)
}

/// A row's 8-byte id costs what a 2-byte key length and a 6-byte key do.
const ROW_ID_AS_KEY: usize = 6;

type FastHasher = foldhash::fast::RandomState;

/// Keys to locations: hashed for point access, ordered for scans.
#[derive(Default)]
pub(crate) struct KeyIndex {
    locations: HashMap<CompactString, Location, FastHasher>,
    order: BTreeSet<CompactString>,
}

impl KeyIndex {
    /// From entries in ascending key order (as a hint file holds them).
    pub fn from_sorted(entries: Vec<(CompactString, Location)>) -> KeyIndex {
        let mut locations = HashMap::with_capacity_and_hasher(entries.len(), FastHasher::default());
        // Sorted input builds the set in bulk, without one descent per key.
        let order = entries
            .into_iter()
            .map(|(key, location)| {
                locations.insert(key.clone(), location);
                key
            })
            .collect();
        KeyIndex { locations, order }
    }

    pub fn get(&self, key: &str) -> Option<&Location> {
        self.locations.get(key)
    }

    /// Sets the location of `key`; returns the one it replaces.
    pub fn insert(&mut self, key: &str, location: Location) -> Option<Location> {
        if let Some(current) = self.locations.get_mut(key) {
            return Some(std::mem::replace(current, location));
        }
        let key = CompactString::from(key);
        self.order.insert(key.clone());
        self.locations.insert(key, location);
        None
    }

    pub fn remove(&mut self, key: &str) -> Option<Location> {
        let location = self.locations.remove(key)?;
        self.order.remove(key);
        Some(location)
    }

    pub fn len(&self) -> usize {
        self.locations.len()
    }

    /// Entries with keys in `range`, in key order.
    pub fn range(
        &self,
        range: (Bound<CompactString>, Bound<CompactString>),
    ) -> impl Iterator<Item = (&CompactString, &Location)> {
        self.order.range::<CompactString, _>(range).map(|key| (key, &self.locations[key]))
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&CompactString, &Location)> {
        self.order.iter().map(|key| (key, &self.locations[key]))
    }
}

/// Where every live document is, and the record bytes they hold. The write path and the
/// replay at open apply records to it the same way, through [`Index::apply`].
#[derive(Default)]
pub(crate) struct Index {
    pub keys: KeyIndex,
    pub rows: BTreeMap<u64, Location>,
    pub live_bytes: u64,
}

impl Index {
    pub fn from_snapshot(
        keys: Vec<(CompactString, Location)>,
        rows: Vec<(u64, Location)>,
    ) -> Index {
        let live_bytes = keys
            .iter()
            .map(|(k, l)| record_cost(k.len(), l.len))
            .chain(rows.iter().map(|(_, l)| record_cost(ROW_ID_AS_KEY, l.len)))
            .sum();
        Index { keys: KeyIndex::from_sorted(keys), rows: rows.into_iter().collect(), live_bytes }
    }

    /// Applies one op of the record at `record_start` of segment `segment`, whose value (if
    /// any) starts `value_offset` bytes into the record. Returns whether the key or row
    /// existed before.
    pub fn apply(
        &mut self,
        op: &Op<'_>,
        segment: u64,
        record_start: u64,
        value_offset: usize,
    ) -> bool {
        let locate = |value: &[u8]| Location {
            segment,
            offset: record_start + value_offset as u64,
            len: value.len() as u32,
            crc: crc32c::crc32c(value),
        };
        let (old, key_len) = match *op {
            Op::Put { key, value } => {
                let location = locate(value);
                self.live_bytes += record_cost(key.len(), location.len);
                (self.keys.insert(key, location), key.len())
            }
            Op::Delete { key } => (self.keys.remove(key), key.len()),
            Op::Row { id, value } => {
                let location = locate(value);
                self.live_bytes += record_cost(ROW_ID_AS_KEY, location.len);
                (self.rows.insert(id, location), ROW_ID_AS_KEY)
            }
            Op::DeleteRow { id } => (self.rows.remove(&id), ROW_ID_AS_KEY),
        };
        old.inspect(|old| self.live_bytes -= record_cost(key_len, old.len)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Location {
        Location { segment: 1, offset, len: 10, crc: 0 }
    }

    #[test]
    fn point_access_and_ordered_ranges_agree() {
        let mut index = KeyIndex::from_sorted(vec![("b".into(), at(1)), ("d".into(), at(2))]);
        assert_eq!(index.insert("c", at(3)), None);
        assert_eq!(index.insert("b", at(4)), Some(at(1)), "an overwrite returns the old place");
        assert_eq!(index.insert("a", at(5)), None);
        assert_eq!(index.remove("d"), Some(at(2)));
        assert_eq!(index.remove("d"), None);
        assert_eq!(index.get("b"), Some(&at(4)));
        assert_eq!(index.len(), 3);
        let keys = |it: &mut dyn Iterator<Item = (&CompactString, &Location)>| {
            it.map(|(k, l)| format!("{k}@{}", l.offset)).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(keys(&mut index.iter()), "a@5 b@4 c@3");
        let from_b = (Bound::Included("b".into()), Bound::Unbounded);
        assert_eq!(keys(&mut index.range(from_b)), "b@4 c@3");
    }
}
