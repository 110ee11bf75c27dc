//! The filesystem shim: a [`WasiDir`]/[`WasiFile`] wrapper around any directory the guest is
//! given (a real one from cap-std or a [`crate::memory::MemoryDir`]) that enforces the run's
//! [`Policy`]:
//!
//! - **quota**: what the guest's tree costs may not pass a limit; a call that would pass it
//!   is refused whole with `ENOSPC`, which the store reports as "store full". The cost, as a
//!   file system counts it: every name (file, directory, symlink) costs one block
//!   ([`ENTRY_COST`]), a file's bytes are rounded up to whole blocks ([`content_cost`]) and
//!   counted once per file however many names it has, and a file stays charged until its
//!   last name *and* its last open handle are gone (as the disk keeps its blocks);
//! - **read-only**: every call that would change the tree or a file fails with `EROFS`;
//! - **descriptors**: at most [`Policy::max_handles`] files and directories open at once
//!   (`EMFILE` past it);
//! - **metering**: opens, bytes read and written, and syncs are counted ([`Meter`]);
//! - **the store's lock**: a guest that opens a file named `LOCK` of a real directory for
//!   writing holds an OS lock on it while it stays open, the lock a native store takes on
//!   that file, so a guest and a native process (or two guests) never write one store.
//!
//! Sandboxing stays with the wrapped directory: cap-std refuses `..`, absolute paths and
//! symlinks that leave a preopen, and the memory directory resolves paths itself. Anything
//! the shim opens on the host itself (to sync a directory, to lock) is opened relative to the
//! guest's own directory handle, never by a host path. Special files (FIFOs, devices, sockets)
//! are not opened: opening one can block the host or have side effects.
//!
//! wasi-common cannot sync a directory handle (`fd_sync` on one is `EBADF`), so the shim makes
//! the namespace durable itself: after it creates or removes an entry of a real directory it
//! syncs that directory.

use std::any::Any;
use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use wasi_common::dir::{OpenResult, ReaddirCursor, ReaddirEntity};
use wasi_common::file::{Advice, FdFlags, FileType, Filestat, OFlags};
use wasi_common::snapshots::preview_1::types::Errno;
use wasi_common::{Error, SystemTimeSpec, WasiDir, WasiFile};

use crate::memory::check_path_len;

/// The unit a quota counts in: a file's bytes are rounded up to it, and a name costs one.
pub const BLOCK: u64 = 4096;
/// What one directory entry (a file's name, a directory, a symlink) costs against a quota.
pub const ENTRY_COST: u64 = BLOCK;
/// Open files and directories a guest may hold at once unless the run says otherwise (a real
/// directory handle takes two host descriptors: 512 stays under the usual soft limit of 1024).
pub const DEFAULT_MAX_HANDLES: u64 = 512;

/// What a file of `size` bytes costs against a quota: its bytes in whole blocks.
pub fn content_cost(size: u64) -> u64 {
    size.div_ceil(BLOCK).saturating_mul(BLOCK)
}

/// What one entry of a tree costs against a quota: its name, and a regular file's bytes.
pub fn entry_cost(file_size: Option<u64>) -> u64 {
    ENTRY_COST.saturating_add(file_size.map_or(0, content_cost))
}

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

/// A file as the quota knows it: its device and inode.
type InodeKey = (u64, u64);

fn key_of(stat: &Filestat) -> InodeKey {
    (stat.device_id, stat.inode)
}

/// A file the guest holds open.
#[derive(Debug)]
struct OpenInode {
    handles: u64,
    /// Its last name is gone: its bytes go back to the quota when the last handle closes.
    orphaned: bool,
    /// Its size as of the last change the shim saw.
    size: u64,
}

#[derive(Debug, Default)]
struct Ledger {
    used: u64,
    open: HashMap<InodeKey, OpenInode>,
}

/// A limit on what the guest's tree may cost (see the module comment), shared by all its
/// directories.
#[derive(Debug)]
pub struct Quota {
    limit: u64,
    ledger: Mutex<Ledger>,
}

impl Quota {
    /// A quota of `limit` of which `used` is taken by what is already there.
    pub fn new(limit: u64, used: u64) -> Quota {
        Quota { limit, ledger: Mutex::new(Ledger { used, open: HashMap::new() }) }
    }

