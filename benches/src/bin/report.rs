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
    if section == "wasi" {
        results.extend(load_wasi());
        results.extend(load_rounds("shim-"));
    }
    if section == "previous" {
        results.extend(load_rounds("previous-"));
    }
    let body = match section.as_str() {
        "codec" => codec(&results, &run),
        "engine" => engine(&results, &run),
        "wasi" => wasi(&results, &run),
        "browser" => browser(&results, &run),
        "previous" => previous(&results, &run),
        other => {
            eprintln!(
                "error: unknown section {other:?} (known: codec, engine, wasi, browser, previous)"
            );
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
    let small = |function: &str| mbs(get(results, "codec-1k", function));
    let size = get(results, "codec-1k", "validate/toonstore").and_then(|m| m.bytes).unwrap_or(0);
    writeln!(
        out,
        "\nDocuments as a store holds them: 1,000 documents of about 1 KB ({:.0} KB in all, \
         the engine benchmarks' generator), one call per document. `canonical` is \
         `toon::is_canonical`, the proof every put of TOON text makes.\n",
        size as f64 / 1e3
    )
    .unwrap();
    writeln!(out, "| 1 KB documents | toonstore | serde_toon 0.3.0 |\n|---|---:|---:|").unwrap();
    for op in ["validate", "canonical", "decode"] {
        let peer = if op == "decode" { fmt_mbs(small("decode/serde_toon")) } else { "-".into() };
        writeln!(out, "| {op} | {} | {peer} |", fmt_mbs(small(&format!("{op}/toonstore"))))
            .unwrap();
    }
    for (what, measured, goal, higher) in [
        ("validate (GB/s)", small("validate/toonstore").map(|v| v / 1e3), 1.5, true),
        (
            "canonical proof time / validation time",
            ratio(small("validate/toonstore"), small("canonical/toonstore")),
            1.2,
            false,
        ),
    ] {
        let cells = judged(measured, goal, higher, "");
        writeln!(targets, "| 1 KB documents | {what} | {cells} |").unwrap();
    }
    writeln!(
        out,
        "\n| document | ratio | measured | target | |\n|---|---|---:|---:|---|\n{targets}{}",
        why_missed(&targets)
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

fn per_s(m: Option<&Measurement>) -> Option<f64> {
    m.and_then(Measurement::per_s)
}

fn fmt_rate(v: Option<f64>) -> String {
    match v {
        None => "not run".into(),
        Some(v) if v >= 1e6 => format!("{:.2}M/s", v / 1e6),
        Some(v) if v >= 1e3 => format!("{:.1}k/s", v / 1e3),
        Some(v) => format!("{v:.0}/s"),
    }
}

/// The engine table: operations per second per system, and our ratios against the targets.
fn engine(results: &Results, run: &str) -> String {
    let rate = |group: &str, function: &str| per_s(get(results, group, function));
    let mut out = String::new();
    writeln!(out, "## Storage engine\n").unwrap();
    writeln!(
        out,
        "{run}: `cargo bench -p toonstore-benches --bench engine`, then `cargo run -p \
         toonstore-benches --bin report -- engine`. 1 KB TOON documents, 100,000 keys, each sample \
         the whole workload on a fresh store (set-up untimed), median of 10. Peers: fjall 3, redb \
         4 (a durable commit per put, so timed on 2% of the puts), SQLite through rusqlite \
         (bundled, WAL, synchronous=NORMAL, 8 KiB pages; timed on 10% of the puts), and an \
         append-file + HashMap baseline.\n"
    )
    .unwrap();
    writeln!(out, "| workload | toonstore | baseline | fjall | redb | SQLite |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---:|").unwrap();
    let rows: [(&str, &str, [&str; 5]); 6] = [
        (
            "put (Eventual, validated)",
            "engine-put",
            ["toonstore", "baseline-buffered", "fjall", "redb-txn-per-op", "sqlite"],
        ),
        ("put, one write per op", "engine-put", ["", "baseline-write-per-op", "", "", ""]),
        (
            "get, uncached",
            "engine-get",
            ["toonstore-uncached", "baseline-mmap", "fjall", "redb", "sqlite"],
        ),
        ("get, by pread", "engine-get", ["", "baseline-pread", "", "", ""]),
        ("scan (rows/s)", "engine-scan", ["toonstore", "baseline-mmap", "", "", ""]),
        ("50/50 get/put", "engine-mixed", ["toonstore", "", "fjall", "", ""]),
    ];
    for (name, group, functions) in rows {
        let cells: Vec<String> = functions
            .iter()
            .map(|f| if f.is_empty() { "-".to_owned() } else { fmt_rate(rate(group, f)) })
            .collect();
        writeln!(out, "| {name} | {} |", cells.join(" | ")).unwrap();
    }
    writeln!(
        out,
        "| durable put, 1 writer | {} | {} | {} | - | - |",
        fmt_rate(rate("engine-durable-put", "toonstore-immediate-1-writer")),
        fmt_rate(rate("engine-durable-put", "baseline-fdatasync")),
        fmt_rate(rate("engine-durable-put", "fjall-syncdata")),
    )
    .unwrap();
    writeln!(
        out,
        "| durable put, 8 writers | {} | - | - | - | - |",
        fmt_rate(rate("engine-durable-put", "toonstore-immediate-8-writers"))
    )
    .unwrap();
    let cached = rate("engine-get", "toonstore-cached-decoded");
    writeln!(out, "| get of a cached decoded document | {} | - | - | - | - |", fmt_rate(cached))
        .unwrap();
    writeln!(
        out,
        "| get of a cached decoded document, 2 threads | {} | - | - | - | - |",
        fmt_rate(rate("engine-get", "toonstore-cached-decoded-2-threads"))
    )
    .unwrap();
    let open_ms = get(results, "engine-open", "toonstore-1m-keys").map(|m| m.median_ns / 1e6);
    let compaction = get(results, "engine-compaction", "disk-per-live").map(|m| m.median_ns);

    let mut targets = Targets::default();
    let put = rate("engine-put", "toonstore");
    targets.at_least(
        "put vs buffered baseline",
        ratio(put, rate("engine-put", "baseline-buffered")),
        0.5,
    );
    targets.at_least("put vs fjall", ratio(put, rate("engine-put", "fjall")), 2.0);
    let get_rate = rate("engine-get", "toonstore-uncached");
    targets.at_least(
        "uncached get vs mmap baseline",
        ratio(get_rate, rate("engine-get", "baseline-mmap")),
        0.7,
    );
    targets.at_least("uncached get vs redb", ratio(get_rate, rate("engine-get", "redb")), 5.0);
    targets.add("cached decoded get, 1 thread (M/s)", cached.map(|c| c / 1e6), 10.0, true, "");
    targets.at_least(
        "cached decoded get, 2 threads vs 1 (2 cores)",
        ratio(rate("engine-get", "toonstore-cached-decoded-2-threads"), cached),
        1.6,
    );
    targets.at_least(
        "scan vs mmap baseline",
        ratio(rate("engine-scan", "toonstore"), rate("engine-scan", "baseline-mmap")),
        0.7,
    );
    targets.at_least(
        "50/50 mixed vs fjall",
        ratio(rate("engine-mixed", "toonstore"), rate("engine-mixed", "fjall")),
        2.0,
    );
    targets.add("open of a 1M-key store (ms)", open_ms, 150.0, false, "");
    let immediate = rate("engine-durable-put", "toonstore-immediate-1-writer");
    targets.at_least(
        "Immediate, 1 writer vs fjall SyncData",
        ratio(immediate, rate("engine-durable-put", "fjall-syncdata")),
        1.2,
    );
    targets.at_least(
        "Immediate, 8 writers vs 1 writer",
        ratio(rate("engine-durable-put", "toonstore-immediate-8-writers"), immediate),
        4.0,
    );
    targets.add("disk after compaction / live data", compaction, 1.1, false, "");
    writeln!(out, "\n{}", targets.table()).unwrap();
    out.trim_end().to_owned()
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    a.zip(b).map(|(a, b)| a / b)
}

/// The measured, goal and verdict cells of a target row: `higher` when the goal is a floor.
fn judged(measured: Option<f64>, goal: f64, higher: bool, unit: &str) -> String {
    let Some(v) = measured else { return format!("not run | {goal}{unit} | not run") };
    let met = if higher { v >= goal } else { v <= goal };
    let sign = if higher { ">=" } else { "<=" };
    format!("{v:.2}{unit} | {sign} {goal}{unit} | {}", if met { "met" } else { "MISSED" })
}

/// Under a targets table with a miss: where the profile of each miss is described.
fn why_missed(rows: &str) -> &'static str {
    match rows.contains("MISSED") {
        true => {
            "\nWhat the profile of each MISSED row shows: [benches/PROFILES.md](benches/PROFILES.md).\n"
        }
        false => "",
    }
}

/// The rows of a targets table: what was measured against its goal, met or MISSED.
#[derive(Default)]
struct Targets(String);

impl Targets {
    fn add(&mut self, what: &str, measured: Option<f64>, goal: f64, higher: bool, unit: &str) {
        writeln!(self.0, "| {what} | {} |", judged(measured, goal, higher, unit)).unwrap();
    }

    /// A ratio that must reach `goal` (most targets: "at least Nx the peer").
    fn at_least(&mut self, what: &str, measured: Option<f64>, goal: f64) {
        self.add(what, measured, goal, true, "x");
    }

    /// The table, and where its misses are explained when it has any.
    fn table(&self) -> String {
        format!(
            "| target | measured | goal | |\n|---|---:|---:|---|\n{}{}",
            self.0,
            why_missed(&self.0)
        )
    }
}

/// The runtimes of the WASI section, as `benches/run.sh wasi` names their result files.
const WASI_RUNTIMES: [(&str, &str); 4] = [
    ("native", "native (mmap)"),
    ("native-std", "native (std files)"),
    ("host", "toonstore-host (wasi-common)"),
    ("wasmtime", "wasmtime CLI 36.0.20"),
];

/// The results `benches/run.sh wasi` leaves: `wasi-RUNTIME.json` per runtime (phases) and
/// `wasi-start.json`, as (`wasi-PHASE`, RUNTIME) and (`wasi-start`, what).
fn load_wasi() -> Results {
    let dir = toonstore_benches::report::bench_data_dir();
    let read = |name: &str| -> serde_json::Value {
        let path = dir.join(format!("{name}.json"));
        std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| panic!("{} is missing or not JSON", path.display()))
    };
    let measurement = |m: &serde_json::Value| Measurement {
        median_ns: m["median_ns"].as_f64().expect("median_ns"),
        bytes: m["bytes"].as_u64(),
        elements: m["elements"].as_u64(),
    };
    let mut results = Results::new();
    for (runtime, _) in WASI_RUNTIMES {
        for (phase, m) in read(&format!("wasi-{runtime}")).as_object().expect("phases") {
            results.insert((format!("wasi-{phase}"), runtime.to_owned()), measurement(m));
        }
    }
    for (what, m) in read("wasi-start").as_object().expect("start times") {
        results.insert(("wasi-start".to_owned(), what.clone()), measurement(m));
    }
    results
}

/// The WASI table: the engine workload natively and inside wasmtime, and module start times.
fn wasi(results: &Results, run: &str) -> String {
    let rate = |phase: &str, runtime: &str| per_s(get(results, &format!("wasi-{phase}"), runtime));
    let ms = |what: &str| get(results, "wasi-start", what).map(|m| m.median_ns / 1e6);
    let mut out = String::new();
    writeln!(out, "## WASI\n").unwrap();
    writeln!(
        out,
        "{run}: `benches/run.sh wasi`. The program `engine/examples/workload.rs` (100,000 keys of \
         1 KB TOON documents, puts then a sync, uniformly random gets with the decoded-document \
         cache off, one full scan; median of 3 fresh stores, timed inside the program) built \
         natively and for `wasm32-wasip1` (release), run natively and as the same module under \
         our host and under the wasmtime CLI. Start times from `host/examples/start_time.rs` on \
         `toonstore.wasm` ({} bytes).\n",
        get(results, "wasi-start", "compile").and_then(|m| m.bytes).unwrap_or(0)
    )
    .unwrap();
    let header: Vec<&str> = WASI_RUNTIMES.iter().map(|(_, name)| *name).collect();
    writeln!(out, "| workload | {} |", header.join(" | ")).unwrap();
    writeln!(out, "|---|{}", "---:|".repeat(WASI_RUNTIMES.len())).unwrap();
    for (phase, name) in
        [("put", "put (Eventual, validated)"), ("get", "get, uncached"), ("scan", "scan (rows/s)")]
    {
        let cells: Vec<String> =
            WASI_RUNTIMES.iter().map(|(runtime, _)| fmt_rate(rate(phase, runtime))).collect();
        writeln!(out, "| {name} | {} |", cells.join(" | ")).unwrap();
    }
    let fmt_ms = |v: Option<f64>| v.map_or_else(|| "not run".into(), |v| format!("{v:.2} ms"));
    writeln!(
        out,
        "\nStart of `toonstore.wasm` in toonstore-host: compiled {}, loaded from the module cache \
         {}, whole run of `--version` from the cache {}.",
        fmt_ms(ms("compile")),
        fmt_ms(ms("cached_load")),
        fmt_ms(ms("cached_run"))
    )
    .unwrap();
    let mut targets = Targets::default();
    for (runtime, name) in [("host", "toonstore-host"), ("wasmtime", "wasmtime CLI")] {
        for phase in ["put", "get"] {
            let measured = ratio(rate(phase, runtime), rate(phase, "native"));
            targets.at_least(&format!("{phase}, {name} vs native"), measured, 0.7);
        }
    }
    targets.add("start of a cached module (ms)", ms("cached_run"), 10.0, false, "");
    shim_against_previous(results, &mut out, &mut targets);
    writeln!(out, "\n{}", targets.table()).unwrap();
    out.trim_end().to_owned()
}

/// What the shim's work of issue 11 costs: the same module under this tree's host and under
/// the previous revision's, in turns in the same run, without and with a quota.
fn shim_against_previous(results: &Results, out: &mut String, targets: &mut Targets) {
    let rev =
        std::fs::read_to_string(toonstore_benches::report::bench_data_dir().join("shim-rev.txt"))
            .map(|r| r.trim().to_owned())
            .unwrap_or_else(|_| "?".into());
    let rate = |phase: &str, which: &str| per_s(get(results, &format!("shim-{phase}"), which));
    writeln!(
        out,
        "\nThe host against its previous code: the same `workload.wasm` under `toonstore-host` built \
         from this tree and from `{rev}` (before the hostile-guest work of issue 11), run in turns, \
         five times each, without a quota and with `--quota 8G`; the median of the five.\n"
    )
    .unwrap();
    writeln!(out, "| workload | quota | this host | {rev}'s host | ratio |").unwrap();
    writeln!(out, "|---|---|---:|---:|---:|").unwrap();
    for (quota, quota_name) in [("free", "none"), ("quota", "8G")] {
        for (phase, name) in [
            ("put", "put (Eventual, validated)"),
            ("get", "get, uncached"),
            ("scan", "scan (rows/s)"),
        ] {
            let now = rate(phase, &format!("current-{quota}"));
            let before = rate(phase, &format!("previous-{quota}"));
            let ratio = ratio(now, before);
            let cell = ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}x"));
            writeln!(
                out,
                "| {name} | {quota_name} | {} | {} | {cell} |",
                fmt_rate(now),
                fmt_rate(before)
            )
            .unwrap();
            if phase != "scan" {
                targets.at_least(
                    &format!("{phase}, host vs {rev}'s, quota {quota_name}"),
                    ratio,
                    0.95,
                );
            }
        }
    }
}

