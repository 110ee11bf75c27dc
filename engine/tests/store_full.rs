//! A full disk or quota is not a crash: the write that meets it fails with `StoreFull`
//! (with real sizes), every write acknowledged before it stays readable and becomes durable
//! once there is room, nothing is retried or written after the store is poisoned, refused
//! writes use up nothing, and deletes plus `compact()` give space back on a full store.

use toonstore::io::MemoryStorage;
use toonstore::io::fault::{CallKind, FaultyStorage};
use toonstore::store::{Durability, Error, Options, Store};

type Faulty = FaultyStorage<MemoryStorage>;

fn document(i: usize) -> String {
    format!("id: {i}\ntext: \"{}\"", "words and more words ".repeat(48))
}

fn read_only() -> Options {
    Options { read_only: true, ..Options::default() }
}

/// Puts documents until one fails; returns the keys acknowledged and the error.
fn fill(store: &Store<Faulty>, from: usize) -> (Vec<usize>, usize, Error) {
    let mut acknowledged = Vec::new();
    for i in from.. {
        match store.put(&format!("k{i:05}"), &document(i)) {
            Ok(()) => acknowledged.push(i),
            Err(e) => return (acknowledged, i, e),
        }
    }
    unreachable!()
}

fn assert_real_sizes(error: &Error) {
    let message = error.to_string();
    assert!(matches!(error, Error::StoreFull { .. }), "{message}");
    if let Error::StoreFull { size, limit, .. } = error {
        assert!(*size > *limit, "{message}");
    }
    assert!(!message.contains("limit of 0"), "{message}");
}

/// Review finding A5: a quota met by an `Eventual` flush poisoned the store and lost every
/// acknowledged write still in the buffer, without any crash.
#[test]
fn writes_acknowledged_before_a_full_disk_stay_readable_and_become_durable() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let store = Store::open(storage.clone(), Options::default()).unwrap();
    storage.set_space(Some(storage.used() + 300_000));
    let (acknowledged, failed, error) = fill(&store, 0);
    assert_real_sizes(&error);
    assert!(acknowledged.len() > 100, "{} puts before the quota", acknowledged.len());
    for &i in &acknowledged {
        assert_eq!(store.get(&format!("k{i:05}")).unwrap(), Some(document(i)), "k{i:05}");
    }
    assert_eq!(store.get(&format!("k{failed:05}")).unwrap(), None, "the refused put");
    assert!(matches!(store.sync(), Err(Error::StoreFull { .. })), "no room to sync yet");
    storage.set_space(None);
    store.sync().expect("room again: the acknowledged writes become durable");
    let image = Store::open(storage.durable_image(), read_only()).unwrap();
    for &i in &acknowledged {
        assert!(image.get(&format!("k{i:05}")).unwrap().is_some(), "k{i:05} after the sync");
    }
    assert_eq!(image.get(&format!("k{failed:05}")).unwrap(), None, "a refused put never lands");
    store.put("after", "room: true").unwrap();
    store.close().unwrap();
}

/// Review finding A5, `Immediate`: the zeros written ahead of the log met the quota, so a
/// put whose record was on disk failed, poisoned the store and came back after a reopen.
#[test]
fn zeros_written_ahead_never_fail_a_put_nor_bring_back_a_refused_one() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let options = Options { durability: Durability::Immediate, ..Options::default() };
    let store = Store::open(storage.clone(), options.clone()).unwrap();
    storage.set_space(Some(storage.used() + 20_000));
    store.put("a", "n: 1").expect("zeros ahead of the log are best effort");
    let (acknowledged, failed, error) = fill(&store, 0);
    assert_real_sizes(&error);
    std::mem::forget(store);
    let reopened = Store::open(storage.durable_image(), read_only()).unwrap();
    assert_eq!(reopened.get("a").unwrap().as_deref(), Some("n: 1"));
    for &i in &acknowledged {
        assert!(reopened.get(&format!("k{i:05}")).unwrap().is_some(), "k{i:05}");
    }
    assert_eq!(reopened.get(&format!("k{failed:05}")).unwrap(), None, "the refused put came back");
}

/// Review finding A4: after a failed write poisoned the store, a read retried the failed
/// write, so a put that had returned an error landed.
#[test]
fn a_poisoned_store_writes_nothing_more_and_a_failed_put_never_lands() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let store = Store::open(storage.clone(), Options::default()).unwrap();
    store.put("a", "n: 1").unwrap();
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut failed_once = false;
    let counter = writes.clone();
    storage.set_fault(move |call| match call.kind {
        CallKind::Write if !failed_once => {
            failed_once = true;
            Some(std::io::ErrorKind::Other)
        }
        kind if kind.mutates() => {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            None
        }
        _ => None,
    });
    // Large enough to fill the write buffer: the put's own flush fails.
    let big = format!("text: \"{}\"", "x".repeat(70_000));
    assert!(store.put("b", &big).is_err());
    match store.get("a") {
        Ok(found) => assert_eq!(found.as_deref(), Some("n: 1"), "a read of what is known good"),
        Err(e) => assert!(matches!(e, Error::Poisoned), "{e}"),
    }
    assert!(matches!(store.get("b"), Ok(None) | Err(Error::Poisoned)));
    assert!(matches!(store.put("c", "n: 3"), Err(Error::Poisoned)));
    assert!(matches!(store.sync(), Err(Error::Poisoned)));
    let _ = store.close();
    drop(store);
    assert_eq!(
        writes.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "bytes reached storage after poisoning"
    );
    storage.clear_fault();
    let reopened = Store::open(storage.clone(), Options::default()).unwrap();
    assert_eq!(reopened.get("b").unwrap(), None, "the failed put landed");
}

