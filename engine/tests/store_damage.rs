//! Damage is reported, never silently turned into loss: a damaged record in the active
//! segment followed by acknowledged ones, or a damaged newest manifest slot after a
//! rotation, makes the open fail with `Corrupted` instead of cutting the log or deleting a
//! segment; and a stale frame copied into a segment never changes what a key reads.

use toonstore::io::{File, MemoryStorage, OpenMode, Storage};
use toonstore::store::{Durability, Error, Options, Store};

fn immediate() -> Options {
    Options { durability: Durability::Immediate, ..Options::default() }
}

/// Where `needle` is in file `name`.
fn find(storage: &MemoryStorage, name: &str, needle: &[u8]) -> usize {
    let bytes = &storage.snapshot()[name];
    bytes.windows(needle.len()).position(|w| w == needle).expect("the bytes are in the file")
}

fn segments(storage: &MemoryStorage) -> Vec<String> {
    let mut names: Vec<String> =
        storage.list().unwrap().into_iter().filter(|n| n.starts_with("seg-")).collect();
    names.sort();
    names
}

fn flip(storage: &MemoryStorage, name: &str, at: usize) {
    let file = storage.open(name, OpenMode::Existing).unwrap();
    let mut byte = [0];
    file.read_at(at as u64, &mut byte).unwrap();
    file.write_at(at as u64, &[byte[0] ^ 0x04]).unwrap();
}

/// Puts documents (`text` of their number) until the store has `count` segments.
fn fill_until_segments(store: &Store<MemoryStorage>, count: u64, text: impl Fn(usize) -> String) {
    let mut i = 0;
    while store.stats().segments < count {
        store.put(&format!("fill-{i}"), &text(i)).unwrap();
        i += 1;
    }
}

/// Damages the manifest slot with the higher generation: the newest commit.
fn flip_newest_manifest_slot(storage: &MemoryStorage) {
    let manifest = storage.snapshot().remove("MANIFEST").unwrap();
    let generation =
        |slot: usize| u64::from_le_bytes(manifest[slot + 16..slot + 24].try_into().unwrap());
    let slot = if generation(0) > generation(4096) { 0 } else { 4096 };
    flip(storage, "MANIFEST", slot + 30);
}

/// Review finding A2: one flipped byte in an early record of the active segment made the
/// open cut the segment there and sync the cut, losing every acknowledged record after it.
#[test]
fn a_damaged_record_followed_by_acknowledged_ones_is_corruption_not_a_torn_tail() {
    let storage = MemoryStorage::new();
    let store = Store::open(storage.clone(), immediate()).unwrap();
    store.put("a", "text: first document").unwrap();
    for i in 0..50 {
        store.put(&format!("later-{i}"), &format!("n: {i}")).unwrap();
    }
    std::mem::forget(store); // a crash after the acknowledged writes: no hint covers them
    let active = segments(&storage).pop().unwrap();
    flip(&storage, &active, find(&storage, &active, b"first document") + 3);
    let before = storage.snapshot();
    match Store::open(storage.clone(), immediate()) {
        Err(Error::Corrupted { file, offset, .. }) => {
            assert_eq!(file, active);
            assert!(offset > 0);
        }
        Ok(store) => panic!(
            "opened with {} of 50 later records: damage was cut off as a torn tail",
            (0..50).filter(|i| store.get(&format!("later-{i}")).unwrap().is_some()).count()
        ),
        Err(other) => panic!("expected Corrupted, got {other}"),
    }
    assert!(storage.snapshot() == before, "a refused open changed the files");
}

/// Review finding A3: with the newest manifest slot damaged, the older slot won and the
/// segment a rotation had added (holding acknowledged records) was deleted as an orphan.
#[test]
fn a_damaged_newest_manifest_slot_never_deletes_a_segment_holding_records() {
    let storage = MemoryStorage::new();
    let options = Options { segment_bytes: 1024, ..immediate() };
    let store = Store::open(storage.clone(), options.clone()).unwrap();
    fill_until_segments(&store, 3, |i| format!("n: {i}\ntext: some words to fill"));
    store.put("x", "acknowledged: true").unwrap();
    std::mem::forget(store);
    let newest = segments(&storage).pop().unwrap();
    flip_newest_manifest_slot(&storage);
    match Store::open(storage.clone(), options) {
        Ok(store) => {
            assert_eq!(store.get("x").unwrap().as_deref(), Some("acknowledged: true"));
        }
        Err(Error::Corrupted { .. }) => {}
        Err(other) => panic!("expected Corrupted or the record, got {other}"),
    }
    assert!(segments(&storage).contains(&newest), "{newest} was deleted");
}

