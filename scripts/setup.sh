#!/usr/bin/env bash
# Installs every tool the build, the run command and the tests need; safe to run again, and fast
# when everything is already there.
#
#   scripts/setup.sh          tools for building and running (Rust wasm toolchain, npm tooling)
#   scripts/setup.sh --test   the same plus what only the tests need (Chromium, wrk, cargo-fuzz, PyJWT,
#                             schemathesis)
#
# Nothing here downloads from GitHub: the wasm toolchain comes from crates.io, the JavaScript
# tooling (wrangler, Node 22, esbuild, wasm-opt) from npm, Chromium and wrk from Debian, PyJWT and
# schemathesis from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

with_test_extras=false
for arg in "$@"; do
  case $arg in
    --test) with_test_extras=true ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (try --help)" ;;
  esac
done

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required: $2"; }
need cargo "install Rust with rustup (https://rustup.rs)"
need rustup "install Rust with rustup (https://rustup.rs)"
need npm "install Node.js 20 or newer with npm (only used to install the pinned tooling)"

# --- Rust toolchain pieces -------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown || die "could not add the wasm32-unknown-unknown target"
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    step "adding the Rust component $component"
    rustup component add "$component" || die "could not add the Rust component $component"
  fi
done

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly. It is installed
# without --locked on purpose: its own lock file pins a crate version that is no longer available.
bindgen_version=$(wasm_bindgen_version)
[ -n "$bindgen_version" ] || die "could not read the wasm-bindgen version from Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ] \
  || ! command -v wasm-bindgen-test-runner >/dev/null 2>&1; then
  step "installing wasm-bindgen-cli $bindgen_version (matches Cargo.lock; takes a few minutes once)"
  cargo install --force wasm-bindgen-cli --version "$bindgen_version" \
    || die "could not install wasm-bindgen-cli $bindgen_version from crates.io"
fi

if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
  step "installing worker-build $WORKER_BUILD_VERSION (takes a few minutes once)"
  cargo install --force --locked worker-build --version "$WORKER_BUILD_VERSION" \
    || die "could not install worker-build $WORKER_BUILD_VERSION from crates.io"
fi

# --- JavaScript tooling --------------------------------------------------------------------------
# A stamp holding the lock file's checksum tells whether node_modules matches package-lock.json.
stamp=node_modules/.edgegate-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x "$NODE" ] || [ ! -f node_modules/wrangler/bin/wrangler.js ]; then
  step "installing the npm tooling (wrangler, Miniflare, Node 22, esbuild, wasm-opt, test libraries)"
  # `npm install --no-save` installs exactly what package-lock.json pins, like `npm ci`, but does
  # not reject the lock file for lacking other platforms' optional workerd builds, which the
  # registry mirror may not carry (npm then omits them from the lock and `npm ci` refuses it).
  npm install --no-save --no-audit --no-fund --loglevel=error \
    || die "npm install failed: is the npm registry reachable? (see the npm output above)"
  echo "$want" >"$stamp"
fi
"$NODE" --version >/dev/null 2>&1 || die "Node 22 from the npm package 'node' does not start ($NODE)"
for tool in "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  "$tool" --version >/dev/null 2>&1 || die "$tool does not run; delete node_modules and run setup again"
done

