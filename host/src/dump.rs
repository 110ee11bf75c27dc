//! Replacing a host directory's contents all at once, for `--dump`.
//!
//! The new contents are written into a fresh directory beside the target (a name this process
//! made, so nothing in it can be a symlink someone planted), synced, and then exchanged with
//! the target by one `renameat2(RENAME_EXCHANGE)`: at every instant the target holds either
//! its old contents or the complete new ones. The old contents, now in the fresh directory's
//! place, are removed after (without following symlinks). Where the file system cannot
//! exchange, the old directory is renamed aside first and renamed back if the second rename
//! fails; a crash between the two renames leaves the target missing, with both trees beside it.
//!
//! Everything below the directory the operator named is reached through cap-std handles, so
//! a symlink inside it (one a guest planted in an earlier run, say) is never followed out.
//! A store in the target that another writer holds open (its `LOCK` locked) is not replaced:
//! the dump fails and leaves it alone; the locks of the stores it replaces are held until the
//! exchange is done.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use cap_std::fs::PermissionsExt as _;
use rustix::fs::{RenameFlags, renameat_with};

use crate::memory::MAX_DEPTH;
use crate::shim::sync_dir;

/// Makes the directory `inside` of `base` (`base` itself when `inside` is empty) hold exactly
/// what `write` puts into the empty directory it is given. `base` is the operator's and is
/// created when missing; `inside` must be made of plain names and is never resolved through a
/// symlink that leaves `base`.
pub fn replace_dir(
    base: &Path,
    inside: &Path,
    write: impl FnOnce(&Dir) -> io::Result<()>,
) -> io::Result<()> {
    let (parent, name) = parent_and_name(base, inside)?;
    let old = match parent.symlink_metadata(&name) {
        Ok(meta) if meta.is_dir() => Some(meta),
        Ok(_) => {
            return Err(io::Error::other(format!(
                "{} is not a directory (a symlink or a file); nothing was written",
                base.join(inside).display()
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let _locks = match &old {
        Some(_) => locks_under(&parent.open_dir(&name)?, 0)?,
        None => Vec::new(),
    };

    let staging = Scratch::create(&parent, &name, "dump")?;
    write(&parent.open_dir(&staging.name)?)?;
    let mode = old.as_ref().map_or(0o755, |meta| meta.permissions().mode() & 0o7777);
    let permissions = cap_std::fs::Permissions::from_std(std::fs::Permissions::from_mode(mode));
    parent.set_permissions(&staging.name, permissions)?;
    sync_dir(&parent, Path::new(&staging.name))?;

    match old {
        None => {
            parent.rename(&staging.name, &parent, &name)?;
            staging.disarm();
        }
        Some(_) => {
            match renameat_with(&parent, &staging.name, &parent, &name, RenameFlags::EXCHANGE) {
                // The old contents are where the staging directory was: removed on drop.
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                    let aside = Scratch::reserve(&parent, &name, "old")?;
                    parent.rename(&name, &parent, &aside.name)?;
                    if let Err(e) = parent.rename(&staging.name, &parent, &name) {
                        // Put the old contents back (kept where they are if even that fails); the
                        // staging directory goes on drop.
                        let restored = parent.rename(&aside.name, &parent, &name);
                        let kept = aside.name.clone();
                        aside.disarm();
                        return Err(match restored {
                            Ok(()) => e,
                            Err(_) => io::Error::other(format!(
                                "{e}; the old contents are in {}",
                                base.join(inside).with_file_name(kept).display()
                            )),
                        });
                    }
                    staging.disarm();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    sync_dir(&parent, Path::new("."))
}

/// The directory holding the target, and the target's name in it.
fn parent_and_name(base: &Path, inside: &Path) -> io::Result<(Dir, OsString)> {
    let plain = inside.components().all(|c| matches!(c, std::path::Component::Normal(_)));
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
    let base_dir = Dir::open_ambient_dir(base, ambient_authority())?;
    let parent = match inside.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => {
            base_dir.create_dir_all(parent)?;
            base_dir.open_dir(parent)?
        }
        None => base_dir,
    };
    Ok((parent, name.to_owned()))
}

/// The store locks (every `LOCK` file) under `dir`, taken; `WouldBlock` when another writer
/// holds one.
fn locks_under(dir: &Dir, depth: usize) -> io::Result<Vec<std::fs::File>> {
    let mut locks = Vec::new();
    for entry in dir.entries()? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() && depth < MAX_DEPTH {
            locks.extend(locks_under(&entry.open_dir()?, depth + 1)?);
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

/// A directory entry of this process's beside the target, removed on drop unless disarmed.
struct Scratch<'a> {
    parent: &'a Dir,
    name: OsString,
    armed: bool,
}

impl<'a> Scratch<'a> {
    fn name_for(target: &OsStr, what: &str) -> OsString {
        let n = SCRATCH.fetch_add(1, Relaxed);
        let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.subsec_nanos());
        let mut name = OsString::from(".");
        name.push(target);
        name.push(format!(".{what}-{}-{n}-{nanos:x}", std::process::id()));
        name
    }

    /// A new, empty directory (mode 0700 until filled).
    fn create(parent: &'a Dir, target: &OsStr, what: &str) -> io::Result<Scratch<'a>> {
        loop {
            let name = Scratch::name_for(target, what);
            let mut builder = cap_std::fs::DirBuilder::new();
            cap_std::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match parent.create_dir_with(&name, &builder) {
                Ok(()) => return Ok(Scratch { parent, name, armed: true }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// A name nothing has yet, for a rename to take.
    fn reserve(parent: &'a Dir, target: &OsStr, what: &str) -> io::Result<Scratch<'a>> {
        loop {
            let name = Scratch::name_for(target, what);
            match parent.symlink_metadata(&name) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(Scratch { parent, name, armed: true });
                }
                Err(e) => return Err(e),
                Ok(_) => continue,
            }
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        if self.armed {
            // cap-std's removal does not follow symlinks.
            let _ = self.parent.remove_dir_all(&self.name);
        }
    }
}
