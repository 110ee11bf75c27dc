//! `toonstore-host`: runs WASI (preview 1) modules, the `toonstore` CLI among them, under
//! wasmtime 36 with wasi-common, giving the guest directories through a filesystem shim.
//!
//! - [`shim`]: quotas, read-only directories and metering, around any directory;
//! - [`memory`]: directories held in host memory, seeded from and dumped to the host;
//! - [`module_cache`]: compiled modules kept on disk, keyed by the module's hash.
//!
//! [`run`] is the whole program: the `toonstore-host` binary parses its flags into a
//! [`RunOptions`] and calls it.

// The crate's one unsafe call is `Module::deserialize` in `module_cache`, allowed there.
#![deny(unsafe_code)]

pub mod dump;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod memory;
pub mod module_cache;
pub mod shim;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cap_std::fs::Dir;
use wasi_common::pipe::ReadPipe;
use wasi_common::sync::{ambient_authority, clocks_ctx, random_ctx, sched_ctx};
use wasi_common::table::Table;
use wasi_common::{I32Exit, WasiCtx};
use wasmtime::{Config, Engine, Linker, Store};

use limits::{CapturedOutput, DeadlineSched, Limiter};
pub use limits::{Limits, Stopped};
use memory::MemoryDir;
use shim::{MeterReading, Policy, Quota, ShimDir};

/// A directory given to the guest: the host directory `host` appears at `guest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
}

impl std::str::FromStr for Preopen {
    type Err = String;

    /// `HOST::GUEST`, or `DIR` for the same path on both sides.
    fn from_str(spec: &str) -> Result<Preopen, String> {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            return Err(format!("expected HOST::GUEST or DIR, found {spec:?}"));
        }
        Ok(Preopen { host: host.into(), guest: guest.to_owned() })
    }
}

/// Where the guest's standard streams go.
#[derive(Clone, Debug, Default)]
pub enum Stdio {
    /// The host process's own stdin, stdout and stderr.
    #[default]
    Inherit,
    /// `stdin` is fed to the guest; stdout and stderr are collected into the [`Outcome`].
    Captured { stdin: Vec<u8> },
}

/// Everything one run needs.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub module: PathBuf,
    /// Arguments after the program name (which is the module's file name).
    pub args: Vec<String>,
    pub dirs: Vec<Preopen>,
    /// What all files and entries the guest can reach may cost together (see [`shim`]);
    /// with `memory` and no quota, [`limits::DEFAULT_MEMORY_QUOTA`].
    pub quota: Option<u64>,
    pub read_only: bool,
    /// Serve the directories from host memory: each `--dir` starts as a copy of its host
    /// directory and is never written back; with no `--dir`, one empty directory at `/data`.
    pub memory: bool,
    /// With `memory`: make this directory hold the memory directories at exit.
    pub dump: Option<PathBuf>,
    /// Where compiled modules are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    pub stdio: Stdio,
    pub limits: Limits,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub exit_code: i32,
    /// Collected output with [`Stdio::Captured`]; empty otherwise.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stats: Stats,
}

/// Figures of one run, printed by `--stats`.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub meter: MeterReading,
    /// Reading, hashing and compiling (or loading from the cache) the module.
    pub load: Duration,
    pub module: module_cache::Source,
    /// Instantiating and running the guest.
    pub run: Duration,
    pub fuel_consumed: Option<u64>,
    /// Bytes of the guest's files at exit, and the quota, when one was set.
    pub quota: Option<(u64, u64)>,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.meter;
        writeln!(
            f,
            "files: {} opens, {} bytes read, {} bytes written, {} syncs",
            m.opens, m.bytes_read, m.bytes_written, m.syncs
        )?;
        write!(f, "time: module {:?} ({}), run {:?}", self.load, self.module, self.run)?;
        if let Some(fuel) = self.fuel_consumed {
            write!(f, "\nfuel: {fuel} consumed")?;
        }
        if let Some((used, limit)) = self.quota {
            write!(f, "\nquota: {used} of {limit} bytes used")?;
        }
        Ok(())
    }
}

/// The wasmtime engine a run with these limits uses (the same settings give the same cache
/// keys): fuel metering and epoch interruption only when asked for, and neither 64-bit nor
/// multiple memories, which would let a guest reserve far more than `--max-memory` says.
pub fn engine(limits: &Limits) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(limits.fuel.is_some());
    config.epoch_interruption(limits.timeout.is_some());
    config.wasm_memory64(false);
    config.wasm_multi_memory(false);
    Engine::new(&config)
}

/// What a run's store holds.
struct Guest {
    wasi: WasiCtx,
    limiter: Limiter,
}

