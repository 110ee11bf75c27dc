//! The engine workload the WASI benchmarks run natively and inside wasm runtimes: puts,
//! random gets and a full scan of 1 KB TOON documents, timed inside the program.
//!
//! `workload DIR [KEYS] [REPEATS] [std]`: each repeat builds a fresh store under DIR;
//! prints one JSON object, per phase the median over the repeats:
//! `{"put": {"median_ns": .., "elements": KEYS}, "get": {..}, "scan": {..}}`.
//! Natively the store reads through memory maps unless `std` is given (WASI has only the std
//! backend). Gets go to the files: the decoded-document cache is off.

use std::path::Path;
use std::time::Instant;

use toonstore::io::{StdStorage, Storage};
use toonstore::store::{Options, Store};

/// A small deterministic generator (SplitMix64), so every runtime stores the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 12] = [
    "alpha", "beta", "gamma", "delta", "storage", "engine", "token", "prompt", "record", "index",
    "cache", "segment",
];

/// A canonical TOON document of about 1 KB: scalars, a list and a table of eight events.
fn document(i: u64) -> String {
    let mut rng = Rng(i);
    let word = |rng: &mut Rng| WORDS[rng.below(WORDS.len() as u64) as usize];
    let bio: Vec<&str> = (0..40).map(|_| word(&mut rng)).collect();
    let mut text = format!(
        "id: {i}\nname: User {i}\nemail: user{i}@example.com\ndepartment: {}\nscore: {}.{:03}\n\
         tags[4]: {},{},{},{}\nbio: {}\nevents[8]{{at,kind,count,ok}}:",
        word(&mut rng),
        rng.below(1000),
        1 + rng.below(99) * 10, // no trailing zero: the text stays canonical
        word(&mut rng),
        word(&mut rng),
        word(&mut rng),
        word(&mut rng),
        bio.join(" "),
    );
    for n in 0..8 {
        let (hour, minute) = (rng.below(24), rng.below(60));
        let (kind, count, ok) = (word(&mut rng), rng.below(10_000), rng.below(2) == 1);
        // Quoted: a colon would make the row read as a key.
        text +=
            &format!("\n  \"2026-11-{:02}T{hour:02}:{minute:02}:00Z\",{kind},{count},{ok}", n + 1);
    }
    text
}

/// Nanoseconds of each phase of one repeat. Keys and the order of gets are made before the
/// clock starts: the figures are the engine's, not the formatting's.
fn repeat<S: Storage>(store: Store<S>, keys: &[String], documents: &[String]) -> [u128; 3] {
    let start = Instant::now();
    for (key, doc) in keys.iter().zip(documents) {
        store.put(key, doc).expect("put");
    }
    store.sync().expect("sync");
    let put = start.elapsed().as_nanos();

    let mut rng = Rng(7);
    let order: Vec<&str> =
        keys.iter().map(|_| keys[rng.below(keys.len() as u64) as usize].as_str()).collect();
    let start = Instant::now();
    let mut bytes = 0;
    for key in order {
        bytes += store.get(key).expect("get").expect("present").len();
    }
    let get = start.elapsed().as_nanos();
    assert!(bytes > 0);

    let start = Instant::now();
    let mut rows = 0;
    for entry in store.scan() {
        entry.expect("scan");
        rows += 1;
    }
    let scan = start.elapsed().as_nanos();
    assert_eq!(rows, keys.len());
    store.close().expect("close");
    [put, get, scan]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(Path::new) else {
        eprintln!("usage: workload DIR [KEYS] [REPEATS] [std]");
        std::process::exit(2);
    };
    let keys: u64 = args.get(1).map_or(100_000, |k| k.parse().expect("KEYS is a number"));
    let repeats: usize = args.get(2).map_or(3, |r| r.parse().expect("REPEATS is a number"));
    let use_std = cfg!(target_os = "wasi") || args.get(3).is_some_and(|a| a == "std");
    let documents: Vec<String> = (0..keys).map(document).collect();
    let keys: Vec<String> = (0..keys).map(|i| format!("key{i:08}")).collect();
    // Canonical text, as an encoder writes it, takes the store's fast path.
    for doc in documents.iter().take(100) {
        assert!(toonstore::toon::is_canonical(doc).unwrap(), "not canonical:\n{doc}");
    }
    let options = Options { cache_bytes: 0, ..Options::default() };

    let mut phases: [Vec<u128>; 3] = Default::default();
    for r in 0..repeats {
        let path = dir.join(format!("workload-{r}"));
        let _ = std::fs::remove_dir_all(&path);
        let times = run_repeat(&path, use_std, options.clone(), &keys, &documents);
        std::fs::remove_dir_all(&path).unwrap();
        for (phase, time) in phases.iter_mut().zip(times) {
            phase.push(time);
        }
    }
    let median = |times: &mut Vec<u128>| {
        times.sort_unstable();
        times[times.len() / 2]
    };
    let [put, get, scan] = &mut phases;
    println!(
        "{{\"put\":{{\"median_ns\":{},\"elements\":{n}}},\"get\":{{\"median_ns\":{},\"elements\":{n}}},\"scan\":{{\"median_ns\":{},\"elements\":{n}}}}}",
        median(put),
        median(get),
        median(scan),
        n = keys.len(),
    );
}

/// One repeat on a fresh store at `path`: through memory maps natively unless `use_std`
/// (WASI has only the std backend, so `use_std` is always set there).
#[cfg_attr(target_arch = "wasm32", allow(unused_variables))]
fn run_repeat(
    path: &Path,
    use_std: bool,
    options: Options,
    keys: &[String],
    docs: &[String],
) -> [u128; 3] {
    #[cfg(not(target_arch = "wasm32"))]
    if !use_std {
        return repeat(Store::open_dir(path, options).unwrap(), keys, docs);
    }
    repeat(Store::open(StdStorage::open_dir(path).unwrap(), options).unwrap(), keys, docs)
}
