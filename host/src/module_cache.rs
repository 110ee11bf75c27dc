//! Compiled modules kept on disk, so a run starts without compiling.
//!
//! The key is a BLAKE3 hash of the module's bytes together with wasmtime's compatibility
//! hash of the engine (its version and the settings that change code, such as fuel), so a
//! new wasmtime or other settings never load code compiled for the old ones.
//!
//! Loading compiled code is trusting it: whoever can make an entry the host accepts can run
//! native code in the host. So:
//!
//! - each entry carries a BLAKE3 hash of its key and artifact, keyed with a per-user secret
//!   ([`secret_path`], 32 random bytes, mode 0600) that lives in the user's home (as the
//!   password database has it) whatever `--cache-dir` or the environment say; the entry is read into memory and checked before wasmtime
//!   reads it, so an entry written by anyone without the secret, for another key, torn or
//!   changed is compiled afresh;
//! - every run refuses a `--dir` or `--dump` that overlaps where the secret or a default cache
//!   may be, or the run's own cache ([`protected_dirs`], [`check_overlap`]), even with
//!   `--no-cache`, so no guest ever reads the secret or writes the cache;
//! - the cache and the secret are used only from directories the user owns, that no one else
//!   may write, under parents only the user or root may change ([`check_dir`]).
//!
//! Entries are written to an exclusively created file of a random name, synced, then renamed
//! into place, so a reader never sees half of one and concurrent runs never mix two.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use wasmtime::{Engine, Module};

/// What an entry starts with, before its keyed hash and artifact.
const ENTRY_MAGIC: &[u8; 8] = b"tshc\x02\0\0\0";
const SECRET_LEN: usize = 32;
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

/// The default cache directory: `$XDG_CACHE_HOME/toonstore-host` (when absolute), else
/// `.cache/toonstore-host` in `$HOME` or the user's home.
pub fn default_dir() -> Option<PathBuf> {
    let base = absolute_env("XDG_CACHE_HOME")
        .or_else(|| absolute_env("HOME").or_else(passwd_home).map(|home| home.join(".cache")))?;
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
    // Everything below goes through the checked, canonical path: a symlink on the way cannot
    // be swapped between the check and the use.
    let dir = check_dir(dir)?;
    // No secret (a user with no home): no cache.
    let Some(secret) = secret()? else {
        return Ok((Module::new(engine, &wasm)?, Source::Compiled));
    };
    let key = key(engine, &wasm);
    let entry = dir.join(format!("{key}.cwasm"));
    if let Ok(bytes) = std::fs::read(&entry)
        && let Some(artifact) = verified(&secret, &key, &bytes)
    {
        // SAFETY: `Module::deserialize` runs the native code it is given, so that code must be
        // what wasmtime compiled for this key. It is: the bytes are a copy in our memory (no
        // file can change under them) and carry a BLAKE3 hash of this key and artifact keyed
        // with the user's secret, which only `store` below writes: the secret sits in a
        // directory only this user can write (`check_dir`) that no guest of any run can reach
        // (`check_overlap` on `protected_dirs`, enforced by every run). wasmtime checks the
        // header's version and settings too.
        #[allow(unsafe_code)]
        let loaded = unsafe { Module::deserialize(engine, artifact) };
        if let Ok(module) = loaded {
            return Ok((module, Source::Cached));
        }
    }
    let module = Module::new(engine, &wasm)?;
    let source = match store(&module, &secret, &key, &dir, &entry) {
        Ok(()) => Source::CompiledAndStored,
        // A cache that cannot be written costs the next start its compile, nothing more.
        Err(_) => Source::Compiled,
    };
    Ok((module, source))
}

/// The artifact inside an entry, when the entry is the one `store` wrote for `key`.
fn verified<'a>(secret: &[u8; SECRET_LEN], key: &str, entry: &'a [u8]) -> Option<&'a [u8]> {
    let rest = entry.strip_prefix(ENTRY_MAGIC)?;
    let (hash, artifact) = rest.split_at_checked(HASH_LEN)?;
    // `blake3::Hash` compares in constant time.
    let hash = blake3::Hash::from_bytes(hash.try_into().ok()?);
    (hash == entry_hash(secret, key, artifact)).then_some(artifact)
}

fn entry_hash(secret: &[u8; SECRET_LEN], key: &str, artifact: &[u8]) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new_keyed(secret);
    hasher.update(key.as_bytes());
    hasher.update(artifact);
    hasher.finalize()
}

fn store(
    module: &Module,
    secret: &[u8; SECRET_LEN],
    key: &str,
    dir: &Path,
    entry: &Path,
) -> anyhow::Result<()> {
    let artifact = module.serialize()?;
    let mut file = tempfile::Builder::new().prefix(".entry-").tempfile_in(dir)?;
    file.write_all(ENTRY_MAGIC)?;
    file.write_all(entry_hash(secret, key, &artifact).as_bytes())?;
    file.write_all(&artifact)?;
    file.as_file().sync_all()?;
    file.persist(entry)?;
    Ok(())
}

