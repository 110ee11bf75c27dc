//! Reads and scans: documents by key and row id, decoded and cached, and ordered scans read
//! in chunks.
//!
//! Reads never write: a document still in the writer's buffer is copied from there. A
//! poisoned store still serves what it holds; every read checks the document's CRC32C.
//! Readers see a write as soon as it returns, before it is durable (with `Eventual`
//! durability, until the next sync; see `docs/FORMAT.md`).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use compact_str::CompactString;

use super::cache::Slot;
use super::error::{Error, Result, corrupted};
use super::index::{Index, Location};
use super::{Store, lock, segment};
use crate::io::{File, Storage};
use crate::toon::{self, Value};

/// Which keys a scan walks: those from `start` to `end` that begin with `prefix`, in key
/// order. The one description of a key scan that the CLI and the browser bindings share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRequest {
    pub prefix: Option<String>,
    pub start: Bound<String>,
    pub end: Bound<String>,
}

impl Default for ScanRequest {
    fn default() -> Self {
        ScanRequest { prefix: None, start: Bound::Unbounded, end: Bound::Unbounded }
    }
}

impl ScanRequest {
    /// Every key.
    pub fn all() -> Self {
        ScanRequest::default()
    }

    /// Only keys that begin with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Keys from `key` on (included).
    pub fn from(mut self, key: impl Into<String>) -> Self {
        self.start = Bound::Included(key.into());
        self
    }

    /// Keys after `key` (the last key of a previous page).
    pub fn after(mut self, key: impl Into<String>) -> Self {
        self.start = Bound::Excluded(key.into());
        self
    }

    /// Keys below `key` (excluded).
    pub fn to(mut self, key: impl Into<String>) -> Self {
        self.end = Bound::Excluded(key.into());
        self
    }

    /// Where the walk starts: the start key or the prefix, whichever comes later.
    fn lower(&self) -> Bound<&str> {
        let start = self.start.as_ref().map(String::as_str);
        let Some(prefix) = self.prefix.as_deref() else { return start };
        match start {
            Bound::Included(key) | Bound::Excluded(key) if key >= prefix => start,
            _ => Bound::Included(prefix),
        }
    }
}

/// What a scan walks: keys (`CompactString`) or row ids (`u64`), each in its own tree.
///
/// Sealed in effect: its methods name crate-private types, so other crates can neither call
/// nor implement them.
#[allow(private_interfaces)]
pub trait ScanKey: Ord + Clone + std::fmt::Debug {
    #[doc(hidden)]
    fn tree(index: &Index) -> &BTreeMap<Self, Location>;
    #[doc(hidden)]
    fn has_prefix(&self, prefix: &str) -> bool;
}

#[allow(private_interfaces)]
impl ScanKey for CompactString {
    fn tree(index: &Index) -> &BTreeMap<Self, Location> {
        &index.keys
    }
    fn has_prefix(&self, prefix: &str) -> bool {
        self.starts_with(prefix)
    }
}

#[allow(private_interfaces)]
impl ScanKey for u64 {
    fn tree(index: &Index) -> &BTreeMap<Self, Location> {
        &index.rows
    }
    fn has_prefix(&self, _: &str) -> bool {
        true
    }
}

/// Keys (or row ids) and their TOON text in order, read in chunks so writers are never
/// held up for a whole scan.
pub struct Scan<'s, S: Storage, K: ScanKey = CompactString> {
    store: &'s Store<S>,
    next: Bound<K>,
    end: Bound<K>,
    prefix: Option<String>,
    /// Buffered entries, each with the position of its segment's file in `files`.
    buffer: VecDeque<(K, Location, usize)>,
    /// The segments the buffered locations are in (one per chunk, as a rule).
    files: Vec<(u64, Arc<S::File>)>,
    done: bool,
}

