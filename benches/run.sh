#!/usr/bin/env bash
# Runs one benchmark suite and rewrites its section of BENCHMARKS.md from the results.
# Usage: benches/run.sh codec|engine
set -euo pipefail
cd "$(dirname "$0")/.."
section="${1:-codec}"
case "$section" in
  codec)
    cargo bench -p toonstore-benches --bench toon_codec
    # The TypeScript reference on the same texts, in the same run.
    (cd tests/oracle && npm ci --no-audit --no-fund --loglevel=error)
    node tests/oracle/toon-bench.mjs target/bench-data codec-tabular codec-nested \
      > target/bench-data/codec.results.json
    ;;
  engine) cargo bench -p toonstore-benches --bench engine ;;
  *) echo "error: unknown suite $section (known: codec, engine)" >&2; exit 2 ;;
esac
run="Run of $(date -u +%F) on $(nproc) cores ($(uname -m), $(rustc --version | cut -d' ' -f1-2))"
cargo run -q --release -p toonstore-benches --bin report -- "$section" "$run"
