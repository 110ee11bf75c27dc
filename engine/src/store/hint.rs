//! Hint files: a snapshot of the index, so opening a store replays only the log written
//! after it. The index can always be rebuilt from the log: a hint that is missing, damaged,
//! of another version, or whose contents do not fit the manifest and the segments is
//! ignored and the whole log is replayed.
//!
//! File `hint-<id>.idx` (id in 16 hex digits: the generation of the manifest that names it,
//! so a hint name is never used twice), format 2:
//!
//! | offset | size | field                                                       |
//! |--------|------|-------------------------------------------------------------|
//! | 0      | 8    | magic `TOONHNT\0`                                           |
//! | 8      | 4    | format version (2)                                          |
//! | 12     | 4    | reserved, 0                                                 |
//! | 16     | 8    | covered segment id: the snapshot reflects the log up to ... |
//! | 24     | 8    | ... this offset in that segment (and all segments before)   |
//! | 32     | 8    | next row id                                                 |
//! | 40     | 8    | next sequence number                                        |
//! | 48     | 8    | K, key entries                                              |
//! | 56     | 8    | R, row entries                                              |
//! | 64     | 4    | reserved, 0                                                 |
//! | 68     | 4    | CRC32C of bytes 0 .. 68                                     |
//! | 72     | ...  | K key entries in key order: key length u16, key, location   |
//! |        |      | R row entries in id order: row id u64, location             |
//! | end-4  | 4    | CRC32C of bytes 72 .. end-4                                 |
//!
//! A location is 24 bytes: segment id u64, value offset u64 (from the start of the segment
//! file), value length u32, value CRC32C u32. The header's own checksum bounds the file's
//! length before anything else is read, so a damaged hint never makes the open allocate or
//! read more than its entries take.

use compact_str::CompactString;

use super::MAX_KEY_BYTES;
use super::error::Result;
use super::index::{Index, Location};
use super::window::Window;
use crate::io::{File, OpenMode, Storage};

const MAGIC: &[u8; 8] = b"TOONHNT\0";
const VERSION: u32 = 2;
const HEADER: usize = 72;
const LOCATION: u64 = 24;

/// The file name of hint `id`.
pub(crate) fn name(id: u64) -> String {
    format!("hint-{id:016x}.idx")
}

/// The hint id of a file name, if it is a hint's.
pub(crate) fn id_of(name: &str) -> Option<u64> {
    let hex = name.strip_prefix("hint-")?.strip_suffix(".idx")?;
    (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok()).flatten()
}

/// How far into the log a hint reaches.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Coverage {
    /// The snapshot reflects the log up to `offset` in segment `segment` (and all before).
    pub segment: u64,
    pub offset: u64,
    pub next_row: u64,
    pub next_sequence: u64,
}

/// What a hint holds, entries in key and id order.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub coverage: Coverage,
    pub keys: Vec<(CompactString, Location)>,
    pub rows: Vec<(u64, Location)>,
}

fn put_location(out: &mut Vec<u8>, location: &Location) {
    out.extend_from_slice(&location.segment.to_le_bytes());
    out.extend_from_slice(&location.offset.to_le_bytes());
    out.extend_from_slice(&location.len.to_le_bytes());
    out.extend_from_slice(&location.crc.to_le_bytes());
}

