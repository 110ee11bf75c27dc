//! The store: an append log of TOON documents, a key index, a cache of decoded documents.
//!
//! ToonStore keeps documents by key (`put`, `get`, `delete`, ordered `scan`) and by row id
//! (`append`, `get_row`, the seed engine's API), in one log of segment files, behind the
//! [`crate::io`] seam so the same code and bytes run natively, under WASI and in a browser.
//!
//! What it is not: a database with queries or transactions across calls; one process
//! writes at a time (others get [`Error::Locked`]); values are TOON documents up to
//! [`Options::max_value_bytes`].
//!
//! ```
//! use toonstore::io::MemoryStorage;
//! use toonstore::store::{Options, Store};
//!
//! let store = Store::open(MemoryStorage::new(), Options::default())?;
//! store.put("user:1", "name: Ada\ntags[2]: math,engines")?;
//! assert_eq!(store.get("user:1")?.as_deref(), Some("name: Ada\ntags[2]: math,engines"));
//! let row = store.append("event: login")?;
//! assert_eq!(store.get_row(row)?.as_deref(), Some("event: login"));
//! store.close()?;
//! # Ok::<(), toonstore::store::Error>(())
//! ```
//!
//! Layout of the files: `docs/FORMAT.md` (each module that writes bytes opens with its
//! table: `segment.rs`, `record.rs`, `manifest.rs`, `hint.rs`).

mod cache;
mod error;
mod hint;
mod index;
mod manifest;
mod record;
mod segment;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};

use compact_str::CompactString;

pub use error::{Error, Result};

use self::cache::{Cache, Slot};
use self::error::corrupted;
use self::index::{Index, Location};
use self::manifest::Manifest;
use self::record::{Invalid, Op};
use crate::io::{File, OpenMode, Storage};
use crate::toon::{self, Value};

/// Longest key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// When a write is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Writes are gathered in a 64 KiB buffer, handed to the OS when it fills (or when a read
    /// needs them), and made durable at [`Store::sync`], at [`Store::close`] and when a
    /// segment fills. **A crash or power cut loses the writes since the last of these; a
    /// killed process loses those still in the buffer** (never a part of one: the store
    /// reopens at a record boundary, with every write before the lost ones intact).
    #[default]
    Eventual,
    /// A write returns once it is on disk (`fdatasync`); writers waiting together share one
    /// sync (group commit). **It does not protect against a disk that lies about syncing,
    /// nor against damage to the files after the fact** (that is reported as corruption).
    Immediate,
}

/// How a store behaves; `Options::default()` is a good start.
#[derive(Clone, Debug)]
pub struct Options {
    /// When writes are durable. Default: [`Durability::Eventual`].
    pub durability: Durability,
    /// Largest document, in bytes of canonical TOON. Default: 1 MiB.
    pub max_value_bytes: u64,
    /// Largest store, in bytes of segment files. Default: 1 GiB.
    pub max_store_bytes: u64,
    /// A segment is sealed and a new one started past this size. Default: 64 MiB.
    pub segment_bytes: u64,
    /// Memory for decoded documents, split evenly over 16 LRU shards (a document larger
    /// than a shard's share is not cached). Default: 32 MiB.
    pub cache_bytes: usize,
    /// Open for reading only: no file is created, changed or locked (so it works on
    /// read-only media and beside a writer), a torn tail is skipped rather than cut off, and
    /// every write fails with [`Error::ReadOnly`]. The store is seen as it was at open.
    /// Default: false.
    pub read_only: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Eventual,
            max_value_bytes: 1 << 20,
            max_store_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            cache_bytes: 32 << 20,
            read_only: false,
        }
    }
}

/// Figures about a store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live keys.
    pub keys: u64,
    /// Live rows.
    pub rows: u64,
    /// Bytes of all segment files.
    pub disk_bytes: u64,
    /// Bytes of live documents and their keys (record frames not included).
    pub live_bytes: u64,
    /// Bytes on disk that are neither live documents and keys nor segment headers: replaced,
    /// deleted and tombstone records (what compaction reclaims) and the frames of live
    /// records (17 bytes each, 21 per batch, which it keeps).
    pub garbage_bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Cache look-ups that found the decoded document, and those that did not.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Bytes charged to the cache now.
    pub cache_bytes: u64,
    /// Bytes of a torn tail cut off when the store was opened.
    pub recovered_tail_bytes: u64,
}

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    pub disk_bytes_before: u64,
    pub disk_bytes_after: u64,
    /// `disk_bytes_before - disk_bytes_after` (0 if writes during compaction grew the store).
    pub reclaimed_bytes: u64,
}

/// A set of puts and deletes applied atomically by [`Store::batch`].
#[derive(Debug, Default, Clone)]
pub struct Batch {
    ops: Vec<BatchOp>,
}

