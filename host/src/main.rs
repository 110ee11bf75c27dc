//! `toonstore-host run [--dir HOST::GUEST]... [--quota BYTES] [--read-only]
//! [--memory [--dump DIR]] [--max-memory BYTES] [--timeout DURATION] [--fuel N]
//! [--max-files N] [--stats] MODULE.wasm -- ARGS...`

#![deny(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use toonstore_host::Limits;
use toonstore_host::{Preopen, RunOptions, Stdio, module_cache};

#[derive(Parser)]
#[command(
    name = "toonstore-host",
    version,
    about = "Runs WASI modules under wasmtime with a filesystem shim"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a WASI (preview 1) module; exits with the guest's exit code.
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// A directory for the guest: HOST::GUEST, or DIR for the same path in both.
    #[arg(long = "dir", value_name = "HOST::GUEST")]
    dirs: Vec<Preopen>,
    /// What the guest's files may cost together: bytes rounded up to 4 KiB blocks plus one
    /// block per name (file, directory, symlink); past it calls fail with ENOSPC. With
    /// --memory the default is 1G.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    quota: Option<u64>,
    /// Every call that would change a file or directory fails with EROFS.
    #[arg(long)]
    read_only: bool,
    /// Serve the directories from memory (each --dir starts as a copy of its host
    /// directory; with no --dir, an empty /data); nothing is written back. The quota
    /// defaults to 1G.
    #[arg(long)]
    memory: bool,
    /// With --memory: at exit, make DIR hold exactly the memory directories (written
    /// beside it, then swapped in atomically).
    #[arg(long, value_name = "DIR", requires = "memory")]
    dump: Option<PathBuf>,
    /// The guest's linear memory may not grow past BYTES (K, M, G suffixes); exit code 131.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, default_value = "2G")]
    max_memory: u64,
    /// Stop the guest after this much wall-clock time (e.g. 30s, 500ms, 2m); exit code 130.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Stop the guest after N units of fuel (about one per wasm instruction); exit code 129.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Files and directories the guest may hold open at once; past it opens fail with
    /// EMFILE.
    #[arg(long, value_name = "N", default_value_t = toonstore_host::shim::DEFAULT_MAX_HANDLES)]
    max_files: u64,
    /// Print file operations, timings and fuel to stderr at exit.
    #[arg(long)]
    stats: bool,
    /// Where compiled modules are cached (default: $XDG_CACHE_HOME/toonstore-host).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
    /// Compile the module every time.
    #[arg(long)]
    no_cache: bool,
    module: PathBuf,
    /// Arguments for the guest.
    #[arg(last = true)]
    args: Vec<String>,
}

/// A byte count: digits with an optional K, M or G (powers of 1024).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 10),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 20),
        Some(b'G' | b'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let number: u64 =
        digits.parse().map_err(|_| format!("expected bytes such as 512M, found {text:?}"))?;
    number.checked_mul(1 << shift).ok_or_else(|| format!("{text} is too large"))
}

/// A duration: a number with ms, s, m or h (seconds when bare).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 =
        number.parse().map_err(|_| format!("expected a duration such as 30s, found {text:?}"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("unknown unit {unit:?} in {text:?} (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text}: {e}"))
}

fn main() -> ExitCode {
    let Command::Run(run) = Cli::parse().command;
    let cache_dir = match run.no_cache {
        true => None,
        false => run.cache_dir.or_else(module_cache::default_dir),
    };
    let limits = Limits {
        max_memory: run.max_memory,
        timeout: run.timeout,
        fuel: run.fuel,
        max_handles: run.max_files,
        exit_when_stuck: true,
        ..Limits::default()
    };
    let options = RunOptions {
        module: run.module,
        args: run.args,
        dirs: run.dirs,
        quota: run.quota,
        read_only: run.read_only,
        memory: run.memory,
        dump: run.dump,
        cache_dir,
        stdio: Stdio::Inherit,
        limits,
    };
    match toonstore_host::run(&options) {
        Ok(outcome) => {
            if run.stats {
                eprintln!("{}", outcome.stats);
            }
            ExitCode::from(u8::try_from(outcome.exit_code).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(toonstore_host::exit_code(&e))
        }
    }
}
