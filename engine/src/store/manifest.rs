//! The commit point: which segments hold the store, and which index snapshot (hint) to start
//! from. Two checksummed slots, written alternately with write + sync; the valid slot with
//! the higher generation wins. No rename is needed, so the protocol works on OPFS too.
//!
//! File `MANIFEST`: two slots of [`SLOT_SIZE`] bytes, at 0 and at `SLOT_SIZE`.
//!
//! | offset  | size | field                                                  |
//! |---------|------|--------------------------------------------------------|
//! | 0       | 8    | magic `TOONMAN\0`                                      |
//! | 8       | 4    | format version (2; 1 is still read)                    |
//! | 12      | 4    | P, the payload length (48)                             |
//! | 16      | 8    | generation (higher wins; a new store starts at 1)      |
//! | 24      | P    | payload, below                                         |
//! | 24 + P  | 4    | CRC32C of bytes 0 .. 24 + P                            |
//!
//! | payload offset | size | field                                                  |
//! |----------------|------|--------------------------------------------------------|
//! | 0              | 8    | first segment id                                       |
//! | 8              | 8    | segment count: the log is segments first .. first + count, in order; the last is active |
//! | 16             | 8    | next row id                                            |
//! | 24             | 8    | next sequence number                                   |
//! | 32             | 8    | hint id (0: none; the file is `hint-<id>.idx`; its id is the generation that named it) |
//! | 40             | 8    | bytes of the active segment durable at this commit (damage below them is never a torn write) |
//!
//! A range of ids, not a list: rotation adds the next id, compaction drops the first, so
//! any number of segments fits a slot. Format 1 listed the ids (always consecutive) after
//! next segment, next row and hint ids; it is still read.

use super::error::{Error, Result, corrupted};
use crate::io::{File, OpenMode, Storage};

pub(crate) const FILE: &str = "MANIFEST";
pub(crate) const SLOT_SIZE: usize = 4096;
const MAGIC: &[u8; 8] = b"TOONMAN\0";
pub(crate) const VERSION: u32 = 2;
const HEADER: usize = 24;
const PAYLOAD: usize = 48;

/// The state a manifest slot records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub generation: u64,
    pub first_segment: u64,
    pub segments: u64,
    pub next_row: u64,
    pub next_sequence: u64,
    pub hint: u64,
    /// How much of the active segment was durable when this slot was written.
    pub active_synced: u64,
}

impl Manifest {
    /// The active segment: the last.
    pub fn active(&self) -> u64 {
        self.first_segment + self.segments - 1
    }

    /// The id the next new segment gets.
    pub fn next_segment(&self) -> u64 {
        self.first_segment + self.segments
    }

    /// The segment ids, in replay order.
    pub fn ids(&self) -> std::ops::Range<u64> {
        self.first_segment..self.next_segment()
    }

    /// Whether the fields make sense (a slot whose checksum holds may still not, if a bug
    /// wrote it; it is then taken as damaged).
    fn is_sound(&self) -> bool {
        // Counters stay far below what would overflow when the store counts on.
        const LIMIT: u64 = 1 << 62;
        (1..LIMIT).contains(&self.generation)
            && self.first_segment >= 1
            && self.segments >= 1
            && self.first_segment.checked_add(self.segments).is_some_and(|next| next < LIMIT)
            && self.hint <= self.generation
            && self.next_sequence < LIMIT
            && self.next_row < u64::MAX
    }

    fn encode(&self) -> Vec<u8> {
        let mut slot = Vec::with_capacity(HEADER + PAYLOAD + 4);
        slot.extend_from_slice(MAGIC);
        slot.extend_from_slice(&VERSION.to_le_bytes());
        slot.extend_from_slice(&(PAYLOAD as u32).to_le_bytes());
        slot.extend_from_slice(&self.generation.to_le_bytes());
        let fields = [
            self.first_segment,
            self.segments,
            self.next_row,
            self.next_sequence,
            self.hint,
            self.active_synced,
        ];
        for field in fields {
            slot.extend_from_slice(&field.to_le_bytes());
        }
        let crc = crc32c::crc32c(&slot);
        slot.extend_from_slice(&crc.to_le_bytes());
        slot
    }

