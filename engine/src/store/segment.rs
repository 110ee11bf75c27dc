//! Segment files: a header, then records (see `record.rs`) back to back.
//!
//! File `seg-<id>.log` (id in 16 hex digits):
//!
//! | offset | size | field                                |
//! |--------|------|--------------------------------------|
//! | 0      | 8    | magic `TOONSEG\0`                    |
//! | 8      | 4    | format version (2; 1 is still read)  |
//! | 12     | 4    | reserved, 0                          |
//! | 16     | 8    | segment id                           |
//! | 24     | 4    | reserved, 0                          |
//! | 28     | 4    | CRC32C of bytes 0 .. 28              |
//! | 32     | ...  | records                              |
//!
//! A segment is created exclusively (never over an existing file) with its header written
//! and synced before the manifest names it, so a segment the manifest lists always has a
//! valid header. The active segment may end with zeros written ahead of the records
//! (`Immediate` durability); eight zero bytes end the log. A sealed segment (every one but
//! the last) was synced and trimmed to its last record before the manifest sealed it.

use super::error::{Error, Result, corrupted};
use super::options::{MAX_SEGMENT_BYTES, MAX_VALUE_BYTES};
use crate::io::{File, OpenMode, Storage};

pub(crate) const HEADER: u64 = 32;
const MAGIC: &[u8; 8] = b"TOONSEG\0";
/// The version new segments get.
pub(crate) const VERSION: u32 = 2;

/// No segment file the engine writes is longer: the largest segment, then one more record
/// (a document, its key and table), then zeros written ahead. A longer file is damaged, and
/// refusing it spares a replay of a sparse terabyte.
pub(crate) const MAX_FILE: u64 =
    MAX_SEGMENT_BYTES + MAX_VALUE_BYTES + super::record::MAX_TABLE as u64 + (1 << 20);

/// The file name of segment `id`.
pub(crate) fn name(id: u64) -> String {
    format!("seg-{id:016x}.log")
}

/// The segment id of a file name, if it is a segment's.
pub(crate) fn id_of(name: &str) -> Option<u64> {
    let hex = name.strip_prefix("seg-")?.strip_suffix(".log")?;
    (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok()).flatten()
}

pub(crate) fn header(id: u64) -> [u8; HEADER as usize] {
    let mut bytes = [0; HEADER as usize];
    bytes[..8].copy_from_slice(MAGIC);
    bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
    bytes[16..24].copy_from_slice(&id.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..28]);
    bytes[28..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Checks the header of segment `id`; returns its format version (1 or 2).
pub(crate) fn check_header<F: File>(file: &F, id: u64) -> Result<u32> {
    let name = name(id);
    let mut bytes = [0; HEADER as usize];
    file.read_at(0, &mut bytes).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => corrupted(&name, 0, "segment header missing"),
        _ => e.into(),
    })?;
    let crc = u32::from_le_bytes(bytes[28..].try_into().unwrap());
    if &bytes[..8] != MAGIC || crc32c::crc32c(&bytes[..28]) != crc {
        return Err(corrupted(&name, 0, "bad segment header"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if version != 1 && version != VERSION {
        return Err(Error::UnsupportedVersion { file: name, version });
    }
    if u64::from_le_bytes(bytes[16..24].try_into().unwrap()) != id {
        return Err(corrupted(&name, 16, "segment header names another segment"));
    }
    Ok(version)
}

/// Creates segment `id` exclusively with its header, synced, its name durable.
pub(crate) fn create<S: Storage>(storage: &S, id: u64) -> std::io::Result<S::File> {
    let file = storage.open(&name(id), OpenMode::CreateNew)?;
    file.write_at(0, &header(id))?;
    file.sync_data()?;
    storage.sync()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{MemoryStorage, OpenMode, Storage};

    #[test]
    fn names_and_headers() {
        assert_eq!(name(26), "seg-000000000000001a.log");
        assert_eq!(id_of(&name(26)), Some(26));
        assert_eq!(id_of("seg-1a.log"), None);
        let storage = MemoryStorage::new();
        let file = storage.open(&name(5), OpenMode::Create).unwrap();
        assert!(matches!(check_header(&file, 5), Err(Error::Corrupted { .. })));
        file.write_at(0, &header(5)).unwrap();
        assert_eq!(check_header(&file, 5).unwrap(), VERSION);
        assert!(check_header(&file, 6).is_err(), "a header names its own segment");
        assert!(create(&storage, 5).is_err(), "never created over an existing file");
    }
}
