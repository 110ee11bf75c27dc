//! Compiled modules kept on disk, so a run starts without compiling.
//!
//! The key is a BLAKE3 hash of the module's bytes together with wasmtime's compatibility
//! hash of the engine (its version and the settings that change code, such as fuel), so a
//! new wasmtime or other settings never load code compiled for the old ones.
//!
//! Loading compiled code is trusting it: whoever can write an entry can run native code in
//! the host. So the cache is used only from a directory that the user owns, that no one else
//! may write, under parents only the user or root may change ([`check_dir`]); the run refuses
//! any `--dir` or `--dump` that overlaps it ([`check_overlap`]), so no guest can reach it.
//! Each entry records the BLAKE3 hash of its key and artifact and is checked, in memory, before
//! wasmtime reads it: an entry written for another key, torn or changed is compiled afresh.
//! Entries are written to an exclusively created file of a random name, synced, then renamed
//! into place, so a reader never sees half of one and concurrent runs never mix two.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use wasmtime::{Engine, Module};

/// What an entry starts with, before its hash and artifact.
const ENTRY_MAGIC: &[u8; 8] = b"tshc\x01\0\0\0";
const HASH_LEN: usize = 32;

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
/// A cache directory that fails [`check_dir`] is an error.
pub fn load(
    engine: &Engine,
    path: &Path,
    cache_dir: Option<&Path>,
) -> anyhow::Result<(Module, Source)> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(dir) = cache_dir else {
        return Ok((Module::new(engine, &wasm)?, Source::Compiled));
    };
    check_dir(dir)?;
    let key = key(engine, &wasm);
    let entry = dir.join(format!("{key}.cwasm"));
    if let Ok(bytes) = std::fs::read(&entry)
        && let Some(artifact) = verified(&key, &bytes)
    {
        // SAFETY: `Module::deserialize` runs the native code it is given, so that code must be
        // what wasmtime compiled for this key. It is: the bytes are a copy in our memory (no
        // file can change under them), they carry the BLAKE3 hash of this key and artifact
        // that `store` wrote, and they come from a directory only this user can write
        // (`check_dir`) that no guest can reach (`check_overlap`, enforced by the run).
        // wasmtime checks the header's version and settings too.
        if let Ok(module) = unsafe { Module::deserialize(engine, artifact) } {
            return Ok((module, Source::Cached));
        }
    }
    let module = Module::new(engine, &wasm)?;
    let source = match store(&module, &key, dir, &entry) {
        Ok(()) => Source::CompiledAndStored,
        // A cache that cannot be written costs the next start its compile, nothing more.
        Err(_) => Source::Compiled,
    };
    Ok((module, source))
}

/// The artifact inside an entry, when the entry is the one `store` wrote for `key`.
fn verified<'a>(key: &str, entry: &'a [u8]) -> Option<&'a [u8]> {
    let rest = entry.strip_prefix(ENTRY_MAGIC)?;
    let (hash, artifact) = rest.split_at_checked(HASH_LEN)?;
    (hash == entry_hash(key, artifact).as_bytes()).then_some(artifact)
}

fn entry_hash(key: &str, artifact: &[u8]) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(key.as_bytes());
    hasher.update(artifact);
    hasher.finalize()
}

fn store(module: &Module, key: &str, dir: &Path, entry: &Path) -> anyhow::Result<()> {
    let artifact = module.serialize()?;
    let mut file = tempfile::Builder::new().prefix(".entry-").tempfile_in(dir)?;
    file.write_all(ENTRY_MAGIC)?;
    file.write_all(entry_hash(key, &artifact).as_bytes())?;
    file.write_all(&artifact)?;
    file.as_file().sync_all()?;
    file.persist(entry)?;
    Ok(())
}

/// Creates the cache directory (mode 0700) if it is missing and checks that only this user
/// can change what is in it: it is owned by the user and not writable by group or others,
/// and so is every parent, except that a parent may be root's, and one writable by others
/// must be sticky (as `/tmp` is: no one may rename another's entries there).
pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the module cache {}", dir.display()))?;
    let canonical = dir.canonicalize()?;
    let me = rustix::process::geteuid().as_raw();
    let refuse = |at: &Path, why: &str| {
        anyhow::anyhow!(
            "refusing the module cache {}: {} {why} (loading its entries would run whatever \
             native code is there; fix its permissions, pick another --cache-dir, or use \
             --no-cache)",
            dir.display(),
            at.display()
        )
    };
    let meta = std::fs::metadata(&canonical)?;
    if meta.uid() != me {
        return Err(refuse(&canonical, "is owned by another user"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(&canonical, "is writable by group or others"));
    }
    for parent in canonical.ancestors().skip(1) {
        let meta = std::fs::metadata(parent)?;
        if meta.uid() != me && meta.uid() != 0 {
            return Err(refuse(parent, "is owned by another user"));
        }
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(refuse(parent, "is writable by others and not sticky"));
        }
    }
    Ok(())
}

/// Refuses a run in which the cache directory and any of `paths` (the guest's directories,
/// the dump target) contain one another: a guest could then write cache entries.
pub fn check_overlap<'a>(
    cache_dir: &Path,
    paths: impl IntoIterator<Item = &'a Path>,
) -> anyhow::Result<()> {
    let cache = resolved(cache_dir)?;
    for path in paths {
        let other = resolved(path)?;
        if other.starts_with(&cache) || cache.starts_with(&other) {
            bail!(
                "{} overlaps the module cache {}: a guest could plant native code there (use \
                 another --cache-dir, or --no-cache)",
                path.display(),
                cache_dir.display()
            );
        }
    }
    Ok(())
}

/// `path` with symlinks resolved as far as it exists, and the rest appended.
fn resolved(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(canonical) => {
                let mut full = canonical;
                for component in rest.iter().rev() {
                    match component {
                        Component::ParentDir => {
                            full.pop();
                        }
                        Component::Normal(name) => full.push(name),
                        _ => {}
                    }
                }
                return Ok(full);
            }
            Err(_) => {
                let Some(parent) = existing.parent() else { return Ok(absolute) };
                rest.push(existing.components().next_back().expect("a last component"));
                existing = parent;
            }
        }
    }
}
