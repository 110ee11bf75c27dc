//! Replacing host directories' contents all at once, for `--dump`.
//!
//! Each target's new contents are written into a fresh directory beside it (a name this
//! process made, so nothing in it can be a symlink someone planted) and synced; the locks of
//! the stores in the tree it replaces are taken; then ([`Prepared::commit`]) one
//! `renameat2(RENAME_EXCHANGE)` swaps it with the target: at every instant the target holds
//! either its old contents or the complete new ones. The old contents, now in the fresh
//! directory's place, are removed after (without following symlinks). A run dumping several
//! directories prepares them all before it exchanges the first, so a refusal (a store in use,
//! a full disk) changes none of them.
//!
//! Where the file system cannot exchange, the old directory is renamed aside first and renamed
//! back if the second rename fails; that is refused when the old tree holds a store (a writer
//! could take its place in between). Everything below the directory the operator named is
//! reached through cap-std handles without following symlinks.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use cap_fs_ext::DirExt;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt, PermissionsExt as _};
use rustix::fs::{RenameFlags, renameat_with};

use crate::memory::MAX_DEPTH;
use crate::shim::sync_dir;

/// A target's new contents, written and synced beside it, with the locks of the stores it
/// replaces held: ready to be swapped in.
pub struct Prepared {
    parent: Dir,
    name: OsString,
    /// Device and inode of the tree being replaced, `None` when the target is new.
    old: Option<(u64, u64)>,
    staging: Scratch,
    /// What to call the target in messages.
    shown: std::path::PathBuf,
    locks: Vec<std::fs::File>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("target", &self.shown).finish_non_exhaustive()
    }
}

/// Makes the directory `inside` of `base` (`base` itself when `inside` is empty) hold exactly
/// what `write` puts into an empty directory: [`prepare`], then [`Prepared::commit`].
pub fn replace_dir(
    base: &Path,
    inside: &Path,
    write: impl FnOnce(&Dir) -> io::Result<()>,
) -> io::Result<()> {
    prepare(base, inside, write)?.commit()
}

