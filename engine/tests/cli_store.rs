//! `toonstore --db DIR <command>` works on a store end to end: put, get, delete, append,
//! scan, import, export, compact and stats, with `error: ...` and exit 1 on failure; natively
//! and as `toonstore.wasm` under wasmtime and node:wasi (paths are relative to the test's
//! working directory, which the wasm runtimes preopen).

mod common;

use common::cli::{Cli, Runtime};

fn documents_go_in_and_come_out(runtime: Runtime) {
    let cli = Cli::new(runtime, "documents_go_in_and_come_out");
    cli.ok(&["--db", "db", "put", "user:1", "name: Ada\ntags[2]: math,engines"], "");
    cli.ok(&["--db", "db", "put", "user:2", "--json"], r#"{"name":"Linus","tags":["kernel"]}"#);
    cli.ok(&["--db", "db", "put", "user:3", "-"], "name: Grace");
    assert_eq!(cli.ok(&["--db", "db", "get", "user:1"], ""), "name: Ada\ntags[2]: math,engines\n");
    assert_eq!(
        cli.ok(&["--db", "db", "get", "user:2", "--json"], ""),
        "{\"name\":\"Linus\",\"tags\":[\"kernel\"]}\n"
    );
    assert_eq!(cli.ok(&["--db", "db", "append", "event: login"], ""), "0\n");
    assert_eq!(cli.ok(&["--db", "db", "append"], "event: logout"), "1\n");
    assert_eq!(
        cli.ok(&["--db", "db", "scan", "--prefix", "user:", "--limit", "2", "--json"], ""),
        "{\"key\":\"user:1\",\"value\":{\"name\":\"Ada\",\"tags\":[\"math\",\"engines\"]}}\n\
         {\"key\":\"user:2\",\"value\":{\"name\":\"Linus\",\"tags\":[\"kernel\"]}}\n"
    );
    assert_eq!(
        cli.ok(&["--db", "db", "scan", "--from", "user:2", "--to", "user:3"], ""),
        "\"user:2\":\n  name: Linus\n  tags[1]: kernel\n"
    );
    // A prefix and a start key together: keys with the prefix from the start key on (the
    // start key "a" sorts before the prefix; a key "b" outside the prefix must not end it).
    cli.ok(&["--db", "db", "put", "b", "outside: true"], "");
    assert_eq!(
        cli.ok(&["--db", "db", "scan", "--prefix", "user:", "--from", "a", "--limit", "1"], ""),
        "\"user:1\":\n  name: Ada\n  tags[2]: math,engines\n"
    );
    assert_eq!(
        cli.ok(&["--db", "db", "scan", "--prefix", "user:", "--from", "user:3", "--json"], ""),
        "{\"key\":\"user:3\",\"value\":{\"name\":\"Grace\"}}\n"
    );
    cli.ok(&["--db", "db", "delete", "b"], "");
    cli.ok(&["--db", "db", "delete", "user:3"], "");
    assert!(
        cli.failure(&["--db", "db", "get", "user:3"], "")
            .starts_with("error: no document under \"user:3\"")
    );
    assert!(cli.failure(&["--db", "db", "delete", "user:3"], "").starts_with("error: "));
    let stats = cli.ok(&["--db", "db", "stats", "--json"], "");
    assert!(stats.contains("\"keys\":2") && stats.contains("\"rows\":2"), "{stats}");
    assert!(cli.ok(&["--db", "db", "compact"], "").starts_with("reclaimed "));
    assert_eq!(cli.ok(&["--db", "db", "get", "user:1"], ""), "name: Ada\ntags[2]: math,engines\n");
}

fn bad_input_fails_with_a_message(runtime: Runtime) {
    let cli = Cli::new(runtime, "bad_input_fails_with_a_message");
    let message = cli.failure(&["--db", "db", "put", "k", "a: 1\nb[3]: x,y"], "");
    assert_eq!(
        message,
        "error: invalid TOON document: 2:1: expected 3 inline values, found 2 [count]\n"
    );
    assert!(
        cli.failure(&["--db", "db", "put", "k", "--json"], "{oops")
            .starts_with("error: invalid JSON")
    );
    let no_db = cli.run(&["get", "k"], "");
    assert_eq!(String::from_utf8_lossy(&no_db.stderr), "error: this command needs --db DIR\n");
}

fn import_and_export_json_lines_and_toon_tables(runtime: Runtime) {
    let cli = Cli::new(runtime, "import_and_export_json_lines_and_toon_tables");
    let jsonl = cli.path("users.jsonl");
    let lines: Vec<String> =
        (0..1200).map(|i| format!(r#"{{"id":"u{i:04}","n":{i},"ok":true}}"#)).collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    assert_eq!(
        cli.ok(&["--db", "db", "import", "users.jsonl", "--key-field", "id"], ""),
        "imported 1200 records\n"
    );
    let toon_rows = cli.path("events.toon");
    std::fs::write(&toon_rows, "[3]{at,what}:\n  1,start\n  2,run\n  3,stop").unwrap();
    assert_eq!(cli.ok(&["--db", "db", "import", "events.toon"], ""), "imported 3 records\n");

    let table = cli.ok(&["--db", "db", "export", "--prefix", "u000"], "");
    assert_eq!(
        table,
        "[10:]{id,n,ok}:\n  u0000: u0000,0,true\n  u0001: u0001,1,true\n  u0002: u0002,2,true\n  u0003: u0003,3,true\n  \
         u0004: u0004,4,true\n  u0005: u0005,5,true\n  u0006: u0006,6,true\n  u0007: u0007,7,true\n  u0008: u0008,8,true\n  \
         u0009: u0009,9,true\n"
    );
    assert_eq!(
        cli.ok(&["--db", "db", "export", "--rows"], ""),
        "[3]{at,what}:\n  1,start\n  2,run\n  3,stop\n"
    );
    let jsonl_out = cli.ok(&["--db", "db", "export", "--format", "jsonl"], "");
    assert_eq!(jsonl_out.lines().count(), 1200);
    assert_eq!(
        jsonl_out.lines().next(),
        Some(r#"{"key":"u0000","value":{"id":"u0000","n":0,"ok":true}}"#)
    );
    let bad = cli.path("bad.jsonl");
    std::fs::write(&bad, "{\"id\":\"x\"}\n{\"no_id\":1}\n").unwrap();
    assert_eq!(
        cli.failure(&["--db", "db", "import", "bad.jsonl", "--key-field", "id"], ""),
        "error: record 2 has no string or number field \"id\"\n"
    );
}

on_every_runtime!(
    documents_go_in_and_come_out,
    bad_input_fails_with_a_message,
    import_and_export_json_lines_and_toon_tables,
);
