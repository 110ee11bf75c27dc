//! Log records: how puts, deletes, rows and batches are framed in a segment.
//!
//! Byte layout, format 2 (all integers little-endian), mirrored in `docs/FORMAT.md`:
//!
//! | offset | size | field                                                            |
//! |--------|------|------------------------------------------------------------------|
//! | 0      | 4    | CRC32C of bytes 4 .. 8 + T, seeded with the segment's seed       |
//! | 4      | 4    | T, the table's length (at least 16)                              |
//! | 8      | 8    | sequence number (greater than every earlier record's)            |
//! | 16     | 8    | synced: bytes of this segment durable when the record was made   |
//! | 24     | ...  | the ops, up to byte 8 + T, each as below                         |
//! | 8 + T  | V    | the values of the ops that have one, in op order, back to back   |
//!
//! | op             | bytes                                                           |
//! |----------------|-----------------------------------------------------------------|
//! | 1 put          | kind u8, key length u16, key (UTF-8), value length u32, value CRC32C u32 |
//! | 2 delete       | kind u8, key length u16, key                                    |
//! | 3 row          | kind u8, row id u64, value length u32, value CRC32C u32         |
//! | 4 delete row   | kind u8, row id u64                                             |
//!
//! A record is one atomic unit: a batch is a single record, so after a crash it is there
//! whole or not at all. The segment seed (CRC32C of the segment id's 8 bytes) ties a record
//! to its segment: a frame copied from another segment fails its checksum. A record with no
//! ops is a *sync mark*: written after a sync, it says how much of the segment is durable
//! (the next record overwrites it). Eight zero bytes where a record would start end the log.
//!
//! Format 1 (read only; a store written by it is upgraded by writing new segments):
//!
//! | offset | size | field                                                   |
//! |--------|------|---------------------------------------------------------|
//! | 0      | 4    | CRC32C of bytes 4 .. 8 + L (the length and the body)    |
//! | 4      | 4    | L, the body length (never 0)                            |
//! | 8      | 1    | kind: 1 put, 2 delete, 3 row, 4 delete row, 5 batch     |
//! | 9      | 8    | sequence number                                         |
//! | 17     | ...  | put: key length u16, key, value (the rest); delete: key length u16, key; row: id u64, value (the rest); delete row: id u64; batch: op count u32, then per op kind u8, key length u16 + key or row id u64, value length u32 + value |

use std::fmt;

/// Bytes before the table: checksum and table length.
pub(crate) const FRAME: usize = 8;
/// Table bytes before the ops: sequence number and synced length.
const TABLE_HEAD: usize = 16;
/// Longest table a record may have (the write path refuses larger batches), so a damaged
/// length never makes the replay allocate more.
pub(crate) const MAX_TABLE: usize = 16 << 20;

const PUT: u8 = 1;
const DELETE: u8 = 2;
const ROW: u8 = 3;
const DELETE_ROW: u8 = 4;

/// One change, as the write path hands it to [`encode`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    Put { key: &'a str, value: &'a [u8] },
    Delete { key: &'a str },
    Row { id: u64, value: &'a [u8] },
    DeleteRow { id: u64 },
}

impl fmt::Debug for Op<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put { key, value } => write!(f, "Put({key:?}, {} bytes)", value.len()),
            Op::Delete { key } => write!(f, "Delete({key:?})"),
            Op::Row { id, value } => write!(f, "Row({id}, {} bytes)", value.len()),
            Op::DeleteRow { id } => write!(f, "DeleteRow({id})"),
        }
    }
}

impl<'a> Op<'a> {
    fn kind(&self) -> u8 {
        match self {
            Op::Put { .. } => PUT,
            Op::Delete { .. } => DELETE,
            Op::Row { .. } => ROW,
            Op::DeleteRow { .. } => DELETE_ROW,
        }
    }

    pub fn value(&self) -> Option<&'a [u8]> {
        match self {
            Op::Put { value, .. } | Op::Row { value, .. } => Some(value),
            _ => None,
        }
    }

    fn table_len(&self) -> usize {
        let target = match self {
            Op::Put { key, .. } | Op::Delete { key } => 2 + key.len(),
            Op::Row { .. } | Op::DeleteRow { .. } => 8,
        };
        1 + target + self.value().map_or(0, |_| 8)
    }
}

/// The seed of segment `id`'s record checksums.
pub(crate) fn seed(segment: u64) -> u32 {
    crc32c::crc32c(&segment.to_le_bytes())
}

