//! Row ids only grow and never wrap: deleting a row that was never assigned changes
//! nothing, and no reopen (with or without an index snapshot) brings ids back to 0 or onto
//! rows that exist.

use toonstore::io::MemoryStorage;
use toonstore::store::{Options, Store};

/// Review finding A8: `delete_row` of a huge id wrote a record that a replay turned into the
/// next row id: a panic at open in debug builds, or ids wrapping onto existing rows.
#[test]
fn deleting_an_unassigned_row_never_moves_or_wraps_row_ids() {
    for huge in [u64::MAX, u64::MAX - 1, 1 << 40] {
        let storage = MemoryStorage::new();
        let store = Store::open(storage.clone(), Options::default()).unwrap();
        assert_eq!(store.append("n: 0").unwrap(), 0);
        assert!(!store.delete_row(huge).unwrap(), "row {huge} was never assigned");
        store.sync().unwrap();
        std::mem::forget(store); // no hint: the reopen replays the log
        let store = Store::open(storage.clone(), Options::default()).unwrap();
        let first = store.append("n: 1").unwrap();
        let second = store.append("n: 2").unwrap();
        assert_eq!((first, second), (1, 2), "after delete_row({huge})");
        assert_eq!(store.get_row(0).unwrap().as_deref(), Some("n: 0"), "row 0 kept");
    }
}
