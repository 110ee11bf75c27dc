//! Bad input is refused with a clear error and leaves the store as it was: oversize value
//! or key, invalid TOON (with line and column), a full store, a closed store, a file of an
//! unknown format version.

use toonstore::io::{File, MemoryStorage, OpenMode, Storage};
use toonstore::store::{Batch, Error, MAX_KEY_BYTES, Options, Store};

fn small_store(storage: &MemoryStorage) -> Store<MemoryStorage> {
    let options = Options {
        max_value_bytes: 100,
        max_store_bytes: 4096,
        segment_bytes: 1024,
        ..Options::default()
    };
    Store::open(storage.clone(), options).unwrap()
}

#[test]
fn each_bad_input_is_a_clear_error_and_changes_nothing() {
    let storage = MemoryStorage::new();
    let store = small_store(&storage);
    store.put("keep", "a: 1").unwrap();
    let before = storage.snapshot();

    let big = format!("text: \"{}\"", "x".repeat(200));
    assert!(matches!(
        store.put("k", &big),
        Err(Error::TooLarge { what: "document", limit: 100, .. })
    ));
    assert!(matches!(store.append(&big), Err(Error::TooLarge { .. })));
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    assert!(matches!(store.put(&long_key, "a: 1"), Err(Error::TooLarge { what: "key", .. })));
    assert!(matches!(store.put("", "a: 1"), Err(Error::InvalidKey(_))));
    match store.put("k", "a: 1\nb[3]: x,y") {
        Err(Error::InvalidDocument(e)) => assert_eq!((e.line, e.column), (2, 1), "{e}"),
        other => panic!("expected an invalid document, got {other:?}"),
    }
    let mut batch = Batch::new();
    batch.put("one", "a: 1").put("two", "broken: \"");
    assert!(
        matches!(store.batch(&batch), Err(Error::InvalidDocument(_))),
        "one bad op refuses the batch"
    );
    assert_eq!(storage.snapshot(), before, "refused writes leave every byte as it was");
    assert_eq!(store.get("one").unwrap(), None);

    let mut written = 0;
    let full = loop {
        match store
            .put(&format!("fill-{written}"), "text: \"0123456789012345678901234567890123456789\"")
        {
            Ok(()) => written += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(full, Error::StoreFull { limit: 4096, .. }), "{full}");
    assert!(written > 10);
    assert_eq!(store.get("keep").unwrap().as_deref(), Some("a: 1"), "a full store still reads");
    // Deletes are always taken, so a full store can be emptied and compacted.
    for i in 0..written {
        assert!(store.delete(&format!("fill-{i}")).unwrap());
    }
    let report = store.compact().unwrap();
    assert!(report.reclaimed_bytes > 0);
    store.put("after", "b: 2").expect("room again after compaction");
}

#[test]
fn a_closed_store_refuses_every_call() {
    let store = Store::open(MemoryStorage::new(), Options::default()).unwrap();
    store.put("k", "a: 1").unwrap();
    store.close().unwrap();
    assert!(matches!(store.put("k", "a: 2"), Err(Error::Closed)));
    assert!(matches!(store.get("k"), Err(Error::Closed)));
    assert!(matches!(store.append("a: 1"), Err(Error::Closed)));
    assert!(matches!(store.sync(), Err(Error::Closed)));
    assert!(matches!(store.compact(), Err(Error::Closed)));
    assert!(matches!(store.close(), Err(Error::Closed)));
    assert!(matches!(store.scan().next(), Some(Err(Error::Closed))));
}

#[test]
fn files_of_an_unknown_format_version_are_refused_untouched() {
    let storage = MemoryStorage::new();
    let store = Store::open(storage.clone(), Options::default()).unwrap();
    store.put("k", "a: 1").unwrap();
    store.close().unwrap();
    drop(store);
    let segment = storage.list().unwrap().into_iter().find(|n| n.starts_with("seg-")).unwrap();
    let file = storage.open(&segment, OpenMode::Existing).unwrap();
    let mut header = [0; 32];
    file.read_at(0, &mut header).unwrap();
    header[8] = 3; // version 3
    let crc = crc32c(&header[..28]);
    header[28..].copy_from_slice(&crc.to_le_bytes());
    file.write_at(0, &header).unwrap();
    let before = storage.snapshot();
    match Store::open(storage.clone(), Options::default()) {
        Err(Error::UnsupportedVersion { file, version: 3 }) => assert_eq!(file, segment),
        other => panic!("expected an unsupported version, got {other:?}"),
    }
    assert_eq!(storage.snapshot(), before, "a refused open writes nothing");
}

/// CRC32C (Castagnoli), bitwise: the test forges a header without the engine's helpers.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// Review finding B6: a read-only open of a creation a crash interrupted (an empty first
/// segment, no manifest) went on to create the store through a read-only handle and failed
/// with the platform's error, instead of saying there is no store.
#[test]
fn a_read_only_open_of_an_interrupted_creation_finds_no_store() {
    let storage = MemoryStorage::new();
    let store = Store::open(storage.clone(), Options::default()).unwrap();
    store.close().unwrap();
    drop(store);
    // What a crash in the first manifest commit leaves: segment 1 and a torn MANIFEST.
    let manifest = storage.open("MANIFEST", OpenMode::Existing).unwrap();
    manifest.set_len(0).unwrap();
    manifest.write_at(4096, b"TOONMAN\0torn").unwrap();
    let segment = storage.list().unwrap().into_iter().find(|n| n.starts_with("seg-")).unwrap();
    storage.open(&segment, OpenMode::Existing).unwrap().set_len(32).unwrap();
    for name in storage.list().unwrap().into_iter().filter(|n| n.starts_with("hint-")) {
        storage.remove(&name).unwrap();
    }
    let before = storage.snapshot();
    let error = Store::open(storage.clone(), Options { read_only: true, ..Options::default() })
        .expect_err("there is no store to read");
    assert!(error.to_string().contains("no store here"), "{error}");
    assert_eq!(storage.snapshot(), before, "a read-only open changed files");
}
