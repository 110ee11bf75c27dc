#!/usr/bin/env bash
# Builds the package's wasm: the toonstore-wasm crate for wasm32-unknown-unknown, then the
# wasm-bindgen glue (the CLI at the crate's pinned version, installed when missing) into
# www/pkg/, which the worker imports. pkg/ is generated, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.2.130
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
  # --locked fails for this version here (the registry lacks one locked dependency).
  cargo install wasm-bindgen-cli --version "=$version"
fi
cargo build -p toonstore-wasm --release --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir www/pkg --no-typescript \
  target/wasm32-unknown-unknown/release/toonstore_wasm.wasm
