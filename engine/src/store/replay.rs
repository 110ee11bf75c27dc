//! Reading a segment back at open: records into the index, and where the log ends.
//!
//! Where a record fails to read, the rule that tells a torn write from damage:
//!
//! - In a sealed segment (any but the last) it is damage: a sealed segment was synced whole
//!   before the manifest sealed it.
//! - In the last segment it is damage when the bytes were known durable: below the highest
//!   `synced` point any record (or sync mark) before it, or the hint, recorded; or below the
//!   `synced` point of any intact record found after it (one written after those bytes were
//!   synced). Otherwise it is a torn tail: the writes since the last sync, of which a crash
//!   may have kept any part, in any order.
//!
//! Damage is [`Ending::Damaged`] (the open refuses, or salvages); a torn tail is cut off.
//! Every read is bounded: a segment is read in windows, a value is checked in pieces, and a
//! length field never sizes an allocation beyond [`record::MAX_TABLE`].

use compact_str::CompactString;

use super::error::{Result, corrupted};
use super::index::{Change, Index, Location};
use super::record::{self, Invalid, TableOp};
use super::segment;
use super::window::Window;
use crate::io::File;

/// No record has a sequence number this high (a store would need 2^62 writes), so the next
/// one can always be counted.
pub(super) const MAX_SEQUENCE: u64 = 1 << 62;
/// A record found after damage counts only if its sequence number follows the last good
/// one by less than this: bytes that merely pass a checksum by chance almost never do.
const SEQUENCE_SPAN: u64 = 1 << 32;

/// How a segment's log ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ending {
    /// At `end`, followed by nothing or zeros only.
    Clean(u64),
    /// A torn tail starts at `end`: cut off (or skipped, read-only).
    Torn(u64),
    /// Damage at `offset`; `dropped` records (the damaged one and intact ones after it)
    /// would be lost by cutting there.
    Damaged { offset: u64, reason: &'static str, dropped: u64 },
}

/// The index rebuilt from the log, and what the replay learnt on the way.
#[derive(Default)]
pub(super) struct Replay {
    pub index: Index,
    pub next_row: u64,
    /// The sequence number of the last record applied (`None` before the first, or after
    /// format-1 records, which kept none).
    pub last_sequence: Option<u64>,
    /// The highest sequence number seen anywhere, cut tails included.
    pub max_sequence: u64,
    /// Non-zero bytes of a torn tail.
    pub torn_bytes: u64,
}

/// A record read back, its changes owned (the window moves on).
struct Read {
    sequence: Option<u64>,
    synced: u64,
    len: u64,
    changes: Vec<Owned>,
}

enum Owned {
    Put(CompactString, Location),
    Delete(CompactString),
    Row(u64, Location),
    DeleteRow(u64),
}

/// Reads the format-2 record at `at`; `table` is scratch space for its table.
fn read_v2<F: File>(
    window: &mut Window<'_, F>,
    table: &mut Vec<u8>,
    segment: u64,
    at: u64,
) -> std::io::Result<Result<Read, Invalid>> {
    let Some(frame) = window.get(at, record::FRAME)? else { return Ok(Err(Invalid::Truncated)) };
    let table_len = match record::table_len(frame) {
        Ok(len) => len,
        Err(e) => return Ok(Err(e)),
    };
    let Some(head) = window.get(at, record::FRAME + table_len)? else {
        return Ok(Err(Invalid::Truncated));
    };
    table.clear();
    table.extend_from_slice(head);
    let parsed = match record::parse_table(record::seed(segment), table) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(Err(e)),
    };
    let mut value_at = at + parsed.head_len as u64;
    let mut changes = Vec::with_capacity(parsed.ops.len());
    for op in &parsed.ops {
        let location = match op.value() {
            Some((len, crc)) => {
                match window.crc(value_at, u64::from(len))? {
                    None => return Ok(Err(Invalid::Truncated)),
                    Some(found) if found != crc => {
                        return Ok(Err(Invalid::Damaged("value checksum mismatch")));
                    }
                    Some(_) => {}
                }
                let location = Location { segment, offset: value_at, len, crc };
                value_at += u64::from(len);
                Some(location)
            }
            None => None,
        };
        changes.push(match (*op, location) {
            (TableOp::Put { key, .. }, Some(l)) => Owned::Put(key.into(), l),
            (TableOp::Delete { key }, _) => Owned::Delete(key.into()),
            (TableOp::Row { id, .. }, Some(l)) => Owned::Row(id, l),
            (TableOp::DeleteRow { id }, _) => Owned::DeleteRow(id),
            _ => unreachable!("ops with values have locations"),
        });
    }
    Ok(Ok(Read {
        sequence: Some(parsed.sequence),
        synced: parsed.synced,
        len: parsed.len,
        changes,
    }))
}

