#!/usr/bin/env bash
# Builds the wasm benchmark like worker-build builds the worker: cargo release for wasm32 with the
# main crate's profile, wasm-bindgen (here for Node), then wasm-opt with worker-build's defaults
# for release (-O, its feature set, --debuginfo). Output: bench/wasm/pkg/.
#   BENCH_WASM_OPT=0            skip wasm-opt
#   BENCH_WASM_OPT_ARGS="-Oz"   other optimisation flags (the size experiments use this)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/bench/wasm/target}"
cargo build --quiet --target wasm32-unknown-unknown --release
rm -rf pkg && mkdir -p pkg
wasm-bindgen --target nodejs --out-dir pkg "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edgegate_wasm_bench.wasm" 2>/dev/null
# pkg/ is CommonJS (wasm-bindgen --target nodejs); the repository package.json says "module".
# workers-rs ships its JS snippets as ES modules, which Node 22 loads with require().
echo '{ "type": "commonjs" }' > pkg/package.json
[ ! -d pkg/snippets ] || echo '{ "type": "module" }' > pkg/snippets/package.json
WASM_OPT="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
if [ "${BENCH_WASM_OPT:-1}" = 1 ] && [ -x "$WASM_OPT" ]; then
  # shellcheck disable=SC2086 # BENCH_WASM_OPT_ARGS is a list of flags
  "$WASM_OPT" pkg/edgegate_wasm_bench_bg.wasm -o pkg/edgegate_wasm_bench_bg.wasm ${BENCH_WASM_OPT_ARGS:--O} \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
    --enable-multivalue --enable-reference-types --enable-exception-handling --debuginfo
fi
