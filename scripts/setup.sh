#!/usr/bin/env bash
# Installs every tool the build, the run command and the tests need; safe to run again.
# Nothing here downloads from GitHub: the wasm toolchain comes from crates.io, the rest from npm
# and Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required: $2"; }
need cargo "install Rust with rustup (https://rustup.rs)"
need rustup "install Rust with rustup (https://rustup.rs)"
need npm "install Node.js 20 or newer with npm"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown || die "could not add the wasm32 target"
fi

bindgen_version=$(wasm_bindgen_version)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  step "installing wasm-bindgen-cli $bindgen_version (matches Cargo.lock)"
  cargo install --locked wasm-bindgen-cli --version "$bindgen_version" \
    || die "could not install wasm-bindgen-cli $bindgen_version from crates.io"
fi

if [ "$(worker-build --version 2>/dev/null | awk '{print $2}')" != "$WORKER_BUILD_VERSION" ]; then
  step "installing worker-build $WORKER_BUILD_VERSION"
  cargo install --locked worker-build --version "$WORKER_BUILD_VERSION" \
    || die "could not install worker-build $WORKER_BUILD_VERSION from crates.io"
fi

if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing the npm tooling (wrangler, Node 22, esbuild, wasm-opt, test libraries)"
  npm ci --no-audit --no-fund || die "npm ci failed: is the npm registry reachable?"
fi
"$NODE" --version >/dev/null 2>&1 || die "Node 22 from the npm package 'node' does not start"

if [ ! -f .dev.vars ]; then
  step "creating .dev.vars with fresh local signing keys"
  cargo run --quiet --features cli --bin edgegate -- keys dev-vars > .dev.vars.tmp \
    && mv .dev.vars.tmp .dev.vars || die "could not generate local keys"
fi
