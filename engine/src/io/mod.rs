//! The I/O seam: everything the engine asks of a platform, in two small traits.
//!
//! A [`Storage`] is a flat namespace of named files (no directories, no rename: OPFS sync
//! access handles cannot rename, so the engine's commit protocol never needs it). A
//! [`File`] reads and writes at positions with exact-length contracts: a read either fills
//! the whole buffer or fails with [`std::io::ErrorKind::UnexpectedEof`], a write either
//! writes everything or fails. Backends speak `std::io::Error`, so a backend is plain `std`
//! code; the engine is generic over the backend (no `dyn`), one backend per store.
//!
//! Backends: [`MemoryStorage`] (always built), [`StdStorage`] (a directory; positional I/O
//! natively and under WASI), [`MmapStorage`] (native; sealed files are read through a
//! memory map). [`CachedStorage`] wraps any of them with a cache of file blocks, for homes
//! whose reads are costly (OPFS). [`fault::FaultyStorage`] wraps any of them to
//! inject failures and to produce the durable image a power cut would leave. [`conformance`]
//! is the one suite every backend must pass, exported so that backends in other crates run
//! it too.

use std::io;

mod cached;
pub mod conformance;
pub mod fault;
mod memory;
#[cfg(not(target_arch = "wasm32"))]
mod mmap;
#[cfg(any(unix, target_os = "wasi"))]
mod std_file;

pub use cached::{BlockCache, CachedFile, CachedStorage};
pub use memory::MemoryStorage;
#[cfg(not(target_arch = "wasm32"))]
pub use mmap::MmapStorage;
#[cfg(any(unix, target_os = "wasi"))]
pub use std_file::StdStorage;

/// `Send + Sync` where threads exist; nothing on `wasm32`, where JavaScript handles are
/// neither and there is one thread.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}

/// `Send + Sync` where threads exist; nothing on `wasm32`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// How [`Storage::open`] treats a file that is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file, empty, when it does not exist.
    Create,
    /// Create the file, empty; [`io::ErrorKind::AlreadyExists`] when it exists (`O_EXCL`), so
    /// a new file can never be written over one that is already there.
    CreateNew,
    /// Fail with [`io::ErrorKind::NotFound`] when it does not exist.
    Existing,
    /// Like `Existing`, for reading only: writes and `set_len` through the handle fail (the
    /// error is the platform's), so a store opened read-only works on read-only media.
    /// Backends never memory-map such a handle: the file may belong to a writer in another
    /// process that shortens it, and touching a mapped page past a file's end is a `SIGBUS`.
    ReadOnly,
}

/// A flat namespace of named files.
///
/// Names are short ASCII strings without `/` chosen by the engine (`MANIFEST`,
/// `seg-00000001.log`). A new or removed name is durable only after [`Storage::sync`].
pub trait Storage: MaybeSendSync {
    /// The backend's file handle.
    type File: File;

    /// Opens `name`. Handles to one name see each other's writes.
    fn open(&self, name: &str, mode: OpenMode) -> io::Result<Self::File>;

    /// Removes `name`; [`io::ErrorKind::NotFound`] when it does not exist. Open handles may
    /// keep reading what they have.
    fn remove(&self, name: &str) -> io::Result<()>;

    /// The names that exist, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;

    /// Makes creations and removals so far durable (a directory fsync).
    fn sync(&self) -> io::Result<()>;

    /// Takes the namespace's exclusive writer lock for as long as this value lives;
    /// [`io::ErrorKind::WouldBlock`] when another holder has it. Backends without a way to
    /// lock (memory, WASI) succeed without locking; the browser locks around the worker.
    fn lock(&self) -> io::Result<()> {
        Ok(())
    }

    /// Releases the lock [`Storage::lock`] took (a no-op when none is held), so the same
    /// process can open the namespace again while this value lives on.
    fn unlock(&self) -> io::Result<()> {
        Ok(())
    }
}

/// A file: positional reads and writes with exact lengths.
#[allow(clippy::len_without_is_empty)] // `len` is an I/O call, not a collection's size.
pub trait File: MaybeSendSync {
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Fills `buf` from `offset`; [`io::ErrorKind::UnexpectedEof`] if the file ends first.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// The `len` bytes at `offset` in a new vector, with the errors of [`File::read_at`].
    /// Backends that hold the bytes in memory copy them once instead of zeroing a buffer
    /// first.
    fn read_vec_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; len];
        self.read_at(offset, &mut bytes)?;
        Ok(bytes)
    }

    /// Writes all of `data` at `offset`, extending the file if needed; a gap between the old
    /// end and `offset` reads as zeros.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Truncates or extends (with zeros) to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Makes the file's contents durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;

    /// Releases the handle, reporting any error the backend defers to this point.
    fn close(self) -> io::Result<()>
    where
        Self: Sized,
    {
        Ok(())
    }
}

/// The error of a read that passes the end of a file (for backends in other crates too).
pub fn past_end(offset: u64, wanted: usize, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("read of {wanted} bytes at {offset} passes the end of the file ({len} bytes)"),
    )
}

/// Rejects names the engine never uses, so every backend maps names the same way (backends
/// in other crates call it too): 1 to 64 ASCII letters, digits, `-`, `_` and `.`, not
/// starting with `.`.
pub fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid file name {name:?}")))
    }
}
