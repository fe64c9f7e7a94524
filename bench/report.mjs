// Turns the JSON results of bench/run.sh into the markdown tables of BENCHMARKS.md, on stdout.
// Exits non-zero when a result is missing or a figure is not a number, so a broken piece fails.
//
//   node bench/report.mjs <results-dir>
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const dir = process.argv[2];
const problems = [];
const load = (name) => {
  const file = path.join(dir, name);
  if (!existsSync(file)) {
    problems.push(`${name} is missing`);
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    problems.push(`${name} does not parse: ${err.message}`);
    return undefined;
  }
};
const num = (value, what, digits = 1) => {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    problems.push(`${what} is not a number (${value})`);
    return "n/a";
  }
  return value.toFixed(digits);
};
const int = (value, what) => (num(value, what, 0) === "n/a" ? "n/a" : Math.round(value).toLocaleString("en-US"));
const verdict = (ok) => (ok ? "met" : "**missed**");

const e2e = load("e2e.json");
const wasm = load("wasm.json");
const native = load("native.json");
const size = load("size.json");
const meta = load("machine.json");
const cold = load("coldstart.json");
const out = [];

if (meta) {
  out.push(`Machine: ${meta.cpu}, ${meta.nproc} CPUs, ${meta.memory} memory; ${meta.node}; workerd ${meta.workerd}; ${meta.rustc}. ${meta.mode} run, ${meta.date}; load average at the start ${meta.load ?? "not recorded"}.`, "");
}

if (e2e) {
  const g = e2e.get;
  const s = e2e.settings;
  out.push(
    `### End to end in workerd (wrk, 1 thread, ${s.connections} connections, ${s.rounds} rounds × ${s.seconds} s interleaved; medians)`,
    "",
    "| request | req/s | p50 ms | p99 ms | per-round req/s |",
    "| --- | ---: | ---: | ---: | --- |",
  );
  const rows = [
    ["edgegate", "edgegate: authenticated GET → origin, steady state (token, KV revocation read, assertion)"],
    ["edgegate-bound", "edgegate: the same with a device-bound session's live bound cookie"],
    ["edgegate-nocache", "edgegate, every isolate cache off (REVOCATION_CACHE_TTL=0, ISOLATE_CACHE_ENTRIES=0)"],
    ["jose", "JavaScript reference worker (bench/jose-worker.js, `jose`): the same work"],
    ["floor", "floor worker (bench/floor): one synchronous wasm call (cookie, SHA-256, map hit), five headers, forward"],
    ["edgegate-public", "edgegate: public path → origin (no session work)"],
    ["passthrough", "pass-through worker → origin"],
    ["origin", "origin directly (Node http)"],
    ["unauthenticated", "edgegate: GET without cookie → 401"],
  ];
  for (const [key, label] of rows) {
    const r = g[key];
    if (!r) {
      problems.push(`e2e result ${key} missing`);
      continue;
    }
    out.push(`| ${label} | ${int(r.rps, `${key} rps`)} | ${num(r.p50, `${key} p50`, 2)} | ${num(r.p99, `${key} p99`, 2)} | ${r.runs.join(", ")} |`);
  }
  const q = e2e.ratios;
  const rounds = (key) => {
    const values = e2e.ratioRounds?.[key];
    if (!Array.isArray(values) || values.length !== s.rounds) problems.push(`per-round ratios ${key} missing`);
    return (values ?? []).map((x) => num(x, `${key} round ratio`, 2)).join(", ");
  };
  out.push("", "Ratios of req/s: the median of the per-round ratios (within a round every target runs once, one after another, so each ratio compares runs about a minute apart at most):", "");
  out.push("| ratio | median | per round | target |", "| --- | ---: | --- | --- |");
  const ratioRows = [
    ["edgegateOverJose", "edgegate steady state / jose worker", 2.0],
    ["edgegateOverPassthrough", "edgegate steady state / pass-through", 0.75],
    ["noCacheOverJose", "edgegate, caches off / jose worker", 1.2],
    ["publicOverPassthrough", "edgegate public path / pass-through", 0.9],
    ["joseOverPassthrough", "jose worker / pass-through"],
    ["edgegateOverNoCache", "edgegate steady state / edgegate, caches off"],
    ["edgegateOverPublic", "edgegate steady state / edgegate public path"],
    ["passthroughOverOrigin", "pass-through / origin"],
    ["floorOverPassthrough", "floor worker / pass-through"],
    ["edgegateOverFloor", "edgegate steady state / floor worker"],
    ["boundOverEdgegate", "edgegate with a device-bound session's cookie / edgegate steady state"],
  ];
  for (const [key, label, target] of ratioRows) {
    const value = q[key];
    const goal = target === undefined ? "" : `≥ ${target.toFixed(2)}: ${verdict(value >= target)}`;
    out.push(`| ${label} | **${num(value, key, 2)}** | ${rounds(key)} | ${goal} |`);
  }
  out.push(
    "",
    `### Session flows (Node closed-loop client, ${s.flowConcurrency} concurrent, ${s.flowSeconds} s each)`,
    "",
    "| flow | per s | p50 ms | p99 ms | requests |",
    "| --- | ---: | ---: | ---: | ---: |",
  );
  const flows = [
    ["login", "login (JSON, PBKDF2-SHA256 100k in WebCrypto, session write)"],
    ["refresh", "refresh (rotation: KV read + write, new access token)"],
    ["logout", "logout (KV read, revocation marker, two deletes)"],
  ];
  for (const [key, label] of flows) {
    const r = e2e.flows[key];
    out.push(`| ${label} | ${num(r.rps, `${key} rate`)} | ${num(r.p50, `${key} p50`, 2)} | ${num(r.p99, `${key} p99`, 2)} | ${r.requests} |`);
  }
  if (e2e.dpop) {
    const d = e2e.dpop;
    out.push(
      "",
      `### DPoP-bound against bearer tokens (Node closed-loop client, ${s.connections} concurrent, ${s.flowSeconds} s each, alternating; medians)`,
      "",
      "| GET /api/data with | per s | p50 ms | p99 ms |",
      "| --- | ---: | ---: | ---: |",
      `| \`Authorization: Bearer\` (the synchronous fast path) | ${num(d.bearer.rps, "bearer rate")} | ${num(d.bearer.p50, "bearer p50", 2)} | ${num(d.bearer.p99, "bearer p99", 2)} |`,
      `| \`Authorization: DPoP\` and a fresh ES256 proof (WebCrypto verify, the async path) | ${num(d.dpop.rps, "dpop rate")} | ${num(d.dpop.p50, "dpop p50", 2)} | ${num(d.dpop.p99, "dpop p99", 2)} |`,
      "",
      `DPoP / bearer throughput: **${num(d.dpopOverBearer, "dpop ratio", 2)}** (median of the rounds' ratios).`,
    );
  }
  out.push(
    "",
    `Inside workerd, timed from outside ((t(n) − t(0)) / n, median of 5): native WebCrypto Ed25519 sign of 330 bytes ${num(e2e.probe.webcryptoEd25519Us, "webcrypto")} µs; ` +
      `one KV read that misses (the revocation check; bench/kv.js in-process) ${num(e2e.probe.kvMissUs, "kv miss")} µs.`,
    "",
  );
}

