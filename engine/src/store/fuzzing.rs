//! Entry points for the fuzzers (`engine/fuzz/`) into every parser of what the store reads,
//! and into opening a store from arbitrary files: each takes arbitrary bytes and must return
//! (an error is fine), never panic, abort or allocate what the bytes claim. A stable test
//! (`engine/tests/fuzz_replay.rs`) runs them on the committed corpus and crashers. Not part
//! of the API.

use std::collections::HashMap;

use super::error::Result;
use super::{Options, Recovery, Store, hint, manifest, record};
use crate::io::{File, MemoryStorage, OpenMode, Storage};
use crate::toon;

/// TOON text: the validator agrees with the decoder, a decoded value encodes to text that
/// decodes to it again, and a proof of canonical form agrees with encoding again.
pub fn toon_text(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let decoded = toon::decode(text);
    assert_eq!(toon::validate(text).is_ok(), decoded.is_ok(), "validate and decode disagree");
    let canonical = toon::is_canonical(text);
    if canonical == Ok(true) {
        // The fast proof never says yes where the general check does not.
        let stripped = text.strip_suffix('\n').unwrap_or(text);
        assert_eq!(toon::is_canonical_general(stripped), Ok(true), "an unsound fast proof");
    }
    assert_eq!(canonical.is_ok(), decoded.is_ok(), "the canonical proof and decode disagree");
    if let Ok(value) = decoded {
        let encoded = toon::encode(&value);
        let again = toon::decode(&encoded).expect("encoded text decodes");
        assert!(again == value, "decode(encode(v)) != v for {text:?}");
        if canonical == Ok(true) {
            assert_eq!(encoded, text.strip_suffix('\n').unwrap_or(text), "a wrong canonical proof");
        }
    }
}

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

/// Names a file set may hold (an index byte picks one).
const NAMES: [&str; 12] = [
    "MANIFEST",
    "seg-0000000000000001.log",
    "seg-0000000000000002.log",
    "seg-0000000000000003.log",
    "seg-0000000000000004.log",
    "hint-0000000000000001.idx",
    "hint-0000000000000002.idx",
    "hint-0000000000000003.idx",
    "hint-0000000000000004.idx",
    "hint-0000000000000005.idx",
    "RESERVE",
    "seg-0000000000000005.log",
];

/// A set of store files from bytes: chunks of a name index byte, a length (u16), the bytes.
pub fn file_set(mut bytes: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    while bytes.len() >= 3 {
        let name = NAMES[usize::from(bytes[0]) % NAMES.len()];
        let len = usize::from(u16::from_le_bytes([bytes[1], bytes[2]])).min(bytes.len() - 3);
        files.insert(name.to_owned(), bytes[3..3 + len].to_vec());
        bytes = &bytes[3 + len..];
    }
    files
}

/// The bytes [`file_set`] reads back as `files`.
pub fn file_set_bytes(files: &HashMap<String, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    for name in names {
        let Some(index) = NAMES.iter().position(|n| n == name) else { continue };
        let bytes = &files[name][..files[name].len().min(u16::MAX as usize)];
        out.push(index as u8);
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Opens a store on a file set every way (writable and read-only, strict and salvaging),
/// reads everything it holds, and writes to it.
pub fn open_files(bytes: &[u8]) {
    let files = file_set(bytes);
    for (read_only, recovery) in [
        (true, Recovery::Strict),
        (true, Recovery::Salvage),
        (false, Recovery::Strict),
        (false, Recovery::Salvage),
    ] {
        let storage = MemoryStorage::from_snapshot(files.clone());
        let options = Options {
            segment_bytes: 512,
            read_only,
            recovery,
            reserve_bytes: 0,
            ..Options::default()
        };
        let Ok(store) = Store::open(storage, options) else { continue };
        for entry in store.scan() {
            let _ = entry;
        }
        for entry in store.scan_rows() {
            let _ = entry;
        }
        let _ = store.stats();
        if !read_only {
            let _ = store.put("fuzz", "n: 1");
            let _ = store.append("n: 2");
            let _ = store.compact();
        }
        let _ = store.close();
    }
}
