//! `toonstore --db DIR <command>` works on a store end to end: put, get, delete, append,
//! scan, import, export, compact and stats, with `error: ...` and exit 1 on failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toonstore-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn toonstore(db: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_toonstore"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(db: &Path, args: &[&str], stdin: &str) -> String {
    let output = toonstore(db, args, stdin);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn failure(db: &Path, args: &[&str], stdin: &str) -> String {
    let output = toonstore(db, args, stdin);
    assert_eq!(output.status.code(), Some(1), "{args:?} should fail");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn documents_go_in_and_come_out() {
    let db = temp_dir("docs");
    ok(&db, &["put", "user:1", "name: Ada\ntags[2]: math,engines"], "");
    ok(&db, &["put", "user:2", "--json"], r#"{"name":"Linus","tags":["kernel"]}"#);
    ok(&db, &["put", "user:3", "-"], "name: Grace");
    assert_eq!(ok(&db, &["get", "user:1"], ""), "name: Ada\ntags[2]: math,engines\n");
    assert_eq!(
        ok(&db, &["get", "user:2", "--json"], ""),
        "{\"name\":\"Linus\",\"tags\":[\"kernel\"]}\n"
    );
    assert_eq!(ok(&db, &["append", "event: login"], ""), "0\n");
    assert_eq!(ok(&db, &["append"], "event: logout"), "1\n");
    assert_eq!(
        ok(&db, &["scan", "--prefix", "user:", "--limit", "2", "--json"], ""),
        "{\"key\":\"user:1\",\"value\":{\"name\":\"Ada\",\"tags\":[\"math\",\"engines\"]}}\n\
         {\"key\":\"user:2\",\"value\":{\"name\":\"Linus\",\"tags\":[\"kernel\"]}}\n"
    );
    assert_eq!(
        ok(&db, &["scan", "--from", "user:2", "--to", "user:3"], ""),
        "\"user:2\":\n  name: Linus\n  tags[1]: kernel\n"
    );
    ok(&db, &["delete", "user:3"], "");
    assert!(
        failure(&db, &["get", "user:3"], "").starts_with("error: no document under \"user:3\"")
    );
    assert!(failure(&db, &["delete", "user:3"], "").starts_with("error: "));
    let stats = ok(&db, &["stats", "--json"], "");
    assert!(stats.contains("\"keys\":2") && stats.contains("\"rows\":2"), "{stats}");
    assert!(ok(&db, &["compact"], "").starts_with("reclaimed "));
    assert_eq!(ok(&db, &["get", "user:1"], ""), "name: Ada\ntags[2]: math,engines\n");
    std::fs::remove_dir_all(db).unwrap();
}

#[test]
fn bad_input_fails_with_a_message() {
    let db = temp_dir("bad");
    let message = failure(&db, &["put", "k", "a: 1\nb[3]: x,y"], "");
    assert_eq!(
        message,
        "error: invalid TOON document: 2:1: expected 3 inline values, found 2 [count]\n"
    );
    assert!(failure(&db, &["put", "k", "--json"], "{oops").starts_with("error: invalid JSON"));
    let no_db = Command::new(env!("CARGO_BIN_EXE_toonstore")).args(["get", "k"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&no_db.stderr), "error: this command needs --db DIR\n");
    std::fs::remove_dir_all(db).unwrap();
}

#[test]
fn import_and_export_json_lines_and_toon_tables() {
    let db = temp_dir("import");
    let dir = temp_dir("import-files");
    std::fs::create_dir_all(&dir).unwrap();
    let jsonl = dir.join("users.jsonl");
    let lines: Vec<String> =
        (0..1200).map(|i| format!(r#"{{"id":"u{i:04}","n":{i},"ok":true}}"#)).collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    assert_eq!(
        ok(&db, &["import", jsonl.to_str().unwrap(), "--key-field", "id"], ""),
        "imported 1200 records\n"
    );
    let toon_rows = dir.join("events.toon");
    std::fs::write(&toon_rows, "[3]{at,what}:\n  1,start\n  2,run\n  3,stop").unwrap();
    assert_eq!(ok(&db, &["import", toon_rows.to_str().unwrap()], ""), "imported 3 records\n");

    let table = ok(&db, &["export", "--prefix", "u000"], "");
    assert_eq!(
        table,
        "[10:]{id,n,ok}:\n  u0000: u0000,0,true\n  u0001: u0001,1,true\n  u0002: u0002,2,true\n  u0003: u0003,3,true\n  \
         u0004: u0004,4,true\n  u0005: u0005,5,true\n  u0006: u0006,6,true\n  u0007: u0007,7,true\n  u0008: u0008,8,true\n  \
         u0009: u0009,9,true\n"
    );
    assert_eq!(ok(&db, &["export", "--rows"], ""), "[3]{at,what}:\n  1,start\n  2,run\n  3,stop\n");
    let jsonl_out = ok(&db, &["export", "--format", "jsonl"], "");
    assert_eq!(jsonl_out.lines().count(), 1200);
    assert_eq!(
        jsonl_out.lines().next(),
        Some(r#"{"key":"u0000","value":{"id":"u0000","n":0,"ok":true}}"#)
    );
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"id\":\"x\"}\n{\"no_id\":1}\n").unwrap();
    assert_eq!(
        failure(&db, &["import", bad.to_str().unwrap(), "--key-field", "id"], ""),
        "error: record 2 has no string or number field \"id\"\n"
    );
    std::fs::remove_dir_all(db).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
