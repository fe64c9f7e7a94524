#!/usr/bin/env bash
# Fuzzes the parsers and verifiers that read attacker-controlled input, with cargo-fuzz (libFuzzer,
# nightly Rust), one target after the other.
#
#   scripts/fuzz.sh [seconds-per-target]   default 300
#   scripts/fuzz.sh --smoke                about 10 s per target, for the test run
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/), copied into its corpus
# (fuzz/corpus/<target>/, git-ignored, kept between runs so coverage accumulates). Crashing inputs
# land in fuzz/artifacts/<target>/ and the log in fuzz/artifacts/<target>.log. Prints executions
# and findings per target and fails if any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

seconds=300
case "${1:-}" in
  --smoke) seconds=10 ;;
  '') ;;
  *[!0-9]* | 0) die "usage: scripts/fuzz.sh [seconds-per-target | --smoke]" ;;
  *) seconds=$1 ;;
esac

rustup run nightly rustc --version >/dev/null 2>&1 \
  || die "the nightly toolchain is missing: rustup toolchain install nightly"
cargo fuzz --version >/dev/null 2>&1 \
  || die "cargo-fuzz is missing: cargo install cargo-fuzz --locked"

targets=(cookie_header access_token signed_claims login_body refresh_token passkey_response)
# Longer than every size limit of the code under test, so the limits themselves get exercised.
max_len=10000

step "building the fuzz targets (nightly, release with debug assertions)"
cargo +nightly fuzz build || die "the fuzz targets do not build"

failed=()
summary=()
for target in "${targets[@]}"; do
  corpus=fuzz/corpus/$target
  artifacts=fuzz/artifacts/$target
  log=fuzz/artifacts/$target.log
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/seeds/"$target"/* "$corpus"/
  before=$(find "$artifacts" -type f | wc -l)
  step "fuzzing $target for ${seconds}s"
  status=0
  cargo +nightly fuzz run "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  execs=$(awk '/^stat::number_of_executed_units/ { print $NF }' "$log" | tail -1)
  findings=$(($(find "$artifacts" -type f | wc -l) - before))
  line="$target: ${execs:-?} executions, $findings new findings, corpus $(find "$corpus" -type f | wc -l) inputs"
  if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
    failed+=("$target")
    tail -n 40 "$log" >&2
    line="$line; FAILED (exit $status, see $log)"
  fi
  note "$line"
  summary+=("$line")
done

echo
printf '%s\n' "${summary[@]}"
[ "${#failed[@]}" -eq 0 ] || die "fuzzing found problems in: ${failed[*]}"
ok "no findings in ${#targets[@]} targets at ${seconds}s each"
