// Helpers for the end-to-end tests: the built worker (build/index.js + build/index_bg.wasm from
// scripts/build.sh) running in real workerd through Miniflare 4, with fresh KV per instance, in
// front of a real recording origin server. Used with Node's test runner (node --test, Node 22).
//
//   const origin = await startOrigin();
//   const edge = await startWorker({ vars: { ORIGIN_URL: origin.url } });
//   const res = await edge.fetch("/hello");        // a real HTTP request to workerd
//   const seen = await origin.requests();          // what reached the origin
//   const sessions = await edge.kv("SESSIONS");    // read/write KV directly
//   await edge.dispose(); await origin.close();
import { spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const WORKER_JS = path.join(ROOT, "build/index.js");
export const WORKER_WASM = path.join(ROOT, "build/index_bg.wasm");
export const ASSETS_DIR = path.join(ROOT, "www");
export const KV_BINDINGS = ["SESSIONS", "USERS"];

/** The top-level `[vars]` of wrangler.toml (string values only), so tests start from the same defaults. */
export function wranglerVars() {
  const vars = {};
  let inVars = false;
  for (const line of readFileSync(path.join(ROOT, "wrangler.toml"), "utf8").split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("[")) {
      inVars = trimmed === "[vars]";
      continue;
    }
    const m = inVars && trimmed.match(/^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/);
    if (m) vars[m[1]] = JSON.parse(`"${m[2]}"`);
  }
  return vars;
}

/** Fresh signing keys in the format of the SESSION_KEYS and ASSERTION_KEYS secrets. */
export function testKeys() {
  const key = (kid) => `${kid}:${randomBytes(32).toString("base64url")}`;
  return { SESSION_KEYS: key("test-session"), ASSERTION_KEYS: key("test-assertion") };
}

/** A `kv` credential backend user record, hashed as the worker expects (PBKDF2-HMAC-SHA256). */
export function userRecord(password, { roles = ["member"], disabled = false, iterations = 100000 } = {}) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const b64 = (bytes) => bytes.toString("base64").replace(/=+$/, "");
  return JSON.stringify({ password: `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(hash)}`, roles, disabled });
}

// A KV binding that fails every call, standing in for a Workers KV outage.
const FAULTY_KV_SCRIPT = `
const down = async () => { throw new Error("injected KV failure"); };
export default function () { return { get: down, put: down, delete: down, list: down, getWithMetadata: down }; }
`;

// A KV binding that waits `ms` milliseconds before every call and then delegates to a real
// namespace (INNER_<binding>, the same storage the worker would otherwise see), standing in for a
// slow Workers KV. Its faults can also be switched while the worker runs (kvFault() below): the
// switch is a key in a namespace of its own, read on every call.
const SLOW_KV_SCRIPT = `
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export default function (env) {
  const inner = env["INNER_" + env.target];
  const ms = Number(env.ms) || 0;
  const wrap = (name) => async (...args) => {
    if (ms > 0) await sleep(ms);
    const fault = await env.FAULTS.get(env.target);
    if (fault === "down" || (fault === "writes" && (name === "put" || name === "delete"))) {
      throw new Error("injected KV failure (" + fault + ")");
    }
    return inner[name](...args);
  };
  return {
    get: wrap("get"),
    getWithMetadata: wrap("getWithMetadata"),
    put: wrap("put"),
    delete: wrap("delete"),
    list: wrap("list"),
  };
}
`;

/** `compatibility_date` from wrangler.toml. */
export function compatibilityDate() {
  const m = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8").match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!m) throw new Error("compatibility_date not found in wrangler.toml");
  return m[1];
}

/**
 * Starts tests/e2e/origin-server.mjs on a free port; `{ normalise: true }` makes it read paths
 * the forgiving way (see the server's header).
 * Returns { url, port, requests(), clear(), close() }.
 */
