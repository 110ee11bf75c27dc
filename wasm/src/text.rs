//! JavaScript strings into Rust, a whole string at a time.
//!
//! A `&str` parameter makes wasm-bindgen's glue copy the string into wasm memory one UTF-16
//! unit at a time in a JavaScript loop, falling back to `TextEncoder` only at the first
//! non-ASCII character: 1.3-1.8 us for a 1 KB document in V8, as long as the rest of a put
//! (measured in `node`, and as 21% of a worker's put time in a Chromium profile). Documents
//! instead cross as `JsString`s and are written into wasm memory by one
//! `TextEncoder.encodeInto` call (90-140 ns for the same 1 KB). Keys stay `&str`: they are
//! short.

use std::cell::RefCell;

use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The platform's `TextEncoder`, bound here for `encodeInto` on a `JsString` (web-sys
    /// binds it for a `&str` source, which is the copy this module avoids).
    #[wasm_bindgen(js_name = TextEncoder)]
    type Utf8Encoder;

    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Utf8Encoder;

    #[wasm_bindgen(method, js_class = "TextEncoder", js_name = encodeInto)]
    fn encode_into(this: &Utf8Encoder, source: &JsString, destination: &Uint8Array) -> Progress;

    /// `encodeInto`'s result: `{read, written}`.
    type Progress;

    #[wasm_bindgen(method, getter)]
    fn written(this: &Progress) -> u32;
}

thread_local! {
    static ENCODER: Utf8Encoder = Utf8Encoder::new();
    /// Reused for documents that are only borrowed ([`with_utf8`]).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes `text` as UTF-8 into `bytes`'s spare capacity (lone surrogates become U+FFFD, as
/// with any `&str` parameter) and returns it as a `String`.
fn encode(text: &JsString, mut bytes: Vec<u8>) -> String {
    bytes.clear();
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
    let most = text.length() as usize * 3;
    bytes.reserve(most);
    // The view is made after the reservation: growing wasm memory would detach it.
    let spare = bytes.spare_capacity_mut();
    // SAFETY: the view covers `most` bytes of `bytes`'s allocation, which nothing else
    // touches until `encodeInto` returns and the view is dropped; wasm has one thread.
    let view = unsafe { Uint8Array::view_mut_raw(spare.as_mut_ptr().cast(), most) };
    let written = ENCODER.with(|encoder| encoder.encode_into(text, &view).written()) as usize;
    drop(view);
    // SAFETY: `encodeInto` initialised the first `written` bytes, within the capacity.
    unsafe { bytes.set_len(written.min(most)) };
    // `encodeInto` writes well-formed UTF-8; checking it costs little next to a put's own
    // validation and keeps this function safe whatever the encoder does.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `text` as an owned `String`, sized to fit (for documents that are kept, as in a batch);
/// `None` when `value` is not a string.
pub fn string_of(value: &JsValue) -> Option<String> {
    let text = value.dyn_ref::<JsString>()?;
    let mut string = encode(text, Vec::new());
    string.shrink_to_fit();
    Some(string)
}

/// Runs `f` on `value`'s text, encoded into a buffer reused from call to call; `None` when
/// `value` is not a string.
pub fn with_utf8<R>(value: &JsValue, f: impl FnOnce(&str) -> R) -> Option<R> {
    let text = value.dyn_ref::<JsString>()?;
    let scratch = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let string = encode(text, scratch);
    let result = f(&string);
    // Keep the allocation for the next call, unless a huge document made it huge.
    let bytes = string.into_bytes();
    if bytes.capacity() <= 4 << 20 {
        SCRATCH.with(|s| *s.borrow_mut() = bytes);
    }
    Some(result)
}
