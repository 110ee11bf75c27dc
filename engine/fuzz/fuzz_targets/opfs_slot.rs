//! Fuzz target `opfs_slot`: see `toonstore_wasm::slot::fuzz_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    toonstore_wasm::slot::fuzz_header(bytes);
});
