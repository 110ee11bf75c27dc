//! The filesystem shim under the real guest, `toonstore.wasm`: quotas, read-only
//! directories, memory directories with dumps, metering, and no way out of a preopen.

mod common;

use common::{options, run_ok, stderr, stdout, temp_dir, toonstore_wasm};
use toonstore::store::{Options, Store};

/// A 60 KB document (under the 1 MiB value limit, so only the quota stops it).
fn big_document(i: usize) -> String {
    format!("id: {i}\nbody: {}", "x".repeat(60_000))
}

#[test]
fn a_quota_stops_writes_with_store_full_and_the_store_reopens() {
    let root = temp_dir("quota");
    let mut stored = Vec::new();
    let full = loop {
        let i = stored.len();
        assert!(i < 100, "the quota never stopped the guest");
        let key = format!("k{i}");
        let document = big_document(i);
        let mut run = options(toonstore_wasm(), &root, &["--db", "db", "put", &key, &document]);
        // The store keeps a 256 KiB reserve, and every file costs its name and whole blocks.
        run.quota = Some(768 * 1024);
        let outcome = toonstore_host::run(&run).unwrap();
        if outcome.exit_code != 0 {
            break outcome;
        }
        let (used, limit) = outcome.stats.quota.unwrap();
        assert!(used <= limit);
        stored.push(key);
    };
    assert_eq!(full.exit_code, 1);
    assert!(stderr(&full).starts_with("error: store full"), "{}", stderr(&full));
    assert!(stored.len() >= 4, "only {} documents fit", stored.len());
    // Intact: every acknowledged document reads back, natively and in the guest.
    let store = Store::open_dir(root.join("db"), Options::default()).unwrap();
    for (i, key) in stored.iter().enumerate() {
        assert_eq!(store.get(key).unwrap(), Some(big_document(i)));
    }
    store.close().unwrap();
    let get = run_ok(&options(toonstore_wasm(), &root, &["--db", "db", "get", "k0"]));
    assert_eq!(stdout(&get), format!("{}\n", big_document(0)));
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn read_only_refuses_every_change_and_serves_reads() {
    let root = temp_dir("read-only");
    run_ok(&options(toonstore_wasm(), &root, &["--db", "db", "put", "k", "a: 1"]));
    let before = common::files_under(&root);

    let mut put = options(toonstore_wasm(), &root, &["--db", "db", "put", "k2", "b: 2"]);
    put.read_only = true;
    let refused = toonstore_host::run(&put).unwrap();
    assert_eq!(refused.exit_code, 1);
    assert!(stderr(&refused).contains("Read-only file system"), "{}", stderr(&refused));

    let mut get = options(toonstore_wasm(), &root, &["--db", "db", "get", "k"]);
    get.read_only = true;
    assert_eq!(stdout(&run_ok(&get)), "a: 1\n");
    let mut scan = options(toonstore_wasm(), &root, &["--db", "db", "scan", "--json"]);
    scan.read_only = true;
    assert_eq!(stdout(&run_ok(&scan)), "{\"key\":\"k\",\"value\":{\"a\":1}}\n");
    assert_eq!(common::files_under(&root), before, "a read-only run changed the files");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_memory_directory_is_dumped_and_opens_natively() {
    let root = temp_dir("memory");
    let dump = root.join("dump");
    let mut put =
        options(toonstore_wasm(), &root, &["--db", "/data/app", "put", "user:1", "name: Ada"]);
    put.dirs.clear();
    put.memory = true;
    put.dump = Some(dump.clone());
    let outcome = run_ok(&put);
    assert!(outcome.stats.meter.bytes_written > 0);
    assert!(!root.join("app").exists(), "--memory wrote to the host before the dump");
    let store = Store::open_dir(dump.join("app"), Options::default()).unwrap();
    assert_eq!(store.get("user:1").unwrap().as_deref(), Some("name: Ada"));
    store.close().unwrap();

    // Seeded from a host directory, which the run leaves untouched.
    let before = common::files_under(&dump);
    let mut seeded = options(toonstore_wasm(), &dump, &["--db", "app", "put", "user:2", "b: 2"]);
    seeded.memory = true;
    run_ok(&seeded);
    let mut get = options(toonstore_wasm(), &dump, &["--db", "app", "get", "user:1"]);
    get.memory = true;
    assert_eq!(stdout(&run_ok(&get)), "name: Ada\n");
    assert_eq!(common::files_under(&dump), before);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn metering_counts_the_guests_file_operations() {
    let root = temp_dir("meter");
    let put = run_ok(&options(toonstore_wasm(), &root, &["--db", "db", "put", "k", "a: 1"]));
    let m = put.stats.meter;
    assert!(m.opens >= 3 && m.bytes_written > 0 && m.syncs >= 1, "{m:?}");
    let get = run_ok(&options(toonstore_wasm(), &root, &["--db", "db", "get", "k"]));
    let g = get.stats.meter;
    assert!(g.bytes_read > 0 && g.opens >= 3, "{g:?}");
    let text = put.stats.to_string();
    assert!(text.contains(&format!("{} bytes written", m.bytes_written)), "{text}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_guest_cannot_leave_its_directories() {
    let root = temp_dir("escape");
    let inside = root.join("inside");
    let outside = root.join("outside");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, inside.join("link")).unwrap();
    // Under `/data`; a preopen named `.` would make absolute paths relative to it.
    let escapes = [
        "/data/../outside/db",
        "/tmp/toonstore-escape",
        "/data/link/db",
        "/data/link/../../outside/db",
        "/data/sub/../../outside/db",
    ];
    std::fs::create_dir_all(inside.join("sub")).unwrap();
    for memory in [false, true] {
        // A memory directory has no symlinks (loading skips them): `link` is a plain name.
        for db in escapes.iter().filter(|db| !(memory && db.contains("link"))) {
            let mut run = options(toonstore_wasm(), &inside, &["--db", db, "put", "k", "a: 1"]);
            run.dirs[0].guest = "/data".into();
            run.memory = memory;
            let outcome = toonstore_host::run(&run).unwrap();
            assert_eq!(outcome.exit_code, 1, "--db {db} (memory: {memory}) was allowed");
            assert!(stderr(&outcome).starts_with("error: cannot open"), "{}", stderr(&outcome));
        }
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "a guest wrote outside");
    assert!(!std::path::Path::new("/tmp/toonstore-escape").exists());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn fuel_stops_a_guest_that_runs_too_long() {
    let root = temp_dir("fuel");
    let mut run = options(toonstore_wasm(), &root, &["--db", "db", "put", "k", "a: 1"]);
    run.limits.fuel = Some(10_000);
    let error = toonstore_host::run(&run).unwrap_err();
    assert!(format!("{error:#}").contains("fuel"), "{error:#}");
    run.limits.fuel = Some(1_000_000_000);
    let outcome = run_ok(&run);
    let consumed = outcome.stats.fuel_consumed.unwrap();
    assert!(consumed > 10_000 && consumed < 1_000_000_000, "{consumed}");
    std::fs::remove_dir_all(root).unwrap();
}
