//! The shim fuzzer's seed corpus and every input it ever crashed on (`host/fuzz/corpus/shim/
//! seed-*`, `host/fuzz/artifacts/shim/`), replayed with stable Rust so CI needs no nightly
//! and a fixed crasher stays fixed; then a few thousand inputs from a fixed seed.

use std::path::Path;

fn committed(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<_> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file() && keep(&path.file_name().unwrap().to_string_lossy()))
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    found.sort();
    found
}

#[test]
fn every_seed_and_crasher_replays() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = committed(&fuzz.join("corpus/shim"), |name| name.starts_with("seed-"));
    let crashers = committed(&fuzz.join("artifacts/shim"), |_| true);
    assert!(seeds.len() >= 8, "the seed corpus is missing: {} seeds", seeds.len());
    for (path, data) in seeds.iter().chain(&crashers) {
        let replay = std::panic::catch_unwind(|| toonstore_host::fuzzing::run_calls(data));
        assert!(replay.is_ok(), "{path} broke a promise");
    }
}

#[test]
fn random_call_sequences_keep_the_promises() {
    // xorshift: the same inputs on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let len = (next() % 400) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if std::panic::catch_unwind(|| toonstore_host::fuzzing::run_calls(&data)).is_err() {
            let kept = std::env::temp_dir().join("toonstore-shim-fuzz-failure");
            std::fs::write(&kept, &data).unwrap();
            panic!(
                "an input broke a promise; kept in {} (TOONSTORE_FUZZ_TRACE=1 shows its calls)",
                kept.display()
            );
        }
    }
}

/// `TOONSTORE_FUZZ_INPUT=FILE cargo test -p toonstore-host --test fuzz_replay one_input`
/// replays one input (with `TOONSTORE_FUZZ_TRACE=1`, call by call).
#[test]
fn one_input() {
    if let Some(path) = std::env::var_os("TOONSTORE_FUZZ_INPUT") {
        toonstore_host::fuzzing::run_calls(&std::fs::read(path).unwrap());
    }
}