# --- Test-only extras ----------------------------------------------------------------------------
# Debian packages of the tests: Chromium for the browser tests, wrk for the benchmark smoke.
debian_missing=()
[ -x /usr/bin/chromium ] || debian_missing+=(chromium)
command -v wrk >/dev/null 2>&1 || debian_missing+=(wrk)
if $with_test_extras && [ ${#debian_missing[@]} -gt 0 ]; then
  step "installing ${debian_missing[*]} from Debian (browser tests, benchmark smoke)"
  command -v apt-get >/dev/null 2>&1 || die "${debian_missing[*]} missing and apt-get is not available; install them"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "installing ${debian_missing[*]} needs root: run 'apt-get install -y ${debian_missing[*]}' as root"
    sudo="sudo"
  fi
  $sudo apt-get update -qq || die "apt-get update failed: is the Debian mirror reachable?"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${debian_missing[@]}" >/dev/null \
    || die "apt-get install ${debian_missing[*]} failed"
  [ -x /usr/bin/chromium ] || die "chromium was installed but /usr/bin/chromium is missing"
  command -v wrk >/dev/null 2>&1 || die "wrk was installed but is not on PATH"
fi

# Fuzzing (scripts/fuzz.sh, a smoke run in the test command) needs cargo-fuzz and a nightly
# toolchain. Nightly comes with the machine (no package registry carries it); without it fuzz.sh
# stops with a clear message.
if $with_test_extras && ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz from crates.io"
  cargo install --locked cargo-fuzz || cargo install cargo-fuzz || die "could not install cargo-fuzz from crates.io"
fi

# The Python snippet of INTEGRATION.md (tests/integration/verify.py) needs PyJWT and cryptography.
if $with_test_extras && ! python3 -c "import jwt, cryptography" >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || die "python3 is required by the tests (tests/integration/verify.py): install Python 3"
  step "installing PyJWT and cryptography from PyPI (tests/integration/requirements.txt)"
  python3 -m pip install --quiet --disable-pip-version-check -r tests/integration/requirements.txt \
    || die "pip could not install tests/integration/requirements.txt: is PyPI reachable, and is pip installed (python3 -m pip)? With an externally managed Python, activate a virtualenv first (python3 -m venv .venv && . .venv/bin/activate)"
  python3 -c "import jwt, cryptography" || die "PyJWT and cryptography were installed but python3 cannot import them"
fi

# The check of www/openapi.yaml against the worker (tests/e2e/openapi.test.mjs) runs schemathesis,
# pinned in tests/api/requirements.txt, from a virtual environment of its own (tests/api/.venv),
# so its many dependencies neither meet nor move the machine's Python packages. A stamp holding
# the requirements' checksum tells whether the environment matches them.
api_venv=tests/api/.venv
api_stamp=$api_venv/.edgegate-requirements.sha256
api_want=$(sha256sum tests/api/requirements.txt | cut -d' ' -f1)
if $with_test_extras && { [ "$(cat "$api_stamp" 2>/dev/null)" != "$api_want" ] \
  || ! "$api_venv/bin/python" -c "" >/dev/null 2>&1 || [ ! -x "$api_venv/bin/schemathesis" ]; }; then
  command -v python3 >/dev/null 2>&1 || die "python3 is required by the tests (schemathesis, tests/api/requirements.txt): install Python 3.11 or newer"
  step "installing schemathesis from PyPI into $api_venv (tests/api/requirements.txt)"
  python3 -m venv --clear "$api_venv" \
    || die "python3 -m venv could not create $api_venv (on Debian and Ubuntu: apt-get install python3-venv)"
  "$api_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/api/requirements.txt \
    || die "pip could not install tests/api/requirements.txt into $api_venv: is PyPI reachable? (schemathesis needs Python 3.11 or newer; see the pip output above)"
  "$api_venv/bin/schemathesis" --version >/dev/null || die "schemathesis was installed into $api_venv but does not run"
  echo "$api_want" >"$api_stamp"
fi

# --- Local secrets -------------------------------------------------------------------------------
# .dev.vars (git-ignored) holds the local signing keys wrangler dev reads as secrets.
if [ ! -f .dev.vars ]; then
  if [ -f src/bin/edgegate/main.rs ]; then
    step "creating .dev.vars with fresh local signing keys"
    cargo run --quiet --features cli --bin edgegate -- keys dev-vars >.dev.vars.tmp \
      && mv .dev.vars.tmp .dev.vars || { rm -f .dev.vars.tmp; die "could not generate local keys with 'edgegate keys dev-vars'"; }
  else
    note "note: the key tool (src/bin/edgegate/main.rs) is not there yet; .dev.vars not created"
  fi
fi
