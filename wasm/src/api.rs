//! What the worker calls: a whole store, synchronous, over OPFS slots or memory.
//!
//! Errors are JavaScript `Error`s with a stable `code` (`Locked`, `Corrupted`,
//! `InvalidDocument`, `TooLarge`, `QuotaExceeded`, `Closed`, `Poisoned`, `ReadOnly`,
//! `InvalidKey`, `InvalidArgument`, `InvalidOption`, `Io`, `UnsupportedVersion`), and
//! `line`/`column` for invalid TOON.

use std::ops::Bound;

use js_sys::{Array, Object, Reflect, Uint8Array};
use toonstore::io::{BlockCache, CachedStorage, File, MemoryStorage, OpenMode, Storage};
use toonstore::store::{Batch, Durability, Error, Options, Recovery, ScanRequest, Store};
use toonstore::toon::{self, Map, Value};
use wasm_bindgen::prelude::*;
use web_sys::FileSystemSyncAccessHandle;

use crate::opfs::OpfsStorage;
use crate::text::{string_of, with_utf8};

/// A JavaScript `Error` with a `code` property.
fn error(code: &str, message: impl Into<String>) -> JsValue {
    let error = js_sys::Error::new(&message.into());
    let _ = Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

fn store_error(e: Error) -> JsValue {
    let code = match &e {
        Error::Locked => "Locked",
        Error::Corrupted { .. } => "Corrupted",
        Error::InvalidDocument(_) => "InvalidDocument",
        Error::TooLarge { .. } => "TooLarge",
        Error::StoreFull { .. } => "QuotaExceeded",
        Error::Closed => "Closed",
        Error::Poisoned => "Poisoned",
        Error::SyncFailed => "SyncFailed",
        Error::ReadOnly => "ReadOnly",
        Error::InvalidKey(_) => "InvalidKey",
        Error::UnsupportedVersion { .. } => "UnsupportedVersion",
        Error::InvalidOption { .. } => "InvalidOption",
        Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => "Locked",
        _ => "Io",
    };
    let js = error(code, e.to_string());
    let set = |name: &str, value: f64| Reflect::set(&js, &name.into(), &value.into());
    if let Error::InvalidDocument(decode) = &e {
        let _ = set("line", decode.line as f64);
        let _ = set("column", decode.column as f64);
    }
    if let Error::StoreFull { size, limit, .. } = &e {
        let _ = set("size", *size as f64);
        let _ = set("limit", *limit as f64);
    }
    js
}

/// A document argument that is not a string.
fn not_text(what: &str) -> JsValue {
    error("InvalidArgument", format!("{what} must be a string"))
}

fn io_error(e: std::io::Error) -> JsValue {
    if matches!(e.kind(), std::io::ErrorKind::QuotaExceeded | std::io::ErrorKind::StorageFull) {
        return error("QuotaExceeded", format!("the browser's storage quota is reached: {e}"));
    }
    store_error(Error::from(e))
}

/// Slot files as the worker hands them over: `[name, FileSystemSyncAccessHandle]` pairs.
fn slots_of(array: &Array) -> Vec<(String, FileSystemSyncAccessHandle)> {
    array
        .iter()
        .map(|pair| {
            let pair: Array = pair.unchecked_into();
            (pair.get(0).as_string().unwrap_or_default(), pair.get(1).unchecked_into())
        })
        .collect()
}

/// An error opening OPFS slots: a damaged slot header is `Corrupted`.
fn slot_error(e: std::io::Error) -> JsValue {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<crate::opfs::SlotDamage>()) {
        Some(damage) => store_error(Error::Corrupted {
            file: damage.slot.clone(),
            offset: damage.offset,
            reason: damage.reason.into(),
        }),
        None => io_error(e),
    }
}

/// The size option `name` of `js`, when given: a whole number from 0 to 2^53 - 1 (not
/// negative, NaN or infinite), else `InvalidOption`.
fn size(js: &JsValue, name: &'static str) -> Result<Option<u64>, JsValue> {
    let value = Reflect::get(js, &name.into())?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER => {
            Ok(Some(n as u64))
        }
        _ => Err(store_error(Error::InvalidOption {
            option: name,
            reason: format!("{value:?} is not a whole number of bytes"),
        })),
    }
}

