// Several edge locations of one deployment in one `workerd serve` process, for the end-to-end tests
// and scripts/locations.sh. Each location is its own edgegate worker (the built
// build/index.js + build/index_bg.wasm, its own isolate) with its own SESSIONS and USERS KV
// replicas (kv-replicas.mjs: Workers KV's consistency, scaled down, with per-location faults); all
// share one SessionAuthority Durable Object namespace, defined by the first location's worker and
// bound from the others by service name, so every user's authority lives at the first location.
// Every location's socket fills `request.cf` from a header (workerd's `cfBlobHeader`), and this
// harness's fetch sets it, so a request at location B carries `request.cf.colo = "BBB"`.
//
//   const origin = await startOrigin();            // harness.mjs: a real recording origin
//   const net = await startLocations({ originUrl: origin.url, vars: { MAX_SESSIONS: "3" } });
//   const B = net.at("B");
//   await B.fetch("/auth/login", { method: "POST", ... });   // a real HTTP request to location B
//   net.kv.fault("B", { down: true });             // B's KV replica fails
//   net.addUser("alice", "a password");            // a `kv` credentials record at every location
//   await net.stop();
//
// Every socket listens on 127.0.0.1 only. Pages work too: ASSETS is a small worker serving www/.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, retryOnPortClash, stderrRead, waitForPort } from "../../bench/workerd.mjs";
import { ASSETS_DIR, compatibilityDate, ROOT, testKeys, userRecord, WORKER_JS, WORKER_WASM, wranglerVars } from "./harness.mjs";
import { startKvReplicas } from "./kv-replicas.mjs";
import { ACCESS, Jar, REFRESH } from "./support.mjs";

const WORKERD = path.join(ROOT, "node_modules/.bin/workerd");
/** The header each location's socket turns into `request.cf`. */
export const CF_HEADER = "x-edgegate-test-cf";
/** The colo of a location: its name three times ("A" -> "AAA"). */
export const colo = (name) => name.repeat(3).slice(0, 3).toUpperCase();
/** The low iteration count the worker accepts for user records (src/auth/accounts/password.rs). */
export const TEST_ITERATIONS = 10_000;

const str = (value) => JSON.stringify(String(value)); // a Cap'n Proto text literal

// The authority as a location with `authorityFaults` reaches it: a Durable Object class that
// hands every call to the real object of the same name (at the first location) unless this
// location's link is cut (`?down=1` on its control socket), when every call throws, as an
// unreachable object does. The flag lives in the module, which the objects share.
// It also counts the calls it hands on (`/calls`), to measure what the revocation read costs.
const AUTHORITY_LINK_SCRIPT = `let down = false;
let calls = 0;
export class SessionAuthority {
  constructor(ctx, env) { this.ctx = ctx; this.env = env; }
  async fetch(request) {
    if (down) throw new Error("the session authority is unreachable from this location (test fault)");
    calls += 1;
    return this.env.REAL.get(this.env.REAL.idFromName(this.ctx.id.name)).fetch(request);
  }
}
export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/calls") return new Response(String(calls));
    down = url.searchParams.get("down") === "1";
    return new Response(String(down));
  },
};`;

// Answers `request.cf` as JSON: proves each location's socket fills it.
const CF_ECHO_SCRIPT = `export default { fetch(request) { return Response.json(request.cf ?? null); } };`;

const CONTENT_TYPES = { html: "text/html; charset=utf-8", js: "text/javascript", css: "text/css", svg: "image/svg+xml" };

/** The ASSETS binding: www/'s text files as modules of a worker that serves them by name. */
function assetsWorker(rel) {
  const files = readdirSync(ASSETS_DIR).filter((name) => CONTENT_TYPES[name.split(".").pop()]);
  const imports = files.map((name, i) => `import f${i} from ${str(`www/${name}`)};`).join("\n");
  const table = files.map((name, i) => `${str(name)}: [f${i}, ${str(CONTENT_TYPES[name.split(".").pop()])}]`).join(", ");
  const script = `${imports}
const FILES = { ${table} };
export default {
  fetch(request) {
    const hit = FILES[new URL(request.url).pathname.slice(1)];
    return hit ? new Response(hit[0], { headers: { "content-type": hit[1] } }) : new Response("not found", { status: 404 });
  },
};`;
  const modules = [`(name = "assets.js", esModule = ${str(script)})`].concat(
    files.map((name) => `(name = ${str(`www/${name}`)}, text = embed ${rel(path.join(ASSETS_DIR, name))})`),
  );
  return `(modules = [${modules.join(", ")}], compatibilityDate = ${str(compatibilityDate())})`;
}

