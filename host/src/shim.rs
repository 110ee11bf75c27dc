//! The filesystem shim: a [`WasiDir`]/[`WasiFile`] wrapper around any directory the guest is
//! given (a real one from cap-std or a [`crate::memory::MemoryDir`]) that enforces the run's
//! [`Policy`]:
//!
//! - **quota**: the bytes of all files the guest can reach may not pass a limit; a write or
//!   resize that would is refused whole with `ENOSPC`, which the store reports as "store full";
//! - **read-only**: every call that would change the tree or a file fails with `EROFS`;
//! - **metering**: opens, bytes read and written, and syncs are counted ([`Meter`]).
//!
//! Sandboxing stays with the wrapped directory: cap-std refuses `..`, absolute paths and
//! symlinks that leave a preopen, and the memory directory resolves paths itself.
//!
//! wasi-common cannot sync a directory handle (`fd_sync` on one is `EBADF`), so the shim makes
//! the namespace durable itself: after it creates or removes an entry of a real directory it
//! syncs that directory on the host.

use std::any::Any;
use std::io::{IoSlice, IoSliceMut, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use wasi_common::dir::{OpenResult, ReaddirCursor, ReaddirEntity};
use wasi_common::file::{Advice, FdFlags, FileType, Filestat, OFlags};
use wasi_common::snapshots::preview_1::types::Errno;
use wasi_common::{Error, SystemTimeSpec, WasiDir, WasiFile};

/// What the guest's file operations have cost so far.
#[derive(Debug, Default)]
pub struct Meter {
    pub opens: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub syncs: AtomicU64,
}

/// A plain copy of a [`Meter`]'s counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeterReading {
    pub opens: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub syncs: u64,
}

impl Meter {
    pub fn reading(&self) -> MeterReading {
        MeterReading {
            opens: self.opens.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            syncs: self.syncs.load(Relaxed),
        }
    }
}

/// A limit on the bytes of all files the guest can reach, shared by its directories.
#[derive(Debug)]
pub struct Quota {
    limit: u64,
    used: AtomicU64,
}

impl Quota {
    /// A quota of `limit` bytes of which `used` are taken by files already there.
    pub fn new(limit: u64, used: u64) -> Quota {
        Quota { limit, used: AtomicU64::new(used) }
    }

    pub fn used(&self) -> u64 {
        self.used.load(Relaxed)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Takes `bytes` more, or refuses with `ENOSPC` and takes nothing.
    fn take(&self, bytes: u64) -> Result<(), Error> {
        self.used
            .fetch_update(Relaxed, Relaxed, |used| {
                used.checked_add(bytes).filter(|&after| after <= self.limit)
            })
            .map(drop)
            .map_err(|_| Error::from(Errno::Nospc).context("the host's quota is reached"))
    }

    fn give_back(&self, bytes: u64) {
        let _ = self.used.fetch_update(Relaxed, Relaxed, |used| Some(used.saturating_sub(bytes)));
    }
}

/// The rules every directory and file of one run follows.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub quota: Option<Arc<Quota>>,
    pub read_only: bool,
    pub meter: Arc<Meter>,
}

impl Policy {
    fn check_writable(&self) -> Result<(), Error> {
        if self.read_only {
            return Err(Error::from(Errno::Rofs).context("the directory is read-only"));
        }
        Ok(())
    }

    /// Runs `change`, which takes a file from the length `measure` gives first to the one it
    /// gives second: growth is charged to the quota before (and refunded if the change
    /// fails), shrinking is refunded after. Without a quota nothing is measured, so writes
    /// cost no extra calls.
    async fn resize<T>(
        &self,
        measure: impl Future<Output = Result<(u64, u64), Error>>,
        change: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(quota) = &self.quota else { return change.await };
        let (old, new) = measure.await?;
        let growth = new.saturating_sub(old);
        quota.take(growth)?;
        match change.await {
            Ok(outcome) => {
                quota.give_back(old.saturating_sub(new));
                Ok(outcome)
            }
            Err(e) => {
                quota.give_back(growth);
                Err(e)
            }
        }
    }

    fn shrink(&self, bytes: u64) {
        if let Some(quota) = &self.quota {
            quota.give_back(bytes);
        }
    }
}

/// A guest directory under the run's [`Policy`].
pub struct ShimDir {
    inner: Box<dyn WasiDir>,
    /// The host directory behind a real preopen, synced after entries change; `None` for
    /// directories held in memory.
    host_path: Option<PathBuf>,
    policy: Policy,
}

impl std::fmt::Debug for ShimDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShimDir").field("host_path", &self.host_path).finish_non_exhaustive()
    }
}

impl ShimDir {
    pub fn new(inner: Box<dyn WasiDir>, host_path: Option<PathBuf>, policy: Policy) -> ShimDir {
        ShimDir { inner, host_path, policy }
    }

    /// The wrapped directory of `dir` when it is a shim, so renames and links reach the
    /// implementation that knows the concrete type on both sides.
    fn unwrap(dir: &dyn WasiDir) -> &dyn WasiDir {
        dir.as_any().downcast_ref::<ShimDir>().map_or(dir, |shim| shim.inner.as_ref())
    }