if (wasm || native) {
  out.push("### Per-request decision (µs per call; wasm: median of batches in Node's V8; native: criterion median)", "");
  out.push("| phase | wasm32 in V8 | native | wasm / native |", "| --- | ---: | ---: | ---: |");
  const phases = [
    ["request_read", "the request read once (Cookie parsed, our cookies picked, the rest kept)"],
    ["token_verify", "token verify (HS256 + claims)"],
    ["forward_headers", "identity headers"],
    ["decision_cached", "**the worker's decision on a warm isolate** (token, revocation, assertion cached)"],
    ["decision_uncached", "**the worker's decision, every cache off** (the signature left to WebCrypto)"],
    ["decision_signed_here", "the uncached decision with Ed25519 signed in wasm"],
    ["ed25519_sign", "raw Ed25519 sign, 330 bytes (curve25519 speed)"],
  ];
  for (const [key, label] of phases) {
    const w = wasm?.phases?.[key]?.us;
    const n = native?.[key];
    const ratio = typeof w === "number" && typeof n === "number" ? (w / n).toFixed(1) : "n/a";
    out.push(`| ${label} | ${wasm ? num(w, `wasm ${key}`, 2) : "n/a"} | ${native ? num(n, `native ${key}`, 2) : "n/a"} | ${ratio} |`);
  }
  if (wasm) {
    const hit = wasm.phases.decision_cached.us;
    const cold = wasm.phases.decision_uncached.us;
    out.push(
      "",
      `Targets in wasm: on a cache hit < 5 µs: ${verdict(hit < 5)} (${num(hit, "decision_cached")} µs); without caches < 20 µs: ${verdict(cold < 20)} (${num(cold, "decision_uncached")} µs; the worker adds one WebCrypto Ed25519 signature, timed inside workerd above).`,
      "",
    );
    out.push("### Provider ID-token signatures, once per sign-in (µs per check, median of batches)", "");
    out.push("| check | wasm32 in V8 | WebCrypto | wasm / WebCrypto |", "| --- | ---: | ---: | ---: |");
    for (const alg of ["rs256", "es256"]) {
      const w = wasm.phases[`${alg}_verify_wasm`]?.us;
      const c = wasm.phases[`${alg}_verify_webcrypto`]?.us;
      out.push(`| ${alg.toUpperCase()} | ${num(w, `${alg} wasm`, 1)} | ${num(c, `${alg} webcrypto`, 1)} | ${(w / c).toFixed(1)} |`);
    }
    out.push("");
  }
}

if (cold) {
  out.push(
    `### Cold start (a fresh \`workerd serve\` with one worker: spawn to the first answer; median of ${cold.rounds} interleaved rounds)`,
    "",
    "| worker | first answer | median ms | / jose worker | per round ms |",
    "| --- | --- | ---: | ---: | --- |",
  );
  for (const [key, r] of Object.entries(cold.workers)) {
    out.push(`| ${r.label} | ${r.answer} | ${num(r.median, `cold ${key}`, 1)} | ${num(r.overJose, `cold ${key} / jose`, 2)} | ${r.runs.map((x) => x.toFixed(1)).join(", ")} |`);
  }
  out.push("");
}

if (size) {
  out.push("### Uploaded bundle (build/)", "", "| file | bytes | gzip -9 bytes |", "| --- | ---: | ---: |");
  for (const f of size.files) out.push(`| ${f.name} | ${int(f.raw, f.name)} | ${int(f.gzip, f.name)} |`);
  out.push(`| **total** | ${int(size.raw, "size")} | **${int(size.gzip, "size")}** (${num(size.gzip / 1024, "KiB")} KiB) |`, "");
  out.push(`Target ≤ 300,000 bytes gzipped: ${verdict(size.gzip <= 300_000)}.`, "");
}

console.log(out.join("\n"));
if (problems.length) {
  console.error(`bench/report.mjs: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
