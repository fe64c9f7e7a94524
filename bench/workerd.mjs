// Runs, in one `workerd serve` process from a generated Cap'n Proto config (no Miniflare or
// wrangler proxy in the request path): edgegate (build/index.js + build/index_bg.wasm), the same
// edgegate with every per-isolate cache off, the JavaScript reference worker (bench/jose-worker.js,
// bundled with esbuild), the pass-through worker, two in-memory KV namespaces and the probe; with
// `floor: true` also the floor worker (bench/floor: one synchronous wasm call, then forward).
// All three session-checking workers share SESSION_KEYS, ASSERTION_KEYS, ISSUER and the SESSIONS
// namespace, so one login serves them all. Every socket listens on 127.0.0.1 only.
//
//   const w = await startWorkerd({ originUrl, vars, inspector: true, worker });
//   w.edge, w.edgeNoCache   base URLs of edgegate and of edgegate with its isolate caches off
//   w.jose, w.pass          base URLs of the jose reference worker and the pass-through worker
//   w.floor                 base URL of the floor worker (with `floor: true`; bench/floor/build.sh first)
//   w.kvUsers, w.kvSessions base URLs of the KV services (the HTTP protocol of bench/kv.js)
//   w.probe                 base URL of bench/probe.js (platform primitives timed from outside)
//   w.inspector             base URL of workerd's V8 inspector when `inspector: true` was given
//   w.keys, w.vars          the SESSION_KEYS and ASSERTION_KEYS secrets; edgegate's vars
//   await w.stop();
// `worker: { js, wasm }` runs another build of edgegate (bench/profile.mjs: the profiling build).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WORKERD = path.join(ROOT, "node_modules/.bin/workerd");
const WORKER_JS = path.join(ROOT, "build/index.js");
const WORKER_WASM = path.join(ROOT, "build/index_bg.wasm");
const ESBUILD = path.join(ROOT, "node_modules/.bin/esbuild");

// Ports come from below the kernel's ephemeral range: an outgoing connection (the load
// generator's, workerd's own to the origin) takes its local port from that range, and could take a
// port picked there between the pick and workerd's bind. A port is handed out once per process.
const handedOut = new Set();

function ephemeralFloor() {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Ports the Fetch standard's clients refuse to connect to (its "bad ports": Node's fetch and
 * Chromium alike); of them only 10080 lies in the range ports are picked from. */
const FETCH_BAD_PORTS = new Set([10080]);

/** A port on 127.0.0.1 that was free a moment ago, below the ephemeral range, and one fetch
 * will connect to. */
export async function freePort() {
  const low = 10000;
  const high = ephemeralFloor();
  for (let tries = 0; tries < 500; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (FETCH_BAD_PORTS.has(port) || handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port on 127.0.0.1 between ${low} and ${high}`);
}

/**
 * Runs `launch` again, with the fresh ports it picks, when workerd could not bind one: another
 * process took it between the pick and the bind. Three tries in all; other errors pass through.
 */
export async function retryOnPortClash(launch) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch();
    } catch (err) {
      if (attempt >= 3 || !String(err?.message).includes("Address already in use")) throw err;
    }
  }
}

export function compatibilityDate() {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const m = toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!m) throw new Error("compatibility_date not found in wrangler.toml");
  return m[1];
}


export function benchKeys() {
  const key = (kid) => `${kid}:${randomBytes(32).toString("base64url")}`;
  return { SESSION_KEYS: key("bench-session"), ASSERTION_KEYS: key("bench-assertion") };
}

const str = (value) => JSON.stringify(String(value)); // a Cap'n Proto text literal

export async function waitForPort(port, child, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`workerd exited early (code ${child.exitCode})`);
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`workerd did not listen on ${port} within ${seconds}s`);
}

/** Waits until everything `child` wrote to stderr has arrived, when it has exited. */
export async function stderrRead(child) {
  if (child.exitCode === null || child.stderr.readableEnded) return;
  await new Promise((resolve) => {
    child.stderr.once("close", resolve);
    setTimeout(resolve, 2000);
  });
}

/** Bundles bench/jose-worker.js and the `jose` package into one ES module in `dir`. */
export function bundleJoseWorker(dir) {
  const outfile = path.join(dir, "jose-worker.js");
  const r = spawnSync(
    ESBUILD,
    [path.join(ROOT, "bench/jose-worker.js"), "--bundle", "--format=esm", "--platform=browser", "--conditions=worker,browser", `--outfile=${outfile}`, "--log-level=warning"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`esbuild could not bundle bench/jose-worker.js:\n${r.error ?? ""}${r.stderr}`);
  return outfile;
}

const FLOOR_PKG = path.join(ROOT, "bench/floor/pkg");

/**
 * The modules of the floor worker (bench/floor/worker.js and its wasm), as a Cap'n Proto list;
 * `rel` makes a path relative to the config. Throws when bench/floor/build.sh has not run.
 */
export function floorModules(rel) {
  const files = { glue: path.join(FLOOR_PKG, "edgegate_floor.js"), wasm: path.join(FLOOR_PKG, "edgegate_floor_bg.wasm") };
  for (const file of Object.values(files)) {
    if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run bench/floor/build.sh`);
  }
  return `[
    (name = "floor-worker.js", esModule = embed ${rel(path.join(ROOT, "bench/floor/worker.js"))}),
    (name = "edgegate_floor.js", esModule = embed ${rel(files.glue)}),
    (name = "edgegate_floor_bg.wasm", wasm = embed ${rel(files.wasm)}),
  ]`;
}

