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
    /// A key, value, batch or the store would exceed its limit.
    TooLarge { what: &'static str, size: u64, limit: u64 },
    /// The store is full: writing would pass `Options::max_store_bytes` (or the quota the
    /// host enforces).
    StoreFull { size: u64, limit: u64 },
    /// Another writer holds the store.
    Locked,
    /// An earlier write or sync failed; reopen the store.
    Poisoned,
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
            Error::StoreFull { size, limit } => {
                write!(f, "store full: {size} bytes would pass the limit of {limit}")
            }
            Error::Locked => write!(f, "the store is locked by another writer"),
            Error::Poisoned => {
                write!(f, "the store is poisoned by an earlier failed write or sync; reopen it")
            }
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

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
            return Error::StoreFull { size: 0, limit: 0 };
        }
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