/// Writes what `write` puts into an empty directory beside the target (the directory `inside`
/// of `base`, or `base` itself when `inside` is empty), syncs it, and takes the locks of the
/// stores in the target's current tree; nothing visible changes. `base` is the operator's and
/// is created when missing; `inside` is plain names, never resolved through a symlink.
pub fn prepare(
    base: &Path,
    inside: &Path,
    write: impl FnOnce(&Dir) -> io::Result<()>,
) -> io::Result<Prepared> {
    let shown = base.join(inside);
    let (parent, name) = parent_and_name(base, inside)?;
    let (old, locks) = match parent.symlink_metadata(&name) {
        Ok(meta) if meta.is_dir() => {
            let tree = parent.open_dir_nofollow(&name)?;
            let tree_meta = tree.dir_metadata()?;
            (Some((meta, (tree_meta.dev(), tree_meta.ino()))), locks_under(&tree, 0)?)
        }
        Ok(_) => {
            return Err(io::Error::other(format!(
                "{} is not a directory (a symlink or a file); nothing was written",
                shown.display()
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (None, Vec::new()),
        Err(e) => return Err(e),
    };
    let staging = Scratch::create(&parent, &name, "dump")?;
    write(&parent.open_dir_nofollow(&staging.name)?)?;
    let mode = old.as_ref().map_or(0o755, |(meta, _)| meta.permissions().mode() & 0o7777);
    let permissions = cap_std::fs::Permissions::from_std(std::fs::Permissions::from_mode(mode));
    parent.set_permissions(&staging.name, permissions)?;
    sync_dir(&parent, Path::new(&staging.name))?;
    let old = old.map(|(_, id)| id);
    Ok(Prepared { parent, name, old, staging, shown, locks })
}

impl Prepared {
    /// Swaps the new contents in and removes the old ones.
    pub fn commit(self) -> io::Result<()> {
        let Prepared { parent, name, old, mut staging, shown, locks } = self;
        let Some(old) = old else {
            parent.rename(&staging.name, &parent, &name)?;
            staging.armed = false;
            return sync_dir(&parent, Path::new("."));
        };
        match renameat_with(&parent, &staging.name, &parent, &name, RenameFlags::EXCHANGE) {
            Ok(()) => {
                // What went out must be the tree whose stores are locked; if another process
                // put something else there meanwhile, swap back and leave both alone.
                let out = parent.symlink_metadata(&staging.name)?;
                if (out.dev(), out.ino()) != old {
                    renameat_with(&parent, &staging.name, &parent, &name, RenameFlags::EXCHANGE)?;
                    return Err(io::Error::other(format!(
                        "{} changed while the dump was written; nothing was replaced",
                        shown.display()
                    )));
                }
                // The old contents are where the staging directory was: removed on drop.
            }
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                if !locks.is_empty() {
                    return Err(io::Error::other(format!(
                        "the file system of {} cannot exchange directories atomically, and a \
                         store there could be taken in between; nothing was replaced",
                        shown.display()
                    )));
                }
                let mut aside = Scratch::reserve(&parent, &name, "old")?;
                parent.rename(&name, &parent, &aside.name)?;
                aside.armed = true;
                if let Err(e) = parent.rename(&staging.name, &parent, &name) {
                    // Put the old contents back (kept where they are if even that fails); the
                    // staging directory goes on drop.
                    let restored = parent.rename(&aside.name, &parent, &name);
                    aside.armed = false;
                    return Err(match restored {
                        Ok(()) => e,
                        Err(_) => io::Error::other(format!(
                            "{e}; the old contents are in {}",
                            shown.with_file_name(&aside.name).display()
                        )),
                    });
                }
                staging.armed = false;
            }
            Err(e) => return Err(e.into()),
        }
        sync_dir(&parent, Path::new("."))?;
        // The old tree goes first, the locks of its stores after.
        drop(staging);
        drop(locks);
        Ok(())
    }
}

/// The directory holding the target, and the target's name in it.
fn parent_and_name(base: &Path, inside: &Path) -> io::Result<(Dir, OsString)> {
    let plain = inside.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(io::Error::other(format!("cannot dump into {}", inside.display())));
    }
    let Some(name) = inside.file_name() else {
        let name = base
            .file_name()
            .ok_or_else(|| io::Error::other(format!("{} names no directory", base.display())))?;
        let parent = match base.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent)?;
        return Ok((Dir::open_ambient_dir(parent, ambient_authority())?, name.to_owned()));
    };
    std::fs::create_dir_all(base)?;
    let mut parent = Dir::open_ambient_dir(base, ambient_authority())?;
    // Down to the target's parent one name at a time, never through a symlink.
    for component in inside.parent().into_iter().flat_map(Path::components) {
        match parent.create_dir(component) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        parent = parent.open_dir_nofollow(component)?;
    }
    Ok((parent, name.to_owned()))
}

/// The store locks (every `LOCK` file) under `dir`, taken; `WouldBlock` when another writer
/// holds one.
fn locks_under(dir: &Dir, depth: usize) -> io::Result<Vec<std::fs::File>> {
    let mut locks = Vec::new();
    for entry in dir.entries()? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if depth >= MAX_DEPTH {
                return Err(io::Error::other(format!(
                    "the tree to replace is deeper than {MAX_DEPTH} directories; nothing was \
                     written"
                )));
            }
            let name = entry.file_name();
            locks.extend(locks_under(&dir.open_dir_nofollow(&name)?, depth + 1)?);
        } else if kind.is_file() && entry.file_name() == "LOCK" {
            let file = entry.open()?.into_std();
            file.try_lock().map_err(|e| match e {
                std::fs::TryLockError::WouldBlock => io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "a store there is open by another writer; nothing was written",
                ),
                std::fs::TryLockError::Error(e) => e,
            })?;
            locks.push(file);
        }
    }
    Ok(locks)
}

static SCRATCH: AtomicU64 = AtomicU64::new(0);

/// A directory entry of this process's beside a target, removed on drop while armed.
struct Scratch {
    parent: Dir,
    name: OsString,
    armed: bool,
}

impl Scratch {
    fn name_for(target: &OsStr, what: &str) -> OsString {
        let n = SCRATCH.fetch_add(1, Relaxed);
        let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.subsec_nanos());
        let mut name = OsString::from(".");
        name.push(target);
        name.push(format!(".{what}-{}-{n}-{nanos:x}", std::process::id()));
        name
    }

    /// A new, empty directory (mode 0700 until filled).
    fn create(parent: &Dir, target: &OsStr, what: &str) -> io::Result<Scratch> {
        loop {
            let name = Scratch::name_for(target, what);
            let mut builder = cap_std::fs::DirBuilder::new();
            cap_std::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match parent.create_dir_with(&name, &builder) {
                Ok(()) => return Ok(Scratch { parent: parent.try_clone()?, name, armed: true }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// A name nothing has yet, for a rename to take (armed once the rename is done).
    fn reserve(parent: &Dir, target: &OsStr, what: &str) -> io::Result<Scratch> {
        loop {
            let name = Scratch::name_for(target, what);
            match parent.symlink_metadata(&name) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(Scratch { parent: parent.try_clone()?, name, armed: false });
                }
                Err(e) => return Err(e),
                Ok(_) => continue,
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.armed {
            // cap-std's removal does not follow symlinks.
            let _ = self.parent.remove_dir_all(&self.name);
        }
    }
}