// The per-isolate caches of edgegate, all off (the vars edgegate reads to size them).
export const CACHES_OFF = { REVOCATION_CACHE_TTL: "0", ISOLATE_CACHE_ENTRIES: "0" };

export function startWorkerd(options = {}) {
  return retryOnPortClash(() => startWorkerdOnce(options));
}

async function startWorkerdOnce({ originUrl, vars = {}, log = false, inspector = false, worker = {}, floor = false }) {
  const workerJs = worker.js ?? WORKER_JS;
  const workerWasm = worker.wasm ?? WORKER_WASM;
  for (const file of [workerJs, workerWasm]) {
    if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run ./scripts/build.sh`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "edgegate-bench-"));
  const joseJs = bundleJoseWorker(dir);
  const ports = {
    edge: await freePort(),
    edgeNoCache: await freePort(),
    jose: await freePort(),
    pass: await freePort(),
    kvUsers: await freePort(),
    kvSessions: await freePort(),
    probe: await freePort(),
    ...(floor ? { floor: await freePort() } : {}),
  };
  const inspectorPort = inspector ? await freePort() : undefined;
  const edgeVars = {
    ORIGIN_URL: originUrl,
    ISSUER: `http://127.0.0.1:${ports.edge}`,
    ORIGIN_AUDIENCE: "bench-origin",
    CREDENTIALS: "kv",
    PUBLIC_PATHS: "/favicon.ico",
    // Production cookie names (__Host-eg_access); DEV_MODE only because the origin is plain HTTP.
    COOKIE_SECURE: "true",
    DEV_MODE: "true",
    ...benchKeys(),
    ...vars,
  };
  const rel = (file) => str(path.relative(dir, file));
  const bindings = (textVars) =>
    Object.entries(textVars)
      .map(([name, value]) => `(name = ${str(name)}, text = ${str(value)})`)
      .concat(['(name = "SESSIONS", kvNamespace = "kv-sessions")', '(name = "USERS", kvNamespace = "kv-users")'])
      .join(",\n      ");
  const date = compatibilityDate();
  const edgegateWorker = (name, textVars) => `const ${name} :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed ${rel(workerJs)}),
    (name = "index_bg.wasm", wasm = embed ${rel(workerWasm)}),
  ],
  compatibilityDate = ${str(date)},
  bindings = [
      ${bindings(textVars)}
  ],
  globalOutbound = "loopback",
);`;
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "edgegate", worker = .edgegate),
    (name = "edgegate-nocache", worker = .edgegateNoCache),
    (name = "jose", worker = .jose),
    (name = "passthrough", worker = .passthrough),
    (name = "kv-users", worker = .kv),
    (name = "kv-sessions", worker = .kv),
    (name = "probe", worker = .probe),${floor ? '\n    (name = "floor", worker = .floor),' : ""}
    (name = "loopback", network = (allow = ["local", "private", "public"])),
  ],
  sockets = [
    (name = "edge", address = "127.0.0.1:${ports.edge}", http = (), service = "edgegate"),
    (name = "edgenocache", address = "127.0.0.1:${ports.edgeNoCache}", http = (), service = "edgegate-nocache"),
    (name = "jose", address = "127.0.0.1:${ports.jose}", http = (), service = "jose"),
    (name = "pass", address = "127.0.0.1:${ports.pass}", http = (), service = "passthrough"),
    (name = "kvusers", address = "127.0.0.1:${ports.kvUsers}", http = (), service = "kv-users"),
    (name = "kvsessions", address = "127.0.0.1:${ports.kvSessions}", http = (), service = "kv-sessions"),
    (name = "probe", address = "127.0.0.1:${ports.probe}", http = (), service = "probe"),${floor ? `\n    (name = "floor", address = "127.0.0.1:${ports.floor}", http = (), service = "floor"),` : ""}
  ],
);
${edgegateWorker("edgegate", edgeVars)}
${edgegateWorker("edgegateNoCache", { ...edgeVars, ...CACHES_OFF })}
const jose :Workerd.Worker = (
  modules = [(name = "jose-worker.js", esModule = embed ${rel(joseJs)})],
  compatibilityDate = ${str(date)},
  bindings = [
      ${bindings({ ORIGIN_URL: originUrl, ISSUER: edgeVars.ISSUER, ORIGIN_AUDIENCE: edgeVars.ORIGIN_AUDIENCE, SESSION_KEYS: edgeVars.SESSION_KEYS, ASSERTION_KEYS: edgeVars.ASSERTION_KEYS })}
  ],
  globalOutbound = "loopback",
);
const passthrough :Workerd.Worker = (
  modules = [(name = "passthrough.js", esModule = embed ${rel(path.join(ROOT, "bench/passthrough.js"))})],
  compatibilityDate = ${str(date)},
  bindings = [(name = "ORIGIN_URL", text = ${str(originUrl)})],
  globalOutbound = "loopback",
);
const probe :Workerd.Worker = (
  modules = [(name = "probe.js", esModule = embed ${rel(path.join(ROOT, "bench/probe.js"))})],
  compatibilityDate = ${str(date)},
  bindings = [(name = "KV", kvNamespace = "kv-sessions")],
);
const kv :Workerd.Worker = (
  modules = [(name = "kv.js", esModule = embed ${rel(path.join(ROOT, "bench/kv.js"))})],
  compatibilityDate = ${str(date)},
);
${floor ? `const floor :Workerd.Worker = (
  modules = ${floorModules(rel)},
  compatibilityDate = ${str(date)},
  bindings = [(name = "ORIGIN_URL", text = ${str(originUrl)})],
  globalOutbound = "loopback",
);` : ""}
`;
  const configPath = path.join(dir, "bench.capnp");
  writeFileSync(configPath, config);
  const args = ["serve", configPath];
  if (inspectorPort) args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
  const child = spawn(WORKERD, args, {
    stdio: ["ignore", log ? "inherit" : "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (log) process.stderr.write(chunk);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of Object.values(ports)) await waitForPort(port, child, 20);
  } catch (err) {
    await stderrRead(child);
    await stop();
    throw new Error(`${err.message}\n${stderr}`);
  }
  const base = (port) => `http://127.0.0.1:${port}`;
  return {
    edge: base(ports.edge),
    edgeNoCache: base(ports.edgeNoCache),
    jose: base(ports.jose),
    pass: base(ports.pass),
    kvUsers: base(ports.kvUsers),
    kvSessions: base(ports.kvSessions),
    probe: base(ports.probe),
    floor: floor ? base(ports.floor) : undefined,
    inspector: inspectorPort ? base(inspectorPort) : undefined,
    keys: { SESSION_KEYS: edgeVars.SESSION_KEYS, ASSERTION_KEYS: edgeVars.ASSERTION_KEYS },
    vars: edgeVars,
    pid: child.pid,
    stderr: () => stderr,
    stop,
  };
}
