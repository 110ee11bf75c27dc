//! A read-only store opened beside a writer sees a consistent store whatever the writer
//! does meanwhile (writes, rotations, compactions, closes): it never reports corruption that
//! is not there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use toonstore::io::MemoryStorage;
use toonstore::store::{Durability, Error, Options, Store};

/// Review finding A10 (a): a reader that had loaded a manifest found the segments it named
/// removed by a compaction and reported `Corrupted`, where a retry would have worked.
#[test]
fn read_only_opens_during_compactions_never_report_false_corruption() {
    let storage = MemoryStorage::new();
    let options =
        Options { segment_bytes: 1024, durability: Durability::Immediate, ..Options::default() };
    let writer = Arc::new(Store::open(storage.clone(), options.clone()).unwrap());
    for i in 0..400 {
        writer.put(&format!("k{i:03}"), &format!("n: {i}\ntext: a document to compact")).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let churn = {
        let (writer, done) = (writer.clone(), done.clone());
        thread::spawn(move || {
            for round in 0..60 {
                for i in 0..400 {
                    writer
                        .put(&format!("k{i:03}"), &format!("n: {round}\ntext: rewritten"))
                        .unwrap();
                }
                writer.compact().unwrap();
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    let read_only = Options { read_only: true, ..options };
    let (mut opens, mut refused) = (0, Vec::new());
    while !done.load(Ordering::Relaxed) {
        opens += 1;
        match Store::open(storage.clone(), read_only.clone()) {
            Ok(reader) => assert_eq!(reader.stats().keys, 400, "open {opens}"),
            Err(e @ Error::Corrupted { .. }) => refused.push(format!("{opens}: {e}")),
            Err(other) => panic!("open {opens}: {other}"),
        }
    }
    churn.join().unwrap();
    assert!(
        refused.is_empty(),
        "{} of {opens} opens refused: {:?}",
        refused.len(),
        &refused[..refused.len().min(3)]
    );
}
