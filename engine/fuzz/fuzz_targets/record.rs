//! Fuzz target `record`: see `toonstore::store::fuzzing::record_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = toonstore::store::fuzzing::record_frame(bytes);
});