/// Runs the module to its end. The guest's exit code is in the outcome; a guest that traps
/// or passes a limit is an error with [`Stopped`] in its chain ([`exit_code`] maps it); a
/// host failure is an error without one.
pub fn run(options: &RunOptions) -> anyhow::Result<Outcome> {
    if options.dump.is_some() && !options.memory {
        bail!("--dump needs --memory");
    }
    if options.dump.is_some() {
        check_dump_paths(&options.dirs)?;
    }
    // Even without a cache this run: another run's cache must stay out of every guest's reach.
    let protected = module_cache::protected_dirs(options.cache_dir.as_deref());
    protected.iter().for_each(|dir| module_cache::ensure_protected(dir));
    let reachable = options.dirs.iter().map(|dir| dir.host.as_path());
    module_cache::check_overlap(&protected, reachable.chain(options.dump.as_deref()))?;
    let limits = &options.limits;
    let engine = engine(limits)?;
    let load_start = Instant::now();
    let (module, source) =
        module_cache::load(&engine, &options.module, options.cache_dir.as_deref())?;
    let load = load_start.elapsed();

    let mut policy = Policy::default();
    policy.read_only = options.read_only;
    policy.max_handles = limits.max_handles;
    // A timeout too long to add to the clock is no timeout.
    let deadline = limits.timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    let sched = Box::new(DeadlineSched { inner: sched_ctx(), deadline });
    let mut ctx = WasiCtx::new(random_ctx(), clocks_ctx(), sched, Table::new());
    let program = options.module.file_name().map_or("module".into(), |n| n.to_string_lossy());
    ctx.push_arg(&program)?;
    for arg in &options.args {
        ctx.push_arg(arg)?;
    }
    let stdout = CapturedOutput::new(limits.max_output);
    let stderr = CapturedOutput::new(limits.max_output);
    match &options.stdio {
        Stdio::Inherit => {
            ctx.set_stdin(Box::new(wasi_common::sync::stdio::stdin()));
            ctx.set_stdout(Box::new(wasi_common::sync::stdio::stdout()));
            ctx.set_stderr(Box::new(wasi_common::sync::stdio::stderr()));
        }
        Stdio::Captured { stdin } => {
            ctx.set_stdin(Box::new(ReadPipe::from(stdin.clone())));
            ctx.set_stdout(Box::new(stdout.clone()));
            ctx.set_stderr(Box::new(stderr.clone()));
        }
    }
    let (policy, memory_dirs) = preopen(&ctx, options, policy)?;

    let mut linker: Linker<Guest> = Linker::new(&engine);
    wasi_common::sync::add_to_linker(&mut linker, |guest| &mut guest.wasi)?;
    limits::bound_array_calls(&mut linker, |guest| &mut guest.wasi)?;
    let max_memory = usize::try_from(limits.max_memory).unwrap_or(usize::MAX);
    let limiter = Limiter { max_memory, hit: false };
    let mut store = Store::new(&engine, Guest { wasi: ctx, limiter });
    store.limiter(|guest| &mut guest.limiter);
    if let Some(fuel) = limits.fuel {
        store.set_fuel(fuel)?;
    }
    store.set_epoch_deadline(1);
    // The watchdog ends wasm code at the deadline; `done` wakes it when the guest ends first.
    let (done, finished) = channel::<()>();
    let exit_when_stuck = limits.exit_when_stuck;
    let watchdog = limits.timeout.map(|timeout| {
        let engine = engine.clone();
        std::thread::spawn(move || {
            if finished.recv_timeout(timeout) != Err(RecvTimeoutError::Timeout) {
                return;
            }
            engine.increment_epoch();
            let grace = Duration::from_secs(1);
            if exit_when_stuck && finished.recv_timeout(grace) == Err(RecvTimeoutError::Timeout) {
                eprintln!("error: {} (stuck in a host call)", Stopped::Timeout);
                std::process::exit(i32::from(Stopped::Timeout.exit_code()));
            }
        })
    });
    let run_start = Instant::now();
    let called = linker.module(&mut store, "", &module).and_then(|linker| {
        let start = linker.get_default(&mut store, "")?.typed::<(), ()>(&store)?;
        start.call(&mut store, ())
    });
    drop(done);
    if let Some(watchdog) = watchdog {
        let _ = watchdog.join();
    }
    let exit_code = match called {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => {
                let stopped = Stopped::of(&e, store.data().limiter.hit);
                drop(store);
                let said = String::from_utf8_lossy(&stderr.take()).into_owned();
                let e = e.context(stopped);
                return Err(match said.is_empty() {
                    true => e,
                    false => e.context(format!("its stderr:\n{said}")),
                });
            }
        },
    };
    let run = run_start.elapsed();
    let fuel_consumed = limits.fuel.map(|fuel| fuel - store.get_fuel().unwrap_or(0));
    drop(store);

    if let Some(dump) = &options.dump {
        // Every directory written and locked before the first is swapped in: a refusal
        // changes none of them.
        let mut prepared = Vec::new();
        for (guest, dir) in &memory_dirs {
            let inside = memory::dump_path(guest, memory_dirs.len() > 1)?;
            let to = dump.join(&inside);
            let ready = dir.prepare_dump(dump, &inside);
            prepared.push(ready.with_context(|| format!("dumping {guest} to {}", to.display()))?);
        }
        for ready in prepared {
            ready.commit().context("swapping a dump into place")?;
        }
    }
    let quota = policy.quota.as_ref().map(|q| (q.used(), q.limit()));
    let stats =
        Stats { meter: policy.meter.reading(), load, module: source, run, fuel_consumed, quota };
    Ok(Outcome { exit_code, stdout: stdout.take(), stderr: stderr.take(), stats })
}

