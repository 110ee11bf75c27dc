//! Running modules: the engine's storage conformance suite inside wasmtime through every kind
//! of shimmed directory, the compiled-module cache, and the `toonstore-host` binary.

mod common;

use std::process::Command;

use common::{conformance_wasm, options, run_ok, stdout, temp_dir, toonstore_wasm};
use toonstore_host::module_cache::{self, Source};
use toonstore_host::{Limits, RunOptions};

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
    let engine = toonstore_host::engine(&Limits::default()).unwrap();
    let (_, first) = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap();
    assert_eq!(first, Source::CompiledAndStored);
    let (_, second) = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap();
    assert_eq!(second, Source::Cached);
    // Other settings (fuel changes the code) make another entry rather than reuse this one.
    let fuel = toonstore_host::engine(&Limits { fuel: Some(1), ..Limits::default() }).unwrap();
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

#[test]
fn a_cache_entry_is_used_only_for_its_own_key() {
    let cache = temp_dir("module-cache-keys");
    let engine = toonstore_host::engine(&Limits::default()).unwrap();
    let (toonstore, conformance) = (toonstore_wasm(), conformance_wasm());
    module_cache::load(&engine, &toonstore, Some(&cache)).unwrap();
    module_cache::load(&engine, &conformance, Some(&cache)).unwrap();
    let entry = |wasm: &std::path::Path| {
        let key = module_cache::key(&engine, &std::fs::read(wasm).unwrap());
        cache.join(format!("{key}.cwasm"))
    };
    // Another module's artifact under this key (a planted or mixed-up entry): compiled again.
    std::fs::copy(entry(&conformance), entry(&toonstore)).unwrap();
    let (_, source) = module_cache::load(&engine, &toonstore, Some(&cache)).unwrap();
    assert_eq!(source, Source::CompiledAndStored);
    // One byte of native code changed: compiled again.
    let mut bytes = std::fs::read(entry(&toonstore)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(entry(&toonstore), bytes).unwrap();
    let (_, source) = module_cache::load(&engine, &toonstore, Some(&cache)).unwrap();
    assert_eq!(source, Source::CompiledAndStored);
    let (_, source) = module_cache::load(&engine, &toonstore, Some(&cache)).unwrap();
    assert_eq!(source, Source::Cached);
    // No temporary file is left behind.
    let names: Vec<_> =
        std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.iter().all(|n| n.to_string_lossy().ends_with(".cwasm")), "{names:?}");
    std::fs::remove_dir_all(cache).unwrap();
}

#[test]
fn a_cache_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let root = temp_dir("module-cache-perms");
    let engine = toonstore_host::engine(&Limits::default()).unwrap();
    let cache = root.join("cache");
    module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap();
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "a new cache is the user's alone");
    for (path, mode) in [(&cache, 0o770), (&cache, 0o707), (&root, 0o777)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        let error = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap_err();
        assert!(format!("{error:#}").contains("refusing the module cache"), "{error:#}");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // Owned by another user (only root can hand a directory to someone else).
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&cache, Some(65534), None).unwrap();
        let error = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap_err();
        assert!(format!("{error:#}").contains("owned by another user"), "{error:#}");
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_run_whose_directories_reach_the_cache_is_refused() {
    let root = temp_dir("module-cache-overlap");
    let cache = root.join("home/.cache/toonstore-host");
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut run = options(toonstore_wasm(), &home, &["--version"]);
    run.cache_dir = Some(cache.clone());
    let error = toonstore_host::run(&run).unwrap_err();
    assert!(format!("{error:#}").contains("holds (or may hold)"), "{error:#}");
    // Without a cache in this run too: the default cache and the secret are every run's.
    let secret_dir = module_cache::secret_path().unwrap().parent().unwrap().to_path_buf();
    for protected in [module_cache::default_dir().unwrap(), secret_dir] {
        let mut run = options(toonstore_wasm(), protected.parent().unwrap(), &["--version"]);
        run.cache_dir = None;
        let error = toonstore_host::run(&run).unwrap_err();
        assert!(format!("{error:#}").contains("holds (or may hold)"), "{error:#}");
    }
    // A dump target inside the cache, or a preopen inside it, likewise.
    let mut run = options(toonstore_wasm(), &root.join("elsewhere"), &["--version"]);
    run.dirs.clear();
    run.memory = true;
    run.dump = Some(cache.join("x"));
    run.cache_dir = Some(cache.clone());
    assert!(toonstore_host::run(&run).is_err());
    std::fs::create_dir_all(cache.join("inner")).unwrap();
    let mut run = options(toonstore_wasm(), &cache.join("inner"), &["--version"]);
    run.cache_dir = Some(cache.clone());
    assert!(toonstore_host::run(&run).is_err());
    // Beside it is fine.
    std::fs::create_dir_all(root.join("data")).unwrap();
    let mut run = options(toonstore_wasm(), &root.join("data"), &["--version"]);
    run.cache_dir = Some(cache);
    assert_eq!(run_ok(&run).exit_code, 0);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_cache_entry_without_the_secret_is_not_trusted() {
    // Anyone can hash a key and an artifact; only the user's secret makes an entry trusted.
    let cache = temp_dir("module-cache-forged");
    let engine = toonstore_host::engine(&Limits::default()).unwrap();
    let wasm = std::fs::read(toonstore_wasm()).unwrap();
    let key = module_cache::key(&engine, &wasm);
    let artifact = wasmtime::Module::new(&engine, &wasm).unwrap().serialize().unwrap();
    let mut hasher = blake3::Hasher::new();
    hasher.update(key.as_bytes());
    hasher.update(&artifact);
    let mut forged = b"tshc\x02\0\0\0".to_vec();
    forged.extend_from_slice(hasher.finalize().as_bytes());
    forged.extend_from_slice(&artifact);
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join(format!("{key}.cwasm")), forged).unwrap();
    let (_, source) = module_cache::load(&engine, &toonstore_wasm(), Some(&cache)).unwrap();
    assert_eq!(source, Source::CompiledAndStored);
    std::fs::remove_dir_all(cache).unwrap();
}
