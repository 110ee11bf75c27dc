//! Modules and working directories shared by the host's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use toonstore_host::{Outcome, Preopen, RunOptions, Stdio};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

fn wasm_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
        .join("wasm32-wasip1/release")
}

fn existing(path: PathBuf, build: &str) -> PathBuf {
    assert!(path.exists(), "{} is missing: build it with `{build}`", path.display());
    path
}

/// The `toonstore` CLI built for `wasm32-wasip1` (release).
pub fn toonstore_wasm() -> PathBuf {
    existing(
        wasm_target_dir().join("toonstore.wasm"),
        "cargo build -p toonstore --release --target wasm32-wasip1",
    )
}

/// The engine's storage conformance suite as a WASI program.
pub fn conformance_wasm() -> PathBuf {
    existing(
        wasm_target_dir().join("examples/wasi_conformance.wasm"),
        "cargo build -p toonstore --release --target wasm32-wasip1 --example wasi_conformance",
    )
}

/// The native `toonstore` CLI cargo built beside these tests.
pub fn toonstore_native() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/test");
    existing(profile_dir.join("toonstore"), "cargo build -p toonstore")
}

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toonstore-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Options that run `module` with `args`, `root` preopened as the guest's `.`, stdio captured
/// and no module cache.
pub fn options(module: PathBuf, root: &Path, args: &[&str]) -> RunOptions {
    RunOptions {
        module,
        args: args.iter().map(|a| a.to_string()).collect(),
        dirs: vec![Preopen { host: root.to_path_buf(), guest: ".".into() }],
        stdio: Stdio::Captured { stdin: Vec::new() },
        ..RunOptions::default()
    }
}

pub fn stdout(outcome: &Outcome) -> String {
    String::from_utf8_lossy(&outcome.stdout).into_owned()
}

pub fn stderr(outcome: &Outcome) -> String {
    String::from_utf8_lossy(&outcome.stderr).into_owned()
}

/// Runs and requires exit code 0; the outcome.
pub fn run_ok(options: &RunOptions) -> Outcome {
    let outcome = toonstore_host::run(options).expect("the run completes");
    assert_eq!(outcome.exit_code, 0, "{:?}: {}", options.args, stderr(&outcome));
    outcome
}

/// Every file under `dir` (relative path, bytes), sorted by path.
pub fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    files
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            files.push((name, std::fs::read(&path).unwrap()));
        }
    }
}
pub mod guest;
