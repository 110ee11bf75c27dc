//! Replacing a host directory's contents all at once, for `--dump`.
//!
//! The new contents are written into a fresh directory beside the target (random name, made
//! by this process, so nothing in it can be a symlink someone planted), synced, and then
//! exchanged with the target by one `renameat2(RENAME_EXCHANGE)`: at every instant the target
//! holds either its old contents or the complete new ones. The old contents, now in the
//! fresh directory's place, are removed after (without following symlinks). Where the file
//! system cannot exchange, the old directory is renamed aside first; a crash between the two
//! renames then leaves the target missing, with both trees beside it.

use cap_std::fs::PermissionsExt as _;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rustix::fs::{RenameFlags, renameat_with};

/// Makes `target` a directory holding exactly what `write` puts into the (empty) directory it
/// is given. `target` itself may not be a symlink; its parents are the operator's choice and
/// are created when missing.
pub fn replace_dir(target: &Path, write: impl FnOnce(&Dir) -> io::Result<()>) -> io::Result<()> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} names no directory", target.display())))?;
    let parent_path = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent_path)?;
    let parent = Dir::open_ambient_dir(parent_path, ambient_authority())?;
    let old = match parent.symlink_metadata(name) {
        Ok(meta) if meta.is_dir() => Some(meta),
        Ok(_) => {
            return Err(io::Error::other(format!(
                "{} is not a directory (a symlink or a file); nothing was written",
                target.display()
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let staging = tempfile::Builder::new().prefix(".toonstore-dump-").tempdir_in(parent_path)?;
    let staging_name = staging.path().file_name().expect("a temporary directory has a name");
    let mode = old.as_ref().map_or(0o755, |meta| meta.permissions().mode() & 0o7777);
    std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(mode))?;
    let staged = parent.open_dir(staging_name)?;
    write(&staged)?;
    crate::shim::sync_dir(&staged, Path::new("."))?;

    if old.is_none() {
        parent.rename(staging_name, &parent, name)?;
        // Renamed into place: nothing is left to remove.
        let _kept = staging.keep();
    } else {
        match renameat_with(&parent, staging_name, &parent, name, RenameFlags::EXCHANGE) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                let aside = tempfile::Builder::new()
                    .prefix(".toonstore-dump-old-")
                    .tempdir_in(parent_path)?;
                let aside_name = aside.path().file_name().expect("named").to_owned();
                parent.rename(name, &parent, Path::new(&aside_name).join("old"))?;
                parent.rename(staging_name, &parent, name)?;
                drop(aside);
                let _kept = staging.keep();
            }
            Err(e) => return Err(e.into()),
        }
    }
    crate::shim::sync_dir(&parent, Path::new("."))?;
    // `staging` (now holding the old contents, if any) is removed on drop; std's removal
    // does not follow symlinks.
    Ok(())
}
