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

/** `compatibility_date` from wrangler.toml. */
export function compatibilityDate() {
  const m = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8").match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!m) throw new Error("compatibility_date not found in wrangler.toml");
  return m[1];
}

/**
 * Starts tests/e2e/origin-server.mjs on a free port.
 * Returns { url, port, requests(), clear(), close() }.
 */
export async function startOrigin() {
  const child = spawn(process.execPath, [path.join(ROOT, "tests/e2e/origin-server.mjs"), "0"], {
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
 * options.persist   true: KV in a fresh temp directory (removed by dispose); default: in memory
 * options.assets    false to run without the ASSETS binding (default: www/ as ASSETS)
 * options.log       true to show workerd's console output (default: only warnings/errors)
 * options.faultyKv  binding names (e.g. ["SESSIONS"]) whose every KV call throws
 * Secrets default to fresh test keys (testKeys()).
 *
 * Returns { url, mf, fetch(path, init), kv(name), dispose() }.
 */
export async function startWorker(options = {}) {
  if (!existsSync(WORKER_JS) || !existsSync(WORKER_WASM)) {
    throw new Error(`${path.relative(ROOT, WORKER_JS)} is missing: run ./scripts/build.sh first`);
  }
  const persistDir = options.persist ? mkdtempSync(path.join(tmpdir(), "edgegate-kv-")) : undefined;
  const useAssets = options.assets !== false && existsSync(ASSETS_DIR);
  const faulty = options.faultyKv ?? [];
  const worker = {
    name: "edgegate",
    // build/index.js is an ES module that does `import ... from "./index_bg.wasm"`.
    modules: true,
    scriptPath: WORKER_JS,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: compatibilityDate(),
    bindings: { ...wranglerVars(), ...testKeys(), ...options.vars, ...options.secrets },
    kvNamespaces: KV_BINDINGS.filter((name) => !faulty.includes(name)),
    wrappedBindings: Object.fromEntries(faulty.map((name) => [name, { scriptName: "faulty-kv" }])),
    ...(useAssets && {
      assets: {
        directory: ASSETS_DIR,
        binding: "ASSETS",
        // wrangler.toml: run_worker_first = true
        routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true },
      },
    }),
  };
  const mf = new Miniflare({
    workers: [worker, { name: "faulty-kv", modules: true, script: FAULTY_KV_SCRIPT }],
    kvPersist: persistDir ?? false,
    host: "127.0.0.1",
    port: 0,
    // A placeholder `request.cf` instead of downloading one from Cloudflare.
    cf: false,
    log: new Log(options.log ? LogLevel.INFO : LogLevel.WARN),
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
    mf,
    /** A real HTTP request to the worker; `target` is a path ("/x?y") or an absolute URL. */
    fetch(target, init = {}) {
      return fetch(new URL(target, base), { redirect: "manual", ...init });
    },
    /** The KV namespace binding `name` (SESSIONS or USERS) for direct reads and writes. */
    kv(name) {
      return mf.getKVNamespace(name);
    },
    async dispose() {
      await mf.dispose();
      if (persistDir) rmSync(persistDir, { recursive: true, force: true });
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
