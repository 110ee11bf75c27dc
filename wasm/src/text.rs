//! JavaScript strings into Rust, a whole string at a time.
//!
//! A `&str` parameter makes wasm-bindgen's glue copy the string into wasm memory one UTF-16
//! unit at a time in a JavaScript loop, falling back to `TextEncoder` only at the first
//! non-ASCII character: 0.9-1.5 us for a 1 KB document in a Chromium worker, about 1 us in
//! Firefox. Documents instead cross as JS values and are written into a reused buffer in
//! wasm memory by one `TextEncoder.encodeInto` call (0.67-0.87 us in Chromium, 0.29-0.32 us
//! in Firefox; a worker micro-benchmark). Keys stay `&str`: they are short.

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
    fn read(this: &Progress) -> u32;

    #[wasm_bindgen(method, getter)]
    fn written(this: &Progress) -> u32;
}

/// Strings longer than this (in UTF-16 units) take wasm-bindgen's own copy: the buffer
/// here must hold 3 bytes per unit, and wasm memory never shrinks.
const LONGEST: u32 = 1 << 20;

thread_local! {
    static ENCODER: Utf8Encoder = Utf8Encoder::new();
    /// Where documents are encoded, kept initialised (zeros at first) and reused.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `value`'s text (lone surrogates become U+FFFD, as with any `&str`
/// parameter); `None` when `value` is not a string.
pub fn with_utf8<R>(value: &JsValue, f: impl FnOnce(&str) -> R) -> Option<R> {
    let text = value.dyn_ref::<JsString>()?;
    let units = text.length();
    if units > LONGEST {
        return Some(f(&text.as_string()?));
    }
    // Taken out for the call, so that `f` may encode another string.
    let mut scratch = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
    let most = units as usize * 3;
    if scratch.len() < most {
        scratch.resize(most, 0);
    }
    let (read, written) = ENCODER.with(|encoder| {
        // SAFETY: the view covers `most` initialised bytes of `scratch`, which nothing else
        // touches until it is dropped; wasm has one thread.
        let view = unsafe { Uint8Array::view_mut_raw(scratch.as_mut_ptr(), most) };
        let progress = encoder.encode_into(text, &view);
        (progress.read(), progress.written() as usize)
    });
    // Giving the view and the result their JavaScript handles can grow wasm memory, which
    // detaches the view's buffer: then nothing was written, and the glue's copy is used.
    let result = match std::str::from_utf8(&scratch[..written.min(most)]) {
        Ok(utf8) if read == units => Some(f(utf8)),
        _ => text.as_string().map(|copy| f(&copy)),
    };
    SCRATCH.with(|s| *s.borrow_mut() = scratch);
    result
}

/// `value`'s text as an owned `String` (for documents that are kept, as in a batch);
/// `None` when `value` is not a string.
pub fn string_of(value: &JsValue) -> Option<String> {
    with_utf8(value, str::to_owned)
}
