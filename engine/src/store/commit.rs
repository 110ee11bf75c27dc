//! Group commit and sync: making written bytes durable, sharing one `fdatasync` among the
//! writers waiting at the same time.
//!
//! Positions count bytes appended since the store opened. A sync covers only what the file
//! holds when the leader looks (`Writer::handed`): records still in the write buffer are
//! not covered, however early they were written. After a sync, a *sync mark* (a record
//! with no ops) goes at the end of the file, unsynced, saying how much of the segment is
//! now durable, so that damage to those bytes is never taken for a torn write at the next
//! open even if nothing is written after them; the next record overwrites it.

use std::sync::atomic::Ordering;

use super::error::{Error, Result, is_full};
use super::record;
use super::{Store, Writer, lock};
use crate::io::{File, Storage};

impl<S: Storage> Store<S> {
    /// Makes every write up to position `target` durable, sharing the sync with other
    /// writers waiting at the same time (group commit).
    pub(super) fn sync_through(&self, target: u64) -> Result<()> {
        loop {
            let mut sync = lock(&self.sync_state);
            loop {
                if self.poisoned.load(Ordering::Acquire) {
                    return Err(Error::Poisoned);
                }
                if sync.synced >= target {
                    return Ok(());
                }
                if !sync.running {
                    break;
                }
                sync = self.synced.wait(sync).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            sync.running = true;
            drop(sync);
            let result = self.lead_sync();
            let mut sync = lock(&self.sync_state);
            sync.running = false;
            self.synced.notify_all();
            match result {
                Ok(Some(covered)) => sync.synced = sync.synced.max(covered),
                // The store closed meanwhile; close synced everything it held.
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One sync as the group's leader: returns the position it made durable.
    fn lead_sync(&self) -> Result<Option<u64>> {
        // Writers the last sync released are about to write again: letting them run first
        // puts their records into this sync instead of the next one. Keep the door open while
        // they are still arriving (a few yields at most; a lone writer finds nothing new after
        // one and goes on).
        let written = || lock(&self.writer).as_ref().map(|w| w.written);
        let mut seen = written();
        for _ in 0..4 {
            std::thread::yield_now();
            let now = written();
            if now == seen {
                break;
            }
            seen = now;
        }
        let (file, segment, covered, offset) = {
            let guard = lock(&self.writer);
            let Some(writer) = guard.as_ref() else { return Ok(None) };
            (writer.active.clone(), writer.active_id, writer.handed(), writer.flushed)
        };
        self.sync_active(&file)?;
        let mut guard = lock(&self.writer);
        if let Some(writer) = guard.as_mut()
            && writer.active_id == segment
        {
            writer.durable = writer.durable.max(offset);
            self.write_mark(writer);
        }
        Ok(Some(covered))
    }

    /// Writes a sync mark at the end of the file when the last record there does not carry
    /// the durable point yet (best effort: it only narrows what a later open must take for
    /// a torn write).
    pub(super) fn write_mark(&self, writer: &mut Writer<S::File>) {
        if writer.marked >= writer.durable || self.poisoned.load(Ordering::Acquire) {
            return;
        }
        let mut mark = Vec::with_capacity(24);
        record::encode(
            record::seed(writer.active_id),
            writer.sequence,
            writer.durable,
            &[],
            &mut mark,
        );
        // Not a mark until written whole: a failed write may have left any bytes there.
        writer.mark_at = None;
        match writer.active.write_at(writer.flushed, &mark) {
            Ok(()) => {
                writer.marked = writer.durable;
                // Past the log's end: cut when the segment is sealed or closed, unless still a
                // mark then (kept as the last record).
                writer.mark_at = Some(writer.flushed);
            }
            // A full disk: the next record carries the durable point instead.
            Err(e) if is_full(&e) => {}
            Err(e) => {
                self.poison(e);
            }
        }
    }

    /// Hands the writes buffered so far to the storage without making them durable: a killed
    /// process (or a reloaded browser tab) then keeps them; a power cut may not. On a full
    /// disk it fails with [`Error::StoreFull`] and keeps them.
    pub fn flush(&self) -> Result<()> {
        self.check_open()?;
        if self.options.read_only {
            return Ok(());
        }
        let mut guard = lock(&self.writer);
        let writer = guard.as_mut().ok_or(Error::Closed)?;
        self.flush_pending(writer).map_err(|refusal| self.refused(refusal, writer, 0))
    }

    /// Makes every write so far durable. On a full disk it fails with
    /// [`Error::StoreFull`] and keeps the writes, for a later sync that finds room.
    pub fn sync(&self) -> Result<()> {
        self.check_open()?;
        if self.options.read_only {
            return Ok(());
        }
        let written = {
            let mut guard = lock(&self.writer);
            let writer = guard.as_mut().ok_or(Error::Closed)?;
            self.flush_pending(writer).map_err(|refusal| self.refused(refusal, writer, 0))?;
            writer.written
        };
        self.sync_through(written)
    }
}
