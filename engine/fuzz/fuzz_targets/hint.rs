//! Fuzz target `hint`: see `toonstore::store::fuzzing::hint_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = toonstore::store::fuzzing::hint_file(bytes);
});
