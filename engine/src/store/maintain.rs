//! Keeping a store in shape: figures, compaction, closing with an index snapshot, and the
//! reserve file.
//!
//! Compaction works oldest segment first: it copies the segment's live documents to the end
//! of the log (as ordinary records, made durable), commits a manifest that no longer names
//! the segment, then removes it. A segment whose documents were all deleted or replaced is
//! removed without copying anything, so on a full store deletes followed by `compact()`
//! give space back. Each step leaves a store that opens with every document; a failed step
//! leaves the store usable (a full disk) or poisoned (any other failure).
//!
//! The reserve: a writable store keeps a `RESERVE` file of [`Options::reserve_bytes`] zeros.
//! When a delete or a compaction finds the disk or quota full, the reserve is removed to make
//! room for them; it comes back once there is room again.
//!
//! [`Options::reserve_bytes`]: super::Options::reserve_bytes

use std::sync::atomic::Ordering;

use compact_str::CompactString;

use super::error::{Error, Result, is_full};
use super::hint;
use super::index::{Change, Location};
use super::open::RESERVE;
use super::record::Op;
use super::write::Refusal;
use super::{Store, Writer, lock, segment};
use crate::io::{File, OpenMode, Storage};

/// Figures about a store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live keys.
    pub keys: u64,
    /// Live rows.
    pub rows: u64,
    /// Bytes of all segment files (zeros written ahead of the log not counted).
    pub disk_bytes: u64,
    /// Bytes of live documents and their keys (record frames not included).
    pub live_bytes: u64,
    /// Bytes on disk that are neither live documents and keys nor segment headers: replaced,
    /// deleted and tombstone records (what compaction reclaims) and the frames and tables of
    /// live records (which it keeps).
    pub garbage_bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Cache look-ups that found the decoded document, and those that did not.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Bytes charged to the cache now.
    pub cache_bytes: u64,
    /// Bytes of a torn tail cut off (or, read-only, skipped) when the store was opened.
    pub recovered_tail_bytes: u64,
    /// Records dropped by an open with [`super::Recovery::Salvage`] (their bytes are in
    /// [`Stats::salvage_files`]).
    pub salvaged_records: u64,
    pub salvage_files: Vec<String>,
}

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    pub disk_bytes_before: u64,
    pub disk_bytes_after: u64,
    /// `disk_bytes_before - disk_bytes_after` (0 if the store grew meanwhile).
    pub reclaimed_bytes: u64,
}

/// Documents compaction copies per record, and bytes of them (a record's table stays far
/// below its limit).
const COPY_BATCH_OPS: usize = 256;
const COPY_BATCH_BYTES: usize = 256 << 10;

/// A live document to move out of a segment being compacted.
enum Live {
    Key(CompactString, Location),
    Row(u64, Location),
}

impl<S: Storage> Store<S> {
    /// The sequence number the next record will carry: every committed write so far has a
    /// smaller one, and it never goes back, across reopens too (a read-only store gives the
    /// one its files reached; a closed store 0). The browser package reports it as the version
    /// of a change.
    pub fn next_sequence(&self) -> u64 {
        lock(&self.writer).as_ref().map_or(0, |writer| writer.sequence)
    }

    /// Figures about the store now.
    pub fn stats(&self) -> Stats {
        let (disk_bytes, segments) = match lock(&self.writer).as_ref() {
            Some(writer) => (writer.log_bytes, writer.manifest.segments),
            None => (0, 0),
        };
        let state = self.read_state();
        Stats {
            keys: state.index.keys.len() as u64,
            rows: state.index.rows.len() as u64,
            disk_bytes,
            live_bytes: state.index.live_bytes,
            garbage_bytes: disk_bytes
                .saturating_sub(state.index.live_bytes + segments * segment::HEADER),
            segments,
            cache_hits: self.cache.hits(),
            cache_misses: self.cache.misses(),
            cache_bytes: self.cache.bytes() as u64,
            recovered_tail_bytes: self.recovered.torn_bytes,
            salvaged_records: self.recovered.salvaged_records,
            salvage_files: self.recovered.salvage_files.clone(),
        }
    }

    /// Rewrites live documents at the end of the log and removes the segments they were in,
    /// oldest first. Writers wait while it runs; readers do not (they keep reading a removed
    /// segment until the index no longer points there). On a full store it gives back the
    /// space of every segment whose documents were deleted or replaced, and fails with
    /// [`Error::StoreFull`] (the store usable) only when live documents need more room than
    /// the disk has.
    pub fn compact(&self) -> Result<Compaction> {
        self.check_writable()?;
        let mut guard = lock(&self.writer);
        let writer = guard.as_mut().ok_or(Error::Closed)?;
        // Checked again under the lock: a close or a failure may have come first.
        self.check_open()?;
        let before = writer.log_bytes;
        let mut result = self.compact_locked(writer);
        // A full disk: give up the reserve and go on from where the first attempt stopped.
        if matches!(result, Err(Error::StoreFull { .. })) && self.release_reserve(writer) {
            result = self.compact_locked(writer);
        }
        result?;
        if !writer.reserve {
            self.create_reserve(writer);
        }
        let after = writer.log_bytes;
        Ok(Compaction {
            disk_bytes_before: before,
            disk_bytes_after: after,
            reclaimed_bytes: before.saturating_sub(after),
        })
    }