    pub fn used(&self) -> u64 {
        self.ledger().used
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// What files that have no name left but are still open hold (part of [`Quota::used`]).
    pub fn held_by_open_orphans(&self) -> u64 {
        self.ledger().open.values().filter(|o| o.orphaned).map(|o| content_cost(o.size)).sum()
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `cost` more, or refuses with `ENOSPC` and takes nothing.
    fn take(&self, cost: u64) -> Result<(), Error> {
        let mut ledger = self.ledger();
        match ledger.used.checked_add(cost).filter(|&after| after <= self.limit) {
            Some(after) => {
                ledger.used = after;
                Ok(())
            }
            None => Err(Error::from(Errno::Nospc).context("the host's quota is reached")),
        }
    }

    fn give_back(&self, cost: u64) {
        let mut ledger = self.ledger();
        ledger.used = ledger.used.saturating_sub(cost);
    }

    /// A file lost a name (`nlink` is its link count before): its bytes go back now, or when
    /// its last handle closes, or never while another name holds it.
    fn unlinked(&self, stat: &Filestat) {
        let mut ledger = self.ledger();
        let mut refund = ENTRY_COST;
        if stat.filetype == FileType::RegularFile && stat.nlink <= 1 {
            match ledger.open.get_mut(&key_of(stat)) {
                Some(open) => {
                    open.orphaned = true;
                    open.size = stat.size;
                }
                None => refund = refund.saturating_add(content_cost(stat.size)),
            }
        }
        ledger.used = ledger.used.saturating_sub(refund);
    }

    /// A file's size went from `old` (already charged) to `new`; `taken` was charged ahead
    /// for the change.
    fn settle(&self, key: InodeKey, old: u64, taken: u64, new: u64) {
        let mut ledger = self.ledger();
        let charged = content_cost(old).saturating_add(taken);
        ledger.used = ledger.used.saturating_sub(charged).saturating_add(content_cost(new));
        if let Some(open) = ledger.open.get_mut(&key) {
            open.size = new;
        }
    }

    fn opened(&self, key: InodeKey, size: u64) {
        let mut ledger = self.ledger();
        let open =
            ledger.open.entry(key).or_insert(OpenInode { handles: 0, orphaned: false, size });
        open.handles += 1;
    }

    fn closed(&self, key: InodeKey) {
        let mut ledger = self.ledger();
        let Some(open) = ledger.open.get_mut(&key) else { return };
        open.handles -= 1;
        if open.handles == 0 {
            let open = ledger.open.remove(&key).expect("present");
            if open.orphaned {
                ledger.used = ledger.used.saturating_sub(content_cost(open.size));
            }
        }
    }
}

/// The rules every directory and file of one run follows.
#[derive(Clone, Debug)]
pub struct Policy {
    pub quota: Option<Arc<Quota>>,
    pub read_only: bool,
    pub meter: Arc<Meter>,
    /// Files and directories the guest may hold open at once (its preopens aside).
    pub max_handles: u64,
    handles: Arc<AtomicU64>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            quota: None,
            read_only: false,
            meter: Arc::default(),
            max_handles: DEFAULT_MAX_HANDLES,
            handles: Arc::default(),
        }
    }
}

impl Policy {
    fn check_writable(&self) -> Result<(), Error> {
        if self.read_only {
            return Err(Error::from(Errno::Rofs).context("the directory is read-only"));
        }
        Ok(())
    }

    /// Files and directories the guest holds open now.
    pub fn open_handles(&self) -> u64 {
        self.handles.load(Relaxed)
    }

    fn take_handle(&self) -> Result<HandleSlot, Error> {
        self.handles
            .fetch_update(Relaxed, Relaxed, |open| (open < self.max_handles).then_some(open + 1))
            .map_err(|_| Error::from(Errno::Mfile).context("the host's descriptor limit"))?;
        Ok(HandleSlot(self.handles.clone()))
    }

    /// Charges a new entry (see [`ENTRY_COST`]) for `create`, given back if it fails.
    async fn new_entry<T>(
        &self,
        create: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(quota) = &self.quota else { return create.await };
        quota.take(ENTRY_COST)?;
        create.await.inspect_err(|_| quota.give_back(ENTRY_COST))
    }
}

/// One of the guest's open handles, counted against [`Policy::max_handles`] until dropped.
#[derive(Debug)]
struct HandleSlot(Arc<AtomicU64>);

