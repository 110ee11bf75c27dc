//! The shim's fuzz driver: the bytes of an input are a sequence of `WasiDir`/`WasiFile` calls
//! (opens, writes at any offset, resizes, seeks, closes, directory and symlink creation,
//! unlinks, renames, links, flag changes) run against a [`ShimDir`] under a small quota, on a
//! memory directory or a fresh real one. After every call it checks what the shim promises:
//!
//! - the quota is exact: what it counts equals what the tree costs (a block per name, whole
//!   blocks of each file's bytes, once per file) plus what unlinked files still open hold,
//!   and it never passes its limit;
//! - containment: nothing outside the real directory changes (a sentinel beside it stays as
//!   it was, and nothing new appears there);
//! - no call panics, whatever its arguments.
//!
//! `host/fuzz` (cargo-fuzz, nightly) feeds it random inputs; `host/tests/fuzz_replay.rs`
//! replays the committed corpus and crashers with stable Rust.

use std::collections::HashSet;
use std::io::{IoSlice, IoSliceMut, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use cap_std::ambient_authority;
use wasi_common::dir::OpenResult;
use wasi_common::file::{FdFlags, OFlags};
use wasi_common::{WasiDir, WasiFile};

use crate::memory::MemoryDir;
use crate::shim::{self, Policy, Quota, ShimDir};

/// Runs the calls `data` describes, checking the shim's promises after each; panics when one
/// is broken.
pub fn run_calls(data: &[u8]) {
    let mut input = Input(data);
    let memory = input.byte() & 1 == 1;
    let limit = (u64::from(input.byte()) + 1) * 16 * 1024;
    let quota = Arc::new(Quota::new(limit, 0));
    let mut policy = Policy::default();
    policy.quota = Some(quota.clone());
    policy.max_handles = 24;
    let sandbox = (!memory).then(Sandbox::new);
    let memory_dir = MemoryDir::new();
    let root: Box<dyn WasiDir> = match &sandbox {
        Some(sandbox) => {
            let dir = cap_std::fs::Dir::open_ambient_dir(&sandbox.inside, ambient_authority())
                .expect("the sandbox opens");
            Box::new(ShimDir::real(dir, policy).expect("a shim"))
        }
        None => Box::new(ShimDir::new(Box::new(memory_dir.clone()), policy)),
    };
    let mut state = State { dirs: vec![root], files: Vec::new() };
    let trace = std::env::var_os("TOONSTORE_FUZZ_TRACE").is_some();
    if trace {
        eprintln!("memory: {memory}, quota: {limit}");
    }
    while !input.0.is_empty() {
        let call = state.call(&mut input);
        let tree = match &sandbox {
            Some(sandbox) => sandbox.usage(),
            None => memory_dir.usage(),
        };
        if trace {
            eprintln!("{call} -> used {} (tree {tree})", quota.used());
        }
        let expected = tree + quota.held_by_open_orphans();
        assert_eq!(quota.used(), expected, "the quota drifted from the tree");
        assert!(quota.used() <= limit, "{} used of {limit}", quota.used());
    }
    drop(state);
    if let Some(sandbox) = sandbox {
        assert_eq!(quota.used(), sandbox.usage(), "closing every handle settled the orphans");
        sandbox.check_contained();
    }
}

/// Polls a future of the sync wasi-common implementations, which never wait.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&first, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn pick<'p, T>(&mut self, pool: &'p [T]) -> &'p T {
        &pool[usize::from(self.byte()) % pool.len()]
    }

    /// An offset or size: small ones mostly, and the edges of the ranges.
    fn offset(&mut self) -> u64 {
        match self.byte() % 8 {
            0 => u64::MAX - u64::from(self.byte()),
            1 => i64::MAX as u64 - u64::from(self.byte()),
            2 => 1 << 40,
            3 => u64::from(self.u16()) * 4096,
            _ => u64::from(self.u16()),
        }
    }
}

const NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "a/b",
    "a/c",
    "b/a",
    "a/b/c",
    ".",
    "..",
    "../x",
    "a/..",
    "a/../b",
    "LOCK",
    "a/LOCK",
    "../outside/sentinel",
    "/etc/passwd",
    "x\0y",
    "",
];
const TARGETS: &[&str] = &["a", "b", "a/b", "../outside", "../outside/sentinel", "/etc", ".."];

