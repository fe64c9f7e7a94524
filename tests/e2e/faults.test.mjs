// Faults and load, end to end against the built worker in workerd: Workers KV down, refusing
// writes, or slow; many concurrent refreshes of one token, on the session authority (the default
// where its Durable Object is bound) and on KV alone; and a bounded soak of whole session
// lifecycles. Whatever breaks, the edge must answer with an exact, documented status (never a
// panic's 500) and must never forward a request without the identity it vouches for.
//
// SOAK_CYCLES, SOAK_CONCURRENCY and SOAK_SECONDS raise the soak's budget for manual runs.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startOrigin, testKeys } from "./harness.mjs";
import {
  ACCESS,
  BROWSER,
  REFRESH,
  addUser,
  assertNothingForwarded,
  auditEvents,
  auditLines,
  login,
  refreshHash,
  secureWorker,
  session,
} from "./support.mjs";

const API = { accept: "application/json" };
const secrets = testKeys();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let origin;
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

/** A worker in front of the shared origin, with secure cookies and the test's keys. */
const worker = (options) => secureWorker(origin, secrets, options);

const post = (edge, path, cookie, headers = {}) =>
  edge.fetch(path, { method: "POST", headers: { ...API, ...(cookie ? { cookie } : {}), ...headers } });

async function statusAndError(res) {
  const text = await res.text();
  let error;
  try {
    error = JSON.parse(text).error;
  } catch {
    error = text.slice(0, 80);
  }
  return `${res.status} ${error}`;
}