/// Reads the format-1 record at `at`.
fn read_v1<F: File>(
    window: &mut Window<'_, F>,
    segment: u64,
    at: u64,
) -> std::io::Result<Result<Read, Invalid>> {
    let Some(frame) = window.get(at, 8)? else { return Ok(Err(Invalid::Truncated)) };
    let len = match record::v1::record_len(frame) {
        Ok(len) => len,
        Err(e) => return Ok(Err(e)),
    };
    let Some(bytes) = window.get(at, len)? else { return Ok(Err(Invalid::Truncated)) };
    let decoded = match record::v1::decode(bytes) {
        Ok(decoded) => decoded,
        Err(e) => return Ok(Err(e)),
    };
    let locate = |value: &[u8], offset: usize| Location {
        segment,
        offset: at + offset as u64,
        len: value.len() as u32,
        crc: crc32c::crc32c(value),
    };
    let changes = decoded
        .ops
        .iter()
        .map(|op| match *op {
            record::v1::Op::Put { key, value, offset } => {
                Owned::Put(key.into(), locate(value, offset))
            }
            record::v1::Op::Delete { key } => Owned::Delete(key.into()),
            record::v1::Op::Row { id, value, offset } => Owned::Row(id, locate(value, offset)),
            record::v1::Op::DeleteRow { id } => Owned::DeleteRow(id),
        })
        .collect();
    Ok(Ok(Read { sequence: None, synced: 0, len: decoded.len as u64, changes }))
}

impl Replay {
    /// Applies the records of segment `id` (format `version`) from byte `from`. `last`: it
    /// is the log's last segment, where a torn tail may be. `synced`: how much of it is
    /// known durable before reading (the hint's coverage, or its header). Returns how the
    /// log ended and how much of the segment the records showed durable.
    pub fn segment<F: File>(
        &mut self,
        file: &F,
        id: u64,
        version: u32,
        from: u64,
        last: bool,
        mut synced: u64,
    ) -> Result<(Ending, u64)> {
        let len = file.len()?;
        let name = segment::name(id);
        if len > segment::MAX_FILE {
            return Err(corrupted(
                &name,
                segment::MAX_FILE,
                "segment file larger than any the store writes",
            ));
        }
        if from > len {
            return Err(corrupted(
                &name,
                from,
                "the index snapshot covers more than the segment holds",
            ));
        }
        let mut window = Window::new(file, len);
        let mut table = Vec::new();
        let mut at = from;
        let damage = loop {
            if at == len {
                return Ok((Ending::Clean(at), synced));
            }
            let read = match version {
                1 => read_v1(&mut window, id, at)?,
                _ => read_v2(&mut window, &mut table, id, at)?,
            };
            let read = match read {
                Ok(read) => read,
                // Zeros to the end of the last segment past its durable point: zeros written
                // ahead, or writes a crash lost. Anywhere else they hide lost records.
                Err(Invalid::Zeros) if last && at >= synced && window.zeros_from(at)? => {
                    return Ok((Ending::Clean(at), synced));
                }
                Err(Invalid::Zeros) => break "zeros inside the log",
                Err(Invalid::Truncated) => break "the log ends inside a record",
                Err(Invalid::Damaged(why)) => break why,
            };
            if let (Some(last), Some(sequence)) = (self.last_sequence, read.sequence)
                && sequence <= last
            {
                break "sequence number goes back";
            }
            if read.synced > at {
                break "record says more was synced than precedes it";
            }
            if read.sequence.is_some_and(|s| s >= MAX_SEQUENCE) {
                break "sequence number out of range";
            }
            if !self.apply(read.changes) {
                break "row id past the last one";
            }
            synced = synced.max(read.synced);
            if read.sequence.is_some() {
                self.last_sequence = read.sequence;
            }
            self.max_sequence = self.max_sequence.max(read.sequence.unwrap_or(0));
            at += read.len;
        };
        // After damage: intact records further on, and whether one was written after the
        // damaged bytes were synced.
        let (found, synced_after) = self.look_ahead(&mut window, &mut table, id, version, at)?;
        let ending = Ending::Damaged { offset: at, reason: damage, dropped: 1 + found };
        // (Format 1 kept no synced points: there the first bad record ends the log, as it
        // always did.)
        if !last || at < synced || synced_after > at {
            return Ok((ending, synced));
        }
        if !window.zeros_from(at)? {
            self.torn_bytes = len - at;
        }
        Ok((Ending::Torn(at), synced))
    }

