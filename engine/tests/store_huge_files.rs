//! Files of any size, however damaged, never make an open allocate what they claim: a
//! segment or hint grown (sparse) to a terabyte is refused or read in bounded pieces, with
//! no abort. (Its own test binary: an allocation failure aborts every test beside it.)

use std::fs::OpenOptions;

use toonstore::io::StdStorage;
use toonstore::store::{Error, Options, Store};

/// Review finding B1: the replay read a segment's whole rest into one vector and a hint
/// whole, so a huge (sparse or damaged) file was an out-of-memory abort instead of an error.
#[cfg(unix)]
#[test]
fn a_terabyte_segment_or_hint_is_refused_or_read_in_pieces() {
    for kind in ["seg-", "hint-"] {
        let dir = std::env::temp_dir().join(format!("toonstore-huge-{kind}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(StdStorage::open_dir(&dir).unwrap(), Options::default()).unwrap();
        store.put("k", "n: 1").unwrap();
        store.close().unwrap();
        drop(store);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(kind))
            .collect();
        names.sort();
        let file = OpenOptions::new().write(true).open(dir.join(names.last().unwrap())).unwrap();
        file.set_len(1 << 40).unwrap();
        match Store::open(StdStorage::open_dir(&dir).unwrap(), Options::default()) {
            Ok(store) => assert_eq!(store.get("k").unwrap().as_deref(), Some("n: 1"), "{kind}"),
            Err(Error::Corrupted { .. }) => assert_eq!(kind, "seg-", "a hint is only a shortcut"),
            Err(other) => panic!("{kind}: {other}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
