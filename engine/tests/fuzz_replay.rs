//! The fuzzers' seed corpus and every input they ever crashed on (`engine/fuzz/corpus/*/seed-*`,
//! `engine/fuzz/artifacts/*/`), replayed through the same entry points with stable Rust, so CI
//! needs no nightly and a fixed crasher stays fixed. `TOONSTORE_WRITE_CORPUS=1` writes the
//! seed corpus from real stores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use toonstore::io::{MemoryStorage, StdStorage};
use toonstore::store::{Durability, Options, Store, fuzzing};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every committed input of `target`: its seeds and its crashers.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for dir in [fuzz_dir().join("corpus").join(target), fuzz_dir().join("artifacts").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let committed = dir.ends_with(target)
                && (name.starts_with("seed-") || dir.parent().unwrap().ends_with("artifacts"));
            if committed && path.is_file() {
                found.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_seed_and_crasher_replays() {
    if std::env::var_os("TOONSTORE_WRITE_CORPUS").is_some() {
        write_corpus();
    }
    type Target = (&'static str, fn(&[u8]));
    let targets: [Target; 5] = [
        ("toon", fuzzing::toon_text),
        ("record", fuzzing::record_frame),
        ("manifest", |b| {
            let _ = fuzzing::manifest_slots(b);
        }),
        ("hint", |b| {
            let _ = fuzzing::hint_file(b);
        }),
        ("open", fuzzing::open_files),
    ];
    let mut replayed = 0;
    for (target, run) in targets {
        let inputs = inputs(target);
        assert!(!inputs.is_empty(), "no seed corpus for {target}");
        for (path, bytes) in inputs {
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{target}: {} fails again", path.display());
            replayed += 1;
        }
    }
    println!("{replayed} fuzz inputs replayed");
}

/// Small real stores and their files: the seed corpus.
fn write_corpus() {
    let mut stores: Vec<HashMap<String, Vec<u8>>> = Vec::new();
    for (durability, close) in [(Durability::Eventual, true), (Durability::Immediate, false)] {
        let storage = MemoryStorage::new();
        let options =
            Options { durability, segment_bytes: 512, reserve_bytes: 0, ..Options::default() };
        let store = Store::open(storage.clone(), options).unwrap();
        for i in 0..12 {
            store.put(&format!("k{i}"), &format!("n: {i}\ntags[2]: a,b")).unwrap();
        }
        store.append("event: login").unwrap();
        store.delete("k3").unwrap();
        let mut batch = toonstore::store::Batch::new();
        batch.put("b", "x: 1").delete("k4");
        store.batch(&batch).unwrap();
        store.sync().unwrap();
        match close {
            true => store.close().unwrap(),
            false => drop(store),
        }
        stores.push(storage.snapshot());
    }
    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format-v1");
    let v1_storage = StdStorage::open_dir(&v1).unwrap();
    let mut v1_files = HashMap::new();
    for name in toonstore::io::Storage::list(&v1_storage).unwrap() {
        v1_files.insert(name.clone(), std::fs::read(v1.join(&name)).unwrap());
    }
    stores.push(v1_files);
    let write = |target: &str, name: String, bytes: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    };
    for (n, files) in stores.iter().enumerate() {
        write("open", format!("store-{n}"), &fuzzing::file_set_bytes(files));
        for (name, bytes) in files {
            if name.starts_with("seg-") {
                write("record", format!("{n}-{name}"), &bytes[32.min(bytes.len())..]);
            } else if name.starts_with("hint-") {
                write("hint", format!("{n}-{name}"), bytes);
            } else if name == "MANIFEST" {
                write("manifest", format!("{n}"), bytes);
            }
        }
    }
    let texts = [
        "name: Ada\ntags[2]: math,engines",
        "users[2]{id,name}:\n  1,Ada\n  2,Linus",
        "a:\n  b:\n    c: \"quoted, text\"\n  d[0]:",
        "items[3]:\n  - 1\n  - a: 1\n    b: 2\n  - [2]: x,y",
        "n: -1.5e-7\nt: true\nz: null\ne: \"\"",
        "[3|]: a|b|c",
        "key with spaces: 1\n\"quoted key\": 2",
    ];
    for (n, text) in texts.iter().enumerate() {
        write("toon", format!("{n}"), text.as_bytes());
    }
}
