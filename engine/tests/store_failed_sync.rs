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