/// The frame of the single-put record whose value is `value`, in file `name`: it ends with
/// the value, and its length field (4 bytes in) says so (format 1: the body runs to the
/// value's end; format 2: the table runs to the value's start).
fn frame_of(storage: &MemoryStorage, name: &str, value: &[u8]) -> Vec<u8> {
    let bytes = &storage.snapshot()[name];
    let at = find(storage, name, value);
    let end = at + value.len();
    let start = (32..at)
        .rev()
        .find(|&s| {
            let len = u32::from_le_bytes(bytes[s + 4..s + 8].try_into().unwrap()) as usize;
            s + 8 + len == end || s + 8 + len == at
        })
        .expect("the record's frame");
    bytes[start..end].to_vec()
}

/// Writes `frame` just past the last record of file `name` (before any zeros).
fn append_past_log(storage: &MemoryStorage, name: &str, frame: &[u8]) {
    let bytes = &storage.snapshot()[name];
    let end = (32..bytes.len()).rev().find(|&e| bytes[e - 1] != 0).unwrap();
    storage.open(name, OpenMode::Existing).unwrap().write_at(end as u64, frame).unwrap();
}

/// Review finding B4: records were not tied to their segment nor checked for order, so a
/// stale frame with a valid checksum at a record boundary was applied.
#[test]
fn a_stale_frame_copied_to_the_end_of_the_log_never_changes_a_value() {
    for same_segment in [false, true] {
        let storage = MemoryStorage::new();
        let options = Options { segment_bytes: 600, ..immediate() };
        let store = Store::open(storage.clone(), options.clone()).unwrap();
        store.put("k", "version: old").unwrap();
        fill_until_segments(&store, 3, |_| "text: filling a segment up".into());
        store.put("j", "version: first").unwrap();
        store.put("j", "version: second").unwrap();
        store.put("k", "version: new").unwrap();
        std::mem::forget(store);
        let names = segments(&storage);
        let active = names.last().unwrap();
        let frame = match same_segment {
            false => frame_of(&storage, &names[0], b"version: old"),
            true => frame_of(&storage, active, b"version: first"),
        };
        append_past_log(&storage, active, &frame);
        let store = Store::open(storage.clone(), options).unwrap();
        assert_eq!(
            store.get("k").unwrap().as_deref(),
            Some("version: new"),
            "same: {same_segment}"
        );
        assert_eq!(
            store.get("j").unwrap().as_deref(),
            Some("version: second"),
            "same: {same_segment}"
        );
    }
}

/// With `Recovery::Salvage` the same damage opens: the damaged bytes are moved aside into
/// a file (never destroyed), the records before them are kept, and the figures say how many
/// records were dropped.
#[test]
fn salvage_moves_damaged_bytes_aside_and_says_what_it_dropped() {
    let storage = MemoryStorage::new();
    let store = Store::open(storage.clone(), immediate()).unwrap();
    store.put("before", "n: 0").unwrap();
    store.put("a", "text: first document").unwrap();
    for i in 0..5 {
        store.put(&format!("later-{i}"), &format!("n: {i}")).unwrap();
    }
    std::mem::forget(store);
    let active = segments(&storage).pop().unwrap();
    flip(&storage, &active, find(&storage, &active, b"first document") + 3);
    let damaged = storage.snapshot()[&active].clone();
    let salvage = Options { recovery: toonstore::store::Recovery::Salvage, ..immediate() };
    let store = Store::open(storage.clone(), salvage).unwrap();
    let stats = store.stats();
    assert_eq!(stats.salvaged_records, 6, "the damaged record and the five after it");
    assert_eq!(store.get("before").unwrap().as_deref(), Some("n: 0"));
    assert_eq!(store.get("a").unwrap(), None);
    let [saved] = stats.salvage_files.as_slice() else { panic!("{stats:?}") };
    let kept = &storage.snapshot()[saved];
    assert!(damaged.ends_with(kept), "the file holds the damaged bytes as they were");
    store.put("after", "n: 1").unwrap();
    store.close().unwrap();
    drop(store);
    let store = Store::open(storage.clone(), immediate()).expect("a salvaged store opens strictly");
    assert_eq!(store.get("after").unwrap().as_deref(), Some("n: 1"));
}

