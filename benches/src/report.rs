//! Reads criterion's results and rewrites one section of `BENCHMARKS.md`.
//!
//! Each benchmark writes `target/criterion/<group>/<function>/new/{benchmark,estimates}.json`;
//! the figures here are the medians of those files, never typed by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One measured benchmark.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Median time per iteration, nanoseconds.
    pub median_ns: f64,
    /// Bytes per iteration, when the benchmark declared a byte throughput.
    pub bytes: Option<u64>,
    /// Elements per iteration, when declared.
    pub elements: Option<u64>,
}

impl Measurement {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> Option<f64> {
        self.bytes.map(|b| b as f64 / self.median_ns * 1e3)
    }

    /// Elements per second.
    pub fn per_s(&self) -> Option<f64> {
        self.elements.map(|e| e as f64 / self.median_ns * 1e9)
    }
}

/// All results under `criterion_dir`, keyed by (group, function).
pub fn load(criterion_dir: &Path) -> BTreeMap<(String, String), Measurement> {
    let mut found = BTreeMap::new();
    let mut stack = vec![criterion_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/benchmark.json")
                && let Some((key, m)) = read_one(&path)
            {
                found.insert(key, m);
            }
        }
    }
    found
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn read_one(benchmark_json: &Path) -> Option<((String, String), Measurement)> {
    let info = read_json(benchmark_json)?;
    let estimates = read_json(&benchmark_json.with_file_name("estimates.json"))?;
    let group = info["group_id"].as_str()?.to_owned();
    let function = info["function_id"].as_str().unwrap_or("").to_owned();
    let median_ns = estimates["median"]["point_estimate"].as_f64()?;
    let bytes = info["throughput"]["Bytes"].as_u64();
    let elements = info["throughput"]["Elements"].as_u64();
    Some(((group, function), Measurement { median_ns, bytes, elements }))
}

/// Replaces (or appends) the section between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
pub fn write_section(file: &Path, name: &str, body: &str) -> std::io::Result<()> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let old = std::fs::read_to_string(file).unwrap_or_else(|_| {
        "# Benchmarks\n\nEvery figure below is written by a script from one benchmark run; \
         none is typed by hand. Machines here are shared and noisy, so compare the ratios \
         within a table (same run) rather than absolute figures across tables.\n"
            .to_owned()
    });
    let section = format!("{begin}\n{body}\n{end}");
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if b < e => format!("{}{section}{}", &old[..b], &old[e + end.len()..]),
        _ => format!("{}\n{section}\n", old.trim_end()),
    };
    std::fs::write(file, new)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// `target/criterion` of this workspace.
pub fn criterion_dir() -> PathBuf {
    target_dir().join("criterion")
}

/// Where benchmarks leave their inputs for runners outside cargo (node, browsers).
pub fn bench_data_dir() -> PathBuf {
    target_dir().join("bench-data")
}

/// Results that a runner outside criterion wrote as
/// `{"GROUP": {"FUNCTION": {"median_ns", "bytes"}}}` into `bench-data/NAME.results.json`.
pub fn load_external(name: &str) -> BTreeMap<(String, String), Measurement> {
    let mut found = BTreeMap::new();
    let Some(json) = read_json(&bench_data_dir().join(format!("{name}.results.json"))) else {
        return found;
    };
    for (group, functions) in json.as_object().into_iter().flatten() {
        for (function, m) in functions.as_object().into_iter().flatten() {
            let Some(median_ns) = m["median_ns"].as_f64() else { continue };
            let measurement = Measurement {
                median_ns,
                bytes: m["bytes"].as_u64(),
                elements: m["elements"].as_u64(),
            };
            found.insert((group.clone(), function.clone()), measurement);
        }
    }
    found
}
