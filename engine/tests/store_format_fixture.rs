//! A fixture store of every on-disk format in `tests/fixtures/format-v<N>/` opens and reads
//! back exactly, and takes new writes, so a change to the on-disk format cannot go
//! unnoticed: a new format gets a new fixture beside the old. The current format's fixture
//! is written by this test with `TOONSTORE_WRITE_FIXTURE=1`, then committed.

use std::path::{Path, PathBuf};

use toonstore::io::StdStorage;
use toonstore::store::{Options, Store};

fn fixture_dir(version: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/fixtures/format-v{version}"))
}

/// Documents by key, and by row id.
type Contents = (Vec<(String, String)>, Vec<(u64, String)>);

/// The fixture's contents: what was written, and what must read back.
fn contents() -> Contents {
    let keys = vec![
        ("config".to_owned(), "debug: false\nregion: eu-central-1\nreplicas: 3".to_owned()),
        ("user:1".to_owned(), "name: Ada Lovelace\ntags[2]: math,engines".to_owned()),
        ("user:2".to_owned(), "name: Linus\nscore: 1.5e-7\nnote: \"comma, inside\"".to_owned()),
        ("users".to_owned(), "users[2]{id,name}:\n  1,Ada\n  2,Linus".to_owned()),
    ];
    let rows = vec![(0, "event: login".to_owned()), (2, "event: logout".to_owned())];
    (keys, rows)
}

fn write_fixture(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let options = Options { segment_bytes: 512, ..Options::default() };
    let store = Store::open(StdStorage::open_dir(dir).unwrap(), options).unwrap();
    let (keys, _) = contents();
    for (key, text) in &keys {
        store.put(key, text).unwrap();
    }
    store.put("deleted", "gone: true").unwrap();
    store.delete("deleted").unwrap();
    assert_eq!(store.append("event: login").unwrap(), 0);
    assert_eq!(store.append("event: dropped").unwrap(), 1);
    assert_eq!(store.append("event: logout").unwrap(), 2);
    store.delete_row(1).unwrap();
    store.close().unwrap();
    drop(store);
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    // Made again by any writable open; not part of the format.
    std::fs::remove_file(dir.join("RESERVE")).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Opens a copy of fixture `version` (opening may tidy files; the fixture must stay as
/// committed) and reads everything back.
fn opens_and_reads_back(version: u32) {
    let fixture = fixture_dir(version);
    let mut names: Vec<String> = std::fs::read_dir(&fixture)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.contains(&"MANIFEST".to_owned()), "{names:?}");
    assert!(
        names.iter().filter(|n| n.starts_with("seg-")).count() >= 2,
        "several segments: {names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("hint-")), "a hint: {names:?}");

    let copy =
        std::env::temp_dir().join(format!("toonstore-fixture-{version}-{}", std::process::id()));
    copy_dir(&fixture, &copy);
    let store = Store::open(StdStorage::open_dir(&copy).unwrap(), Options::default()).unwrap();
    let (keys, rows) = contents();
    let scanned: Vec<(String, String)> =
        store.scan().map(|e| e.map(|(k, t)| (k.to_string(), t)).unwrap()).collect();
    assert_eq!(scanned, keys);
    for (id, text) in rows {
        assert_eq!(store.get_row(id).unwrap(), Some(text));
    }
    assert_eq!(store.get_row(1).unwrap(), None);
    assert_eq!(store.append("event: new").unwrap(), 3, "row ids continue past the fixture's");
    store.put("user:1", "name: Ada King").unwrap();
    store.close().unwrap();
    drop(store);
    let store = Store::open(StdStorage::open_dir(&copy).unwrap(), Options::default()).unwrap();
    assert_eq!(store.get_row(3).unwrap().as_deref(), Some("event: new"));
    assert_eq!(store.get("user:1").unwrap().as_deref(), Some("name: Ada King"));
    assert_eq!(store.get("config").unwrap().as_deref(), Some(keys[0].1.as_str()));
    drop(store);
    std::fs::remove_dir_all(&copy).unwrap();
}

#[test]
fn the_format_1_fixture_store_opens_reads_back_and_takes_writes() {
    opens_and_reads_back(1);
}

#[test]
fn the_format_2_fixture_store_opens_reads_back_and_takes_writes() {
    if std::env::var_os("TOONSTORE_WRITE_FIXTURE").is_some() {
        write_fixture(&fixture_dir(2));
    }
    opens_and_reads_back(2);
}
