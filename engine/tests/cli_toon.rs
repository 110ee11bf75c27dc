//! `toonstore toon encode|decode|check` turn JSON into TOON and back through stdin and
//! stdout, report bad input as `line:column: message` (check) or `error: ...`, and exit 1;
//! natively and as `toonstore.wasm` under wasmtime and node:wasi.

mod common;

use std::process::Output;

use common::cli::{Cli, Runtime};

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

const JSON: &str = r#"{"users":[{"id":1,"name":"Ada","tags":"x,y"},{"id":2,"name":"Linus","tags":"z"}],"ok":true}"#;

fn encode_then_decode_gives_the_json_back(runtime: Runtime) {
    let cli = Cli::new(runtime, "encode_then_decode_gives_the_json_back");
    let toon = stdout(&cli.run(&["toon", "encode"], JSON));
    assert_eq!(toon, "users[2]{id,name,tags}:\n  1,Ada,\"x,y\"\n  2,Linus,z\nok: true\n");
    let json = stdout(&cli.run(&["toon", "decode"], &toon));
    assert_eq!(json.trim_end(), JSON);
}

fn encode_takes_delimiter_and_indent(runtime: Runtime) {
    let cli = Cli::new(runtime, "encode_takes_delimiter_and_indent");
    let toon = stdout(&cli.run(&["toon", "encode", "--delimiter", "|", "--indent", "4"], JSON));
    assert_eq!(toon, "users[2|]{id|name|tags}:\n    1|Ada|x,y\n    2|Linus|z\nok: true\n");
    let tab = stdout(&cli.run(&["toon", "encode", "--delimiter", "tab"], r#"{"a":[1,2]}"#));
    assert_eq!(tab, "a[2\t]: 1\t2\n");
    let back = stdout(&cli.run(&["toon", "decode", "--indent", "4"], &toon));
    assert_eq!(back.trim_end(), JSON);
}

fn check_accepts_valid_toon_silently(runtime: Runtime) {
    let cli = Cli::new(runtime, "check_accepts_valid_toon_silently");
    let output = cli.run(&["toon", "check"], "a: 1\nb[2]: x,y\n");
    assert!(output.status.success());
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
}

fn check_reports_line_and_column(runtime: Runtime) {
    let cli = Cli::new(runtime, "check_reports_line_and_column");
    let output = cli.run(&["toon", "check"], "a: 1\nb[3]: x,y\nc: \"bad\\q\"\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "2:1: expected 3 inline values, found 2 [count]\n"
    );
    let escape = cli.run(&["toon", "check"], "a: 1\nc: \"bad\\q\"\n");
    assert_eq!(
        String::from_utf8_lossy(&escape.stderr),
        "2:8: invalid escape sequence \\q [string]\n"
    );
}

fn no_strict_accepts_what_strict_rejects(runtime: Runtime) {
    let cli = Cli::new(runtime, "no_strict_accepts_what_strict_rejects");
    let toon = "b[3]: x,y\n";
    assert_eq!(cli.run(&["toon", "decode"], toon).status.code(), Some(1));
    assert_eq!(
        stdout(&cli.run(&["toon", "decode", "--no-strict"], toon)).trim_end(),
        r#"{"b":["x","y"]}"#
    );
}

fn bad_input_is_an_error_with_a_non_zero_exit(runtime: Runtime) {
    let cli = Cli::new(runtime, "bad_input_is_an_error_with_a_non_zero_exit");
    let output = cli.run(&["toon", "encode"], "{not json");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: invalid JSON: "));
    let output = cli.run(&["toon", "decode"], "a:\n    b: 1\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: 2:5: indentation jumps from depth 0 to 2 [indentation]\n"
    );
}

on_every_runtime!(
    encode_then_decode_gives_the_json_back,
    encode_takes_delimiter_and_indent,
    check_accepts_valid_toon_silently,
    check_reports_line_and_column,
    no_strict_accepts_what_strict_rejects,
    bad_input_is_an_error_with_a_non_zero_exit,
);