/// Table and total length of a record holding `ops`.
pub(crate) fn lengths(ops: &[Op<'_>]) -> (usize, u64) {
    let table = TABLE_HEAD + ops.iter().map(Op::table_len).sum::<usize>();
    let values: u64 = ops.iter().filter_map(Op::value).map(|v| v.len() as u64).sum();
    (table, (FRAME + table) as u64 + values)
}

/// Where an op's value went: its offset from the record's first byte, length and CRC32C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placed {
    pub offset: u64,
    pub len: u32,
    pub crc: u32,
}

/// Appends the record for `ops` to `out` (the table must fit [`MAX_TABLE`] and each value
/// 32 bits: the write path checks). Returns, per op, where its value went.
pub(crate) fn encode(
    seed: u32,
    sequence: u64,
    synced: u64,
    ops: &[Op<'_>],
    out: &mut Vec<u8>,
) -> Vec<Option<Placed>> {
    let (table, total) = lengths(ops);
    debug_assert!(table <= MAX_TABLE);
    let start = out.len();
    out.reserve(total as usize);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(table as u32).to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&synced.to_le_bytes());
    let mut placed = Vec::with_capacity(ops.len());
    let mut value_at = (FRAME + table) as u64;
    for op in ops {
        out.push(op.kind());
        match op {
            Op::Put { key, .. } | Op::Delete { key } => {
                out.extend_from_slice(&(key.len() as u16).to_le_bytes());
                out.extend_from_slice(key.as_bytes());
            }
            Op::Row { id, .. } | Op::DeleteRow { id } => out.extend_from_slice(&id.to_le_bytes()),
        }
        placed.push(op.value().map(|value| {
            let crc = crc32c::crc32c(value);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
            let at = Placed { offset: value_at, len: value.len() as u32, crc };
            value_at += value.len() as u64;
            at
        }));
    }
    debug_assert_eq!(out.len() - start, FRAME + table);
    let crc = crc32c::crc32c_append(seed, &out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
    for value in ops.iter().filter_map(Op::value) {
        out.extend_from_slice(value);
    }
    placed
}

/// Why bytes are not a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Zeros where a record would start: the end of the log (or a hole in it).
    Zeros,
    /// The bytes end before the record does.
    Truncated,
    /// The record is complete but its checksum or contents are wrong.
    Damaged(&'static str),
}

/// An op read back from a table; a value is known by its length and checksum until read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TableOp<'a> {
    Put { key: &'a str, len: u32, crc: u32 },
    Delete { key: &'a str },
    Row { id: u64, len: u32, crc: u32 },
    DeleteRow { id: u64 },
}

impl TableOp<'_> {
    pub fn value(&self) -> Option<(u32, u32)> {
        match *self {
            TableOp::Put { len, crc, .. } | TableOp::Row { len, crc, .. } => Some((len, crc)),
            _ => None,
        }
    }
}

/// A record's table, checked: the values after it are checked by whoever reads them.
#[derive(Debug)]
pub(crate) struct Table<'a> {
    pub sequence: u64,
    pub synced: u64,
    pub ops: Vec<TableOp<'a>>,
    /// Bytes of the frame and table: where the values start.
    pub head_len: usize,
    /// The whole record: frame, table and values.
    pub len: u64,
}

/// The table length a record at the start of `bytes` claims (at least 8 bytes needed).
pub(crate) fn table_len(bytes: &[u8]) -> Result<usize, Invalid> {
    let frame = bytes.get(..FRAME).ok_or(Invalid::Truncated)?;
    if frame == [0; FRAME] {
        return Err(Invalid::Zeros);
    }
    let table = u32::from_le_bytes(frame[4..].try_into().unwrap()) as usize;
    if table < TABLE_HEAD {
        return Err(Invalid::Damaged("table shorter than its header"));
    }
    if table > MAX_TABLE {
        return Err(Invalid::Damaged("table longer than any record has"));
    }
    Ok(table)
}