/// Refuses guest directories whose dumps would land in one another (`/a` and `/a/b`, or the
/// same path twice): one would replace the other's.
fn check_dump_paths(dirs: &[Preopen]) -> anyhow::Result<()> {
    let paths: Vec<PathBuf> = dirs.iter().map(|d| d.guest.trim_start_matches('/').into()).collect();
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            if a.starts_with(b) || b.starts_with(a) {
                bail!(
                    "guest directories {} and {} would dump into one another",
                    a.display(),
                    b.display()
                );
            }
        }
    }
    Ok(())
}

/// The `toonstore-host` binary's exit code for an error of [`run`]: the stop's code for a
/// guest that was stopped, [`limits::HOST_ERROR_EXIT`] for anything else.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    error.downcast_ref::<Stopped>().map_or(limits::HOST_ERROR_EXIT, |s| s.exit_code())
}

/// Gives the guest its directories, each behind the shim; returns the policy (with the quota
/// charged for what is already there) and the memory directories to dump.
fn preopen(
    ctx: &WasiCtx,
    options: &RunOptions,
    mut policy: Policy,
) -> anyhow::Result<(Policy, Vec<(String, MemoryDir)>)> {
    let mut memory_dirs = Vec::new();
    let mut used: u64 = 0;
    let memory_quota = options.quota.unwrap_or(limits::DEFAULT_MEMORY_QUOTA);
    if options.memory {
        let default = [Preopen { host: PathBuf::new(), guest: "/data".into() }];
        let dirs = if options.dirs.is_empty() { &default[..] } else { &options.dirs };
        for dir in dirs {
            let memory = match dir.host.as_os_str().is_empty() || !dir.host.exists() {
                true => MemoryDir::new(),
                false => MemoryDir::load(&dir.host, memory_quota.saturating_sub(used))
                    .with_context(|| format!("loading {} into memory", dir.host.display()))?,
            };
            used = used.saturating_add(memory.usage());
            memory_dirs.push((dir.guest.clone(), memory));
        }
    }
    let mut real_dirs = Vec::new();
    // Files reached twice (hard links, overlapping preopens) count their bytes once.
    let mut seen = HashSet::new();
    if !options.memory {
        for dir in &options.dirs {
            let opened = Dir::open_ambient_dir(&dir.host, ambient_authority())
                .with_context(|| format!("cannot open {}", dir.host.display()))?;
            if options.quota.is_some() {
                let usage = usage_under(&opened, 0, &mut seen)
                    .with_context(|| format!("cannot read {}", dir.host.display()))?;
                used = used.saturating_add(usage);
            }
            real_dirs.push((dir.guest.clone(), opened));
        }
    }
    let limit = match options.memory {
        true => Some(memory_quota),
        false => options.quota,
    };
    policy.quota = limit.map(|limit| Arc::new(Quota::new(limit, used)));
    for (guest, memory) in &memory_dirs {
        let shim = ShimDir::new(Box::new(memory.clone()), policy.clone());
        ctx.push_preopened_dir(Box::new(shim), guest)?;
    }
    for (guest, opened) in real_dirs {
        ctx.push_preopened_dir(Box::new(ShimDir::real(opened, policy.clone())?), guest)?;
    }
    Ok((policy, memory_dirs))
}

/// The deepest tree a run starts on: accounting walks it with one open handle per level.
const MAX_WALK_DEPTH: usize = 256;

/// What the tree under `dir` costs against a quota, as the shim counts (symlinks are not
/// followed; a file's bytes once however many names in `seen` it has), saturating.
fn usage_under(dir: &Dir, depth: usize, seen: &mut HashSet<(u64, u64)>) -> std::io::Result<u64> {
    use cap_std::fs::MetadataExt;
    let mut total: u64 = 0;
    for entry in dir.entries()? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let size = match kind.is_file() {
            true => {
                let meta = entry.metadata()?;
                seen.insert((meta.dev(), meta.ino())).then_some(meta.len())
            }
            false => None,
        };
        total = total.saturating_add(shim::entry_cost(size));
        if kind.is_dir() {
            if depth >= MAX_WALK_DEPTH {
                return Err(std::io::Error::other(format!(
                    "deeper than {MAX_WALK_DEPTH} directories"
                )));
            }
            total = total.saturating_add(usage_under(&entry.open_dir()?, depth + 1, seen)?);
        }
    }
    Ok(total)
}
