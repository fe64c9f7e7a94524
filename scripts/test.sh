#!/usr/bin/env bash
# Runs every check and test, in order, stopping at the first failure:
#   setup, rustfmt, clippy (native and wasm32), native tests, wasm tests (Node),
#   release build of the worker (and of its conformance variant), end-to-end tests against it in
#   workerd (Miniflare).
# The last line of a successful run is the summed test count.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test
. scripts/lib.sh
use_node22

logs=test-artifacts
mkdir -p "$logs"
started=$SECONDS
stage_no=0

# stage NAME COMMAND...: runs one stage with a banner; on failure stops with the stage's name.
stage() {
  local name=$1 t0=$SECONDS status=0
  shift
  stage_no=$((stage_no + 1))
  printf '\n%s==> [%d] %s%s\n' "$_B" "$stage_no" "$name" "$_N" >&2
  "$@" || status=$?
  if [ "$status" -ne 0 ]; then
    die "stage '$name' failed (exit status $status); see the output above"
  fi
  note "$name: ok ($((SECONDS - t0))s)"
}

# Runs a command, keeping a copy of its output in test-artifacts/<name>.log for the summary.
logged() {
  local name=$1
  shift
  "$@" 2>&1 | tee "$logs/$name.log"
}

features=(--all-features)
if [ ! -f src/bin/edgegate/main.rs ]; then
  note "note: src/bin/edgegate/main.rs does not exist yet; checking without --all-features"
  features=()
fi

fmt_check() {
  if [ -f src/bin/edgegate/main.rs ]; then
    cargo fmt --all -- --check
  else # cargo fmt refuses to run while a declared target's file is missing
    find src tests -name '*.rs' -print0 | xargs -0 -r rustfmt --check --edition 2021
  fi
}
stage "rustfmt" fmt_check
stage "clippy (native, all targets)" cargo clippy --all-targets "${features[@]}" -- -D warnings
stage "clippy (wasm32 library)" cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
stage "rustdoc (no warnings)" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps "${features[@]}"
stage "native tests" logged native cargo test "${features[@]}"
# The runner (.cargo/config.toml) is wasm-bindgen-test-runner, which runs the tests in the `node`
# found on PATH: use_node22 put Node 22 first.
stage "wasm tests (wasm-bindgen-test-runner in Node $("$NODE" --version))" \
  logged wasm cargo test --target wasm32-unknown-unknown --lib
stage "fuzz smoke (every target for a few seconds)" bash scripts/fuzz.sh --smoke
stage "release build of the worker" bash scripts/build.sh
stage "release build with the store conformance suite (its end-to-end test's worker)" \
  bash scripts/build.sh --conformance
stage "benchmark smoke (every harness piece once, tiny counts)" bash bench/run.sh --smoke
stage "end-to-end tests (built worker in workerd via Miniflare)" \
  logged e2e "$NODE" --test --test-reporter=spec "tests/e2e/**/*.test.mjs"

# --- summary -------------------------------------------------------------------------------------
cargo_counts() { # prints "passed failed" summed over cargo's "test result:" lines
  awk '/test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
       END { printf "%d %d\n", p, f }' "$1"
}
node_counts() { # prints "passed failed" from node --test's spec summary
  awk 'NF == 3 && $2 == "pass" { p = $3 } NF == 3 && $2 == "fail" { f = $3 } END { printf "%d %d\n", p, f }' "$1"
}
read -r np nf < <(cargo_counts "$logs/native.log")
read -r wp wf < <(cargo_counts "$logs/wasm.log")
read -r ep ef < <(node_counts "$logs/e2e.log")
echo
ok "all stages passed in $((SECONDS - started))s (native $np, wasm $wp, end-to-end $ep tests)"
echo "$((np + wp + ep)) passed, $((nf + wf + ef)) failed"
