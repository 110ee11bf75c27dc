//! The store: an append log of TOON documents, a key index, a cache of decoded documents.
//!
//! ToonStore keeps documents by key (`put`, `get`, `delete`, ordered `scan`) and by row id
//! (`append`, `get_row`, the seed engine's API), in one log of segment files, behind the
//! [`crate::io`] seam so the same code and bytes run natively, under WASI and in a browser.
//!
//! What it is not: a database with queries or transactions across calls; one process
//! writes at a time (others get [`Error::Locked`]); values are TOON documents up to
//! [`Options::max_value_bytes`]. What it promises (when a write is durable, what a full disk
//! or damaged file does) is in `docs/FORMAT.md`, "Guarantees".
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
//! Where things are: `open.rs` (open, recovery, creation), `replay.rs` (reading a segment
//! back and telling a torn tail from damage), `write.rs` (the write path), `commit.rs` (group
//! commit and sync), `read.rs` (reads and scans), `maintain.rs` (stats, compaction, close,
//! hints). Byte layouts: each module that writes a file opens with its table (`segment.rs`,
//! `record.rs`, `manifest.rs`, `hint.rs`), mirrored in `docs/FORMAT.md`.

mod cache;
mod commit;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod hint;
mod index;
mod maintain;
mod manifest;
mod open;
mod options;
mod read;
mod record;
mod replay;
mod segment;
mod window;
mod write;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

pub use error::{Error, Limit, Result};
pub use maintain::{Compaction, Stats};
pub use options::{
    Durability, MAX_SEGMENT_BYTES, MAX_VALUE_BYTES, MIN_SEGMENT_BYTES, Options, Recovery,
};
pub use read::{Scan, ScanKey, ScanRequest};
pub use write::Batch;

use self::cache::Cache;
use self::index::Index;
use self::manifest::Manifest;
use crate::io::{File, Storage};

/// Longest key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// The index and the open segments; readers share it, writers hold it briefly.
struct State<F> {
    index: Index,
    segments: HashMap<u64, Arc<F>>,
}

/// The single writer's state; `None` in [`Store::writer`] once the store is closed.
struct Writer<F> {
    manifest: Manifest,
    manifest_file: F,
    active: Arc<F>,
    active_id: u64,
    /// The active segment's format version: a format-1 segment takes no new record (the
    /// first write starts a format-2 segment).
    active_version: u32,
    /// Where the next record goes in the active segment (pending records included).
    end: u64,
    /// Records appended after `flushed`, not yet handed to the file: one write per
    /// [`WRITE_BUFFER`] bytes instead of one per record.
    pending: Vec<u8>,
    /// Where `pending` starts in the active segment: the file holds everything before.
    flushed: u64,
    /// With `Immediate` durability the file holds zeros written ahead of the records up to
    /// here (see [`PREWRITTEN`]); 0 when nothing is written ahead.
    zeroed: u64,
    /// How much of the active segment a completed sync made durable: what the next record
    /// (or sync mark) records, so damage below it is never taken for a torn write.
    durable: u64,
    /// The `synced` field of the last record or mark in the file: a sync mark is written
    /// only when a sync moved `durable` past it.
    marked: u64,
    /// Where the last sync mark sits, while nothing has been written over it: sealing or
    /// closing the segment keeps it as the log's last record (it is the evidence of the last
    /// sync until a commit records it).
    mark_at: Option<u64>,
    sequence: u64,
    next_row: u64,
    /// Bytes of segment files counted toward [`Options::max_store_bytes`].
    log_bytes: u64,
    /// Bytes appended since the store opened: the positions group commit waits for.
    written: u64,
    /// Whether the reserve file exists (see [`maintain`]).
    reserve: bool,
}

impl<F> Writer<F> {
    /// Bytes appended since open that the file holds (the rest is in `pending`).
    fn handed(&self) -> u64 {
        self.written - self.pending.len() as u64
    }
}

/// `Immediate` durability writes this many zero bytes ahead of the log's end, once per that
/// many bytes of records. A sync of records that overwrite such bytes is a data-only
/// fdatasync (measured here: 70-90 us against ~130 us for one that grows the file). Writing
/// them is best effort: on a full disk the log grows without them. Sealing or closing a
/// segment trims them, and an open after a crash cuts them off.
const PREWRITTEN: u64 = 1 << 20;