/// Review finding B7: a write refused for lack of room still used up a row id.
#[test]
fn refused_writes_use_up_no_row_id() {
    let options = Options { max_store_bytes: 8192, segment_bytes: 2048, ..Options::default() };
    let store = Store::open(MemoryStorage::new(), options).unwrap();
    let mut last = None;
    let error = loop {
        match store.append("text: filling the store up to its limit") {
            Ok(id) => last = Some(id),
            Err(e) => break e,
        }
    };
    assert!(matches!(error, Error::StoreFull { .. }), "{error}");
    let last = last.expect("some appends fit");
    for _ in 0..3 {
        assert!(matches!(
            store.append("text: filling the store up to its limit"),
            Err(Error::StoreFull { .. })
        ));
    }
    for id in 0..=last {
        assert!(store.delete_row(id).unwrap());
    }
    store.compact().unwrap();
    assert_eq!(store.append("n: 1").unwrap(), last + 1, "refused appends took row ids");
}

/// From the issue: a store whose creation met a host quota said "store full: 0 bytes would
/// pass the limit of 0" and left an empty MANIFEST behind.
#[test]
fn a_creation_that_meets_a_quota_says_so_and_can_be_retried() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    storage.set_space(Some(100));
    let error = Store::open(storage.clone(), Options::default()).unwrap_err();
    assert_real_sizes(&error);
    storage.set_space(None);
    let store = Store::open(storage.clone(), Options::default()).expect("a retry with room");
    store.put("k", "n: 1").unwrap();
    store.close().unwrap();
}

/// Deletes and `compact()` on a store that met its quota give the space back.
#[test]
fn deletes_and_compaction_free_space_on_a_full_store() {
    for durability in [Durability::Eventual, Durability::Immediate] {
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        let options = Options { durability, segment_bytes: 16 << 10, ..Options::default() };
        let store = Store::open(storage.clone(), options.clone()).unwrap();
        storage.set_space(Some(storage.used() + 400_000));
        let (acknowledged, _, error) = fill(&store, 0);
        assert_real_sizes(&error);
        let full = storage.used();
        let (kept, deleted) = acknowledged.split_at(acknowledged.len() - 5);
        let (kept, deleted) = (deleted.to_vec(), kept.to_vec());
        for &i in &deleted {
            assert!(store.delete(&format!("k{i:05}")).unwrap(), "{durability:?}: delete k{i:05}");
        }
        store.compact().expect("compaction on a full store");
        assert!(
            storage.used() < full / 2,
            "{durability:?}: {} of {full} bytes left",
            storage.used()
        );
        store.put("after", "room: true").expect("room again");
        store.close().unwrap();
        drop(store);
        let reopened = Store::open(storage.clone(), options).unwrap();
        for &i in &kept {
            assert_eq!(reopened.get(&format!("k{i:05}")).unwrap(), Some(document(i)));
        }
        for &i in &deleted {
            assert_eq!(reopened.get(&format!("k{i:05}")).unwrap(), None);
        }
        assert!(reopened.get("after").unwrap().is_some());
    }
}

/// The part of a refused write that a full disk took is never sealed into a segment: the
/// store closes and reopens with what was acknowledged.
#[test]
fn a_refused_write_leaves_nothing_behind_when_the_segment_is_sealed() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let options = Options { segment_bytes: 256 << 10, ..Options::default() };
    let store = Store::open(storage.clone(), options.clone()).unwrap();
    store.put("a", "n: 1").unwrap();
    storage.set_space(Some(storage.used() + 100_000));
    let big = |c: char, n: usize| format!("text: {}", c.to_string().repeat(n));
    assert!(matches!(store.put("b", &big('b', 200_000)), Err(Error::StoreFull { .. })));
    storage.set_space(None);
    store.put("c", &big('c', 300_000)).unwrap();
    store.close().unwrap();
    drop(store);
    let store = Store::open(storage, options).expect("no refused bytes were sealed");
    assert_eq!(store.get("a").unwrap().as_deref(), Some("n: 1"));
    assert_eq!(store.get("b").unwrap(), None);
    assert_eq!(store.get("c").unwrap(), Some(big('c', 300_000)));
}