export async function startOrigin({ normalise = false } = {}) {
  const args = [path.join(ROOT, "tests/e2e/origin-server.mjs"), "0", ...(normalise ? ["normalise"] : [])];
  const child = spawn(process.execPath, args, {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => line),
    once(child, "exit").then(([code]) => {
      throw new Error(`recording origin exited early (code ${code})`);
    }),
  ]);
  const { port } = JSON.parse(first);
  const url = `http://127.0.0.1:${port}`;
  const control = `${url}/__origin/requests`;
  return {
    url,
    port,
    /** Every request the origin received so far, oldest first. */
    async requests() {
      return (await fetch(control)).json();
    },
    async clear() {
      await fetch(control, { method: "DELETE" });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

/**
 * Starts the built worker in workerd (Miniflare 4) on a free 127.0.0.1 port.
 *
 * options.vars      plain-text vars, merged over wrangler.toml's [vars]
 * options.secrets   secrets (SESSION_KEYS, ...); in workerd they are text bindings like vars
 * options.persist   true: KV and Durable Objects in a fresh temp directory (removed by dispose);
 *                   a directory path: kept there, so a later worker (e.g. with rotated keys) sees
 *                   the same state; default: in memory
 * options.assets    false to run without the ASSETS binding (default: www/ as ASSETS)
 * options.scriptPath  another build of the worker (default build/index.js; its .wasm beside it)
 * options.log       true to show workerd's console output (default: only warnings/errors)
 * options.faultyKv  binding names (e.g. ["SESSIONS"]) whose every KV call throws
 * options.slowKv    { ms = 0, bindings = KV_BINDINGS }: those bindings wait `ms` before every call
 *                   and obey kvFault(); kv(name) still reads and writes the same storage directly
 * options.captureLogs  true: collect the worker's console lines instead of printing them; read
 *                   them with logs()
 * options.port      the port to listen on (default: any free one), for a configuration that must
 *                   name the worker's own address (e.g. WEBAUTHN_ORIGINS)
 * Secrets default to fresh test keys (testKeys()).
 *
 * Returns { url, port, mf, fetch(path, init), kv(name), kvFault(name, fault), logs(), dispose() }.
 */
export async function startWorker(options = {}) {
  const scriptPath = options.scriptPath ?? WORKER_JS;
  if (!existsSync(scriptPath) || !existsSync(scriptPath.replace(/\.js$/, "_bg.wasm"))) {
    throw new Error(`${path.relative(ROOT, scriptPath)} is missing: run ./scripts/build.sh first`);
  }
  const ownDir = options.persist === true;
  const persistDir = ownDir ? mkdtempSync(path.join(tmpdir(), "edgegate-kv-")) : options.persist || undefined;
  const useAssets = options.assets !== false && existsSync(ASSETS_DIR);
  const faulty = options.faultyKv ?? [];
  const slow = options.slowKv ? (options.slowKv.bindings ?? KV_BINDINGS).filter((name) => !faulty.includes(name)) : [];
  const wrapped = [...faulty, ...slow];
  const worker = {
    name: "edgegate",
    // build/index.js is an ES module that does `import ... from "./index_bg.wasm"`.
    modules: true,
    scriptPath,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: compatibilityDate(),
    bindings: { ...wranglerVars(), ...testKeys(), ...options.vars, ...options.secrets },
    kvNamespaces: KV_BINDINGS.filter((name) => !wrapped.includes(name)),
    durableObjects: { AUTHORITY: "SessionAuthority" },
    wrappedBindings: Object.fromEntries([
      ...faulty.map((name) => [name, { scriptName: "faulty-kv" }]),
      ...slow.map((name) => [
        name,
        { scriptName: "slow-kv", bindings: { target: name, ms: options.slowKv.ms ?? 0 } },
      ]),
    ]),
    ...(useAssets && {
      assets: {
        directory: ASSETS_DIR,
        binding: "ASSETS",
        // wrangler.toml: run_worker_first = true
        routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true },
      },
    }),
  };
  // The slow wrapper's inner namespaces have the ids the worker's plain bindings would have
  // (the binding names), so both reach the same storage.
  const slowKv = {
    name: "slow-kv",
    modules: true,
    script: SLOW_KV_SCRIPT,
    kvNamespaces: {
      ...Object.fromEntries(KV_BINDINGS.map((name) => [`INNER_${name}`, name])),
      FAULTS: "edgegate-test-kv-faults",
    },
  };
  const lines = [];
  const capture = options.captureLogs
    ? {
        handleStructuredLogs: ({ message }) => {
          lines.push(message);
        },
      }
    : {};
  const mf = new Miniflare({
    workers: [worker, { name: "faulty-kv", modules: true, script: FAULTY_KV_SCRIPT }, slowKv],
    kvPersist: persistDir ? path.join(persistDir, "kv") : false,
    durableObjectsPersist: persistDir ? path.join(persistDir, "do") : false,
    host: "127.0.0.1",
    port: options.port ?? 0,
    // A placeholder `request.cf` instead of downloading one from Cloudflare.
    cf: false,
    log: new Log(options.log ? LogLevel.INFO : LogLevel.WARN),
    ...capture,
  });
  let url;
  try {
    url = new URL(await mf.ready);
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
  const base = url.origin;
  return {
    url: base,
    port: Number(url.port),
    mf,
    /** A real HTTP request to the worker; `target` is a path ("/x?y") or an absolute URL. */
    async fetch(target, init = {}) {
      const send = () => fetch(new URL(target, base), { redirect: "manual", ...init });
      try {
        return await send();
      } catch (err) {
        // A pooled keep-alive connection that the server closed (or reset) just as it was
        // reused: no response byte came back, and browsers retry such a request once, as this does.
        const closed = ["UND_ERR_SOCKET", "ECONNRESET"].includes(err?.cause?.code);
        if (!closed || typeof init.body === "object") throw err;
        return send();
      }
    },
    /** The KV namespace binding `name` (SESSIONS or USERS) for direct reads and writes. */
    kv(name) {
      return slow.includes(name) ? mf.getKVNamespace(`INNER_${name}`, "slow-kv") : mf.getKVNamespace(name);
    },
    /**
     * Switches the fault of a binding wrapped by options.slowKv: "down" (every call throws),
     * "writes" (put and delete throw, reads work) or null (healthy).
     */
    async kvFault(name, fault) {
      if (!slow.includes(name)) throw new Error(`${name} is not wrapped: start the worker with slowKv`);
      const faults = await mf.getKVNamespace("FAULTS", "slow-kv");
      if (fault) await faults.put(name, fault);
      else await faults.delete(name);
    },
    /** The worker's console lines so far (with options.captureLogs), oldest first. */
    logs() {
      return [...lines];
    },
    async dispose() {
      await mf.dispose();
      if (ownDir) rmSync(persistDir, { recursive: true, force: true });
    },
  };
}

/** Starts a recording origin and a worker pointed at it; `dispose()` stops both. */
export async function startSystem(options = {}) {
  const origin = await startOrigin();
  try {
    const edge = await startWorker({ ...options, vars: { ORIGIN_URL: origin.url, ...options.vars } });
    return {
      origin,
      edge,
      async dispose() {
        await edge.dispose();
        await origin.close();
      },
    };
  } catch (err) {
    await origin.close();
    throw err;
  }
}
