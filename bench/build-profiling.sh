#!/usr/bin/env bash
# The profiling build of the worker: the release build of scripts/build.sh (same worker-build,
# same profile, same wasm-opt -O) except that the wasm keeps its name section, so V8 CPU profiles
# name wasm functions. Cargo's `strip = true` is turned off for this build only
# (CARGO_PROFILE_RELEASE_STRIP=false); wasm-bindgen demangles the names and worker-build runs
# wasm-opt with --debuginfo, which keeps them. It goes to its own cargo target directory and its
# own output directory, so it never touches build/ or the release artefacts in target/.
#
#   bench/build-profiling.sh     prints the output directory (index.js, index_bg.wasm) on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

target="${CARGO_TARGET_DIR:-$PWD/target}/profiling"
out="$target/build"
if [ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ] \
  && [ -z "$(find src Cargo.toml Cargo.lock -newer "$out/index_bg.wasm" -print -quit 2>/dev/null)" ]; then
  note "profiling build is up to date ($out)"
  echo "$out"
  exit 0
fi
command -v worker-build >/dev/null 2>&1 || die "worker-build is not installed; run ./scripts/setup.sh"
[ -x "$WASM_OPT_BIN" ] && [ -x "$ESBUILD_BIN" ] || die "npm tooling is missing; run ./scripts/setup.sh"
step "profiling build of the worker (names kept) into $out"
mkdir -p "$target"
CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_STRIP=false RUST_BACKTRACE=0 \
  worker-build --release --out-dir "$out" >&2 || die "the profiling build failed"
[ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ] || die "worker-build finished but $out is incomplete"
touch "$out/index_bg.wasm" "$out/index.js"
ok "profiling build in $out ($(du -k "$out/index_bg.wasm" | cut -f1) KiB)"
echo "$out"