impl<S: Storage, K: ScanKey> std::fmt::Debug for Scan<'_, S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("next", &self.next)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<'s, S: Storage, K: ScanKey> Scan<'s, S, K> {
    const CHUNK: usize = 256;

    fn new(store: &'s Store<S>, from: Bound<K>, to: Bound<K>, prefix: Option<String>) -> Self {
        Scan {
            store,
            next: from,
            end: to,
            prefix,
            buffer: VecDeque::new(),
            files: Vec::new(),
            done: false,
        }
    }

    fn fill(&mut self) {
        self.files.clear();
        let state = self.store.read_state();
        let range = (self.next.clone(), self.end.clone());
        // An empty range (start past end) walks nothing; BTreeMap::range would panic.
        let empty = match (&range.0, &range.1) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a > b || (a == b && !matches!(range, (Bound::Included(_), Bound::Included(_))))
            }
            _ => false,
        };
        if empty {
            self.done = true;
            return;
        }
        for (key, location) in K::tree(&state.index).range(range).take(Self::CHUNK) {
            if let Some(prefix) = &self.prefix
                && !key.has_prefix(prefix)
            {
                self.done = true;
                break;
            }
            let file = match self.files.iter().position(|(id, _)| *id == location.segment) {
                Some(file) => file,
                None => {
                    let Some(file) = state.segments.get(&location.segment) else { continue };
                    self.files.push((location.segment, file.clone()));
                    self.files.len() - 1
                }
            };
            self.buffer.push_back((key.clone(), *location, file));
        }
        match self.buffer.back() {
            Some((last, _, _)) => self.next = Bound::Excluded(last.clone()),
            None => self.done = true,
        }
    }
}

impl<S: Storage, K: ScanKey> Iterator for Scan<'_, S, K> {
    type Item = Result<(K, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.store.check_closed() {
            if self.done && self.buffer.is_empty() {
                return None;
            }
            self.done = true;
            self.buffer.clear();
            return Some(Err(e));
        }
        if self.buffer.is_empty() && !self.done {
            self.fill();
        }
        let (key, location, file) = self.buffer.pop_front()?;
        Some(self.store.read_located(&location, &self.files[file].1).map(|text| (key, text)))
    }
}

impl<S: Storage> Store<S> {
    fn location(&self, slot: &Slot) -> Option<(Location, Arc<S::File>)> {
        let state = self.read_state();
        let location = match slot {
            Slot::Key(key) => state.index.keys.get(key.as_str()),
            Slot::Row(id) => state.index.rows.get(id),
        }?;
        Some((*location, state.segments.get(&location.segment)?.clone()))
    }

    /// Reads and checks the document at `location`: from the writer's buffer if it is
    /// still there, else from `file`.
    pub(super) fn read_located(&self, location: &Location, file: &S::File) -> Result<String> {
        let end = location.offset + u64::from(location.len);
        if location.segment == self.active_segment.load(Ordering::Acquire)
            && end > self.flushed_end.load(Ordering::Acquire)
        {
            let guard = lock(&self.writer);
            if let Some(writer) = guard.as_ref()
                && writer.active_id == location.segment
                && location.offset >= writer.flushed
            {
                let from = (location.offset - writer.flushed) as usize;
                let bytes = writer.pending.get(from..from + location.len as usize);
                let bytes = bytes.ok_or_else(|| {
                    corrupted(
                        &segment::name(location.segment),
                        location.offset,
                        "document past the log's end",
                    )
                })?;
                return Self::checked(location, bytes.to_vec());
            }
        }
        Self::read(location, file)
    }

