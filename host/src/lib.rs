//! `toonstore-host`: runs WASI (preview 1) modules, the `toonstore` CLI among them, under
//! wasmtime 36 with wasi-common, giving the guest directories through a filesystem shim.
//!
//! - [`shim`]: quotas, read-only directories and metering, around any directory;
//! - [`memory`]: directories held in host memory, seeded from and dumped to the host;
//! - [`module_cache`]: compiled modules kept on disk, keyed by the module's hash.
//!
//! [`run`] is the whole program: the `toonstore-host` binary parses its flags into a
//! [`RunOptions`] and calls it.

pub mod memory;
pub mod module_cache;
pub mod shim;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wasi_common::pipe::{ReadPipe, WritePipe};
use wasi_common::sync::{Dir, WasiCtxBuilder, ambient_authority};
use wasi_common::{I32Exit, WasiCtx};
use wasmtime::{Config, Engine, Linker, Store};

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
    /// Bytes all files the guest can reach may hold together.
    pub quota: Option<u64>,
    pub read_only: bool,
    /// Serve the directories from host memory: each `--dir` starts as a copy of its host
    /// directory and is never written back; with no `--dir`, one empty directory at `/data`.
    pub memory: bool,
    /// With `memory`: write the memory directories here at exit.
    pub dump: Option<PathBuf>,
    /// Stop the guest after this much fuel (about one unit per wasm instruction).
    pub fuel: Option<u64>,
    /// Where compiled modules are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    pub stdio: Stdio,
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

/// The wasmtime engine a run uses (the same settings give the same cache keys).
pub fn engine(fuel: bool) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(fuel);
    Engine::new(&config)
}

/// Runs the module to its end. The guest's exit code is in the outcome; a trap, running out
/// of fuel or a host failure is an error.
pub fn run(options: &RunOptions) -> anyhow::Result<Outcome> {
    let engine = engine(options.fuel.is_some())?;
    let load_start = Instant::now();
    let (module, source) =
        module_cache::load(&engine, &options.module, options.cache_dir.as_deref())?;
    let load = load_start.elapsed();

    let policy = Policy { read_only: options.read_only, ..Policy::default() };
    let mut ctx_builder = WasiCtxBuilder::new();
    let program = options.module.file_name().map_or("module".into(), |n| n.to_string_lossy());
    ctx_builder.arg(&program)?;
    for arg in &options.args {
        ctx_builder.arg(arg)?;
    }
    let (stdout, stderr) = (WritePipe::new_in_memory(), WritePipe::new_in_memory());
    match &options.stdio {
        Stdio::Inherit => {
            ctx_builder.inherit_stdio();
        }
        Stdio::Captured { stdin } => {
            ctx_builder
                .stdin(Box::new(ReadPipe::from(stdin.clone())))
                .stdout(Box::new(stdout.clone()))
                .stderr(Box::new(stderr.clone()));
        }
    }
    let ctx = ctx_builder.build();
    let (policy, memory_dirs) = preopen(&ctx, options, policy)?;

    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasi_common::sync::add_to_linker(&mut linker, |ctx| ctx)?;
    let mut store = Store::new(&engine, ctx);
    if let Some(fuel) = options.fuel {
        store.set_fuel(fuel)?;
    }
    let run_start = Instant::now();
    linker.module(&mut store, "", &module)?;
    let start = linker.get_default(&mut store, "")?.typed::<(), ()>(&store)?;
    let exit_code = match start.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => {
                drop(store);
                let said = String::from_utf8_lossy(&collected(stderr)).into_owned();
                let context = match said.is_empty() {
                    true => "the guest failed".to_owned(),
                    false => format!("the guest failed; its stderr:\n{said}"),
                };
                return Err(e.context(context));
            }
        },
    };
    let run = run_start.elapsed();
    let fuel_consumed = options.fuel.map(|fuel| fuel - store.get_fuel().unwrap_or(0));
    drop(store);

    if let Some(dump) = &options.dump {
        for (guest, dir) in &memory_dirs {
            let to = memory::dump_path(dump, guest, memory_dirs.len() > 1);
            dir.dump(&to).with_context(|| format!("dumping {guest} to {}", to.display()))?;
        }
    }
    let quota = policy.quota.as_ref().map(|q| (q.used(), q.limit()));
    let stats =
        Stats { meter: policy.meter.reading(), load, module: source, run, fuel_consumed, quota };
    Ok(Outcome { exit_code, stdout: collected(stdout), stderr: collected(stderr), stats })
}

/// What a captured stream collected (nothing when the stream was inherited).
fn collected(pipe: WritePipe<std::io::Cursor<Vec<u8>>>) -> Vec<u8> {
    pipe.try_into_inner().map(|cursor| cursor.into_inner()).unwrap_or_default()
}

/// Gives the guest its directories, each behind the shim; returns the policy (with the quota
/// charged for the files already there) and the memory directories to dump.
fn preopen(
    ctx: &WasiCtx,
    options: &RunOptions,
    mut policy: Policy,
) -> anyhow::Result<(Policy, Vec<(String, MemoryDir)>)> {
    if options.dump.is_some() && !options.memory {
        bail!("--dump needs --memory");
    }
    let mut memory_dirs = Vec::new();
    let mut used = 0;
    if options.memory {
        let default = [Preopen { host: PathBuf::new(), guest: "/data".into() }];
        let dirs = if options.dirs.is_empty() { &default[..] } else { &options.dirs };
        for dir in dirs {
            let memory = match dir.host.as_os_str().is_empty() || !dir.host.exists() {
                true => MemoryDir::new(),
                false => MemoryDir::load(&dir.host)
                    .with_context(|| format!("loading {} into memory", dir.host.display()))?,
            };
            used += memory.bytes();
            memory_dirs.push((dir.guest.clone(), memory));
        }
    } else {
        for dir in &options.dirs {
            used += bytes_under(&dir.host)
                .with_context(|| format!("cannot read {}", dir.host.display()))?;
        }
    }
    policy.quota = options.quota.map(|limit| Arc::new(Quota::new(limit, used)));
    if options.memory {
        for (guest, memory) in &memory_dirs {
            let shim = ShimDir::new(Box::new(memory.clone()), None, policy.clone());
            ctx.push_preopened_dir(Box::new(shim), guest)?;
        }
    } else {
        for dir in &options.dirs {
            let host = dir
                .host
                .canonicalize()
                .with_context(|| format!("cannot open {}", dir.host.display()))?;
            let opened = Dir::open_ambient_dir(&host, ambient_authority())?;
            let real = wasi_common::sync::dir::Dir::from_cap_std(opened);
            let shim = ShimDir::new(Box::new(real), Some(host), policy.clone());
            ctx.push_preopened_dir(Box::new(shim), &dir.guest)?;
        }
    }
    Ok((policy, memory_dirs))
}

/// Bytes of the regular files under `path` (symlinks are not followed).
fn bytes_under(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += bytes_under(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}
