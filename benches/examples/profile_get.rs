//! Reads 100k 1 KB documents in random order, repeatedly, for profilers: uncached text, or
//! decoded documents from the cache with the argument `cached`.
use toonstore::store::{Options, Store};
use toonstore_benches::workloads::{document_1k, key};

fn main() {
    let dir = std::env::temp_dir().join("toonstore-profile-get");
    let _ = std::fs::remove_dir_all(&dir);
    let cached = std::env::args().nth(1).as_deref() == Some("cached");
    let cache_bytes = if cached { 512 << 20 } else { 0 };
    let options = || Options { cache_bytes, ..Options::default() };
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
    if cached {
        keys.iter().for_each(|k| drop(store.get_value(k).unwrap()));
    }
    let start = std::time::Instant::now();
    for _ in 0..60 {
        for k in &keys {
            if cached {
                std::hint::black_box(store.get_value(k).unwrap());
            } else {
                std::hint::black_box(store.get(k).unwrap());
            }
        }
    }
    eprintln!("{:?} per get", start.elapsed() / 6_000_000);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