    fn compact_locked(&self, writer: &mut Writer<S::File>) -> Result<()> {
        // Everything durable first: a segment may be dropped because of a delete, which
        // must not be lost while the older writes it hides come back.
        self.sync_all(writer, true)?;
        if writer.end > segment::HEADER || writer.active_version != segment::VERSION {
            self.rotate(writer).map_err(|r| self.refused(r, writer, segment::HEADER))?;
        }
        let targets = writer.manifest.first_segment..writer.active_id;
        // Live documents by segment, in one walk over the index.
        let mut live: std::collections::HashMap<u64, Vec<Live>> = Default::default();
        {
            let state = self.read_state();
            for (key, location) in &state.index.keys {
                live.entry(location.segment).or_default().push(Live::Key(key.clone(), *location));
            }
            for (&id, location) in &state.index.rows {
                live.entry(location.segment).or_default().push(Live::Row(id, *location));
            }
        }
        for id in targets {
            self.check_not_poisoned()?;
            let file = self.read_state().segments.get(&id).cloned();
            let file = file.ok_or_else(|| Error::Corrupted {
                file: segment::name(id),
                offset: 0,
                reason: "segment the manifest names is not open".into(),
            })?;
            // Copied in batches: one frame and table per batch, not per document, so the
            // copies take less room than records written one by one did.
            let mut batch = Vec::new();
            let mut batch_bytes = 0;
            for entry in live.remove(&id).unwrap_or_default() {
                let location = match &entry {
                    Live::Key(_, location) | Live::Row(_, location) => *location,
                };
                let text = Self::read(&location, &file)?;
                batch_bytes += text.len();
                batch.push((entry, text));
                if batch.len() >= COPY_BATCH_OPS || batch_bytes >= COPY_BATCH_BYTES {
                    self.copy_batch(writer, &batch)?;
                    batch.clear();
                    batch_bytes = 0;
                }
            }
            self.copy_batch(writer, &batch)?;
            // The copies durable, then the commit that drops the segment.
            self.sync_all(writer, false)?;
            let old_hint = writer.manifest.hint;
            let mut manifest = writer.manifest.clone();
            manifest.generation += 1;
            manifest.first_segment += 1;
            manifest.segments -= 1;
            manifest.next_row = writer.next_row;
            manifest.next_sequence = writer.sequence;
            manifest.hint = 0;
            manifest.active_synced = writer.durable;
            self.commit(writer, &manifest)?;
            writer.manifest = manifest;
            let length = file.len().unwrap_or(0);
            writer.log_bytes = writer.log_bytes.saturating_sub(length);
            self.write_state().segments.remove(&id);
            drop(file);
            // The commit stands; what follows only tidies (a failure poisons, so no write
            // lands while a removed segment might come back).
            self.check_not_poisoned()?;
            let removal = || -> std::io::Result<()> {
                match self.storage.remove(&segment::name(id)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                if old_hint != 0 {
                    let _ = self.storage.remove(&hint::name(old_hint));
                }
                self.storage.sync()
            };
            removal().map_err(|e| self.poison(e))?;
        }
        Ok(())
    }

    /// Appends live documents moved out of a segment as one record, and points the index
    /// at their new places.
    fn copy_batch(&self, writer: &mut Writer<S::File>, batch: &[(Live, String)]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op<'_>> = batch
            .iter()
            .map(|(entry, text)| match entry {
                Live::Key(key, _) => Op::Put { key, value: text.as_bytes() },
                Live::Row(row, _) => Op::Row { id: *row, value: text.as_bytes() },
            })
            .collect();
        let len = super::record::lengths(&ops).1;
        let placed =
            self.rotate_and_append(writer, &ops, len).map_err(|r| self.refused(r, writer, len))?;
        let record_start = writer.end - len;
        let mut state = self.write_state();
        for ((entry, _), placed) in batch.iter().zip(placed) {
            let placed = placed.expect("a copy has a value");
            let moved = Location {
                segment: writer.active_id,
                offset: record_start + placed.offset,
                len: placed.len,
                crc: placed.crc,
            };
            match entry {
                Live::Key(key, old) => {
                    debug_assert_eq!(moved.crc, old.crc);
                    state.index.apply(Change::Put(key, moved))
                }
                Live::Row(row, _) => state.index.apply(Change::Row(*row, moved)),
            };
        }
        Ok(())
    }

    /// Hands every pending record to the file and syncs it. `for_space`: a full disk may
    /// take the reserve file's room.
    fn sync_all(&self, writer: &mut Writer<S::File>, for_space: bool) -> Result<()> {
        let mut flushed = self.flush_pending(writer);
        if matches!(flushed, Err(Refusal::Full)) && for_space && self.release_reserve(writer) {
            flushed = self.flush_pending(writer);
        }
        flushed.map_err(|r| self.refused(r, writer, 0))?;
        self.sync_to_end(writer)
    }

    /// Creates the reserve file when it is missing (best effort: on a full disk it waits for
    /// a later compaction), or removes one the options no longer want.
    pub(super) fn ensure_reserve(&self) {
        if let Some(writer) = lock(&self.writer).as_mut()
            && !writer.reserve
        {
            self.create_reserve(writer);
        }
    }

    fn create_reserve(&self, writer: &mut Writer<S::File>) {
        let size = self.options.reserve_bytes;
        if self.poisoned.load(Ordering::Acquire) {
            return;
        }
        if size == 0 {
            match self.storage.remove(RESERVE).and_then(|()| self.storage.sync()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    self.poison(e);
                }
                _ => {}
            }
            return;
        }
        let created = (|| -> std::io::Result<()> {
            let file = self.storage.open(RESERVE, OpenMode::Create)?;
            file.write_at(0, &vec![0; size as usize])?;
            file.set_len(size)?;
            file.sync_data()?;
            self.storage.sync()
        })();
        match created {
            Ok(()) => writer.reserve = true,
            Err(e) if is_full(&e) => {
                let _ = self.storage.remove(RESERVE);
            }
            // Like any failed write or sync: nothing more reaches the storage.
            Err(e) => {
                self.poison(e);
            }
        }
    }