struct State {
    dirs: Vec<Box<dyn WasiDir>>,
    files: Vec<Box<dyn WasiFile>>,
}

impl State {
    fn name(input: &mut Input<'_>) -> String {
        match input.byte() {
            // Now and then a name longer than any file system takes.
            255 => "n".repeat(300),
            pick => NAMES[usize::from(pick) % NAMES.len()].to_owned(),
        }
    }

    fn dir(&self, input: &mut Input<'_>) -> usize {
        usize::from(input.byte()) % self.dirs.len()
    }

    fn file(&self, input: &mut Input<'_>) -> Option<usize> {
        let pick = usize::from(input.byte());
        (!self.files.is_empty()).then(|| pick % self.files.len())
    }

    /// One call; its errors are the guest's business, only panics and broken promises count.
    /// What it was and how it ended, for tracing.
    fn call(&mut self, input: &mut Input<'_>) -> String {
        let zeros = [0u8; 65536];
        let (what, outcome): (String, Result<(), wasi_common::Error>) = match input.byte() % 16 {
            0 | 1 => {
                let dir = self.dir(input);
                let name = State::name(input);
                let flags = input.byte();
                let mut oflags = OFlags::empty();
                for (bit, flag) in [
                    (1, OFlags::CREATE),
                    (2, OFlags::EXCLUSIVE),
                    (4, OFlags::TRUNCATE),
                    (8, OFlags::DIRECTORY),
                ] {
                    if flags & bit != 0 {
                        oflags |= flag;
                    }
                }
                let (read, write) = (flags & 16 != 0, flags & 32 != 0);
                let fdflags = match flags & 64 != 0 {
                    true => FdFlags::APPEND,
                    false => FdFlags::empty(),
                };
                let follow = flags & 128 != 0;
                let what = format!(
                    "open(dir {dir}, {name:?}, {oflags:?}, read {read}, write {write}, {fdflags:?}, follow {follow})"
                );
                let opened =
                    block_on(self.dirs[dir].open_file(follow, &name, oflags, read, write, fdflags));
                let outcome = opened.map(|opened| match opened {
                    OpenResult::File(file) => self.files.push(file),
                    OpenResult::Dir(dir) => self.dirs.push(dir),
                });
                (what, outcome)
            }
            2 | 3 => {
                let Some(file) = self.file(input) else { return "no file".into() };
                let len = usize::from(input.u16());
                let bufs = [IoSlice::new(&zeros[..len])];
                let write = block_on(self.files[file].write_vectored(&bufs));
                (format!("write(file {file}, {len})"), write.map(drop))
            }
            4 => {
                let Some(file) = self.file(input) else { return "no file".into() };
                let (offset, len) = (input.offset(), usize::from(input.u16()));
                let bufs = [IoSlice::new(&zeros[..len])];
                let write = block_on(self.files[file].write_vectored_at(&bufs, offset));
                (format!("pwrite(file {file}, {len} at {offset})"), write.map(drop))
            }
            5 => {
                let Some(file) = self.file(input) else { return "no file".into() };
                let size = input.offset();
                let resize = block_on(self.files[file].set_filestat_size(size));
                (format!("set_size(file {file}, {size})"), resize)
            }
            6 => {
                let Some(file) = self.file(input) else { return "no file".into() };
                let to = match input.byte() % 3 {
                    0 => SeekFrom::Start(input.offset()),
                    1 => SeekFrom::Current(input.offset() as i64),
                    _ => SeekFrom::End(-i64::from(input.u16())),
                };
                (
                    format!("seek(file {file}, {to:?})"),
                    block_on(self.files[file].seek(to)).map(drop),
                )
            }
            7 => {
                let Some(file) = self.file(input) else { return "no file".into() };
                self.files.swap_remove(file);
                (format!("close(file {file})"), Ok(()))
            }
            8 => {
                let dir = self.dir(input);
                if dir > 0 {
                    self.dirs.swap_remove(dir);
                }
                (format!("close(dir {dir})"), Ok(()))
            }
            9 => {
                let (dir, name) = (self.dir(input), State::name(input));
                (format!("mkdir(dir {dir}, {name:?})"), block_on(self.dirs[dir].create_dir(&name)))
            }
            10 => {
                let (dir, name) = (self.dir(input), State::name(input));
                (format!("rmdir(dir {dir}, {name:?})"), block_on(self.dirs[dir].remove_dir(&name)))
            }
            11 => {
                let (dir, name) = (self.dir(input), State::name(input));
                (
                    format!("unlink(dir {dir}, {name:?})"),
                    block_on(self.dirs[dir].unlink_file(&name)),
                )
            }
            12 => {
                let (from_dir, from) = (self.dir(input), State::name(input));
                let (to_dir, to) = (self.dir(input), State::name(input));
                let dest = self.dirs[to_dir].as_ref();
                let renamed = block_on(self.dirs[from_dir].rename(&from, dest, &to));
                (format!("rename(dir {from_dir}, {from:?} -> dir {to_dir}, {to:?})"), renamed)
            }
            13 => {
                let (from_dir, from) = (self.dir(input), State::name(input));
                let (to_dir, to) = (self.dir(input), State::name(input));
                let dest = self.dirs[to_dir].as_ref();
                let linked = block_on(self.dirs[from_dir].hard_link(&from, dest, &to));
                (format!("link(dir {from_dir}, {from:?} -> dir {to_dir}, {to:?})"), linked)
            }
            14 => {
                let target = *input.pick(TARGETS);
                let (dir, name) = (self.dir(input), State::name(input));
                let made = block_on(self.dirs[dir].symlink(target, &name));
                (format!("symlink(dir {dir}, {name:?} -> {target:?})"), made)
            }
            _ => {
                let Some(file) = self.file(input) else { return "no file".into() };
                match input.byte() % 2 {
                    0 => {
                        let flags = match input.byte() & 1 {
                            1 => FdFlags::APPEND,
                            _ => FdFlags::empty(),
                        };
                        let set = block_on(self.files[file].set_fdflags(flags));
                        (format!("set_fdflags(file {file}, {flags:?})"), set)
                    }
                    _ => {
                        let mut buf = [0u8; 4096];
                        let offset = input.offset();
                        let mut bufs = [IoSliceMut::new(&mut buf)];
                        let read = block_on(self.files[file].read_vectored_at(&mut bufs, offset));
                        (format!("pread(file {file}, at {offset})"), read.map(drop))
                    }
                }
            }
        };
        match outcome {
            Ok(()) => format!("{what}: ok"),
            Err(e) => format!("{what}: {e}"),
        }
    }
}

