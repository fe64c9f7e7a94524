// A V8 CPU profile of one worker in `workerd serve` under load: workerd runs with its inspector on
// 127.0.0.1, this script speaks the Chrome DevTools Protocol to the worker's isolate over a
// WebSocket (Node 22's global WebSocket), starts the sampling profiler while wrk drives the
// worker, and writes the profile where DevTools can open it. It prints the top frames by self and
// by total time, in µs per request (sampled time / requests wrk completed while profiling).
//
//   node bench/profile.mjs [--target edgegate] [--seconds 10] [--interval 50] [--top 25]
//                          [--worker-dir DIR] [--smoke]
//
// --target: edgegate (authenticated GET, steady state; the default), edgegate-nocache,
// edgegate-public, jose, passthrough. --interval: sampling interval in µs. --worker-dir: the
// edgegate build to run; by default bench/build-profiling.sh builds (or reuses) the release build
// with wasm function names kept, in its own directory, never build/. Output, in bench/results/:
// profile-<target>.cpuprofile (open in Chrome DevTools, Performance panel) and
// profile-<target>.json (the tables printed on stdout); with --smoke, profile-smoke-<target>.*.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { check, login, runMain, seedUsers, startOrigin } from "./harness.mjs";
import { haveWrk, wrk } from "./load.mjs";
import { ROOT, startWorkerd } from "./workerd.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const smoke = args.includes("--smoke");
const TARGET = option("--target", "edgegate");
const SECONDS = Number(option("--seconds", smoke ? 1 : 10));
const INTERVAL_US = Number(option("--interval", 50));
const TOP = Number(option("--top", smoke ? 5 : 25));
const WARMUP = smoke ? 1 : 3;
const CONNECTIONS = 16;
const RESULTS = path.join(ROOT, "bench/results");
const log = (...m) => console.error("   ", ...m);

// Which service of bench/workerd.mjs each target drives, and on which path.
const TARGETS = {
  edgegate: { service: "edgegate", base: (w) => w.edge, path: "/api/data", session: true },
  "edgegate-nocache": { service: "edgegate-nocache", base: (w) => w.edgeNoCache, path: "/api/data", session: true },
  "edgegate-public": { service: "edgegate", base: (w) => w.edge, path: "/favicon.ico", session: false },
  jose: { service: "jose", base: (w) => w.jose, path: "/api/data", session: true },
  passthrough: { service: "passthrough", base: (w) => w.pass, path: "/api/data", session: false },
};

function workerFiles() {
  let dir = option("--worker-dir");
  if (!dir) {
    const r = spawnSync("bash", [path.join(ROOT, "bench/build-profiling.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (r.status !== 0) throw new Error("bench/build-profiling.sh failed");
    dir = r.stdout.trim().split("\n").pop();
  }
  dir = path.resolve(ROOT, dir);
  return { js: path.join(dir, "index.js"), wasm: path.join(dir, "index_bg.wasm") };
}

/** A CDP session with the isolate of `service`, found through the inspector's /json/list. */
async function inspect(inspectorBase, service) {
  const list = await (await fetch(`${inspectorBase}/json/list`)).json();
  const entry = list.find((t) => t.id === service || t.title === service || new URL(t.webSocketDebuggerUrl).pathname === `/${service}`);
  if (!entry) throw new Error(`no inspector target for ${service}: ${JSON.stringify(list.map((t) => t.webSocketDebuggerUrl))}`);
  const ws = new WebSocket(entry.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error(`cannot open ${entry.webSocketDebuggerUrl}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map();
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${waiter.method}: ${JSON.stringify(message.error)}`));
    else waiter.resolve(message.result);
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject, method });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close(), url: entry.webSocketDebuggerUrl };
}

const BUCKET = /^\((program|garbage collector|idle|root)\)$/;

/**
 * A frame's name: function, then script (file name, or the wasm module) and line. A runtime
 * built-in has no script, and names like `get` are shared by many, so it is named with the
 * nearest caller that has one (`get ← __wbg_get_… index.js:1` is `Headers.get` from the glue).
 */
function frameName(node, byId, parent) {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || "(anonymous)";
  if (url.startsWith("wasm://")) return `${name} [wasm]`;
  if (url) return `${name} ${path.basename(url)}:${lineNumber + 1}`;
  if (BUCKET.test(name)) return name;
  for (let at = parent.get(node.id); at !== undefined; at = parent.get(at)) {
    const caller = byId.get(at).callFrame;
    if (caller.url) return `${name} ← ${frameName(byId.get(at), byId, parent)}`;
  }
  return name;
}

/** What kind of code a frame is: edgegate's wasm, JavaScript, or V8's own buckets. */
function frameKind({ functionName, url }) {
  if (url.startsWith("wasm://")) return "wasm";
  if (url) return `JavaScript (${path.basename(url)})`;
  if (BUCKET.test(functionName)) return functionName;
  return "runtime built-ins (no script)";
}

/**
 * Self and total time per frame name, in µs, from a V8 profile. Each sample is charged the time
 * until the next sample (as DevTools does); total time counts a frame once per sample however
 * often it recurses on the stack.
 */
