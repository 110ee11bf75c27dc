//! The commit point: which segments hold the store, in replay order, and which index
//! snapshot (hint) to start from. Two checksummed slots, written alternately with
//! write + sync; the valid slot with the higher generation wins. No rename is needed, so
//! the protocol works on OPFS too.
//!
//! File `MANIFEST`: two slots of [`SLOT_SIZE`] bytes, at 0 and at `SLOT_SIZE`.
//!
//! | offset  | size | field                                                  |
//! |---------|------|--------------------------------------------------------|
//! | 0       | 8    | magic `TOONMAN\0`                                      |
//! | 8       | 4    | format version (1)                                     |
//! | 12      | 4    | P, the payload length                                  |
//! | 16      | 8    | generation (higher wins; a new store starts at 1)      |
//! | 24      | P    | payload, below                                         |
//! | 24 + P  | 4    | CRC32C of bytes 0 .. 24 + P                            |
//!
//! | payload offset | size | field                                                 |
//! |----------------|------|-------------------------------------------------------|
//! | 0              | 8    | next segment id                                       |
//! | 8              | 8    | next row id (at least; rows replayed may raise it)    |
//! | 16             | 8    | hint id (0: none; the file is `hint-<id>.idx`)        |
//! | 24             | 4    | S, the number of segments                             |
//! | 28             | 8 S  | segment ids, in replay order; the last one is active  |

use super::error::{Error, Result, corrupted};
use crate::io::{File, OpenMode, Storage};

pub(crate) const FILE: &str = "MANIFEST";
pub(crate) const SLOT_SIZE: usize = 4096;
const MAGIC: &[u8; 8] = b"TOONMAN\0";
pub(crate) const VERSION: u32 = 1;
const HEADER: usize = 24;
/// Segments a slot can list.
pub(crate) const MAX_SEGMENTS: usize = (SLOT_SIZE - HEADER - 4 - PAYLOAD_HEADER) / 8;
const PAYLOAD_HEADER: usize = 28;

/// The state a manifest slot records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub generation: u64,
    pub next_segment: u64,
    pub next_row: u64,
    pub hint: u64,
    pub segments: Vec<u64>,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(PAYLOAD_HEADER + 8 * self.segments.len());
        payload.extend_from_slice(&self.next_segment.to_le_bytes());
        payload.extend_from_slice(&self.next_row.to_le_bytes());
        payload.extend_from_slice(&self.hint.to_le_bytes());
        payload.extend_from_slice(&(self.segments.len() as u32).to_le_bytes());
        for id in &self.segments {
            payload.extend_from_slice(&id.to_le_bytes());
        }
        let mut slot = Vec::with_capacity(HEADER + payload.len() + 4);
        slot.extend_from_slice(MAGIC);
        slot.extend_from_slice(&VERSION.to_le_bytes());
        slot.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        slot.extend_from_slice(&self.generation.to_le_bytes());
        slot.extend_from_slice(&payload);
        let crc = crc32c::crc32c(&slot);
        slot.extend_from_slice(&crc.to_le_bytes());
        slot
    }

    /// Parses one slot; `Ok(None)` when it holds no valid manifest.
    fn decode(slot: &[u8]) -> Result<Option<Manifest>> {
        let u32_at = |at: usize| u32::from_le_bytes(slot[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(slot[at..at + 8].try_into().unwrap());
        if slot.len() < HEADER + 4 || &slot[..8] != MAGIC {
            return Ok(None);
        }
        let payload_len = u32_at(12) as usize;
        let Some(end) = HEADER.checked_add(payload_len).filter(|&e| e + 4 <= slot.len()) else {
            return Ok(None);
        };
        if crc32c::crc32c(&slot[..end]) != u32_at(end) {
            return Ok(None);
        }
        let version = u32_at(8);
        if version != VERSION {
            return Err(Error::UnsupportedVersion { file: FILE.into(), version });
        }
        if payload_len < PAYLOAD_HEADER {
            return Ok(None);
        }
        let count = u32_at(HEADER + 24) as usize;
        if PAYLOAD_HEADER + 8 * count != payload_len {
            return Ok(None);
        }
        let segments = (0..count).map(|i| u64_at(HEADER + PAYLOAD_HEADER + 8 * i)).collect();
        Ok(Some(Manifest {
            generation: u64_at(16),
            next_segment: u64_at(HEADER),
            next_row: u64_at(HEADER + 8),
            hint: u64_at(HEADER + 16),
            segments,
        }))
    }
}

/// Reads the winning slot; `Ok(None)` for a missing or empty file (a new store).
pub(crate) fn load<S: Storage>(storage: &S) -> Result<Option<Manifest>> {
    let file = match storage.open(FILE, OpenMode::ReadOnly) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let len = file.len()?;
    if len == 0 {
        return Ok(None);
    }
    let mut bytes = vec![0; (len as usize).min(2 * SLOT_SIZE)];
    file.read_at(0, &mut bytes)?;
    let first = Manifest::decode(&bytes[..bytes.len().min(SLOT_SIZE)])?;
    let second = match bytes.get(SLOT_SIZE..) {
        Some(slot) => Manifest::decode(slot)?,
        None => None,
    };
    match (first, second) {
        (Some(a), Some(b)) => Ok(Some(if a.generation >= b.generation { a } else { b })),
        (Some(m), None) | (None, Some(m)) => Ok(Some(m)),
        (None, None) => Err(corrupted(FILE, 0, "neither manifest slot is valid")),
    }
}

/// Writes `manifest` into the slot its generation selects and syncs it: the commit point.
pub(crate) fn store<F: File>(file: &F, manifest: &Manifest) -> Result<()> {
    if manifest.segments.len() > MAX_SEGMENTS {
        return Err(Error::TooLarge {
            what: "segment list",
            size: manifest.segments.len() as u64,
            limit: MAX_SEGMENTS as u64,
        });
    }
    let slot = (manifest.generation % 2) * SLOT_SIZE as u64;
    file.write_at(slot, &manifest.encode())?;
    file.sync_data()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryStorage;

    fn manifest(generation: u64) -> Manifest {
        Manifest { generation, next_segment: 9, next_row: 12, hint: 3, segments: vec![4, 7, 8] }
    }

    #[test]
    fn the_newest_valid_slot_wins() {
        let storage = MemoryStorage::new();
        let file = storage.open(FILE, OpenMode::Create).unwrap();
        assert_eq!(load(&storage).unwrap(), None, "an empty file is a new store");
        store(&file, &manifest(1)).unwrap();
        store(&file, &manifest(2)).unwrap();
        assert_eq!(load(&storage).unwrap().unwrap().generation, 2);
        // Damage the newer slot: the older one still stands.
        file.write_at(24, b"\xff").unwrap();
        assert_eq!(load(&storage).unwrap().unwrap(), manifest(1));
        file.write_at(SLOT_SIZE as u64 + 24, b"\xff").unwrap();
        assert!(matches!(load(&storage), Err(Error::Corrupted { .. })));
    }

    #[test]
    fn unknown_versions_are_refused() {
        let storage = MemoryStorage::new();
        let file = storage.open(FILE, OpenMode::Create).unwrap();
        let mut slot = manifest(1).encode();
        slot[8] = 9;
        let end = slot.len() - 4;
        let crc = crc32c::crc32c(&slot[..end]);
        slot[end..].copy_from_slice(&crc.to_le_bytes());
        file.write_at(SLOT_SIZE as u64, &slot).unwrap();
        assert!(matches!(load(&storage), Err(Error::UnsupportedVersion { version: 9, .. })));
    }
}
