//! Puts 100k 1 KB documents into a fresh store, for profilers.
use toonstore::store::{Options, Store};
use toonstore_benches::workloads::{document_1k, key};

fn main() {
    let docs: Vec<String> = (0..100_000).map(document_1k).collect();
    let dir = std::env::temp_dir().join("toonstore-profile-put");
    let _ = std::fs::remove_dir_all(&dir);
    let store =
        Store::open_dir(&dir, Options { max_store_bytes: u64::MAX, ..Options::default() }).unwrap();
    let start = std::time::Instant::now();
    for (i, doc) in docs.iter().enumerate() {
        store.put(&key(i as u64), doc).unwrap();
    }
    eprintln!("{:?} per put", start.elapsed() / docs.len() as u32);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
