//! The one behaviour suite every [`Storage`] backend passes.
//!
//! Exported so that backends in other crates (OPFS in `toonstore-wasm`, the WASI shim in
//! `toonstore-host`) run the very same checks: call [`run`] with a function that makes a
//! fresh, empty storage. Each check panics with a message naming the broken contract.

use std::io::ErrorKind;

use super::{File, OpenMode, Storage};

/// A named check of one contract.
type Check<S> = (&'static str, fn(&S));

/// Runs every check, each on a fresh storage from `make`. Returns the number of checks.
pub fn run<S: Storage>(make: impl Fn() -> S) -> usize {
    let checks: [Check<S>; 14] = [
        ("create, list and open existing", create_list_open),
        ("exact reads and writes", exact_reads_and_writes),
        ("reads past the end fail", reads_past_end_fail),
        ("gaps read as zeros", gaps_read_as_zeros),
        ("overwrites in place", overwrites_in_place),
        ("set_len truncates and extends with zeros", set_len),
        ("handles to one name share bytes", handles_share_bytes),
        ("remove", remove),
        ("sync and close", sync_and_close),
        ("large writes", large_writes),
        ("empty reads and writes", empty_reads_and_writes),
        ("names are validated", names_are_validated),
        ("read-only handles read and refuse changes", read_only_handles),
        ("exclusive creation", exclusive_creation),
    ];
    for (name, check) in checks {
        let storage = make();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&storage)));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("storage conformance: {name}: {message}");
        }
    }
    checks.len()
}

/// [`run`] on fresh directories under the system's temporary directory, for backends that
/// open a directory; `name` keeps concurrent runs apart.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_in_temp_dirs<S: Storage>(name: &str, open: impl Fn(&std::path::Path) -> S) -> usize {
    let root = std::env::temp_dir().join(format!("toonstore-{name}-{}", std::process::id()));
    let checks = run_in_dirs(&root, open);
    let _ = std::fs::remove_dir_all(root);
    checks
}

/// [`run`] on fresh directories `root/0`, `root/1`, ...; also what a WASI guest calls on a
/// directory its host gives it.
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub fn run_in_dirs<S: Storage>(
    root: &std::path::Path,
    open: impl Fn(&std::path::Path) -> S,
) -> usize {
    let counter = std::sync::atomic::AtomicUsize::new(0);
    run(|| {
        let dir = root.join(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string());
        let _ = std::fs::remove_dir_all(&dir);
        open(&dir)
    })
}

/// Reads through both read calls, which must agree.
fn read<F: File>(file: &F, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0xAA; len];
    file.read_at(offset, &mut buf).unwrap_or_else(|e| panic!("read {len} at {offset}: {e}"));
    let vec = file.read_vec_at(offset, len).unwrap_or_else(|e| panic!("read_vec {len}: {e}"));
    assert_eq!(vec, buf, "read_vec_at and read_at of {len} bytes at {offset}");
    buf
}

fn create_list_open<S: Storage>(storage: &S) {
    assert_eq!(storage.list().unwrap(), Vec::<String>::new(), "a new storage is empty");
    let missing = storage.open("a.log", OpenMode::Existing).err().map(|e| e.kind());
    assert_eq!(missing, Some(ErrorKind::NotFound), "opening a missing file as existing");
    let file = storage.open("a.log", OpenMode::Create).unwrap();
    assert_eq!(file.len().unwrap(), 0, "a created file is empty");
    storage.open("B_2", OpenMode::Create).unwrap();
    let mut names = storage.list().unwrap();
    names.sort();
    assert_eq!(names, ["B_2", "a.log"]);
    storage.open("a.log", OpenMode::Existing).expect("an existing file opens");
}

fn exact_reads_and_writes<S: Storage>(storage: &S) {
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(0, b"hello, world").unwrap();
    assert_eq!(file.len().unwrap(), 12);
    assert_eq!(read(&file, 0, 12), b"hello, world");
    assert_eq!(read(&file, 7, 5), b"world");
    file.write_at(12, b"!").unwrap();
    assert_eq!(read(&file, 0, 13), b"hello, world!");
}

fn reads_past_end_fail<S: Storage>(storage: &S) {
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(0, b"0123456789").unwrap();
    for (offset, len) in [(5, 6), (10, 1), (11, 1), (u64::MAX - 1, 4)] {
        let mut buf = vec![0; len];
        let kind = file.read_at(offset, &mut buf).err().map(|e| e.kind());
        assert_eq!(kind, Some(ErrorKind::UnexpectedEof), "read {len} at {offset} of 10 bytes");
        let kind = file.read_vec_at(offset, len).err().map(|e| e.kind());
        assert_eq!(kind, Some(ErrorKind::UnexpectedEof), "read_vec {len} at {offset}");
    }
}

fn gaps_read_as_zeros<S: Storage>(storage: &S) {
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(4, b"x").unwrap();
    assert_eq!(file.len().unwrap(), 5);
    assert_eq!(read(&file, 0, 5), b"\0\0\0\0x");
}