impl Drop for HandleSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Syncs the directory `path` inside `dir` (cap-std keeps the lookup inside `dir`; cap-std's
/// own directory handles cannot be synced, being `O_PATH` on Linux).
pub(crate) fn sync_dir(dir: &cap_std::fs::Dir, path: &Path) -> std::io::Result<()> {
    use cap_std::fs::OpenOptionsExt;
    let mut options = cap_std::fs::OpenOptions::new();
    // `O_DIRECTORY`: a FIFO there fails at once instead of blocking the open.
    options.read(true).custom_flags(rustix::fs::OFlags::DIRECTORY.bits() as i32);
    dir.open_with(path, &options)?.sync_all()
}

/// A guest directory under the run's [`Policy`].
pub struct ShimDir {
    inner: Box<dyn WasiDir>,
    /// The same directory as `inner` when it is a real one: what the shim syncs and locks
    /// through. `None` for directories held in memory.
    host: Option<cap_std::fs::Dir>,
    policy: Policy,
    _slot: Option<HandleSlot>,
}

impl std::fmt::Debug for ShimDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShimDir").field("real", &self.host.is_some()).finish_non_exhaustive()
    }
}

impl ShimDir {
    /// A real host directory under `policy`.
    pub fn real(dir: cap_std::fs::Dir, policy: Policy) -> std::io::Result<ShimDir> {
        let inner = wasi_common::sync::dir::Dir::from_cap_std(dir.try_clone()?);
        Ok(ShimDir { inner: Box::new(inner), host: Some(dir), policy, _slot: None })
    }

    /// Any other directory (a memory one) under `policy`.
    pub fn new(inner: Box<dyn WasiDir>, policy: Policy) -> ShimDir {
        ShimDir { inner, host: None, policy, _slot: None }
    }

    /// The wrapped directory of `dir` when it is a shim, so renames and links reach the
    /// implementation that knows the concrete type on both sides.
    fn unwrap(dir: &dyn WasiDir) -> &dyn WasiDir {
        dir.as_any().downcast_ref::<ShimDir>().map_or(dir, |shim| shim.inner.as_ref())
    }

