#!/usr/bin/env bash
# edgegate benchmarks: the cost of edgegate on the request path. Prints a markdown table (the one
# in BENCHMARKS.md) on stdout; progress on stderr; raw JSON results in bench/results/.
#
#   ./bench/run.sh           full run (about 5 minutes, plus builds)
#   ./bench/run.sh --smoke   every piece once with tiny counts (seconds, plus builds); exits
#                            non-zero if any piece fails or its output does not parse
#
# Pieces: (1) end to end in `workerd serve` with wrk: edgegate (steady state and with its isolate
# caches off) vs the JavaScript reference worker (bench/jose-worker.js) vs a pass-through worker
# vs the floor worker (bench/floor: one synchronous wasm call, then forward) vs the origin, plus
# login/refresh/logout and 401 (bench/e2e.mjs); (2) cold start of a fresh workerd with one worker
# (bench/coldstart.mjs); (3) the per-request decision as wasm32 in Node's V8 (bench/wasm); (4) the
# same natively with criterion (benches/request_path.rs); (5) the size of the uploaded bundle
# (build/). The floor crate is built first (bench/floor/build.sh); if it fails, so does the run.
# --smoke also runs the CPU profiler (bench/profile.mjs) once on build/; the real profile is its
# own command (README).
# Needs: ./scripts/setup.sh done, wrk (apt-get install -y wrk). Everything listens on and talks
# to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

mode=full
case "${1:-}" in
  --smoke) mode=smoke ;;
  "") ;;
  -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
  *) die "unknown option $1 (use --smoke or nothing)" ;;
esac

[ -x "$NODE" ] || die "Node 22 is missing; run ./scripts/setup.sh"
command -v wrk >/dev/null 2>&1 || die "wrk is missing: apt-get install -y wrk"
results=bench/results
# Every earlier result goes, except the CPU profiles of bench/profile.mjs (its own command).
mkdir -p "$results" && find "$results" -mindepth 1 -maxdepth 1 ! -name 'profile-*' -exec rm -rf {} +

step "worker build (scripts/build.sh; returns at once when build/ is up to date)"
bash scripts/build.sh

step "machine"
"$NODE" -e '
const os = require("os"), { execSync } = require("child_process");
const sh = (c) => { try { return execSync(c, { encoding: "utf8" }).trim(); } catch { return "unknown"; } };
console.log(JSON.stringify({
  mode: process.argv[1], date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
  cpu: sh("lscpu | sed -n \"s/^Model name:[[:space:]]*//p\" | head -1"), nproc: os.availableParallelism(),
  memory: (os.totalmem() / 2 ** 30).toFixed(1) + " GiB", node: "Node " + process.version,
  load: os.loadavg().map((x) => x.toFixed(1)).join(" "),
  workerd: sh("node_modules/.bin/workerd --version").replace(/^workerd /, ""), rustc: sh("rustc --version").split(" (")[0],
}));' "$mode" > "$results/machine.json"

step "floor worker's wasm (bench/floor/build.sh)"
timeout 1200 bench/floor/build.sh || die "the floor worker's build (bench/floor/build.sh) failed"

if [ "$mode" = smoke ]; then e2e_args=(--smoke); cold_args=(--smoke); wasm_args=(--smoke); crit_args=(--warm-up-time 0.05 --measurement-time 0.1 --sample-size 10)
else e2e_args=(); cold_args=(); wasm_args=(); crit_args=(--warm-up-time 1 --measurement-time 4); fi

step "end to end in workerd (bench/e2e.mjs)"
timeout 900 "$NODE" bench/e2e.mjs "${e2e_args[@]}" > "$results/e2e.json"

step "cold start, one worker per fresh workerd (bench/coldstart.mjs)"
timeout 600 "$NODE" bench/coldstart.mjs "${cold_args[@]}" > "$results/coldstart.json"

if [ "$mode" = smoke ]; then
  step "CPU profile of workerd under load, once (bench/profile.mjs --smoke on build/)"
  timeout 300 "$NODE" bench/profile.mjs --smoke --worker-dir build > "$results/profile-smoke.md"
fi

step "per-request decision in wasm (bench/wasm)"
timeout 1200 bench/wasm/build.sh
timeout 300 "$NODE" bench/wasm/bench.mjs "${wasm_args[@]}" > "$results/wasm.json"

step "per-request decision natively (cargo bench --bench request_path)"
target="${CARGO_TARGET_DIR:-$PWD/target}"
rm -rf "$target/criterion/request_path"
timeout 1200 cargo bench --quiet --bench request_path -- "${crit_args[@]}" > "$results/criterion.txt" 2>&1 \
  || { cat "$results/criterion.txt" >&2; die "cargo bench failed"; }
"$NODE" -e '
const fs = require("fs"), path = require("path");
const dir = path.join(process.argv[1], "criterion/request_path"), out = {};
for (const name of fs.readdirSync(dir)) {
  const file = path.join(dir, name, "new/estimates.json");
  if (fs.existsSync(file)) out[name] = JSON.parse(fs.readFileSync(file, "utf8")).median.point_estimate / 1000;
}
console.log(JSON.stringify(out));' "$target" > "$results/native.json"

step "bundle size (build/)"
"$NODE" -e '
const fs = require("fs"), zlib = require("zlib");
const files = process.argv.slice(1).map((f) => { const b = fs.readFileSync(f);
  return { name: f, raw: b.length, gzip: zlib.gzipSync(b, { level: 9 }).length }; });
console.log(JSON.stringify({ files, raw: files.reduce((a, f) => a + f.raw, 0), gzip: files.reduce((a, f) => a + f.gzip, 0) }));' \
  "$WORKER_JS" "$WORKER_WASM" > "$results/size.json"

step "report"
"$NODE" bench/report.mjs "$results" | tee "$results/report.md"
ok "benchmarks ($mode) done; results in $results/"
