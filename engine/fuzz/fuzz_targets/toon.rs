//! Fuzz target `toon`: see `toonstore::store::fuzzing::toon_text`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = toonstore::store::fuzzing::toon_text(bytes);
});