    /// Makes entry changes of the host directory (and of `path`'s parent inside it) durable.
    fn sync_host_dir(&self, path: &str) -> Result<(), Error> {
        let Some(host) = &self.host_path else { return Ok(()) };
        let parent = Path::new(path).parent().map_or(host.clone(), |p| host.join(p));
        std::fs::File::open(parent)?.sync_all()?;
        Ok(())
    }

    async fn size_at(&self, path: &str) -> Result<Option<u64>, Error> {
        match self.inner.get_path_filestat(path, false).await {
            Ok(stat) if stat.filetype == FileType::RegularFile => Ok(Some(stat.size)),
            Ok(_) => Ok(None),
            Err(e) if e.downcast_ref() == Some(&Errno::Noent) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait::async_trait]
impl WasiDir for ShimDir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn open_file(
        &self,
        symlink_follow: bool,
        path: &str,
        oflags: OFlags,
        read: bool,
        write: bool,
        fdflags: FdFlags,
    ) -> Result<OpenResult, Error> {
        let mutating = write
            || oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE)
            || fdflags.contains(FdFlags::APPEND);
        if mutating {
            self.policy.check_writable()?;
        }
        // The size before the open, where it matters: what truncation frees from a quota,
        // and whether the open creates a name a real directory must make durable.
        let truncates = self.policy.quota.is_some() && oflags.contains(OFlags::TRUNCATE);
        let creates = self.host_path.is_some() && oflags.contains(OFlags::CREATE);
        let before = match truncates || creates {
            true => Some(self.size_at(path).await?),
            false => None,
        };
        let opened =
            self.inner.open_file(symlink_follow, path, oflags, read, write, fdflags).await?;
        self.policy.meter.opens.fetch_add(1, Relaxed);
        if let Some(before) = before {
            if truncates {
                self.policy.shrink(before.unwrap_or(0));
            }
            if creates && before.is_none() {
                self.sync_host_dir(path)?;
            }
        }
        Ok(match opened {
            OpenResult::File(file) => {
                OpenResult::File(Box::new(ShimFile { inner: file, policy: self.policy.clone() }))
            }
            OpenResult::Dir(dir) => {
                let host_path = self.host_path.as_ref().map(|host| host.join(path));
                OpenResult::Dir(Box::new(ShimDir::new(dir, host_path, self.policy.clone())))
            }
        })
    }

    async fn create_dir(&self, path: &str) -> Result<(), Error> {
        // As the kernel does: an existing name is `EEXIST` even on a read-only file system
        // (`create_dir_all` relies on it).
        if self.policy.read_only && self.inner.get_path_filestat(path, false).await.is_ok() {
            return Err(Error::from(Errno::Exist));
        }
        self.policy.check_writable()?;
        self.inner.create_dir(path).await?;
        self.sync_host_dir(path)
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<Box<dyn Iterator<Item = Result<ReaddirEntity, Error>> + Send>, Error> {
        self.inner.readdir(cursor).await
    }

    async fn symlink(&self, old_path: &str, new_path: &str) -> Result<(), Error> {
        self.policy.check_writable()?;
        self.inner.symlink(old_path, new_path).await?;
        self.sync_host_dir(new_path)
    }

    async fn remove_dir(&self, path: &str) -> Result<(), Error> {
        self.policy.check_writable()?;
        self.inner.remove_dir(path).await?;
        self.sync_host_dir(path)
    }

    async fn unlink_file(&self, path: &str) -> Result<(), Error> {
        self.policy.check_writable()?;
        let stat = self.inner.get_path_filestat(path, false).await?;
        self.inner.unlink_file(path).await?;
        // The last link's bytes go back to the quota (an open handle may still hold them on
        // the host, but the guest can no longer reach them by name).
        if stat.filetype == FileType::RegularFile && stat.nlink <= 1 {
            self.policy.shrink(stat.size);
        }
        self.sync_host_dir(path)
    }

    async fn read_link(&self, path: &str) -> Result<PathBuf, Error> {
        self.inner.read_link(path).await
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        self.inner.get_filestat().await
    }

    async fn get_path_filestat(&self, path: &str, follow: bool) -> Result<Filestat, Error> {
        self.inner.get_path_filestat(path, follow).await
    }

    async fn rename(&self, path: &str, dest_dir: &dyn WasiDir, dest: &str) -> Result<(), Error> {
        self.policy.check_writable()?;
        // A rename over an existing file frees that file's bytes.
        let replaced = match dest_dir.as_any().downcast_ref::<ShimDir>() {
            Some(shim) => shim.size_at(dest).await?,
            None => None,
        };
        self.inner.rename(path, ShimDir::unwrap(dest_dir), dest).await?;
        self.policy.shrink(replaced.unwrap_or(0));
        self.sync_host_dir(path)?;
        if let Some(shim) = dest_dir.as_any().downcast_ref::<ShimDir>() {
            shim.sync_host_dir(dest)?;
        }
        Ok(())
    }

    async fn hard_link(
        &self,
        path: &str,
        target_dir: &dyn WasiDir,
        target: &str,
    ) -> Result<(), Error> {
        self.policy.check_writable()?;
        self.inner.hard_link(path, ShimDir::unwrap(target_dir), target).await
    }

    async fn set_times(
        &self,
        path: &str,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
        follow: bool,
    ) -> Result<(), Error> {
        self.policy.check_writable()?;
        self.inner.set_times(path, atime, mtime, follow).await
    }
}

/// A guest file under the run's [`Policy`].
struct ShimFile {
    inner: Box<dyn WasiFile>,
    policy: Policy,
}

impl ShimFile {
    async fn len(&self) -> Result<u64, Error> {
        Ok(self.inner.get_filestat().await?.size)
    }