/// Results run in rounds: `PREFIX{WHICH}-ROUND.json` (`benches/run.sh previous` leaves
/// `previous-{current,previous}-ROUND.json`, `benches/run.sh wasi` leaves
/// `shim-{current,previous}-{free,quota}-ROUND.json`), as (`PREFIXPHASE`, WHICH), each the
/// median over the rounds' medians.
fn load_rounds(prefix: &str) -> Results {
    let dir = toonstore_benches::report::bench_data_dir();
    let mut runs: std::collections::BTreeMap<(String, String), Vec<Measurement>> =
        Default::default();
    for entry in std::fs::read_dir(&dir).expect("target/bench-data") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(".json")) else {
            continue;
        };
        let Some((which, _round)) = rest.rsplit_once('-') else { continue };
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(&name)).unwrap()).expect("JSON");
        for (phase, m) in json.as_object().expect("phases") {
            let measurement = Measurement {
                median_ns: m["median_ns"].as_f64().expect("median_ns"),
                bytes: m["bytes"].as_u64(),
                elements: m["elements"].as_u64(),
            };
            runs.entry((format!("{prefix}{phase}"), which.to_owned()))
                .or_default()
                .push(measurement);
        }
    }
    runs.into_iter()
        .map(|(key, mut ms)| {
            ms.sort_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
            let median = ms[ms.len() / 2].clone();
            (key, median)
        })
        .collect()
}