#[derive(Debug, Clone)]
enum BatchOp {
    /// `encoded`: the text is the encoder's output, canonical by construction.
    Put {
        key: String,
        text: String,
        encoded: bool,
    },
    Delete(String),
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Puts TOON text (validated and made canonical when the batch is applied).
    pub fn put(&mut self, key: impl Into<String>, toon: impl Into<String>) -> &mut Batch {
        self.ops.push(BatchOp::Put { key: key.into(), text: toon.into(), encoded: false });
        self
    }

    /// Puts a value.
    pub fn put_value(&mut self, key: impl Into<String>, value: &Value) -> &mut Batch {
        self.ops.push(BatchOp::Put { key: key.into(), text: toon::encode(value), encoded: true });
        self
    }

    /// Deletes a key (a no-op if it is absent).
    pub fn delete(&mut self, key: impl Into<String>) -> &mut Batch {
        self.ops.push(BatchOp::Delete(key.into()));
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The index and the open segments; readers share it, writers hold it briefly.
struct State<F> {
    index: Index,
    segments: HashMap<u64, Arc<F>>,
}

/// The single writer's state.
struct Writer<F> {
    manifest: Manifest,
    manifest_file: F,
    active: Arc<F>,
    active_id: u64,
    /// Where the next record goes in the active segment.
    end: u64,
    sequence: u64,
    next_row: u64,
    disk_bytes: u64,
    /// Bytes written since the store opened: the positions group commit waits for.
    written: u64,
    /// Records appended after `flushed`, not yet handed to the file: one write per
    /// [`WRITE_BUFFER`] bytes instead of one per record.
    pending: Vec<u8>,
    /// Where `pending` starts in the active segment: the file holds everything before.
    flushed: u64,
    /// With `Immediate` durability the file holds zeros written ahead of the records up to
    /// here (see [`PREWRITTEN`]); 0 when nothing is written ahead.
    zeroed: u64,
}

/// `Immediate` durability writes this many zero bytes ahead of the log's end, once per that
/// many bytes of records. A sync of records that overwrite such bytes is a data-only
/// fdatasync (measured here: 70-90 us against ~130 us for one that grows the file). Reopening
/// cuts the zeros off, and sealing or closing a segment trims them.
const PREWRITTEN: u64 = 1 << 20;

/// Records are handed to the file in writes of about this size (`Eventual` durability).
const WRITE_BUFFER: usize = 64 << 10;

/// Group commit: which written position is durable, and whether a sync is running.
#[derive(Default)]
struct SyncState {
    synced: u64,
    running: bool,
}

/// A ToonStore over the storage backend `S`.
pub struct Store<S: Storage> {
    storage: S,
    options: Options,
    state: RwLock<State<S::File>>,
    writer: Mutex<Writer<S::File>>,
    sync_state: Mutex<SyncState>,
    synced: Condvar,
    cache: Cache,
    poisoned: AtomicBool,
    closed: AtomicBool,
    recovered_tail_bytes: u64,
    /// The active segment and how much of it the file holds, for readers to tell, without
    /// the writer lock, whether a document may still be in the writer's pending buffer.
    active_segment: AtomicU64,
    flushed_end: AtomicU64,
}

impl<S: Storage> std::fmt::Debug for Store<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("options", &self.options).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A read-only open finding no manifest: there is no store to read.
fn no_store(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no store here (a read-only open does not create one)",
        )),
        _ => e.into(),
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Store<crate::io::MmapStorage> {
    /// Opens (or creates) the store in directory `dir`, reading sealed segments through
    /// memory maps. A second writer on the same directory gets [`Error::Locked`].
    pub fn open_dir(dir: impl AsRef<std::path::Path>, options: Options) -> Result<Self> {
        Store::open(crate::io::MmapStorage::open_dir(dir)?, options)
    }
}

impl<S: Storage> Store<S> {
    /// Opens the store held by `storage`, creating it when the storage is empty.
    pub fn open(storage: S, options: Options) -> Result<Self> {
        let mode = match options.read_only {
            true => OpenMode::ReadOnly,
            false => OpenMode::Existing,
        };
        if !options.read_only {
            storage.lock().map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock => Error::Locked,
                _ => e.into(),
            })?;
        }
        let manifest_file = match options.read_only {
            true => storage.open(manifest::FILE, OpenMode::ReadOnly).map_err(no_store)?,
            false => storage.open(manifest::FILE, OpenMode::Create)?,
        };
        let manifest = match manifest::load(&storage) {
            Ok(Some(manifest)) => manifest,
            Ok(None) if options.read_only => {
                return Err(no_store(std::io::ErrorKind::NotFound.into()));
            }
            Ok(None) => Self::create(&storage, &manifest_file)?,
            // A first manifest write torn by a crash: the store was never opened.
            Err(Error::Corrupted { .. }) if Self::interrupted_creation(&storage)? => {
                Self::create(&storage, &manifest_file)?
            }
            Err(e) => return Err(e),
        };
        let mut segments = HashMap::new();
        for &id in &manifest.segments {
            let file = storage.open(&segment::name(id), mode).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    corrupted(&segment::name(id), 0, "segment named by the manifest is missing")
                }
                _ => e.into(),
            })?;
            segment::check_header(&file, id)?;
            segments.insert(id, Arc::new(file));
        }
        let mut recovery = Recovery { read_only: options.read_only, ..Recovery::default() };
        let snapshot = match manifest.hint {
            0 => None,
            id => hint::read(&storage, id)?,
        };
        let mut start = (0, segment::HEADER);
        if let Some(snapshot) = snapshot.filter(|s| manifest.segments.contains(&s.coverage.segment))
        {
            let coverage = snapshot.coverage;
            start = (
                manifest.segments.iter().position(|&id| id == coverage.segment).unwrap(),
                coverage.offset,
            );
            recovery.next_row = coverage.next_row;
            recovery.index = Index::from_snapshot(snapshot.keys, snapshot.rows);
        }
        recovery.next_row = recovery.next_row.max(manifest.next_row);
        let last = manifest.segments.len() - 1;
        for (position, &id) in manifest.segments.iter().enumerate().skip(start.0) {
            let from = if position == start.0 { start.1 } else { segment::HEADER };
            recovery.replay(segments[&id].as_ref(), id, from, position == last)?;
        }
        let active_id = manifest.segments[last];
        let active = segments[&active_id].clone();
        let end = recovery.end;
        let mut disk_bytes = 0;
        for file in segments.values() {
            disk_bytes += file.len()?;
        }
        let store = Store {
            state: RwLock::new(State { index: recovery.index, segments }),
            writer: Mutex::new(Writer {
                next_row: recovery.next_row,
                sequence: recovery.sequence + 1,
                manifest,
                manifest_file,
                active,
                active_id,
                end,
                disk_bytes,
                written: 0,
                pending: Vec::with_capacity(WRITE_BUFFER),
                flushed: end,
                zeroed: 0,
            }),
            sync_state: Mutex::new(SyncState::default()),
            synced: Condvar::new(),
            cache: Cache::new(options.cache_bytes),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            recovered_tail_bytes: recovery.truncated,
            active_segment: AtomicU64::new(active_id),
            flushed_end: AtomicU64::new(end),
            options,
            storage,
        };
        if !store.options.read_only {
            store.remove_orphans()?;
        }
        Ok(store)
    }

    /// Whether the files are those of a creation a crash interrupted: at most the first
    /// segment, holding no record. (Any other segment means a manifest was lost.)
    fn interrupted_creation(storage: &S) -> Result<bool> {
        for name in storage.list()? {
            let Some(id) = segment::id_of(&name) else { continue };
            if id != 1 || storage.open(&name, OpenMode::ReadOnly)?.len()? > segment::HEADER {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A new store: its first segment, then the manifest naming it.
    fn create(storage: &S, manifest_file: &S::File) -> Result<Manifest> {
        if !Self::interrupted_creation(storage)? {
            return Err(corrupted(manifest::FILE, 0, "segments exist but the manifest is empty"));
        }
        manifest_file.set_len(0)?;
        new_segment(storage, 1)?;
        let manifest =
            Manifest { generation: 1, next_segment: 2, next_row: 0, hint: 0, segments: vec![1] };
        manifest::store(manifest_file, &manifest)?;
        storage.sync()?;
        Ok(manifest)
    }

    /// Removes segments and hints the manifest no longer names (left by a crash during a
    /// rotation or compaction).
    fn remove_orphans(&self) -> Result<()> {
        let writer = lock(&self.writer);
        let mut removed = false;
        for name in self.storage.list()? {
            let orphan = match (segment::id_of(&name), hint::id_of(&name)) {
                (Some(id), _) => !writer.manifest.segments.contains(&id),
                (_, Some(id)) => id != writer.manifest.hint,
                _ => false,
            };
            if orphan {
                self.storage.remove(&name)?;
                removed = true;
            }
        }
        if removed {
            self.storage.sync()?;
        }
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        match self.options.read_only {
            true => Err(Error::ReadOnly),
            false => Ok(()),
        }
    }

    /// Marks the store failed: after a failed write or sync nothing is known about the
    /// bytes on disk, so every later call fails until the store is reopened.
    fn poison<T>(&self, error: impl Into<Error>) -> Result<T> {
        self.poisoned.store(true, Ordering::Release);
        Err(error.into())
    }

    /// Canonical TOON of a document given as text. Text the validator proves canonical (the
    /// usual case: text written by an encoder) is kept as it is, checked in one pass without
    /// building the value; other text is decoded and encoded again.
    fn canonical<'t>(&self, toon_text: &'t str) -> Result<std::borrow::Cow<'t, str>> {
        if toon::is_canonical(toon_text)? {
            let text = toon_text.strip_suffix('\n').unwrap_or(toon_text);
            return Ok(std::borrow::Cow::Borrowed(text));
        }
        Ok(std::borrow::Cow::Owned(toon::encode(&toon::decode(toon_text)?)))
    }

    fn check_key(key: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::InvalidKey("keys cannot be empty".into()));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::TooLarge {
                what: "key",
                size: key.len() as u64,
                limit: MAX_KEY_BYTES as u64,
            });
        }
        Ok(())
    }

    fn check_value(&self, value: &str) -> Result<()> {
        let size = value.len() as u64;
        if size > self.options.max_value_bytes {
            return Err(Error::TooLarge {
                what: "document",
                size,
                limit: self.options.max_value_bytes,
            });
        }
        Ok(())
    }

    /// Stores TOON text under `key` (validated, kept in canonical form).
    pub fn put(&self, key: &str, toon_text: &str) -> Result<()> {
        Self::check_key(key)?;
        let canonical = self.canonical(toon_text)?;
        self.check_value(&canonical)?;
        self.write(&[Op::Put { key, value: canonical.as_bytes() }]).map(drop)
    }

    /// Stores a value under `key`.
    pub fn put_value(&self, key: &str, value: &Value) -> Result<()> {
        Self::check_key(key)?;
        let text = toon::encode(value);
        self.check_value(&text)?;
        self.write(&[Op::Put { key, value: text.as_bytes() }]).map(drop)
    }

    /// Deletes `key`; true when it existed.
    pub fn delete(&self, key: &str) -> Result<bool> {
        Self::check_key(key)?;
        self.write(&[Op::Delete { key }]).map(|outcome| outcome.existed[0])
    }

    /// Appends a document as the next row; returns its row id.
    pub fn append(&self, toon_text: &str) -> Result<u64> {
        let canonical = self.canonical(toon_text)?;
        self.append_canonical(&canonical)
    }

    /// Appends a value as the next row; returns its row id.
    pub fn append_value(&self, value: &Value) -> Result<u64> {
        self.append_canonical(&toon::encode(value))
    }

    fn append_canonical(&self, text: &str) -> Result<u64> {
        self.check_value(text)?;
        let outcome = self.write(&[Op::Row { id: NEXT_ROW, value: text.as_bytes() }])?;
        Ok(outcome.rows[0])
    }

    /// Deletes row `id`; true when it existed.
    pub fn delete_row(&self, id: u64) -> Result<bool> {
        self.write(&[Op::DeleteRow { id }]).map(|outcome| outcome.existed[0])
    }

    /// Applies every put and delete of `batch`, or none of them, even across a crash.
    pub fn batch(&self, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return self.check_open();
        }
        let mut ops = Vec::with_capacity(batch.len());
        // Texts that need rewriting to canonical form, kept here for `ops` to borrow.
        let mut canonical = Vec::with_capacity(batch.len());
        for op in &batch.ops {
            match op {
                BatchOp::Put { key, text, encoded } => {
                    Self::check_key(key)?;
                    let text = match encoded {
                        true => std::borrow::Cow::Borrowed(text.as_str()),
                        false => self.canonical(text)?,
                    };
                    self.check_value(&text)?;
                    canonical.push(text);
                }
                BatchOp::Delete(key) => Self::check_key(key)?,
            }
        }
        let mut texts = canonical.iter();
        for op in &batch.ops {
            ops.push(match op {
                BatchOp::Put { key, .. } => {
                    let text = texts.next().expect("one text per put");
                    Op::Put { key, value: text.as_bytes() }
                }
                BatchOp::Delete(key) => Op::Delete { key },
            });
        }
        self.write(&ops).map(drop)
    }

    /// Appends one record holding `ops`, updates the index, and makes it durable as the
    /// options say. Nothing is written when a limit would be passed.
    fn write(&self, ops: &[Op<'_>]) -> Result<Outcome> {
        self.check_writable()?;
        let mut writer = lock(&self.writer);
        self.check_open()?;
        let mut ops = ops.to_vec();
        let mut outcome = Outcome::default();
        for op in &mut ops {
            if let Op::Row { id, .. } = op {
                *id = writer.next_row;
                writer.next_row += 1;
                outcome.rows.push(*id);
            }
        }
        let len = (record::FRAME_HEADER + record::body_len(&ops)) as u64;
        if len > u64::from(u32::MAX) {
            return Err(Error::TooLarge { what: "batch", size: len, limit: u64::from(u32::MAX) });
        }
        // Deletes are always taken, so that a full store can be emptied and compacted.
        let grows = ops.iter().any(|op| matches!(op, Op::Put { .. } | Op::Row { .. }));
        if grows && writer.disk_bytes + len > self.options.max_store_bytes {
            return Err(Error::StoreFull {
                size: writer.disk_bytes + len,
                limit: self.options.max_store_bytes,
            });
        }
        if writer.end > segment::HEADER
            && writer.end + len > self.options.segment_bytes
            && let Err(e) = self.rotate(&mut writer)
        {
            return self.poison(e);
        }
        let value_offsets = record::encode(writer.sequence, &ops, &mut writer.pending);
        let flush_now = self.options.durability == Durability::Immediate
            || writer.pending.len() >= WRITE_BUFFER;
        if flush_now && let Err(e) = self.flush(&mut writer) {
            return self.poison(e);
        }
        let record_start = writer.end;
        let segment_id = writer.active_id;
        writer.end += len;
        writer.disk_bytes += len;
        writer.written += len;
        writer.sequence += 1;
        let written = writer.written;
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            for (op, value_offset) in ops.iter().zip(value_offsets) {
                match *op {
                    Op::Put { key, .. } | Op::Delete { key } => {
                        self.cache.remove(&Slot::Key(key.into()))
                    }
                    Op::DeleteRow { id } => self.cache.remove(&Slot::Row(id)),
                    // A new row id was never cached.
                    Op::Row { .. } => {}
                }
                outcome.existed.push(state.index.apply(op, segment_id, record_start, value_offset));
            }
        }
        drop(writer);
        if self.options.durability == Durability::Immediate {
            self.sync_through(written)?;
        }
        Ok(outcome)
    }

    /// Seals the active segment (synced first, so a later segment never outlives an earlier
    /// one's lost tail) and starts the next, named in the manifest before any record.
    fn rotate(&self, writer: &mut Writer<S::File>) -> Result<()> {
        self.flush(writer)?;
        self.trim_prewritten(writer)?;
        writer.active.sync_data()?;
        lock(&self.sync_state).synced = writer.written;
        let id = writer.manifest.next_segment;
        let file = Arc::new(new_segment(&self.storage, id)?);
        let mut manifest = writer.manifest.clone();
        manifest.generation += 1;
        manifest.next_segment += 1;
        manifest.next_row = writer.next_row;
        manifest.segments.push(id);
        manifest::store(&writer.manifest_file, &manifest)?;
        writer.manifest = manifest;
        // The sealed segment, reopened: a backend with memory maps now maps all of it.
        let sealed_id = writer.active_id;
        let sealed = Arc::new(self.storage.open(&segment::name(sealed_id), OpenMode::Existing)?);
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.segments.insert(sealed_id, sealed);
        state.segments.insert(id, file.clone());
        drop(state);
        writer.active = file;
        writer.active_id = id;
        writer.end = segment::HEADER;
        writer.flushed = segment::HEADER;
        writer.disk_bytes += segment::HEADER;
        self.publish_active(writer);
        Ok(())
    }

    /// Hands the pending records to the file (and, for `Immediate` durability, writes the
    /// next [`PREWRITTEN`] zeros when the records pass the last ones).
    fn flush(&self, writer: &mut Writer<S::File>) -> Result<()> {
        if writer.pending.is_empty() {
            return Ok(());
        }
        writer.active.write_at(writer.flushed, &writer.pending)?;
        writer.flushed += writer.pending.len() as u64;
        writer.pending.clear();
        if self.options.durability == Durability::Immediate && writer.flushed >= writer.zeroed {
            let ahead = PREWRITTEN.min(self.options.segment_bytes.saturating_sub(writer.flushed));
            if ahead > 0 {
                writer.active.write_at(writer.flushed, &vec![0; ahead as usize])?;
                writer.zeroed = writer.flushed + ahead;
            }
        }
        self.publish_active(writer);
        Ok(())
    }

    /// Cuts the zeros written ahead off the active segment, so a sealed or closed segment
    /// ends with its last record.
    fn trim_prewritten(&self, writer: &mut Writer<S::File>) -> Result<()> {
        if writer.zeroed > writer.flushed {
            writer.active.set_len(writer.flushed)?;
        }
        writer.zeroed = 0;
        Ok(())
    }

    /// Tells readers which segment is active and how much of it the file holds.
    fn publish_active(&self, writer: &Writer<S::File>) {
        self.active_segment.store(writer.active_id, Ordering::Release);
        self.flushed_end.store(writer.flushed, Ordering::Release);
    }

    /// Reads a document a reader found in the index: it may still be in the pending buffer,
    /// so the file is made to hold it first. (Compaction, which flushes before it reads,
    /// uses [`Store::read`] directly.)
    fn read_indexed(&self, location: &Location, file: &S::File) -> Result<String> {
        self.ensure_flushed(location)?;
        Self::read(location, file)
    }

    /// Makes sure the file holds the document at `location` (it may still be pending).
    fn ensure_flushed(&self, location: &Location) -> Result<()> {
        let end = location.offset + u64::from(location.len);
        if location.segment != self.active_segment.load(Ordering::Acquire)
            || end <= self.flushed_end.load(Ordering::Acquire)
        {
            return Ok(());
        }
        let mut writer = lock(&self.writer);
        if writer.active_id == location.segment
            && end > writer.flushed
            && let Err(e) = self.flush(&mut writer)
        {
            drop(writer);
            return self.poison(e);
        }
        Ok(())
    }

    /// Makes every write up to position `target` durable, sharing the sync with other
    /// writers waiting at the same time (group commit).
    fn sync_through(&self, target: u64) -> Result<()> {
        let mut sync = lock(&self.sync_state);
        loop {
            if self.poisoned.load(Ordering::Acquire) {
                return Err(Error::Poisoned);
            }
            if sync.synced >= target {
                return Ok(());
            }
            if sync.running {
                sync = self.synced.wait(sync).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            sync.running = true;
            drop(sync);
            // Writers the last sync released are about to write again: letting them run
            // first puts their records into this sync instead of the next one. Keep the door
            // open while they are still arriving (a few yields at most; a lone writer finds
            // nothing new after one and goes on).
            let mut seen = lock(&self.writer).written;
            for _ in 0..4 {
                std::thread::yield_now();
                let now = lock(&self.writer).written;
                if now == seen {
                    break;
                }
                seen = now;
            }
            let (file, covered) = {
                let writer = lock(&self.writer);
                (writer.active.clone(), writer.written)
            };
            let result = file.sync_data();
            sync = lock(&self.sync_state);
            sync.running = false;
            self.synced.notify_all();
            match result {
                Ok(()) => sync.synced = sync.synced.max(covered),
                Err(e) => return self.poison(e),
            }
        }
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<()> {
        self.check_open()?;
        if self.options.read_only {
            return Ok(());
        }
        let written = {
            let mut writer = lock(&self.writer);
            if let Err(e) = self.flush(&mut writer) {
                drop(writer);
                return self.poison(e);
            }
            writer.written
        };
        self.sync_through(written)
    }

    fn location(&self, slot: &Slot) -> Option<(Location, Arc<S::File>)> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let location = match slot {
            Slot::Key(key) => state.index.keys.get(key.as_str()),
            Slot::Row(id) => state.index.rows.get(id),
        }?;
        Some((*location, state.segments.get(&location.segment)?.clone()))
    }

    /// Reads and checks a document's bytes.
    fn read(location: &Location, file: &S::File) -> Result<String> {
        let name = || segment::name(location.segment);
        let bytes =
            file.read_vec_at(location.offset, location.len as usize).map_err(|e| {
                match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => {
                        corrupted(&name(), location.offset, "document past the end of its segment")
                    }
                    _ => e.into(),
                }
            })?;
        if crc32c::crc32c(&bytes) != location.crc {
            return Err(corrupted(&name(), location.offset, "document checksum mismatch"));
        }
        String::from_utf8(bytes)
            .map_err(|_| corrupted(&name(), location.offset, "document is not UTF-8"))
    }

    fn get_slot(&self, slot: &Slot) -> Result<Option<String>> {
        self.check_closed()?;
        match self.location(slot) {
            Some((location, file)) => self.read_indexed(&location, &file).map(Some),
            None => Ok(None),
        }
    }

    fn get_slot_value(&self, slot: Slot) -> Result<Option<Arc<Value>>> {
        self.check_closed()?;
        if let Some(value) = self.cache.get(&slot) {
            return Ok(Some(value));
        }
        let Some((location, file)) = self.location(&slot) else { return Ok(None) };
        let text = self.read_indexed(&location, &file)?;
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
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
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
    fn check_closed(&self) -> Result<()> {
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

    /// Every key, in key order, with its TOON text.
    pub fn scan(&self) -> Scan<'_, S> {
        self.scan_range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Keys starting with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &str) -> Scan<'_, S> {
        let mut scan = self.scan_range(Bound::Included(prefix), Bound::Unbounded);
        scan.prefix = Some(prefix.into());
        scan
    }

    /// Keys in a range, in key order.
    pub fn scan_range(&self, from: Bound<&str>, to: Bound<&str>) -> Scan<'_, S> {
        let owned = |b: Bound<&str>| b.map(CompactString::from);
        Scan::new(self, owned(from), owned(to))
    }

    /// Every row, in id order, with its TOON text.
    pub fn scan_rows(&self) -> Scan<'_, S, u64> {
        Scan::new(self, Bound::Unbounded, Bound::Unbounded)
    }

    /// Figures about the store now.
    pub fn stats(&self) -> Stats {
        let (disk_bytes, segments) = {
            let writer = lock(&self.writer);
            (writer.disk_bytes, writer.manifest.segments.len() as u64)
        };
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Stats {
            keys: state.index.keys.len() as u64,
            rows: state.index.rows.len() as u64,
            disk_bytes,
            live_bytes: state.index.live_bytes,
            garbage_bytes: disk_bytes
                .saturating_sub(state.index.live_bytes + segments * segment::HEADER),
            segments,
            cache_hits: self.cache.hits(),
            cache_misses: self.cache.misses(),
            cache_bytes: self.cache.bytes() as u64,
            recovered_tail_bytes: self.recovered_tail_bytes,
        }
    }

    /// Rewrites live documents into new segments and removes the old ones. Writers wait
    /// while it runs; readers do not (they keep reading the old segments until they are
    /// gone from the index).
    pub fn compact(&self) -> Result<Compaction> {
        self.check_writable()?;
        let mut writer = lock(&self.writer);
        let before = writer.disk_bytes;
        let result = self.compact_locked(&mut writer);
        match result {
            Ok(()) => {
                let after = writer.disk_bytes;
                Ok(Compaction {
                    disk_bytes_before: before,
                    disk_bytes_after: after,
                    reclaimed_bytes: before.saturating_sub(after),
                })
            }
            Err(e) => {
                drop(writer);
                self.poison(e)
            }
        }
    }

    fn compact_locked(&self, writer: &mut Writer<S::File>) -> Result<()> {
        // Everything goes into fresh segments; the last of them becomes the active one.
        self.flush(writer)?;
        writer.active.sync_data()?;
        // One consistent view: writers wait on the lock this holds.
        let (key_entries, row_entries, segments_before) = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            let keys: Vec<_> = state.index.keys.iter().map(|(k, l)| (k.clone(), *l)).collect();
            let rows: Vec<_> = state.index.rows.iter().map(|(i, l)| (*i, *l)).collect();
            (keys, rows, state.segments.clone())
        };
        let old_segments = writer.manifest.segments.clone();
        let mut next_segment = writer.manifest.next_segment;
        let mut start_segment = |files: &mut Vec<(u64, Arc<S::File>)>| -> Result<()> {
            if let Some((_, sealed)) = files.last() {
                sealed.sync_data()?;
            }
            files.push((next_segment, Arc::new(new_segment(&self.storage, next_segment)?)));
            next_segment += 1;
            Ok(())
        };
        let mut files: Vec<(u64, Arc<S::File>)> = Vec::new();
        start_segment(&mut files)?;
        let mut end = segment::HEADER;
        let mut keys = BTreeMap::new();
        let mut rows = BTreeMap::new();
        let mut buffer = Vec::new();
        let entries = key_entries
            .iter()
            .map(|(k, l)| (Some(k), 0, l))
            .chain(row_entries.iter().map(|(id, l)| (None, *id, l)));
        for (key, id, location) in entries {
            let text = Self::read(location, &segments_before[&location.segment])?;
            let op = match key {
                Some(key) => Op::Put { key, value: text.as_bytes() },
                None => Op::Row { id, value: text.as_bytes() },
            };
            let len = (record::FRAME_HEADER + record::body_len(&[op])) as u64;
            if end > segment::HEADER && end + len > self.options.segment_bytes {
                start_segment(&mut files)?;
                end = segment::HEADER;
            }
            let (segment_id, file) = files.last().expect("one segment was started");
            buffer.clear();
            let offsets = record::encode(writer.sequence, &[op], &mut buffer);
            writer.sequence += 1;
            file.write_at(end, &buffer)?;
            let new_location =
                Location { offset: end + offsets[0] as u64, segment: *segment_id, ..*location };
            match key {
                Some(key) => keys.insert(key.clone(), new_location),
                None => rows.insert(id, new_location),
            };
            end += len;
        }
        let new_ids: Vec<u64> = files.iter().map(|(id, _)| *id).collect();
        let mut disk_bytes = 0;
        for (_, file) in &files {
            disk_bytes += file.len()?;
        }
        files.last().unwrap().1.sync_data()?;
        self.storage.sync()?;
        let mut manifest = writer.manifest.clone();
        manifest.generation += 1;
        manifest.next_segment = next_segment;
        manifest.next_row = writer.next_row;
        manifest.hint = 0;
        manifest.segments = new_ids;
        manifest::store(&writer.manifest_file, &manifest)?;
        writer.manifest = manifest;
        let (active_id, active) = files.last().unwrap().clone();
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            // The same documents at new places: the live bytes stay as they are.
            state.index.keys = keys;
            state.index.rows = rows;
            state.segments = files.into_iter().collect();
        }
        writer.active = active;
        writer.active_id = active_id;
        writer.end = end;
        writer.flushed = end;
        writer.zeroed = 0;
        writer.disk_bytes = disk_bytes;
        self.publish_active(writer);
        lock(&self.sync_state).synced = writer.written;
        for id in old_segments {
            self.storage.remove(&segment::name(id))?;
        }
        self.storage.sync()?;
        Ok(())
    }

    /// Syncs, writes an index snapshot so the next open is quick, and closes. Later calls
    /// return [`Error::Closed`].
    pub fn close(&self) -> Result<()> {
        self.check_open()?;
        if self.options.read_only {
            self.closed.store(true, Ordering::Release);
            return Ok(());
        }
        let mut writer = lock(&self.writer);
        self.check_open()?;
        // Sync under the writer lock, so the hint covers only bytes that are durable (a
        // write slipping in between a sync and the hint would be covered but could be lost).
        let result = self
            .flush(&mut writer)
            .and_then(|()| self.trim_prewritten(&mut writer))
            .and_then(|()| Ok(writer.active.sync_data()?))
            .and_then(|()| {
                lock(&self.sync_state).synced = writer.written;
                self.write_hint(&mut writer)
            });
        if let Err(e) = result {
            drop(writer);
            return self.poison(e);
        }
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    fn write_hint(&self, writer: &mut Writer<S::File>) -> Result<()> {
        let id = writer.manifest.hint + 1;
        let coverage = hint::Coverage {
            segment: writer.active_id,
            offset: writer.end,
            next_row: writer.next_row,
        };
        let bytes = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            hint::encode(&coverage, &state.index)
        };
        hint::write(&self.storage, id, &bytes)?;
        self.storage.sync()?;
        let old = writer.manifest.hint;
        let mut manifest = writer.manifest.clone();
        manifest.generation += 1;
        manifest.hint = id;
        manifest.next_row = writer.next_row;
        manifest::store(&writer.manifest_file, &manifest)?;
        writer.manifest = manifest;
        if old != 0 {
            self.storage.remove(&hint::name(old))?;
            self.storage.sync()?;
        }
        Ok(())
    }
}

