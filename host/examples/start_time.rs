//! How long a module takes to start: compiled from scratch, loaded from the module cache, and
//! run whole from the cache (`toonstore.wasm --version`: load, instantiate, run, exit).
//!
//! `start_time MODULE.wasm` prints medians as JSON for `benches/run.sh wasi`:
//! `{"compile": {"median_ns": .., "bytes": ..}, "cached_load": {..}, "cached_run": {..}}`
//! (`bytes`: the module's size, recorded with the run it belongs to).

use std::time::{Duration, Instant};

use toonstore_host::{RunOptions, Stdio, module_cache};

fn median(mut times: Vec<Duration>) -> u128 {
    times.sort_unstable();
    times[times.len() / 2].as_nanos()
}

fn main() -> anyhow::Result<()> {
    let module: std::path::PathBuf =
        std::env::args().nth(1).expect("usage: start_time MODULE.wasm").into();
    let cache = std::env::temp_dir().join(format!("toonstore-start-time-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let engine = toonstore_host::engine(&toonstore_host::Limits::default())?;
    let bytes = std::fs::metadata(&module)?.len();

    let compile: Vec<Duration> = (0..3)
        .map(|_| {
            let start = Instant::now();
            module_cache::load(&engine, &module, None).expect("compiles");
            start.elapsed()
        })
        .collect();
    let (_, first) = module_cache::load(&engine, &module, Some(&cache))?;
    assert_eq!(first, module_cache::Source::CompiledAndStored);
    let cached_load: Vec<Duration> = (0..20)
        .map(|_| {
            let start = Instant::now();
            let (_, source) = module_cache::load(&engine, &module, Some(&cache)).expect("loads");
            assert_eq!(source, module_cache::Source::Cached);
            start.elapsed()
        })
        .collect();
    let options = RunOptions {
        module,
        args: vec!["--version".into()],
        cache_dir: Some(cache.clone()),
        stdio: Stdio::Captured { stdin: Vec::new() },
        ..RunOptions::default()
    };
    let cached_run: Vec<Duration> = (0..20)
        .map(|_| {
            let start = Instant::now();
            let outcome = toonstore_host::run(&options).expect("runs");
            assert_eq!(outcome.exit_code, 0);
            start.elapsed()
        })
        .collect();
    std::fs::remove_dir_all(&cache)?;
    println!(
        "{{\"compile\":{{\"median_ns\":{},\"bytes\":{bytes}}},\"cached_load\":{{\"median_ns\":{}}},\"cached_run\":{{\"median_ns\":{}}}}}",
        median(compile),
        median(cached_load),
        median(cached_run)
    );
    Ok(())
}