/// The user's home directory as the password database has it: unlike `$HOME`, the same for
/// every run of this user whatever its environment.
fn passwd_home() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;
    let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found = std::ptr::null_mut();
    // SAFETY: `getpwuid_r` writes the entry into `entry` and its strings into `buffer` (whose
    // length it is given), and sets `found` to `entry` or null; `pw_dir` is read only when it
    // succeeded, as a NUL-terminated string inside `buffer`, which outlives the read.
    #[allow(unsafe_code)]
    let home = unsafe {
        let uid = libc::geteuid();
        let status = libc::getpwuid_r(
            uid,
            entry.as_mut_ptr(),
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        if status != 0 || found.is_null() || (*found).pw_dir.is_null() {
            return None;
        }
        CStr::from_ptr((*found).pw_dir).to_bytes().to_vec()
    };
    let home = PathBuf::from(std::ffi::OsStr::from_bytes(&home));
    home.is_absolute().then_some(home)
}

/// Where the secret that keys entry hashes lives: `~/.cache/toonstore-host/secret` of the
/// user's home in the password database (else `$HOME`), whatever `--cache-dir` or
/// `XDG_CACHE_HOME` say; `None` (no caching) for a user with no home.
pub fn secret_path() -> Option<PathBuf> {
    let home = passwd_home().or_else(|| absolute_env("HOME"))?;
    Some(home.join(".cache/toonstore-host/secret"))
}

/// An environment variable that holds an absolute path (XDG says to ignore relative ones).
fn absolute_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from).filter(|path| path.is_absolute())
}

/// The directories no guest of any run may reach: every place a run of this user may keep
/// the secret or the default cache (from the password database, `$HOME` and
/// `$XDG_CACHE_HOME`, so that runs with other environments still protect each other's), and
/// the run's own cache directory.
pub fn protected_dirs(cache_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [passwd_home(), absolute_env("HOME")]
        .into_iter()
        .flatten()
        .map(|home| home.join(".cache/toonstore-host"))
        .chain(default_dir())
        .chain(cache_dir.map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// The user's secret, made (32 random bytes, mode 0600) on first use: written to a temporary
/// file and linked into place only when complete, so no run ever reads half of one.
fn secret() -> anyhow::Result<Option<[u8; SECRET_LEN]>> {
    let Some(path) = secret_path() else { return Ok(None) };
    let dir = check_dir(path.parent().expect("the secret has a directory"))?;
    let path = dir.join("secret");
    if !path.exists() {
        let mut secret = [0; SECRET_LEN];
        rustix::rand::getrandom(&mut secret, rustix::rand::GetRandomFlags::empty())?;
        // tempfile creates it 0600.
        let mut file = tempfile::Builder::new().prefix(".secret-").tempfile_in(&dir)?;
        file.write_all(&secret)?;
        file.as_file().sync_all()?;
        match file.persist_noclobber(&path) {
            Ok(_) => {}
            // Another run made it first: theirs is the one.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.error).context(format!("cannot create {}", path.display())),
        }
    }
    let meta = std::fs::symlink_metadata(&path)?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        bail!(
            "refusing the module cache's secret {}: it must be a file of this user's, mode 0600",
            path.display()
        );
    }
    let bytes = std::fs::read(&path)?;
    let secret = bytes.try_into().map_err(|_| {
        anyhow::anyhow!("{} is not a {SECRET_LEN}-byte secret; remove it", path.display())
    })?;
    Ok(Some(secret))
}

/// Creates the cache directory (mode 0700) if it is missing and checks that only this user
/// can change what is in it: it is owned by the user and not writable by group or others,
/// and so is every parent, except that a parent may be root's, and one writable by others
/// must be sticky (as `/tmp` is: no one may rename another's entries there). Its canonical
/// path, which the caller should use from then on.
pub fn check_dir(dir: &Path) -> anyhow::Result<PathBuf> {
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
    Ok(canonical)
}

/// Refuses a run in which a protected directory (see [`protected_dirs`]) and any of `paths`
/// (the guest's directories, the dump target) contain one another: a guest could then read
/// the secret or write cache entries. Paths are compared resolved, and by identity (device
/// and inode) up both chains of parents, which catches bind mounts too.
pub fn check_overlap<'a>(
    protected: &[PathBuf],
    paths: impl IntoIterator<Item = &'a Path>,
) -> anyhow::Result<()> {
    for path in paths {
        for guarded in protected {
            if overlaps(guarded, path)? {
                bail!(
                    "{} overlaps {}, which holds (or may hold) the module cache or its secret: \
                     a guest could plant native code there; give the guest a directory beside \
                     it instead",
                    path.display(),
                    guarded.display()
                );
            }
        }
    }
    Ok(())
}

/// Makes a protected directory exist (mode 0700), so that identity checks can see it.
pub fn ensure_protected(dir: &Path) {
    let _ = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
}

fn overlaps(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let (a, b) = (resolved(a)?, resolved(b)?);
    if a.starts_with(&b) || b.starts_with(&a) {
        return Ok(true);
    }
    let id = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let chain = |path: &Path| path.ancestors().filter_map(id).collect::<Vec<_>>();
    let inside = |inner: &Path, outer: &Path| id(outer).is_some_and(|o| chain(inner).contains(&o));
    Ok(inside(&a, &b) || inside(&b, &a))
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
