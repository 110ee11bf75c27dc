//! Writes a section of `BENCHMARKS.md` from the last criterion run.
//!
//! Usage: `cargo run -p toonstore-benches --bin report -- SECTION "RUN DESCRIPTION"`
//! (`benches/run.sh` passes the date and machine).

use std::fmt::Write;
use std::path::Path;

use toonstore_benches::report::{Measurement, criterion_dir, load, load_external, write_section};

fn main() {
    let section = std::env::args().nth(1).unwrap_or_else(|| "codec".into());
    let run = std::env::args().nth(2).unwrap_or_else(|| "an undescribed run".into());
    let mut results = load(&criterion_dir());
    // Runners outside criterion (node) file their results under the same (group, function).
    for ((group, function), m) in load_external(&section) {
        results.insert((group, function), m);
    }
    let body = match section.as_str() {
        "codec" => codec(&results, &run),
        other => {
            eprintln!("error: unknown section {other:?} (known: codec)");
            std::process::exit(2);
        }
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
    write_section(&file, &section, &body).expect("BENCHMARKS.md is writable");
    println!("{body}");
}

type Results = std::collections::BTreeMap<(String, String), Measurement>;

fn get<'r>(results: &'r Results, group: &str, function: &str) -> Option<&'r Measurement> {
    results.get(&(group.to_owned(), function.to_owned()))
}

fn mbs(m: Option<&Measurement>) -> Option<f64> {
    m.and_then(Measurement::mb_per_s)
}

fn fmt_mbs(v: Option<f64>) -> String {
    v.map_or_else(|| "not run".into(), |v| format!("{v:.0}"))
}

/// The codec table: MB/s of each format's own text, and our ratios to serde_toon.
fn codec(results: &Results, run: &str) -> String {
    let mut out = String::new();
    writeln!(out, "## TOON codec\n").unwrap();
    writeln!(
        out,
        "{run}: `cargo bench -p toonstore-benches --bench toon_codec`, then \
         `cargo run -p toonstore-benches --bin report -- codec`. MB/s (10^6 bytes) of each \
         format's own text, median of criterion's samples; decoding builds each library's \
         dynamic value (`toonstore::toon::Value`, `serde_toon::Value`, `serde_json::Value`). \
         The TOON texts of all four TOON libraries are byte-identical on these documents. \
         The TypeScript reference runs in node {} on the same texts, timed by \
         `tests/oracle/toon-bench.mjs` in the same run.\n",
        node_version()
    )
    .unwrap();
    writeln!(out, "| document | operation | toonstore | serde_toon 0.3.0 | toon-format 0.7 | @toon-format/toon 4.4 (node) | serde_json (JSON) |").unwrap();
    writeln!(out, "|---|---|---:|---:|---:|---:|---:|").unwrap();
    let mut targets = String::new();
    for (doc, group) in
        [("tabular (5,000 x 6)", "codec-tabular"), ("nested, non-uniform", "codec-nested")]
    {
        let size = get(results, group, "decode/toonstore").and_then(|m| m.bytes).unwrap_or(0);
        let json_size = get(results, group, "decode/serde_json").and_then(|m| m.bytes).unwrap_or(0);
        let doc = format!(
            "{doc}: {:.2} MB TOON, {:.2} MB JSON",
            size as f64 / 1e6,
            json_size as f64 / 1e6
        );
        for op in ["decode", "validate", "encode"] {
            let ours = mbs(get(results, group, &format!("{op}/toonstore")));
            let peer = |lib: &str| mbs(get(results, group, &format!("{op}/{lib}")));
            let cell = |v: Option<f64>| if op == "validate" { "-".to_owned() } else { fmt_mbs(v) };
            writeln!(
                out,
                "| {doc} | {op} | {} | {} | {} | {} | {} |",
                fmt_mbs(ours),
                cell(peer("serde_toon")),
                cell(peer("toon_format")),
                cell(peer("reference_js")),
                cell(peer("serde_json")),
            )
            .unwrap();
        }
        let serde_toon_decode = mbs(get(results, group, "decode/serde_toon"));
        let serde_toon_encode = mbs(get(results, group, "encode/serde_toon"));
        for (what, ours, theirs, target) in [
            (
                "decode vs serde_toon decode",
                mbs(get(results, group, "decode/toonstore")),
                serde_toon_decode,
                1.5,
            ),
            (
                "validate vs serde_toon decode",
                mbs(get(results, group, "validate/toonstore")),
                serde_toon_decode,
                3.0,
            ),
            (
                "encode vs serde_toon encode",
                mbs(get(results, group, "encode/toonstore")),
                serde_toon_encode,
                1.2,
            ),
        ] {
            let line = match (ours, theirs) {
                (Some(o), Some(t)) => {
                    let ratio = o / t;
                    let verdict = if ratio >= target { "met" } else { "MISSED" };
                    format!("| {doc} | {what} | {ratio:.2}x | >= {target}x | {verdict} |")
                }
                _ => format!("| {doc} | {what} | not run | >= {target}x | not run |"),
            };
            writeln!(targets, "{line}").unwrap();
        }
    }
    writeln!(
        out,
        "\n| document | ratio | measured | target | |\n|---|---|---:|---:|---|\n{targets}"
    )
    .unwrap();
    out.trim_end().to_owned()
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "(version unknown)".into(), |v| v.trim().to_owned())
}
