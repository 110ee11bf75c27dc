//! A read cache of file blocks in front of any backend, for homes whose reads are costly.
//!
//! Natively a get reads a memory map, and the kernel's page cache keeps recent blocks. In the
//! browser a read goes through an OPFS sync access handle: about 1.4 us in Chromium and 44 us
//! in Firefox for 1 KB (the browser bench's raw reads). [`CachedStorage`] keeps whole blocks
//! of the files it reads in memory, as the page cache would: one read fills a block, and the
//! documents beside the one asked for come from memory after it. (Under WASI a read is a
//! cheap host call: this cache made gets no faster there, so WASI goes without it.)
//!
//! It is write-through and never holds anything the file does not: writes go to the backend
//! first; a block a write touches is dropped, then filled again from the written bytes
//! when the write covered it whole (unless the write is a bulk one, longer than a few
//! blocks); a truncation or a failed write forgets every block of the file. Only blocks that
//! lie wholly inside the file are kept, so the growing end of the active segment is read
//! from the backend. Large reads (scans, replay) and read-only handles (whose file may
//! belong to a writer in another process) go straight to the backend. Handles to one name
//! share one file's blocks, as the seam asks.
//!
//! What it assumes: every change to a file opened for writing goes through this storage.
//! A file changed behind its back (through the backend directly, another process, or a
//! second `CachedStorage` on the same files) may be read stale; only its growth is seen.
//! The engine holds the store's writer lock, and the browser's one worker owns its files.
//! Like any cache it answers a hit without asking the backend, so a read error the backend
//! would have given is not seen then, and a miss reads a whole block, so it fails if that
//! block's read fails. Each file's reads and writes take turns (a lock held across the
//! backend's call): meant for the single-threaded homes.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hashlink::LruCache;

use super::{File, OpenMode, Storage};

type FastHasher = foldhash::fast::RandomState;

/// Writes longer than this many blocks keep none of their bytes in the cache.
const BULK_BLOCKS: u64 = 4;

/// How much to cache, and in what blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockCache {
    /// The size of a block (a power of two): what one miss reads. Large blocks pay where a
    /// read costs much whatever its size (OPFS).
    pub block_bytes: usize,
    /// The most bytes of blocks kept; the least recently used go first. Less than one
    /// block: no cache, every call goes to the backend.
    pub capacity_bytes: usize,
}

/// A [`Storage`] whose files keep a shared cache of blocks read or written whole.
#[derive(Debug)]
pub struct CachedStorage<S> {
    inner: S,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BlockCache,
    /// Every file opened for writing, by name, so handles to one name share its state.
    files: Mutex<HashMap<String, Arc<Mutex<FileState>>>>,
    /// Blocks by (generation of their file, block number).
    blocks: Mutex<Blocks>,
    generations: AtomicU64,
}

#[derive(Debug)]
struct Blocks {
    lru: LruCache<(u64, u64), Box<[u8]>, FastHasher>,
    bytes: usize,
}

/// What the cache knows of one file. A new generation makes every block cached under the
/// old one unreachable (they age out of the LRU): cheaper than finding them.
#[derive(Debug)]
struct FileState {
    generation: u64,
    /// The file's length, when known: blocks past it are not whole.
    len: Option<u64>,
}

/// A handle of a [`CachedStorage`]: the backend's handle, and its file's shared state
/// (`None` for read-only handles, which bypass the cache).
#[derive(Debug)]
pub struct CachedFile<F> {
    inner: F,
    state: Option<Arc<Mutex<FileState>>>,
    shared: Arc<Shared>,
}

impl<S: Storage> CachedStorage<S> {
    /// Caches `inner`'s files. Panics unless `block_bytes` is a power of two.
    pub fn new(inner: S, config: BlockCache) -> CachedStorage<S> {
        assert!(config.block_bytes.is_power_of_two(), "block size {}", config.block_bytes);
        let blocks =
            Blocks { lru: LruCache::with_hasher(usize::MAX, FastHasher::default()), bytes: 0 };
        let shared = Shared {
            config,
            files: Mutex::default(),
            blocks: Mutex::new(blocks),
            generations: AtomicU64::new(0),
        };
        CachedStorage { inner, shared: Arc::new(shared) }
    }

