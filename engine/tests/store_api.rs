//! The store's API behaves the same on every backend (memory, std file, mmap): keyed
//! documents, rows, ordered scans, atomic batches, stats, and everything still there after
//! close and reopen.

use std::ops::Bound;
use std::path::PathBuf;

use toonstore::io::{File, MemoryStorage, MmapStorage, StdStorage, Storage};
use toonstore::store::{Batch, Error, Options, Store};
use toonstore::toon::{self, Value};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toonstore-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `check` on a store over each backend, reopening with `reopen`.
fn on_every_backend(check: impl Fn(&dyn Fn() -> Box<dyn StoreHandle>)) {
    let memory = MemoryStorage::new();
    check(&|| Box::new(Store::open(memory.clone(), small()).unwrap()));
    let dir = temp_dir("std");
    check(&|| Box::new(Store::open(StdStorage::open_dir(&dir).unwrap(), small()).unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
    let dir = temp_dir("mmap");
    check(&|| Box::new(Store::open(MmapStorage::open_dir(&dir).unwrap(), small()).unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Small segments, so the tests cross segment boundaries.
fn small() -> Options {
    Options { segment_bytes: 2048, ..Options::default() }
}

/// The calls the checks use, over any backend.
trait StoreHandle {
    fn put(&self, key: &str, toon: &str) -> Result<(), Error>;
    fn get(&self, key: &str) -> Result<Option<String>, Error>;
    fn store(&self) -> &dyn std::any::Any;
}

impl<S: Storage + 'static> StoreHandle for Store<S> {
    fn put(&self, key: &str, toon: &str) -> Result<(), Error> {
        Store::put(self, key, toon)
    }
    fn get(&self, key: &str) -> Result<Option<String>, Error> {
        Store::get(self, key)
    }
    fn store(&self) -> &dyn std::any::Any {
        self
    }
}

fn with<S: Storage + 'static, T>(
    handle: &dyn StoreHandle,
    f: impl FnOnce(&Store<S>) -> T,
) -> Option<T> {
    handle.store().downcast_ref::<Store<S>>().map(f)
}

/// Applies `f` to the concrete store, whatever its backend.
macro_rules! each {
    ($handle:expr, |$s:ident| $body:expr) => {{
        let h: &dyn StoreHandle = &*$handle;
        with::<MemoryStorage, _>(h, |$s| $body)
            .or_else(|| with::<StdStorage, _>(h, |$s| $body))
            .or_else(|| with::<MmapStorage, _>(h, |$s| $body))
            .expect("a known backend")
    }};
}

#[test]
fn documents_rows_scans_and_batches_survive_reopening() {
    on_every_backend(|open| {
        let store = open();
        for i in 0..40 {
            store
                .put(&format!("user:{i:02}"), &format!("id: {i}\nname: \"User {i}\"\ntags[2]: a,b"))
                .unwrap();
        }
        store.put("config", "debug: false").unwrap();
        assert_eq!(
            store.get("user:07").unwrap().as_deref(),
            Some("id: 7\nname: User 7\ntags[2]: a,b")
        );
        let rows: Vec<u64> =
            each!(store, |s| (0..5).map(|i| s.append(&format!("n: {i}")).unwrap()).collect());
        assert_eq!(rows, [0, 1, 2, 3, 4]);
        each!(store, |s| {
            assert!(s.delete("user:03").unwrap());
            assert!(!s.delete("user:03").unwrap(), "deleting twice finds nothing");
            assert!(s.delete_row(1).unwrap());
            let mut batch = Batch::new();
            batch.put("user:50", "id: 50").delete("user:04").put_value("v", &Value::from(3));
            s.batch(&batch).unwrap();
            let prefix: Vec<String> =
                s.scan_prefix("user:0").map(|r| r.unwrap().0.to_string()).collect();
            assert_eq!(
                prefix,
                [
                    "user:00", "user:01", "user:02", "user:05", "user:06", "user:07", "user:08",
                    "user:09"
                ]
            );
            let range: Vec<String> = s
                .scan_range(Bound::Included("user:38"), Bound::Excluded("user:50"))
                .map(|r| r.unwrap().0.to_string())
                .collect();
            assert_eq!(range, ["user:38", "user:39"]);
            assert_eq!(s.scan().count(), 40 - 2 + 1 + 1 + 1);
            let stats = s.stats();
            assert_eq!((stats.keys, stats.rows), (41, 4));
            assert!(stats.segments > 1, "small segments rotate: {stats:?}");
            s.close().unwrap();
            assert!(matches!(s.get("config"), Err(Error::Closed)));
        });
        drop(store);

        let store = open();
        assert_eq!(store.get("user:50").unwrap().as_deref(), Some("id: 50"));
        assert_eq!(store.get("user:04").unwrap(), None);
        each!(store, |s| {
            assert_eq!(s.get_row(1).unwrap(), None);
            assert_eq!(s.get_row(4).unwrap().as_deref(), Some("n: 4"));
            assert_eq!(s.append("n: 5").unwrap(), 5, "row ids continue after reopening");
            let rows: Vec<(u64, String)> = s.scan_rows().map(Result::unwrap).collect();
            let expected = [0, 2, 3, 4, 5].map(|id| (id, format!("n: {id}")));
            assert_eq!(rows, expected, "rows in id order, the deleted one left out");
            let value = s.get_value("user:10").unwrap().unwrap();
            assert_eq!(value.get("name"), Some(&Value::from("User 10")));
            assert!(
                std::sync::Arc::ptr_eq(&value, &s.get_value("user:10").unwrap().unwrap()),
                "cached"
            );
            assert_eq!(s.stats().cache_hits, 1);
            assert_eq!(s.stats().keys, 41);
            s.close().unwrap();
        });
    });
}

#[test]
fn documents_are_stored_in_canonical_form() {
    let store = Store::open(MemoryStorage::new(), Options::default()).unwrap();
    store.put("k", "# a comment\nb:   \"plain\"\nn: 1.50\nlist[2]: x,y\n").unwrap();
    assert_eq!(store.get("k").unwrap().as_deref(), Some("b: plain\nn: 1.5\nlist[2]: x,y"));
    let value = toon::decode("rows[2]{a,b}:\n  1,2\n  3,4").unwrap();
    store.put_value("v", &value).unwrap();
    assert_eq!(*store.get_value("v").unwrap().unwrap(), value);
}

#[test]
fn compaction_reclaims_replaced_and_deleted_documents() {
    let memory = MemoryStorage::new();
    let store = Store::open(memory.clone(), small()).unwrap();
    let doc = |i: usize| format!("id: {i}\ntext: \"{}\"", "x".repeat(100));
    for round in 0..5 {
        for i in 0..30 {
            store.put(&format!("k{i}"), &doc(i + round)).unwrap();
        }
    }
    for i in 20..30 {
        store.delete(&format!("k{i}")).unwrap();
    }
    let before = store.stats();
    let report = store.compact().unwrap();
    let after = store.stats();
    assert_eq!(report.disk_bytes_before, before.disk_bytes);
    assert!(report.reclaimed_bytes > before.disk_bytes / 2, "{report:?}");
    // What is left besides live documents and keys is the frames and tables of the records
    // compaction wrote them in (batches: less than a frame per document).
    assert!(after.garbage_bytes < 33 * (after.keys + after.rows), "{after:?}");
    for i in 0..20 {
        assert_eq!(
            store.get(&format!("k{i}")).unwrap(),
            Some(toon::encode(&toon::decode(&doc(i + 4)).unwrap()))
        );
    }
    assert_eq!(store.get("k25").unwrap(), None);
    store.put("after", "x: 1").unwrap();
    store.close().unwrap();
    drop(store);
    let reopened = Store::open(memory, small()).unwrap();
    assert_eq!(reopened.stats().keys, 21);
    assert_eq!(reopened.get("k3").unwrap(), Some(toon::encode(&toon::decode(&doc(7)).unwrap())));
    assert_eq!(reopened.get("after").unwrap().as_deref(), Some("x: 1"));
}

#[test]
fn immediate_durability_writes_zeros_ahead_and_trims_them() {
    let storage = MemoryStorage::new();
    let options = Options { durability: toonstore::store::Durability::Immediate, ..small() };
    let segment_len = |storage: &MemoryStorage| {
        let name = storage.list().unwrap().into_iter().find(|n| n.starts_with("seg-")).unwrap();
        storage.open(&name, toonstore::io::OpenMode::Existing).unwrap().len().unwrap()
    };
    let store = Store::open(storage.clone(), options.clone()).unwrap();
    store.put("a", "n: 1").unwrap();
    let with_zeros = segment_len(&storage);
    assert_eq!(with_zeros, 2048, "zeros written ahead up to the segment's size");
    // Dropped without close: the zeros stay in the file, as after a crash.
    drop(store);
    let store = Store::open(storage.clone(), options).unwrap();
    assert_eq!(store.stats().recovered_tail_bytes, 0, "zeros ahead are not a torn record");
    assert_eq!(store.get("a").unwrap().as_deref(), Some("n: 1"));
    let trimmed = segment_len(&storage);
    assert!(trimmed < with_zeros, "reopening cut the zeros off ({trimmed} bytes left)");
    store.put("b", "n: 2").unwrap();
    store.close().unwrap();
    assert!(segment_len(&storage) < with_zeros, "closing trims them");
}

/// Every file's name and bytes, to show an operation changed nothing.
fn snapshot(storage: &MemoryStorage) -> Vec<(String, Vec<u8>)> {
    let mut names = storage.list().unwrap();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let file = storage.open(&name, toonstore::io::OpenMode::ReadOnly).unwrap();
            let bytes = file.read_vec_at(0, file.len().unwrap() as usize).unwrap();
            (name, bytes)
        })
        .collect()
}

#[test]
fn a_read_only_store_reads_and_changes_nothing() {
    let read_only = Options { read_only: true, ..small() };
    let empty = MemoryStorage::new();
    let missing = Store::open(empty.clone(), read_only.clone()).unwrap_err();
    assert!(missing.to_string().contains("no store here"), "{missing}");
    assert!(empty.list().unwrap().is_empty(), "a read-only open created files");

    let storage = MemoryStorage::new();
    let writer = Store::open(storage.clone(), small()).unwrap();
    for i in 0..40 {
        writer.put(&format!("k{i:02}"), &format!("n: {i}")).unwrap();
    }
    writer.append("event: one").unwrap();
    writer.sync().unwrap();
    // Beside the writer (no lock taken), and with a torn record at the end of the log.
    let active = storage.list().unwrap().into_iter().filter(|n| n.starts_with("seg-")).max();
    let active = storage.open(&active.unwrap(), toonstore::io::OpenMode::Existing).unwrap();
    let end = active.len().unwrap();
    active.write_at(end, &[0x55; 9]).unwrap();
    let before = snapshot(&storage);

    let reader = Store::open(storage.clone(), read_only).unwrap();
    assert_eq!(reader.get("k07").unwrap().as_deref(), Some("n: 7"));
    assert_eq!(reader.get_row(0).unwrap().as_deref(), Some("event: one"));
    assert_eq!(reader.scan().count(), 40);
    assert_eq!(reader.stats().recovered_tail_bytes, 9, "the torn tail is seen");
    assert!(matches!(reader.put("x", "a: 1"), Err(Error::ReadOnly)));
    assert!(matches!(reader.append("a: 1"), Err(Error::ReadOnly)));
    assert!(matches!(reader.delete("k01"), Err(Error::ReadOnly)));
    assert!(matches!(reader.compact(), Err(Error::ReadOnly)));
    reader.sync().unwrap();
    reader.close().unwrap();
    assert!(snapshot(&storage) == before, "a read-only store changed a file");
    drop(writer);
}

#[test]
fn the_next_sequence_grows_with_every_write_and_survives_reopening() {
    // The browser package gives it to change events as their version: it must never repeat.
    let memory = MemoryStorage::new();
    let store = Store::open(memory.clone(), small()).unwrap();
    let mut seen = vec![store.next_sequence()];
    store.put("a", "n: 1").unwrap();
    seen.push(store.next_sequence());
    store.batch(Batch::new().put("b", "n: 2").delete("a")).unwrap();
    seen.push(store.next_sequence());
    store.append("n: 3").unwrap();
    seen.push(store.next_sequence());
    store.close().unwrap();
    let store = Store::open(memory.clone(), small()).unwrap();
    seen.push(store.next_sequence());
    store.put("c", "n: 4").unwrap();
    seen.push(store.next_sequence());
    // Every write takes a new number; a reopen goes on from where the files reached.
    let grew = |from: usize| seen[from] < seen[from + 1];
    assert!(grew(0) && grew(1) && grew(2) && seen[3] <= seen[4] && grew(4), "{seen:?}");
    store.close().unwrap();
    let last = Store::open(memory.clone(), small()).unwrap().next_sequence();
    let read_only = Store::open(memory, Options { read_only: true, ..small() }).unwrap();
    assert_eq!(read_only.next_sequence(), last);
}
