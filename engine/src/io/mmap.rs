//! Native files whose existing bytes are read through a memory map.
//!
//! A file opened for writing is mapped when it is opened (its length then); reads inside the
//! map are memory copies, reads past it (bytes appended since) fall back to `pread`, and
//! writes always go through `pwrite`. The engine reopens a segment once it is sealed, so
//! sealed segments are read entirely from the map. Truncation remaps first: touching a map
//! past the end of its file would fault. Handles opened [`OpenMode::ReadOnly`] are never
//! mapped (a writer in another process may shorten the file), so a read-only store reads
//! with `pread`.

use std::io;
use std::sync::{PoisonError, RwLock};

use memmap2::Mmap;

use super::std_file::{StdFile, StdStorage};
use super::{File, OpenMode, Storage};

/// A directory whose files are read through memory maps.
#[derive(Debug)]
pub struct MmapStorage {
    inner: StdStorage,
}

/// A file read through a map of the bytes it had when opened.
#[derive(Debug)]
pub struct MmapFile {
    file: StdFile,
    /// Readers share the map; `set_len` replaces it.
    map: RwLock<Option<Mmap>>,
}

impl MmapStorage {
    /// The directory `dir`, created (with parents) if missing.
    pub fn open_dir(dir: impl AsRef<std::path::Path>) -> io::Result<MmapStorage> {
        Ok(MmapStorage { inner: StdStorage::open_dir(dir)? })
    }
}

fn map(file: &std::fs::File) -> io::Result<Option<Mmap>> {
    if file.metadata()?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: only handles opened for writing are mapped, and only the one writer holding the
    // directory's lock opens those; it never shrinks a file under a live map without
    // remapping first (`set_len`), so the mapped bytes stay valid. Read-only handles (which a
    // reader beside the writer uses) are never mapped. Another program editing the files
    // would break this, as it would break the store.
    unsafe { Mmap::map(file) }.map(Some)
}

impl Storage for MmapStorage {
    type File = MmapFile;

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<MmapFile> {
        let file = self.inner.open(name, mode)?;
        // A read-only handle may see a writer in another process shorten the file (it trims
        // the zeros it wrote ahead of its log): it reads with pread, never through a map.
        let map = match mode {
            OpenMode::ReadOnly => None,
            _ => map(file.std())?,
        };
        Ok(MmapFile { file, map: RwLock::new(map) })
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(name)
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

impl MmapFile {
    /// Applies `f` to the mapped bytes `offset .. offset + len`; `None` when the map does
    /// not hold all of them (the file is read instead).
    fn mapped<T>(&self, offset: u64, len: usize, f: impl FnOnce(&[u8]) -> T) -> Option<T> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let map = map.as_ref()?;
        let end = offset.checked_add(len as u64).filter(|&end| end <= map.len() as u64)?;
        Some(f(&map[offset as usize..end as usize]))
    }
}

impl File for MmapFile {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match self.mapped(offset, buf.len(), |bytes| buf.copy_from_slice(bytes)) {
            Some(()) => Ok(()),
            None => self.file.read_at(offset, buf),
        }
    }

    fn read_vec_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        match self.mapped(offset, len, <[u8]>::to_vec) {
            Some(bytes) => Ok(bytes),
            None => self.file.read_vec_at(offset, len),
        }
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_at(offset, data)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        *map = None;
        self.file.set_len(len)?;
        *map = self::map(self.file.std())?;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_conformance_suite() {
        let name = "mmapstorage";
        crate::io::conformance::run_in_temp_dirs(name, |dir| MmapStorage::open_dir(dir).unwrap());
    }

    #[test]
    fn reopened_files_read_from_the_map_and_see_later_writes() {
        let dir =
            std::env::temp_dir().join(format!("toonstore-mmap-reopen-{}", std::process::id()));
        let storage = MmapStorage::open_dir(&dir).unwrap();
        let file = storage.open("seg", OpenMode::Create).unwrap();
        file.write_at(0, b"sealed bytes").unwrap();
        let reopened = storage.open("seg", OpenMode::Existing).unwrap();
        assert!(reopened.map.read().unwrap().is_some(), "an existing file is mapped");
        reopened.write_at(12, b" + tail").unwrap();
        let mut buf = [0; 19];
        reopened.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"sealed bytes + tail");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
