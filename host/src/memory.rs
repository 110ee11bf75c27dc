//! A directory held in host memory, for tests and ephemeral runs: a tree of directories and
//! byte vectors behind wasi-common's [`WasiDir`]/[`WasiFile`], optionally seeded from a host
//! directory and dumped to one at exit.
//!
//! Paths are resolved here, component by component: absolute paths are refused, `..` may not
//! climb above the preopened directory, and there are no symlinks to follow out of it. Names
//! are checked as a file system would (no NUL, at most [`MAX_NAME`] bytes), trees are at most
//! [`MAX_DEPTH`] directories deep (so nothing here recurses deeper than that), renames follow
//! POSIX (a file never replaces a directory, a directory never moves into itself), and file
//! sizes are reserved fallibly: a huge write fails with `ENOSPC` instead of aborting the host.
//! What the tree may cost in all is the shim's quota (the host always sets one on memory
//! directories).

use std::any::Any;
use std::collections::BTreeMap;
use std::io::{IoSlice, IoSliceMut, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use wasi_common::dir::{OpenResult, ReaddirCursor, ReaddirEntity};
use wasi_common::file::{Advice, FdFlags, FileType, Filestat, OFlags};
use wasi_common::snapshots::preview_1::types::Errno;
use wasi_common::{Error, ErrorExt, SystemTimeSpec, WasiDir, WasiFile};

use crate::shim::entry_cost;

/// The longest name a directory entry may have, in bytes (Linux's `NAME_MAX`).
pub const MAX_NAME: usize = 255;
/// How many directories deep a memory tree may go below its preopened directory.
pub const MAX_DEPTH: usize = 256;

static NEXT_INODE: AtomicU64 = AtomicU64::new(1);

fn next_inode() -> u64 {
    NEXT_INODE.fetch_add(1, Relaxed)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct FileNode {
    inode: u64,
    bytes: Mutex<Vec<u8>>,
}

#[derive(Debug)]
struct DirNode {
    inode: u64,
    /// `None` for the preopened directory: `..` stops there. Moves update it.
    parent: Mutex<Option<Weak<DirNode>>>,
    entries: Mutex<BTreeMap<String, Node>>,
    /// Removed from the tree (a handle may still hold it): as on a real file system, nothing
    /// new can be created in it.
    removed: std::sync::atomic::AtomicBool,
}

#[derive(Clone, Debug)]
enum Node {
    File(Arc<FileNode>),
    Dir(Arc<DirNode>),
}

impl Node {
    fn filestat(&self) -> Filestat {
        let (inode, filetype, size) = match self {
            Node::File(file) => (file.inode, FileType::RegularFile, lock(&file.bytes).len()),
            Node::Dir(dir) => (dir.inode, FileType::Directory, 0),
        };
        Filestat {
            device_id: 0,
            inode,
            filetype,
            nlink: 1,
            size: size as u64,
            atim: None,
            mtim: None,
            ctim: None,
        }
    }

    fn same(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::File(a), Node::File(b)) => Arc::ptr_eq(a, b),
            (Node::Dir(a), Node::Dir(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl DirNode {
    fn new(parent: Option<Weak<DirNode>>) -> Arc<DirNode> {
        Arc::new(DirNode {
            inode: next_inode(),
            parent: Mutex::new(parent),
            entries: Mutex::default(),
            removed: Default::default(),
        })
    }

    /// Refuses new entries in a directory that is no longer in the tree (`ENOENT`, as Linux).
    fn check_present(&self) -> Result<(), Error> {
        match self.removed.load(Relaxed) {
            true => Err(Error::not_found().context("the directory was removed")),
            false => Ok(()),
        }
    }

    fn parent(&self) -> Option<Arc<DirNode>> {
        lock(&self.parent).as_ref().and_then(Weak::upgrade)
    }

    /// Directories between this one and the preopened one (0 for the preopened one).
    fn depth(&self) -> usize {
        let mut depth = 0;
        let mut at = self.parent();
        while let Some(dir) = at {
            depth += 1;
            at = dir.parent();
        }
        depth
    }

    /// Levels of directories below this one (0 when it has no subdirectory).
    fn height(&self) -> usize {
        lock(&self.entries)
            .values()
            .filter_map(|node| match node {
                Node::Dir(child) => Some(child.height() + 1),
                Node::File(_) => None,
            })
            .max()
            .unwrap_or(0)
    }
}

/// Refuses names no file system would take.
fn check_name(name: &str) -> Result<(), Error> {
    if name.len() > MAX_NAME {
        return Err(Error::name_too_long().context("a name longer than 255 bytes"));
    }
    if name.contains('\0') {
        return Err(Error::invalid_argument().context("a name with a NUL byte"));
    }
    Ok(())
}

/// The longest path a call may name, in bytes (Linux's `PATH_MAX`).
pub const MAX_PATH: usize = 4096;

/// Refuses paths longer than [`MAX_PATH`] before looking at them.
pub(crate) fn check_path_len(path: &str) -> Result<(), Error> {
    match path.len() > MAX_PATH {
        true => Err(Error::name_too_long().context("a path longer than 4096 bytes")),
        false => Ok(()),
    }
}

fn too_deep() -> Error {
    Error::name_too_long().context("deeper than the memory directory's 256 levels")
}

/// A directory of the in-memory tree (the preopened one, or one the guest opened inside it).
#[derive(Clone, Debug)]
pub struct MemoryDir {
    dir: Arc<DirNode>,
}

impl Default for MemoryDir {
    fn default() -> MemoryDir {
        MemoryDir::new()
    }
}

impl MemoryDir {
    /// An empty directory.
    pub fn new() -> MemoryDir {
        MemoryDir { dir: DirNode::new(None) }
    }

    /// A copy of the host directory `path` (regular files and directories; nothing else),
    /// refused when it would cost more than `budget` (see [`crate::shim::entry_cost`]): nothing
    /// is read past it, so a huge (even sparse) file cannot fill the host's memory.
    pub fn load(path: &Path, budget: u64) -> std::io::Result<MemoryDir> {
        let memory = MemoryDir::new();
        let mut left = budget;
        let from = cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority())?;
        load_into(&memory.dir, &from, 0, &mut left).map_err(|e| {
            std::io::Error::new(e.kind(), format!("{e} (loading {})", path.display()))
        })?;
        Ok(memory)
    }

    /// Makes the host directory `inside` of `base` (`base` itself when `inside` is empty)
    /// hold exactly this tree: see [`crate::dump::replace_dir`]. A failure part-way leaves it
    /// as it was.
    pub fn dump(&self, base: &Path, inside: &Path) -> std::io::Result<()> {
        self.prepare_dump(base, inside)?.commit()
    }

    /// The first half of [`MemoryDir::dump`]: the tree written and synced beside its target,
    /// the target untouched (see [`crate::dump::prepare`]).
    pub fn prepare_dump(
        &self,
        base: &Path,
        inside: &Path,
    ) -> std::io::Result<crate::dump::Prepared> {
        crate::dump::prepare(base, inside, |staging| dump_into(&self.dir, staging))
    }

    /// What the tree costs against a quota (see [`crate::shim::entry_cost`]).
    pub fn usage(&self) -> u64 {
        usage_under(&self.dir)
    }

    /// The parent directory of `path`'s last component, and that component (`None` for the
    /// directory itself: `""`, `"."`, or a path ending in `..`).
    fn resolve_parent(&self, path: &str) -> Result<(Arc<DirNode>, Option<String>), Error> {
        if path.starts_with('/') {
            return Err(Error::from(Errno::Notcapable).context("absolute path"));
        }
        check_path_len(path)?;
        let mut dir = self.dir.clone();
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let Some((last, walk)) = components.split_last() else { return Ok((dir, None)) };
        for &component in walk {
            dir = step(&dir, component)?;
        }
        match *last {
            "." => Ok((dir, None)),
            ".." => Ok((parent_of(&dir)?, None)),
            name => {
                check_name(name)?;
                Ok((dir, Some(name.to_owned())))
            }
        }
    }

    fn lookup(&self, path: &str) -> Result<Node, Error> {
        match self.resolve_parent(path)? {
            (dir, None) => Ok(Node::Dir(dir)),
            (dir, Some(name)) => lock(&dir.entries).get(&name).cloned().ok_or(Error::not_found()),
        }
    }
}

fn parent_of(dir: &Arc<DirNode>) -> Result<Arc<DirNode>, Error> {
    if lock(&dir.parent).is_none() {
        return Err(Error::from(Errno::Notcapable).context("`..` leaves the directory"));
    }
    dir.parent().ok_or(Error::not_found())
}

fn step(dir: &Arc<DirNode>, component: &str) -> Result<Arc<DirNode>, Error> {
    match component {
        "." => Ok(dir.clone()),
        ".." => parent_of(dir),
        name => {
            check_name(name)?;
            match lock(&dir.entries).get(name) {
                Some(Node::Dir(child)) => Ok(child.clone()),
                Some(Node::File(_)) => Err(Error::not_dir()),
                None => Err(Error::not_found()),
            }
        }
    }
}

/// Copies the host directory `from` into `dir`, through handles: entries are never followed
/// when they are symlinks (those are skipped), and a file gives at most the bytes charged for
/// it (its size when opened), so nothing changing the tree meanwhile makes the copy larger
/// than `left` or leads it out of `from`.
fn load_into(
    dir: &Arc<DirNode>,
    from: &cap_std::fs::Dir,
    depth: usize,
    left: &mut u64,
) -> std::io::Result<()> {
    use cap_fs_ext::DirExt;
    use std::io::Read;
    let too_big = |name: &str| std::io::Error::other(format!("{name} does not fit in the quota"));
    for entry in from.entries()? {
        let entry = entry?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|name| std::io::Error::other(format!("file name {name:?} is not UTF-8")))?;
        let kind = entry.file_type()?;
        let node = if kind.is_dir() {
            if depth + 1 > MAX_DEPTH {
                return Err(std::io::Error::other(format!(
                    "{name} is deeper than {MAX_DEPTH} directories"
                )));
            }
            *left = left.checked_sub(entry_cost(None)).ok_or_else(|| too_big(&name))?;
            let child = DirNode::new(Some(Arc::downgrade(dir)));
            load_into(&child, &from.open_dir_nofollow(&name)?, depth + 1, left)?;
            Node::Dir(child)
        } else if kind.is_file() {
            let mut options = cap_std::fs::OpenOptions::new();
            // Not following a symlink, and not waiting on a FIFO swapped in meanwhile.
            options.read(true);
            cap_fs_ext::OpenOptionsFollowExt::follow(&mut options, cap_fs_ext::FollowSymlinks::No);
            let nonblocking = rustix::fs::OFlags::NONBLOCK.bits() as i32;
            cap_std::fs::OpenOptionsExt::custom_flags(&mut options, nonblocking);
            let file = from.open_with(&name, &options)?;
            let meta = file.metadata()?;
            if !meta.is_file() {
                continue;
            }
            *left = left.checked_sub(entry_cost(Some(meta.len()))).ok_or_else(|| too_big(&name))?;
            let mut bytes = Vec::new();
            file.take(meta.len()).read_to_end(&mut bytes)?;
            Node::File(Arc::new(FileNode { inode: next_inode(), bytes: Mutex::new(bytes) }))
        } else {
            continue;
        };
        lock(&dir.entries).insert(name, node);
    }
    Ok(())
}

fn dump_into(dir: &DirNode, to: &cap_std::fs::Dir) -> std::io::Result<()> {
    let entries = lock(&dir.entries).clone();
    for (name, node) in entries {
        check_name(&name).map_err(|_| std::io::Error::other(format!("bad name {name:?}")))?;
        match node {
            Node::File(file) => {
                let mut options = cap_std::fs::OpenOptions::new();
                let mut out = to.open_with(&name, options.write(true).create_new(true))?;
                out.write_all(&lock(&file.bytes))?;
                out.sync_all()?;
            }
            Node::Dir(child) => {
                to.create_dir(&name)?;
                dump_into(&child, &to.open_dir(&name)?)?;
                crate::shim::sync_dir(to, Path::new(&name))?;
            }
        }
    }
    Ok(())
}

fn usage_under(dir: &DirNode) -> u64 {
    lock(&dir.entries)
        .values()
        .map(|node| match node {
            Node::File(file) => entry_cost(Some(lock(&file.bytes).len() as u64)),
            Node::Dir(child) => entry_cost(None).saturating_add(usage_under(child)),
        })
        .fold(0, u64::saturating_add)
}

#[async_trait::async_trait]
impl WasiDir for MemoryDir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn open_file(
        &self,
        _symlink_follow: bool,
        path: &str,
        oflags: OFlags,
        // wasi-common checks read and write rights before a read or write reaches a file;
        // resizing is checked here.
        _read: bool,
        write: bool,
        fdflags: FdFlags,
    ) -> Result<OpenResult, Error> {
        let (dir, name) = self.resolve_parent(path)?;
        let Some(name) = name else {
            if write || oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE) {
                return Err(Error::from(Errno::Isdir));
            }
            return Ok(OpenResult::Dir(Box::new(MemoryDir { dir })));
        };
        let mut entries = lock(&dir.entries);
        let file = match entries.get(&name) {
            Some(_) if oflags.contains(OFlags::CREATE | OFlags::EXCLUSIVE) => {
                return Err(Error::exist());
            }
            Some(Node::Dir(child)) => {
                if write || oflags.contains(OFlags::TRUNCATE) {
                    return Err(Error::from(Errno::Isdir));
                }
                return Ok(OpenResult::Dir(Box::new(MemoryDir { dir: child.clone() })));
            }
            Some(Node::File(_)) if oflags.contains(OFlags::DIRECTORY) => {
                return Err(Error::not_dir());
            }
            Some(Node::File(file)) => file.clone(),
            None if oflags.contains(OFlags::CREATE) && !oflags.contains(OFlags::DIRECTORY) => {
                dir.check_present()?;
                let file = Arc::new(FileNode { inode: next_inode(), bytes: Mutex::default() });
                entries.insert(name, Node::File(file.clone()));
                file
            }
            None => return Err(Error::not_found()),
        };
        if oflags.contains(OFlags::TRUNCATE) {
            *lock(&file.bytes) = Vec::new();
        }
        let writable = write || oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE);
        let handle =
            MemoryFile { file, writable, position: Mutex::new(0), fdflags: RwLock::new(fdflags) };
        Ok(OpenResult::File(Box::new(handle)))
    }

    async fn create_dir(&self, path: &str) -> Result<(), Error> {
        let (dir, name) = self.resolve_parent(path)?;
        let name = name.ok_or(Error::exist())?;
        let mut entries = lock(&dir.entries);
        if entries.contains_key(&name) {
            return Err(Error::exist());
        }
        dir.check_present()?;
        if dir.depth() + 1 > MAX_DEPTH {
            return Err(too_deep());
        }
        entries.insert(name, Node::Dir(DirNode::new(Some(Arc::downgrade(&dir)))));
        Ok(())
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<Box<dyn Iterator<Item = Result<ReaddirEntity, Error>> + Send>, Error> {
        let parent_inode = self.dir.parent().map(|p| p.inode);
        let mut listing = vec![
            (".".to_owned(), self.dir.inode, FileType::Directory),
            ("..".to_owned(), parent_inode.unwrap_or(self.dir.inode), FileType::Directory),
        ];
        for (name, node) in lock(&self.dir.entries).iter() {
            let stat = node.filestat();
            listing.push((name.clone(), stat.inode, stat.filetype));
        }
        let entities = listing.into_iter().enumerate().skip(u64::from(cursor) as usize).map(
            |(index, (name, inode, filetype))| {
                Ok(ReaddirEntity {
                    next: ReaddirCursor::from(index as u64 + 1),
                    inode,
                    name,
                    filetype,
                })
            },
        );
        Ok(Box::new(entities.collect::<Vec<_>>().into_iter()))
    }

    async fn remove_dir(&self, path: &str) -> Result<(), Error> {
        let (dir, name) = self.resolve_parent(path)?;
        let name = name.ok_or(Error::invalid_argument())?;
        let mut entries = lock(&dir.entries);
        match entries.get(&name) {
            Some(Node::Dir(child)) if lock(&child.entries).is_empty() => {
                child.removed.store(true, Relaxed);
            }
            Some(Node::Dir(_)) => return Err(Error::from(Errno::Notempty)),
            Some(Node::File(_)) => return Err(Error::not_dir()),
            None => return Err(Error::not_found()),
        }
        entries.remove(&name);
        Ok(())
    }

    async fn unlink_file(&self, path: &str) -> Result<(), Error> {
        let (dir, name) = self.resolve_parent(path)?;
        let name = name.ok_or(Error::from(Errno::Isdir))?;
        let mut entries = lock(&dir.entries);
        match entries.get(&name) {
            Some(Node::File(_)) => {}
            Some(Node::Dir(_)) => return Err(Error::from(Errno::Isdir)),
            None => return Err(Error::not_found()),
        }
        entries.remove(&name);
        Ok(())
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        Ok(Node::Dir(self.dir.clone()).filestat())
    }

    async fn get_path_filestat(&self, path: &str, _follow: bool) -> Result<Filestat, Error> {
        Ok(self.lookup(path)?.filestat())
    }

    async fn rename(&self, path: &str, dest_dir: &dyn WasiDir, dest: &str) -> Result<(), Error> {
        let dest_dir = dest_dir
            .as_any()
            .downcast_ref::<MemoryDir>()
            .ok_or(Error::from(Errno::Xdev).context("rename across directory kinds"))?;
        let (from_dir, from_name) = self.resolve_parent(path)?;
        let (to_dir, to_name) = dest_dir.resolve_parent(dest)?;
        let (from_name, to_name) =
            from_name.zip(to_name).ok_or(Error::invalid_argument().context("rename of `.`"))?;
        let node = lock(&from_dir.entries).get(&from_name).cloned().ok_or(Error::not_found())?;
        let target = lock(&to_dir.entries).get(&to_name).cloned();
        // As POSIX `rename`: onto itself does nothing; a file never replaces a directory nor
        // a directory a file; a directory replaces only an empty one and never moves into
        // its own subtree.
        match (&node, &target) {
            (_, Some(target)) if node.same(target) => return Ok(()),
            (Node::File(_), Some(Node::Dir(_))) => return Err(Error::from(Errno::Isdir)),
            (Node::Dir(_), Some(Node::File(_))) => return Err(Error::not_dir()),
            (Node::Dir(_), Some(Node::Dir(target))) if !lock(&target.entries).is_empty() => {
                return Err(Error::from(Errno::Notempty));
            }
            _ => {}
        }
        to_dir.check_present()?;
        if let Node::Dir(moved) = &node {
            let mut at = Some(to_dir.clone());
            while let Some(dir) = at {
                if Arc::ptr_eq(&dir, moved) {
                    return Err(Error::invalid_argument().context("a directory into itself"));
                }
                at = dir.parent();
            }
            if to_dir.depth() + 1 + moved.height() > MAX_DEPTH {
                return Err(too_deep());
            }
            *lock(&moved.parent) = Some(Arc::downgrade(&to_dir));
        }
        if let Some(Node::Dir(replaced)) = &target {
            replaced.removed.store(true, Relaxed);
        }
        lock(&from_dir.entries).remove(&from_name);
        lock(&to_dir.entries).insert(to_name, node);
        Ok(())
    }

    async fn set_times(
        &self,
        path: &str,
        _atime: Option<SystemTimeSpec>,
        _mtime: Option<SystemTimeSpec>,
        _follow: bool,
    ) -> Result<(), Error> {
        // No times are kept; the call succeeds for what exists.
        self.lookup(path).map(drop)
    }
}

/// Resizes a file's bytes, failing with `ENOSPC` when the host cannot allocate them.
/// Growth reserves amortized room (at most twice the size); shrinking gives the room back, so
/// the host memory a file holds stays within twice what the quota charges for it.
fn resize(bytes: &mut Vec<u8>, size: usize) -> Result<(), Error> {
    if let Some(more) = size.checked_sub(bytes.len()) {
        bytes
            .try_reserve(more)
            .map_err(|_| Error::from(Errno::Nospc).context("the host has no memory for it"))?;
    }
    bytes.resize(size, 0);
    if bytes.capacity() / 2 > size {
        bytes.shrink_to(size);
    }
    Ok(())
}

/// An open file of the in-memory tree, with its own position for cursor reads and writes.
#[derive(Debug)]
struct MemoryFile {
    file: Arc<FileNode>,
    /// Opened for writing: resizing needs it, as `ftruncate` does.
    writable: bool,
    position: Mutex<u64>,
    fdflags: RwLock<FdFlags>,
}

impl MemoryFile {
    fn read_at(&self, bufs: &mut [IoSliceMut<'_>], offset: u64) -> u64 {
        let bytes = lock(&self.file.bytes);
        let mut at = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
        let start = at;
        for buf in bufs {
            let n = buf.len().min(bytes.len() - at);
            buf[..n].copy_from_slice(&bytes[at..at + n]);
            at += n;
        }
        (at - start) as u64
    }

    fn write_at(&self, bufs: &[IoSlice<'_>], offset: Option<u64>) -> Result<(u64, u64), Error> {
        let mut bytes = lock(&self.file.bytes);
        let start = offset.unwrap_or(bytes.len() as u64);
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if len == 0 {
            // Writing nothing changes nothing, even past the end (as POSIX `write`).
            return Ok((0, start));
        }
        let end = start.checked_add(len).and_then(|end| usize::try_from(end).ok());
        let end = end.ok_or(Error::from(Errno::Fbig))?;
        let size = end.max(bytes.len());
        resize(&mut bytes, size)?;
        let mut at = start as usize;
        for buf in bufs {
            bytes[at..at + buf.len()].copy_from_slice(buf);
            at += buf.len();
        }
        Ok((len, end as u64))
    }

    fn appends(&self) -> bool {
        self.fdflags.read().unwrap_or_else(PoisonError::into_inner).contains(FdFlags::APPEND)
    }
}

#[async_trait::async_trait]
impl WasiFile for MemoryFile {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn get_filetype(&self) -> Result<FileType, Error> {
        Ok(FileType::RegularFile)
    }

    async fn get_fdflags(&self) -> Result<FdFlags, Error> {
        Ok(*self.fdflags.read().unwrap_or_else(PoisonError::into_inner))
    }

    async fn set_fdflags(&mut self, flags: FdFlags) -> Result<(), Error> {
        *self.fdflags.write().unwrap_or_else(PoisonError::into_inner) = flags;
        Ok(())
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        Ok(Node::File(self.file.clone()).filestat())
    }

    async fn set_filestat_size(&self, size: u64) -> Result<(), Error> {
        if !self.writable {
            return Err(Error::badf().context("the file is not open for writing"));
        }
        let size = usize::try_from(size).map_err(|_| Error::from(Errno::Fbig))?;
        resize(&mut lock(&self.file.bytes), size)
    }

    async fn advise(&self, _offset: u64, _len: u64, _advice: Advice) -> Result<(), Error> {
        Ok(())
    }

    async fn set_times(
        &self,
        _atime: Option<SystemTimeSpec>,
        _mtime: Option<SystemTimeSpec>,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn read_vectored<'a>(&self, bufs: &mut [IoSliceMut<'a>]) -> Result<u64, Error> {
        let mut position = lock(&self.position);
        let n = self.read_at(bufs, *position);
        *position += n;
        Ok(n)
    }

    async fn read_vectored_at<'a>(
        &self,
        bufs: &mut [IoSliceMut<'a>],
        offset: u64,
    ) -> Result<u64, Error> {
        Ok(self.read_at(bufs, offset))
    }

    async fn write_vectored<'a>(&self, bufs: &[IoSlice<'a>]) -> Result<u64, Error> {
        let mut position = lock(&self.position);
        let at = if self.appends() { None } else { Some(*position) };
        let (n, end) = self.write_at(bufs, at)?;
        *position = end;
        Ok(n)
    }

    async fn write_vectored_at<'a>(&self, bufs: &[IoSlice<'a>], offset: u64) -> Result<u64, Error> {
        Ok(self.write_at(bufs, Some(offset))?.0)
    }

    async fn seek(&self, pos: SeekFrom) -> Result<u64, Error> {
        let mut position = lock(&self.position);
        let len = lock(&self.file.bytes).len() as i128;
        let target = match pos {
            SeekFrom::Start(at) => i128::from(at),
            SeekFrom::Current(delta) => i128::from(*position) + i128::from(delta),
            SeekFrom::End(delta) => len + i128::from(delta),
        };
        *position = u64::try_from(target).map_err(|_| Error::invalid_argument())?;
        Ok(*position)
    }

    async fn peek(&self, buf: &mut [u8]) -> Result<u64, Error> {
        let position = *lock(&self.position);
        Ok(self.read_at(&mut [IoSliceMut::new(buf)], position))
    }

    fn num_ready_bytes(&self) -> Result<u64, Error> {
        let position = *lock(&self.position);
        Ok((lock(&self.file.bytes).len() as u64).saturating_sub(position))
    }

    async fn readable(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn writable(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Where in the dump directory the memory directory `guest` goes: the dump directory itself
/// when it is the only one, else the guest path (made of plain names) inside it.
pub fn dump_path(guest: &str, several: bool) -> std::io::Result<PathBuf> {
    if !several {
        return Ok(PathBuf::new());
    }
    let relative = Path::new(guest.trim_start_matches('/'));
    match relative.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
        true if !relative.as_os_str().is_empty() => Ok(relative.to_path_buf()),
        _ => Err(std::io::Error::other(format!("cannot dump guest directory {guest:?}"))),
    }
}