fn overwrites_in_place<S: Storage>(storage: &S) {
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(0, b"aaaaaaaa").unwrap();
    file.write_at(2, b"bb").unwrap();
    assert_eq!(file.len().unwrap(), 8, "an overwrite does not change the length");
    assert_eq!(read(&file, 0, 8), b"aabbaaaa");
}

fn set_len<S: Storage>(storage: &S) {
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(0, b"abcdef").unwrap();
    file.set_len(3).unwrap();
    assert_eq!(file.len().unwrap(), 3);
    assert_eq!(read(&file, 0, 3), b"abc");
    file.set_len(6).unwrap();
    assert_eq!(read(&file, 0, 6), b"abc\0\0\0", "extension reads as zeros");
}

fn handles_share_bytes<S: Storage>(storage: &S) {
    let writer = storage.open("f", OpenMode::Create).unwrap();
    let reader = storage.open("f", OpenMode::Existing).unwrap();
    writer.write_at(0, b"shared").unwrap();
    assert_eq!(reader.len().unwrap(), 6);
    assert_eq!(read(&reader, 0, 6), b"shared");
}

fn remove<S: Storage>(storage: &S) {
    let file = storage.open("gone", OpenMode::Create).unwrap();
    file.write_at(0, b"x").unwrap();
    file.close().unwrap();
    storage.remove("gone").unwrap();
    assert!(storage.list().unwrap().is_empty(), "a removed name is not listed");
    let kind = storage.open("gone", OpenMode::Existing).err().map(|e| e.kind());
    assert_eq!(kind, Some(ErrorKind::NotFound));
    let kind = storage.remove("gone").err().map(|e| e.kind());
    assert_eq!(kind, Some(ErrorKind::NotFound), "removing a missing name");
    let again = storage.open("gone", OpenMode::Create).unwrap();
    assert_eq!(again.len().unwrap(), 0, "a name created again starts empty");
}

fn sync_and_close<S: Storage>(storage: &S) {
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(0, b"durable").unwrap();
    file.sync_data().unwrap();
    storage.sync().unwrap();
    file.close().unwrap();
    let file = storage.open("f", OpenMode::Existing).unwrap();
    assert_eq!(read(&file, 0, 7), b"durable", "contents survive closing the handle");
}

fn large_writes<S: Storage>(storage: &S) {
    let file = storage.open("big", OpenMode::Create).unwrap();
    let data: Vec<u8> = (0..(1u32 << 20) + 7).map(|i| (i % 251) as u8).collect();
    file.write_at(3, &data).unwrap();
    assert_eq!(file.len().unwrap(), data.len() as u64 + 3);
    assert_eq!(read(&file, 3, data.len()), data);
}

fn empty_reads_and_writes<S: Storage>(storage: &S) {
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(0, b"").unwrap();
    assert_eq!(file.len().unwrap(), 0, "an empty write at 0 does not extend");
    file.read_at(0, &mut []).unwrap();
    file.write_at(0, b"ab").unwrap();
    file.read_at(2, &mut []).expect("an empty read at the end succeeds");
}

fn names_are_validated<S: Storage>(storage: &S) {
    for bad in ["", "a/b", "..", ".hidden", "a b", "é"] {
        let kind = storage.open(bad, OpenMode::Create).err().map(|e| e.kind());
        assert_eq!(kind, Some(ErrorKind::InvalidInput), "name {bad:?}");
    }
}

fn read_only_handles<S: Storage>(storage: &S) {
    let kind = storage.open("missing", OpenMode::ReadOnly).err().map(|e| e.kind());
    assert_eq!(kind, Some(ErrorKind::NotFound), "read-only open of a missing file");
    let file = storage.open("f", OpenMode::Create).unwrap();
    file.write_at(0, b"kept").unwrap();
    file.sync_data().unwrap();
    let reader = storage.open("f", OpenMode::ReadOnly).unwrap();
    assert_eq!(read(&reader, 0, 4), b"kept");
    assert!(reader.write_at(0, b"lost").is_err(), "a write through a read-only handle");
    assert!(reader.set_len(1).is_err(), "set_len through a read-only handle");
    assert_eq!(read(&file, 0, 4), b"kept");
    assert_eq!(reader.len().unwrap(), 4);
    // A read-only handle still sees what other handles write.
    file.write_at(4, b"+").unwrap();
    assert_eq!(read(&reader, 0, 5), b"kept+");
}

fn exclusive_creation<S: Storage>(storage: &S) {
    let file = storage.open("new", OpenMode::CreateNew).expect("a missing name is created");
    assert_eq!(file.len().unwrap(), 0);
    file.write_at(0, b"first").unwrap();
    let kind = storage.open("new", OpenMode::CreateNew).err().map(|e| e.kind());
    assert_eq!(kind, Some(ErrorKind::AlreadyExists), "creating an existing name exclusively");
    assert_eq!(read(&file, 0, 5), b"first", "a refused exclusive creation changes nothing");
    storage.remove("new").unwrap();
    storage.open("new", OpenMode::CreateNew).expect("a removed name can be created again");
    storage.unlock().expect("unlocking without a lock is a no-op");
}