    /// Removes the reserve file to make room; true when it was there to remove.
    pub(super) fn release_reserve(&self, writer: &mut Writer<S::File>) -> bool {
        if !writer.reserve || self.poisoned.load(Ordering::Acquire) {
            return false;
        }
        writer.reserve = false;
        self.storage.remove(RESERVE).is_ok()
    }

    /// Syncs, writes an index snapshot so the next open is quick, and closes: the writer
    /// lock and every file are released, and later calls return [`Error::Closed`]. On a full
    /// disk it fails with [`Error::StoreFull`] and the store stays open, its writes kept, for
    /// a close once deletes and compaction made room.
    pub fn close(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let mut guard = lock(&self.writer);
        let Some(writer) = guard.as_mut() else { return Err(Error::Closed) };
        let result = match (self.options.read_only, self.poisoned.load(Ordering::Acquire)) {
            (true, _) => Ok(()),
            (false, true) => Err(Error::Poisoned),
            (false, false) => self.close_writer(writer),
        };
        if let Err(Error::StoreFull { .. }) = result {
            return result;
        }
        // Release everything: the files, the lock.
        *guard = None;
        self.closed.store(true, Ordering::Release);
        drop(guard);
        {
            let mut state = self.write_state();
            state.segments.clear();
            state.index = Default::default();
        }
        let _ = self.storage.unlock();
        let mut sync = lock(&self.sync_state);
        sync.synced = u64::MAX;
        self.synced.notify_all();
        result
    }

    /// Syncs under the writer lock, so the hint covers only bytes that are durable (a
    /// write slipping in between a sync and the hint would be covered but could be lost).
    fn close_writer(&self, writer: &mut Writer<S::File>) -> Result<()> {
        self.flush_pending(writer).map_err(|r| self.refused(r, writer, 0))?;
        self.check_not_poisoned()?;
        self.trim_prewritten(writer).map_err(|e| self.poison(e))?;
        self.sync_to_end(writer)?;
        self.write_hint(writer)
    }

    /// Writes an index snapshot and commits a manifest naming it. The hint only makes the
    /// next open quicker: on a full disk the close goes on without it (everything is durable
    /// already). The commit itself failing poisons.
    fn write_hint(&self, writer: &mut Writer<S::File>) -> Result<()> {
        let mut manifest = writer.manifest.clone();
        manifest.generation += 1;
        let id = manifest.generation;
        let coverage = hint::Coverage {
            segment: writer.active_id,
            offset: writer.end,
            next_row: writer.next_row,
            next_sequence: writer.sequence,
        };
        let bytes = hint::encode(&coverage, &self.read_state().index);
        self.check_not_poisoned()?;
        let written = hint::write(&self.storage, id, &bytes).and_then(|()| self.storage.sync());
        match written {
            Ok(()) => manifest.hint = id,
            Err(e) if is_full(&e) => {
                let _ = self.storage.remove(&hint::name(id));
                manifest.hint = 0;
            }
            Err(e) => return Err(self.poison(e)),
        }
        let old = writer.manifest.hint;
        manifest.next_row = writer.next_row;
        manifest.next_sequence = writer.sequence;
        manifest.active_synced = writer.durable;
        self.commit(writer, &manifest)?;
        writer.manifest = manifest;
        if old != 0 && !self.poisoned.load(Ordering::Acquire) {
            let removed = self.storage.remove(&hint::name(old)).and_then(|()| self.storage.sync());
            removed.map_err(|e| self.poison(e))?;
        }
        Ok(())
    }
}