/// The bytes of a hint for `index` (read straight from it: no copy of the index).
pub(crate) fn encode(coverage: &Coverage, index: &Index) -> Vec<u8> {
    let (keys, rows) = (&index.keys, &index.rows);
    let mut out = Vec::with_capacity(HEADER + keys.len() * 48 + rows.len() * 32 + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for field in [
        coverage.segment,
        coverage.offset,
        coverage.next_row,
        coverage.next_sequence,
        keys.len() as u64,
        rows.len() as u64,
    ] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    for (key, location) in keys {
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        put_location(&mut out, location);
    }
    for (id, location) in rows {
        out.extend_from_slice(&id.to_le_bytes());
        put_location(&mut out, location);
    }
    let crc = crc32c::crc32c(&out[HEADER..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Writes and syncs hint `id` holding `bytes` (from [`encode`]), created exclusively.
pub(crate) fn write<S: Storage>(storage: &S, id: u64, bytes: &[u8]) -> std::io::Result<()> {
    let file = storage.open(&name(id), OpenMode::CreateNew)?;
    file.write_at(0, bytes)?;
    file.sync_data()?;
    file.close()
}

/// The header's fields, once its checksum holds.
struct Header {
    coverage: Coverage,
    keys: u64,
    rows: u64,
}

fn parse_header(bytes: &[u8; HEADER]) -> Option<Header> {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let crc = u32::from_le_bytes(bytes[68..72].try_into().unwrap());
    if &bytes[..8] != MAGIC || crc32c::crc32c(&bytes[..68]) != crc {
        return None;
    }
    if u32::from_le_bytes(bytes[8..12].try_into().unwrap()) != VERSION {
        return None;
    }
    Some(Header {
        coverage: Coverage {
            segment: u64_at(16),
            offset: u64_at(24),
            next_row: u64_at(32),
            next_sequence: u64_at(40),
        },
        keys: u64_at(48),
        rows: u64_at(56),
    })
}

/// Reads hint `id`; `None` when it is missing or not intact (then the log is replayed).
/// Entries are checked for order and form here; [`Snapshot::fits`] checks them against the
/// store.
pub(crate) fn read<S: Storage>(storage: &S, id: u64) -> Result<Option<Snapshot>> {
    let Ok(file) = storage.open(&name(id), OpenMode::ReadOnly) else { return Ok(None) };
    let len = file.len()?;
    let mut head = [0; HEADER];
    if len < HEADER as u64 + 4 {
        return Ok(None);
    }
    file.read_at(0, &mut head)?;
    let Some(header) = parse_header(&head) else { return Ok(None) };
    // What the entries may take, from the counts the checksummed header gives.
    let shortest =
        header.keys.checked_mul(2 + 1 + LOCATION).zip(header.rows.checked_mul(8 + LOCATION));
    let longest = header.keys.checked_mul(2 + MAX_KEY_BYTES as u64 + LOCATION);
    let entries = len - HEADER as u64 - 4;
    match (shortest, longest) {
        (Some((k, r)), Some(longest_keys))
            if k.checked_add(r).is_some_and(|s| s <= entries)
                && longest_keys.checked_add(r).is_some_and(|l| l >= entries) => {}
        _ => return Ok(None),
    }
    // The entries' checksum first, then the entries: two bounded passes.
    let end = HEADER as u64 + entries;
    let mut window = Window::new(&file, end);
    let crc = window.crc(HEADER as u64, entries)?;
    let mut stored = [0; 4];
    file.read_at(end, &mut stored)?;
    if crc != Some(u32::from_le_bytes(stored)) {
        return Ok(None);
    }
    let mut at = HEADER as u64;
    let mut snapshot = Snapshot { coverage: header.coverage, ..Snapshot::default() };
    for _ in 0..header.keys {
        let Some(len) = window.take(&mut at, 2)? else { return Ok(None) };
        let len = u16::from_le_bytes(len.try_into().unwrap()) as usize;
        if len == 0 || len > MAX_KEY_BYTES {
            return Ok(None);
        }
        let Some(key) = window.take(&mut at, len)? else { return Ok(None) };
        let Ok(key) = std::str::from_utf8(key).map(CompactString::from) else { return Ok(None) };
        let Some(location) = window.take(&mut at, LOCATION as usize)?.map(location) else {
            return Ok(None);
        };
        if snapshot.keys.last().is_some_and(|(last, _)| *last >= key) {
            return Ok(None);
        }
        snapshot.keys.push((key, location));
    }
    for _ in 0..header.rows {
        let Some(entry) = window.take(&mut at, 8 + LOCATION as usize)? else { return Ok(None) };
        let id = u64::from_le_bytes(entry[..8].try_into().unwrap());
        let location = location(&entry[8..]);
        if snapshot.rows.last().is_some_and(|&(last, _)| last >= id) {
            return Ok(None);
        }
        snapshot.rows.push((id, location));
    }
    if at != end {
        return Ok(None);
    }
    Ok(Some(snapshot))
}

fn location(bytes: &[u8]) -> Location {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    Location { segment: u64_at(0), offset: u64_at(8), len: u32_at(16), crc: u32_at(20) }
}

impl Snapshot {
    /// Whether the snapshot fits the store: it covers a segment of the manifest's, up to a
    /// point that segment holds; every entry lies in a segment at or before the covered one
    /// (before the covered point in it), after a segment header, inside its file; every row
    /// id is below the next one. `lengths` gives each segment's file length.
    pub fn fits(&self, segments: std::ops::Range<u64>, lengths: &dyn Fn(u64) -> u64) -> bool {
        let covered = self.coverage;
        if !segments.contains(&covered.segment)
            || covered.offset < super::segment::HEADER
            || covered.offset > lengths(covered.segment)
        {
            return false;
        }
        let inside = |location: &Location| {
            let end = location.offset.checked_add(u64::from(location.len));
            (segments.start..=covered.segment).contains(&location.segment)
                && location.offset >= super::segment::HEADER
                && end.is_some_and(|end| {
                    end <= lengths(location.segment)
                        && (location.segment != covered.segment || end <= covered.offset)
                })
        };
        self.keys.iter().all(|(_, l)| inside(l))
            && self.rows.iter().all(|(id, l)| *id < covered.next_row && inside(l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryStorage;

    fn snapshot() -> (Coverage, Index) {
        let location = Location { segment: 3, offset: 99, len: 12, crc: 0xdead_beef };
        let keys =
            vec![("alpha".into(), location), ("beta".into(), Location { offset: 40, ..location })];
        let rows = vec![(5, location)];
        (
            Coverage { segment: 3, offset: 4096, next_row: 8, next_sequence: 77 },
            Index::from_snapshot(keys, rows),
        )
    }

    #[test]
    fn snapshots_round_trip_and_damage_is_ignored() {
        let storage = MemoryStorage::new();
        let (coverage, index) = snapshot();
        write(&storage, 2, &encode(&coverage, &index)).unwrap();
        let back = read(&storage, 2).unwrap().unwrap();
        assert_eq!(back.coverage, coverage);
        assert_eq!(back.keys.len(), 2);
        assert!(write(&storage, 2, b"again").is_err(), "a hint is never written over another");

        let file = storage.open(&name(2), OpenMode::Existing).unwrap();
        for at in [20, 80] {
            let mut byte = [0];
            file.read_at(at, &mut byte).unwrap();
            file.write_at(at, &[byte[0] ^ 1]).unwrap();
            assert!(read(&storage, 2).unwrap().is_none(), "damage at {at} is ignored");
            file.write_at(at, &byte).unwrap();
        }
        assert!(read(&storage, 9).unwrap().is_none(), "a missing hint is ignored");
    }

    /// Review finding B2: a hint with a valid checksum but contents that do not fit the
    /// store (an unknown segment, coverage past a segment's end) was trusted.
    #[test]
    fn a_snapshot_that_does_not_fit_the_store_is_not_used() {
        let (coverage, index) = snapshot();
        let storage = MemoryStorage::new();
        write(&storage, 1, &encode(&coverage, &index)).unwrap();
        let snapshot = read(&storage, 1).unwrap().unwrap();
        let long = |_| 8192;
        assert!(snapshot.fits(1..4, &long));
        assert!(!snapshot.fits(4..6, &long), "the covered segment is not the store's");
        assert!(!snapshot.fits(1..4, &|_| 100), "coverage past the segment's end");
        let short = Snapshot {
            coverage: Coverage { offset: 100, ..coverage },
            ..read(&storage, 1).unwrap().unwrap()
        };
        assert!(!short.fits(1..4, &long), "an entry past the covered point");
        let rows = Snapshot {
            coverage: Coverage { next_row: 5, ..coverage },
            ..read(&storage, 1).unwrap().unwrap()
        };
        assert!(!rows.fits(1..4, &long), "a row id at or past the next row id");
    }
}
