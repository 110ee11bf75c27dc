//! The storage conformance suite as a program, for WASI hosts: built for `wasm32-wasip1`, it
//! runs every check on the std backend inside the directory given as its argument, so a
//! host's filesystem (wasmtime's, Node's, `toonstore-host`'s shim) is held to the same
//! contracts as the native backends. Prints `N checks passed`; a broken contract panics.

use toonstore::io::{StdStorage, conformance};

fn main() {
    let Some(root) = std::env::args().nth(1) else {
        eprintln!("usage: wasi_conformance DIR");
        std::process::exit(2);
    };
    let checks = conformance::run_in_dirs(std::path::Path::new(&root), |dir| {
        StdStorage::open_dir(dir).expect("the directory opens")
    });
    println!("{checks} checks passed");
}
