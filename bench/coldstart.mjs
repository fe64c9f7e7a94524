// Cold start: a fresh `workerd serve` running ONE worker, timed from spawn to the first answer
// of that worker to an authenticated GET (with a valid access token minted here, so every
// session-checking worker does its full work: the 200 comes from the origin). Median of N rounds,
// the workers interleaved (each round runs every worker once, in a rotated order). Workers: the
// pass-through (bench/passthrough.js), the jose reference (bench/jose-worker.js), the floor worker
// (bench/floor) and edgegate (build/); a full run starts with one unrecorded round. Prints one JSON object on stdout; progress on stderr.
//
//   node bench/coldstart.mjs [--rounds N] [--smoke]      (--smoke: 1 round)
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { check, runMain, startOrigin } from "./harness.mjs";
import { ROOT, benchKeys, bundleJoseWorker, compatibilityDate, floorModules, freePort, retryOnPortClash, stderrRead } from "./workerd.mjs";

const args = process.argv.slice(2);
const smoke = args.includes("--smoke");
const roundsAt = args.indexOf("--rounds");
const ROUNDS = roundsAt === -1 ? (smoke ? 1 : 7) : Number(args[roundsAt + 1]);
const WORKERD = path.join(ROOT, "node_modules/.bin/workerd");
const log = (...m) => console.error("   ", ...m);
const str = (value) => JSON.stringify(String(value));

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** An HS256 access token as edgegate issues it, signed with the first key of `ring`. */
function accessToken(ring, issuer) {
  const [kid, key] = ring.split(":");
  const b64 = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const header = b64({ alg: "HS256", kid, typ: "at+jwt" });
  const payload = b64({
    iss: issuer, aud: issuer, sub: "cold-user", sid: randomBytes(16).toString("base64url"), jti: randomBytes(16).toString("base64url"),
    roles: ["member"], knd: "access", iat: now, nbf: now, exp: now + 3600,
  });
  const sig = createHmac("sha256", Buffer.from(key, "base64url")).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

async function main() {
  for (const file of ["build/index.js", "build/index_bg.wasm"]) {
    if (!existsSync(path.join(ROOT, file))) throw new Error(`${file} is missing: run ./scripts/build.sh`);
  }
  const origin = await startOrigin();
  const dir = mkdtempSync(path.join(tmpdir(), "edgegate-cold-"));
  try {
    const rel = (file) => str(path.relative(dir, file));
    const date = compatibilityDate();
    const keys = benchKeys();
    const issuer = "https://edge.bench.example";
    const vars = {
      ORIGIN_URL: origin.url, ISSUER: issuer, ORIGIN_AUDIENCE: "bench-origin", CREDENTIALS: "kv",
      PUBLIC_PATHS: "/favicon.ico", COOKIE_SECURE: "true", DEV_MODE: "true", ...keys,
    };
    const text = (obj) => Object.entries(obj).map(([n, v]) => `(name = ${str(n)}, text = ${str(v)})`);
    const kvBindings = ['(name = "SESSIONS", kvNamespace = "kv-sessions")', '(name = "USERS", kvNamespace = "kv-users")'];
    const joseJs = bundleJoseWorker(dir);
    // Each worker: its modules and bindings, and whether it needs the in-memory KV services.
    const workers = {
      passthrough: { label: "pass-through (bench/passthrough.js)", modules: `[(name = "passthrough.js", esModule = embed ${rel(path.join(ROOT, "bench/passthrough.js"))})]`, bindings: text({ ORIGIN_URL: origin.url }) },
      jose: {
        label: "jose worker (bench/jose-worker.js, bundled)", kv: true, modules: `[(name = "jose-worker.js", esModule = embed ${rel(joseJs)})]`,
        bindings: text({ ORIGIN_URL: origin.url, ISSUER: issuer, ORIGIN_AUDIENCE: vars.ORIGIN_AUDIENCE, ...keys }).concat(kvBindings),
      },
      floor: { label: "floor worker (bench/floor)", modules: floorModules(rel), bindings: text({ ORIGIN_URL: origin.url }) },
      edgegate: {
        label: "edgegate (build/)", kv: true,
        modules: `[(name = "index.js", esModule = embed ${rel(path.join(ROOT, "build/index.js"))}), (name = "index_bg.wasm", wasm = embed ${rel(path.join(ROOT, "build/index_bg.wasm"))})]`,
        bindings: text(vars).concat(kvBindings),
      },
    };
    const kvWorker = `const kv :Workerd.Worker = (modules = [(name = "kv.js", esModule = embed ${rel(path.join(ROOT, "bench/kv.js"))})], compatibilityDate = ${str(date)});`;
    const token = accessToken(keys.SESSION_KEYS, issuer);
    const cookie = `__Host-eg_access=${token}; theme=dark`;

    /** One cold start of `name`: ms from spawn to its first answer (which must be 200). */
    const coldStart = (name) => retryOnPortClash(() => coldStartOnce(name));

    async function coldStartOnce(name) {
      const w = workers[name];
      const port = await freePort();
      const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .main),
    (name = "loopback", network = (allow = ["local", "private", "public"])),${w.kv ? '\n    (name = "kv-users", worker = .kv),\n    (name = "kv-sessions", worker = .kv),' : ""}
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const main :Workerd.Worker = (
  modules = ${w.modules},
  compatibilityDate = ${str(date)},
  bindings = [${w.bindings.join(", ")}],
  globalOutbound = "loopback",
);
${w.kv ? kvWorker : ""}
`;
      const configPath = path.join(dir, `${name}.capnp`);
      writeFileSync(configPath, config);
      const t0 = process.hrtime.bigint();
      const child = spawn(WORKERD, ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      try {
        const deadline = Date.now() + 30_000;
        for (;;) {
          if (child.exitCode !== null) {
            await stderrRead(child);
            throw new Error(`${name}: workerd exited (${child.exitCode})\n${stderr}`);
          }
          if (Date.now() > deadline) throw new Error(`${name}: no answer within 30 s\n${stderr}`);
          let res;
          try {
            res = await fetch(`http://127.0.0.1:${port}/api/data`, { headers: { cookie } });
          } catch {
            await new Promise((r) => setTimeout(r, 2));
            continue;
          }
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const body = await res.text();
          check(res.status === 200, `${name}: first answer ${res.status} ${body.slice(0, 200)}\n${stderr}`);
          return ms;
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          await new Promise((resolve) => child.once("exit", resolve));
        }
      }
    }

    const names = Object.keys(workers);
    const runs = Object.fromEntries(names.map((n) => [n, []]));
    // Full runs: one unrecorded round first (workerd's binary and the files in the page cache).
    if (!smoke) for (const name of names) await coldStart(name);
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names.map((_, i) => names[(i + round) % names.length])) {
        const ms = await coldStart(name);
        runs[name].push(ms);
        log(`round ${round + 1} ${name}: ${ms.toFixed(1)} ms`);
      }
    }
    const stats = await origin.stats();
    check(stats.withIdentity >= 3 * ROUNDS, `origin saw identity on ${stats.withIdentity} requests (want ≥ ${3 * ROUNDS})`);
    const joseMedian = median(runs.jose);
    const result = {
      rounds: ROUNDS,
      loadAverage: loadavg(),
      workers: Object.fromEntries(names.map((n) => [n, {
        label: workers[n].label,
        answer: n === "passthrough" ? "200 from the origin" : n === "floor" ? "200, five headers forwarded" : "200, token verified, identity forwarded",
        median: median(runs[n]), overJose: median(runs[n]) / joseMedian, runs: runs[n],
      }])),
    };
    console.log(JSON.stringify(result));
  } finally {
    origin.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain("cold-start benchmark", main, 10);
