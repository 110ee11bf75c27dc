//! The write path: checking what comes in, framing it as one record, handing it to the
//! file, rotating segments.
//!
//! A write changes nothing unless it is taken whole: limits are checked, row ids assigned
//! and the record framed before anything moves; a record that cannot be handed to the file
//! is taken back out of the write buffer, so a write that returned an error never appears.
//! A full disk or quota is [`Error::StoreFull`] and leaves the store usable, with every
//! write acknowledged before it kept (in the buffer if need be, read from there) until a
//! later sync finds room. Any other failed write poisons the store.

use std::borrow::Cow;
use std::sync::Arc;

use super::error::{Error, Limit, Result, is_full};
use super::index::{Change, Location};
use super::record::{self, Op};
use super::{
    Durability, MAX_KEY_BYTES, PREWRITTEN, Store, WRITE_BUFFER, Writer, cache::Slot, lock, segment,
};
use crate::io::{File, OpenMode, Storage};
use crate::toon::{self, Value};

/// A set of puts and deletes applied atomically by [`Store::batch`].
#[derive(Debug, Default, Clone)]
pub struct Batch {
    ops: Vec<BatchOp>,
}

#[derive(Debug, Clone)]
enum BatchOp {
    /// `encoded`: the text is the encoder's output, canonical by construction.
    Put {
        key: String,
        text: String,
        encoded: bool,
    },
    Delete(String),
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Puts TOON text (validated and made canonical when the batch is applied).
    pub fn put(&mut self, key: impl Into<String>, toon: impl Into<String>) -> &mut Batch {
        self.ops.push(BatchOp::Put { key: key.into(), text: toon.into(), encoded: false });
        self
    }

    /// Puts a value.
    pub fn put_value(&mut self, key: impl Into<String>, value: &Value) -> &mut Batch {
        self.ops.push(BatchOp::Put { key: key.into(), text: toon::encode(value), encoded: true });
        self
    }

    /// Deletes a key (a no-op if it is absent).
    pub fn delete(&mut self, key: impl Into<String>) -> &mut Batch {
        self.ops.push(BatchOp::Delete(key.into()));
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Placeholder row id in an op: [`Store::write`] assigns the next one.
const NEXT_ROW: u64 = u64::MAX;

/// What one write did, op by op.
#[derive(Default)]
pub(super) struct Outcome {
    pub existed: Vec<bool>,
    pub rows: Vec<u64>,
}

/// Why handing bytes to the file failed.
pub(super) enum Refusal {
    /// The disk or a quota is full: nothing is poisoned.
    Full,
    /// Anything else: the store must be poisoned.
    Failed(std::io::Error),
    /// The store is (now) poisoned.
    Poisoned,
}

impl From<std::io::Error> for Refusal {
    fn from(e: std::io::Error) -> Refusal {
        match is_full(&e) {
            true => Refusal::Full,
            false => Refusal::Failed(e),
        }
    }
}

impl<S: Storage> Store<S> {
    /// Canonical TOON of a document given as text. Text the validator proves canonical (the
    /// usual case: text written by an encoder) is kept as it is, checked in one pass without
    /// building the value; other text is decoded and encoded again.
    fn canonical<'t>(&self, toon_text: &'t str) -> Result<Cow<'t, str>> {
        if toon::is_canonical(toon_text)? {
            let text = toon_text.strip_suffix('\n').unwrap_or(toon_text);
            return Ok(Cow::Borrowed(text));
        }
        Ok(Cow::Owned(toon::encode(&toon::decode(toon_text)?)))
    }

