// End to end, in workerd directly: edgegate against the JavaScript reference worker
// (bench/jose-worker.js), the floor worker (bench/floor: one synchronous wasm call, then forward),
// a pass-through worker and the bare origin, with wrk (authenticated GET
// with and without edgegate's isolate caches, public path, unauthenticated 401) and a closed-loop
// Node client (login, refresh, logout; a DPoP-bound token against a bearer token, side by side). Prints one JSON object on stdout; progress on stderr.
//
//   node bench/e2e.mjs [--seconds N] [--rounds N] [--smoke]
import { createPrivateKey, createPublicKey } from "node:crypto";
import { loadavg } from "node:os";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { boundBrowserSession, dpopKey, proof, proofs, tokenGrant } from "./dpop.mjs";
import { PASSWORD, check, cookiesFrom, login, loginRequest, runMain, seedUsers, startOrigin } from "./harness.mjs";
import { startWorkerd } from "./workerd.mjs";
import { closedLoop, haveWrk, wrk } from "./load.mjs";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const smoke = args.includes("--smoke");
const SECONDS = flag("--seconds", smoke ? 1 : 8);
const ROUNDS = flag("--rounds", smoke ? 1 : 3);
const FLOW_SECONDS = flag("--flow-seconds", smoke ? 1 : 6);
const WARMUP = smoke ? 1 : 3;
const CONNECTIONS = 16;
const FLOW_CONCURRENCY = 4;
const USERS = smoke ? 8 : 512;
const log = (...m) => console.error("   ", ...m);

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The public key of the first entry of an ASSERTION_KEYS secret (`kid:base64url-seed`). */
function assertionPublicKey(secret) {
  const seed = Buffer.from(secret.split(/[\s,]+/)[0].split(":")[1], "base64url");
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  return createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }));
}

/**
 * GET /api/data through `base` with `cookie`; checks the origin got identity headers whose
 * assertion verifies with the assertion key, and returns its header, claims and headers.
 */
async function forwardedIdentity(base, cookie, origin, publicKey, vars) {
  const before = (await origin.stats()).withIdentity;
  const res = await fetch(`${base}/api/data`, { headers: { cookie: `${cookie}; theme=dark` } });
  await res.arrayBuffer();
  const stats = await origin.stats();
  check(res.status === 200 && stats.withIdentity === before + 1, `${base}: authenticated GET forwarded with identity (${res.status})`);
  const { assertion, ...headers } = stats.last;
  const { payload } = await jwtVerify(assertion, publicKey, {
    algorithms: ["EdDSA"], issuer: vars.ISSUER, audience: vars.ORIGIN_AUDIENCE, typ: "edgegate-assertion+jwt",
  });
  check(headers.user === payload.sub && headers.session === payload.sid && headers.roles === payload.roles.join(","), `${base}: identity headers match the assertion`);
  check(headers.cookie === "theme=dark", `${base}: session cookies stripped from the forwarded Cookie (${headers.cookie})`);
  return { header: decodeProtectedHeader(assertion), claims: payload, headers };
}

const ratioRounds = (runs, a, b) => runs[a].map((r, i) => r.rps / runs[b][i].rps);