/// A fresh real directory (`inside`, the guest's) beside a sentinel it must never reach, in
/// a new temporary directory of a random name.
struct Sandbox {
    base: tempfile::TempDir,
    inside: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let base = tempfile::Builder::new()
            .prefix("toonstore-shim-fuzz-")
            .tempdir()
            .expect("a temporary directory");
        let inside = base.path().join("inside");
        std::fs::create_dir(&inside).expect("the sandbox is created");
        std::fs::create_dir(base.path().join("outside")).expect("the sandbox is created");
        std::fs::write(base.path().join("outside/sentinel"), "untouched").expect("the sentinel");
        Sandbox { base, inside }
    }

    /// What the guest's tree costs, walked on the host (each file's bytes once).
    fn usage(&self) -> u64 {
        let mut seen = HashSet::new();
        usage_under(&self.inside, &mut seen)
    }

    fn check_contained(&self) {
        let base = self.base.path();
        let mut names: Vec<_> = std::fs::read_dir(base)
            .expect("the base reads")
            .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["inside", "outside"], "something appeared beside the sandbox");
        let outside: Vec<_> = std::fs::read_dir(base.join("outside"))
            .expect("outside reads")
            .map(|e| e.expect("an entry").file_name())
            .collect();
        assert_eq!(outside.len(), 1, "something appeared outside: {outside:?}");
        let sentinel = std::fs::read_to_string(base.join("outside/sentinel"));
        assert_eq!(sentinel.expect("the sentinel reads"), "untouched");
    }
}

fn usage_under(dir: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("the sandbox reads") {
        let entry = entry.expect("an entry");
        let meta = entry.path().symlink_metadata().expect("its metadata");
        total += shim::ENTRY_COST;
        if meta.is_dir() {
            total += usage_under(&entry.path(), seen);
        } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
            total += shim::content_cost(meta.len());
        }
    }
    total
}
