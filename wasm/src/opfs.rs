//! The engine's storage seam over OPFS `FileSystemSyncAccessHandle`s, inside a dedicated
//! Worker.
//!
//! Sync access handles can only be *opened* asynchronously, while the engine creates files
//! (a new segment, a hint) in the middle of synchronous calls. So, as SQLite's opfs-sahpool
//! VFS does, the store lives in a pool of slot files whose handles the worker opens before
//! the engine runs ([`OpfsStorage::new`], [`OpfsStorage::add_slots`]); each slot names the
//! engine file it holds in a header, and creating a file takes a free slot. The worker keeps
//! spare slots ahead of need ([`OpfsStorage::free_slots`]).
//!
//! The slot header's byte layout is in [`crate::slot`].
//!
//! The engine files themselves are byte for byte those of every other backend: an export
//! reads them out by name and they open natively, and the other way round.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::rc::Rc;

use toonstore::io::{File, OpenMode, Storage, check_name, past_end};
use wasm_bindgen::JsValue;
use web_sys::{FileSystemReadWriteOptions, FileSystemSyncAccessHandle};

pub use crate::slot::HEADER;
use crate::slot::{header, parse_header};

/// A slot file's open handle, shared by every [`OpfsFile`] of the engine file it holds.
#[derive(Debug)]
struct Slot {
    /// The slot file's name in the OPFS directory, for error messages.
    file: String,
    handle: FileSystemSyncAccessHandle,
}

/// A slot whose header is damaged: the store refuses to open (`Corrupted`) rather than
/// guess which engine file it held.
#[derive(Debug)]
pub struct SlotDamage {
    pub slot: String,
    pub offset: u64,
    pub reason: &'static str,
}

impl std::fmt::Display for SlotDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OPFS slot {} at byte {}: {}", self.slot, self.offset, self.reason)
    }
}

impl std::error::Error for SlotDamage {}

impl SlotDamage {
    fn error(slot: &Slot, offset: u64, reason: &'static str) -> io::Error {
        let damage = SlotDamage { slot: slot.file.clone(), offset, reason };
        io::Error::new(io::ErrorKind::InvalidData, damage)
    }
}

/// The pool: every slot, and which engine file each holds.
#[derive(Debug, Default)]
struct Pool {
    slots: Vec<Rc<Slot>>,
    by_name: HashMap<String, usize>,
    free: Vec<usize>,
    /// Freed slots whose bytes are to go back to the quota: the worker closes them and
    /// removes their files between calls ([`OpfsStorage::release_slots`]).
    to_release: Vec<usize>,
    /// Slots handed back to the worker, no longer part of the pool.
    released: Vec<usize>,
}

/// A store's files in a pool of OPFS slot files.
#[derive(Clone, Debug, Default)]
pub struct OpfsStorage {
    pool: Rc<RefCell<Pool>>,
}

/// An engine file in its slot.
#[derive(Debug)]
pub struct OpfsFile {
    slot: Rc<Slot>,
    read_only: bool,
}

impl OpfsFile {
    fn check_writable(&self) -> io::Result<()> {
        match self.read_only {
            true => Err(io::Error::new(io::ErrorKind::PermissionDenied, "opened read-only")),
            false => Ok(()),
        }
    }
}

