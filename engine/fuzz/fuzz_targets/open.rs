//! Fuzz target `open`: see `toonstore::store::fuzzing::open_files`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = toonstore::store::fuzzing::open_files(bytes);
});
