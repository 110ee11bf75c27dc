//! Files in a directory through `std::fs`, with positional I/O: `pread`/`pwrite` natively,
//! `fd_pread`/`fd_pwrite` under WASI (where std's positional extension is still unstable).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{File, OpenMode, Storage, check_name};

/// A directory of files. [`StdStorage::open_dir`] creates it when needed.
#[derive(Debug)]
pub struct StdStorage {
    dir: PathBuf,
    /// The open `LOCK` file while [`StdStorage::lock`] holds the directory.
    lock: Mutex<Option<fs::File>>,
}

/// A file in a [`StdStorage`].
#[derive(Debug)]
pub struct StdFile {
    file: fs::File,
}

impl StdStorage {
    /// The directory `dir`, created (with parents) if missing.
    pub fn open_dir(dir: impl AsRef<Path>) -> io::Result<StdStorage> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        Ok(StdStorage { dir, lock: Mutex::new(None) })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Takes the directory's exclusive lock (an OS file lock on `LOCK`) for the life of this
    /// value; [`io::ErrorKind::WouldBlock`] when another process or value holds it. WASI
    /// has no file locks: there the call succeeds without locking.
    fn lock_dir(&self) -> io::Result<()> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join("LOCK"))?;
        #[cfg(not(target_os = "wasi"))]
        file.try_lock().map_err(|e| match e {
            fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another writer", self.dir.display()),
            ),
            fs::TryLockError::Error(e) => e,
        })?;
        *self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(file);
        Ok(())
    }

    fn path_of(&self, name: &str) -> io::Result<PathBuf> {
        check_name(name)?;
        Ok(self.dir.join(name))
    }
}

impl Storage for StdStorage {
    type File = StdFile;

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<StdFile> {
        let path = self.path_of(name)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(mode != OpenMode::ReadOnly)
            .create(mode == OpenMode::Create)
            .create_new(mode == OpenMode::CreateNew)
            .truncate(false)
            .open(path)?;
        Ok(StdFile { file })
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.path_of(name)?)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            // The lock file belongs to the directory, not to the namespace.
            if name != "LOCK" && check_name(&name).is_ok() && entry.file_type()?.is_file() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn sync(&self) -> io::Result<()> {
        sync_dir(&self.dir)
    }

    fn lock(&self) -> io::Result<()> {
        self.lock_dir()
    }

    fn unlock(&self) -> io::Result<()> {
        // Closing the file releases the OS lock.
        self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        Ok(())
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// WASI preview 1 syncs a directory descriptor only where the host allows it. The wasmtime
/// CLI and Node do; wasi-common answers `EBADF` (it has no directory sync), and hosts built on
/// it sync directories themselves after entries change (`toonstore-host` does), so only that
/// answer is taken as "the host keeps the namespace durable". Every other failure is reported.
#[cfg(target_os = "wasi")]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match fs::File::open(dir)?.sync_all() {
        Err(e) if e.raw_os_error() == Some(i32::from(wasi::ERRNO_BADF.raw())) => Ok(()),
        outcome => outcome,
    }
}

impl StdFile {
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn std(&self) -> &fs::File {
        &self.file
    }
}

impl File for StdFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if offset.checked_add(buf.len() as u64).is_none() {
            return Err(super::past_end(offset, buf.len(), self.len()?));
        }
        positional::read_exact_at(&self.file, offset, buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                super::past_end(offset, buf.len(), self.len().unwrap_or(0))
            } else {
                e
            }
        })
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        positional::write_all_at(&self.file, offset, data)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn close(self) -> io::Result<()> {
        drop(self.file);
        Ok(())
    }
}

#[cfg(unix)]
mod positional {
    use std::io;
    use std::os::unix::fs::FileExt;

    pub fn read_exact_at(file: &std::fs::File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        file.read_exact_at(buf, offset)
    }

    pub fn write_all_at(file: &std::fs::File, offset: u64, data: &[u8]) -> io::Result<()> {
        file.write_all_at(data, offset)
    }
}

#[cfg(target_os = "wasi")]
mod positional {
    use std::io;
    use std::os::fd::AsRawFd;

    fn errno(e: wasi::Errno) -> io::Error {
        io::Error::from_raw_os_error(i32::from(e.raw()))
    }

    pub fn read_exact_at(
        file: &std::fs::File,
        mut offset: u64,
        mut buf: &mut [u8],
    ) -> io::Result<()> {
        while !buf.is_empty() {
            let iovec = wasi::Iovec { buf: buf.as_mut_ptr(), buf_len: buf.len() };
            // SAFETY: the iovec points into `buf`, which outlives the call; the descriptor
            // belongs to `file`.
            let read = unsafe { wasi::fd_pread(file.as_raw_fd() as wasi::Fd, &[iovec], offset) }
                .map_err(errno)?;
            if read == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "end of file"));
            }
            buf = &mut buf[read..];
            offset += read as u64;
        }
        Ok(())
    }

    pub fn write_all_at(file: &std::fs::File, mut offset: u64, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let ciovec = wasi::Ciovec { buf: data.as_ptr(), buf_len: data.len() };
            // SAFETY: as above, for a read-only buffer.
            let written =
                unsafe { wasi::fd_pwrite(file.as_raw_fd() as wasi::Fd, &[ciovec], offset) }
                    .map_err(errno)?;
            if written == 0 {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "the file took no bytes"));
            }
            data = &data[written..];
            offset += written as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_conformance_suite() {
        let name = "stdstorage";
        crate::io::conformance::run_in_temp_dirs(name, |dir| StdStorage::open_dir(dir).unwrap());
    }

    #[test]
    fn a_second_lock_on_the_directory_is_refused() {
        let dir = std::env::temp_dir().join(format!("toonstore-lock-{}", std::process::id()));
        let first = StdStorage::open_dir(&dir).unwrap();
        first.lock().unwrap();
        let second = StdStorage::open_dir(&dir).unwrap();
        assert_eq!(second.lock().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        first.unlock().unwrap();
        second.lock().expect("the lock is free once its holder unlocked");
        drop(first);
        drop(second);
        fs::remove_dir_all(dir).unwrap();
    }
}