    /// Reads and checks a document's bytes from its file.
    pub(super) fn read(location: &Location, file: &S::File) -> Result<String> {
        let bytes =
            file.read_vec_at(location.offset, location.len as usize).map_err(|e| {
                match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => corrupted(
                        &segment::name(location.segment),
                        location.offset,
                        "document past the end of its segment",
                    ),
                    _ => e.into(),
                }
            })?;
        Self::checked(location, bytes)
    }

    fn checked(location: &Location, bytes: Vec<u8>) -> Result<String> {
        let name = || segment::name(location.segment);
        if crc32c::crc32c(&bytes) != location.crc {
            return Err(corrupted(&name(), location.offset, "document checksum mismatch"));
        }
        String::from_utf8(bytes)
            .map_err(|_| corrupted(&name(), location.offset, "document is not UTF-8"))
    }

    fn get_slot(&self, slot: &Slot) -> Result<Option<String>> {
        self.check_closed()?;
        match self.location(slot) {
            Some((location, file)) => self.read_located(&location, &file).map(Some),
            None => Ok(None),
        }
    }

    fn get_slot_value(&self, slot: Slot) -> Result<Option<Arc<Value>>> {
        self.check_closed()?;
        if let Some(value) = self.cache.get(&slot) {
            return Ok(Some(value));
        }
        let Some((location, file)) = self.location(&slot) else { return Ok(None) };
        let text = self.read_located(&location, &file)?;
        let value = Arc::new(toon::decode(&text).map_err(|e| {
            corrupted(
                &segment::name(location.segment),
                location.offset,
                format!("stored document does not decode: {e}"),
            )
        })?);
        // Cache it only if it is still the current document: a writer may have replaced it
        // since it was read. Writers update the index and the cache under both locks, taken
        // in this order, so the check and the insertion see one state.
        let state = self.read_state();
        let current = match &slot {
            Slot::Key(key) => state.index.keys.get(key.as_str()),
            Slot::Row(id) => state.index.rows.get(id),
        };
        if current == Some(&location) {
            self.cache.insert(slot, value.clone(), text.len());
        }
        drop(state);
        Ok(Some(value))
    }

    /// Reads need an open store; a poisoned one still serves what it has.
    pub(super) fn check_closed(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) { Err(Error::Closed) } else { Ok(()) }
    }

    /// The TOON text stored under `key`.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        self.get_slot(&Slot::Key(key.into()))
    }

    /// The document under `key`, decoded (and cached).
    pub fn get_value(&self, key: &str) -> Result<Option<Arc<Value>>> {
        self.get_slot_value(Slot::Key(key.into()))
    }

    /// The TOON text of row `id`.
    pub fn get_row(&self, id: u64) -> Result<Option<String>> {
        self.get_slot(&Slot::Row(id))
    }

    /// Row `id`, decoded (and cached).
    pub fn get_row_value(&self, id: u64) -> Result<Option<Arc<Value>>> {
        self.get_slot_value(Slot::Row(id))
    }

    /// The keys `request` describes, in key order, with their TOON text.
    pub fn scan_request(&self, request: &ScanRequest) -> Scan<'_, S> {
        let owned = |b: Bound<&str>| b.map(CompactString::from);
        let end = request.end.as_ref().map(String::as_str);
        Scan::new(self, owned(request.lower()), owned(end), request.prefix.clone())
    }

    /// Every key, in key order, with its TOON text.
    pub fn scan(&self) -> Scan<'_, S> {
        self.scan_request(&ScanRequest::all())
    }

    /// Keys starting with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &str) -> Scan<'_, S> {
        self.scan_request(&ScanRequest::all().prefix(prefix))
    }

    /// Keys in a range, in key order.
    pub fn scan_range(&self, from: Bound<&str>, to: Bound<&str>) -> Scan<'_, S> {
        let own = |b: Bound<&str>| b.map(str::to_owned);
        self.scan_request(&ScanRequest { prefix: None, start: own(from), end: own(to) })
    }

    /// Every row, in id order, with its TOON text.
    pub fn scan_rows(&self) -> Scan<'_, S, u64> {
        Scan::new(self, Bound::Unbounded, Bound::Unbounded, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_starts_at_the_later_of_its_prefix_and_start_key() {
        let request = ScanRequest::all().prefix("user:");
        assert_eq!(request.lower(), Bound::Included("user:"));
        assert_eq!(request.clone().from("a").lower(), Bound::Included("user:"));
        assert_eq!(request.clone().from("user:5").lower(), Bound::Included("user:5"));
        assert_eq!(request.clone().after("user:").lower(), Bound::Excluded("user:"));
        assert_eq!(request.after("zebra").lower(), Bound::Excluded("zebra"));
    }
}
