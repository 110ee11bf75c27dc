//! Log records: how puts, deletes, rows and batches are framed in a segment.
//!
//! Byte layout (all integers little-endian), mirrored in `docs/FORMAT.md`:
//!
//! | offset | size | field                                                   |
//! |--------|------|---------------------------------------------------------|
//! | 0      | 4    | CRC32C of bytes 4 .. 8 + L (the length and the body)    |
//! | 4      | 4    | L, the body length (never 0)                            |
//! | 8      | 1    | kind: 1 put, 2 delete, 3 row, 4 delete row, 5 batch     |
//! | 9      | 8    | sequence number                                         |
//! | 17     | ...  | the kind's fields, below                                |
//!
//! | kind           | fields after the sequence number                                |
//! |----------------|-----------------------------------------------------------------|
//! | 1 put          | key length u16, key (UTF-8), value (the rest of the body)       |
//! | 2 delete       | key length u16, key                                             |
//! | 3 row          | row id u64, value (the rest of the body)                        |
//! | 4 delete row   | row id u64                                                      |
//! | 5 batch        | op count u32, then per op: kind u8, key length u16 + key (1, 2) |
//! |                | or row id u64 (3, 4), value length u32 + value (1, 3)           |
//!
//! A value is canonical TOON text. One record is one atomic unit: a batch is a single
//! record, so after a crash it is there whole or not at all. A zeroed or cut-off frame
//! fails its checksum and ends the log.

use std::fmt;

/// Bytes before the body: checksum and length.
pub(crate) const FRAME_HEADER: usize = 8;
/// Body bytes before the kind's fields: kind and sequence number.
const BODY_HEADER: usize = 9;

const PUT: u8 = 1;
const DELETE: u8 = 2;
const ROW: u8 = 3;
const DELETE_ROW: u8 = 4;
const BATCH: u8 = 5;

/// One change.
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