    /// The backend underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// A file's state under a generation of its own: no block cached under an older one is
    /// reachable from it.
    fn fresh(&self, len: Option<u64>) -> FileState {
        FileState { generation: self.generations.fetch_add(1, Ordering::Relaxed), len }
    }

    fn insert(&self, key: (u64, u64), block: Box<[u8]>) {
        let mut blocks = lock(&self.blocks);
        blocks.bytes += block.len();
        if let Some(old) = blocks.lru.insert(key, block) {
            blocks.bytes -= old.len();
        }
        while blocks.bytes > self.config.capacity_bytes {
            let Some((_, old)) = blocks.lru.remove_lru() else { break };
            blocks.bytes -= old.len();
        }
    }

    fn remove(&self, key: (u64, u64)) {
        let mut blocks = lock(&self.blocks);
        if let Some(old) = blocks.lru.remove(&key) {
            blocks.bytes -= old.len();
        }
    }
}

impl<S: Storage> Storage for CachedStorage<S> {
    type File = CachedFile<S::File>;

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<CachedFile<S::File>> {
        let config = self.shared.config;
        if mode == OpenMode::ReadOnly || config.capacity_bytes < config.block_bytes {
            let inner = self.inner.open(name, mode)?;
            return Ok(CachedFile { inner, state: None, shared: self.shared.clone() });
        }
        // Under the names' lock, so that no removal falls between the backend's open and
        // the choice of the state the handle shares.
        let mut files = lock(&self.shared.files);
        let inner = self.inner.open(name, mode)?;
        let state = files
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(self.shared.fresh(None))));
        Ok(CachedFile { inner, state: Some(state.clone()), shared: self.shared.clone() })
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut files = lock(&self.shared.files);
        let removed = self.inner.remove(name);
        // Gone (or never there): the next file of this name starts afresh. Handles still
        // open keep their state: they read what the removed file held. A failed removal
        // keeps the name's state, shared with the handles of the file that stays.
        // Lock order: the names, then a file, then the blocks.
        match &removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                // What a failed removal left is the backend's to say: forget the blocks.
                if let Some(state) = files.get(name) {
                    *lock(state) = self.shared.fresh(None);
                }
            }
            _ => {
                files.remove(name);
            }
        }
        removed
    }

    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }

    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }

    fn lock(&self) -> io::Result<()> {
        self.inner.lock()
    }

    fn unlock(&self) -> io::Result<()> {
        self.inner.unlock()
    }
}

impl<F: File> CachedFile<F> {
    /// Copies `buf.len()` bytes at `offset` out of whole blocks, reading the missing ones;
    /// false (nothing copied) when a block it needs is not whole inside the file.
    fn read_blocks(&self, file: &mut FileState, offset: u64, buf: &mut [u8]) -> io::Result<bool> {
        let size = self.shared.config.block_bytes as u64;
        let len = match file.len {
            Some(len) => len,
            None => *file.len.insert(self.inner.len()?),
        };
        let end = offset.saturating_add(buf.len() as u64);
        if end > len / size * size {
            return Ok(false);
        }
        let mut at = offset;
        while at < end {
            let number = at / size;
            let key = (file.generation, number);
            let within = (at - number * size) as usize;
            let take = (end - at).min(size - within as u64) as usize;
            let into = &mut buf[(at - offset) as usize..][..take];
            let hit = {
                let mut blocks = lock(&self.shared.blocks);
                blocks.lru.get(&key).map(|block| into.copy_from_slice(&block[within..][..take]))
            };
            if hit.is_none() {
                let mut block = vec![0; size as usize].into_boxed_slice();
                self.inner.read_at(number * size, &mut block)?;
                into.copy_from_slice(&block[within..][..take]);
                self.shared.insert(key, block);
            }
            at += take as u64;
        }
        Ok(true)
    }
}

