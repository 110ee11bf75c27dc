//! Many threads at once (writers with puts and batches, a syncing thread, a compacting
//! thread, readers) keep the same promises as the single-threaded simulator: every write
//! acknowledged as durable (an `Immediate` put, or a put followed by the same thread's
//! successful `sync()`) is in every image a power cut could leave, taken at any moment while
//! the threads run; readers only ever see whole documents of the key they asked for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use toonstore::io::MemoryStorage;
use toonstore::io::fault::FaultyStorage;
use toonstore::store::{Batch, Durability, Options, Store};

const WRITERS: u64 = 4;
const KEYS: u64 = 6;
const ROUNDS: u64 = 120;

/// Per key, when each version became durable: (acknowledgement number, version).
type Durable = Mutex<HashMap<String, Vec<(u64, u64)>>>;

fn text(writer: u64, key: u64, version: u64) -> String {
    format!("writer: {writer}\nkey: {key}\nversion: {version}\npad: {}", "p".repeat(200))
}

fn version_of(text: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with("version: ")).expect("a version line");
    line["version: ".len()..].parse().unwrap()
}

/// Checks an image against what was durable before acknowledgement number `marker`.
fn check(image: MemoryStorage, durable: &Durable, marker: u64, what: &str) {
    let read_only = Options { read_only: true, ..Options::default() };
    let store = Store::open(image, read_only).unwrap_or_else(|e| panic!("{what}: open: {e}"));
    for (key, history) in durable.lock().unwrap().iter() {
        let Some(wanted) = history.iter().filter(|(ack, _)| *ack < marker).map(|(_, v)| *v).max()
        else {
            continue;
        };
        let found = store.get(key).unwrap().map(|t| version_of(&t));
        assert!(
            found.is_some_and(|v| v >= wanted),
            "{what}: {key} durable at version {wanted}, the image has {found:?}"
        );
    }
}

fn stress(durability: Durability) {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let options = Options { durability, segment_bytes: 4096, ..Options::default() };
    let store = Arc::new(Store::open(storage.clone(), options).unwrap());
    let acks = Arc::new(AtomicU64::new(0));
    let durable: Arc<Durable> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for writer in 0..WRITERS {
        let (store, acks, durable) = (store.clone(), acks.clone(), durable.clone());
        threads.push(thread::spawn(move || {
            let mut unsynced = Vec::new();
            for round in 0..ROUNDS {
                let key = round % KEYS;
                let name = format!("w{writer}-k{key}");
                if round % 7 == 3 {
                    let mut batch = Batch::new();
                    batch.put(name.clone(), text(writer, key, round));
                    batch.put(format!("w{writer}-b"), text(writer, 99, round));
                    store.batch(&batch).unwrap();
                } else {
                    store.put(&name, &text(writer, key, round)).unwrap();
                }
                unsynced.push((name, round));
                if durability == Durability::Eventual && round % 5 != 4 {
                    continue;
                }
                if durability == Durability::Eventual {
                    store.sync().unwrap();
                }
                let ack = acks.fetch_add(1, Ordering::SeqCst);
                let mut map = durable.lock().unwrap();
                for (name, version) in unsynced.drain(..) {
                    map.entry(name).or_default().push((ack, version));
                }
            }
        }));
    }
    {
        let (store, done) = (store.clone(), done.clone());
        threads.push(thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                store.sync().unwrap();
                thread::sleep(Duration::from_micros(300));
            }
        }));
    }
    {
        let (store, done) = (store.clone(), done.clone());
        threads.push(thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                store.compact().unwrap();
                thread::sleep(Duration::from_millis(3));
            }
        }));
    }
    {
        let (store, done) = (store.clone(), done.clone());
        threads.push(thread::spawn(move || {
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                let (writer, key) = (n % WRITERS, (n / WRITERS) % KEYS);
                if let Some(found) = store.get(&format!("w{writer}-k{key}")).unwrap() {
                    let prefix = format!("writer: {writer}\nkey: {key}\n");
                    assert!(found.starts_with(&prefix), "a reader saw another document");
                }
                n += 1;
            }
        }));
    }
    // Images while the threads run, and at the end.
    let mut rng = fastrand::Rng::with_seed(durability as u64);
    let writers_running = || threads[..WRITERS as usize].iter().any(|t| !t.is_finished());
    let mut images = 0;
    while writers_running() {
        let marker = acks.load(Ordering::SeqCst);
        let image = match images % 2 {
            0 => storage.durable_image(),
            _ => storage.crash_image(&mut |n| rng.u64(..n)),
        };
        check(image, &durable, marker, &format!("{durability:?}, image {images}"));
        images += 1;
        thread::sleep(Duration::from_millis(2));
    }
    done.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    check(storage.durable_image(), &durable, u64::MAX, &format!("{durability:?}, at the end"));
    assert!(images > 3, "only {images} images taken while writing");
    println!(
        "{durability:?}: {images} images checked while {WRITERS} writers, a syncer, a compactor and a reader ran"
    );
}

#[test]
fn immediate_writers_syncers_and_compaction_keep_every_durable_write() {
    stress(Durability::Immediate);
}

#[test]
fn eventual_writers_syncers_and_compaction_keep_every_synced_write() {
    stress(Durability::Eventual);
}
