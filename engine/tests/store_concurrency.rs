//! One writer at a time, readers in parallel: a store is `Send + Sync`; readers never see
//! a torn or foreign document while writers and a compaction run; concurrent `Immediate`
//! writers all land; a second writer on the same directory gets `Locked`, a read-only
//! open does not.

use std::sync::Arc;
use std::thread;

use toonstore::io::fault::FaultyStorage;
use toonstore::io::{MemoryStorage, MmapStorage};
use toonstore::store::{Durability, Error, Options, Store};

fn assert_send_sync<T: Send + Sync>() {}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("toonstore-conc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn stores_are_send_and_sync() {
    assert_send_sync::<Store<MemoryStorage>>();
    assert_send_sync::<Store<MmapStorage>>();
}

#[test]
fn readers_see_whole_documents_while_writers_and_compaction_run() {
    let options = Options { segment_bytes: 4096, ..Options::default() };
    let store = Arc::new(Store::open(MemoryStorage::new(), options).unwrap());
    for k in 0..20 {
        store.put(&format!("k{k}"), &format!("key: k{k}\nversion: 0")).unwrap();
    }
    let writer = {
        let store = store.clone();
        thread::spawn(move || {
            for version in 1..=60 {
                for k in 0..20 {
                    store.put(&format!("k{k}"), &format!("key: k{k}\nversion: {version}")).unwrap();
                }
                if version % 20 == 0 {
                    store.compact().unwrap();
                }
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let store = store.clone();
            thread::spawn(move || {
                let mut last = [0i64; 20];
                for round in 0..400 {
                    let k = (round * 7 + r) % 20;
                    let value = store.get_value(&format!("k{k}")).unwrap().expect("never missing");
                    assert_eq!(
                        value.get("key").and_then(|v| v.as_str()),
                        Some(format!("k{k}").as_str())
                    );
                    let version =
                        value.get("version").and_then(|v| v.as_number()).unwrap().as_i64().unwrap();
                    assert!(version >= last[k], "versions never go back for one reader");
                    last[k] = version;
                    if round % 50 == 0 {
                        assert_eq!(store.scan().filter(|e| e.is_ok()).count(), 20);
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(store.get("k3").unwrap().as_deref(), Some("key: k3\nversion: 60"));
}

#[test]
fn concurrent_immediate_writers_all_land() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let options = Options { durability: Durability::Immediate, ..Options::default() };
    let store = Arc::new(Store::open(storage.clone(), options.clone()).unwrap());
    let before = storage.operations();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                for i in 0..25 {
                    store.put(&format!("t{t}-{i}"), &format!("thread: {t}\ni: {i}")).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // 200 writes and at most one sync each (waiters share a sync; how much they share is
    // measured in benches/, not asserted here).
    let operations = storage.operations() - before;
    assert!(operations <= 400, "{operations} operations for 200 writes");
    // A power cut now: every acknowledged write is in the durable image.
    let image = storage.durable_image();
    std::mem::forget(store);
    let reopened = Store::open(image, options).unwrap();
    for t in 0..8 {
        for i in 0..25 {
            let text = reopened.get(&format!("t{t}-{i}")).unwrap();
            assert_eq!(text, Some(format!("thread: {t}\ni: {i}")));
        }
    }
}

#[test]
fn a_second_writer_on_a_directory_is_locked_out() {
    let dir = temp_dir("lock");
    let first = Store::open_dir(&dir, Options::default()).unwrap();
    first.put("k", "a: 1").unwrap();
    assert!(matches!(Store::open_dir(&dir, Options::default()), Err(Error::Locked)));
    // Readers are not writers: a read-only open works beside the writer and sees what it
    // had written when the reader opened.
    first.sync().unwrap();
    let reader = Store::open_dir(&dir, Options { read_only: true, ..Options::default() }).unwrap();
    first.put("later", "b: 2").unwrap();
    assert_eq!(reader.get("k").unwrap().as_deref(), Some("a: 1"));
    assert_eq!(reader.get("later").unwrap(), None);
    reader.close().unwrap();
    first.close().unwrap();
    drop(first);
    let second = Store::open_dir(&dir, Options::default()).expect("free once the first is gone");
    assert_eq!(second.get("k").unwrap().as_deref(), Some("a: 1"));
    drop(second);
    std::fs::remove_dir_all(&dir).unwrap();
}
