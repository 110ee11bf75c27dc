//! `toonstore toon encode|decode|check` turn JSON into TOON and back through stdin and
//! stdout, report bad input as `line:column: message` (check) or `error: ...`, and exit 1.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn toonstore(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_toonstore"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the toonstore binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

const JSON: &str = r#"{"users":[{"id":1,"name":"Ada","tags":"x,y"},{"id":2,"name":"Linus","tags":"z"}],"ok":true}"#;

#[test]
fn encode_then_decode_gives_the_json_back() {
    let toon = stdout(&toonstore(&["toon", "encode"], JSON));
    assert_eq!(toon, "users[2]{id,name,tags}:\n  1,Ada,\"x,y\"\n  2,Linus,z\nok: true\n");
    let json = stdout(&toonstore(&["toon", "decode"], &toon));
    assert_eq!(json.trim_end(), JSON);
}

#[test]
fn encode_takes_delimiter_and_indent() {
    let toon = stdout(&toonstore(&["toon", "encode", "--delimiter", "|", "--indent", "4"], JSON));
    assert_eq!(toon, "users[2|]{id|name|tags}:\n    1|Ada|x,y\n    2|Linus|z\nok: true\n");
    let tab = stdout(&toonstore(&["toon", "encode", "--delimiter", "tab"], r#"{"a":[1,2]}"#));
    assert_eq!(tab, "a[2\t]: 1\t2\n");
    let back = stdout(&toonstore(&["toon", "decode", "--indent", "4"], &toon));
    assert_eq!(back.trim_end(), JSON);
}

#[test]
fn check_accepts_valid_toon_silently() {
    let output = toonstore(&["toon", "check"], "a: 1\nb[2]: x,y\n");
    assert!(output.status.success());
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
}

#[test]
fn check_reports_line_and_column() {
    let output = toonstore(&["toon", "check"], "a: 1\nb[3]: x,y\nc: \"bad\\q\"\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "2:1: expected 3 inline values, found 2 [count]\n"
    );
    let escape = toonstore(&["toon", "check"], "a: 1\nc: \"bad\\q\"\n");
    assert_eq!(
        String::from_utf8_lossy(&escape.stderr),
        "2:8: invalid escape sequence \\q [string]\n"
    );
}

#[test]
fn no_strict_accepts_what_strict_rejects() {
    let toon = "b[3]: x,y\n";
    assert_eq!(toonstore(&["toon", "decode"], toon).status.code(), Some(1));
    assert_eq!(
        stdout(&toonstore(&["toon", "decode", "--no-strict"], toon)).trim_end(),
        r#"{"b":["x","y"]}"#
    );
}

#[test]
fn bad_input_is_an_error_with_a_non_zero_exit() {
    let output = toonstore(&["toon", "encode"], "{not json");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: invalid JSON: "));
    let output = toonstore(&["toon", "decode"], "a:\n    b: 1\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: 2:5: indentation jumps from depth 0 to 2 [indentation]\n"
    );
}
