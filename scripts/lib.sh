# Shared settings for the scripts in this folder; sourced (from the repository root), not run.
# shellcheck shell=bash

WORKER_BUILD_VERSION=0.8.7
# The npm package "node" provides Node 22, which wrangler, Miniflare and the tests need; the system
# Node (any version with npm) is only used to run `npm ci`.
NODE_DIR="$PWD/node_modules/node/bin"
NODE="$NODE_DIR/node"
export PATH="$HOME/.cargo/bin:$PATH"
# worker-build would download these from GitHub; point it at local copies instead.
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
# No telemetry prompts or update checks from wrangler.
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
# Use workerd's built-in placeholder for `request.cf` instead of downloading the real one.
export CLOUDFLARE_CF_FETCH_ENABLED=false

# The worker as worker-build writes it (see wrangler.toml `main`).
WORKER_JS=build/index.js
WORKER_WASM=build/index_bg.wasm

if [ -t 2 ]; then _B=$'\033[1m' _R=$'\033[31m' _G=$'\033[32m' _N=$'\033[0m'; else _B= _R= _G= _N=; fi
step() { printf '%s==> %s%s\n' "$_B" "$*" "$_N" >&2; }
note() { printf '    %s\n' "$*" >&2; }
ok() { printf '%s%s%s\n' "$_G" "$*" "$_N" >&2; }
die() { printf '%serror:%s %s\n' "$_R" "$_N" "$*" >&2; exit 1; }

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock
}

# Puts Node 22 first on PATH (wasm-bindgen-test-runner and wrangler's children run plain `node`).
use_node22() {
  [ -x "$NODE" ] || die "Node 22 is missing; run ./scripts/setup.sh first"
  export PATH="$NODE_DIR:$PATH"
}

wrangler() { "$NODE" node_modules/wrangler/bin/wrangler.js "$@"; }

# Waits until a URL answers (any HTTP status); $1 url, $2 seconds, $3 pid that must stay alive.
wait_for_url() {
  local url=$1 secs=$2 pid=${3:-} i
  for ((i = 0; i < secs * 4; i++)); do
    if command -v curl >/dev/null 2>&1; then
      curl -s -o /dev/null --max-time 2 "$url" && return 0
    elif "$NODE" -e 'fetch(process.argv[1]).then(() => process.exit(0), () => process.exit(1))' "$url" 2>/dev/null; then
      return 0
    fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.25
  done
  return 1
}
