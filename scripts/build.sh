#!/usr/bin/env bash
# Builds the worker (release wasm + JS shim) into build/ with worker-build.
# Also the `[build] command` of wrangler.toml, so it never installs anything itself (run
# ./scripts/setup.sh for that) and returns at once when build/ is newer than every input.
#
#   scripts/build.sh                build if an input changed
#   scripts/build.sh --force        build even if build/ looks up to date
#   scripts/build.sh --conformance  the same worker with the store conformance suite at
#                                   POST /.edgegate/conformance, into target/conformance/ (tests only)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

force=false
out_dir=build
cargo_extra=()
for arg in "$@"; do
  case $arg in
    --force) force=true ;;
    --conformance)
      out_dir=target/conformance
      cargo_extra=(--features conformance)
      WORKER_JS=$out_dir/index.js
      WORKER_WASM=$out_dir/index_bg.wasm
      ;;
    *) die "unknown option $arg (try: --force, --conformance)" ;;
  esac
done

# wrangler.toml serves www/ as static assets; the directory must exist even when empty.
mkdir -p www

if ! $force && [ -f "$WORKER_JS" ] && [ -f "$WORKER_WASM" ] \
  && [ -z "$(find src Cargo.toml Cargo.lock -newer "$WORKER_WASM" -print -quit 2>/dev/null)" ]; then
  note "worker build is up to date ($WORKER_JS, $WORKER_WASM)"
  exit 0
fi

command -v worker-build >/dev/null 2>&1 || die "worker-build is not installed; run ./scripts/setup.sh"
command -v wasm-bindgen >/dev/null 2>&1 || die "wasm-bindgen is not installed; run ./scripts/setup.sh"
[ -x "$WASM_OPT_BIN" ] && [ -x "$ESBUILD_BIN" ] || die "npm tooling is missing; run ./scripts/setup.sh"

step "building the worker (cargo release build for wasm32, wasm-bindgen, wasm-opt, esbuild)"
RUST_BACKTRACE=0 worker-build --release --out-dir "$out_dir" . "${cargo_extra[@]}" || die "the worker build failed (see the compiler output above)"
[ -f "$WORKER_JS" ] && [ -f "$WORKER_WASM" ] || die "worker-build finished but $WORKER_JS or $WORKER_WASM is missing"
# worker-build rewrites files in place; make sure the next up-to-date check sees a fresh output.
touch "$WORKER_WASM" "$WORKER_JS"
ok "built $WORKER_JS and $WORKER_WASM ($(du -k "$WORKER_WASM" | cut -f1) KiB)"