async function main() {
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install -y wrk)");
  const origin = await startOrigin();
  let w;
  try {
    w = await startWorkerd({ originUrl: origin.url, floor: true });
    log(`workerd pid ${w.pid}: edgegate ${w.edge}, caches off ${w.edgeNoCache}, jose ${w.jose}, floor ${w.floor}, pass-through ${w.pass}, origin ${origin.url}`);
    await seedUsers(w.kvUsers, USERS);

    // The contract, once, before any figure is trusted.
    const cookie = await login(w.edge, "bench-u0");
    check(/__Host-eg_access=/.test(cookie), `access cookie set (${cookie.split("=")[0]})`);
    // edgegate, edgegate without caches and the jose worker accept the same token and forward the
    // same identity: the same assertion header and claim names, the same subject.
    const publicKey = assertionPublicKey(w.keys.ASSERTION_KEYS);
    const reference = await forwardedIdentity(w.edge, cookie, origin, publicKey, w.vars);
    for (const base of [w.edgeNoCache, w.jose]) {
      const other = await forwardedIdentity(base, cookie, origin, publicKey, w.vars);
      const shape = (id) => JSON.stringify([id.header, Object.keys(id.claims).sort(), id.claims.exp - id.claims.iat]);
      check(shape(other) === shape(reference), `${base}: assertion shaped like edgegate's (${shape(other)} vs ${shape(reference)})`);
      for (const claim of ["iss", "aud", "sub", "sid", "knd"]) check(other.claims[claim] === reference.claims[claim], `${base}: same ${claim}`);
      check(JSON.stringify(other.headers) === JSON.stringify(reference.headers), `${base}: same identity headers`);
    }
    // The access cookie alone (with the refresh cookie edgegate would refresh in place).
    const access = cookie.split("; ").find((c) => c.startsWith("__Host-eg_access="));
    const tampered = access.replace(/^([^.]+\.)(.)/, (_, head, c) => head + (c === "e" ? "f" : "e"));
    check(tampered !== access, "the tampered token differs");
    for (const base of [w.edge, w.edgeNoCache, w.jose]) {
      check((await fetch(`${base}/api/data`)).status === 401, `${base}: no cookie gives 401`);
      check((await fetch(`${base}/api/data`, { headers: { cookie: tampered } })).status === 401, `${base}: a tampered token gives 401`);
    }
    check((await fetch(`${w.pass}/api/data`)).status === 200, "pass-through answers 200");
    // The floor worker forwards its five headers (its identity is a per-isolate stand-in: it
    // verifies nothing) and answers 401 without an access cookie.
    {
      const before = (await origin.stats()).withIdentity;
      const res = await fetch(`${w.floor}/api/data`, { headers: { cookie: `${cookie}; theme=dark` } });
      await res.arrayBuffer();
      const stats = await origin.stats();
      check(res.status === 200 && stats.withIdentity === before + 1, `floor: GET forwarded with identity (${res.status})`);
      check(stats.last.cookie === "theme=dark" && stats.last.session && stats.last.roles, `floor: five headers forwarded (${JSON.stringify({ ...stats.last, assertion: undefined })})`);
      check((await fetch(`${w.floor}/api/data`)).status === 401, "floor: no cookie gives 401");
    }

    // A fresh login for each authenticated target in each round; then repeat requests of that
    // one session (the steady state).
    const authenticated = (base) => async () => ({ url: `${base}/api/data`, headers: { Cookie: await login(w.edge, "bench-u1") }, identity: true });
    const targets = {
      edgegate: authenticated(w.edge),
      // The same with a device-bound session's live bound cookie beside the session cookies.
      "edgegate-bound": async () => ({
        url: `${w.edge}/api/data`,
        headers: { Cookie: await boundBrowserSession(w.edge, "bench-u1", PASSWORD) },
        identity: true,
      }),
      // Every per-isolate cache off (REVOCATION_CACHE_TTL=0, ISOLATE_CACHE_ENTRIES=0).
      "edgegate-nocache": authenticated(w.edgeNoCache),
      jose: authenticated(w.jose),
      // The design floor: one synchronous wasm call (cookie, SHA-256, map hit), five headers, forward.
      floor: authenticated(w.floor),
      // edgegate forwarding a public path: the proxying without the session work.
      "edgegate-public": async () => ({ url: `${w.edge}/favicon.ico`, headers: {} }),
      passthrough: async () => ({ url: `${w.pass}/api/data`, headers: {} }),
      origin: async () => ({ url: `${origin.url}/api/data`, headers: {} }),
      unauthenticated: async () => ({ url: `${w.edge}/api/data`, headers: {}, expect401: true }),
    };
    const runs = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    const names = Object.keys(targets);
    // Warm-up, not recorded: lets V8 tier the wasm and JS up and fills connection pools.
    for (const name of names) {
      const t = await targets[name]();
      await wrk(t.url, { seconds: WARMUP, connections: CONNECTIONS, headers: t.headers });
    }
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no target always runs first (or last) in a round.
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        const t = await targets[name]();
        const seenBefore = (await origin.stats()).withIdentity;
        const r = await wrk(t.url, { seconds: SECONDS, connections: CONNECTIONS, headers: t.headers });
        check(r.socketErrors === 0, `${name}: ${r.socketErrors} socket errors`);
        if (t.expect401) {
          check(r.non2xx === r.requests, `${name}: every answer is 401 (${r.non2xx}/${r.requests})`);
        } else {
          check(r.non2xx === 0, `${name}: ${r.non2xx} non-2xx answers`);
        }
        if (t.identity) {
          const seen = (await origin.stats()).withIdentity - seenBefore;
          // wrk counts completed responses; a few more may have reached the origin.
          check(seen >= r.requests, `${name}: origin saw identity on ${seen} of ${r.requests} requests`);
        }
        runs[name].push(r);
        log(`round ${round + 1} ${name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      }
    }

    // Stateful flows, each session its own chain of cookies.
    const sessions = [];
    let nextUser = 2;
    const loginRun = await closedLoop(w.edge, {
      seconds: FLOW_SECONDS,
      concurrency: FLOW_CONCURRENCY,
      next: () => loginRequest(`bench-u${nextUser++ % USERS}`),
      onResponse: (_, res) => res.status === 200 && sessions.push(cookiesFrom(res.headers["set-cookie"])),
    });
    check(loginRun.statuses[200] === loginRun.requests, `login: ${JSON.stringify(loginRun.statuses)}`);
    log(`login: ${loginRun.rps.toFixed(1)}/s, ${sessions.length} sessions`);

    const chains = sessions.splice(0, FLOW_CONCURRENCY);
    const refreshRun = await closedLoop(w.edge, {
      seconds: FLOW_SECONDS,
      concurrency: chains.length,
      next: (i) => ({ method: "POST", path: "/auth/refresh", headers: { cookie: chains[i], accept: "application/json" } }),
      onResponse: (i, res) => {
        if (res.status === 200) chains[i] = cookiesFrom(res.headers["set-cookie"], chains[i]);
      },
    });
    check(refreshRun.statuses[200] === refreshRun.requests, `refresh: ${JSON.stringify(refreshRun.statuses)}`);
    log(`refresh: ${refreshRun.rps.toFixed(0)}/s`);

    const loggedOut = [];
    const logoutRun = await closedLoop(w.edge, {
      seconds: FLOW_SECONDS,
      concurrency: FLOW_CONCURRENCY,
      next: () => {
        const c = sessions.pop();
        if (!c) return null;
        loggedOut.push(c);
        return { method: "POST", path: "/auth/logout", headers: { cookie: c, accept: "application/json" } };
      },
    });
    check(logoutRun.requests > 0 && logoutRun.statuses[200] === logoutRun.requests, `logout: ${JSON.stringify(logoutRun.statuses)}`);
    log(`logout: ${logoutRun.rps.toFixed(0)}/s over ${logoutRun.requests} sessions`);
    // The revocation check is on: a logged-out access token (still unexpired) is refused.
    for (const base of [w.edge, w.edgeNoCache, w.jose]) {
      const revoked = await fetch(`${base}/api/data`, { headers: { cookie: loggedOut[0] } });
      check(revoked.status === 401, `${base}: revoked session refused (${revoked.status})`);
    }

    // DPoP against bearer: one session's token per kind, GET /api/data through the same
    // closed-loop client, the two alternating in each round. Every DPoP request carries its own
    // proof (ES256), made before the run; the edge checks it with WebCrypto on the async path.
    const key = await dpopKey();
    const bound = await tokenGrant(w.edge, "bench-u1", PASSWORD, key);
    const bearer = await tokenGrant(w.edge, "bench-u1", PASSWORD);
    check(bound.token_type === "DPoP" && bearer.token_type === "Bearer", `token types ${bound.token_type}, ${bearer.token_type}`);
    const dataUrl = `${w.edge}/api/data`;
    const dpopHeaders = (p) => ({ authorization: `DPoP ${bound.access_token}`, dpop: p });
    {
      const once = dpopHeaders(await proof(key, "GET", dataUrl, bound.access_token));
      const first = await fetch(dataUrl, { headers: once });
      const again = await fetch(dataUrl, { headers: once });
      check(first.status === 200 && again.status === 401, `a proof passes once (${first.status}, then ${again.status})`);
      const asBearer = await fetch(dataUrl, { headers: { authorization: `Bearer ${bound.access_token}` } });
      check(asBearer.status === 401, `a bound token as Bearer is refused (${asBearer.status})`);
    }
    const tokenRuns = { bearer: [], dpop: [] };
    const PROOFS_PER_RUN = smoke ? 2000 : 40000;
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 ? ["dpop", "bearer"] : ["bearer", "dpop"]) {
        let next;
        if (kind === "dpop") {
          const ready = await proofs(key, "GET", dataUrl, bound.access_token, PROOFS_PER_RUN);
          next = () => (ready.length ? { path: "/api/data", headers: dpopHeaders(ready.pop()) } : null);
        } else {
          next = () => ({ path: "/api/data", headers: { authorization: `Bearer ${bearer.access_token}` } });
        }
        const r = await closedLoop(w.edge, { seconds: FLOW_SECONDS, concurrency: CONNECTIONS, next });
        check(r.requests > 0 && r.statuses[200] === r.requests, `${kind}: ${JSON.stringify(r.statuses)}`);
        tokenRuns[kind].push(r);
        log(`round ${round + 1} ${kind}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      }
    }

    // The runtime's native Ed25519 (WebCrypto), timed from outside: (t(n) - t(0)) / n.
    const PROBE_N = smoke ? 50 : 2000;
    const timeProbe = async (n, op = "ed25519") => {
      const t0 = process.hrtime.bigint();
      const res = await fetch(`${w.probe}/?op=${op}&n=${n}`);
      check(res.status === 200, `probe answered ${res.status}`);
      await res.text();
      return Number(process.hrtime.bigint() - t0) / 1e3;
    };
    await timeProbe(PROBE_N); // warm-up
    const probeRuns = [];
    for (let i = 0; i < (smoke ? 1 : 5); i++) probeRuns.push(((await timeProbe(PROBE_N)) - (await timeProbe(0))) / PROBE_N);
    const webcryptoEd25519 = median(probeRuns);
    log(`workerd WebCrypto Ed25519 sign: ${webcryptoEd25519.toFixed(1)} µs`);
    await timeProbe(PROBE_N, "kv-miss");
    const kvRuns = [];
    for (let i = 0; i < (smoke ? 1 : 5); i++) kvRuns.push(((await timeProbe(PROBE_N, "kv-miss")) - (await timeProbe(0, "kv-miss"))) / PROBE_N);
    const kvMiss = median(kvRuns);
    log(`workerd KV read (miss, in-memory KV service): ${kvMiss.toFixed(1)} µs`);

    const summary = (name) => ({
      rps: median(runs[name].map((r) => r.rps)),
      p50: median(runs[name].map((r) => r.p50)),
      p99: median(runs[name].map((r) => r.p99)),
      runs: runs[name].map((r) => Math.round(r.rps)),
    });
    const ratio = (a, b) => median(ratioRounds(runs, a, b));
    const pairs = {
      edgegateOverJose: ["edgegate", "jose"],
      edgegateOverPassthrough: ["edgegate", "passthrough"],
      noCacheOverJose: ["edgegate-nocache", "jose"],
      publicOverPassthrough: ["edgegate-public", "passthrough"],
      joseOverPassthrough: ["jose", "passthrough"],
      edgegateOverNoCache: ["edgegate", "edgegate-nocache"],
      edgegateOverPublic: ["edgegate", "edgegate-public"],
      passthroughOverOrigin: ["passthrough", "origin"],
      floorOverPassthrough: ["floor", "passthrough"],
      edgegateOverFloor: ["edgegate", "floor"],
      edgegateOverOrigin: ["edgegate", "origin"],
      boundOverEdgegate: ["edgegate-bound", "edgegate"],
    };
    const flow = (r) => ({ rps: r.rps, p50: r.p50, p99: r.p99, requests: r.requests, tool: r.tool });
    const result = {
      settings: { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, flowSeconds: FLOW_SECONDS, flowConcurrency: FLOW_CONCURRENCY, loadAverage: loadavg() },
      get: Object.fromEntries(names.map((n) => [n, summary(n)])),
      ratios: Object.fromEntries(Object.entries(pairs).map(([k, [a, b]]) => [k, ratio(a, b)])),
      ratioRounds: Object.fromEntries(Object.entries(pairs).map(([k, [a, b]]) => [k, ratioRounds(runs, a, b)])),
      flows: { login: flow(loginRun), refresh: flow(refreshRun), logout: flow(logoutRun) },
      dpop: {
        bearer: { rps: median(tokenRuns.bearer.map((r) => r.rps)), p50: median(tokenRuns.bearer.map((r) => r.p50)), p99: median(tokenRuns.bearer.map((r) => r.p99)) },
        dpop: { rps: median(tokenRuns.dpop.map((r) => r.rps)), p50: median(tokenRuns.dpop.map((r) => r.p50)), p99: median(tokenRuns.dpop.map((r) => r.p99)) },
        dpopOverBearer: median(tokenRuns.dpop.map((r, i) => r.rps / tokenRuns.bearer[i].rps)),
      },
      probe: { webcryptoEd25519Us: webcryptoEd25519, kvMissUs: kvMiss },
    };
    console.log(JSON.stringify(result));
  } finally {
    if (w) await w.stop();
    origin.stop();
  }
}

runMain("e2e benchmark", main, 15);