describe("KV faults", () => {
  let edge;
  before(async () => {
    // Wrapped KV with no delay: faults are switched per test with kvFault(). The request path
    // reads KV here (REVOCATION_READ=kv); with the authority's read it does not touch KV, and
    // an unreachable authority is revocation-reach.test.mjs's.
    edge = await worker({ slowKv: { ms: 0 }, captureLogs: true, vars: { REVOCATION_READ: "kv" } });
    await addUser(edge, "alice", { roles: ["staff"] });
    await addUser(edge, "bob");
  });
  after(async () => {
    await edge?.kvFault("SESSIONS", null).catch(() => {});
    await edge?.dispose();
  });

  test("SESSIONS down: protected requests fail closed with 503, login, refresh and logout answer 503, nothing is forwarded", async () => {
    const jar = await session(edge, "alice");
    await edge.kvFault("SESSIONS", "down");
    try {
      await origin.clear();
      assert.equal(await statusAndError(await edge.fetch("/api/x", { headers: { ...API, cookie: jar.header() } })), "503 unavailable");
      assert.equal(await statusAndError(await edge.fetch("/page", { headers: { ...BROWSER, cookie: jar.header() } })), "503 unavailable", "navigations are not sent to login");
      const refreshOnly = `${REFRESH}=${jar.cookies.get(REFRESH)}`;
      assert.equal(await statusAndError(await edge.fetch("/page", { headers: { ...BROWSER, cookie: refreshOnly } })), "503 unavailable", "refresh in place");
      assert.equal(await statusAndError((await login(edge, "bob")).res), "503 unavailable");
      assert.equal(await statusAndError(await post(edge, "/auth/refresh", refreshOnly)), "503 unavailable");
      assert.equal(await statusAndError(await post(edge, "/auth/logout", jar.header())), "503 unavailable");
      assert.equal(await statusAndError(await edge.fetch("/auth/sessions", { headers: { cookie: jar.header() } })), "503 unavailable");
      assert.equal((await edge.fetch("/api/x", { headers: API })).status, 401, "no cookie needs no storage");
      assert.equal((await edge.fetch("/.well-known/jwks.json")).status, 200, "the JWKS needs no storage");
      await assertNothingForwarded(origin, "SESSIONS down");
    } finally {
      await edge.kvFault("SESSIONS", null);
    }
    assert.equal((await edge.fetch("/api/x", { headers: { cookie: jar.header() } })).status, 200, "recovers with the store");
    const failures = await auditEvents(edge, (l) => l.event === "store_failure", { count: 7, what: "each refusal is logged as store_failure" });
    assert.ok(failures.length >= 7, "each refusal is logged as store_failure");
    assert.ok(failures.every((l) => !l.detail.includes(jar.cookies.get(REFRESH))), "without the token");
  });

  test("USERS down: existing sessions keep working; login and refresh answer 503", async () => {
    const jar = await session(edge, "alice");
    await edge.kvFault("USERS", "down");
    try {
      await origin.clear();
      const browse = await edge.fetch("/api/users-down", { headers: { cookie: jar.header() } });
      assert.equal(browse.status, 200);
      const [seen] = await origin.requests();
      assert.equal(seen.headers["x-auth-user"], "alice");
      await origin.clear();
      assert.equal(await statusAndError((await login(edge, "alice")).res), "503 unavailable");
      assert.equal(await statusAndError(await post(edge, "/auth/refresh", `${REFRESH}=${jar.cookies.get(REFRESH)}`)), "503 unavailable");
      await assertNothingForwarded(origin, "USERS down");
    } finally {
      await edge.kvFault("USERS", null);
    }
  });

  test("SESSIONS refusing writes: sessions are still served; login, refresh and logout answer 503 and change nothing", async () => {
    const jar = await session(edge, "bob");
    const refreshOnly = `${REFRESH}=${jar.cookies.get(REFRESH)}`;
    await edge.kvFault("SESSIONS", "writes");
    try {
      await origin.clear();
      const browse = await edge.fetch("/api/read-only", { headers: { cookie: jar.header() } });
      assert.equal(browse.status, 200, "reads suffice for a valid access token");
      await browse.body?.cancel();
      assert.equal((await origin.requests())[0].headers["x-auth-user"], "bob");
      await origin.clear();
      const loginRes = await login(edge, "alice");
      assert.equal(await statusAndError(loginRes.res), "503 unavailable");
      assert.deepEqual(loginRes.res.headers.getSetCookie(), [], "no cookies for a session that was not stored");
      assert.equal(await statusAndError(await post(edge, "/auth/refresh", refreshOnly)), "503 unavailable");
      const logout = await post(edge, "/auth/logout", jar.header());
      assert.equal(await statusAndError(logout), "503 unavailable", "a logout that could not be recorded says so");
      await assertNothingForwarded(origin, "writes refused");
    } finally {
      await edge.kvFault("SESSIONS", null);
    }
    // Nothing half-happened: the refresh token was not rotated away, and the session is live.
    const rotated = await post(edge, "/auth/refresh", refreshOnly);
    assert.equal(rotated.status, 200, "the refresh token still rotates once writes work again");
    assert.ok(rotated.headers.getSetCookie().some((c) => c.startsWith(`${REFRESH}=`)), "a real rotation, not grace");
  });

  test("SESSIONS refusing writes (KV-only store): failed logins are still refused, and each lost counter write is logged", async () => {
    // Documented limit (SECURITY.md): on KV alone, counters that cannot be written do not count.
    // (With the session authority the counters live in the Durable Object, not in SESSIONS.)
    const kvOnly = await worker({ slowKv: { ms: 0 }, captureLogs: true, vars: { SESSION_STORE: "kv" } });
    try {
      await addUser(kvOnly, "alice", { roles: ["staff"] });
      await kvOnly.kvFault("SESSIONS", "writes");
      for (let i = 0; i < 3; i++) {
        const { res } = await login(kvOnly, "alice", { password: `wrong-${i}`, headers: { "cf-connecting-ip": "203.0.113.200" } });
        assert.equal(await statusAndError(res), "401 invalid_credentials");
      }
      await kvOnly.kvFault("SESSIONS", null);
      const counterLines = (l) => l.event === "store_failure" && /rate counter/.test(l.detail);
      await auditEvents(kvOnly, counterLines, { count: 3, what: "lost counter writes are logged" });
      await new Promise((resolve) => setTimeout(resolve, 100)); // room for a wrong extra line to show
      assert.equal(auditLines(kvOnly.logs()).filter(counterLines).length, 3, "one store_failure line per uncounted failure");
    } finally {
      await kvOnly.dispose();
    }
  });

  test(
    "a USERS outage during a refresh does not cost the session its refresh token (the account check runs before the rotation)",
    async () => {
      const short = await worker({ slowKv: { ms: 0 }, vars: { REFRESH_GRACE: "2" } });
      try {
        await addUser(short, "carol");
        const jar = await session(short, "carol");
        const refreshOnly = `${REFRESH}=${jar.cookies.get(REFRESH)}`;
        await short.kvFault("USERS", "down");
        assert.equal((await post(short, "/auth/refresh", refreshOnly)).status, 503);
        await short.kvFault("USERS", null);
        await sleep(2200); // past the grace window
        const retry = await post(short, "/auth/refresh", refreshOnly);
        assert.equal(retry.status, 200, "the client's only refresh token must still work");
      } finally {
        await short.dispose();
      }
    },
  );

  test("a corrupt session record fails closed with 503 (KV-only store)", async () => {
    const kvOnly = await worker({ vars: { SESSION_STORE: "kv" } });
    try {
      await addUser(kvOnly, "dave");
      const jar = await session(kvOnly, "dave");
      const sid = jar.cookies.get(REFRESH).split(".")[0];
      await (await kvOnly.kv("SESSIONS")).put(`session:${sid}`, "{not json");
      await origin.clear();
      assert.equal(await statusAndError(await post(kvOnly, "/auth/refresh", `${REFRESH}=${jar.cookies.get(REFRESH)}`)), "503 unavailable");
      assert.equal(await statusAndError(await kvOnly.fetch("/page", { headers: { ...BROWSER, cookie: `${REFRESH}=${jar.cookies.get(REFRESH)}` } })), "503 unavailable");
      await assertNothingForwarded(origin, "corrupt record");
    } finally {
      await kvOnly.dispose();
    }
  });
});

