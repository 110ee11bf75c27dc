//! Files held in memory: for tests, ephemeral stores, and browsers without OPFS.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::{File, OpenMode, Storage, check_name, past_end};

/// A namespace of in-memory files. Clones share the same files, so a store can be closed
/// and opened again on a clone, as on a disk.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    files: Arc<Mutex<HashMap<String, SharedBytes>>>,
}

/// One file's bytes, shared by its handles.
type SharedBytes = Arc<RwLock<Vec<u8>>>;

/// A handle to an in-memory file.
#[derive(Debug)]
pub struct MemoryFile {
    data: Arc<RwLock<Vec<u8>>>,
    read_only: bool,
}

impl MemoryStorage {
    /// An empty namespace.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// A copy of every file's bytes, by name.
    pub fn snapshot(&self) -> HashMap<String, Vec<u8>> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files
            .iter()
            .map(|(name, data)| {
                (name.clone(), data.read().unwrap_or_else(PoisonError::into_inner).clone())
            })
            .collect()
    }

    /// A namespace holding exactly these files.
    pub fn from_snapshot(files: HashMap<String, Vec<u8>>) -> MemoryStorage {
        let files = files.into_iter().map(|(name, data)| (name, Arc::new(RwLock::new(data))));
        MemoryStorage { files: Arc::new(Mutex::new(files.collect())) }
    }
}

impl Storage for MemoryStorage {
    type File = MemoryFile;

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<MemoryFile> {
        check_name(name)?;
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let data = match (files.get(name), mode) {
            (Some(_), OpenMode::CreateNew) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{name:?} exists"),
                ));
            }
            (Some(data), _) => data.clone(),
            (None, OpenMode::Create | OpenMode::CreateNew) => {
                files.entry(name.to_owned()).or_default().clone()
            }
            (None, OpenMode::Existing | OpenMode::ReadOnly) => {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {name:?}")));
            }
        };
        Ok(MemoryFile { data, read_only: mode == OpenMode::ReadOnly })
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        match files.remove(name) {
            Some(_) => Ok(()),
            None => Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {name:?}"))),
        }
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.files.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

impl MemoryFile {
    fn check_writable(&self) -> io::Result<()> {
        match self.read_only {
            true => Err(io::Error::new(io::ErrorKind::PermissionDenied, "opened read-only")),
            false => Ok(()),
        }
    }
}

impl File for MemoryFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.data.read().unwrap_or_else(PoisonError::into_inner).len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let data = self.data.read().unwrap_or_else(PoisonError::into_inner);
        let len = data.len() as u64;
        let end = offset.checked_add(buf.len() as u64).filter(|&end| end <= len);
        let Some(end) = end else { return Err(past_end(offset, buf.len(), len)) };
        buf.copy_from_slice(&data[offset as usize..end as usize]);
        Ok(())
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        let end = offset
            .checked_add(bytes.len() as u64)
            .and_then(|end| usize::try_from(end).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "write beyond memory"))?;
        let mut data = self.data.write().unwrap_or_else(PoisonError::into_inner);
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(bytes);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length beyond memory"))?;
        self.data.write().unwrap_or_else(PoisonError::into_inner).resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes_the_conformance_suite() {
        super::super::conformance::run(super::MemoryStorage::new);
    }
}
