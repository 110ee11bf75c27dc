//! Running modules: the engine's storage conformance suite inside wasmtime through every kind
//! of shimmed directory, the compiled-module cache, and the `toonstore-host` binary.

mod common;

use std::process::Command;

use common::{conformance_wasm, options, run_ok, stdout, temp_dir, toonstore_wasm};
use toonstore_host::RunOptions;
use toonstore_host::module_cache::{self, Source};

fn conformance(configure: impl Fn(&mut RunOptions), name: &str) {
    let root = temp_dir(name);
    let mut run = options(conformance_wasm(), &root, &["suite"]);
    configure(&mut run);
    let outcome = run_ok(&run);
    assert_eq!(stdout(&outcome), "14 checks passed\n");
    assert!(outcome.stats.meter.bytes_written > 0 && outcome.stats.meter.syncs > 0);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn conformance_on_a_real_directory() {
    conformance(|_| {}, "conformance-real");
}

#[test]
fn conformance_on_a_memory_directory() {
    conformance(|run| run.memory = true, "conformance-memory");
}

#[test]
fn conformance_under_a_quota() {
    // The suite's large-write check writes 4 MiB files, which 64 MiB leaves room for.
    conformance(|run| run.quota = Some(64 << 20), "conformance-quota");
}

#[test]
fn conformance_on_a_memory_directory_under_a_quota() {
    conformance(
        |run| {
            run.memory = true;
            run.quota = Some(64 << 20);
        },
        "conformance-memory-quota",
    );
}

#[test]
fn a_cached_module_skips_compilation() {
    let cache = temp_dir("module-cache");
    let engine = toonstore_host::engine(false).unwrap();
    let (_, first) = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap();
    assert_eq!(first, Source::CompiledAndStored);
    let (_, second) = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap();
    assert_eq!(second, Source::Cached);
    // Other settings (fuel changes the code) make another entry rather than reuse this one.
    let fuel = toonstore_host::engine(true).unwrap();
    let wasm = std::fs::read(toonstore_wasm()).unwrap();
    assert_ne!(module_cache::key(&engine, &wasm), module_cache::key(&fuel, &wasm));
    // A damaged entry is compiled again, not trusted.
    for entry in std::fs::read_dir(&cache).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not a module").unwrap();
    }
    let (_, damaged) = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap();
    assert_eq!(damaged, Source::CompiledAndStored);
    std::fs::remove_dir_all(cache).unwrap();
}

#[test]
fn the_binary_runs_a_module_and_prints_stats() {
    let root = temp_dir("binary");
    let cache = root.join("cache");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let host = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_toonstore-host"))
            .arg("run")
            .arg("--dir")
            .arg(format!("{}::/data", data.display()))
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--stats")
            .arg(toonstore_wasm())
            .arg("--")
            .args(args)
            .output()
            .unwrap()
    };
    let put = host(&["--db", "/data/app", "put", "k", "a: 1"]);
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    let stats = String::from_utf8_lossy(&put.stderr);
    assert!(stats.contains("bytes written") && stats.contains("compiled, now cached"), "{stats}");
    let get = host(&["--db", "/data/app", "get", "k"]);
    assert_eq!(String::from_utf8_lossy(&get.stdout), "a: 1\n");
    assert!(String::from_utf8_lossy(&get.stderr).contains("from the cache"));
    let missing = host(&["--db", "/data/app", "get", "nope"]);
    assert_eq!(missing.status.code(), Some(1), "the guest's exit code is the host's");
    std::fs::remove_dir_all(root).unwrap();
}