fn js_error(context: &str, error: JsValue) -> io::Error {
    let name = js_sys::Reflect::get(&error, &"name".into()).ok().and_then(|n| n.as_string());
    let message = js_sys::Reflect::get(&error, &"message".into()).ok().and_then(|m| m.as_string());
    let kind = match name.as_deref() {
        Some("QuotaExceededError") => io::ErrorKind::QuotaExceeded,
        Some("NoModificationAllowedError") => io::ErrorKind::WouldBlock,
        Some("NotFoundError") => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    let detail = message.or_else(|| error.as_string()).unwrap_or_else(|| format!("{error:?}"));
    io::Error::new(kind, format!("OPFS {context}: {}: {detail}", name.unwrap_or_default()))
}

fn at(offset: u64) -> FileSystemReadWriteOptions {
    let options = FileSystemReadWriteOptions::new();
    options.set_at(offset as f64);
    options
}

impl Slot {
    fn size(&self) -> io::Result<u64> {
        Ok(self.handle.get_size().map_err(|e| js_error("size", e))? as u64)
    }

    fn read_exact(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.handle.read_with_u8_array_and_options(buf, &at(offset));
        Ok(read.map_err(|e| js_error("read", e))? as usize)
    }

    fn write_all(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let written = self.handle.write_with_u8_array_and_options(data, &at(offset));
        let written = written.map_err(|e| js_error("write", e))? as usize;
        if written != data.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("OPFS write: {written} of {} bytes written", data.len()),
            ));
        }
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        self.handle.flush().map_err(|e| js_error("flush", e))
    }

    /// The engine file name in the header; `None` for a free (or never used) slot.
    fn name(&self) -> io::Result<Option<String>> {
        if self.size()? < HEADER {
            return Ok(None);
        }
        let mut header = [0; HEADER as usize];
        if self.read_exact(0, &mut header)? != header.len() {
            return Ok(None);
        }
        match parse_header(&header) {
            Ok(name) => Ok(name.map(str::to_owned)),
            Err((offset, reason)) => Err(SlotDamage::error(self, offset, reason)),
        }
    }

    /// Names the slot for a new engine file, empty, durably. The slot is cut to its header's
    /// length first: a crash before the header is written leaves the old (free) header, or
    /// zeros, which read as free; never a name with an older file's bytes after it.
    fn assign(&self, name: &str) -> io::Result<()> {
        self.truncate(HEADER)?;
        self.write_all(0, &header(Some(name)))?;
        self.flush()
    }

    fn truncate(&self, size: u64) -> io::Result<()> {
        self.handle.truncate_with_f64(size as f64).map_err(|e| js_error("truncate", e))
    }

    /// Cuts a free slot back to its header, durably.
    fn cut(&self) -> io::Result<()> {
        self.truncate(HEADER)?;
        self.flush()
    }
}

impl OpfsStorage {
    /// The store held by these slot files (all of the store's, opened by the worker, with
    /// their names); slots never written are taken as free. A damaged slot header is an
    /// error carrying a [`SlotDamage`].
    pub fn new(slots: Vec<(String, FileSystemSyncAccessHandle)>) -> io::Result<OpfsStorage> {
        let storage = OpfsStorage::default();
        storage.add_slots(slots)?;
        Ok(storage)
    }

    /// Adds slot files the worker opened: spares for files to come, or existing slots.
    pub fn add_slots(&self, slots: Vec<(String, FileSystemSyncAccessHandle)>) -> io::Result<()> {
        let mut pool = self.pool.borrow_mut();
        for (file, handle) in slots {
            let slot = Rc::new(Slot { file, handle });
            let index = pool.slots.len();
            match slot.name()? {
                Some(name) => {
                    if pool.by_name.insert(name.clone(), index).is_some() {
                        return Err(SlotDamage::error(
                            &slot,
                            6,
                            "another slot names the same file",
                        ));
                    }
                }
                None => {
                    pool.free.push(index);
                    // Freed in an earlier session but never given back: give it back now.
                    if slot.size()? > HEADER {
                        pool.to_release.push(index);
                    }
                }
            }
            pool.slots.push(slot);
        }
        Ok(())
    }

    /// Slots free for new files (a slot removed while a handle to it is open is not reused
    /// until that handle is gone, as an unlinked file stays readable on disk).
    pub fn free_slots(&self) -> usize {
        let pool = self.pool.borrow();
        pool.free.iter().filter(|&&i| Rc::strong_count(&pool.slots[i]) == 1).count()
    }

    /// Freed slots no engine handle reads any more, cut back to their header and taken out
    /// of the pool, for the worker to close and remove: a browser gives a file's bytes back
    /// to the origin's quota only once its sync access handle is closed (Chromium keeps a
    /// truncated file's space reserved while the handle is open). Returns `[name, handle]`.
    pub fn release_slots(&self) -> Vec<(String, FileSystemSyncAccessHandle)> {
        let mut pool = self.pool.borrow_mut();
        let pool = &mut *pool;
        let mut released = Vec::new();
        pool.to_release.retain(|&index| {
            let slot = &pool.slots[index];
            if Rc::strong_count(slot) > 1 || slot.cut().is_err() {
                return true; // still read, or not cut yet: next time
            }
            released.push(index);
            false
        });
        pool.free.retain(|index| !released.contains(index));
        pool.released.extend(&released);
        released
            .iter()
            .map(|&i| (pool.slots[i].file.clone(), pool.slots[i].handle.clone()))
            .collect()
    }

