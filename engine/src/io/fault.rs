//! A wrapper that makes any backend fail on cue and remembers what a power cut would keep.
//!
//! Every mutating call (`write_at`, `set_len`, `sync_data`, `remove`, `Storage::sync`) is
//! one numbered operation. [`FaultyStorage::crash_at`] makes operation N and every one after
//! it fail, as if the machine stopped there. [`FaultyStorage::durable_image`] then gives the
//! files a disk would hold after the power cut: only names made durable by `Storage::sync`,
//! each with the bytes it had at its last `sync_data` (nothing written later), optionally
//! with the first half of the last unsynced write torn onto it. The image is a
//! [`MemoryStorage`] to reopen the store on.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{File, MemoryStorage, OpenMode, Storage};

/// A backend with injected failures and a durable-image model.
#[derive(Debug, Clone)]
pub struct FaultyStorage<S> {
    inner: Arc<S>,
    state: Arc<Mutex<State>>,
}

/// A file of a [`FaultyStorage`].
#[derive(Debug)]
pub struct FaultyFile<F> {
    inner: F,
    name: String,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    operations: u64,
    crash_at: Option<u64>,
    /// Names a power cut keeps.
    durable_names: BTreeSet<String>,
    /// Names that exist now (durable or not).
    live_names: BTreeSet<String>,
    /// Bytes each file had at its last `sync_data`.
    durable_contents: HashMap<String, Vec<u8>>,
    /// The last write to each file since its last sync: offset and bytes.
    last_unsynced_write: HashMap<String, (u64, Vec<u8>)>,
}

impl State {
    /// Counts one mutating operation; fails it when the crash point is reached.
    fn operation(&mut self, what: &str) -> io::Result<()> {
        self.operations += 1;
        match self.crash_at {
            Some(at) if self.operations >= at => Err(io::Error::other(format!(
                "injected failure: {what} (operation {}, crash at {at})",
                self.operations
            ))),
            _ => Ok(()),
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn contents<F: File>(file: &F) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; file.len()? as usize];
    file.read_at(0, &mut bytes)?;
    Ok(bytes)
}

impl<S: Storage> FaultyStorage<S> {
    /// Wraps `inner`; the files it holds now count as durable.
    pub fn new(inner: S) -> io::Result<FaultyStorage<S>> {
        let mut state = State::default();
        for name in inner.list()? {
            let bytes = contents(&inner.open(&name, OpenMode::Existing)?)?;
            state.durable_names.insert(name.clone());
            state.live_names.insert(name.clone());
            state.durable_contents.insert(name, bytes);
        }
        Ok(FaultyStorage { inner: Arc::new(inner), state: Arc::new(Mutex::new(state)) })
    }

    /// Makes operation `n` (1-based, counted from the wrapper's creation) and all later
    /// ones fail.
    pub fn crash_at(&self, n: u64) {
        lock(&self.state).crash_at = Some(n);
    }

    /// Mutating operations so far.
    pub fn operations(&self) -> u64 {
        lock(&self.state).operations
    }

    /// The files a power cut would leave now; with `torn`, each file also gets the first
    /// half of its last unsynced write, as a write cut off mid-way.
    pub fn durable_image(&self, torn: bool) -> MemoryStorage {
        let state = lock(&self.state);
        let files = state.durable_names.iter().map(|name| {
            let mut bytes = state.durable_contents.get(name).cloned().unwrap_or_default();
            if let Some((offset, data)) = state.last_unsynced_write.get(name).filter(|_| torn) {
                let torn_part = &data[..data.len() / 2];
                let end = *offset as usize + torn_part.len();
                if bytes.len() < end {
                    bytes.resize(end, 0);
                }
                bytes[*offset as usize..end].copy_from_slice(torn_part);
            }
            (name.clone(), bytes)
        });
        MemoryStorage::from_snapshot(files.collect())
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    type File = FaultyFile<S::File>;

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<Self::File> {
        let inner = self.inner.open(name, mode)?;
        lock(&self.state).live_names.insert(name.to_owned());
        Ok(FaultyFile { inner, name: name.to_owned(), state: self.state.clone() })
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        lock(&self.state).operation("remove")?;
        self.inner.remove(name)?;
        let mut state = lock(&self.state);
        state.live_names.remove(name);
        state.last_unsynced_write.remove(name);
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }

    fn lock(&self) -> io::Result<()> {
        self.inner.lock()
    }

    fn sync(&self) -> io::Result<()> {
        lock(&self.state).operation("storage sync")?;
        self.inner.sync()?;
        let mut state = lock(&self.state);
        let live = state.live_names.clone();
        for gone in state.durable_names.difference(&live).cloned().collect::<Vec<_>>() {
            state.durable_contents.remove(&gone);
        }
        state.durable_names = live;
        Ok(())
    }
}

impl<F: File> File for FaultyFile<F> {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buf)
    }

    fn read_vec_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.inner.read_vec_at(offset, len)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        lock(&self.state).operation("write")?;
        self.inner.write_at(offset, data)?;
        lock(&self.state).last_unsynced_write.insert(self.name.clone(), (offset, data.to_vec()));
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        lock(&self.state).operation("set_len")?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        lock(&self.state).operation("sync")?;
        self.inner.sync_data()?;
        let bytes = contents(&self.inner)?;
        let mut state = lock(&self.state);
        state.durable_contents.insert(self.name.clone(), bytes);
        state.last_unsynced_write.remove(&self.name);
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
    fn the_image_keeps_only_synced_bytes_of_durable_names() {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        let kept = storage.open("kept", OpenMode::Create).unwrap();
        kept.write_at(0, b"synced").unwrap();
        kept.sync_data().unwrap();
        storage.sync().unwrap();
        kept.write_at(6, b" and lost").unwrap();
        let unnamed = storage.open("unnamed", OpenMode::Create).unwrap();
        unnamed.write_at(0, b"never durable").unwrap();
        unnamed.sync_data().unwrap();

        let image = storage.durable_image(false).snapshot();
        assert_eq!(image.len(), 1, "a name is durable only after Storage::sync");
        assert_eq!(image["kept"], b"synced");
        let torn = storage.durable_image(true).snapshot();
        assert_eq!(torn["kept"], b"synced and", "half of the unsynced write");
    }

    #[test]
    fn operations_fail_from_the_crash_point_on() {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        let file = storage.open("f", OpenMode::Create).unwrap();
        file.write_at(0, b"one").unwrap();
        storage.crash_at(3);
        file.sync_data().unwrap();
        assert!(file.write_at(3, b"two").is_err(), "operation 3 fails");
        assert!(file.sync_data().is_err(), "and so does every later one");
        assert_eq!(storage.operations(), 4);
        assert_eq!(storage.durable_image(false).snapshot().get("f"), None);
    }
}
