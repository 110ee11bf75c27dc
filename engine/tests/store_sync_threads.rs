//! `sync()` covers every write made before it, whatever other threads do at the same time:
//! while another thread writes and syncs, a thread writes, syncs, and finds its write in the
//! durable image (the bytes a power cut would leave).

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use toonstore::io::MemoryStorage;
use toonstore::io::fault::FaultyStorage;
use toonstore::store::{Options, Store};

/// Review finding A1: group commit counted bytes still in the write buffer as synced, so a
/// `sync()` racing another thread's could return Ok with no fsync after its writes.
#[test]
fn a_sync_covers_every_write_before_it_while_another_thread_syncs() {
    let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
    let store = Arc::new(Store::open(storage.clone(), Options::default()).unwrap());
    // The other thread writes and syncs once per round, when told, and says when it is done,
    // so no sync of its own lands between this thread's sync and the look at the image.
    let (go, went) = mpsc::channel::<()>();
    let (done, finished) = mpsc::channel::<()>();
    let syncer = {
        let store = store.clone();
        thread::spawn(move || {
            for (n, ()) in went.into_iter().enumerate() {
                store.put(&format!("other-{n}"), "from: the other thread").unwrap();
                store.sync().unwrap();
                done.send(()).unwrap();
            }
        })
    };
    let read_only = Options { read_only: true, ..Options::default() };
    let mut rng = fastrand::Rng::with_seed(7);
    let mut missing = Vec::new();
    for i in 0..1500 {
        go.send(()).unwrap();
        // Land the put anywhere inside the other thread's sync, and sync a little later.
        spin(Duration::from_nanos(rng.u64(..20_000)));
        let key = format!("k{i}");
        store.put(&key, &format!("i: {i}")).unwrap();
        spin(Duration::from_micros(30));
        store.sync().unwrap();
        finished.recv().unwrap();
        let image = Store::open(storage.durable_image(), read_only.clone()).unwrap();
        if image.get(&key).unwrap().is_none() {
            missing.push(i);
        }
    }
    drop(go);
    syncer.join().unwrap();
    assert!(missing.is_empty(), "{} of 1500 synced writes not durable: {missing:?}", missing.len());
}

fn spin(time: Duration) {
    let until = Instant::now() + time;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}
