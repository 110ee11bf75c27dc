//! ToonStore: a storage engine for TOON documents that runs natively, under WASI and in the
//! browser, writing the same bytes in each.
//!
//! - [`toon`]: the TOON codec (a nom-based decoder, a validator that builds no tree, a
//!   canonical encoder), byte-identical to the reference implementation.
//! - [`store`]: the store: documents by key and by row id in a segmented, checksummed append
//!   log, with a key index, a cache of decoded documents, group commit, compaction, and the
//!   guarantees of `docs/FORMAT.md` (what is durable when, what a full disk or damaged file
//!   does).
//! - [`io`]: the I/O seam the store runs on (a flat namespace of files with positional,
//!   exact-length reads and writes) and its backends: memory, std files (native and WASI),
//!   memory-mapped reads (native), and a fault-injecting wrapper with a disk model for crash
//!   tests. The browser's OPFS backend lives in the `toonstore-wasm` crate.
//! - `cli` (feature `cli`): the `toonstore` command line.
//!
//! What it is not: a database with queries or transactions across calls; one writer per
//! store. It builds for native targets, `wasm32-wasip1` and `wasm32-unknown-unknown`.
//!
//! ```
//! use toonstore::io::MemoryStorage;
//! use toonstore::store::{Options, Store};
//!
//! let store = Store::open(MemoryStorage::new(), Options::default())?;
//! store.put("user:1", "name: Ada\ntags[2]: math,engines")?;
//! assert_eq!(store.get_value("user:1")?.unwrap().get("name").and_then(|v| v.as_str()), Some("Ada"));
//! store.close()?;
//! # Ok::<(), toonstore::store::Error>(())
//! ```

pub mod io;
pub mod store;
pub mod toon;

#[cfg(feature = "cli")]
pub mod cli;
