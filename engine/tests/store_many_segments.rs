//! A store holds any number of segments: small segments and many writes never meet a limit
//! of the manifest, and the store reopens with everything in it.

use toonstore::io::MemoryStorage;
use toonstore::store::{Options, Store};

/// Review finding A9: the manifest listed at most 505 segments, reachable with valid
/// options; the rotation past it failed and poisoned the store on every fill.
#[test]
fn thousands_of_segments_rotate_and_reopen() {
    let storage = MemoryStorage::new();
    let options = Options { segment_bytes: 4096, ..Options::default() };
    let store = Store::open(storage.clone(), options.clone()).unwrap();
    let text = format!("text: {}", "y".repeat(1000));
    for i in 0..3000 {
        store.put(&format!("k{i}"), &text).unwrap_or_else(|e| panic!("put {i}: {e}"));
    }
    assert!(store.stats().segments >= 1000, "{:?}", store.stats());
    store.close().unwrap();
    drop(store);
    let store = Store::open(storage, options).unwrap();
    assert_eq!(store.stats().keys, 3000);
    assert_eq!(store.get("k2999").unwrap(), Some(text));
}
