//! A wrapper that makes any backend fail on cue and models what a disk keeps across a crash.
//!
//! Faults are injected by wrapping a real backend, never by a mock: every call goes to the
//! inner storage, which holds the live bytes (what the OS's page cache would show), while the
//! wrapper keeps a model of the *disk*: each file's bytes as of its last successful
//! `sync_data`, the writes since (in order), and which names a directory sync made durable.
//!
//! - [`FaultyStorage::crash_at`]: mutating operation N and every later one fail, as if the
//!   machine stopped there.
//! - [`FaultyStorage::set_fault`]: a hook that fails any call (reads too) with an error of
//!   its choosing, e.g. `EIO` at random or `ENOSPC` on the nth write.
//! - [`FaultyStorage::set_space`]: a byte budget for all files together; a write that passes
//!   it writes the part that fits and fails with [`io::ErrorKind::StorageFull`], as a full
//!   disk or a quota does. The budget can grow again later.
//! - A failed `sync_data` drops the file's unsynced writes from the disk model for good while
//!   the live bytes keep them, as Linux does (it marks the failed pages clean).
//! - [`FaultyStorage::durable_image`]: the files a power cut would leave if nothing unsynced
//!   reached the disk; [`FaultyStorage::crash_image`]: a random one, where each unsynced
//!   write reaches the disk by 4 KiB pages, each kept, lost or torn at any byte, in any order,
//!   and names not made durable may or may not survive.
//!
//! Images are [`MemoryStorage`]s to reopen a store on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{File, MemoryStorage, OpenMode, Storage};

/// A backend with injected failures and a disk model.
#[derive(Clone)]
pub struct FaultyStorage<S> {
    inner: Arc<S>,
    state: Arc<Mutex<State>>,
}

impl<S> std::fmt::Debug for FaultyStorage<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStorage").finish_non_exhaustive()
    }
}

/// A file of a [`FaultyStorage`].
pub struct FaultyFile<F> {
    inner: F,
    name: String,
    inode: usize,
    state: Arc<Mutex<State>>,
}

impl<F> std::fmt::Debug for FaultyFile<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyFile").field("name", &self.name).finish_non_exhaustive()
    }
}

/// What a fault hook is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Creating a file (an open that creates it).
    Create,
    Open,
    Remove,
    List,
    /// A directory sync ([`Storage::sync`]).
    DirSync,
    Len,
    Read,
    Write,
    SetLen,
    /// A file's [`File::sync_data`].
    Sync,
}

impl CallKind {
    /// Whether the call changes the storage (and so counts as an operation).
    pub fn mutates(self) -> bool {
        matches!(
            self,
            CallKind::Create
                | CallKind::Remove
                | CallKind::DirSync
                | CallKind::Write
                | CallKind::SetLen
                | CallKind::Sync
        )
    }
}

/// One call, as a fault hook sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub kind: CallKind,
    /// The file (or "" for `List` and `DirSync`).
    pub name: &'a str,
    /// Calls so far, this one included.
    pub number: u64,
    /// Mutating operations so far, this one included (0 for calls that do not mutate).
    pub operation: u64,
}

