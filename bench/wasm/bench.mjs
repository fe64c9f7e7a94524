// Times edgegate's per-request decision compiled to wasm32 (bench/wasm, built by build.sh) in
// Node's V8, the engine workerd embeds. Each phase is warmed up, then timed in batches sized to
// about `--batch-ms` each; the figure is the median of the batches, in microseconds per call.
// Prints one JSON object on stdout.
//
//   node bench/wasm/bench.mjs [--batches N] [--batch-ms N] [--smoke]
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const wasm = require("./pkg/edgegate_wasm_bench.js");

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const smoke = args.includes("--smoke");
const BATCHES = flag("--batches", smoke ? 1 : 9);
const BATCH_MS = flag("--batch-ms", smoke ? 5 : 150);

const PHASES = [
  ["request_read", "the request read once: Cookie parsed, our cookies picked, the rest kept"],
  ["token_verify", "HS256 verify + claim checks"],
  ["decision_cached", "the worker's decision on a warm isolate (token, revocation, assertion cached)"],
  ["decision_uncached", "the worker's decision, every cache off (all of it but the WebCrypto signature)"],
  ["decision_signed_here", "the uncached decision with Ed25519 signed in wasm"],
  ["forward_headers", "identity_headers"],
  ["ed25519_sign", "raw Ed25519 sign, 330-byte message"],
];

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function time(fn, n) {
  const t0 = performance.now();
  const sum = fn(n);
  return { ms: performance.now() - t0, sum };
}

wasm.setup(); // builds the fixture and asserts every phase takes its success path
const results = {};
for (const [name, what] of PHASES) {
  const fn = wasm[name];
  if (typeof fn !== "function") throw new Error(`missing export ${name}`);
  // Warm-up (lets V8 tier the wasm up), and size a batch to about BATCH_MS.
  let n = 1;
  let t = time(fn, n);
  while (t.ms < BATCH_MS / 4 && n < 1 << 24) {
    n *= 2;
    t = time(fn, n);
  }
  n = Math.max(1, Math.round((n * BATCH_MS) / Math.max(t.ms, 0.001)));
  const perCall = [];
  for (let b = 0; b < BATCHES; b++) {
    const r = time(fn, n);
    if (r.sum === 0) throw new Error(`${name}: checksum 0, the phase did nothing`);
    perCall.push((r.ms * 1000) / n);
  }
  results[name] = { us: median(perCall), min: Math.min(...perCall), iterations: n, batches: BATCHES, what };
}

// Provider ID-token signatures: the wasm check against the platform's WebCrypto on the same key,
// message and signature (Node's WebCrypto is OpenSSL, workerd's BoringSSL: both native code).
const { subtle } = globalThis.crypto;
const { generateKeyPairSync, createSign } = await import("node:crypto");
const message = Buffer.from(`${Buffer.from('{"alg":"RS256","kid":"k"}').toString("base64url")}.${Buffer.from("x".repeat(600)).toString("base64url")}`);
const providerCases = [
  ["RS256", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, generateKeyPairSync("rsa", { modulusLength: 2048 }), {}],
  ["ES256", { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" }, generateKeyPairSync("ec", { namedCurve: "P-256" }), { dsaEncoding: "ieee-p1363" }],
];
async function timeAsync(fn, n) {
  const t0 = performance.now();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (await fn()) ? 1 : 0;
  return { ms: performance.now() - t0, sum };
}
for (const [alg, params, pair, signOptions] of providerCases) {
  const jwk = pair.publicKey.export({ format: "jwk" });
  const signature = createSign("sha256").update(message).sign({ key: pair.privateKey, ...signOptions });
  const runs = { wasm: [], webcrypto: [] };
  const key = await subtle.importKey("jwk", jwk, params, false, ["verify"]);
  const n = smoke ? 2 : 200;
  for (let b = 0; b < BATCHES; b++) {
    const t0 = performance.now();
    const ok = wasm.provider_verify(alg, JSON.stringify(jwk), message, signature, n);
    runs.wasm.push(((performance.now() - t0) * 1000) / n);
    if (ok !== n) throw new Error(`${alg}: the wasm check refused a valid signature`);
    const r = await timeAsync(() => subtle.verify(params, key, signature, message), n);
    if (r.sum !== n) throw new Error(`${alg}: WebCrypto refused a valid signature`);
    runs.webcrypto.push((r.ms * 1000) / n);
  }
  for (const [where, perCall] of Object.entries(runs)) {
    results[`${alg.toLowerCase()}_verify_${where}`] = {
      us: median(perCall),
      min: Math.min(...perCall),
      iterations: n,
      batches: BATCHES,
      what: `${alg} ID-token signature check, ${where === "wasm" ? "edgegate's (wasm)" : "the platform's WebCrypto"}`,
    };
  }
}
console.log(JSON.stringify({ node: process.version, v8: process.versions.v8, phases: results }));
