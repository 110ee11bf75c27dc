//! Hostile guests: small WAT modules that call WASI preview 1 directly, built from a prelude
//! of helpers and a body. A guest ends with `proc_exit(errno)` at the first call that fails
//! where `$check` guards it, so a test reads which call failed, and how, from the exit code.

use std::path::{Path, PathBuf};

use toonstore_host::{Outcome, Preopen, RunOptions, Stdio};

/// WASI errno values as a guest sees them.
pub const ESUCCESS: i32 = 0;
pub const EACCES: i32 = 2;
pub const EAGAIN: i32 = 6;
pub const EFBIG: i32 = 22;
pub const EINVAL: i32 = 28;
pub const EISDIR: i32 = 31;
pub const EMFILE: i32 = 33;
pub const ENAMETOOLONG: i32 = 37;
pub const ENOSPC: i32 = 51;
pub const ENOTDIR: i32 = 54;
pub const ENOTEMPTY: i32 = 55;
pub const EPERM: i32 = 63;
/// What a guest exits with when a loop that should have been stopped ran to its end.
pub const NEVER_STOPPED: i32 = 100;

/// `oflags`, `fdflags` and `lookupflags` of `path_open`.
pub const O_CREAT: i32 = 1;
pub const O_DIRECTORY: i32 = 2;
pub const FD_APPEND: i32 = 1;

const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $fd_filestat_set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename" (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link" (func $path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink" (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") PAGES)
  ;; 0: an opened fd or a count written; 8: one iovec; 16: a new offset; 64: a poll
  ;; subscription (48 bytes); 128: its event; 1024: strings; 65536: the data written.
  (func $check (param $errno i32)
    (if (local.get $errno) (then (call $proc_exit (local.get $errno)))))
  (func $try_open (param $dir i32) (param $path i32) (param $len i32) (param $oflags i32) (param $fdflags i32) (result i32)
    (call $path_open (local.get $dir) (i32.const 1) (local.get $path) (local.get $len)
      ;; A directory is opened for reading only (wasi-common refuses to write one).
      (local.get $oflags)
      (select (i64.const 2) (i64.const 0x1FFFFFFF) (i32.and (local.get $oflags) (i32.const 2)))
      (i64.const 0x1FFFFFFF) (local.get $fdflags)
      (i32.const 0)))
  (func $open (param $dir i32) (param $path i32) (param $len i32) (param $oflags i32) (param $fdflags i32) (result i32)
    (call $check (call $try_open (local.get $dir) (local.get $path) (local.get $len) (local.get $oflags) (local.get $fdflags)))
    (i32.load (i32.const 0)))
  (func $iovec (param $len i32)
    (i32.store (i32.const 8) (i32.const 65536))
    (i32.store (i32.const 12) (local.get $len)))
  (func $write (param $fd i32) (param $len i32) (result i32)
    (call $iovec (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 8) (i32.const 1) (i32.const 4)))
  (func $pwrite (param $fd i32) (param $len i32) (param $offset i64) (result i32)
    (call $iovec (local.get $len))
    (call $fd_pwrite (local.get $fd) (i32.const 8) (i32.const 1) (local.get $offset) (i32.const 4)))
  (func $rename (param $from i32) (param $from_len i32) (param $to i32) (param $to_len i32) (result i32)
    (call $path_rename (i32.const 3) (local.get $from) (local.get $from_len) (i32.const 3) (local.get $to) (local.get $to_len)))
  ;; Sleeps `ns` nanoseconds (a relative clock subscription).
  (func $sleep (param $ns i64) (result i32)
    (i64.store (i32.const 64) (i64.const 0))
    (i32.store8 (i32.const 72) (i32.const 0))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (local.get $ns))
    (i64.store (i32.const 96) (i64.const 0))
    (i32.store16 (i32.const 104) (i32.const 0))
    (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 4)))
"#;

/// A guest under construction: its strings, and the memory its writes need.
pub struct Wat {
    data: String,
    next: u32,
    pages: u32,
}

impl Default for Wat {
    fn default() -> Wat {
        Wat { data: String::new(), next: 1024, pages: 2 }
    }
}

impl Wat {
    /// Places `text` in memory; the two operands `(ptr) (len)` that name it.
    pub fn s(&mut self, text: &str) -> String {
        let at = self.next;
        self.next += text.len() as u32 + 1;
        assert!(self.next < 65536, "strings overflow their page");
        let escaped: String = text.bytes().map(|b| format!("\\{b:02x}")).collect();
        self.data.push_str(&format!("  (data (i32.const {at}) \"{escaped}\")\n"));
        format!("(i32.const {at}) (i32.const {})", text.len())
    }

    /// Address of the first byte of a string made by [`Wat::s`] (to change it in a loop).
    pub fn addr(operands: &str) -> u32 {
        let after = operands.strip_prefix("(i32.const ").expect("operands from Wat::s");
        after[..after.find(')').unwrap()].parse().unwrap()
    }

    /// Room for writes of up to `bytes` bytes.
    pub fn writes(&mut self, bytes: u32) -> &mut Wat {
        self.pages = self.pages.max(1 + bytes.div_ceil(65536));
        self
    }

    /// The module whose `_start` runs `body` and then exits 0.
    pub fn module(&self, body: &str) -> Vec<u8> {
        self.module_with(body, "")
    }

    /// The same, with more module fields (`extra`) after the prelude.
    pub fn module_with(&self, body: &str, extra: &str) -> Vec<u8> {
        let text = format!(
            "(module\n{}{}{extra}\n  (func (export \"_start\") (local $i i32) (local $fd i32) (local $e i32) (local $d i32)\n{body}\n    (call $proc_exit (i32.const 0))))",
            PRELUDE.replace("PAGES", &self.pages.to_string()),
            self.data
        );
        wat::parse_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }
}

/// Writes `wasm` beside (not inside) `root` and returns options that run it with `root` as
/// the guest's only directory (fd 3), stdio captured, no cache.
pub fn options(wasm: &[u8], root: &Path) -> RunOptions {
    let module = module_path(root);
    std::fs::write(&module, wasm).unwrap();
    RunOptions {
        module,
        dirs: vec![Preopen { host: root.to_path_buf(), guest: "/data".into() }],
        stdio: Stdio::Captured { stdin: Vec::new() },
        ..RunOptions::default()
    }
}

fn module_path(root: &Path) -> PathBuf {
    let name = root.file_name().unwrap().to_string_lossy();
    root.with_file_name(format!("{name}-guest.wasm"))
}

/// Runs a guest that must end by exiting; its exit code.
pub fn exit_code(run: &RunOptions) -> (i32, Outcome) {
    let outcome = toonstore_host::run(run).expect("the guest exits");
    (outcome.exit_code, outcome)
}

/// Bytes of the regular files under `dir` (not following symlinks).
pub fn bytes_on_disk(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            total += bytes_on_disk(&entry.path());
        } else if kind.is_file() {
            total += entry.metadata().unwrap().len();
        }
    }
    total
}