impl Op<'_> {
    fn kind(&self) -> u8 {
        match self {
            Op::Put { .. } => PUT,
            Op::Delete { .. } => DELETE,
            Op::Row { .. } => ROW,
            Op::DeleteRow { .. } => DELETE_ROW,
        }
    }

    fn value(&self) -> Option<&[u8]> {
        match self {
            Op::Put { value, .. } | Op::Row { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Encoded size inside a batch.
    fn batch_size(&self) -> usize {
        let target = match self {
            Op::Put { key, .. } | Op::Delete { key } => 2 + key.len(),
            Op::Row { .. } | Op::DeleteRow { .. } => 8,
        };
        1 + target + self.value().map_or(0, |v| 4 + v.len())
    }
}

/// Body length of a record holding `ops`.
pub(crate) fn body_len(ops: &[Op<'_>]) -> usize {
    BODY_HEADER
        + match ops {
            [single] => single.batch_size() - 1 - single.value().map_or(0, |_| 4),
            many => 4 + many.iter().map(Op::batch_size).sum::<usize>(),
        }
}

/// Appends the record for `ops` to `out`; returns, for each op, its value's offset from the
/// record's first byte (0 for ops without a value), as [`decode`] does.
pub(crate) fn encode(sequence: u64, ops: &[Op<'_>], out: &mut Vec<u8>) -> Vec<usize> {
    debug_assert!(!ops.is_empty());
    let start = out.len();
    let body_len = body_len(ops);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    let mut value_offsets = Vec::with_capacity(ops.len());
    match ops {
        [single] => {
            out.push(single.kind());
            out.extend_from_slice(&sequence.to_le_bytes());
            put_target(single, out);
            value_offsets.push(single.value().map_or(0, |_| out.len() - start));
            if let Some(value) = single.value() {
                out.extend_from_slice(value);
            }
        }
        many => {
            out.push(BATCH);
            out.extend_from_slice(&sequence.to_le_bytes());
            out.extend_from_slice(&(many.len() as u32).to_le_bytes());
            for op in many {
                out.push(op.kind());
                put_target(op, out);
                match op.value() {
                    Some(value) => {
                        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                        value_offsets.push(out.len() - start);
                        out.extend_from_slice(value);
                    }
                    None => value_offsets.push(0),
                }
            }
        }
    }
    debug_assert_eq!(out.len() - start, FRAME_HEADER + body_len);
    let crc = crc32c::crc32c(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
    value_offsets
}

fn put_target(op: &Op<'_>, out: &mut Vec<u8>) {
    match op {
        Op::Put { key, .. } | Op::Delete { key } => {
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(key.as_bytes());
        }
        Op::Row { id, .. } | Op::DeleteRow { id } => out.extend_from_slice(&id.to_le_bytes()),
    }
}

/// A record read back: its sequence number and ops, each value with its offset from the
/// record's first byte.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub sequence: u64,
    pub ops: Vec<(Op<'a>, usize)>,
    /// Frame and body: where the next record starts.
    pub len: usize,
}

/// Why bytes are not a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The bytes end before the frame does (a cut-off write, or the end of the log).
    Truncated,
    /// The frame is complete but its checksum or contents are wrong.
    Damaged(&'static str),
}

/// Reads the record at the start of `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Invalid> {
    let header = bytes.get(..FRAME_HEADER).ok_or(Invalid::Truncated)?;
    let crc = u32::from_le_bytes(header[..4].try_into().unwrap());
    let body_len = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
    if body_len < BODY_HEADER {
        return Err(Invalid::Damaged("body shorter than its header"));
    }
    let end = FRAME_HEADER.checked_add(body_len).ok_or(Invalid::Damaged("length overflows"))?;
    let frame = bytes.get(..end).ok_or(Invalid::Truncated)?;
    if crc32c::crc32c(&frame[4..]) != crc {
        return Err(Invalid::Damaged("checksum mismatch"));
    }
    let mut reader = Reader { bytes: frame, at: FRAME_HEADER };
    let kind = reader.u8()?;
    let sequence = reader.u64()?;
    let mut ops = Vec::new();
    if kind == BATCH {
        let count = reader.u32()?;
        for _ in 0..count {
            let kind = reader.u8()?;
            ops.push(reader.op(kind, true)?);
        }
    } else {
        ops.push(reader.op(kind, false)?);
    }
    if reader.at != frame.len() {
        return Err(Invalid::Damaged("bytes after the last op"));
    }
    Ok(Decoded { sequence, ops, len: end })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Invalid> {
        let end = self.at.checked_add(n).ok_or(Invalid::Damaged("field overflows"))?;
        let taken = self.bytes.get(self.at..end).ok_or(Invalid::Damaged("field past the body"))?;
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

    /// One op; in a batch a value carries its length, alone it runs to the body's end.
    fn op(&mut self, kind: u8, in_batch: bool) -> Result<(Op<'a>, usize), Invalid> {
        let value = |reader: &mut Reader<'a>| -> Result<(&'a [u8], usize), Invalid> {
            let len =
                if in_batch { reader.u32()? as usize } else { reader.bytes.len() - reader.at };
            let offset = reader.at;
            Ok((reader.take(len)?, offset))
        };
        Ok(match kind {
            PUT => {
                let key = self.key()?;
                let (value, offset) = value(self)?;
                (Op::Put { key, value }, offset)
            }
            DELETE => (Op::Delete { key: self.key()? }, 0),
            ROW => {
                let id = self.u64()?;
                let (value, offset) = value(self)?;
                (Op::Row { id, value }, offset)
            }
            DELETE_ROW => (Op::DeleteRow { id: self.u64()? }, 0),
            _ => return Err(Invalid::Damaged("unknown record kind")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ops_and_batches_round_trip() {
        let cases: [&[Op]; 5] = [
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
        ];
        for ops in cases {
            let mut bytes = b"prefix".to_vec();
            let offsets = encode(42, ops, &mut bytes);
            let decoded = decode(&bytes[6..]).unwrap();
            assert_eq!(decoded.sequence, 42);
            assert_eq!(decoded.len, bytes.len() - 6);
            let got: Vec<Op> = decoded.ops.iter().map(|(op, _)| *op).collect();
            assert_eq!(got, ops);
            let value_offsets: Vec<usize> = decoded.ops.iter().map(|(_, o)| *o).collect();
            assert_eq!(value_offsets, offsets);
        }
    }

    #[test]
    fn damage_and_truncation_are_told_apart() {
        let mut bytes = Vec::new();
        encode(1, &[Op::Put { key: "k", value: b"v: 1" }], &mut bytes);
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]).unwrap_err(), Invalid::Truncated, "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(decode(&flipped).is_err(), "flip at {i} must not decode");
        }
        assert!(matches!(decode(&[0; 64]), Err(Invalid::Damaged(_))), "zeros are no record");
    }
}