/// Records are handed to the file in writes of about this size (`Eventual` durability).
const WRITE_BUFFER: usize = 64 << 10;

/// Group commit: which written position is durable, and whether a sync is running.
#[derive(Default)]
struct SyncState {
    synced: u64,
    running: bool,
}

/// What the open found and did (see [`Stats`]).
#[derive(Clone, Debug, Default)]
struct Recovered {
    /// Bytes of a torn tail cut off (or, read-only, skipped).
    torn_bytes: u64,
    /// Records dropped by [`Recovery::Salvage`], and the files their bytes were moved to.
    salvaged_records: u64,
    salvage_files: Vec<String>,
}

/// A ToonStore over the storage backend `S`.
///
/// Lock order (a thread holding one may take those after it, never one before): `writer`,
/// then `state`, then a cache shard; `writer`, then `sync_lock`. `sync_state` is never held
/// while taking another lock: group commit drops it before it reads the writer, and takes
/// `sync_lock` alone. Readers take `state` (read) alone, or `writer` alone to copy a record
/// still in the write buffer.
pub struct Store<S: Storage> {
    storage: S,
    options: Options,
    state: RwLock<State<S::File>>,
    writer: Mutex<Option<Writer<S::File>>>,
    sync_state: Mutex<SyncState>,
    synced: Condvar,
    /// Held around every sync of the active segment and the poisoning that follows a failed
    /// one: Linux reports a failed writeback to one sync only, so a sync that returns Ok after
    /// another failed must see the poison (see [`Store::sync_active`]).
    sync_lock: Mutex<()>,
    cache: Cache,
    /// Set by a failed write or sync: nothing reaches the storage afterwards.
    poisoned: AtomicBool,
    closed: AtomicBool,
    recovered: Recovered,
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

impl<S: Storage> Store<S> {
    fn read_state(&self) -> RwLockReadGuard<'_, State<S::File>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State<S::File>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
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
    /// bytes on disk, so no byte reaches the storage any more; reads go on from what is known
    /// good. Returns `error`.
    fn poison(&self, error: impl Into<Error>) -> Error {
        self.poisoned.store(true, Ordering::Release);
        error.into()
    }

    /// Fails with [`Error::Poisoned`] once the store is poisoned: checked before any byte
    /// goes to storage.
    fn check_not_poisoned(&self) -> Result<()> {
        match self.poisoned.load(Ordering::Acquire) {
            true => Err(Error::Poisoned),
            false => Ok(()),
        }
    }

    /// Syncs `file` (the active segment, or one being sealed), poisoning the store if it
    /// fails. Under `sync_lock`, and refused once the store is poisoned: when another sync of
    /// the file failed, this one may return Ok without having written anything.
    fn sync_active(&self, file: &S::File) -> Result<()> {
        let _serial = lock(&self.sync_lock);
        self.check_not_poisoned()?;
        file.sync_data().map_err(|e| self.poison(e))
    }

    /// Syncs the active segment with everything handed to it (nothing may be pending): all
    /// of it is durable then, for readers of `durable` and for group commit's waiters.
    fn sync_to_end(&self, writer: &mut Writer<S::File>) -> Result<()> {
        debug_assert!(writer.pending.is_empty());
        self.sync_active(&writer.active)?;
        writer.durable = writer.flushed;
        lock(&self.sync_state).synced = writer.written;
        Ok(())
    }

    /// Commits `manifest`: under `sync_lock`, refused once the store is poisoned (a sync of
    /// the active segment that failed just before must stop the commit that would seal it).
    fn commit(&self, writer: &Writer<S::File>, manifest: &Manifest) -> Result<()> {
        let _serial = lock(&self.sync_lock);
        self.check_not_poisoned()?;
        manifest::store(&writer.manifest_file, manifest).map_err(|e| self.poison(e))
    }

    /// Tells readers which segment is active and how much of it the file holds.
    fn publish_active(&self, writer: &Writer<S::File>) {
        self.active_segment.store(writer.active_id, Ordering::Release);
        self.flushed_end.store(writer.flushed, Ordering::Release);
    }
}

impl<S: Storage> Drop for Store<S> {
    /// A store dropped without `close` still syncs what it wrote (errors are ignored here;
    /// call `close` to see them). Nothing is written once the store is poisoned.
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire)
            && !self.poisoned.load(Ordering::Acquire)
            && !self.options.read_only
        {
            let _ = self.sync();
        }
    }
}
