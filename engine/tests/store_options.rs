//! Options are checked when a store opens: a value no store can work with (zero sizes, a
//! segment or document larger than the format allows) is refused with `InvalidOption`
//! naming it, before any file is touched.

use toonstore::io::{MemoryStorage, Storage};
use toonstore::store::{Error, Options, Store};

#[test]
fn options_no_store_can_work_with_are_refused_before_anything_is_written() {
    let cases: [(&str, Options); 6] = [
        ("segment_bytes", Options { segment_bytes: 0, ..Options::default() }),
        ("segment_bytes", Options { segment_bytes: 100, ..Options::default() }),
        ("segment_bytes", Options { segment_bytes: 1 << 40, ..Options::default() }),
        ("max_value_bytes", Options { max_value_bytes: 0, ..Options::default() }),
        ("max_value_bytes", Options { max_value_bytes: 1 << 32, ..Options::default() }),
        ("max_store_bytes", Options { max_store_bytes: 0, ..Options::default() }),
    ];
    for (name, options) in cases {
        let storage = MemoryStorage::new();
        match Store::open(storage.clone(), options.clone()) {
            Err(Error::InvalidOption { option, .. }) => assert_eq!(option, name, "{options:?}"),
            other => panic!("{options:?}: expected InvalidOption, got {other:?}"),
        }
        assert!(storage.list().unwrap().is_empty(), "{name}: a refused open wrote files");
    }
}
