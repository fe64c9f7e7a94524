#!/usr/bin/env bash
# Builds the floor worker's wasm module (bench/floor/src/lib.rs) and its wasm-bindgen glue as ES
# modules that workerd loads: pkg/edgegate_floor.js (--target web; bench/floor/worker.js calls its
# initSync with the .wasm imported as a WebAssembly.Module) and pkg/edgegate_floor_bg.wasm.
# Fails (non-zero) if any step fails. Returns quickly when nothing changed (cargo's own check).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/bench/floor/target}"
cargo build --quiet --locked --target wasm32-unknown-unknown --release
rm -rf pkg && mkdir -p pkg
wasm-bindgen --target web --no-typescript --out-dir pkg "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edgegate_floor.wasm"
[ -s pkg/edgegate_floor.js ] && [ -s pkg/edgegate_floor_bg.wasm ] || { echo "bench/floor/build.sh: wasm-bindgen wrote no output" >&2; exit 1; }
