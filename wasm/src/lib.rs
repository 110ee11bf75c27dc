//! `toonstore-wasm`: the ToonStore engine in the browser, for the npm package in `www/`.
//!
//! What it is: wasm-bindgen bindings that run a whole store synchronously inside a dedicated
//! Worker, over OPFS `FileSystemSyncAccessHandle`s ([`opfs`]) or memory. JavaScript values
//! cross the worker boundary as JSON text (`JSON.stringify`/`JSON.parse`, native and a
//! cheap string to clone) and become TOON in Rust ([`api`]). What it is not: the public API;
//! the package's worker and promise API (`www/src/`) wrap it, and its types are written by
//! hand there. Opening OPFS handles is asynchronous, so the worker opens them and hands them
//! in; everything here is synchronous.
//!
//! Built for `wasm32-unknown-unknown` (`www/build.sh`); on other targets only [`slot`] (the
//! slot header's codec, for native tests and the fuzzers) is built.

#[cfg(target_arch = "wasm32")]
pub mod api;
#[cfg(target_arch = "wasm32")]
pub mod opfs;
pub mod slot;
#[cfg(target_arch = "wasm32")]
mod text;

#[cfg(target_arch = "wasm32")]
use std::cell::RefCell;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::*;

#[cfg(target_arch = "wasm32")]
thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps a panic's message for [`last_panic`]: wasm aborts on panic, and the worker reports
/// the message instead of a bare `unreachable`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(info.to_string()));
    }));
}

/// The message of the last panic, if any.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow().clone())
}
