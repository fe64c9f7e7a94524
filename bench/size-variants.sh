#!/usr/bin/env bash
# Size/speed trade-off of release-profile settings, tried in a scratch clone (never in this work
# tree): for each variant, edit [profile.release] (and worker-build's wasm-opt flags) in the
# clone's Cargo.toml and bench/wasm/Cargo.toml alike, build the worker with worker-build and the
# wasm bench, and report bundle size and the wasm decision / Ed25519 timings.
#
#   bench/size-variants.sh [variant ...]     default: every variant below
#   variants: baseline wasm-opt-Oz opt-z opt-z+wasm-opt-Oz curve-s idna-ascii
# Builds take minutes each. The timings are taken after every build, side by side: $SIZE_ROUNDS
# (default 3) rounds over all variants, each `bench.mjs --batches 5`; the table gives the median
# over rounds of each round's fastest batch. Prints a markdown table at the end. Scratch: $SIZE_SCRATCH
# (default /tmp/edgegate-sizeclone), cargo target $SIZE_TARGET (default /tmp/edgegate-size-target).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SIZE_SCRATCH:-/tmp/edgegate-sizeclone}
export CARGO_TARGET_DIR=${SIZE_TARGET:-/tmp/edgegate-size-target}
NODE="$ROOT/node_modules/node/bin/node"
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(baseline wasm-opt-Oz opt-z opt-z+wasm-opt-Oz curve-s idna-ascii)

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
    idna-ascii) # url's IDNA without Unicode tables: non-ASCII host names no longer parse
      sed -i '/^\[target.*wasm32.*\.dependencies\]$/a idna_adapter = "=1.0.0"' Cargo.toml ;;
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
  if [ "$v" = idna-ascii ]; then # the bench crate has its own manifest and lock
    sed -i '/^\[dependencies\]$/a idna_adapter = "=1.0.0"' bench/wasm/Cargo.toml
  fi
  BENCH_WASM_OPT_ARGS="$WASM_OPT_ARGS" bench/wasm/build.sh
  rm -rf "pkgs/$v" && mkdir -p pkgs && cp -r bench/wasm/pkg "pkgs/$v" && cp bench/wasm/bench.mjs "pkgs/$v/../$v.bench.mjs"
  sed -i "s|./pkg/edgegate_wasm_bench.js|./$v/edgegate_wasm_bench.js|" "pkgs/$v.bench.mjs"
  rows+=("$v|$((wasm / 1024)) KiB|$((js / 1024)) KiB|$((gz / 1024)) KiB ($gz B)")
  echo "    ${rows[-1]}" >&2
done
git checkout --quiet -- Cargo.toml bench/wasm/Cargo.toml bench/wasm/Cargo.lock Cargo.lock

echo "==> timing the variants side by side (${SIZE_ROUNDS:-3} rounds)" >&2
: > timings.jsonl
for ((round = 0; round < ${SIZE_ROUNDS:-3}; round++)); do
  for v in "${variants[@]}"; do
    "$NODE" "pkgs/$v.bench.mjs" --batches 5 | "$NODE" -e '
      const r = JSON.parse(require("fs").readFileSync(0)).phases;
      console.log(JSON.stringify({ v: process.argv[1], decision: r.decision.min, curve: r.ed25519_sign.min, auth: r.authenticate.min }));' "$v" >> timings.jsonl
  done
done
echo "| variant | index_bg.wasm | index.js | gzip -9 total | wasm decision µs | Ed25519 sign µs | authenticate µs |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for row in "${rows[@]}"; do
  v=${row%%|*}
  t=$("$NODE" -e '
    const lines = require("fs").readFileSync("timings.jsonl", "utf8").trim().split("\n").map(JSON.parse).filter((l) => l.v === process.argv[1]);
    const med = (k) => { const s = lines.map((l) => l[k]).sort((a, b) => a - b); return s[Math.floor(s.length / 2)].toFixed(1); };
    console.log(`${med("decision")} | ${med("curve")} | ${med("auth")}`);' "$v")
  echo "| ${row//|/ | } | $t |"
done