/// With `Recovery::Salvage`, a segment that holds records but that the surviving manifest
/// slot does not name is taken back into the log.
#[test]
fn salvage_takes_back_a_segment_a_damaged_manifest_slot_lost() {
    let storage = MemoryStorage::new();
    let options = Options { segment_bytes: 1024, ..immediate() };
    let store = Store::open(storage.clone(), options.clone()).unwrap();
    fill_until_segments(&store, 3, |_| "text: some words to fill".into());
    store.put("x", "acknowledged: true").unwrap();
    std::mem::forget(store);
    flip_newest_manifest_slot(&storage);
    assert!(matches!(Store::open(storage.clone(), options.clone()), Err(Error::Corrupted { .. })));
    let salvage = Options { recovery: toonstore::store::Recovery::Salvage, ..options.clone() };
    let store = Store::open(storage.clone(), salvage).unwrap();
    assert_eq!(store.get("x").unwrap().as_deref(), Some("acknowledged: true"));
    assert_eq!(store.stats().segments, 3);
    drop(store);
    let store = Store::open(storage, options).expect("the manifest names the segment again");
    assert_eq!(store.get("x").unwrap().as_deref(), Some("acknowledged: true"));
}

/// Zeros where records were, at the end of a sealed segment, are damage: a sealed segment
/// was synced whole, so its log cannot just end early.
#[test]
fn zeros_at_the_end_of_a_sealed_segment_are_damage() {
    let storage = MemoryStorage::new();
    let options = Options { segment_bytes: 1024, ..immediate() };
    let store = Store::open(storage.clone(), options.clone()).unwrap();
    fill_until_segments(&store, 3, |_| "text: some words to fill".into());
    store.close().unwrap();
    drop(store);
    let first = segments(&storage).remove(0);
    let file = storage.open(&first, OpenMode::Existing).unwrap();
    let len = file.len().unwrap();
    file.write_at(len - 30, &[0; 30]).unwrap();
    // Without the hint, so the open reads the segment.
    for name in storage.list().unwrap().into_iter().filter(|n| n.starts_with("hint-")) {
        storage.remove(&name).unwrap();
    }
    assert!(matches!(Store::open(storage, options), Err(Error::Corrupted { .. })));
}

/// A segment file that a rotation created but never committed, holding no record (an open
/// could not remove it), does not stop the next rotation; one holding records is never
/// written over.
#[test]
fn a_rotation_takes_over_a_header_only_leftover_but_never_a_segment_with_records() {
    for holds_records in [false, true] {
        let storage = MemoryStorage::new();
        let options = Options { segment_bytes: 1024, ..immediate() };
        let store = Store::open(storage.clone(), options).unwrap();
        let next = segments(&storage).len() + 1;
        let leftover = format!("seg-{next:016x}.log");
        let file = storage.open(&leftover, OpenMode::Create).unwrap();
        let mut header = storage.snapshot()[&segments(&storage)[0]][..32].to_vec();
        header[16..24].copy_from_slice(&(next as u64).to_le_bytes());
        file.write_at(0, &header).unwrap();
        if holds_records {
            file.write_at(32, b"someone's records").unwrap();
        }
        let result =
            (0..60).try_for_each(|i| store.put(&format!("k{i}"), "text: filling up the segment"));
        match holds_records {
            false => result.expect("the leftover is taken over"),
            true => {
                assert!(result.is_err(), "a segment holding records was written over");
                assert!(storage.snapshot()[&leftover].ends_with(b"someone's records"));
            }
        }
    }
}