    /// Parses one slot; `Ok(None)` when it holds no valid manifest.
    fn decode(slot: &[u8]) -> Result<Option<Manifest>> {
        if slot.len() < HEADER + 4 || &slot[..8] != MAGIC {
            return Ok(None);
        }
        let u32_at = |at: usize| u32::from_le_bytes(slot[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(slot[at..at + 8].try_into().unwrap());
        let payload_len = u32_at(12) as usize;
        let Some(end) = HEADER.checked_add(payload_len).filter(|&e| e + 4 <= slot.len()) else {
            return Ok(None);
        };
        if crc32c::crc32c(&slot[..end]) != u32_at(end) {
            return Ok(None);
        }
        let generation = u64_at(16);
        let manifest = match u32_at(8) {
            VERSION if payload_len == PAYLOAD => Manifest {
                generation,
                first_segment: u64_at(HEADER),
                segments: u64_at(HEADER + 8),
                next_row: u64_at(HEADER + 16),
                next_sequence: u64_at(HEADER + 24),
                hint: u64_at(HEADER + 32),
                active_synced: u64_at(HEADER + 40),
            },
            1 => match decode_v1(generation, &slot[HEADER..end]) {
                Some(manifest) => manifest,
                None => return Ok(None),
            },
            VERSION => return Ok(None),
            version => return Err(Error::UnsupportedVersion { file: FILE.into(), version }),
        };
        Ok(Some(manifest).filter(Manifest::is_sound))
    }
}

/// A format-1 payload: next segment, next row, hint, count, ids. Its hint (of format 1) is
/// not used: the log is replayed once, and the first close writes a format-2 hint.
fn decode_v1(generation: u64, payload: &[u8]) -> Option<Manifest> {
    let u64_at = |at: usize| Some(u64::from_le_bytes(payload.get(at..at + 8)?.try_into().ok()?));
    let count = u32::from_le_bytes(payload.get(24..28)?.try_into().ok()?) as u64;
    if payload.len() as u64 != 28 + 8 * count || count == 0 {
        return None;
    }
    let first = u64_at(28)?;
    let consecutive = (0..count as usize)
        .all(|i| first.checked_add(i as u64).is_some_and(|id| u64_at(28 + 8 * i) == Some(id)));
    let next_segment = u64_at(0)?;
    (consecutive && first.checked_add(count) == Some(next_segment)).then_some(Manifest {
        generation,
        first_segment: first,
        segments: count,
        next_row: u64_at(8)?,
        next_sequence: 0,
        hint: 0,
        active_synced: 0,
    })
}

/// What the slot that did not win holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Other {
    /// An older generation: the winner is certainly the newest commit.
    Older,
    /// Nothing valid (never written, torn, or damaged): the winner may not be the newest.
    Invalid,
}

/// Reads the winning slot; `Ok(None)` for a missing or empty file (a new store), and
/// `Corrupted` when neither slot is valid.
pub(crate) fn load<S: Storage>(storage: &S) -> Result<Option<(Manifest, Other)>> {
    let file = match storage.open(FILE, OpenMode::ReadOnly) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let len = file.len()?;
    if len == 0 {
        return Ok(None);
    }
    let bytes = file.read_vec_at(0, len.min(2 * SLOT_SIZE as u64) as usize)?;
    let first = Manifest::decode(&bytes[..bytes.len().min(SLOT_SIZE)])?;
    let second = match bytes.get(SLOT_SIZE..) {
        Some(slot) => Manifest::decode(slot)?,
        None => None,
    };
    match (first, second) {
        (Some(a), Some(b)) => {
            Ok(Some((if a.generation >= b.generation { a } else { b }, Other::Older)))
        }
        (Some(m), None) | (None, Some(m)) => Ok(Some((m, Other::Invalid))),
        (None, None) => Err(corrupted(FILE, 0, "neither manifest slot is valid")),
    }
}

/// Writes `manifest` into the slot its generation selects and syncs it: the commit point.
pub(crate) fn store<F: File>(file: &F, manifest: &Manifest) -> std::io::Result<()> {
    debug_assert!(manifest.is_sound(), "{manifest:?}");
    let slot = (manifest.generation % 2) * SLOT_SIZE as u64;
    file.write_at(slot, &manifest.encode())?;
    file.sync_data()
}

/// Bytes a slot takes (what a commit may grow the file by, at most).
pub(crate) const SLOT_BYTES: u64 = (HEADER + PAYLOAD + 4) as u64;

/// Parses the two slots of a `MANIFEST` file's bytes (for the fuzzers).
pub(crate) fn parse_slots(bytes: &[u8]) -> Result<()> {
    for slot in [&bytes[..bytes.len().min(SLOT_SIZE)], bytes.get(SLOT_SIZE..).unwrap_or(&[])] {
        let _ = Manifest::decode(slot)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryStorage;

    pub(crate) fn manifest(generation: u64) -> Manifest {
        Manifest {
            generation,
            first_segment: 4,
            segments: 5,
            next_row: 12,
            next_sequence: 99,
            hint: generation - 1,
            active_synced: 32,
        }
    }

    #[test]
    fn the_newest_valid_slot_wins_and_says_whether_the_other_is_older() {
        let storage = MemoryStorage::new();
        let file = storage.open(FILE, OpenMode::Create).unwrap();
        assert_eq!(load(&storage).unwrap(), None, "an empty file is a new store");
        store(&file, &manifest(1)).unwrap();
        assert_eq!(load(&storage).unwrap(), Some((manifest(1), Other::Invalid)));
        store(&file, &manifest(2)).unwrap();
        assert_eq!(load(&storage).unwrap(), Some((manifest(2), Other::Older)));
        // Damage the newer slot: the older one still stands, and says it may be stale.
        file.write_at(24, b"\xff").unwrap();
        assert_eq!(load(&storage).unwrap(), Some((manifest(1), Other::Invalid)));
        file.write_at(SLOT_SIZE as u64 + 24, b"\xff").unwrap();
        assert!(matches!(load(&storage), Err(Error::Corrupted { .. })));
    }

    /// Review finding B3: manifest contents were not validated (an empty segment list made
    /// the open underflow; ids were taken as they came).
    #[test]
    fn slots_whose_fields_make_no_sense_are_not_valid() {
        let bad = [
            Manifest { segments: 0, ..manifest(3) },
            Manifest { first_segment: 0, ..manifest(3) },
            Manifest { first_segment: u64::MAX - 2, ..manifest(3) },
            Manifest { hint: 4, ..manifest(3) },
        ];
        for manifest in bad {
            let mut slot = manifest.encode();
            slot.resize(SLOT_SIZE, 0);
            assert_eq!(Manifest::decode(&slot).unwrap(), None, "{manifest:?}");
        }
    }

    #[test]
    fn unknown_versions_are_refused_and_format_1_is_read() {
        let mut slot = manifest(1).encode();
        slot[8] = 9;
        let end = slot.len() - 4;
        let crc = crc32c::crc32c(&slot[..end]);
        slot[end..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            Manifest::decode(&slot),
            Err(Error::UnsupportedVersion { version: 9, .. })
        ));

        let mut v1 = Vec::new();
        v1.extend_from_slice(MAGIC);
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&(28u32 + 16).to_le_bytes());
        v1.extend_from_slice(&7u64.to_le_bytes());
        for field in [5u64, 3, 2] {
            v1.extend_from_slice(&field.to_le_bytes()); // next segment, next row, hint
        }
        v1.extend_from_slice(&2u32.to_le_bytes());
        v1.extend_from_slice(&3u64.to_le_bytes());
        v1.extend_from_slice(&4u64.to_le_bytes());
        let crc = crc32c::crc32c(&v1);
        v1.extend_from_slice(&crc.to_le_bytes());
        let read = Manifest::decode(&v1).unwrap().unwrap();
        assert_eq!((read.first_segment, read.segments, read.next_row, read.hint), (3, 2, 3, 0));
    }
}
