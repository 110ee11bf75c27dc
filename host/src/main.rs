//! `toonstore-host run [--dir HOST::GUEST]... [--quota BYTES] [--read-only]
//! [--memory [--dump DIR]] [--fuel N] [--stats] MODULE.wasm -- ARGS...`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
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
    /// Bytes all the guest's files may hold together; past it writes fail with ENOSPC.
    #[arg(long, value_name = "BYTES")]
    quota: Option<u64>,
    /// Every call that would change a file or directory fails with EROFS.
    #[arg(long)]
    read_only: bool,
    /// Serve the directories from memory (each --dir starts as a copy of its host
    /// directory; with no --dir, an empty /data); nothing is written back.
    #[arg(long)]
    memory: bool,
    /// With --memory: write the memory directories to DIR at exit.
    #[arg(long, value_name = "DIR", requires = "memory")]
    dump: Option<PathBuf>,
    /// Stop the guest after N units of fuel (about one per wasm instruction).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
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

fn main() -> ExitCode {
    let Command::Run(run) = Cli::parse().command;
    let cache_dir = match run.no_cache {
        true => None,
        false => run.cache_dir.or_else(module_cache::default_dir),
    };
    let options = RunOptions {
        module: run.module,
        args: run.args,
        dirs: run.dirs,
        quota: run.quota,
        read_only: run.read_only,
        memory: run.memory,
        dump: run.dump,
        fuel: run.fuel,
        cache_dir,
        stdio: Stdio::Inherit,
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
            ExitCode::from(2)
        }
    }
}