/// The engine against its previous code: the same workload program at two revisions, run in
/// turns in one run.
fn previous(results: &Results, run: &str) -> String {
    let rev = std::fs::read_to_string(
        toonstore_benches::report::bench_data_dir().join("previous-rev.txt"),
    )
    .map(|r| r.trim().to_owned())
    .unwrap_or_else(|_| "?".into());
    let rate = |phase: &str, which: &str| per_s(get(results, &format!("previous-{phase}"), which));
    let mut out = String::new();
    writeln!(
        out,
        "## The engine against its previous code
"
    )
    .unwrap();
    writeln!(
        out,
        "{run}: `benches/run.sh previous {rev}`. The program `engine/examples/workload.rs`          (100,000 keys of 1 KB TOON documents: puts then a sync, uniformly random gets with the          decoded-document cache off, one full scan; median of 3 fresh stores) built from this          tree and from `{rev}` (before the durability work of issue 10: format 1), run natively          in turns, five times each; the median of the five.
"
    )
    .unwrap();
    writeln!(out, "| workload | this tree | {rev} | ratio |").unwrap();
    writeln!(out, "|---|---:|---:|---:|").unwrap();
    let mut targets = Targets::default();
    for (phase, name) in
        [("put", "put (Eventual, validated)"), ("get", "get, uncached"), ("scan", "scan (rows/s)")]
    {
        let (now, before) = (rate(phase, "current"), rate(phase, "previous"));
        let ratio = ratio(now, before);
        let cell = ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}x"));
        writeln!(out, "| {name} | {} | {} | {cell} |", fmt_rate(now), fmt_rate(before)).unwrap();
        if phase != "scan" {
            targets.at_least(&format!("{phase} vs {rev}"), ratio, 0.95);
        }
    }
    writeln!(
        out,
        "
{}",
        targets.table()
    )
    .unwrap();
    out.trim_end().to_owned()
}