impl<F: File> File for CachedFile<F> {
    fn len(&self) -> io::Result<u64> {
        let Some(state) = &self.state else { return self.inner.len() };
        let mut file = lock(state);
        let len = self.inner.len()?;
        file.len = Some(len);
        Ok(len)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if let Some(state) = &self.state
            && !buf.is_empty()
            && buf.len() <= self.shared.config.block_bytes
        {
            // Held across the backend's read, so no write slips between a read and its
            // block's insertion.
            let mut file = lock(state);
            if self.read_blocks(&mut file, offset, buf)? {
                return Ok(());
            }
        }
        self.inner.read_at(offset, buf)
    }

    fn read_vec_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        match &self.state {
            Some(_) if len > 0 && len <= self.shared.config.block_bytes => {
                let mut bytes = vec![0; len];
                self.read_at(offset, &mut bytes)?;
                Ok(bytes)
            }
            _ => self.inner.read_vec_at(offset, len),
        }
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let Some(state) = &self.state else { return self.inner.write_at(offset, data) };
        let mut file = lock(state);
        let size = self.shared.config.block_bytes as u64;
        let end = offset.saturating_add(data.len() as u64);
        if let Err(e) = self.inner.write_at(offset, data) {
            // What reached the file is unknown: forget all of it.
            *file = self.shared.fresh(None);
            return Err(e);
        }
        if data.is_empty() {
            return Ok(());
        }
        file.len = file.len.map(|len| len.max(end));
        // Bulk writes (a reserve, zeros written ahead, a compaction's copy) are not what
        // reads come back for: they only drop the blocks they touch.
        let keep = data.len() as u64 <= BULK_BLOCKS * size;
        for number in offset / size..end.div_ceil(size) {
            let start = number * size;
            let key = (file.generation, number);
            if keep && start >= offset && start + size <= end {
                // Covered whole: keep the written bytes, as a read would find them.
                let from = (start - offset) as usize;
                self.shared.insert(key, data[from..][..size as usize].into());
            } else {
                self.shared.remove(key);
            }
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let Some(state) = &self.state else { return self.inner.set_len(len) };
        let mut file = lock(state);
        let result = self.inner.set_len(len);
        let len = result.as_ref().ok().map(|()| len);
        *file = self.shared.fresh(len);
        result
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn close(self) -> io::Result<()> {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryStorage;
    use crate::io::fault::{CallKind, FaultyStorage};

    /// Tiny blocks and room for a few of them, so every check crosses blocks and evicts.
    const SMALL: BlockCache = BlockCache { block_bytes: 8, capacity_bytes: 32 };

    #[test]
    fn passes_the_conformance_suite() {
        crate::io::conformance::run(|| CachedStorage::new(MemoryStorage::new(), SMALL));
    }

    fn read(file: &impl File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        file.read_at(offset, &mut buf).map(|()| buf)
    }

    #[test]
    fn passes_the_conformance_suite_with_no_room() {
        let none = BlockCache { block_bytes: 8, capacity_bytes: 0 };
        crate::io::conformance::run(|| CachedStorage::new(MemoryStorage::new(), none));
    }

    #[test]
    fn reads_see_writes_through_any_handle() {
        let storage = CachedStorage::new(MemoryStorage::new(), SMALL);
        let writer = storage.open("f", OpenMode::Create).unwrap();
        let reader = storage.open("f", OpenMode::Existing).unwrap();
        writer.write_at(0, &[1; 24]).unwrap();
        assert_eq!(read(&reader, 4, 8).unwrap(), [1; 8]); // fills blocks 0 and 1
        writer.write_at(6, &[2; 4]).unwrap(); // half of each
        assert_eq!(read(&reader, 4, 8).unwrap(), [1, 1, 2, 2, 2, 2, 1, 1]);
        writer.write_at(8, &[3; 8]).unwrap(); // block 1 whole
        assert_eq!(read(&reader, 6, 4).unwrap(), [2, 2, 3, 3]);
        writer.set_len(12).unwrap();
        writer.set_len(24).unwrap();
        assert_eq!(read(&reader, 8, 16).unwrap(), [3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_removed_file_is_not_the_new_one_of_its_name() {
        let storage = CachedStorage::new(MemoryStorage::new(), SMALL);
        let old = storage.open("f", OpenMode::Create).unwrap();
        old.write_at(0, &[1; 16]).unwrap();
        assert_eq!(read(&old, 0, 8).unwrap(), [1; 8]);
        storage.remove("f").unwrap();
        let new = storage.open("f", OpenMode::CreateNew).unwrap();
        new.write_at(0, &[2; 16]).unwrap();
        assert_eq!(read(&new, 0, 8).unwrap(), [2; 8]);
        assert_eq!(read(&old, 0, 8).unwrap(), [1; 8]);
    }

    #[test]
    fn a_failed_removal_keeps_one_file_one_state() {
        let faulty = FaultyStorage::new(MemoryStorage::new()).unwrap();
        faulty.set_fault(|call| (call.kind == CallKind::Remove).then_some(io::ErrorKind::Other));
        let storage = CachedStorage::new(faulty, SMALL);
        let first = storage.open("f", OpenMode::Create).unwrap();
        first.write_at(0, &[1; 24]).unwrap();
        assert_eq!(read(&first, 0, 8).unwrap(), [1; 8]);
        assert!(storage.remove("f").is_err());
        let second = storage.open("f", OpenMode::Existing).unwrap();
        second.set_len(0).unwrap();
        assert!(read(&first, 0, 8).is_err(), "the file is empty now");
    }

    #[test]
    fn the_growing_end_is_read_from_the_file() {
        let storage = CachedStorage::new(MemoryStorage::new(), SMALL);
        let file = storage.open("f", OpenMode::Create).unwrap();
        file.write_at(0, &[1; 4]).unwrap();
        assert_eq!(read(&file, 0, 4).unwrap(), [1; 4]);
        // Another writer of the same bytes (the backend's own handle) extends the block.
        let direct = storage.inner().open("f", OpenMode::Existing).unwrap();
        direct.write_at(4, &[2; 4]).unwrap();
        assert_eq!(read(&file, 0, 4).unwrap(), [1; 4]);
        assert_eq!(file.len().unwrap(), 8);
        assert_eq!(read(&file, 2, 4).unwrap(), [1, 1, 2, 2]);
        assert!(read(&file, 6, 4).is_err(), "past the end");
    }

    /// Random writes, truncations and reads through two cached handles, some of them made to
    /// fail: every read equals the same read on the backend without the cache (2,000 seeds).
    #[test]
    fn every_read_is_the_backends() {
        for seed in 0..2000 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let faulty = FaultyStorage::new(MemoryStorage::new()).unwrap();
            let fail_one_in = rng.u64(2..8);
            let mut failing = fastrand::Rng::with_seed(seed ^ 0x5eed);
            faulty.set_fault(move |call| {
                let mutates = matches!(call.kind, CallKind::Write | CallKind::SetLen);
                (mutates && failing.u64(0..fail_one_in) == 0).then_some(io::ErrorKind::Other)
            });
            let config = BlockCache { block_bytes: 1 << rng.u32(2..5), capacity_bytes: 64 };
            let storage = CachedStorage::new(faulty, config);
            let handles = [
                storage.open("f", OpenMode::Create).unwrap(),
                storage.open("f", OpenMode::Existing).unwrap(),
            ];
            let truth = storage.inner().open("f", OpenMode::Existing).unwrap();
            for step in 0..300 {
                let handle = &handles[rng.usize(0..2)];
                let offset = rng.u64(0..96);
                let len = rng.usize(0..40);
                match rng.u8(0..10) {
                    0..=2 => {
                        let data: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
                        let _ = handle.write_at(offset, &data);
                    }
                    3 => {
                        let _ = handle.set_len(offset);
                    }
                    _ => {
                        let cached = read(handle, offset, len).map_err(|e| e.kind());
                        let direct = read(&truth, offset, len).map_err(|e| e.kind());
                        assert_eq!(cached, direct, "seed {seed} step {step}: {len} at {offset}");
                    }
                }
            }
        }
    }
}