type FaultHook = Box<dyn FnMut(&Call<'_>) -> Option<io::ErrorKind> + Send>;

/// One change to a file not yet made durable by `sync_data`.
#[derive(Debug, Clone)]
enum Change {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

/// A file as the disk model knows it: the same file may have had several names.
#[derive(Debug, Default, Clone)]
struct Inode {
    /// Its bytes on disk (as of the last successful `sync_data`).
    disk: Vec<u8>,
    /// Changes since, in order.
    unsynced: Vec<Change>,
    /// The bytes the last successful `sync_data` changed (start, end), for tests that damage
    /// exactly those.
    last_synced: Option<(u64, u64)>,
}

#[derive(Default)]
struct State {
    calls: u64,
    operations: u64,
    crash_at: Option<u64>,
    fault: Option<FaultHook>,
    /// The byte budget of all live files together.
    space: Option<u64>,
    inodes: Vec<Inode>,
    /// Names now, and names as of the last directory sync.
    live: BTreeMap<String, usize>,
    durable: BTreeMap<String, usize>,
    /// Live lengths, for the byte budget.
    lengths: HashMap<usize, u64>,
}

impl State {
    /// Counts a call; fails it when the crash point is reached or the hook says so.
    fn call(&mut self, kind: CallKind, name: &str) -> io::Result<()> {
        self.calls += 1;
        if kind.mutates() {
            self.operations += 1;
            if let Some(at) = self.crash_at.filter(|&at| self.operations >= at) {
                return Err(io::Error::other(format!(
                    "injected crash: {kind:?} {name} (operation {}, crash at {at})",
                    self.operations
                )));
            }
        }
        let call = Call {
            kind,
            name,
            number: self.calls,
            operation: if kind.mutates() { self.operations } else { 0 },
        };
        if let Some(error) = self.fault.as_mut().and_then(|hook| hook(&call)) {
            return Err(io::Error::new(
                error,
                format!("injected failure: {kind:?} {name} (call {})", self.calls),
            ));
        }
        Ok(())
    }

    fn used(&self) -> u64 {
        self.live.values().map(|inode| self.lengths.get(inode).copied().unwrap_or(0)).sum()
    }

    /// How many more bytes the files may take, if a budget is set.
    fn room(&self) -> Option<u64> {
        self.space.map(|space| space.saturating_sub(self.used()))
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn contents<F: File>(file: &F) -> io::Result<Vec<u8>> {
    file.read_vec_at(0, file.len()? as usize)
}

fn apply(bytes: &mut Vec<u8>, change: &Change) {
    match change {
        Change::Write { offset, data } => write_into(bytes, *offset as usize, data),
        Change::SetLen(len) => bytes.resize(*len as usize, 0),
    }
}

fn write_into(bytes: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(data);
}

/// Pages of the disk model: the unit in which unsynced writes reach the disk.
const PAGE: usize = 4096;

impl<S: Storage> FaultyStorage<S> {
    /// Wraps `inner`; the files it holds now count as durable.
    pub fn new(inner: S) -> io::Result<FaultyStorage<S>> {
        let mut state = State::default();
        for name in inner.list()? {
            let bytes = contents(&inner.open(&name, OpenMode::ReadOnly)?)?;
            let inode = state.inodes.len();
            state.lengths.insert(inode, bytes.len() as u64);
            state.inodes.push(Inode { disk: bytes, ..Inode::default() });
            state.durable.insert(name.clone(), inode);
            state.live.insert(name, inode);
        }
        Ok(FaultyStorage { inner: Arc::new(inner), state: Arc::new(Mutex::new(state)) })
    }

    /// Makes mutating operation `n` (1-based, counted from the wrapper's creation) and all
    /// later ones fail.
    pub fn crash_at(&self, n: u64) {
        lock(&self.state).crash_at = Some(n);
    }

    /// Lets operations succeed again after [`FaultyStorage::crash_at`] (a process that was
    /// killed, not a machine that stopped: the files are still there).
    pub fn clear_crash(&self) {
        lock(&self.state).crash_at = None;
    }

    /// Calls `hook` before every call; when it returns an error kind, the call fails with it
    /// and changes nothing.
    pub fn set_fault(&self, hook: impl FnMut(&Call<'_>) -> Option<io::ErrorKind> + Send + 'static) {
        lock(&self.state).fault = Some(Box::new(hook));
    }

    /// Removes the fault hook.
    pub fn clear_fault(&self) {
        lock(&self.state).fault = None;
    }

    /// Limits all files together to `bytes` (`None`: no limit).
    pub fn set_space(&self, bytes: Option<u64>) {
        lock(&self.state).space = bytes;
    }

    /// Bytes all files hold now.
    pub fn used(&self) -> u64 {
        lock(&self.state).used()
    }

    /// Mutating operations so far.
    pub fn operations(&self) -> u64 {
        lock(&self.state).operations
    }

    /// The bytes of `name` that its last successful `sync_data` changed: `(start, end)`.
    pub fn last_synced_range(&self, name: &str) -> Option<(u64, u64)> {
        let state = lock(&self.state);
        state.inodes[*state.live.get(name)?].last_synced
    }

    /// The files a power cut would leave now if no unsynced byte had reached the disk: the
    /// names made durable by a directory sync, each with its bytes as of its last sync.
    pub fn durable_image(&self) -> MemoryStorage {
        let state = lock(&self.state);
        let files = state
            .durable
            .iter()
            .map(|(name, &inode)| (name.clone(), state.inodes[inode].disk.clone()));
        MemoryStorage::from_snapshot(files.collect())
    }

    /// The files a power cut might leave now. `choose(n)` picks a number below `n` (a seeded
    /// generator makes the image reproducible): names created or removed since the last
    /// directory sync survive or not; every unsynced write reaches the disk page by page,
    /// each page kept, lost, or torn at any byte, independently of the others (so later
    /// writes may land without earlier ones); size changes land or not.
    pub fn crash_image(&self, choose: &mut dyn FnMut(u64) -> u64) -> MemoryStorage {
        let state = lock(&self.state);
        let mut names: BTreeSet<&String> = state.durable.keys().collect();
        names.extend(state.live.keys());
        let mut files = HashMap::new();
        for name in names {
            let inode = match (state.durable.get(name), state.live.get(name)) {
                (Some(&a), Some(&b)) if a == b => a,
                (Some(&a), Some(&b)) => [a, b][choose(2) as usize],
                (Some(&only), None) | (None, Some(&only)) => match choose(2) {
                    0 => continue,
                    _ => only,
                },
                (None, None) => unreachable!("the name came from one of the maps"),
            };
            let node = &state.inodes[inode];
            let mut bytes = node.disk.clone();
            for change in &node.unsynced {
                match change {
                    Change::SetLen(_) if choose(2) == 0 => {}
                    Change::SetLen(_) => apply(&mut bytes, change),
                    Change::Write { offset, data } => {
                        for (i, page) in data.chunks(PAGE).enumerate() {
                            let at = *offset as usize + i * PAGE;
                            match choose(4) {
                                0 => {}
                                1 => {
                                    let torn = choose(page.len() as u64 + 1) as usize;
                                    write_into(&mut bytes, at, &page[..torn]);
                                }
                                _ => write_into(&mut bytes, at, page),
                            }
                        }
                    }
                }
            }
            files.insert(name.clone(), bytes);
        }
        MemoryStorage::from_snapshot(files)
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    type File = FaultyFile<S::File>;

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<Self::File> {
        let mut state = lock(&self.state);
        let exists = state.live.contains_key(name);
        let creates = !exists && matches!(mode, OpenMode::Create | OpenMode::CreateNew);
        state.call(if creates { CallKind::Create } else { CallKind::Open }, name)?;
        let inner = self.inner.open(name, mode)?;
        let inode = match state.live.get(name) {
            Some(&inode) => inode,
            None => {
                let inode = state.inodes.len();
                state.inodes.push(Inode::default());
                state.lengths.insert(inode, 0);
                state.live.insert(name.to_owned(), inode);
                inode
            }
        };
        Ok(FaultyFile { inner, name: name.to_owned(), inode, state: self.state.clone() })
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.call(CallKind::Remove, name)?;
        self.inner.remove(name)?;
        state.live.remove(name);
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        lock(&self.state).call(CallKind::List, "")?;
        self.inner.list()
    }

    fn lock(&self) -> io::Result<()> {
        self.inner.lock()
    }

    fn unlock(&self) -> io::Result<()> {
        self.inner.unlock()
    }

    fn sync(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.call(CallKind::DirSync, "")?;
        self.inner.sync()?;
        state.durable = state.live.clone();
        Ok(())
    }
}

impl<F: File> File for FaultyFile<F> {
    fn len(&self) -> io::Result<u64> {
        lock(&self.state).call(CallKind::Len, &self.name)?;
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        lock(&self.state).call(CallKind::Read, &self.name)?;
        self.inner.read_at(offset, buf)
    }

    fn read_vec_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        lock(&self.state).call(CallKind::Read, &self.name)?;
        self.inner.read_vec_at(offset, len)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.call(CallKind::Write, &self.name)?;
        let len = state.lengths[&self.inode];
        let end = offset.saturating_add(data.len() as u64);
        let growth = end.saturating_sub(len);
        // A full disk takes what fits, then refuses the rest.
        let (data, full) = match state.room().filter(|&room| growth > room) {
            Some(room) => {
                (&data[..(len + room).saturating_sub(offset).min(data.len() as u64) as usize], true)
            }
            None => (data, false),
        };
        if !data.is_empty() {
            self.inner.write_at(offset, data)?;
            let end = offset + data.len() as u64;
            state.lengths.insert(self.inode, len.max(end));
            let change = Change::Write { offset, data: data.to_vec() };
            state.inodes[self.inode].unsynced.push(change);
        }
        match full {
            true => Err(io::Error::new(io::ErrorKind::StorageFull, "injected: no space left")),
            false => Ok(()),
        }
    }

    fn set_len(&self, new_len: u64) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.call(CallKind::SetLen, &self.name)?;
        let len = state.lengths[&self.inode];
        if state.room().is_some_and(|room| new_len.saturating_sub(len) > room) {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "injected: no space left"));
        }
        self.inner.set_len(new_len)?;
        state.lengths.insert(self.inode, new_len);
        state.inodes[self.inode].unsynced.push(Change::SetLen(new_len));
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        if let Err(e) = state.call(CallKind::Sync, &self.name) {
            // A failed sync (not a crash: then the machine stopped and the writes may still
            // land) does what Linux does with pages whose writeback failed: they stay in the
            // cache (reads see them) but are marked clean, so no later sync writes them.
            if state.crash_at.is_none_or(|at| state.operations < at) {
                state.inodes[self.inode].unsynced.clear();
            }
            return Err(e);
        }
        self.inner.sync_data()?;
        let node = &mut state.inodes[self.inode];
        // The bytes this sync wrote (a sync that only changed the length keeps the last range).
        let mut written: Option<(u64, u64)> = None;
        for change in std::mem::take(&mut node.unsynced) {
            if let Change::Write { offset, data } = &change {
                let end = offset + data.len() as u64;
                written =
                    Some(written.map_or((*offset, end), |(a, b)| (a.min(*offset), b.max(end))));
            }
            apply(&mut node.disk, &change);
        }
        let len = node.disk.len() as u64;
        node.last_synced = written
            .map(|(a, b)| (a.min(len), b.min(len)))
            .filter(|(a, b)| a < b)
            .or(node.last_synced);
        Ok(())
    }

    fn close(self) -> io::Result<()> {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_conformance_suite() {
        crate::io::conformance::run(|| FaultyStorage::new(MemoryStorage::new()).unwrap());
    }

    #[test]
    fn the_durable_image_keeps_only_synced_bytes_of_durable_names() {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        let kept = storage.open("kept", OpenMode::Create).unwrap();
        kept.write_at(0, b"synced").unwrap();
        kept.sync_data().unwrap();
        storage.sync().unwrap();
        kept.write_at(6, b" and lost").unwrap();
        let unnamed = storage.open("unnamed", OpenMode::Create).unwrap();
        unnamed.write_at(0, b"never durable").unwrap();
        unnamed.sync_data().unwrap();

        let image = storage.durable_image().snapshot();
        assert_eq!(image.len(), 1, "a name is durable only after Storage::sync");
        assert_eq!(image["kept"], b"synced");
        assert_eq!(storage.last_synced_range("kept"), Some((0, 6)));
    }

    #[test]
    fn crash_images_keep_any_subset_of_unsynced_pages() {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        let file = storage.open("f", OpenMode::Create).unwrap();
        storage.sync().unwrap();
        file.write_at(0, &[1; 3 * PAGE]).unwrap();
        let mut seen = BTreeSet::new();
        let mut rng = 12345u64;
        for _ in 0..200 {
            let image = storage.crash_image(&mut |n| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (rng >> 33) % n
            });
            let bytes = image.snapshot().remove("f").unwrap();
            let pages: Vec<bool> = (0..3).map(|p| bytes.get(p * PAGE) == Some(&1)).collect();
            seen.insert(pages);
        }
        assert!(seen.contains(&vec![false, false, true]), "a later page without earlier ones");
        assert!(
            seen.contains(&vec![true, true, true]) && seen.contains(&vec![false, false, false])
        );
    }

    #[test]
    fn a_full_disk_takes_what_fits_and_room_can_grow_again() {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        storage.set_space(Some(10));
        let file = storage.open("f", OpenMode::Create).unwrap();
        let error = file.write_at(0, b"0123456789abc").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(file.len().unwrap(), 10, "the part that fits is written");
        file.write_at(0, b"overwrite").expect("overwriting needs no room");
        storage.set_space(Some(20));
        file.write_at(10, b"abc").unwrap();
        assert_eq!(storage.used(), 13);
    }

    #[test]
    fn a_failed_sync_never_makes_its_writes_durable() {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        let file = storage.open("f", OpenMode::Create).unwrap();
        storage.sync().unwrap();
        file.write_at(0, b"lost").unwrap();
        storage.set_fault(|call| (call.kind == CallKind::Sync).then_some(io::ErrorKind::Other));
        assert!(file.sync_data().is_err());
        storage.clear_fault();
        file.sync_data().unwrap();
        assert_eq!(contents(&file).unwrap(), b"lost", "the page cache still has the bytes");
        assert_eq!(storage.durable_image().snapshot()["f"], b"", "the disk never got them");
    }

    #[test]
    fn operations_fail_from_the_crash_point_on() {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        let file = storage.open("f", OpenMode::Create).unwrap();
        file.write_at(0, b"one").unwrap();
        storage.crash_at(4);
        file.sync_data().unwrap();
        assert!(file.write_at(3, b"two").is_err(), "operation 4 fails");
        assert!(file.sync_data().is_err(), "and so does every later one");
        assert_eq!(storage.operations(), 5);
        assert_eq!(storage.durable_image().snapshot().get("f"), None, "never named durably");
    }
}
