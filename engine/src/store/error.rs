//! The engine's one error type.

use std::fmt;
use std::io;

use crate::toon::DecodeError;

/// Everything a store operation can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The backend failed; the store is poisoned if this happened while writing or syncing.
    Io(io::Error),
    /// Stored bytes fail their checksum or make no sense: `file` at byte `offset`.
    Corrupted { file: String, offset: u64, reason: String },
    /// The document is not valid TOON.
    InvalidDocument(DecodeError),
    /// A key, value, batch or row id would exceed its limit.
    TooLarge { what: &'static str, size: u64, limit: u64 },
    /// The store is full: the write would grow it to `size` bytes, past `limit`, which
    /// [`Limit`] says who set. Nothing of the write happened and the store stays usable:
    /// deletes and [`crate::store::Store::compact`] make room.
    StoreFull { size: u64, limit: u64, by: Limit },
    /// An option no store can work with (also for values that arrive from JavaScript).
    InvalidOption { option: &'static str, reason: String },
    /// Another writer holds the store.
    Locked,
    /// An earlier write or sync failed; reopen the store.
    Poisoned,
    /// An `Immediate` write reached the OS, but the sync that was to make it durable failed
    /// (its own, or one it shared). Its outcome is unknown, as for a write in flight when the
    /// machine stops: after a reopen it may be there or not. The store is poisoned.
    SyncFailed,
    /// A file was written by a format version this build does not read.
    UnsupportedVersion { file: String, version: u32 },
    /// The store was closed.
    Closed,
    /// The store was opened with [`crate::store::Options::read_only`].
    ReadOnly,
    /// A key is empty or not allowed (see [`crate::store::MAX_KEY_BYTES`]).
    InvalidKey(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Corrupted { file, offset, reason } => {
                write!(f, "corrupted store: {file} at byte {offset}: {reason}")
            }
            Error::InvalidDocument(e) => write!(f, "invalid TOON document: {e}"),
            Error::TooLarge { what, size, limit } => {
                write!(f, "{what} is too large: {size} bytes (limit {limit})")
            }
            Error::StoreFull { size, limit, by: Limit::MaxStoreBytes } => {
                write!(
                    f,
                    "store full: {size} bytes would pass the limit of {limit} (max_store_bytes)"
                )
            }
            Error::StoreFull { size, limit, by: Limit::Storage } => write!(
                f,
                "store full: the disk or quota refused to grow the store's files from {limit} to \
                 {size} bytes"
            ),
            Error::InvalidOption { option, reason } => {
                write!(f, "invalid option {option}: {reason}")
            }
            Error::Locked => write!(f, "the store is locked by another writer"),
            Error::Poisoned => {
                write!(f, "the store is poisoned by an earlier failed write or sync; reopen it")
            }
            Error::SyncFailed => write!(
                f,
                "the sync of this write failed: it may or may not be there after a reopen (the \
                 store is poisoned; reopen it)"
            ),
            Error::UnsupportedVersion { file, version } => {
                write!(f, "{file} has format version {version}, which this build does not read")
            }
            Error::Closed => write!(f, "the store is closed"),
            Error::ReadOnly => write!(f, "the store is open read-only"),
            Error::InvalidKey(why) => write!(f, "invalid key: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::InvalidDocument(e) => Some(e),
            _ => None,
        }
    }
}

/// Who set the limit a full store met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// [`crate::store::Options::max_store_bytes`]; the sizes count the store's records.
    MaxStoreBytes,
    /// The disk, or a quota (a host's, the browser's for OPFS) refused to grow a file; the
    /// sizes count the bytes of the store's files the engine knows of.
    Storage,
}

/// Whether an I/O error says the disk or a quota is full.
pub(crate) fn is_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

impl From<io::Error> for Error {
    /// A plain I/O error. (A full disk becomes [`Error::StoreFull`] where the write path
    /// knows the sizes to report; see [`is_full`].)
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::InvalidDocument(e)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupted(file: &str, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corrupted { file: file.to_owned(), offset, reason: reason.into() }
}