    /// Applies a record's changes, all or none; false when a row id cannot be followed by
    /// another.
    fn apply(&mut self, changes: Vec<Owned>) -> bool {
        let too_high = |id: u64| id >= u64::MAX - 1;
        if changes.iter().any(|c| matches!(c, Owned::Row(id, _) if too_high(*id))) {
            return false;
        }
        for change in changes {
            match change {
                Owned::Put(key, location) => self.index.apply(Change::Put(&key, location)),
                Owned::Delete(key) => self.index.apply(Change::Delete(&key)),
                Owned::Row(id, location) => {
                    let Some(next) = id.checked_add(1).filter(|&next| next < u64::MAX) else {
                        return false;
                    };
                    self.next_row = self.next_row.max(next);
                    self.index.apply(Change::Row(id, location))
                }
                // A deleted row never moves the next row id (it may never have existed).
                Owned::DeleteRow(id) => self.index.apply(Change::DeleteRow(id)),
            };
        }
        true
    }

    /// Intact records anywhere after damage at `from`: how many, and the highest `synced`
    /// point among them. Candidates are checked cheaply first (a plausible table length,
    /// sequence number and synced point) so damaged bytes rarely cost a checksum.
    fn look_ahead<F: File>(
        &mut self,
        window: &mut Window<'_, F>,
        table: &mut Vec<u8>,
        id: u64,
        version: u32,
        from: u64,
    ) -> Result<(u64, u64)> {
        let (mut found, mut synced) = (0, 0);
        let mut at = from + 1;
        let last = self.last_sequence.unwrap_or(0);
        let len = window.len;
        while at + record::FRAME as u64 <= len {
            let plausible = match version {
                1 => window.get(at, 9)?.is_some_and(|b| {
                    let body = u32::from_le_bytes(b[4..8].try_into().unwrap()) as u64;
                    (9..=record::v1::MAX_RECORD as u64).contains(&body)
                        && at + 8 + body <= len
                        && (1..=5).contains(&b[8])
                }),
                _ => window.get(at, 24)?.is_some_and(|b| {
                    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
                    let table = u32::from_le_bytes(b[4..8].try_into().unwrap()) as u64;
                    let (sequence, claimed) = (u64_at(8), u64_at(16));
                    (16..=record::MAX_TABLE as u64).contains(&table)
                        && at + 8 + table <= len
                        && sequence > last
                        && sequence - last < SEQUENCE_SPAN
                        && claimed <= at
                }),
            };
            if plausible {
                let read = match version {
                    1 => read_v1(window, id, at)?,
                    _ => read_v2(window, table, id, at)?,
                };
                if let Ok(read) = read {
                    // A sync mark is no record of the user's.
                    found += u64::from(!read.changes.is_empty());
                    synced = synced.max(read.synced);
                    self.max_sequence = self.max_sequence.max(read.sequence.unwrap_or(0));
                    at += read.len;
                    continue;
                }
            }
            at += 1;
        }
        Ok((found, synced))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{MemoryStorage, OpenMode, Storage};
    use crate::store::record::{Op, encode, seed};

    /// A segment of `records` (each: synced point, key), as the writer lays them out.
    fn segment(records: &[(u64, &str)]) -> (MemoryStorage, Vec<u64>) {
        let mut bytes = segment::header(1).to_vec();
        let mut starts = Vec::new();
        for (i, &(synced, key)) in records.iter().enumerate() {
            starts.push(bytes.len() as u64);
            encode(seed(1), i as u64 + 1, synced, &[Op::Put { key, value: b"v: 1" }], &mut bytes);
        }
        let storage = MemoryStorage::new();
        storage.open("s", OpenMode::Create).unwrap().write_at(0, &bytes).unwrap();
        (storage, starts)
    }

    fn replay(storage: &MemoryStorage) -> Ending {
        let file = storage.open("s", OpenMode::Existing).unwrap();
        Replay::default().segment(&file, 1, 2, segment::HEADER, true, segment::HEADER).unwrap().0
    }

    fn flip(storage: &MemoryStorage, at: u64) {
        let file = storage.open("s", OpenMode::Existing).unwrap();
        let mut byte = [0];
        file.read_at(at, &mut byte).unwrap();
        file.write_at(at, &[byte[0] ^ 1]).unwrap();
    }

    #[test]
    fn a_bad_last_record_nobody_said_was_synced_is_a_torn_tail() {
        let (storage, starts) = segment(&[(32, "a"), (32, "b"), (32, "c")]);
        flip(&storage, starts[2] + 30);
        assert_eq!(replay(&storage), Ending::Torn(starts[2]));
    }

    #[test]
    fn damage_below_a_recorded_sync_point_is_damage() {
        // "c" was written once "a" and "b" were synced: damage in "b" is not a torn write,
        // whether "c" is read before ("synced" so far) or found after the damage.
        let (storage, starts) = segment(&[(32, "a"), (32, "b"), (0, "c")]);
        let file = storage.open("s", OpenMode::Existing).unwrap();
        let synced_to_c = starts[2];
        let (_, mut bytes) = (0, Vec::new());
        encode(seed(1), 3, synced_to_c, &[Op::Put { key: "c", value: b"v: 1" }], &mut bytes);
        file.write_at(starts[2], &bytes).unwrap();
        flip(&storage, starts[1] + 30);
        assert!(
            matches!(replay(&storage), Ending::Damaged { dropped: 2, .. }),
            "{:?}",
            replay(&storage)
        );
    }

    #[test]
    fn an_intact_record_after_a_hole_in_unsynced_bytes_is_a_torn_tail() {
        // Writes since the last sync may land in any order: a hole, then an intact record
        // that says nothing was synced past the hole.
        let (storage, starts) = segment(&[(32, "a"), (32, "b"), (32, "c")]);
        let file = storage.open("s", OpenMode::Existing).unwrap();
        file.write_at(starts[1], &[0; 20]).unwrap();
        assert_eq!(replay(&storage), Ending::Torn(starts[1]));
    }

    #[test]
    fn zeros_after_the_log_end_it_and_a_sealed_segment_allows_no_tear() {
        let (storage, starts) = segment(&[(32, "a")]);
        let file = storage.open("s", OpenMode::Existing).unwrap();
        let end = file.len().unwrap();
        file.write_at(end, &[0; 4096]).unwrap();
        assert_eq!(replay(&storage), Ending::Clean(end));
        flip(&storage, starts[0] + 30);
        let sealed = Replay::default().segment(&file, 1, 2, segment::HEADER, false, 32).unwrap().0;
        assert!(matches!(sealed, Ending::Damaged { .. }));
    }
}
