//! Compiled modules kept on disk, so a run starts without compiling.
//!
//! The key is a BLAKE3 hash of the module's bytes together with wasmtime's compatibility
//! hash of the engine (its version and the settings that change code, such as fuel), so a
//! new wasmtime or other settings never load code compiled for the old ones. Entries are
//! written to a temporary name and renamed into place, so a reader never sees half of one.
//!
//! Loading compiled code is trusting it: the cache directory must be writable only by those
//! who may run code on this host (wasmtime also checks each entry's header and refuses
//! entries from another version or configuration; those are compiled afresh).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context;
use wasmtime::{Engine, Module};

/// Where a run's module came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// Compiled for this run (no cache, or one that could not be written).
    #[default]
    Compiled,
    /// Compiled for this run and written to the cache.
    CompiledAndStored,
    /// Loaded from the cache.
    Cached,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Compiled => "compiled",
            Source::CompiledAndStored => "compiled, now cached",
            Source::Cached => "from the cache",
        })
    }
}

/// The default cache directory: `$XDG_CACHE_HOME/toonstore-host`, else
/// `$HOME/.cache/toonstore-host`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("toonstore-host"))
}

/// Feeds `Hash` implementations into BLAKE3.
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let hash = self.0.finalize();
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }
}

/// The cache key of `wasm` compiled by `engine`.
pub fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(wasm);
    hasher.0.finalize().to_hex().to_string()
}

/// The module at `path`, from `cache_dir` when it holds it, else compiled (and stored there).
pub fn load(
    engine: &Engine,
    path: &Path,
    cache_dir: Option<&Path>,
) -> anyhow::Result<(Module, Source)> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(dir) = cache_dir else {
        return Ok((Module::new(engine, &wasm)?, Source::Compiled));
    };
    let entry = dir.join(format!("{}.cwasm", key(engine, &wasm)));
    if entry.exists() {
        // SAFETY: entries are written only by `store` below, into a directory the user owns
        // (see the module comment); wasmtime checks the header's version and settings.
        if let Ok(module) = unsafe { Module::deserialize_file(engine, &entry) } {
            return Ok((module, Source::Cached));
        }
    }
    let module = Module::new(engine, &wasm)?;
    let source = match store(&module, dir, &entry) {
        Ok(()) => Source::CompiledAndStored,
        // A cache that cannot be written costs the next start its compile, nothing more.
        Err(_) => Source::Compiled,
    };
    Ok((module, source))
}

fn store(module: &Module, dir: &Path, entry: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{}.tmp", std::process::id()));
    std::fs::write(&temporary, module.serialize()?)?;
    std::fs::rename(&temporary, entry)?;
    Ok(())
}
