//! The header of an OPFS slot file: which engine file the slot holds. Pure functions of
//! bytes, built on every target, so native tests and the fuzzers (`engine/fuzz/`) run them.
//!
//! Byte layout of a slot file (mirrored in `docs/FORMAT.md`):
//!
//! | offset | size | field                                                            |
//! |--------|------|------------------------------------------------------------------|
//! | 0      | 4    | magic `TSLT`                                                     |
//! | 4      | 1    | slot format version (1)                                          |
//! | 5      | 1    | N, the length of the engine file name held (0: the slot is free) |
//! | 6      | N    | the name, ASCII                                                  |
//! | 6 + N  | ...  | zeros up to byte 128                                             |
//! | 128    | ...  | the engine file's bytes                                          |
//!

use toonstore::io::check_name;

/// Bytes before an engine file's first byte in its slot.
pub const HEADER: u64 = 128;
const MAGIC: &[u8; 4] = b"TSLT";
const VERSION: u8 = 1;

/// A slot header naming `name`, or a free slot's.
pub fn header(name: Option<&str>) -> [u8; HEADER as usize] {
    let mut header = [0; HEADER as usize];
    header[..4].copy_from_slice(MAGIC);
    header[4] = VERSION;
    if let Some(name) = name {
        header[5] = name.len() as u8;
        header[6..6 + name.len()].copy_from_slice(name.as_bytes());
    }
    header
}

/// The engine file a slot header names: `Ok(None)` for a free slot (a free header, or all
/// zeros: a slot whose creation a crash interrupted), `Err((offset, reason))` for a damaged
/// header. A pure function of the header's bytes, so the fuzzers and native tests run it.
pub fn parse_header(header: &[u8; HEADER as usize]) -> Result<Option<&str>, (u64, &'static str)> {
    if header.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    if &header[..4] != MAGIC {
        return Err((0, "not a slot header"));
    }
    if header[4] != VERSION {
        return Err((4, "slot header of an unknown version"));
    }
    let len = usize::from(header[5]);
    if len == 0 {
        return Ok(None);
    }
    let name = header.get(6..6 + len).ok_or((5, "name longer than the header holds"))?;
    let name = std::str::from_utf8(name).map_err(|_| (6, "name is not UTF-8"))?;
    check_name(name).map_err(|_| (6, "name is not a store file's"))?;
    Ok(Some(name))
}

/// For the fuzzers: any 128 bytes parse without a panic, and a header that names a file
/// names it again when written anew.
#[doc(hidden)]
pub fn fuzz_header(bytes: &[u8]) {
    let mut raw = [0; HEADER as usize];
    let n = bytes.len().min(raw.len());
    raw[..n].copy_from_slice(&bytes[..n]);
    if let Ok(Some(name)) = parse_header(&raw) {
        assert_eq!(parse_header(&header(Some(name))), Ok(Some(name)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review finding A6: a slot left as zeros by a crash while it was being created made
    /// every open fail, and a damaged name length made the worker panic.
    #[test]
    fn slot_headers_left_by_a_crash_are_free_and_damaged_ones_are_errors() {
        assert_eq!(parse_header(&[0; HEADER as usize]), Ok(None), "zeros: a free slot");
        assert_eq!(parse_header(&header(None)), Ok(None));
        assert_eq!(
            parse_header(&header(Some("seg-0000000000000001.log"))),
            Ok(Some("seg-0000000000000001.log"))
        );
        let mut long = header(Some("MANIFEST"));
        long[5] = 200;
        assert!(parse_header(&long).is_err(), "a name longer than the header holds");
        let mut bad_name = header(Some("MANIFEST"));
        bad_name[6] = b'/';
        assert!(parse_header(&bad_name).is_err(), "not a store file's name");
        let mut magic = header(None);
        magic[0] = b'X';
        assert!(parse_header(&magic).is_err());
        for len in 0..=255u8 {
            let mut any = header(Some("RESERVE"));
            any[5] = len;
            let _ = parse_header(&any); // never panics
        }
    }
}
