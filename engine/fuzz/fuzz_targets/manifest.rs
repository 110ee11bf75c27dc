//! Fuzz target `manifest`: see `toonstore::store::fuzzing::manifest_slots`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = toonstore::store::fuzzing::manifest_slots(bytes);
});