    fn check_key(key: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::InvalidKey("keys cannot be empty".into()));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::TooLarge {
                what: "key",
                size: key.len() as u64,
                limit: MAX_KEY_BYTES as u64,
            });
        }
        Ok(())
    }

    fn check_value(&self, value: &str) -> Result<()> {
        let size = value.len() as u64;
        if size > self.options.max_value_bytes {
            return Err(Error::TooLarge {
                what: "document",
                size,
                limit: self.options.max_value_bytes,
            });
        }
        Ok(())
    }

    /// Stores TOON text under `key` (validated, kept in canonical form).
    pub fn put(&self, key: &str, toon_text: &str) -> Result<()> {
        Self::check_key(key)?;
        let canonical = self.canonical(toon_text)?;
        self.check_value(&canonical)?;
        self.write(&[Op::Put { key, value: canonical.as_bytes() }]).map(drop)
    }

    /// Stores a value under `key`.
    pub fn put_value(&self, key: &str, value: &Value) -> Result<()> {
        Self::check_key(key)?;
        let text = toon::encode(value);
        self.check_value(&text)?;
        self.write(&[Op::Put { key, value: text.as_bytes() }]).map(drop)
    }

    /// Deletes `key`; true when it existed.
    pub fn delete(&self, key: &str) -> Result<bool> {
        Self::check_key(key)?;
        self.write(&[Op::Delete { key }]).map(|outcome| outcome.existed[0])
    }

    /// Appends a document as the next row; returns its row id.
    pub fn append(&self, toon_text: &str) -> Result<u64> {
        let canonical = self.canonical(toon_text)?;
        self.append_canonical(&canonical)
    }

    /// Appends a value as the next row; returns its row id.
    pub fn append_value(&self, value: &Value) -> Result<u64> {
        self.append_canonical(&toon::encode(value))
    }

    fn append_canonical(&self, text: &str) -> Result<u64> {
        self.check_value(text)?;
        let outcome = self.write(&[Op::Row { id: NEXT_ROW, value: text.as_bytes() }])?;
        Ok(outcome.rows[0])
    }

    /// Deletes row `id`; true when it existed. A row id never assigned changes nothing.
    pub fn delete_row(&self, id: u64) -> Result<bool> {
        self.write(&[Op::DeleteRow { id }]).map(|outcome| outcome.existed[0])
    }

    /// Applies every put and delete of `batch`, or none of them, even across a crash.
    pub fn batch(&self, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return self.check_writable();
        }
        // Texts that need rewriting to canonical form, kept here for the ops to borrow.
        let mut canonical = Vec::with_capacity(batch.len());
        for op in &batch.ops {
            match op {
                BatchOp::Put { key, text, encoded } => {
                    Self::check_key(key)?;
                    let text = match encoded {
                        true => Cow::Borrowed(text.as_str()),
                        false => self.canonical(text)?,
                    };
                    self.check_value(&text)?;
                    canonical.push(text);
                }
                BatchOp::Delete(key) => Self::check_key(key)?,
            }
        }
        let mut texts = canonical.iter();
        let ops: Vec<Op<'_>> = batch
            .ops
            .iter()
            .map(|op| match op {
                BatchOp::Put { key, .. } => {
                    let text = texts.next().expect("one text per put");
                    Op::Put { key, value: text.as_bytes() }
                }
                BatchOp::Delete(key) => Op::Delete { key },
            })
            .collect();
        self.write(&ops).map(drop)
    }

    /// Appends one record holding `ops`, updates the index, and makes it durable as the
    /// options say. Nothing is written when a limit would be passed, and nothing of a write
    /// that fails stays behind.
    pub(super) fn write(&self, ops: &[Op<'_>]) -> Result<Outcome> {
        self.check_writable()?;
        let mut guard = lock(&self.writer);
        let writer = guard.as_mut().ok_or(Error::Closed)?;
        self.check_open()?;
        let mut outcome = Outcome::default();
        if let [Op::DeleteRow { id }] = ops
            && *id >= writer.next_row
        {
            outcome.existed.push(false);
            return Ok(outcome);
        }
        let mut ops = ops.to_vec();
        let mut next_row = writer.next_row;
        for op in &mut ops {
            if let Op::Row { id, .. } = op {
                // u64::MAX stays free: no row id is ever followed by none.
                if next_row >= u64::MAX - 1 {
                    return Err(Error::TooLarge {
                        what: "row id",
                        size: next_row,
                        limit: u64::MAX - 2,
                    });
                }
                *id = next_row;
                next_row += 1;
                outcome.rows.push(*id);
            }
        }
        let (table, len) = record::lengths(&ops);
        if table > record::MAX_TABLE {
            let limit = record::MAX_TABLE as u64;
            return Err(Error::TooLarge { what: "batch", size: table as u64, limit });
        }
        // Deletes are always taken, so that a full store can be emptied and compacted.
        let grows = ops.iter().any(|op| op.value().is_some());
        if grows && writer.log_bytes + len > self.options.max_store_bytes {
            return Err(Error::StoreFull {
                size: writer.log_bytes + len,
                limit: self.options.max_store_bytes,
                by: Limit::MaxStoreBytes,
            });
        }
        let mut placed = self.rotate_and_append(writer, &ops, len);
        // A full disk: a delete may take the reserve file's room (so deletes and compaction
        // can empty a full store); a write that grows the store may not.
        if matches!(placed, Err(Refusal::Full)) && !grows && self.release_reserve(writer) {
            placed = self.rotate_and_append(writer, &ops, len);
        }
        let placed = placed.map_err(|refusal| self.refused(refusal, writer, len))?;
        let record_start = writer.end - len;
        writer.next_row = next_row;
        let written = writer.written;
        {
            let mut state = self.write_state();
            let segment = writer.active_id;
            for (op, placed) in ops.iter().zip(placed) {
                let at = |p: record::Placed| Location {
                    segment,
                    offset: record_start + p.offset,
                    len: p.len,
                    crc: p.crc,
                };
                let change = match *op {
                    Op::Put { key, .. } => {
                        self.cache.remove(&Slot::Key(key.into()));
                        Change::Put(key, at(placed.expect("a put has a value")))
                    }
                    Op::Delete { key } => {
                        self.cache.remove(&Slot::Key(key.into()));
                        Change::Delete(key)
                    }
                    Op::Row { id, .. } => Change::Row(id, at(placed.expect("a row has a value"))),
                    Op::DeleteRow { id } => {
                        self.cache.remove(&Slot::Row(id));
                        Change::DeleteRow(id)
                    }
                };
                outcome.existed.push(state.index.apply(change));
            }
        }
        drop(guard);
        if self.options.durability == Durability::Immediate {
            // The record is in the file: if its sync fails, its outcome is unknown.
            self.sync_through(written).map_err(|_| Error::SyncFailed)?;
        }
        Ok(outcome)
    }

    /// Starts a new segment when the record of `len` bytes does not fit the active one,
    /// then appends the record.
    pub(super) fn rotate_and_append(
        &self,
        writer: &mut Writer<S::File>,
        ops: &[Op<'_>],
        len: u64,
    ) -> Result<Vec<Option<record::Placed>>, Refusal> {
        if (writer.end > segment::HEADER && writer.end + len > self.options.segment_bytes)
            || writer.active_version != segment::VERSION
        {
            self.rotate(writer)?;
        }
        self.append_record(writer, ops)
    }

    /// Frames `ops` as the next record of the active segment and hands it on (to the file
    /// at once for `Immediate`, when the buffer fills for `Eventual`). On failure the record
    /// is taken back: the writer is as before.
    pub(super) fn append_record(
        &self,
        writer: &mut Writer<S::File>,
        ops: &[Op<'_>],
    ) -> Result<Vec<Option<record::Placed>>, Refusal> {
        let mark = writer.pending.len();
        let seed = record::seed(writer.active_id);
        let placed =
            record::encode(seed, writer.sequence, writer.durable, ops, &mut writer.pending);
        let len = (writer.pending.len() - mark) as u64;
        let hand_over = self.options.durability == Durability::Immediate
            || writer.pending.len() >= WRITE_BUFFER;
        if hand_over && let Err(refusal) = self.flush_pending(writer) {
            writer.pending.truncate(mark);
            return Err(refusal);
        }
        writer.marked = writer.durable;
        writer.sequence += 1;
        writer.end += len;
        writer.log_bytes += len;
        writer.written += len;
        Ok(placed)
    }

    /// The error for a refused write of `len` bytes: a full disk leaves the store as it was;
    /// anything else poisons it.
    pub(super) fn refused(&self, refusal: Refusal, writer: &Writer<S::File>, len: u64) -> Error {
        match refusal {
            Refusal::Full => Error::StoreFull {
                size: writer.log_bytes + writer.pending.len() as u64 + len,
                limit: writer.log_bytes,
                by: Limit::Storage,
            },
            Refusal::Failed(e) => self.poison(e),
            Refusal::Poisoned => Error::Poisoned,
        }
    }

    /// Seals the active segment (synced first, so a later segment never outlives an earlier
    /// one's lost tail) and starts the next, named in the manifest before any record.
    pub(super) fn rotate(&self, writer: &mut Writer<S::File>) -> Result<(), Refusal> {
        self.flush_pending(writer)?;
        self.check_not_poisoned().map_err(|_| Refusal::Poisoned)?;
        self.trim_prewritten(writer).map_err(Refusal::Failed)?;
        // A failed sync is never "full": its pages may be lost for good (it poisons).
        self.sync_to_end(writer).map_err(|_| Refusal::Poisoned)?;
        let id = writer.manifest.next_segment();
        self.check_not_poisoned().map_err(|_| Refusal::Poisoned)?;
        let file = match self.create_segment(id) {
            Ok(file) => Arc::new(file),
            Err(e) => {
                // A segment no manifest names, holding no record: safe to take back.
                if is_full(&e) {
                    let _ = self.storage.remove(&segment::name(id));
                }
                return Err(e.into());
            }
        };
        let mut manifest = writer.manifest.clone();
        manifest.generation += 1;
        manifest.segments += 1;
        manifest.next_row = writer.next_row;
        manifest.next_sequence = writer.sequence;
        manifest.active_synced = segment::HEADER;
        self.commit(writer, &manifest).map_err(|_| Refusal::Poisoned)?;
        writer.manifest = manifest;
        // The sealed segment, reopened: a backend with memory maps now maps all of it.
        let sealed_id = writer.active_id;
        let sealed = self.storage.open(&segment::name(sealed_id), OpenMode::Existing);
        let sealed = Arc::new(sealed.map_err(Refusal::Failed)?);
        let mut state = self.write_state();
        state.segments.insert(sealed_id, sealed);
        state.segments.insert(id, file.clone());
        drop(state);
        writer.active = file;
        writer.active_id = id;
        writer.active_version = segment::VERSION;
        writer.end = segment::HEADER;
        writer.flushed = segment::HEADER;
        writer.durable = segment::HEADER;
        writer.marked = segment::HEADER;
        writer.mark_at = None;
        writer.log_bytes += segment::HEADER;
        self.publish_active(writer);
        Ok(())
    }

    /// Creates segment `id`, exclusively. A file of that name holding no record is what a
    /// rotation left when it stopped before its commit (and an open could not remove): it is
    /// removed first; one holding records is never touched.
    fn create_segment(&self, id: u64) -> std::io::Result<S::File> {
        match segment::create(&self.storage, id) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let name = segment::name(id);
                if self.storage.open(&name, OpenMode::ReadOnly)?.len()? > segment::HEADER {
                    return Err(e);
                }
                self.storage.remove(&name)?;
                self.storage.sync()?;
                segment::create(&self.storage, id)
            }
            created => created,
        }
    }

    /// Hands the pending records to the file (and, for `Immediate` durability, writes the
    /// next [`PREWRITTEN`] zeros when the records pass the last ones: best effort). On
    /// failure the pending records stay, to be handed over again from the same place.
    pub(super) fn flush_pending(&self, writer: &mut Writer<S::File>) -> Result<(), Refusal> {
        if self.poisoned.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Refusal::Poisoned);
        }
        if writer.pending.is_empty() {
            return Ok(());
        }
        // Written over (even a failed write may have changed its bytes).
        writer.mark_at = None;
        writer.active.write_at(writer.flushed, &writer.pending)?;
        writer.flushed += writer.pending.len() as u64;
        writer.pending.clear();
        if self.options.durability == Durability::Immediate && writer.flushed >= writer.zeroed {
            let ahead = PREWRITTEN.min(self.options.segment_bytes.saturating_sub(writer.flushed));
            if ahead > 0 && writer.active.write_at(writer.flushed, &vec![0; ahead as usize]).is_ok()
            {
                writer.zeroed = writer.flushed + ahead;
            }
        }
        self.publish_active(writer);
        Ok(())
    }

    /// Cuts whatever lies past the last record off the active segment (zeros written
    /// ahead, a sync mark, the part of a refused write a full disk took), so a sealed or
    /// closed segment ends with its last record. The length is set even when it looks right:
    /// a cut made before a failed sync may live only in memory (the next sync writes it).
    /// (Readers beside the writer never map the file: shrinking it is safe.)
    /// A sync mark still at the log's end stays, as the log's last record: until a commit
    /// records how much is durable, it is the only evidence of the last sync.
    pub(super) fn trim_prewritten(&self, writer: &mut Writer<S::File>) -> std::io::Result<()> {
        if writer.mark_at == Some(writer.flushed) && writer.pending.is_empty() {
            let mark = record::lengths(&[]).1;
            writer.flushed += mark;
            writer.end += mark;
            writer.log_bytes += mark;
            writer.written += mark;
            writer.sequence += 1; // the mark's
            self.publish_active(writer);
        }
        writer.mark_at = None;
        writer.active.set_len(writer.flushed)?;
        writer.zeroed = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryStorage;
    use crate::store::Options;

    /// Review finding A8: row ids near the top of the range are refused, never wrapped
    /// around onto existing rows.
    #[test]
    fn row_ids_are_refused_before_they_would_wrap() {
        let storage = MemoryStorage::new();
        let store = Store::open(storage.clone(), Options::default()).unwrap();
        store.append("n: 0").unwrap();
        store.sync().unwrap();
        {
            // A record holding a row id near the top, as if many rows came before.
            let guard = lock(&store.writer);
            let writer = guard.as_ref().unwrap();
            let mut bytes = Vec::new();
            let row = [Op::Row { id: u64::MAX - 4, value: b"n: 1" }];
            record::encode(record::seed(writer.active_id), writer.sequence, 0, &row, &mut bytes);
            writer.active.write_at(writer.end, &bytes).unwrap();
        }
        std::mem::forget(store);
        let store = Store::open(storage, Options::default()).unwrap();
        assert_eq!(store.append("n: 2").unwrap(), u64::MAX - 3);
        assert_eq!(store.append("n: 3").unwrap(), u64::MAX - 2);
        assert!(matches!(store.append("n: 4"), Err(Error::TooLarge { what: "row id", .. })));
        assert_eq!(store.get_row(0).unwrap().as_deref(), Some("n: 0"), "row 0 untouched");
    }
}
