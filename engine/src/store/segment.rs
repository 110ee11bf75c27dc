//! Segment files: a header, then records (see `record.rs`) back to back.
//!
//! File `seg-<id>.log` (id in 16 hex digits):
//!
//! | offset | size | field                                |
//! |--------|------|--------------------------------------|
//! | 0      | 8    | magic `TOONSEG\0`                    |
//! | 8      | 4    | format version (1)                   |
//! | 12     | 4    | reserved, 0                          |
//! | 16     | 8    | segment id                           |
//! | 24     | 4    | reserved, 0                          |
//! | 28     | 4    | CRC32C of bytes 0 .. 28              |
//! | 32     | ...  | records                              |
//!
//! A segment is created with its header written and synced before the manifest names it,
//! so a segment the manifest lists always has a valid header. The active segment may end
//! with zeros written ahead of the records (`Immediate` durability); no record starts with
//! a zero length, so the log ends at the first of them.

use super::error::{Error, Result, corrupted};
use crate::io::File;

pub(crate) const HEADER: u64 = 32;
const MAGIC: &[u8; 8] = b"TOONSEG\0";
pub(crate) const VERSION: u32 = 1;

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

/// Checks the header of segment `id`.
pub(crate) fn check_header<F: File>(file: &F, id: u64) -> Result<()> {
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
    if version != VERSION {
        return Err(Error::UnsupportedVersion { file: name, version });
    }
    if u64::from_le_bytes(bytes[16..24].try_into().unwrap()) != id {
        return Err(corrupted(&name, 16, "segment header names another segment"));
    }
    Ok(())
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
        check_header(&file, 5).unwrap();
        assert!(check_header(&file, 6).is_err(), "a header names its own segment");
    }
}