describe("slow KV", () => {
  test("with 250 ms per KV call every flow still completes correctly, and revocation still holds", async () => {
    const edge = await worker({ slowKv: { ms: 250 }, captureLogs: true, vars: { REVOCATION_READ: "kv" } });
    try {
      await addUser(edge, "alice");
      const jar = await session(edge, "alice");
      await origin.clear();
      const started = Date.now();
      const browse = await edge.fetch("/api/slow", { headers: { cookie: jar.header() } });
      assert.equal(browse.status, 200);
      await browse.body?.cancel();
      assert.ok(Date.now() - started >= 250, "the revocation check did wait for the slow store");
      const together = await Promise.all(Array.from({ length: 10 }, (_, i) => edge.fetch(`/api/slow/${i}`, { headers: { cookie: jar.header() } })));
      assert.deepEqual(together.map((r) => r.status), Array(10).fill(200));
      await Promise.all(together.map((r) => r.body?.cancel()));
      const seen = await origin.requests();
      assert.equal(seen.length, 11);
      assert.ok(seen.every((r) => r.headers["x-auth-user"] === "alice"));

      const before = jar.clone();
      const rotated = jar.take(await post(edge, "/auth/refresh", jar.header()));
      assert.equal(rotated.status, 200);
      assert.notEqual(jar.cookies.get(REFRESH), before.cookies.get(REFRESH), "rotated");
      assert.equal((await edge.fetch("/api/slow/after", { headers: { cookie: jar.header() } })).status, 200);

      const out = await post(edge, "/auth/logout", jar.header());
      assert.equal(out.status, 200);
      await origin.clear();
      for (const cookie of [jar.header(), before.header()]) {
        assert.equal(await statusAndError(await edge.fetch("/api/slow/ended", { headers: { ...API, cookie } })), "401 session_ended");
      }
      await assertNothingForwarded(origin, "after logout");
      assert.deepEqual(auditLines(edge.logs()).filter((l) => l.event === "store_failure"), [], "slowness is not failure");
    } finally {
      await edge.dispose();
    }
  });
});