/// Reads and checks the frame and table of the record at the start of `bytes` (which must
/// hold them: at least [`FRAME`] + [`table_len`] bytes, else `Truncated`).
pub(crate) fn parse_table(seed: u32, bytes: &[u8]) -> Result<Table<'_>, Invalid> {
    let table = table_len(bytes)?;
    let head = bytes.get(..FRAME + table).ok_or(Invalid::Truncated)?;
    let crc = u32::from_le_bytes(head[..4].try_into().unwrap());
    if crc32c::crc32c_append(seed, &head[4..]) != crc {
        return Err(Invalid::Damaged("checksum mismatch"));
    }
    let mut reader = Reader { bytes: head, at: FRAME };
    let sequence = reader.u64()?;
    let synced = reader.u64()?;
    let mut ops = Vec::new();
    let mut values = 0u64;
    while reader.at < head.len() {
        let op = match reader.u8()? {
            PUT => TableOp::Put { key: reader.key()?, len: reader.u32()?, crc: reader.u32()? },
            DELETE => TableOp::Delete { key: reader.key()? },
            ROW => TableOp::Row { id: reader.u64()?, len: reader.u32()?, crc: reader.u32()? },
            DELETE_ROW => TableOp::DeleteRow { id: reader.u64()? },
            _ => return Err(Invalid::Damaged("unknown op kind")),
        };
        values += op.value().map_or(0, |(len, _)| u64::from(len));
        ops.push(op);
    }
    Ok(Table { sequence, synced, ops, head_len: head.len(), len: head.len() as u64 + values })
}

/// Checks the values of `table` against `values` (the bytes right after its head; at
/// least as many as the values take, else `Truncated`).
pub(crate) fn check_values(table: &Table<'_>, values: &[u8]) -> Result<(), Invalid> {
    let mut at = 0usize;
    for (len, crc) in table.ops.iter().filter_map(TableOp::value) {
        let end = at + len as usize;
        let value = values.get(at..end).ok_or(Invalid::Truncated)?;
        if crc32c::crc32c(value) != crc {
            return Err(Invalid::Damaged("value checksum mismatch"));
        }
        at = end;
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Invalid> {
        let end = self.at.checked_add(n).ok_or(Invalid::Damaged("field overflows"))?;
        let taken = self.bytes.get(self.at..end).ok_or(Invalid::Damaged("field past the table"))?;
        self.at = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, Invalid> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Invalid> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }

    fn u32(&mut self) -> Result<u32, Invalid> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }

    fn u64(&mut self) -> Result<u64, Invalid> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    fn key(&mut self) -> Result<&'a str, Invalid> {
        let len = self.u16()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| Invalid::Damaged("key is not UTF-8"))
    }
}

/// Format 1 records, read only.
pub(crate) mod v1 {
    use super::{Invalid, Reader};

    /// Longest format-1 record the replay reads (its writers kept documents to 1 MiB by
    /// default; a damaged length never allocates more than this).
    pub(crate) const MAX_RECORD: usize = 256 << 20;
    const BATCH: u8 = 5;

    /// One op of a format-1 record, with its value and the value's offset from the
    /// record's first byte.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) enum Op<'a> {
        Put { key: &'a str, value: &'a [u8], offset: usize },
        Delete { key: &'a str },
        Row { id: u64, value: &'a [u8], offset: usize },
        DeleteRow { id: u64 },
    }

    /// A format-1 record read back.
    #[derive(Debug)]
    pub(crate) struct Decoded<'a> {
        pub ops: Vec<Op<'a>>,
        /// Frame and body: where the next record starts.
        pub len: usize,
    }

    /// The whole length a format-1 record at the start of `bytes` claims.
    pub(crate) fn record_len(bytes: &[u8]) -> Result<usize, Invalid> {
        let frame = bytes.get(..8).ok_or(Invalid::Truncated)?;
        if frame == [0; 8] {
            return Err(Invalid::Zeros);
        }
        let body = u32::from_le_bytes(frame[4..].try_into().unwrap()) as usize;
        if body < 9 {
            return Err(Invalid::Damaged("body shorter than its header"));
        }
        if body > MAX_RECORD {
            return Err(Invalid::Damaged("record longer than any format-1 store wrote"));
        }
        Ok(8 + body)
    }