/// Placeholder row id: `write` assigns the next one.
const NEXT_ROW: u64 = u64::MAX;

/// What one write did, op by op.
#[derive(Default)]
struct Outcome {
    existed: Vec<bool>,
    rows: Vec<u64>,
}

/// Creates segment `id` with its header, synced, its name durable.
fn new_segment<S: Storage>(storage: &S, id: u64) -> Result<S::File> {
    let file = storage.open(&segment::name(id), OpenMode::Create)?;
    file.set_len(0)?;
    file.write_at(0, &segment::header(id))?;
    file.sync_data()?;
    storage.sync()?;
    Ok(file)
}

/// The index rebuilt from the log.
#[derive(Default)]
struct Recovery {
    index: Index,
    next_row: u64,
    sequence: u64,
    /// Bytes of a torn tail found in the active segment.
    truncated: u64,
    /// Where the active segment's last whole record ends.
    end: u64,
    /// Leave a torn tail in place (read-only opens): it is skipped, not cut off.
    read_only: bool,
}

impl Recovery {
    /// Applies the records of segment `id` from byte `from`. In the active segment the first
    /// bad or cut-off record ends the log (a torn tail: cut off); anywhere else it is
    /// corruption.
    fn replay<F: File>(&mut self, file: &F, id: u64, from: u64, active: bool) -> Result<()> {
        let len = file.len()?;
        let name = segment::name(id);
        if from > len {
            return Err(corrupted(
                &name,
                from,
                "the index snapshot covers more than the segment holds",
            ));
        }
        let mut bytes = vec![0; (len - from) as usize];
        file.read_at(from, &mut bytes)?;
        let mut at = 0;
        while at < bytes.len() {
            let decoded = match record::decode(&bytes[at..]) {
                Ok(decoded) => decoded,
                Err(_) if active => {
                    self.end = from + at as u64;
                    if !self.read_only {
                        file.set_len(self.end)?;
                        file.sync_data()?;
                    }
                    // Zeros written ahead by `Immediate` durability are not a torn record.
                    if bytes[at..].iter().any(|&b| b != 0) {
                        self.truncated = (bytes.len() - at) as u64;
                    }
                    return Ok(());
                }
                Err(Invalid::Truncated) => {
                    return Err(corrupted(
                        &name,
                        from + at as u64,
                        "sealed segment ends inside a record",
                    ));
                }
                Err(Invalid::Damaged(why)) => return Err(corrupted(&name, from + at as u64, why)),
            };
            let record_start = from + at as u64;
            self.sequence = self.sequence.max(decoded.sequence);
            for (op, value_offset) in &decoded.ops {
                if let Op::Row { id, .. } | Op::DeleteRow { id } = *op {
                    self.next_row = self.next_row.max(id + 1);
                }
                self.index.apply(op, id, record_start, *value_offset);
            }
            at += decoded.len;
        }
        if active {
            self.end = len;
        }
        Ok(())
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

    fn new(store: &'s Store<S>, from: Bound<K>, to: Bound<K>) -> Self {
        Scan {
            store,
            next: from,
            end: to,
            prefix: None,
            buffer: VecDeque::new(),
            files: Vec::new(),
            done: false,
        }
    }

    fn fill(&mut self) {
        self.files.clear();
        let state = self.store.state.read().unwrap_or_else(PoisonError::into_inner);
        let range = (self.next.clone(), self.end.clone());
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
        if self.buffer.is_empty() && !self.done {
            if let Err(e) = self.store.check_closed() {
                self.done = true;
                return Some(Err(e));
            }
            self.fill();
        }
        let (key, location, file) = self.buffer.pop_front()?;
        Some(self.store.read_indexed(&location, &self.files[file].1).map(|text| (key, text)))
    }
}

impl<S: Storage> Drop for Store<S> {
    /// A store dropped without `close` still syncs what it wrote (errors are ignored here;
    /// call `close` to see them).
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) && !self.poisoned.load(Ordering::Acquire) {
            let _ = self.sync();
        }
    }
}
