#!/usr/bin/env bash
# Size/speed trade-off of release-profile settings, tried in a scratch clone (never in this work
# tree): for each variant, edit [profile.release] (and worker-build's wasm-opt flags) in the
# clone's Cargo.toml and bench/wasm/Cargo.toml alike, build the worker with worker-build and the
# wasm bench, and report bundle size and the wasm decision / Ed25519 timings.
#
#   bench/size-variants.sh [variant ...]     default: every variant below
#   variants: baseline wasm-opt-Oz opt-z opt-z+wasm-opt-Oz curve-s
# Builds take minutes each; it prints a markdown table at the end. Scratch: $SIZE_SCRATCH
# (default /tmp/edgegate-sizeclone), cargo target $SIZE_TARGET (default /tmp/edgegate-size-target).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SIZE_SCRATCH:-/tmp/edgegate-sizeclone}
export CARGO_TARGET_DIR=${SIZE_TARGET:-/tmp/edgegate-size-target}
NODE="$ROOT/node_modules/node/bin/node"
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(baseline wasm-opt-Oz opt-z opt-z+wasm-opt-Oz curve-s)

rm -rf "$SCRATCH"
git clone --quiet "$ROOT" "$SCRATCH"
ln -s "$ROOT/node_modules" "$SCRATCH/node_modules"
cd "$SCRATCH"
. scripts/lib.sh

# Applies variant $1 to the manifests of the clone (fresh from git each time).
apply() {
  git checkout --quiet -- Cargo.toml bench/wasm/Cargo.toml
  WASM_OPT_ARGS="-O"
  case "$1" in
    baseline) ;;
    wasm-opt-Oz) WASM_OPT_ARGS="-Oz" ;;
    opt-z) sed -i '0,/^opt-level = "s"/s//opt-level = "z"/' Cargo.toml bench/wasm/Cargo.toml ;;
    opt-z+wasm-opt-Oz)
      sed -i '0,/^opt-level = "s"/s//opt-level = "z"/' Cargo.toml bench/wasm/Cargo.toml
      WASM_OPT_ARGS="-Oz" ;;
    curve-s) # ed25519-compact and sha2 at the crate-wide "s" instead of 3
      sed -i '/^\[profile.release.package.ed25519-compact\]/,+3 s/^opt-level = 3/opt-level = "s"/' Cargo.toml bench/wasm/Cargo.toml ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
  if [ "$WASM_OPT_ARGS" != "-O" ]; then
    printf '\n[package.metadata.wasm-pack.profile.release]\nwasm-opt = ["%s"]\n' "$WASM_OPT_ARGS" >> Cargo.toml
  fi
}

rows=()
for v in "${variants[@]}"; do
  echo "==> variant $v" >&2
  apply "$v"
  rm -rf build
  RUST_BACKTRACE=0 worker-build --release >/tmp/edgegate-size-$v.log 2>&1 || { echo "worker-build failed for $v (see /tmp/edgegate-size-$v.log)" >&2; exit 1; }
  wasm=$(stat -c %s build/index_bg.wasm); js=$(stat -c %s build/index.js)
  gz=$(( $(gzip -9c build/index_bg.wasm | wc -c) + $(gzip -9c build/index.js | wc -c) ))
  BENCH_WASM_OPT_ARGS="$WASM_OPT_ARGS" bench/wasm/build.sh
  timing=$("$NODE" bench/wasm/bench.mjs --batches 7)
  read -r decision curve < <("$NODE" -e 'const r=JSON.parse(process.argv[1]).phases; console.log(r.decision.us.toFixed(1), r.ed25519_sign.us.toFixed(1))' "$timing")
  rows+=("| $v | $((wasm / 1024)) KiB | $((js / 1024)) KiB | $((gz / 1024)) KiB ($gz B) | $decision | $curve |")
  echo "    ${rows[-1]}" >&2
done
echo "| variant | index_bg.wasm | index.js | gzip -9 total | wasm decision µs | Ed25519 sign µs |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