function analyse(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfOfNode = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < samples.length ? timeDeltas[i + 1] : 0;
    selfOfNode.set(samples[i], (selfOfNode.get(samples[i]) ?? 0) + dt);
  }
  const self = new Map();
  const total = new Map();
  const kinds = new Map();
  for (const [id, us] of selfOfNode) {
    const leaf = byId.get(id);
    const name = frameName(leaf, byId, parent);
    self.set(name, (self.get(name) ?? 0) + us);
    const kind = frameKind(leaf.callFrame);
    kinds.set(kind, (kinds.get(kind) ?? 0) + us);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = frameName(byId.get(at), byId, parent);
      if (seen.has(frame)) continue;
      seen.add(frame);
      total.set(frame, (total.get(frame) ?? 0) + us);
    }
  }
  const sampled = [...selfOfNode.values()].reduce((a, b) => a + b, 0);
  return { sampled, self, total, kinds };
}

function table(title, map, requests, sampled, top) {
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = [`#### ${title}`, "", "| frame | µs / request | share |", "| --- | ---: | ---: |"];
  for (const [name, us] of rows) {
    lines.push(`| \`${name.replaceAll("|", "\\|")}\` | ${(us / requests).toFixed(1)} | ${((100 * us) / sampled).toFixed(1)} % |`);
  }
  return { lines, rows: rows.map(([name, us]) => ({ name, usPerRequest: us / requests, share: us / sampled })) };
}

async function main() {
  const target = TARGETS[TARGET];
  if (!target) throw new Error(`unknown --target ${TARGET} (one of ${Object.keys(TARGETS).join(", ")})`);
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install -y wrk)");
  const worker = workerFiles();
  const origin = await startOrigin();
  let w;
  let session;
  try {
    w = await startWorkerd({ originUrl: origin.url, inspector: true, worker });
    log(`workerd pid ${w.pid}, inspector ${w.inspector}, edgegate build ${path.relative(ROOT, path.dirname(worker.wasm))}/, profiling ${TARGET}`);
    await seedUsers(w.kvUsers, 1);
    const headers = target.session ? { Cookie: await login(w.edge, "bench-u0") } : {};
    const url = target.base(w) + target.path;
    const first = await fetch(url, { headers });
    check(first.status === 200, `${TARGET}: GET ${target.path} answered ${first.status}`);
    await first.arrayBuffer();
    await wrk(url, { seconds: WARMUP, connections: CONNECTIONS, headers });
    // The same load without the profiler, to show what sampling costs.
    const unprofiled = await wrk(url, { seconds: SECONDS, connections: CONNECTIONS, headers });
    log(`${TARGET} without the profiler: ${unprofiled.rps.toFixed(0)} req/s`);

    session = await inspect(w.inspector, target.service);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: INTERVAL_US });
    await session.send("Profiler.start");
    const run = await wrk(url, { seconds: SECONDS, connections: CONNECTIONS, headers });
    const { profile } = await session.send("Profiler.stop");
    check(run.socketErrors === 0 && run.non2xx === 0, `${TARGET}: ${run.socketErrors} socket errors, ${run.non2xx} non-2xx under the profiler`);
    check(profile.samples.length > 0, "the profile has samples");
    log(`${TARGET} under the profiler: ${run.rps.toFixed(0)} req/s, ${run.requests} requests, ${profile.samples.length} samples`);

    const { sampled, self, total, kinds } = analyse(profile);
    const idle = kinds.get("(idle)") ?? 0;
    const perRequest = (sampled - idle) / run.requests;
    mkdirSync(RESULTS, { recursive: true });
    const stem = `profile-${smoke ? "smoke-" : ""}${TARGET}`;
    const file = path.join(RESULTS, `${stem}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    const out = [
      `### CPU profile of ${TARGET} (GET ${target.path}; wrk ${CONNECTIONS} connections, ${SECONDS} s; V8 sampling every ${INTERVAL_US} µs)`,
      "",
      `${run.requests} requests at ${run.rps.toFixed(0)} req/s under the profiler (${unprofiled.rps.toFixed(0)} req/s just before without it); ` +
        `${(sampled / 1e3).toFixed(0)} ms sampled in the isolate, ` +
        `${((100 * idle) / sampled).toFixed(1)} % idle; **${perRequest.toFixed(1)} µs of non-idle isolate time per request**. Profile: ${path.relative(ROOT, file)}. ` +
        `Load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC).`,
      "",
    ];
    const kindsTable = table("By kind of code (self time)", kinds, run.requests, sampled, TOP);
    const selfTable = table(`Top ${TOP} frames by self time`, self, run.requests, sampled, TOP);
    const totalTable = table(`Top ${TOP} frames by total time (the frame and everything it called)`, total, run.requests, sampled, TOP);
    // edgegate's own functions (and workers-rs's, which it calls), without the glue around them.
    const own = new Map([...total].filter(([name]) => /^<?(edgegate|worker)::/.test(name)));
    const ownTable = table(`Top ${TOP} functions of edgegate and workers-rs (wasm) by total time`, own, run.requests, sampled, TOP);
    out.push(...kindsTable.lines, "", ...selfTable.lines, "", ...totalTable.lines, "", ...ownTable.lines, "");
    console.log(out.join("\n"));
    writeFileSync(
      path.join(RESULTS, `${stem}.json`),
      JSON.stringify({ target: TARGET, seconds: SECONDS, intervalUs: INTERVAL_US, rps: run.rps, unprofiledRps: unprofiled.rps, requests: run.requests, sampledUs: sampled, idleUs: idle, usPerRequest: perRequest, kinds: kindsTable.rows, self: selfTable.rows, total: totalTable.rows, own: ownTable.rows }),
    );
  } finally {
    session?.close();
    if (w) await w.stop();
    origin.stop();
  }
}

runMain("profile", main, 10);
