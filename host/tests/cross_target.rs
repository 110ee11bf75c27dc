//! One scripted workload, run by the native CLI, by `toonstore.wasm` under the wasmtime CLI,
//! under this host and under node:wasi, leaves byte-identical store files; and a store
//! written by any of them opens in every other with the same contents.

mod common;

use std::path::Path;
use std::process::Command;

use common::{files_under, options, temp_dir, toonstore_native, toonstore_wasm, workspace};

#[derive(Clone, Copy, Debug)]
enum Runtime {
    Native,
    WasmtimeCli,
    Host,
    NodeWasi,
}

const RUNTIMES: [Runtime; 4] =
    [Runtime::Native, Runtime::WasmtimeCli, Runtime::Host, Runtime::NodeWasi];

/// Runs the CLI with `args` in `root` (preopened as `.`); stdout, or a panic on failure.
fn toonstore(runtime: Runtime, root: &Path, args: &[&str]) -> String {
    let preopen = format!("{}::.", root.display());
    let output = match runtime {
        Runtime::Host => {
            let outcome = toonstore_host::run(&options(toonstore_wasm(), root, args)).unwrap();
            assert_eq!(outcome.exit_code, 0, "{runtime:?} {args:?}: {}", common::stderr(&outcome));
            return common::stdout(&outcome);
        }
        Runtime::Native => Command::new(toonstore_native()).args(args).current_dir(root).output(),
        Runtime::WasmtimeCli => Command::new("wasmtime")
            .args(["run", "--dir", &preopen])
            .arg(toonstore_wasm())
            .args(args)
            .output(),
        Runtime::NodeWasi => Command::new("node")
            .arg("--no-warnings")
            .arg(workspace().join("tests/wasi/node-wasi.mjs"))
            .args(["--dir", &preopen])
            .arg(toonstore_wasm())
            .args(args)
            .output(),
    }
    .unwrap_or_else(|e| panic!("cannot start {runtime:?}: {e}"));
    assert!(
        output.status.success(),
        "{runtime:?} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The workload: puts, JSON puts, appends, an import, deletes, a batch of overwrites,
/// compaction, then more writes after it.
fn workload(runtime: Runtime, root: &Path) {
    let lines: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"id":"u{i:03}","n":{i},"tags":["a","b"],"ok":{}}}"#, i % 3 == 0))
        .collect();
    std::fs::write(root.join("users.jsonl"), lines.join("\n")).unwrap();
    let db = ["--db", "db"];
    let run = |args: &[&str]| toonstore(runtime, root, &[&db[..], args].concat());
    run(&["put", "doc:1", "name: Ada\ntags[2]: math,engines"]);
    run(&["put", "doc:2", "--json", r#"{"name":"Linus","score":9.5,"x":null}"#]);
    run(&["append", "event: login"]);
    run(&["append", "event: logout"]);
    run(&["import", "users.jsonl", "--key-field", "id"]);
    run(&["delete", "u007"]);
    run(&["put", "doc:1", "name: Ada Lovelace"]);
    run(&["compact"]);
    run(&["put", "doc:3", "items[2]{a,b}:\n  1,x\n  2,y"]);
    run(&["append", "event: after compaction"]);
}

#[test]
fn every_runtime_writes_the_same_bytes_and_reads_every_others_store() {
    let roots: Vec<_> = RUNTIMES
        .iter()
        .map(|&runtime| {
            let root = temp_dir(&format!("cross-{runtime:?}"));
            workload(runtime, &root);
            (runtime, root)
        })
        .collect();
    let native_files = files_under(&roots[0].1.join("db"));
    assert!(native_files.len() >= 3, "{:?}", native_files.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (runtime, root) in &roots[1..] {
        let files = files_under(&root.join("db"));
        let names =
            |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&files), names(&native_files), "{runtime:?} wrote other files");
        for ((name, bytes), (_, native)) in files.iter().zip(&native_files) {
            assert!(bytes == native, "{runtime:?} wrote other bytes in {name}");
        }
    }

    let read = |runtime, root: &Path| {
        let scan = toonstore(runtime, root, &["--db", "db", "scan", "--json"]);
        let rows = toonstore(runtime, root, &["--db", "db", "export", "--rows"]);
        let stats = toonstore(runtime, root, &["--db", "db", "stats", "--json"]);
        (scan, rows, stats)
    };
    let expected = read(Runtime::Native, &roots[0].1);
    assert_eq!(expected.0.lines().count(), 302, "2 documents + 300 imported - 1 deleted + doc:3");
    for (writer, root) in &roots {
        for &reader in &RUNTIMES {
            // Each reader gets its own copy: opening a store may write (a hint at close).
            let copy = temp_dir(&format!("cross-copy-{writer:?}-{reader:?}"));
            for (name, bytes) in files_under(&root.join("db")) {
                let path = copy.join("db").join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            assert_eq!(read(reader, &copy), expected, "{reader:?} reading {writer:?}'s store");
            std::fs::remove_dir_all(copy).unwrap();
        }
    }
    for (_, root) in roots {
        std::fs::remove_dir_all(root).unwrap();
    }
}
