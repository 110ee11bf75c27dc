//! How a store behaves: [`Options`], [`Durability`], [`Recovery`], and the check every open
//! runs on them.

use super::error::{Error, Result};

/// When a write is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Writes are gathered in a 64 KiB buffer, handed to the OS when it fills, and made
    /// durable at [`crate::store::Store::sync`], at [`crate::store::Store::close`] and when a
    /// segment fills. **A crash or power cut loses the writes since the last of these; a
    /// killed process loses those still in the buffer** (never a part of one: the store
    /// reopens at a record boundary, with every write before the lost ones intact).
    #[default]
    Eventual,
    /// A write returns once it is on disk (`fdatasync`); writers waiting together share one
    /// sync (group commit). **It does not protect against a disk that lies about syncing,
    /// nor against damage to the files after the fact** (that is reported as corruption).
    Immediate,
}

/// What an open does with damage it cannot take for a torn write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Refuse to open with [`Error::Corrupted`], changing nothing.
    #[default]
    Strict,
    /// Open anyway: the damaged bytes of a segment (from the damage to the segment's end)
    /// are copied to a `salvage-<segment>-<offset>.bin` file, never destroyed, then cut off;
    /// a segment the surviving manifest slot does not name but that holds records is taken
    /// back into the log. [`crate::store::Stats`] says how many records were dropped.
    /// Documents whose newest version was dropped read as their previous one.
    Salvage,
}

/// How a store behaves; `Options::default()` is a good start.
#[derive(Clone, Debug)]
pub struct Options {
    /// When writes are durable. Default: [`Durability::Eventual`].
    pub durability: Durability,
    /// Largest document, in bytes of canonical TOON: 1 to 1 GiB. Default: 1 MiB.
    pub max_value_bytes: u64,
    /// Largest store, in bytes of segment files (zeros written ahead of the log not
    /// counted): at least 1. Default: 1 GiB.
    pub max_store_bytes: u64,
    /// A segment is sealed and a new one started past this size: 512 bytes to 4 GiB.
    /// Default: 64 MiB.
    pub segment_bytes: u64,
    /// Memory for decoded documents, split evenly over 16 LRU shards (a document larger
    /// than a shard's share is not cached). Default: 32 MiB.
    pub cache_bytes: usize,
    /// Open for reading only: no file is created, changed or locked (so it works on
    /// read-only media and beside a writer), a torn tail is skipped rather than cut off, and
    /// every write fails with [`Error::ReadOnly`]. The store is seen as it was at open.
    /// Default: false.
    pub read_only: bool,
    /// What to do with damage found at open. Default: [`Recovery::Strict`].
    pub recovery: Recovery,
    /// Size of the `RESERVE` file a writable store keeps (zeros), given up when a delete or
    /// compaction meets a full disk or quota, so they can still make room: 0 (none) to 64 MiB.
    /// It is made only where there is room. Default: 256 KiB (the browser package: 2 MiB,
    /// as Chromium grows an OPFS file's space by at least 1 MB at a time).
    pub reserve_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Eventual,
            max_value_bytes: 1 << 20,
            max_store_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            cache_bytes: 32 << 20,
            read_only: false,
            recovery: Recovery::Strict,
            reserve_bytes: 256 << 10,
        }
    }
}

/// Smallest segment: a header and a few records.
pub const MIN_SEGMENT_BYTES: u64 = 512;
/// Largest segment: offsets inside one stay far from what any backend addresses.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 32;
/// Largest reserve file.
pub const MAX_RESERVE_BYTES: u64 = 64 << 20;
/// Largest document the format holds (a record's value length is 32 bits; a gigabyte keeps
/// every record well inside that and inside a wasm32 address space).
pub const MAX_VALUE_BYTES: u64 = 1 << 30;

impl Options {
    /// Checks that a store can work with these options.
    pub fn validate(&self) -> Result<()> {
        let invalid = |option, reason: String| Err(Error::InvalidOption { option, reason });
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            return invalid(
                "segment_bytes",
                format!(
                    "{} is outside {MIN_SEGMENT_BYTES} to {MAX_SEGMENT_BYTES}",
                    self.segment_bytes
                ),
            );
        }
        if !(1..=MAX_VALUE_BYTES).contains(&self.max_value_bytes) {
            return invalid(
                "max_value_bytes",
                format!("{} is outside 1 to {MAX_VALUE_BYTES}", self.max_value_bytes),
            );
        }
        if self.max_store_bytes == 0 {
            return invalid("max_store_bytes", "0 leaves no room for any document".into());
        }
        if self.reserve_bytes > MAX_RESERVE_BYTES {
            return invalid(
                "reserve_bytes",
                format!("{} is above {MAX_RESERVE_BYTES}", self.reserve_bytes),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_the_bounds_are_inclusive() {
        Options::default().validate().unwrap();
        let edge = Options {
            segment_bytes: MIN_SEGMENT_BYTES,
            max_value_bytes: MAX_VALUE_BYTES,
            max_store_bytes: 1,
            ..Options::default()
        };
        edge.validate().unwrap();
        Options { segment_bytes: MAX_SEGMENT_BYTES, ..edge.clone() }.validate().unwrap();
        let below = Options { segment_bytes: MIN_SEGMENT_BYTES - 1, ..edge };
        assert!(matches!(
            below.validate(),
            Err(Error::InvalidOption { option: "segment_bytes", .. })
        ));
    }
}