describe("refresh races", () => {
  const N = 20;

  /** N concurrent refreshes of one refresh token; returns the answers with their cookies. */
  async function race(edge, token) {
    const answers = await Promise.all(
      Array.from({ length: N }, () => post(edge, "/auth/refresh", `${REFRESH}=${token}`)),
    );
    return Promise.all(
      answers.map(async (res) => {
        const cookies = Object.fromEntries(res.headers.getSetCookie().map((c) => c.split(";")[0].split(/=(.*)/s).slice(0, 2)));
        return { status: res.status, error: (await res.json()).error, access: cookies[ACCESS], refresh: cookies[REFRESH] };
      }),
    );
  }

  async function assertReuseEndsSession(edge, original, winner) {
    const reused = await post(edge, "/auth/refresh", `${REFRESH}=${original}`);
    assert.equal(await statusAndError(reused), "401 refresh_reused", "the original token after the grace window");
    assert.equal((await post(edge, "/auth/refresh", `${REFRESH}=${winner.refresh}`)).status, 401, "the whole session is gone");
    await origin.clear();
    assert.equal(await statusAndError(await edge.fetch("/api/race", { headers: { ...API, cookie: `${ACCESS}=${winner.access}` } })), "401 session_ended");
    await assertNothingForwarded(origin, "after reuse");
  }

  test(`session authority: ${N} concurrent refreshes give one rotation and ${N - 1} grace answers; reuse after the grace window ends the session`, async () => {
    // 50 ms per KV call widens the window in which the refreshes overlap.
    const edge = await worker({ slowKv: { ms: 50 }, vars: { REFRESH_GRACE: "3" } });
    try {
      await addUser(edge, "racer");
      const jar = await session(edge, "racer");
      const original = jar.cookies.get(REFRESH);
      const answers = await race(edge, original);
      assert.deepEqual(answers.map((a) => a.status), Array(N).fill(200), "nobody is logged out");
      const rotations = answers.filter((a) => a.refresh);
      assert.equal(rotations.length, 1, "exactly one answer carries a new refresh token");
      assert.ok(answers.every((a) => a.access), "every answer carries an access token");
      const [winner] = rotations;
      await origin.clear();
      for (const a of answers) {
        const res = await edge.fetch("/api/race", { headers: { cookie: `${ACCESS}=${a.access}` } });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      assert.ok((await origin.requests()).every((r) => r.headers["x-auth-user"] === "racer"));
      const next = await post(edge, "/auth/refresh", `${REFRESH}=${winner.refresh}`);
      assert.equal(next.status, 200, "the session goes on with the winning cookie");
      winner.refresh = next.headers.getSetCookie().find((c) => c.startsWith(`${REFRESH}=`)).split(";")[0].slice(REFRESH.length + 1);
      await sleep(3200);
      await assertReuseEndsSession(edge, original, winner);
    } finally {
      await edge.dispose();
    }
  });

  test(`KV-only store: ${N} concurrent refreshes all answer 200, the stored winner keeps the session, losers are refused without ending it; reuse after grace ends it`, async (t) => {
    const edge = await worker({ slowKv: { ms: 50 }, vars: { SESSION_STORE: "kv", REFRESH_GRACE: "3" } });
    try {
      await addUser(edge, "racer");
      const jar = await session(edge, "racer");
      const original = jar.cookies.get(REFRESH);
      const sid = original.split(".")[0];
      const answers = await race(edge, original);
      assert.deepEqual(answers.map((a) => a.status), Array(N).fill(200), "nobody is logged out by the race itself");
      const rotations = answers.filter((a) => a.refresh);
      assert.ok(rotations.length >= 1);
      t.diagnostic(`${rotations.length} of ${N} answers rotated`);
      const stored = JSON.parse(await (await edge.kv("SESSIONS")).get(`session:${sid}`));
      const winners = rotations.filter((a) => refreshHash(a.refresh) === stored.refresh.current);
      assert.equal(winners.length, 1, "the stored token is one that was handed out");
      const [winner] = winners;
      // Read-modify-write without compare-and-set: concurrent rotations at one location each
      // hand out a token, and only the last write is kept (SECURITY.md, "KV-only rotation").
      for (const loser of rotations.filter((a) => a !== winner)) {
        assert.equal(await statusAndError(await post(edge, "/auth/refresh", `${REFRESH}=${loser.refresh}`)), "401 session_expired", "a lost rotation is refused...");
      }
      const next = await post(edge, "/auth/refresh", `${REFRESH}=${winner.refresh}`);
      assert.equal(next.status, 200, "...without ending the session: the winner goes on");
      winner.refresh = next.headers.getSetCookie().find((c) => c.startsWith(`${REFRESH}=`)).split(";")[0].slice(REFRESH.length + 1);
      await sleep(3200);
      await assertReuseEndsSession(edge, original, winner);
    } finally {
      await edge.dispose();
    }
  });
});

describe("soak", () => {
  const CYCLES = Number(process.env.SOAK_CYCLES ?? 300);
  const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);
  const BUDGET_MS = Number(process.env.SOAK_SECONDS ?? 60) * 1000;

  test(`${CYCLES} login-browse-refresh-browse-logout cycles, ${CONCURRENCY} at a time, within ${BUDGET_MS / 1000} s`, async (t) => {
    const edge = await worker({ captureLogs: true });
    try {
      const users = Array.from({ length: CONCURRENCY }, (_, i) => `soak-${i}`);
      for (const user of users) await addUser(edge, user);
      await origin.clear();
      const deadline = Date.now() + BUDGET_MS;
      const unexpected = [];
      let started = 0;
      let completed = 0;
      let lost = 0;
      let wronglyAlive = 0;
      const ownerOf = new Map();
      const expect = (res, status, what) => {
        if (res.status !== status) unexpected.push(`${what}: ${res.status}`);
        return res.status === status;
      };
      async function cycle(user, n) {
        ownerOf.set(String(n), user);
        const { res, jar } = await login(edge, user, { headers: { "cf-connecting-ip": `10.0.${n % 250}.1` } });
        await res.body?.cancel();
        if (!expect(res, 200, "login")) return;
        const first = await edge.fetch(`/soak/${n}/a`, { headers: { cookie: jar.header() } });
        await first.body?.cancel();
        if (first.status !== 200) lost++;
        expect(first, 200, "browse");
        const rotated = jar.take(await post(edge, "/auth/refresh", jar.header()));
        await rotated.body?.cancel();
        expect(rotated, 200, "refresh");
        const second = await edge.fetch(`/soak/${n}/b`, { headers: { cookie: jar.header() } });
        await second.body?.cancel();
        if (second.status !== 200) lost++;
        expect(second, 200, "browse after refresh");
        const ended = jar.clone();
        const out = await post(edge, "/auth/logout", jar.header());
        await out.body?.cancel();
        expect(out, 200, "logout");
        const after = await edge.fetch(`/soak/${n}/ended`, { headers: { ...API, cookie: ended.header() } });
        await after.body?.cancel();
        if (after.status !== 401) wronglyAlive++;
        const again = await post(edge, "/auth/refresh", `${REFRESH}=${ended.cookies.get(REFRESH)}`);
        await again.body?.cancel();
        if (again.status !== 401) wronglyAlive++;
        completed++;
      }
      await Promise.all(
        users.map(async (user) => {
          while (started < CYCLES && Date.now() < deadline) {
            await cycle(user, started++);
          }
        }),
      );
      assert.deepEqual(unexpected, [], "no unexpected status");
      assert.equal(lost, 0, "no session lost before its logout");
      assert.equal(wronglyAlive, 0, "no session alive after its logout");
      assert.ok(completed >= Math.min(CYCLES, 50), `${completed} cycles completed in the budget`);
      if (completed < CYCLES) t.diagnostic(`time budget reached after ${completed} of ${CYCLES} cycles`);
      const seen = await origin.requests();
      assert.equal(seen.length, 2 * completed, "exactly the two browses of each cycle reached the origin");
      for (const request of seen) {
        const n = request.url.split("/")[2];
        assert.equal(request.headers["x-auth-user"], ownerOf.get(n), `${request.url} carries its own cycle's identity`);
        assert.ok(!request.url.endsWith("/ended"), "nothing after logout");
      }
      assert.deepEqual(auditLines(edge.logs()).filter((l) => l.event === "store_failure"), []);
    } finally {
      await edge.dispose();
    }
  });
});
