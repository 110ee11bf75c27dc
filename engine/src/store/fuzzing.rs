//! Entry points for the fuzzers (`engine/fuzz/`) into the parsers of every file the store
//! reads: each takes arbitrary bytes and must return, never panic or allocate what the
//! bytes claim. Not part of the API.

use super::error::Result;
use super::{hint, manifest, record};
use crate::io::{File, MemoryStorage, OpenMode, Storage};

/// A record frame (format 2, then format 1) at the start of `bytes`.
pub fn record_frame(bytes: &[u8]) {
    if let Ok(table) = record::parse_table(record::seed(1), bytes) {
        assert!(table.head_len <= bytes.len());
        let _ = record::check_values(&table, &bytes[table.head_len..]);
    }
    let _ = record::v1::decode(bytes);
}

/// The two slots of a `MANIFEST` file.
pub fn manifest_slots(bytes: &[u8]) -> Result<()> {
    manifest::parse_slots(bytes)
}

/// A hint file, and whether its contents fit a store of segments 1 to 3.
pub fn hint_file(bytes: &[u8]) -> Result<()> {
    let storage = MemoryStorage::new();
    storage.open(&hint::name(1), OpenMode::Create)?.write_at(0, bytes)?;
    if let Some(snapshot) = hint::read(&storage, 1)? {
        snapshot.fits(1..4, &|_| 1 << 20);
    }
    Ok(())
}
