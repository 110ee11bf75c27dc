#!/usr/bin/env bash
# Runs one benchmark suite and rewrites its section of BENCHMARKS.md from the results.
# Usage: benches/run.sh codec|engine|wasi|browser|previous [REV]
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
  wasi)
    # The engine workload natively and as one wasm module under our host and the wasmtime
    # CLI (installed by .ci/test), then module start times; every program times itself.
    cargo build --release -p toonstore --example workload
    cargo build --release -p toonstore --target wasm32-wasip1 --example workload --bin toonstore
    cargo build --release -p toonstore-host --bin toonstore-host --example start_time
    data=target/bench-data
    work=$data/wasi-work
    module=target/wasm32-wasip1/release/examples/workload.wasm
    rm -rf "$work" && mkdir -p "$work"
    target/release/examples/workload "$work" > "$data/wasi-native.json"
    target/release/examples/workload "$work" 100000 3 std > "$data/wasi-native-std.json"
    target/release/toonstore-host run --cache-dir "$data/module-cache" --dir "$work::/work" \
      "$module" -- /work > "$data/wasi-host.json"
    wasmtime run --dir "$work::/work" "$module" /work > "$data/wasi-wasmtime.json"
    target/release/examples/start_time target/wasm32-wasip1/release/toonstore.wasm \
      > "$data/wasi-start.json"
    # The shim against its previous code (REV, default: before issue 11): the previous host
    # is built in a worktree into this target directory (so wasmtime is not built twice),
    # copied aside, and run in turns with this tree's, without and with a quota.
    rev="${2:-26b56e8}"
    base=target/bench-previous-host
    if [ "$(git -C "$base" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$rev")" ]; then
      rm -rf "$base" && git worktree prune
      git worktree add --detach "$base" "$rev"
    fi
    (cd "$base" && CARGO_TARGET_DIR="$OLDPWD/target" cargo build --release -p toonstore-host --bin toonstore-host)
    cp target/release/toonstore-host "$data/toonstore-host-previous"
    cargo build --release -p toonstore-host --bin toonstore-host
    rm -f "$data"/shim-*.json
    for round in 1 2 3 4 5; do
      for which in current previous; do
        host=target/release/toonstore-host
        [ "$which" = previous ] && host=$data/toonstore-host-previous
        for quota in free quota; do
          flags=()
          [ "$quota" = quota ] && flags=(--quota 8589934592)
          rm -rf "$work" && mkdir -p "$work"
          "$host" run --cache-dir "$data/module-cache-$which" "${flags[@]}" --dir "$work::/work" \
            "$module" -- /work > "$data/shim-$which-$quota-$round.json"
        done
      done
    done
    git rev-parse --short "$rev" > "$data/shim-rev.txt"
    rm -rf "$work"
    ;;
  previous)
    # The engine workload of this tree against the same program at REV (default: the code
    # before the durability work of issue 10), built side by side and run in turns, so both
    # see the same machine: puts, uncached gets and a scan of 100,000 1 KB documents.
    rev="${2:-3dcfe31}"
    data=target/bench-data
    base=target/bench-previous
    mkdir -p "$data"
    if [ "$(git -C "$base" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$rev")" ]; then
      rm -rf "$base" && git worktree prune
      git worktree add --detach "$base" "$rev"
    fi
    (cd "$base" && cargo build --release -p toonstore --example workload)
    cargo build --release -p toonstore --example workload
    work=$data/previous-work
    rm -f "$data"/previous-*.json
    for round in 1 2 3 4 5; do
      for which in current previous; do
        bin=target/release/examples/workload
        [ "$which" = previous ] && bin=$base/target/release/examples/workload
        rm -rf "$work" && mkdir -p "$work"
        "$bin" "$work" 100000 3 > "$data/previous-$which-$round.json"
      done
    done
    rm -rf "$work"
    git rev-parse --short "$rev" > "$data/previous-rev.txt"
    ;;
  browser)
    # One headless Chromium session: the package's worker and main-thread API against raw
    # OPFS, sqlite-wasm and idb-keyval (installed from www's lockfile by .ci/setup).
    bash www/build.sh
    node www/bench/run.mjs 20000
    ;;
  *) echo "error: unknown suite $section (known: codec, engine, wasi, browser, previous)" >&2; exit 2 ;;
esac
run="Run of $(date -u +%F) on $(nproc) cores ($(uname -m), $(rustc --version | cut -d' ' -f1-2))"
cargo run -q --release -p toonstore-benches --bin report -- "$section" "$run"