    /// Reads the format-1 record at the start of `bytes`.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Invalid> {
        let end = record_len(bytes)?;
        let frame = bytes.get(..end).ok_or(Invalid::Truncated)?;
        let crc = u32::from_le_bytes(frame[..4].try_into().unwrap());
        if crc32c::crc32c(&frame[4..]) != crc {
            return Err(Invalid::Damaged("checksum mismatch"));
        }
        let mut reader = Reader { bytes: frame, at: 8 };
        let kind = reader.u8()?;
        reader.u64()?; // the sequence number: format 1 did not keep it across opens
        let mut ops = Vec::new();
        if kind == BATCH {
            for _ in 0..reader.u32()? {
                let kind = reader.u8()?;
                ops.push(op(&mut reader, kind, true)?);
            }
        } else {
            ops.push(op(&mut reader, kind, false)?);
        }
        if reader.at != frame.len() {
            return Err(Invalid::Damaged("bytes after the last op"));
        }
        Ok(Decoded { ops, len: end })
    }

    fn op<'a>(reader: &mut Reader<'a>, kind: u8, in_batch: bool) -> Result<Op<'a>, Invalid> {
        let value = |reader: &mut Reader<'a>| -> Result<(&'a [u8], usize), Invalid> {
            let len =
                if in_batch { reader.u32()? as usize } else { reader.bytes.len() - reader.at };
            let offset = reader.at;
            Ok((reader.take(len)?, offset))
        };
        Ok(match kind {
            super::PUT => {
                let key = reader.key()?;
                let (value, offset) = value(reader)?;
                Op::Put { key, value, offset }
            }
            super::DELETE => Op::Delete { key: reader.key()? },
            super::ROW => {
                let id = reader.u64()?;
                let (value, offset) = value(reader)?;
                Op::Row { id, value, offset }
            }
            super::DELETE_ROW => Op::DeleteRow { id: reader.u64()? },
            _ => return Err(Invalid::Damaged("unknown record kind")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode<'a>(seed: u32, bytes: &'a [u8]) -> Result<Table<'a>, Invalid> {
        let table = parse_table(seed, bytes)?;
        check_values(&table, bytes.get(table.head_len..).ok_or(Invalid::Truncated)?)?;
        Ok(table)
    }

    #[test]
    fn single_ops_batches_and_marks_round_trip() {
        let cases: [&[Op]; 6] = [
            &[Op::Put { key: "user:1", value: b"name: Ada" }],
            &[Op::Delete { key: "user:1" }],
            &[Op::Row { id: 7, value: b"a: 1" }],
            &[Op::DeleteRow { id: 7 }],
            &[
                Op::Put { key: "a", value: b"x: 1" },
                Op::Delete { key: "b" },
                Op::Row { id: 1, value: b"" },
                Op::DeleteRow { id: 2 },
            ],
            &[],
        ];
        for ops in cases {
            let mut bytes = b"prefix".to_vec();
            let placed = encode(seed(3), 42, 99, ops, &mut bytes);
            let record = &bytes[6..];
            assert_eq!(lengths(ops).1, record.len() as u64);
            let table = decode(seed(3), record).unwrap();
            assert_eq!((table.sequence, table.synced, table.len), (42, 99, record.len() as u64));
            assert_eq!(table.ops.len(), ops.len());
            for ((op, read), placed) in ops.iter().zip(&table.ops).zip(&placed) {
                match (op.value(), placed) {
                    (Some(value), Some(placed)) => {
                        let at = placed.offset as usize;
                        assert_eq!(&record[at..at + value.len()], value);
                        assert_eq!(read.value(), Some((placed.len, placed.crc)));
                    }
                    (None, None) => assert_eq!(read.value(), None),
                    other => panic!("{other:?}"),
                }
            }
            assert!(decode(seed(4), record).is_err(), "a record read in another segment");
        }
    }

    #[test]
    fn damage_truncation_and_zeros_are_told_apart() {
        let mut bytes = Vec::new();
        encode(seed(1), 1, 32, &[Op::Put { key: "k", value: b"v: 1" }], &mut bytes);
        for cut in 1..bytes.len() {
            assert_eq!(
                decode(seed(1), &bytes[..cut]).unwrap_err(),
                Invalid::Truncated,
                "cut {cut}"
            );
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(decode(seed(1), &flipped).is_err(), "flip at {i} must not decode");
        }
        assert_eq!(decode(seed(1), &[0; 64]).unwrap_err(), Invalid::Zeros);
    }

    #[test]
    fn format_1_records_still_decode() {
        // put "k" = "v: 1", sequence 1, as format 1 wrote it.
        let mut record = vec![0, 0, 0, 0, 16, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, b'k'];
        record.extend_from_slice(b"v: 1");
        let crc = crc32c::crc32c(&record[4..]);
        record[..4].copy_from_slice(&crc.to_le_bytes());
        let decoded = v1::decode(&record).unwrap();
        assert_eq!(decoded.ops, [v1::Op::Put { key: "k", value: b"v: 1", offset: 20 }]);
        assert_eq!(decoded.len, record.len());
    }
}
