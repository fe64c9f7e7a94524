// Runs edgegate (build/index.js + build/index_bg.wasm), the pass-through worker and two in-memory
// KV namespaces in one `workerd serve` process, from a generated Cap'n Proto config: no Miniflare
// or wrangler proxy in the request path. Every socket listens on 127.0.0.1 only.
//
//   const w = await startWorkerd({ originUrl, vars });
//   w.edge, w.pass          base URLs of edgegate and the pass-through worker
//   w.kvUsers, w.kvSessions base URLs of the KV services (the HTTP protocol of bench/kv.js)
//   w.probe                 base URL of bench/probe.js (platform primitives timed from outside)
//   await w.stop();
import { spawn } from "node:child_process";
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

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
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

export async function startWorkerd({ originUrl, vars = {}, log = false } = {}) {
  for (const file of [WORKER_JS, WORKER_WASM]) {
    if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run ./scripts/build.sh`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "edgegate-bench-"));
  const ports = { edge: await freePort(), pass: await freePort(), kvUsers: await freePort(), kvSessions: await freePort(), probe: await freePort() };
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
  const bindings = Object.entries(edgeVars)
    .map(([name, value]) => `(name = ${str(name)}, text = ${str(value)})`)
    .concat(['(name = "SESSIONS", kvNamespace = "kv-sessions")', '(name = "USERS", kvNamespace = "kv-users")'])
    .join(",\n      ");
  const date = compatibilityDate();
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "edgegate", worker = .edgegate),
    (name = "passthrough", worker = .passthrough),
    (name = "kv-users", worker = .kv),
    (name = "kv-sessions", worker = .kv),
    (name = "probe", worker = .probe),
    (name = "loopback", network = (allow = ["local", "private", "public"])),
  ],
  sockets = [
    (name = "edge", address = "127.0.0.1:${ports.edge}", http = (), service = "edgegate"),
    (name = "pass", address = "127.0.0.1:${ports.pass}", http = (), service = "passthrough"),
    (name = "kvusers", address = "127.0.0.1:${ports.kvUsers}", http = (), service = "kv-users"),
    (name = "kvsessions", address = "127.0.0.1:${ports.kvSessions}", http = (), service = "kv-sessions"),
    (name = "probe", address = "127.0.0.1:${ports.probe}", http = (), service = "probe"),
  ],
);
const edgegate :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed ${rel(WORKER_JS)}),
    (name = "index_bg.wasm", wasm = embed ${rel(WORKER_WASM)}),
  ],
  compatibilityDate = ${str(date)},
  bindings = [
      ${bindings}
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
`;
  const configPath = path.join(dir, "bench.capnp");
  writeFileSync(configPath, config);
  const child = spawn(WORKERD, ["serve", configPath], {
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
    await stop();
    throw new Error(`${err.message}\n${stderr}`);
  }
  const base = (port) => `http://127.0.0.1:${port}`;
  return {
    edge: base(ports.edge),
    pass: base(ports.pass),
    kvUsers: base(ports.kvUsers),
    kvSessions: base(ports.kvSessions),
    probe: base(ports.probe),
    pid: child.pid,
    stderr: () => stderr,
    stop,
  };
}
