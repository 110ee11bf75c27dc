//! Puts 100k 1 KB documents into a fresh store, five times over, for profilers.
use toonstore::store::{Options, Store};
use toonstore_benches::workloads::{document_1k, key};

fn main() {
    let docs: Vec<String> = (0..100_000).map(document_1k).collect();
    let dir = std::env::temp_dir().join("toonstore-profile-put");
    let _ = std::fs::remove_dir_all(&dir);
    let store =
        Store::open_dir(&dir, Options { max_store_bytes: u64::MAX, ..Options::default() }).unwrap();
    let keys: Vec<String> = (0..docs.len() as u64).map(key).collect();
    eprintln!("generated");
    for _ in 0..5 {
        let start = std::time::Instant::now();
        for (key, doc) in keys.iter().zip(&docs) {
            store.put(key, doc).unwrap();
        }
        eprintln!("{:?} per put", start.elapsed() / docs.len() as u32);
    }
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
