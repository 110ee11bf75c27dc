//! `close()` ends a store: it releases the directory's writer lock at once (the same
//! process can open the store again while the closed value still lives), and nothing runs
//! on a closed store, not even a compaction that started waiting before the close.

use std::sync::Arc;
use std::thread;

use toonstore::io::MemoryStorage;
use toonstore::store::{Error, Options, Store};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("toonstore-close-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// From the issue: after `close()` the same process could not open the directory again
/// (`Locked`) until the `Store` value was dropped.
#[test]
fn close_releases_the_writer_lock() {
    let dir = temp_dir("lock");
    let first = Store::open_dir(&dir, Options::default()).unwrap();
    first.put("k", "n: 1").unwrap();
    first.close().unwrap();
    let second = Store::open_dir(&dir, Options::default()).expect("the lock is released");
    assert_eq!(second.get("k").unwrap().as_deref(), Some("n: 1"));
    assert!(matches!(Store::open_dir(&dir, Options::default()), Err(Error::Locked)));
    drop(first);
    second.close().unwrap();
    drop(second);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Review finding B5: `compact()` checked for a closed store before taking the writer lock
/// only, so one that waited for the lock while another thread closed the store rewrote the
/// manifest afterwards.
#[test]
fn a_compaction_racing_close_never_runs_on_the_closed_store() {
    for round in 0..300 {
        let storage = MemoryStorage::new();
        let store = Arc::new(Store::open(storage.clone(), Options::default()).unwrap());
        for i in 0..20 {
            store.put(&format!("k{i}"), "text: some document").unwrap();
        }
        let compactor = {
            let store = store.clone();
            thread::spawn(move || store.compact())
        };
        store.close().unwrap();
        let after_close = storage.snapshot();
        // Before the close (and then done by the time close returns) or refused.
        match compactor.join().unwrap() {
            Ok(_) | Err(Error::Closed) => {}
            Err(other) => panic!("round {round}: {other}"),
        }
        assert!(storage.snapshot() == after_close, "round {round}: files changed after close");
    }
}