/// The browser section: for Chromium and Firefox (`www/bench/run.mjs`, one session each), the
/// one-page table (inside a worker against raw OPFS and sqlite-wasm, and through the
/// main-thread API against idb-keyval) and the multi-tab figures (`www/bench/tabs.mjs`).
fn browser(results: &Results, run: &str) -> String {
    let version = |browser: &str| {
        results
            .keys()
            .find(|(group, _)| group == &format!("{browser}-meta"))
            .map(|(_, name)| name.clone())
    };
    let previous = results
        .keys()
        .find(|(group, _)| group == "previous-rev")
        .map_or("an earlier revision".to_owned(), |(_, rev)| rev.clone());
    let mut out = String::new();
    writeln!(out, "## Browser\n").unwrap();
    writeln!(
        out,
        "{run}: `benches/run.sh browser`, one headless session per browser (persistent \
         profile, pages from 127.0.0.1; Firefox with `privacy.reduceTimerPrecision` off). \
         20,000 documents of 1 KB (the WASI workload's generator), random gets. Inside a \
         dedicated worker: toonstore's engine called directly (`putText`, then a sync; \
         `getText`), raw OPFS sync access handle (64 KB writes of 64 records, then a flush; \
         1 KB random reads), `@sqlite.org/sqlite-wasm` 3.54.1-build1 with the opfs-sahpool VFS \
         (WAL; prepared statements). On the main thread: the package's promise API with objects \
         (`put` awaited one by one, then `sync`; `get`; `putMany`) and IndexedDB through \
         idb-keyval 6.3.0 (one-by-one sets and gets on 2,000 keys).\n\n\
         Several tabs (`www/bench/tabs.mjs`): a leading tab, a follower and a tab with a read \
         cache on one store of 2,000 documents of 1 KB; medians and p99 of samples (fast calls \
         timed in chunks of 50, cached gets of 1,000: a sample is a chunk's mean). Leader and \
         follower gets alternate over four rounds. The awaited put runs on a store of its own \
         in one tab, alternating over four rounds with the package at {previous} served from a \
         second origin in the same session. Watch: from the put's call in the leading \
         tab (an upper bound of its commit) to the event in the follower, 200 puts 5 ms apart. \
         Failover: the leading tab closed while the follower calls `get` back to back; a \
         sample is the longest gap between two answers (10 trials).\n"
    )
    .unwrap();
    for (browser, suffix) in [("chromium", ""), ("firefox", "-firefox")] {
        let Some(version) = version(browser) else {
            writeln!(out, "### {browser}: not run\n").unwrap();
            continue;
        };
        writeln!(out, "### {version}\n").unwrap();
        browser_tables(results, &format!("browser{suffix}"), &format!("tabs{suffix}"), &mut out);
    }
    out.trim_end().to_owned()
}

