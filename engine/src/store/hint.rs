//! Hint files: a snapshot of the index, so opening a store replays only the log written
//! after it. The index can always be rebuilt from the log: a hint that is missing, damaged
//! or of another version is ignored and the whole log is replayed.
//!
//! File `hint-<id>.idx` (id in 16 hex digits), named by the manifest:
//!
//! | offset | size | field                                                       |
//! |--------|------|-------------------------------------------------------------|
//! | 0      | 8    | magic `TOONHNT\0`                                           |
//! | 8      | 4    | format version (1)                                          |
//! | 12     | 4    | reserved, 0                                                 |
//! | 16     | 8    | covered segment id: the snapshot reflects the log up to ... |
//! | 24     | 8    | ... this offset in that segment (and all segments before)   |
//! | 32     | 8    | next row id                                                 |
//! | 40     | 8    | K, key entries                                              |
//! | 48     | 8    | R, row entries                                              |
//! | 56     | ...  | K key entries in key order: key length u16, key, location   |
//! |        |      | R row entries in id order: row id u64, location             |
//! | end-4  | 4    | CRC32C of every byte before                                 |
//!
//! A location is 24 bytes: segment id u64, value offset u64, value length u32, value CRC32C u32.

use compact_str::CompactString;

use super::error::Result;
use super::index::{Index, Location};
use crate::io::{File, OpenMode, Storage};

const MAGIC: &[u8; 8] = b"TOONHNT\0";
const VERSION: u32 = 1;
const HEADER: usize = 56;

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
    let mut out = Vec::with_capacity(HEADER + keys.len() * 48 + rows.len() * 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&coverage.segment.to_le_bytes());
    out.extend_from_slice(&coverage.offset.to_le_bytes());
    out.extend_from_slice(&coverage.next_row.to_le_bytes());
    out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
    out.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    for (key, location) in keys {
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        put_location(&mut out, location);
    }
    for (id, location) in rows {
        out.extend_from_slice(&id.to_le_bytes());
        put_location(&mut out, location);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Writes and syncs hint `id` holding `bytes` (from [`encode`]).
pub(crate) fn write<S: Storage>(storage: &S, id: u64, bytes: &[u8]) -> Result<()> {
    let file = storage.open(&name(id), OpenMode::Create)?;
    file.set_len(0)?;
    file.write_at(0, bytes)?;
    file.sync_data()?;
    file.close()?;
    Ok(())
}

/// Reads hint `id`; `None` when it is missing or not intact (then the log is replayed).
pub(crate) fn read<S: Storage>(storage: &S, id: u64) -> Result<Option<Snapshot>> {
    let Ok(file) = storage.open(&name(id), OpenMode::ReadOnly) else { return Ok(None) };
    let len = file.len()? as usize;
    if len < HEADER + 4 {
        return Ok(None);
    }
    let mut bytes = vec![0; len];
    file.read_at(0, &mut bytes)?;
    let (body, crc) = bytes.split_at(len - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().unwrap()) || &body[..8] != MAGIC {
        return Ok(None);
    }
    Ok(parse(body))
}

/// Reads fixed-size fields off the front of a byte slice.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(taken)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn location(&mut self) -> Option<Location> {
        Some(Location {
            segment: self.u64()?,
            offset: self.u64()?,
            len: self.u32()?,
            crc: self.u32()?,
        })
    }
}

fn parse(body: &[u8]) -> Option<Snapshot> {
    let mut cursor = Cursor { bytes: &body[8..] };
    if cursor.u32()? != VERSION {
        return None;
    }
    cursor.u32()?;
    let coverage =
        Coverage { segment: cursor.u64()?, offset: cursor.u64()?, next_row: cursor.u64()? };
    let key_count = cursor.u64()?;
    let row_count = cursor.u64()?;
    let mut keys = Vec::new();
    for _ in 0..key_count {
        let len = cursor.u16()? as usize;
        let key = CompactString::from(std::str::from_utf8(cursor.take(len)?).ok()?);
        keys.push((key, cursor.location()?));
    }
    let mut rows = Vec::new();
    for _ in 0..row_count {
        rows.push((cursor.u64()?, cursor.location()?));
    }
    if !cursor.bytes.is_empty() {
        return None;
    }
    Some(Snapshot { coverage, keys, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryStorage;

    #[test]
    fn snapshots_round_trip_and_damage_is_ignored() {
        let storage = MemoryStorage::new();
        let location = Location { segment: 3, offset: 99, len: 12, crc: 0xdead_beef };
        let keys =
            vec![("alpha".into(), location), ("beta".into(), Location { offset: 7, ..location })];
        let rows = vec![(5, location)];
        let index = Index::from_snapshot(keys.clone(), rows.clone());
        let coverage = Coverage { segment: 3, offset: 4096, next_row: 8 };
        write(&storage, 2, &encode(&coverage, &index)).unwrap();
        let back = read(&storage, 2).unwrap().unwrap();
        assert_eq!((back.coverage, back.keys, back.rows), (coverage, keys, rows));

        let file = storage.open(&name(2), OpenMode::Existing).unwrap();
        file.write_at(60, b"\x00").unwrap();
        assert!(read(&storage, 2).unwrap().is_none(), "a damaged hint is ignored");
        assert!(read(&storage, 9).unwrap().is_none(), "a missing hint is ignored");
    }
}
