//! Random sequences of `WasiDir`/`WasiFile` calls against the filesystem shim under a quota,
//! on memory and real directories: the quota stays exact and within its limit, nothing
//! outside the directory changes, nothing panics (`toonstore_host::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| toonstore_host::fuzzing::run_calls(data));