/// One browser's tables: the one-page figures, the multi-tab ones, and every target.
fn browser_tables(results: &Results, page: &str, tabs: &str, out: &mut String) {
    let rate = |name: &str| per_s(get(results, page, name));
    writeln!(out, "| workload | toonstore | raw OPFS | sqlite-wasm | idb-keyval |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|").unwrap();
    let rows: [(&str, [&str; 4]); 6] = [
        (
            "worker: put (raw: 64 KB writes; SQLite: one transaction)",
            [
                "worker/toonstore-put",
                "worker/raw-opfs-write-64k",
                "worker/sqlite-insert-one-transaction",
                "",
            ],
        ),
        ("worker: put, SQLite autocommit", ["", "", "worker/sqlite-insert-autocommit", ""]),
        ("worker: get", ["worker/toonstore-get", "worker/raw-opfs-read", "worker/sqlite-get", ""]),
        (
            "main thread: put, awaited one by one",
            ["main/toonstore-put-awaited", "", "", "main/idb-keyval-set-awaited"],
        ),
        (
            "main thread: get, awaited one by one",
            ["main/toonstore-get-awaited", "", "", "main/idb-keyval-get-awaited"],
        ),
        (
            "main thread: putMany / setMany",
            ["main/toonstore-putMany", "", "", "main/idb-keyval-setMany"],
        ),
    ];
    for (name, cells) in rows {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| if c.is_empty() { "-".to_owned() } else { fmt_rate(rate(c)) })
            .collect();
        writeln!(out, "| {name} | {} |", cells.join(" | ")).unwrap();
    }

    let ms = |name: &str| get(results, tabs, name).map(|m| m.median_ns / 1e6);
    let fmt_ms = |v: Option<f64>| {
        v.map_or_else(
            || "not run".to_owned(),
            |v| match v < 0.01 {
                true => format!("{:.2} us", v * 1e3),
                false => format!("{v:.3} ms"),
            },
        )
    };
    writeln!(out, "\n| several tabs | median | p99 |\n|---|---:|---:|").unwrap();
    let figures = [
        ("awaited get, leading tab", "leader-get"),
        ("awaited get, follower tab", "follower-get"),
        ("awaited get of a cached key", "cached-get"),
        ("idb-keyval get, awaited", "idb-get"),
        ("awaited put, one tab", "put-awaited"),
        ("awaited put, one tab, the previous package", "put-awaited-previous"),
        ("awaited put, shared store (the cache tab listens)", "put-awaited-shared"),
        ("1,000 puts issued at once, awaited together", "puts-1000"),
        ("idb-keyval setMany of the same 1,000", "idb-setMany-1000"),
        ("watch: a change seen in another tab (and its answer back)", "watch"),
        ("failover: leader closed -> next answer", "failover"),
    ];
    for (what, name) in figures {
        let (median, p99) = (ms(name), ms(&format!("{name}-p99")));
        writeln!(out, "| {what} | {} | {} |", fmt_ms(median), fmt_ms(p99)).unwrap();
    }

    let mut targets = Targets::default();
    let vs = |ours: &str, theirs: &str| ratio(rate(ours), rate(theirs));
    targets.at_least(
        "worker put vs raw OPFS 64 KB writes",
        vs("worker/toonstore-put", "worker/raw-opfs-write-64k"),
        0.3,
    );
    targets.at_least(
        "worker put vs sqlite-wasm, one transaction",
        vs("worker/toonstore-put", "worker/sqlite-insert-one-transaction"),
        3.0,
    );
    targets.at_least(
        "worker get vs sqlite-wasm",
        vs("worker/toonstore-get", "worker/sqlite-get"),
        10.0,
    );
    targets.at_least(
        "awaited put vs idb-keyval set",
        vs("main/toonstore-put-awaited", "main/idb-keyval-set-awaited"),
        10.0,
    );
    targets.at_least(
        "awaited get vs idb-keyval get",
        vs("main/toonstore-get-awaited", "main/idb-keyval-get-awaited"),
        5.0,
    );
    targets.at_least(
        "putMany vs idb-keyval setMany",
        vs("main/toonstore-putMany", "main/idb-keyval-setMany"),
        5.0,
    );
    // Several tabs (issue 12): latencies, so a ratio is theirs over ours.
    let faster = |ours: &str, theirs: &str| ratio(ms(theirs), ms(ours));
    targets.at_least("cached get vs idb-keyval get", faster("cached-get", "idb-get"), 50.0);
    targets.at_least(
        "1,000 puts at once vs idb-keyval setMany",
        faster("puts-1000", "idb-setMany-1000"),
        5.0,
    );
    targets.at_least(
        "awaited put vs the previous package (no slower; 5% noise)",
        faster("put-awaited", "put-awaited-previous"),
        0.95,
    );
    targets.add(
        "follower get / leading tab's get",
        ratio(ms("follower-get"), ms("leader-get")),
        2.0,
        false,
        "x",
    );
    targets.add("failover, median", ms("failover"), 500.0, false, " ms");
    targets.add("watch, median", ms("watch"), 5.0, false, " ms");
    writeln!(out, "\n{}\n", targets.table()).unwrap();
}