/// The OPFS block cache the options ask for: `readCacheBytes` (default 32 MiB; less than a
/// block, 0 included: none).
fn block_cache(js: &JsValue) -> Result<BlockCache, JsValue> {
    let given = match js.is_undefined() || js.is_null() {
        true => None,
        false => size(js, "readCacheBytes")?,
    };
    let capacity_bytes =
        given.map_or(OPFS_BLOCK_CACHE.capacity_bytes, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(BlockCache { capacity_bytes, ..OPFS_BLOCK_CACHE })
}

/// `{ cacheBytes, maxValueBytes, maxStoreBytes, segmentBytes, readOnly, durability:
/// "eventual" | "immediate", recovery: "strict" | "salvage" }`, all optional. A size must be
/// a whole number from 0 to 2^53 - 1 (not negative, NaN or infinite); the engine then checks
/// the values themselves ([`Options::validate`]). Either way the error is `InvalidOption`.
fn options(js: &JsValue) -> Result<Options, JsValue> {
    // Chromium grows an OPFS file's space by at least 1 MB: a smaller reserve would free too
    // little for the first write after a full quota.
    let mut options = Options { reserve_bytes: 2 << 20, ..Options::default() };
    if js.is_undefined() || js.is_null() {
        return Ok(options);
    }
    if let Some(n) = size(js, "cacheBytes")? {
        options.cache_bytes = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = size(js, "maxValueBytes")? {
        options.max_value_bytes = n;
    }
    if let Some(n) = size(js, "maxStoreBytes")? {
        options.max_store_bytes = n;
    }
    if let Some(n) = size(js, "segmentBytes")? {
        options.segment_bytes = n;
    }
    if let Some(n) = size(js, "reserveBytes")? {
        options.reserve_bytes = n;
    }
    options.read_only = Reflect::get(js, &"readOnly".into())?.is_truthy();
    let choice = |name: &'static str| -> Result<Option<String>, JsValue> {
        let value = Reflect::get(js, &name.into())?;
        match (value.is_undefined() || value.is_null(), value.as_string()) {
            (true, _) => Ok(None),
            (false, Some(text)) => Ok(Some(text)),
            (false, None) => Err(store_error(Error::InvalidOption {
                option: name,
                reason: format!("{value:?} is not a string"),
            })),
        }
    };
    match choice("durability")?.as_deref() {
        None | Some("eventual") => {}
        Some("immediate") => options.durability = Durability::Immediate,
        Some(other) => {
            let reason = format!("{other:?} is neither \"eventual\" nor \"immediate\"");
            return Err(store_error(Error::InvalidOption { option: "durability", reason }));
        }
    }
    match choice("recovery")?.as_deref() {
        None | Some("strict") => {}
        Some("salvage") => options.recovery = Recovery::Salvage,
        Some(other) => {
            let reason = format!("{other:?} is neither \"strict\" nor \"salvage\"");
            return Err(store_error(Error::InvalidOption { option: "recovery", reason }));
        }
    }
    options.validate().map_err(store_error)?;
    Ok(options)
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The block cache in front of OPFS. A sync access handle's random read of 64 KB took 1.3x
/// (Chromium: 3.4 against 2.6 us) to 1.9x (Firefox: 66 against 35 us) one of 1 KB in a worker
/// micro-benchmark, against well under a microsecond to copy 1 KB from memory: a miss reads
/// 64 KB, the documents around the one asked for; up to 32 MiB are kept unless the options
/// say otherwise ([`block_cache`]).
pub const OPFS_BLOCK_CACHE: BlockCache =
    BlockCache { block_bytes: 64 << 10, capacity_bytes: 32 << 20 };

#[derive(Debug)]
enum Backend {
    /// The store reads through the block cache; the bare storage manages the slots.
    Opfs(Store<CachedStorage<OpfsStorage>>, OpfsStorage),
    Memory(Store<MemoryStorage>),
}

/// Runs `$body` with `$s` bound to the store, whatever its backend.
macro_rules! with_store {
    ($self:ident, |$s:ident| $body:expr) => {
        match &$self.backend {
            Backend::Opfs($s, _) => $body,
            Backend::Memory($s) => $body,
        }
    };
}

/// One open store.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmStore {
    backend: Backend,
}

/// A value as JSON text, for `JSON.parse` on the other side.
fn json_of(value: &Value) -> String {
    serde_json::to_string(value).expect("TOON values are JSON values")
}

/// `[key, TOON text]`, or `[key, JSON text]` of the decoded value: what scans hand out.
fn entry(key: &str, text: &str, as_text: bool) -> Result<JsValue, JsValue> {
    let value = match as_text {
        true => text.to_owned(),
        false => json_of(&toon::decode(text).map_err(|e| store_error(e.into()))?),
    };
    Ok(Array::of2(&key.into(), &value.into()).into())
}

/// The value of a document given as JSON text (from `JSON.stringify`). The store encodes
/// values itself, without validating text it wrote.
fn value_of(json: &str) -> Result<Value, JsValue> {
    serde_json::from_str(json)
        .map_err(|e| error("InvalidDocument", format!("not a JSON document: {e}")))
}

#[wasm_bindgen]
impl WasmStore {
    /// Opens the store held by these OPFS slot handles (all of its slot files).
    #[wasm_bindgen(js_name = openOpfs)]
    pub fn open_opfs(slots: Array, options_js: JsValue) -> Result<WasmStore, JsValue> {
        let storage = OpfsStorage::new(slots_of(&slots)).map_err(slot_error)?;
        let cached = CachedStorage::new(storage.clone(), block_cache(&options_js)?);
        let store = Store::open(cached, options(&options_js)?).map_err(store_error)?;
        Ok(WasmStore { backend: Backend::Opfs(store, storage) })
    }

    /// Opens a store held in memory (where OPFS is missing).
    #[wasm_bindgen(js_name = openMemory)]
    pub fn open_memory(options_js: JsValue) -> Result<WasmStore, JsValue> {
        let store =
            Store::open(MemoryStorage::new(), options(&options_js)?).map_err(store_error)?;
        Ok(WasmStore { backend: Backend::Memory(store) })
    }

    /// Checks open options as an open would (`InvalidOption`), opening nothing: a leader
    /// checks the options of a tab that sends it its calls.
    #[wasm_bindgen(js_name = checkOptions)]
    pub fn check_options(options_js: JsValue) -> Result<(), JsValue> {
        block_cache(&options_js)?;
        options(&options_js)?.validate().map_err(store_error)
    }

    /// Writes engine files (`{name: Uint8Array}`) into empty OPFS slots, before opening.
    #[wasm_bindgen(js_name = importFiles)]
    pub fn import_files(slots: Array, files: Object) -> Result<(), JsValue> {
        let storage = OpfsStorage::new(slots_of(&slots)).map_err(slot_error)?;
        if !storage.list().map_err(io_error)?.is_empty() {
            return Err(error("InvalidArgument", "importing needs an empty store"));
        }
        for name in Object::keys(&files).iter() {
            let name = name.as_string().unwrap_or_default();
            let bytes: Uint8Array = Reflect::get(&files, &name.as_str().into())?.unchecked_into();
            let file = storage.open(&name, OpenMode::Create).map_err(io_error)?;
            file.write_at(0, &bytes.to_vec()).map_err(io_error)?;
        }
        storage.sync().map_err(io_error)
    }

    /// Adds spare OPFS slots the worker opened.
    #[wasm_bindgen(js_name = addSlots)]
    pub fn add_slots(&self, slots: Array) -> Result<(), JsValue> {
        match &self.backend {
            Backend::Opfs(_, storage) => storage.add_slots(slots_of(&slots)).map_err(slot_error),
            Backend::Memory(_) => Ok(()),
        }
    }

    /// Freed OPFS slots to close and remove, giving their bytes back to the quota:
    /// `[name, handle]` pairs.
    #[wasm_bindgen(js_name = releaseSlots)]
    pub fn release_slots(&self) -> Array {
        let released = Array::new();
        if let Backend::Opfs(_, storage) = &self.backend {
            for (name, handle) in storage.release_slots() {
                released.push(&Array::of2(&name.into(), &handle.into()));
            }
        }
        released
    }

    /// Free OPFS slots (memory stores never run out).
    #[wasm_bindgen(js_name = freeSlots)]
    pub fn free_slots(&self) -> u32 {
        match &self.backend {
            Backend::Opfs(_, storage) => storage.free_slots() as u32,
            Backend::Memory(_) => u32::MAX,
        }
    }

    /// Stores a value given as JSON text (converted to canonical TOON).
    #[wasm_bindgen(js_name = putJson)]
    pub fn put_json(&self, key: &str, json: &JsValue) -> Result<(), JsValue> {
        let value = with_utf8(json, value_of).ok_or_else(|| not_text("json"))??;
        with_store!(self, |s| s.put_value(key, &value)).map_err(store_error)
    }

    /// Stores TOON text (validated, kept canonical).
    #[wasm_bindgen(js_name = putText)]
    pub fn put_text(&self, key: &str, text: &JsValue) -> Result<(), JsValue> {
        let put = with_utf8(text, |text| with_store!(self, |s| s.put(key, text)));
        put.ok_or_else(|| not_text("text"))?.map_err(store_error)
    }

    /// The value under `key` as JSON text, or `undefined`.
    #[wasm_bindgen(js_name = getJson)]
    pub fn get_json(&self, key: &str) -> Result<JsValue, JsValue> {
        let value = with_store!(self, |s| s.get_value(key)).map_err(store_error)?;
        Ok(value.map_or(JsValue::UNDEFINED, |v| json_of(&v).into()))
    }

    /// The TOON text under `key`, or `undefined`.
    #[wasm_bindgen(js_name = getText)]
    pub fn get_text(&self, key: &str) -> Result<JsValue, JsValue> {
        let text = with_store!(self, |s| s.get(key)).map_err(store_error)?;
        Ok(text.map_or(JsValue::UNDEFINED, |t| JsValue::from_str(&t)))
    }

    /// Deletes `key`; true when it existed.
    pub fn delete(&self, key: &str) -> Result<bool, JsValue> {
        with_store!(self, |s| s.delete(key)).map_err(store_error)
    }

    /// Appends TOON text (or JSON text, when `is_json`) as the next row; its id.
    pub fn append(&self, text: &JsValue, is_json: bool) -> Result<f64, JsValue> {
        let id = with_utf8(text, |text| match is_json {
            true => {
                let value = value_of(text)?;
                with_store!(self, |s| s.append_value(&value)).map_err(store_error)
            }
            false => with_store!(self, |s| s.append(text)).map_err(store_error),
        });
        Ok(id.ok_or_else(|| not_text("text"))?? as f64)
    }

    /// Row `id`'s value as JSON text, or `undefined`.
    #[wasm_bindgen(js_name = getRowJson)]
    pub fn get_row_json(&self, id: f64) -> Result<JsValue, JsValue> {
        let value = with_store!(self, |s| s.get_row_value(id as u64)).map_err(store_error)?;
        Ok(value.map_or(JsValue::UNDEFINED, |v| json_of(&v).into()))
    }

    /// Up to `limit` `[key, value]` pairs in key order: keys from `from` (or with `prefix`)
    /// below `to`, strictly after `after` (the last key of the previous chunk).
    pub fn scan(
        &self,
        prefix: Option<String>,
        from: Option<String>,
        to: Option<String>,
        after: Option<String>,
        limit: u32,
        as_text: bool,
    ) -> Result<Array, JsValue> {
        let mut request = ScanRequest::all();
        request.prefix = prefix;
        request.start = match (after, from) {
            // The next page starts after the last key of this one, or at `from` if that
            // comes later (the engine takes the later of the start key and the prefix).
            (Some(after), Some(from)) if from > after => Bound::Included(from),
            (Some(after), _) => Bound::Excluded(after),
            (None, Some(from)) => Bound::Included(from),
            (None, None) => Bound::Unbounded,
        };
        request.end = to.map_or(Bound::Unbounded, Bound::Excluded);
        let chunk = Array::new();
        with_store!(self, |s| {
            for item in s.scan_request(&request).take(limit as usize) {
                let (key, text) = item.map_err(store_error)?;
                chunk.push(&entry(&key, &text, as_text)?);
            }
            Ok::<(), JsValue>(())
        })?;
        Ok(chunk)
    }

    /// Applies `[{type: "putJson", key, json} | {type: "putText", key, text} |
    /// {type: "delete", key}]` atomically.
    pub fn batch(&self, ops: Array) -> Result<(), JsValue> {
        let mut batch = Batch::new();
        for op in ops.iter() {
            let field = |name: &str| Reflect::get(&op, &name.into());
            let key = field("key")?.as_string().ok_or_else(|| error("InvalidArgument", "key"))?;
            match field("type")?.as_string().as_deref() {
                Some("putJson") => {
                    let value = with_utf8(&field("json")?, value_of);
                    batch.put_value(key, &value.ok_or_else(|| not_text("json"))??)
                }
                Some("putText") => {
                    let text = string_of(&field("text")?);
                    batch.put(key, text.ok_or_else(|| not_text("text"))?)
                }
                Some("delete") => batch.delete(key),
                other => return Err(error("InvalidArgument", format!("batch op {other:?}"))),
            };
        }
        with_store!(self, |s| s.batch(&batch)).map_err(store_error)
    }

    /// Puts documents given as JSON text, `jsons[i]` under `keys[i]`, atomically as
    /// [`batch`](Self::batch) does: the path for puts a page made in one task, without an op
    /// object per put to read field by field (each field name crossed as a new string).
    #[wasm_bindgen(js_name = putManyJson)]
    pub fn put_many_json(&self, keys: Vec<String>, jsons: Vec<JsValue>) -> Result<(), JsValue> {
        if keys.len() != jsons.len() {
            return Err(error("InvalidArgument", "one JSON text per key"));
        }
        let mut batch = Batch::new();
        for (key, json) in keys.into_iter().zip(&jsons) {
            let value = with_utf8(json, value_of).ok_or_else(|| not_text("json"))??;
            batch.put_value(key, &value);
        }
        with_store!(self, |s| s.batch(&batch)).map_err(store_error)
    }

    /// Values of `keys` as JSON text (`undefined` where absent), in one call.
    #[wasm_bindgen(js_name = getManyJson)]
    pub fn get_many_json(&self, keys: Array) -> Result<Array, JsValue> {
        keys.iter().map(|key| self.get_json(&key.as_string().unwrap_or_default())).collect()
    }

    /// The store's files by name, after a sync: the same bytes as on any other backend (the
    /// `RESERVE` file left out).
    #[wasm_bindgen(js_name = exportFiles)]
    pub fn export_files(&self) -> Result<Object, JsValue> {
        let Backend::Opfs(store, storage) = &self.backend else {
            return Err(error("InvalidArgument", "a memory store has no files to export"));
        };
        store.sync().map_err(store_error)?;
        let files = Object::new();
        // The reserve is zeros whose size each home chooses: not part of what moves.
        for name in storage.list().map_err(io_error)?.into_iter().filter(|n| n != "RESERVE") {
            let bytes = read_all(storage, &name).map_err(io_error)?;
            Reflect::set(&files, &name.as_str().into(), &Uint8Array::from(&bytes[..]))?;
        }
        Ok(files)
    }

    /// Documents (all, or under `prefix`) as one TOON document keyed by key: uniform
    /// records become one table, ready for a prompt.
    #[wasm_bindgen(js_name = exportToon)]
    pub fn export_toon(&self, prefix: Option<String>) -> Result<String, JsValue> {
        let mut keyed = Map::new();
        with_store!(self, |s| {
            let scan = match &prefix {
                Some(prefix) => s.scan_prefix(prefix),
                None => s.scan(),
            };
            for item in scan {
                let (key, text) = item.map_err(store_error)?;
                keyed.insert(key, toon::decode(&text).map_err(|e| store_error(e.into()))?);
            }
            Ok::<(), JsValue>(())
        })?;
        Ok(toon::encode(&Value::Object(keyed)))
    }

    /// Rewrites live documents; the bytes reclaimed.
    pub fn compact(&self) -> Result<f64, JsValue> {
        let report = with_store!(self, |s| s.compact()).map_err(store_error)?;
        Ok(report.reclaimed_bytes as f64)
    }

    /// Figures about the store, and its backend (`"opfs"` or `"memory"`).
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let stats = with_store!(self, |s| s.stats());
        let object = Object::new();
        let backend = match &self.backend {
            Backend::Opfs(..) => "opfs",
            Backend::Memory(_) => "memory",
        };
        let set = |name: &str, value: JsValue| Reflect::set(&object, &name.into(), &value);
        set("backend", backend.into())?;
        set("keys", (stats.keys as f64).into())?;
        set("rows", (stats.rows as f64).into())?;
        set("diskBytes", (stats.disk_bytes as f64).into())?;
        set("liveBytes", (stats.live_bytes as f64).into())?;
        set("garbageBytes", (stats.garbage_bytes as f64).into())?;
        set("segments", (stats.segments as f64).into())?;
        set("cacheHits", (stats.cache_hits as f64).into())?;
        set("cacheMisses", (stats.cache_misses as f64).into())?;
        set("recoveredTailBytes", (stats.recovered_tail_bytes as f64).into())?;
        set("salvagedRecords", (stats.salvaged_records as f64).into())?;
        Ok(object.into())
    }

    /// The sequence number the next write will get (see `Store::next_sequence`): the
    /// version a change event carries, and what a read saw.
    #[wasm_bindgen(js_name = nextSequence)]
    pub fn next_sequence(&self) -> f64 {
        with_store!(self, |s| s.next_sequence()) as f64
    }

    /// Hands buffered writes to OPFS (a reloaded tab then keeps them), without a sync.
    pub fn flush(&self) -> Result<(), JsValue> {
        with_store!(self, |s| s.flush()).map_err(store_error)
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<(), JsValue> {
        with_store!(self, |s| s.sync()).map_err(store_error)
    }

    /// Closes the store and its OPFS handles; returns the freed slots (`[name, handle]`)
    /// for the worker to close and remove, as between calls.
    pub fn close(&self) -> Result<Array, JsValue> {
        let closed = with_store!(self, |s| s.close());
        // A full quota leaves the store open, its writes kept, for a close with room.
        if let Err(Error::StoreFull { .. }) = closed {
            return Err(store_error(closed.unwrap_err()));
        }
        let released = self.release_slots();
        if let Backend::Opfs(_, storage) = &self.backend {
            storage.close_all();
        }
        closed.map(|()| released).map_err(store_error)
    }
}

fn read_all(storage: &OpfsStorage, name: &str) -> std::io::Result<Vec<u8>> {
    let file = storage.open(name, OpenMode::ReadOnly)?;
    file.read_vec_at(0, file.len()? as usize)
}

/// Runs the engine's storage conformance suite on OPFS, bare and behind a block cache of
/// small blocks (so its checks cross and evict blocks): `slot_sets` holds one array of fresh
/// slot handles per check, for both runs. Returns the number of checks passed (a failure
/// throws).
#[wasm_bindgen(js_name = storageConformance)]
pub fn storage_conformance(slot_sets: Array) -> Result<u32, JsValue> {
    let sets = std::cell::RefCell::new(slot_sets.iter());
    let fresh = || {
        let set: Array = sets.borrow_mut().next().expect("a slot set per check").unchecked_into();
        OpfsStorage::new(slots_of(&set)).expect("fresh slots open")
    };
    let small = BlockCache { block_bytes: 8, capacity_bytes: 32 };
    let bare = toonstore::io::conformance::run(fresh);
    let cached = toonstore::io::conformance::run(|| CachedStorage::new(fresh(), small));
    Ok((bare + cached) as u32)
}