/**
 * Starts the locations.
 *
 * options.originUrl      the origin every location forwards to (required)
 * options.locations      location names (default A, B, C); the first holds the authority
 * options.vars           vars over wrangler.toml's [vars] and fresh test keys, for every location
 * options.propagationMs  KV propagation delay between locations (default 500)
 * options.cacheTtlMs     KV read cache per location (default 1000)
 * options.authorityFaults  locations (not the first) whose link to the authority a test can cut:
 *                        `net.authorityLink(name, false)` makes every authority call from there
 *                        fail; `net.authorityCalls(name)` counts the calls made through it
 * options.log            true: show workerd's output
 *
 * Returns { kv, vars, locations, at(name), addUser(name, password, recordOptions), logs(), stderr(),
 * stop() }; each location is { name, colo, url, port, probe (a cf echo behind the same socket
 * options), fetch(target, init), kvPeek(ns, key) }.
 */
export function startLocations(options = {}) {
  return retryOnPortClash(() => startLocationsOnce(options));
}

async function startLocationsOnce(options) {
  const { originUrl, locations: names = ["A", "B", "C"], propagationMs = 500, cacheTtlMs = 1000 } = options;
  if (!originUrl) throw new Error("startLocations needs originUrl");
  for (const file of [WORKER_JS, WORKER_WASM]) {
    if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run ./scripts/build.sh`);
  }
  const kv = await startKvReplicas({ locations: names, propagationMs, cacheTtlMs });
  const dir = mkdtempSync(path.join(tmpdir(), "edgegate-locations-"));
  mkdirSync(path.join(dir, "do"));
  const ports = {};
  for (const name of names) ports[name] = { edge: await freePort(), probe: await freePort() };
  const linked = options.authorityFaults ?? [];
  for (const name of linked) {
    if (!names.includes(name) || name === names[0]) throw new Error(`authorityFaults: ${name} is not a location past the first`);
    ports[name].link = await freePort();
  }
  const home = names[0];
  const vars = {
    ...wranglerVars(),
    ...testKeys(),
    ORIGIN_URL: originUrl,
    ISSUER: `http://127.0.0.1:${ports[home].edge}`,
    COOKIE_SECURE: "true",
    DEV_MODE: "true",
    CREDENTIALS: "kv",
    // The isolate's "not revoked" cache counts whole seconds and cannot be scaled down with the
    // KV model; its own bound (it adds REVOCATION_CACHE_TTL) is tested natively (gate_tests.rs).
    REVOCATION_CACHE_TTL: "0",
    // Every test client comes from one address; throttling has tests of its own
    // (hardening.test.mjs), and here it would refuse the soak's logins.
    LOGIN_MAX_FAILURES_PER_CLIENT: "10000",
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "10000",
    ...options.vars,
  };
  const rel = (file) => str(path.relative(dir, file));
  const service = (name) => `edge-${name}`;
  const kvService = (name, ns) => `kv-${name}-${ns}`;
  const httpOptions = `(cfBlobHeader = ${str(CF_HEADER)})`;
  const worker = (name) => {
    const bindings = Object.entries(vars).map(([key, value]) => `(name = ${str(key)}, text = ${str(value)})`);
    for (const ns of ["SESSIONS", "USERS"]) bindings.push(`(name = ${str(ns)}, kvNamespace = ${str(kvService(name, ns))})`);
    bindings.push('(name = "ASSETS", service = "assets")');
    const authorityService = linked.includes(name) ? `authority-link-${name}` : service(home);
    bindings.push(
      name === home
        ? '(name = "AUTHORITY", durableObjectNamespace = "SessionAuthority")'
        : `(name = "AUTHORITY", durableObjectNamespace = (className = "SessionAuthority", serviceName = ${str(authorityService)}))`,
    );
    const own =
      name === home
        ? `durableObjectNamespaces = [(className = "SessionAuthority", uniqueKey = "edgegate-session-authority")],
    durableObjectStorage = (localDisk = "do-disk"),`
        : "";
    return `(
    modules = [
      (name = "index.js", esModule = embed ${rel(WORKER_JS)}),
      (name = "index_bg.wasm", wasm = embed ${rel(WORKER_WASM)}),
    ],
    compatibilityDate = ${str(compatibilityDate())},
    bindings = [
      ${bindings.join(",\n      ")}
    ],
    ${own}
    globalOutbound = "loopback",
  )`;
  };
  const services = [];
  const sockets = [];
  for (const name of names) {
    services.push(`(name = ${str(service(name))}, worker = ${worker(name)})`);
    for (const ns of ["SESSIONS", "USERS"]) {
      services.push(`(name = ${str(kvService(name, ns))}, external = (address = ${str(kv.address(name, ns))}, http = ()))`);
    }
    sockets.push(`(name = ${str(`edge-${name}`)}, address = "127.0.0.1:${ports[name].edge}", http = ${httpOptions}, service = ${str(service(name))})`);
    sockets.push(`(name = ${str(`probe-${name}`)}, address = "127.0.0.1:${ports[name].probe}", http = ${httpOptions}, service = "cf-echo")`);
  }
  for (const name of linked) {
    const real = `(name = "REAL", durableObjectNamespace = (className = "SessionAuthority", serviceName = ${str(service(home))}))`;
    services.push(`(name = ${str(`authority-link-${name}`)}, worker = (
    modules = [(name = "link.js", esModule = ${str(AUTHORITY_LINK_SCRIPT)})],
    compatibilityDate = ${str(compatibilityDate())},
    bindings = [${real}],
    durableObjectNamespaces = [(className = "SessionAuthority", uniqueKey = ${str(`edgegate-authority-link-${name}`)})],
    durableObjectStorage = (inMemory = void),
  ))`);
    sockets.push(`(name = ${str(`link-${name}`)}, address = "127.0.0.1:${ports[name].link}", http = (), service = ${str(`authority-link-${name}`)})`);
  }
  services.push(`(name = "assets", worker = ${assetsWorker(rel)})`);
  services.push(`(name = "cf-echo", worker = (modules = [(name = "cf.js", esModule = ${str(CF_ECHO_SCRIPT)})], compatibilityDate = ${str(compatibilityDate())}))`);
  services.push(`(name = "do-disk", disk = (path = ${str(path.join(dir, "do"))}, writable = true))`);
  services.push('(name = "loopback", network = (allow = ["local", "private", "public"]))');
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    ${services.join(",\n    ")}
  ],
  sockets = [
    ${sockets.join(",\n    ")}
  ],
);
`;
  const configPath = path.join(dir, "locations.capnp");
  writeFileSync(configPath, config);
  const child = spawn(WORKERD, ["serve", "--verbose", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  const lines = [];
  let partial = "";
  child.stdout.on("data", (chunk) => {
    if (options.log) process.stdout.write(chunk);
    const text = partial + chunk;
    const split = text.split("\n");
    partial = split.pop();
    lines.push(...split);
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (options.log) process.stderr.write(chunk);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const name of names) {
      await waitForPort(ports[name].edge, child, 30);
      await waitForPort(ports[name].probe, child, 30);
    }
  } catch (err) {
    await stderrRead(child);
    await stop();
    throw new Error(`${err.message}\n${stderr}\n--- config ---\n${config}`);
  }
  const location = (name) => {
    const base = `http://127.0.0.1:${ports[name].edge}`;
    const cf = JSON.stringify({ colo: colo(name) });
    return {
      name,
      colo: colo(name),
      url: base,
      port: ports[name].edge,
      probe: `http://127.0.0.1:${ports[name].probe}`,
      /** A real HTTP request to this location, carrying its `request.cf`. */
      async fetch(target, init = {}) {
        const headers = new Headers(init.headers);
        headers.set(CF_HEADER, cf);
        const send = () => fetch(new URL(target, base), { redirect: "manual", ...init, headers });
        try {
          return await send();
        } catch (err) {
          // A pooled keep-alive connection closed by the server just as it was reused (as in
          // harness.mjs; under load it surfaces as a reset too): browsers retry such a request once.
          if (!["UND_ERR_SOCKET", "ECONNRESET"].includes(err?.cause?.code) || typeof init.body === "object") throw err;
          return send();
        }
      },
      /** What this location's KV replica of `ns` holds for `key` now (its read cache bypassed). */
      kvPeek(ns, key) {
        return kv.peek(name, ns, key);
      },
    };
  };
  const all = Object.fromEntries(names.map((name) => [name, location(name)]));
  return {
    kv,
    vars,
    locations: names.map((name) => all[name]),
    at(name) {
      if (!all[name]) throw new Error(`no location ${name}`);
      return all[name];
    },
    /** A `kv` credentials user record at every location (as if written long ago). */
    addUser(user, password, recordOptions = {}) {
      kv.seed("USERS", `user:${user}`, userRecord(password, { iterations: TEST_ITERATIONS, ...recordOptions }));
    },
    /** Cuts (`up` false) or restores the link from location `name` to the authority. */
    async authorityLink(name, up) {
      if (!ports[name]?.link) throw new Error(`${name} was not started with an authority fault`);
      const res = await fetch(`http://127.0.0.1:${ports[name].link}/?down=${up ? 0 : 1}`);
      if ((await res.text()) !== String(!up)) throw new Error(`the link of ${name} did not switch`);
    },
    /** How many calls location `name` has made to the authority (through its link). */
    async authorityCalls(name) {
      if (!ports[name]?.link) throw new Error(`${name} was not started with an authority fault`);
      return Number(await (await fetch(`http://127.0.0.1:${ports[name].link}/calls`)).text());
    },
    /** workerd's stdout lines so far (the workers' console output). */
    logs: () => [...lines],
    stderr: () => stderr,
    pid: child.pid,
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// A client of the locations, and the soak built on it (shared by locations.test.mjs and
// scripts/locations.sh).

const SAME_ORIGIN = { "sec-fetch-site": "same-origin", accept: "application/json" };

/** The cookies a response sets, by name (those it clears left out). */
function setCookies(res) {
  const jar = new Jar();
  jar.take(res);
  return Object.fromEntries(jar.cookies);
}

/** A browser's session at the locations: its cookies (a Jar), and the calls a page makes. */
export class Client extends Jar {
  constructor(cookies = new Map()) {
    super();
    this.cookies = new Map(cookies);
  }
  /** The Cookie header with only the cookies named (default: all). */
  header(names = [...this.cookies.keys()]) {
    return names.filter((n) => this.cookies.has(n)).map((n) => `${n}=${this.cookies.get(n)}`).join("; ");
  }
  get access() {
    return this.cookies.get(ACCESS);
  }
  get refreshToken() {
    return this.cookies.get(REFRESH);
  }
  /** The session id (the refresh token's first part). */
  get sid() {
    return this.refreshToken?.split(".")[0];
  }
  /** POST /auth/login at `loc`; the parsed body is `res.json`. */
  async login(loc, username, password) {
    const res = this.take(
      await loc.fetch("/auth/login", {
        method: "POST",
        headers: { ...SAME_ORIGIN, "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      }),
    );
    res.json = await res.json().catch(() => null);
    return res;
  }
  /** A request to the application with the access cookie only: its status (200 = served). */
  async request(loc, target = "/app/page") {
    const res = await loc.fetch(target, { headers: { cookie: this.header([ACCESS]), accept: "application/json" } });
    await res.body?.cancel();
    return res.status;
  }
  /**
   * POST /auth/refresh with the refresh cookie only; `res.set` holds the cookies it set (by
   * name), and they are kept if it answered 200.
   */
  async refresh(loc) {
    const res = await loc.fetch("/auth/refresh", {
      method: "POST",
      headers: { ...SAME_ORIGIN, cookie: this.header([REFRESH]) },
    });
    res.json = await res.json().catch(() => null);
    res.set = setCookies(res);
    if (res.status === 200) this.take(res);
    return res;
  }
  /** A same-origin JSON call with every cookie (logout, the session endpoints). */
  async call(loc, method, target) {
    const res = await loc.fetch(target, { method, headers: { ...SAME_ORIGIN, cookie: this.header() } });
    res.json = await res.json().catch(() => null);
    return res;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];

/**
 * Session lifecycles spread over the locations, `concurrency` at a time, each with a user of its
 * own (so no session limit interferes): login at a random location; requests at every location
 * (a live session must be served everywhere); after `refreshAfterMs` (the access token's lifetime
 * in this scale; default the KV bound, the longest a new session takes to reach every location)
 * a refresh at a random location and requests with the new access token; logout at a random
 * location; then the old access token is tried at once where the logout happened and everywhere
 * once the revocation bound (plus `slackMs`) has passed, where it must be refused.
 *
 * Returns the figures: lifecycles, requests, refused (a live session refused: must be 0),
 * servedPastBound (a logged-out session served after its bound: must be 0), servedAtOnce (the
 * logout location still serving right after the logout), errors (unexpected answers, with a
 * sample), seconds.
 */
export async function soak(locations, { lifecycles = 200, concurrency = 40, password, users, refreshAfterMs, boundMs, slackMs = 250 }) {
  const figures = { lifecycles: 0, requests: 0, refused: 0, servedPastBound: 0, servedAtOnce: 0, errors: 0, sample: [] };
  const problem = (what) => {
    figures.errors += 1;
    if (figures.sample.length < 10) figures.sample.push(what);
  };
  const started = Date.now();
  let next = 0;
  const one = async (user) => {
    const client = new Client();
    const at = pick(locations);
    const login = await client.login(at, user, password);
    figures.requests += 1;
    if (login.status !== 200) return problem(`login of ${user} at ${at.name}: ${login.status}`);
    const served = async (loc) => {
      figures.requests += 1;
      const status = await client.request(loc);
      if (status === 401) figures.refused += 1;
      else if (status !== 200) problem(`request at ${loc.name}: ${status}`);
    };
    await Promise.all(locations.map(served));
    await sleep(refreshAfterMs);
    const where = pick(locations);
    const refreshed = await client.refresh(where);
    figures.requests += 1;
    if (refreshed.status === 401) figures.refused += 1;
    else if (refreshed.status !== 200 || !refreshed.set[REFRESH]) problem(`refresh at ${where.name}: ${refreshed.status}`);
    await Promise.all(locations.map(served));
    const out = pick(locations);
    const old = new Client(client.cookies);
    const logout = await client.call(out, "POST", "/auth/logout");
    figures.requests += 1;
    if (logout.status !== 200) return problem(`logout at ${out.name}: ${logout.status}`);
    figures.requests += 1;
    if ((await old.request(out)) === 200) figures.servedAtOnce += 1;
    await sleep(boundMs + slackMs);
    for (const loc of locations) {
      figures.requests += 1;
      const status = await old.request(loc);
      if (status === 200) figures.servedPastBound += 1;
      else if (status !== 401) problem(`logged-out request at ${loc.name}: ${status}`);
    }
    figures.lifecycles += 1;
  };
  const lane = async () => {
    while (next < lifecycles) {
      const user = users(next++);
      await one(user).catch((err) => problem(`${err?.message ?? err}${err?.cause ? ` (${err.cause.code ?? err.cause.message})` : ""}`));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  figures.seconds = (Date.now() - started) / 1000;
  return figures;
}

/** The soak's users, all with one record (one PBKDF2 derivation for any number of them). */
export function soakUsers(net, count, password) {
  const record = userRecord(password, { iterations: TEST_ITERATIONS });
  for (let i = 0; i < count; i++) net.kv.seed("USERS", `user:soak-${i}`, record);
  return (i) => `soak-${i}`;
}

/**
 * The locations of `reach-soak`: Workers KV's propagation unscaled (60 s), the authority as the
 * revocation read with its default REVOCATION_CACHE_TTL (5 s), so every refusal elsewhere within
 * the soak's bound comes from the authority (revocation-reach.test.mjs measures the same bound).
 */
export const REACH = { propagationMs: 60_000, ttlMs: 5_000, slackMs: 1_000 };

/**
 * One user's authority under every location at once: `clients` sessions of one user, signed in
 * over the locations, each requesting at a random location in a closed loop for `seconds`. With
 * REVOCATION_CACHE_TTL 0 every request asks the authority, so its req/s is the object's; with
 * the default TTL it shows what the cache leaves of that load. Returns the figures.
 */
export async function authorityLoad(net, { user, password, clients, seconds }) {
  const sessions = [];
  for (let i = 0; i < clients; i++) {
    const client = new Client();
    const res = await client.login(net.locations[i % net.locations.length], user, password);
    if (res.status !== 200) throw new Error(`login ${i}: ${res.status} ${JSON.stringify(res.json)}`);
    sessions.push(client);
  }
  const latencies = [];
  let failures = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    sessions.map(async (client) => {
      while (Date.now() < until) {
        const started = performance.now();
        const status = await client.request(pick(net.locations));
        latencies.push(performance.now() - started);
        if (status !== 200) failures += 1;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { clients, seconds, requests: latencies.length, rps: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), failures };
}

// `node tests/e2e/locations.mjs demo|soak|reach-soak [N] [concurrency] | authority-load [seconds]
// [clients] [ttl]`: see scripts/locations.sh.
if (process.argv[1] && path.resolve(process.argv[1]) === path.join(ROOT, "tests/e2e/locations.mjs")) {
  const { startOrigin } = await import("./harness.mjs");
  const [command = "demo", count, lanes] = process.argv.slice(2);
  const origin = await startOrigin();
  // The demo is for a browser on plain http://127.0.0.1: unprefixed, non-Secure cookies (a
  // browser keeps cookies per host, not per port, so one session follows it across locations).
  const reach = command === "reach-soak";
  const vars = command === "demo" ? { COOKIE_SECURE: "false" } : {};
  if (command === "authority-load") {
    Object.assign(vars, { SESSION_STORE: "authority", REVOCATION_CACHE_TTL: process.argv[5] ?? "0", MAX_SESSIONS: "1000", ACCESS_TTL: "600", IDLE_TIMEOUT: "3600" });
  }
  if (reach) Object.assign(vars, { SESSION_STORE: "authority", REVOCATION_CACHE_TTL: String(REACH.ttlMs / 1000), ACCESS_TTL: "600", IDLE_TIMEOUT: "3600" });
  const net = await startLocations({ originUrl: origin.url, vars, ...(reach ? { propagationMs: REACH.propagationMs } : {}) });
  const stopAll = async () => {
    await net.stop();
    await origin.close();
  };
  try {
    if (command === "soak" || reach) {
      const lifecycles = Number(count ?? 10000);
      const password = "soak password, long enough";
      // The recording origin keeps every request; forget them as the soak goes.
      const forget = setInterval(() => origin.clear().catch(() => {}), 10_000);
      const figures = await soak(net.locations, {
        lifecycles,
        concurrency: Number(lanes ?? 50),
        password,
        users: soakUsers(net, lifecycles, password),
        // The KV bound (the reach soak: the TTL plus a round trip, KV being too slow to matter).
        refreshAfterMs: reach ? 1000 : net.kv.boundMs,
        boundMs: reach ? REACH.ttlMs : net.kv.boundMs,
        slackMs: reach ? REACH.slackMs : undefined,
      });
      clearInterval(forget);
      const bound = reach ? { revocationRead: "authority", boundMs: REACH.ttlMs + REACH.slackMs } : { revocationRead: "authority, REVOCATION_CACHE_TTL=0", boundMs: net.kv.boundMs };
      console.log(JSON.stringify({ locations: net.locations.map((l) => l.colo), propagationMs: net.kv.propagationMs, cacheTtlMs: net.kv.cacheTtlMs, ...bound, ...figures }));
      process.exitCode = figures.refused || figures.servedPastBound || figures.errors || figures.lifecycles !== lifecycles ? 1 : 0;
    } else if (command === "authority-load") {
      const password = "load password, long enough";
      net.addUser("load", password);
      const figures = await authorityLoad(net, { user: "load", password, clients: Number(lanes ?? 32), seconds: Number(count ?? 10) });
      console.log(JSON.stringify({ revocationCacheTtl: vars.REVOCATION_CACHE_TTL, ...figures }));
      process.exitCode = figures.failures ? 1 : 0;
    } else if (command === "demo") {
      net.addUser("demo", "demo password");
      for (const loc of net.locations) console.log(`location ${loc.name} (${loc.colo}): ${loc.url}/auth/login`);
      console.log(`origin: ${origin.url}; user "demo", password "demo password"`);
      console.log(`KV: propagation ${net.kv.propagationMs} ms, read cache ${net.kv.cacheTtlMs} ms. Ctrl-C stops.`);
      console.log("A browser sends no request.cf header, so pages opened by hand carry no colo.");
      await new Promise((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
    } else {
      throw new Error(`unknown command ${command}: demo, soak or reach-soak [N] [concurrency], authority-load [seconds] [clients] [ttl]`);
    }
  } finally {
    await stopAll();
  }
}
