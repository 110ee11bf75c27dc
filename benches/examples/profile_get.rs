//! Reads 100k 1 KB documents (uncached) in random order, repeatedly, for profilers.
use toonstore::store::{Options, Store};
use toonstore_benches::workloads::{document_1k, key};

fn main() {
    let dir = std::env::temp_dir().join("toonstore-profile-get");
    let _ = std::fs::remove_dir_all(&dir);
    let options = || Options { cache_bytes: 0, ..Options::default() };
    let store = Store::open_dir(&dir, options()).unwrap();
    for i in 0..100_000 {
        store.put(&key(i), &document_1k(i)).unwrap();
    }
    store.close().unwrap();
    drop(store);
    let store = Store::open_dir(&dir, options()).unwrap();
    let mut order: Vec<u64> = (0..100_000).collect();
    fastrand::Rng::with_seed(7).shuffle(&mut order);
    let keys: Vec<String> = order.iter().map(|&i| key(i)).collect();
    let start = std::time::Instant::now();
    for _ in 0..60 {
        for k in &keys {
            std::hint::black_box(store.get(k).unwrap());
        }
    }
    eprintln!("{:?} per get", start.elapsed() / 6_000_000);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