    /// Makes entry changes of `path`'s parent directory durable (through this directory's
    /// handle: cap-std keeps the lookup inside it).
    fn sync_host_dir(&self, path: &str) -> Result<(), Error> {
        let Some(host) = &self.host else { return Ok(()) };
        let parent = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty());
        Ok(sync_dir(host, parent.unwrap_or(Path::new(".")))?)
    }

    async fn stat_at(&self, path: &str, follow: bool) -> Result<Option<Filestat>, Error> {
        match self.inner.get_path_filestat(path, follow).await {
            Ok(stat) => Ok(Some(stat)),
            Err(e) if e.downcast_ref() == Some(&Errno::Noent) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Takes the store lock for a guest opening `path` for writing (see the module comment).
    fn store_lock(&self, path: &str) -> Result<Option<std::fs::File>, Error> {
        let Some(host) = &self.host else { return Ok(None) };
        if Path::new(path).file_name() != Some("LOCK".as_ref()) {
            return Ok(None);
        }
        let file = host.open_with(path, cap_std::fs::OpenOptions::new().read(true))?.into_std();
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::from(Errno::Again)
                .context("the store is locked by another writer (a native process or guest)")),
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
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
        check_path_len(path)?;
        let mutating = write
            || oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE)
            || fdflags.contains(FdFlags::APPEND);
        if mutating {
            self.policy.check_writable()?;
        }
        let slot = self.policy.take_handle()?;
        // What is there before the open: a special file is refused, a new name is charged,
        // truncation gives bytes back, and a real directory syncs a name it created.
        let quota = self.policy.quota.as_ref();
        let before = match quota.is_some() || self.host.is_some() {
            true => self.stat_at(path, symlink_follow).await?,
            false => None,
        };
        if let Some(stat) = &before
            && self.host.is_some()
            && !matches!(
                stat.filetype,
                FileType::RegularFile | FileType::Directory | FileType::SymbolicLink
            )
        {
            return Err(Error::from(Errno::Acces).context("the host opens no special files"));
        }
        let creates = before.is_none() && oflags.contains(OFlags::CREATE);
        let open = self.inner.open_file(symlink_follow, path, oflags, read, write, fdflags);
        let opened = match creates {
            true => self.policy.new_entry(open).await?,
            false => open.await?,
        };
        self.policy.meter.opens.fetch_add(1, Relaxed);
        if let (Some(quota), Some(stat)) = (quota, &before)
            && oflags.contains(OFlags::TRUNCATE)
            && stat.filetype == FileType::RegularFile
        {
            quota.settle(key_of(stat), stat.size, 0, 0);
        }
        if creates {
            self.sync_host_dir(path)?;
        }
        Ok(match opened {
            OpenResult::File(file) => {
                let lock = match write {
                    true => self.store_lock(path)?,
                    false => None,
                };
                let inode = match quota {
                    Some(quota) => {
                        let stat = file.get_filestat().await?;
                        quota.opened(key_of(&stat), stat.size);
                        Some(key_of(&stat))
                    }
                    None => None,
                };
                OpenResult::File(Box::new(ShimFile {
                    inner: file,
                    policy: self.policy.clone(),
                    appends: fdflags.contains(FdFlags::APPEND),
                    inode,
                    _lock: lock,
                    _slot: slot,
                }))
            }
            OpenResult::Dir(dir) => {
                // A real directory is opened again through the parent's handle, so the shim
                // holds the very directory the guest does (the inner handle is opaque).
                let (inner, host): (Box<dyn WasiDir>, _) = match &self.host {
                    Some(host) => {
                        drop(dir);
                        let sub = host.open_dir(path)?;
                        let inner = wasi_common::sync::dir::Dir::from_cap_std(sub.try_clone()?);
                        (Box::new(inner), Some(sub))
                    }
                    None => (dir, None),
                };
                OpenResult::Dir(Box::new(ShimDir {
                    inner,
                    host,
                    policy: self.policy.clone(),
                    _slot: Some(slot),
                }))
            }
        })
    }

    async fn create_dir(&self, path: &str) -> Result<(), Error> {
        check_path_len(path)?;
        // As the kernel does: an existing name is `EEXIST` even on a read-only file system
        // (`create_dir_all` relies on it).
        if self.policy.read_only && self.inner.get_path_filestat(path, false).await.is_ok() {
            return Err(Error::from(Errno::Exist));
        }
        self.policy.check_writable()?;
        self.policy.new_entry(self.inner.create_dir(path)).await?;
        self.sync_host_dir(path)
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<Box<dyn Iterator<Item = Result<ReaddirEntity, Error>> + Send>, Error> {
        self.inner.readdir(cursor).await
    }

    async fn symlink(&self, old_path: &str, new_path: &str) -> Result<(), Error> {
        check_path_len(old_path)?;
        check_path_len(new_path)?;
        self.policy.check_writable()?;
        self.policy.new_entry(self.inner.symlink(old_path, new_path)).await?;
        self.sync_host_dir(new_path)
    }

    async fn remove_dir(&self, path: &str) -> Result<(), Error> {
        check_path_len(path)?;
        self.policy.check_writable()?;
        self.inner.remove_dir(path).await?;
        if let Some(quota) = &self.policy.quota {
            quota.give_back(ENTRY_COST);
        }
        self.sync_host_dir(path)
    }

    async fn unlink_file(&self, path: &str) -> Result<(), Error> {
        check_path_len(path)?;
        self.policy.check_writable()?;
        let stat = self.inner.get_path_filestat(path, false).await?;
        self.inner.unlink_file(path).await?;
        if let Some(quota) = &self.policy.quota {
            quota.unlinked(&stat);
        }
        self.sync_host_dir(path)
    }

    async fn read_link(&self, path: &str) -> Result<PathBuf, Error> {
        check_path_len(path)?;
        self.inner.read_link(path).await
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        self.inner.get_filestat().await
    }

    async fn get_path_filestat(&self, path: &str, follow: bool) -> Result<Filestat, Error> {
        check_path_len(path)?;
        self.inner.get_path_filestat(path, follow).await
    }

    async fn rename(&self, path: &str, dest_dir: &dyn WasiDir, dest: &str) -> Result<(), Error> {
        check_path_len(path)?;
        check_path_len(dest)?;
        self.policy.check_writable()?;
        let dest_shim = dest_dir.as_any().downcast_ref::<ShimDir>();
        // A rename over another entry removes that entry's name (and perhaps its file); a
        // rename onto the same file (the same name, or another link to it) changes nothing.
        let replaced = match (&self.policy.quota, dest_shim) {
            (Some(_), Some(shim)) => match shim.stat_at(dest, false).await? {
                Some(target) => {
                    let source = self.inner.get_path_filestat(path, false).await?;
                    (key_of(&source) != key_of(&target)).then_some(target)
                }
                None => None,
            },
            _ => None,
        };
        self.inner.rename(path, ShimDir::unwrap(dest_dir), dest).await?;
        if let (Some(quota), Some(target)) = (&self.policy.quota, &replaced) {
            quota.unlinked(target);
        }
        self.sync_host_dir(path)?;
        if let Some(shim) = dest_shim {
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
        check_path_len(path)?;
        check_path_len(target)?;
        self.policy.check_writable()?;
        let link = self.inner.hard_link(path, ShimDir::unwrap(target_dir), target);
        self.policy.new_entry(link).await?;
        match target_dir.as_any().downcast_ref::<ShimDir>() {
            Some(shim) => shim.sync_host_dir(target),
            None => Ok(()),
        }
    }

    async fn set_times(
        &self,
        path: &str,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
        follow: bool,
    ) -> Result<(), Error> {
        check_path_len(path)?;
        self.policy.check_writable()?;
        self.inner.set_times(path, atime, mtime, follow).await
    }
}

/// A guest file under the run's [`Policy`].
struct ShimFile {
    inner: Box<dyn WasiFile>,
    policy: Policy,
    /// Opened (or later set) to append: the OS then writes at the end whatever offset a
    /// positional write gives (Linux's `pwrite`), a memory file at the offset.
    appends: bool,
    /// The file as the quota knows it, when there is a quota.
    inode: Option<InodeKey>,
    /// The store lock held for the guest, if this is a store's `LOCK` file.
    _lock: Option<std::fs::File>,
    _slot: HandleSlot,
}

impl Drop for ShimFile {
    fn drop(&mut self) {
        if let (Some(quota), Some(inode)) = (&self.policy.quota, self.inode) {
            quota.closed(inode);
        }
    }
}

impl ShimFile {
    async fn len(&self) -> Result<u64, Error> {
        Ok(self.inner.get_filestat().await?.size)
    }

    /// Runs `change`, which writes `len` bytes at `start` (`None`: at the cursor) or, with
    /// `len` `None`, sets the size to `start`. Under a quota, the largest size the change
    /// can leave is charged before it runs and the size it did leave is settled after.
    async fn change(
        &self,
        start: Option<u64>,
        len: Option<u64>,
        change: impl Future<Output = Result<u64, Error>>,
    ) -> Result<u64, Error> {
        let (Some(quota), Some(inode)) = (&self.policy.quota, self.inode) else {
            return change.await;
        };
        let old = self.len().await?;
        let too_big = || Error::from(Errno::Fbig).context("past the largest file offset");
        let (largest, exact) = match (start, len) {
            (Some(size), None) => (size, true),
            // Writing nothing changes no size, wherever the cursor is.
            (_, Some(0)) => (old, true),
            (start, Some(len)) => {
                let start = match start {
                    Some(at) => at,
                    None => self.inner.seek(SeekFrom::Current(0)).await?,
                };
                let at_start = start.checked_add(len).ok_or_else(too_big)?;
                match self.appends {
                    true => (at_start.max(old.checked_add(len).ok_or_else(too_big)?), false),
                    false => (at_start, true),
                }
            }
            (None, None) => unreachable!("a change is a write or a resize"),
        };
        let largest = largest.max(old);
        let taken = content_cost(largest) - content_cost(old);
        quota.take(taken)?;
        let outcome = change.await;
        let new = match (&outcome, start, len) {
            (Ok(_), Some(size), None) => size,
            (Ok(written), _, Some(len)) if exact && *written == len => largest,
            // Appends, short writes and failures: ask the file.
            _ => self.len().await.unwrap_or(largest),
        };
        quota.settle(inode, old, taken, new);
        outcome
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
        self.inner.set_fdflags(flags).await?;
        self.appends = flags.contains(FdFlags::APPEND);
        Ok(())
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        self.inner.get_filestat().await
    }

    async fn set_filestat_size(&self, size: u64) -> Result<(), Error> {
        self.policy.check_writable()?;
        let resize = async { self.inner.set_filestat_size(size).await.map(|()| 0) };
        self.change(Some(size), None, resize).await.map(drop)
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
        let written = self.change(None, Some(total_len(bufs)), self.inner.write_vectored(bufs));
        self.count_written(written.await)
    }

    async fn write_vectored_at<'a>(&self, bufs: &[IoSlice<'a>], offset: u64) -> Result<u64, Error> {
        self.policy.check_writable()?;
        offset
            .checked_add(total_len(bufs))
            .ok_or_else(|| Error::from(Errno::Fbig).context("past the largest file offset"))?;
        let write = self.inner.write_vectored_at(bufs, offset);
        let written = self.change(Some(offset), Some(total_len(bufs)), write).await;
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
