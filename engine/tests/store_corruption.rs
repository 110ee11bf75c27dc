//! Random byte flips in segment, hint and manifest files give `Corrupted` (at open or at
//! the read that meets them) or a clean recovery: never a panic, and never a wrong value.

use std::collections::BTreeMap;

use toonstore::io::MemoryStorage;
use toonstore::store::{Error, Options, Store};

fn options() -> Options {
    Options { segment_bytes: 1500, ..Options::default() }
}

/// A store with sealed segments, an active one, a hint and a manifest; and its contents.
fn build() -> (MemoryStorage, BTreeMap<String, String>) {
    let storage = MemoryStorage::new();
    let store = Store::open(storage.clone(), options()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..60 {
        let key = format!("key-{:02}", i % 40);
        let text = format!("n: {i}\nwords[3]: alpha,beta,\"gamma {i}\"");
        store.put(&key, &text).unwrap();
        model.insert(key.clone(), store.get(&key).unwrap().unwrap());
    }
    store.delete("key-05").unwrap();
    model.remove("key-05");
    store.close().unwrap();
    drop(store);
    // Writes after the hint, so the replay of the active tail is exercised too.
    let store = Store::open(storage.clone(), options()).unwrap();
    store.put("late", "x: 1").unwrap();
    model.insert("late".into(), "x: 1".into());
    store.sync().unwrap();
    std::mem::forget(store);
    (storage, model)
}

#[test]
fn flipped_bytes_are_reported_or_recovered_never_returned() {
    let (storage, model) = build();
    let pristine = storage.snapshot();
    let mut names: Vec<&String> = pristine.keys().collect();
    names.sort();
    assert!(names.iter().any(|n| n.starts_with("hint-")), "{names:?}");
    assert!(names.iter().filter(|n| n.starts_with("seg-")).count() > 2, "{names:?}");
    let mut rng = fastrand::Rng::with_seed(99);
    let (mut refused, mut recovered, mut damaged_reads) = (0, 0, 0);
    for _ in 0..1500 {
        let name = names[rng.usize(..names.len())];
        let mut files = pristine.clone();
        let bytes = files.get_mut(name.as_str()).unwrap();
        if bytes.is_empty() {
            continue;
        }
        let at = rng.usize(..bytes.len());
        bytes[at] ^= 1 << rng.u32(..8);
        let store = match Store::open(MemoryStorage::from_snapshot(files), options()) {
            Ok(store) => store,
            Err(Error::Corrupted { .. } | Error::UnsupportedVersion { .. }) => {
                refused += 1;
                continue;
            }
            Err(other) => panic!("flip in {name} at {at}: unexpected error {other}"),
        };
        recovered += 1;
        for (key, text) in &model {
            match store.get(key) {
                Ok(Some(found)) => {
                    assert_eq!(&found, text, "flip in {name} at {at}: wrong value for {key}")
                }
                // A recovery that cut the active segment's tail loses what followed.
                Ok(None) => {}
                Err(Error::Corrupted { .. }) => damaged_reads += 1,
                Err(other) => panic!("flip in {name} at {at}: {other}"),
            }
        }
        for entry in store.scan() {
            match entry {
                Ok((key, text)) => {
                    assert_eq!(model.get(key.as_str()), Some(&text), "flip in {name} at {at}")
                }
                Err(Error::Corrupted { .. }) => {}
                Err(other) => panic!("flip in {name} at {at}: {other}"),
            }
        }
    }
    println!(
        "{refused} refused at open, {recovered} recovered, {damaged_reads} reads reported damage"
    );
    assert!(refused > 0 && recovered > 0);
}
