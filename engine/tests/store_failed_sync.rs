//! A failed sync poisons the store, and a reopen in the same boot does not trust the page
//! cache: Linux marks pages whose writeback failed clean while keeping their bytes, so a
//! later sync would not write them; the open writes what no sync is known to have made
//! durable again from user space and syncs it.

use std::io::ErrorKind;

use toonstore::io::MemoryStorage;
use toonstore::io::fault::{CallKind, FaultyStorage};
use toonstore::store::{Error, Options, Store};

/// Review question C1 (fsyncgate).
#[test]
fn a_reopen_after_a_failed_sync_makes_what_it_replays_durable() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let store = Store::open(storage.clone(), Options::default()).unwrap();
    store.put("synced", "n: 1").unwrap();
    store.sync().unwrap();
    store.put("unsynced", "n: 2").unwrap();
    storage.set_fault(|call| (call.kind == CallKind::Sync).then_some(ErrorKind::Other));
    assert!(matches!(store.sync(), Err(Error::Io(_))), "the failed sync is reported");
    assert!(matches!(store.put("k", "n: 3"), Err(Error::Poisoned)));
    assert!(matches!(store.sync(), Err(Error::Poisoned)), "never retried");
    storage.clear_fault();
    drop(store);
    // The same boot: the page cache (the live bytes) still has "unsynced"; the disk not.
    let reopened = Store::open(storage.clone(), Options::default()).unwrap();
    assert_eq!(reopened.get("unsynced").unwrap().as_deref(), Some("n: 2"));
    std::mem::forget(reopened); // a power cut now
    let image = Store::open(storage.durable_image(), Options::default()).unwrap();
    assert_eq!(image.get("synced").unwrap().as_deref(), Some("n: 1"));
    assert_eq!(
        image.get("unsynced").unwrap().as_deref(),
        Some("n: 2"),
        "the open trusted bytes the disk never got"
    );
}

/// The same after a clean close and reopen (then a hint covers the start of the log): an
/// open that replays records past the hint is not clean, and makes them durable.
#[test]
fn a_reopen_after_a_failed_sync_past_a_hint_makes_the_records_durable() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let store = Store::open(storage.clone(), Options::default()).unwrap();
    store.put("before", "n: 0").unwrap();
    store.close().unwrap();
    drop(store);
    let store = Store::open(storage.clone(), Options::default()).unwrap();
    store.put("x", "n: 1").unwrap();
    storage.set_fault(|call| (call.kind == CallKind::Sync).then_some(ErrorKind::Other));
    assert!(store.sync().is_err());
    storage.clear_fault();
    drop(store);
    let reopened = Store::open(storage.clone(), Options::default()).unwrap();
    assert_eq!(reopened.get("x").unwrap().as_deref(), Some("n: 1"));
    reopened.put("y", "n: 2").unwrap();
    reopened.sync().unwrap();
    std::mem::forget(reopened);
    let image = Store::open(storage.durable_image(), Options::default()).expect("no damage");
    assert_eq!(image.get("x").unwrap().as_deref(), Some("n: 1"), "x was never made durable");
    assert_eq!(image.get("y").unwrap().as_deref(), Some("n: 2"));
}

/// A sync that fails because the disk is full (delayed allocation, thin provisioning) may
/// have lost its pages like any failed sync: it poisons, it is never taken for "store full".
#[test]
fn a_sync_that_fails_for_space_poisons() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let options = Options { segment_bytes: 1024, ..Options::default() };
    let store = Store::open(storage.clone(), options).unwrap();
    store.put("a", "n: 1").unwrap();
    storage.set_fault(|call| (call.kind == CallKind::Sync).then_some(ErrorKind::StorageFull));
    // Enough to fill the segment: the rotation syncs it.
    let error = (0..40)
        .find_map(|i| store.put(&format!("k{i}"), "text: filling the segment up").err())
        .expect("a rotation met the failing sync");
    assert!(matches!(error, Error::Io(_) | Error::Poisoned), "{error}");
    storage.clear_fault();
    assert!(matches!(store.put("b", "n: 2"), Err(Error::Poisoned)));
    assert!(matches!(store.delete("a"), Err(Error::Poisoned)));
}