    /// Every slot still in the pool, for closing at the end.
    pub fn close_all(&self) {
        let pool = self.pool.borrow();
        for (index, slot) in pool.slots.iter().enumerate() {
            if !pool.released.contains(&index) {
                slot.handle.close();
            }
        }
    }
}

impl Storage for OpfsStorage {
    type File = OpfsFile;

    fn open(&self, name: &str, mode: OpenMode) -> io::Result<OpfsFile> {
        check_name(name)?;
        let mut pool = self.pool.borrow_mut();
        let read_only = mode == OpenMode::ReadOnly;
        if let Some(&index) = pool.by_name.get(name) {
            if mode == OpenMode::CreateNew {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{name:?} exists"),
                ));
            }
            return Ok(OpfsFile { slot: pool.slots[index].clone(), read_only });
        }
        if !matches!(mode, OpenMode::Create | OpenMode::CreateNew) {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {name:?}")));
        }
        let position = pool.free.iter().position(|&i| Rc::strong_count(&pool.slots[i]) == 1);
        let Some(position) = position else {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no free OPFS slot: the worker adds them between calls",
            ));
        };
        let index = pool.free.swap_remove(position);
        // Taken again before the worker released it: it holds a file now.
        let was_to_release = pool.to_release.contains(&index);
        pool.to_release.retain(|&i| i != index);
        let slot = pool.slots[index].clone();
        if let Err(e) = slot.assign(name) {
            pool.free.push(index);
            if was_to_release {
                pool.to_release.push(index);
            }
            return Err(e);
        }
        pool.by_name.insert(name.to_owned(), index);
        Ok(OpfsFile { slot, read_only })
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        let mut pool = self.pool.borrow_mut();
        let Some(&index) = pool.by_name.get(name) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {name:?}")));
        };
        // The name goes only once the slot says free on disk (a failed write keeps both).
        // An open handle keeps reading the old bytes: the slot is cut back to its header and
        // handed back to the worker only once none is left (`release_slots`).
        let slot = &pool.slots[index];
        slot.write_all(0, &header(None))?;
        slot.flush()?;
        pool.by_name.remove(name);
        pool.free.push(index);
        pool.to_release.push(index);
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = self.pool.borrow().by_name.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn sync(&self) -> io::Result<()> {
        let pool = self.pool.borrow();
        for (index, slot) in pool.slots.iter().enumerate() {
            if !pool.released.contains(&index) {
                slot.flush()?;
            }
        }
        Ok(())
    }
}

impl File for OpfsFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.slot.size()?.saturating_sub(HEADER))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        // One call into OPFS per read: the size is asked only when the read comes up short.
        // Offsets OPFS cannot address (its offsets are f64) are past any file's end.
        let in_range =
            offset.checked_add(HEADER + buf.len() as u64).is_some_and(|end| end < 1 << 53);
        let read = match (buf.is_empty(), in_range) {
            (_, false) => return Err(past_end(offset, buf.len(), self.len()?)),
            (true, true) => 0,
            (false, true) => self.slot.read_exact(HEADER + offset, buf)?,
        };
        if read != buf.len() || (buf.is_empty() && offset > self.len()?) {
            return Err(past_end(offset, buf.len(), self.len()?));
        }
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        if offset.checked_add(HEADER + data.len() as u64).is_none_or(|end| end >= 1 << 53) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "write beyond what OPFS addresses",
            ));
        }
        if data.is_empty() {
            return Ok(());
        }
        // Writing past the end leaves a gap, which reads as zeros on OPFS as on disk.
        self.slot.write_all(HEADER + offset, data)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        let size = (HEADER + len) as f64;
        self.slot.handle.truncate_with_f64(size).map_err(|e| js_error("truncate", e))
    }

    fn sync_data(&self) -> io::Result<()> {
        self.slot.flush()
    }
}
