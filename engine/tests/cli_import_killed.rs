//! A large import killed with SIGKILL leaves a store that reopens and holds a prefix of the
//! import: every record up to some point, each intact, and nothing after it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use toonstore::store::{Options, Store};

const RECORDS: usize = 300_000;

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
    })
}

#[test]
fn a_killed_import_leaves_a_prefix() {
    let root = std::env::temp_dir().join(format!("toonstore-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("records.jsonl");
    let lines: Vec<String> = (0..RECORDS)
        .map(|i| {
            format!(r#"{{"id":"r{i:07}","seq":{i},"text":"record number {i}, with a comma"}}"#)
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let db = root.join("db");

    let mut child = Command::new(env!("CARGO_BIN_EXE_toonstore"))
        .arg("--db")
        .arg(&db)
        .args(["import", file.to_str().unwrap(), "--key-field", "id"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a good part of the import is written, well before the end.
    let started = Instant::now();
    while dir_bytes(&db) < 2 << 20 && started.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the import was killed before it finished");

    let store = Store::open_dir(&db, Options::default()).expect("the store reopens after SIGKILL");
    let count = store.stats().keys as usize;
    assert!(count > 0 && count < RECORDS, "a strict prefix was imported: {count} of {RECORDS}");
    for (i, entry) in store.scan().enumerate() {
        let (key, text) = entry.unwrap();
        assert_eq!(key, format!("r{i:07}"), "keys form a prefix of the import");
        assert_eq!(
            text,
            format!("id: r{i:07}\nseq: {i}\ntext: \"record number {i}, with a comma\"")
        );
    }
    println!("SIGKILL after {count} of {RECORDS} records; all intact, none after");
    drop(store);
    std::fs::remove_dir_all(&root).unwrap();
}
