//! ToonStore: a storage engine for TOON documents.
//!
//! This crate holds the TOON codec ([`toon`]) that the store validates, indexes and
//! canonicalises documents with. It has no I/O of its own and builds for native targets,
//! `wasm32-wasip1` and `wasm32-unknown-unknown`.

pub mod io;
pub mod store;
pub mod toon;

#[cfg(feature = "cli")]
pub mod cli;