    fn count_written(&self, written: Result<u64, Error>) -> Result<u64, Error> {
        if let Ok(n) = written {
            self.policy.meter.bytes_written.fetch_add(n, Relaxed);
        }
        written
    }

    fn count_read(&self, read: Result<u64, Error>) -> Result<u64, Error> {
        if let Ok(n) = read {
            self.policy.meter.bytes_read.fetch_add(n, Relaxed);
        }
        read
    }
}

fn total_len(bufs: &[IoSlice<'_>]) -> u64 {
    bufs.iter().map(|b| b.len() as u64).sum()
}

#[async_trait::async_trait]
impl WasiFile for ShimFile {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn get_filetype(&self) -> Result<FileType, Error> {
        self.inner.get_filetype().await
    }

    #[cfg(unix)]
    fn pollable(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.inner.pollable()
    }

    fn isatty(&self) -> bool {
        self.inner.isatty()
    }

    async fn datasync(&self) -> Result<(), Error> {
        self.policy.meter.syncs.fetch_add(1, Relaxed);
        self.inner.datasync().await
    }

    async fn sync(&self) -> Result<(), Error> {
        self.policy.meter.syncs.fetch_add(1, Relaxed);
        self.inner.sync().await
    }

    async fn get_fdflags(&self) -> Result<FdFlags, Error> {
        self.inner.get_fdflags().await
    }

    async fn set_fdflags(&mut self, flags: FdFlags) -> Result<(), Error> {
        if flags.contains(FdFlags::APPEND) {
            self.policy.check_writable()?;
        }
        self.inner.set_fdflags(flags).await
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        self.inner.get_filestat().await
    }

    async fn set_filestat_size(&self, size: u64) -> Result<(), Error> {
        self.policy.check_writable()?;
        let measure = async { Ok((self.len().await?, size)) };
        self.policy.resize(measure, self.inner.set_filestat_size(size)).await
    }

    async fn advise(&self, offset: u64, len: u64, advice: Advice) -> Result<(), Error> {
        self.inner.advise(offset, len, advice).await
    }

    async fn set_times(
        &self,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
    ) -> Result<(), Error> {
        self.policy.check_writable()?;
        self.inner.set_times(atime, mtime).await
    }

    async fn read_vectored<'a>(&self, bufs: &mut [IoSliceMut<'a>]) -> Result<u64, Error> {
        let read = self.inner.read_vectored(bufs).await;
        self.count_read(read)
    }

    async fn read_vectored_at<'a>(
        &self,
        bufs: &mut [IoSliceMut<'a>],
        offset: u64,
    ) -> Result<u64, Error> {
        let read = self.inner.read_vectored_at(bufs, offset).await;
        self.count_read(read)
    }

    async fn write_vectored<'a>(&self, bufs: &[IoSlice<'a>]) -> Result<u64, Error> {
        self.policy.check_writable()?;
        let measure = async {
            let old = self.len().await?;
            let start = match self.inner.get_fdflags().await?.contains(FdFlags::APPEND) {
                true => old,
                false => self.inner.seek(SeekFrom::Current(0)).await?,
            };
            Ok((old, old.max(start + total_len(bufs))))
        };
        let written = self.policy.resize(measure, self.inner.write_vectored(bufs)).await;
        self.count_written(written)
    }

    async fn write_vectored_at<'a>(&self, bufs: &[IoSlice<'a>], offset: u64) -> Result<u64, Error> {
        self.policy.check_writable()?;
        let measure = async {
            let old = self.len().await?;
            Ok((old, old.max(offset + total_len(bufs))))
        };
        let written = self.policy.resize(measure, self.inner.write_vectored_at(bufs, offset)).await;
        self.count_written(written)
    }

    async fn seek(&self, pos: SeekFrom) -> Result<u64, Error> {
        self.inner.seek(pos).await
    }

    async fn peek(&self, buf: &mut [u8]) -> Result<u64, Error> {
        self.inner.peek(buf).await
    }

    fn num_ready_bytes(&self) -> Result<u64, Error> {
        self.inner.num_ready_bytes()
    }

    async fn readable(&self) -> Result<(), Error> {
        self.inner.readable().await
    }

    async fn writable(&self) -> Result<(), Error> {
        self.inner.writable().await
    }
}
