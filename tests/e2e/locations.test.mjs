// Many locations, one session: the bounds of SECURITY.md observed across three edge locations
// (locations.mjs: one workerd, three edgegate workers, each with its own KV replica, one shared
// SessionAuthority namespace living at A) in front of a real recording origin.
//
// Time is scaled: KV propagation between locations is 0.5 s and each location caches reads for
// 1 s (misses too), so the KV bound — the longest a write takes to be read everywhere — is 1.5 s
// here for Workers KV's ≈ 60 s (a factor of 40). ACCESS_TTL (30 s, the least the worker accepts)
// is not scaled, so the revocation bound min(ACCESS_TTL + CLOCK_LEEWAY, KV bound) is the KV
// bound. Each measured worst case is printed as `bound <name> claimed=<s> measured=<s>`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startOrigin } from "./harness.mjs";
import { Client, soak, soakUsers, startLocations } from "./locations.mjs";
import { ACCESS, REFRESH, auditLines, pseudonym } from "./support.mjs";

const PASSWORD = "a long enough test password";
const MAX_SESSIONS = 3;
const ACCESS_TTL = 30;
const CLOCK_LEEWAY = 1;
const REFRESH_GRACE = 3;
// Polling interval, request time and the model's 10 ms delivery tick: what a measured delay may
// exceed its bound by without the claim being broken.
const SLACK_MS = 500;
const POLL_MS = 20;

let origin;
let net;
let A;
let B;
let C;
let bound; // ms
let userCount = 0;
const worst = new Map(); // bound name -> { claimed, measured } in seconds

function record(name, claimedMs, measuredMs) {
  const entry = worst.get(name) ?? { claimed: claimedMs / 1000, measured: 0 };
  entry.measured = Math.max(entry.measured, measuredMs / 1000);
  worst.set(name, entry);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh user known at every location. */
function newUser() {
  const name = `user-${++userCount}`;
  net.addUser(name, PASSWORD);
  return name;
}

async function loggedIn(loc, user) {
  const client = new Client();
  const res = await client.login(loc, user, PASSWORD);
  assert.equal(res.status, 200, `login of ${user} at ${loc.name}: ${JSON.stringify(res.json)}`);
  assert.ok(client.access && client.refreshToken, "login sets both cookies");
  return client;
}

/**
 * Polls `client`'s access token at `loc` from `since` until it is refused (401); returns the
 * delay in ms. Fails if it is still served after `limitMs`, or answers anything but 200 or 401.
 */
async function refusedWithin(client, loc, since, limitMs) {
  for (;;) {
    const status = await client.request(loc);
    const elapsed = Date.now() - since;
    if (status === 401) return elapsed;
    assert.equal(status, 200, `request at ${loc.name}`);
    assert.ok(elapsed <= limitMs, `still served at ${loc.name} ${elapsed} ms after the revocation (bound ${limitMs} ms)`);
    await sleep(POLL_MS);
  }
}

/** The revocation at `since` holds: refused at once at `atOnce`, within the bound at `later`. */
async function revocationHolds(name, client, since, { atOnce = [], later = [] }) {
  for (const loc of atOnce) {
    assert.equal(await client.request(loc), 401, `refused at ${loc.name} at once`);
    record(`${name}_at_${loc.name}`, 0, Date.now() - since);
  }
  await Promise.all(
    later.map(async (loc) => record(`${name}_at_${loc.name}`, bound, await refusedWithin(client, loc, since, bound + SLACK_MS))),
  );
}

before(async () => {
  origin = await startOrigin();
  net = await startLocations({
    originUrl: origin.url,
    vars: {
      MAX_SESSIONS: String(MAX_SESSIONS),
      ACCESS_TTL: String(ACCESS_TTL),
      CLOCK_LEEWAY: String(CLOCK_LEEWAY),
      REFRESH_GRACE: String(REFRESH_GRACE),
    },
  });
  [A, B, C] = net.locations;
  bound = net.kv.boundMs;
});

after(async () => {
  if (net) console.log(`scale real_seconds_per_second=${net.kv.scale} kv_bound=${(bound / 1000).toFixed(3)}`);
  for (const [name, { claimed, measured }] of worst) {
    console.log(`bound ${name} claimed=${claimed.toFixed(3)} measured=${measured.toFixed(3)}`);
  }
  await net?.stop();
  await origin?.close();
});

describe("the harness", () => {
  test("each location's requests carry their own request.cf.colo", async () => {
    for (const loc of net.locations) {
      const res = await loc.fetch(loc.probe);
      assert.deepEqual(await res.json(), { colo: loc.colo });
    }
    assert.deepEqual(
      net.locations.map((l) => l.colo),
      ["AAA", "BBB", "CCC"],
    );
  });

  test("KV replicas are separate: a session written at A reaches B only after propagation", async () => {
    const started = Date.now();
    const client = await loggedIn(A, newUser());
    const answered = Date.now();
    const key = `session:${client.sid}`;
    assert.ok(A.kvPeek("SESSIONS", key), "visible at once where it was written");
    // Written after `started`, before `answered`: at B no sooner than the delay after the one,
    // and no later than the delay (plus slack) after the other.
    for (;;) {
      const now = Date.now();
      const there = B.kvPeek("SESSIONS", key) !== null;
      if (there) {
        assert.ok(now - started >= net.kv.propagationMs, `at B after ${now - started} ms, before the delay`);
        break;
      }
      assert.ok(now - answered <= net.kv.propagationMs + SLACK_MS, "propagated within the delay");
      await sleep(5);
    }
  });

  test("the KV model: a cached miss outlives the write's arrival until its cacheTtl; a named cache_ttl is honoured, scaled", async () => {
    const kvAt = (loc) => `http://${net.kv.address(loc, "SESSIONS")}`;
    const get = async (loc, key, query = "") => (await fetch(`${kvAt(loc)}/${key}?urlencoded=true${query}`)).status;
    const key = `model-${Date.now()}`;
    assert.equal(await get("B", key), 404, "a miss at B, now cached");
    assert.equal((await fetch(`${kvAt("A")}/${key}?urlencoded=true`, { method: "PUT", body: "v" })).status, 200);
    const written = Date.now();
    assert.equal(await get("A", key), 200, "at once where written");
    await sleep(net.kv.propagationMs + 100);
    assert.ok(B.kvPeek("SESSIONS", key), "B's replica has it");
    assert.equal(await get("B", key), 404, "but B still answers its cached miss");
    await sleep(Math.max(0, written + net.kv.cacheTtlMs + 50 - Date.now()));
    assert.equal(await get("B", key), 200, "until the cached miss expires");
    // cache_ttl=2 real seconds is 50 ms at this scale.
    const other = `${key}-ttl`;
    assert.equal(await get("C", other, "&cache_ttl=2"), 404);
    await fetch(`${kvAt("A")}/${other}?urlencoded=true`, { method: "PUT", body: "v" });
    await sleep(net.kv.propagationMs + 100);
    assert.equal(await get("C", other, "&cache_ttl=2"), 200);
  });
});

describe("a session moves between locations", () => {
  test("login at A: a request at B and at C is served at once, with identity", async () => {
    const user = newUser();
    const client = await loggedIn(A, user);
    await origin.clear();
    assert.equal(await client.request(B), 200);
    assert.equal(await client.request(C), 200);
    const seen = await origin.requests();
    assert.deepEqual(
      seen.map((r) => r.headers["x-auth-user"]),
      [user, user],
    );
  });

  test(
    "login at A: a refresh at B succeeds at once",
    async () => {
      const client = await loggedIn(A, newUser());
      const res = await client.refresh(B);
      assert.equal(res.status, 200, `refresh at B: ${JSON.stringify(res.json)}`);
      assert.ok(res.set[REFRESH], "a rotation");
      assert.equal(await client.request(B), 200);
    },
  );

  test(
    "login at A: a logout at B at once ends the session",
    async () => {
      const client = await loggedIn(A, newUser());
      const stolen = new Client(client.cookies);
      assert.equal((await client.call(B, "POST", "/auth/logout")).status, 200);
      const since = Date.now();
      await revocationHolds("logout_right_after_login", stolen, since, { later: [A, B, C] });
      assert.equal((await stolen.refresh(A)).status, 401, "no refresh");
    },
  );

  test("login at A: once the session has reached B, a refresh at B rotates and the new token is served everywhere", async () => {
    const client = await loggedIn(A, newUser());
    await sleep(bound + SLACK_MS);
    const before = client.refreshToken;
    const res = await client.refresh(B);
    assert.equal(res.status, 200, `refresh at B: ${JSON.stringify(res.json)}`);
    assert.ok(res.set[REFRESH] && res.set[REFRESH] !== before, "a new refresh token");
    for (const loc of net.locations) assert.equal(await client.request(loc), 200, `served at ${loc.name}`);
    const again = await client.refresh(C);
    assert.equal(again.status, 200, "the rotated token refreshes at another location");
  });
});

describe("where it happened", () => {
  test("audit lines name the location that wrote them, so one session can be followed across locations", async () => {
    const client = await loggedIn(A, newUser());
    assert.equal((await client.refresh(B)).status, 200);
    assert.equal((await client.call(C, "POST", "/auth/logout")).status, 200);
    const session = pseudonym(client.sid);
    const deadline = Date.now() + 3000;
    let events = [];
    while (!events.some((e) => e.event === "logout") && Date.now() < deadline) {
      await sleep(POLL_MS);
      events = auditLines(net.logs()).filter((e) => e.session === session);
    }
    const where = Object.fromEntries(events.map((e) => [e.event, e.location]));
    assert.deepEqual(where, { login_ok: "AAA", refresh: "BBB", logout: "CCC" }, JSON.stringify(events));
  });
});

describe("revocations reach every location within the bound", () => {
  test("logout at A: refused at A at once, at B and C within the KV bound; no refresh anywhere", async () => {
    const client = await loggedIn(A, newUser());
    await sleep(bound + SLACK_MS);
    // B and C have just read (and cached) "not revoked".
    assert.equal(await client.request(B), 200);
    assert.equal(await client.request(C), 200);
    const stolen = new Client(client.cookies);
    const res = await client.call(A, "POST", "/auth/logout");
    assert.equal(res.status, 200);
    const since = Date.now();
    await revocationHolds("logout", stolen, since, { atOnce: [A], later: [B, C] });
    for (const loc of net.locations) {
      assert.equal((await stolen.refresh(loc)).status, 401, `no refresh at ${loc.name}`);
    }
  });

  // The location that handles a revocation makes it final there at once, whichever it is.
  const atB = {
    logout: (client) => client.call(B, "POST", "/auth/logout"),
    logout_everywhere: (client) => client.call(B, "DELETE", "/auth/sessions"),
    end_session: async (client) => {
      const other = await loggedIn(A, client.user);
      await sleep(bound + SLACK_MS);
      return other.call(B, "DELETE", `/auth/sessions/${client.sid}`);
    },
  };
  for (const [name, revoke] of Object.entries(atB)) {
    test(
      `${name.replace("_", " ")} at B: refused at B at once`,
      async () => {
        const user = newUser();
        const client = await loggedIn(A, user);
        client.user = user;
        await sleep(bound + SLACK_MS);
        assert.equal(await client.request(B), 200);
        const stolen = new Client(client.cookies);
        const res = await revoke(client);
        assert.equal(res.status, 200, JSON.stringify(res.json));
        const since = Date.now();
        const first = await stolen.request(B);
        const delay = first === 401 ? Date.now() - since : await refusedWithin(stolen, B, since, bound + SLACK_MS);
        record(`${name}_at_B_final_at_B`, 0, delay);
        assert.equal(first, 401, `B served the revoked session for ${delay} ms more`);
      },
    );
  }

  test("log out everywhere at A: every session refused at A at once, at B and C within the KV bound", async () => {
    const user = newUser();
    const clients = [await loggedIn(A, user), await loggedIn(B, user), await loggedIn(C, user)];
    await sleep(bound + SLACK_MS);
    for (const client of clients) for (const loc of net.locations) assert.equal(await client.request(loc), 200);
    const copies = clients.map((c) => new Client(c.cookies));
    const res = await clients[0].call(A, "DELETE", "/auth/sessions");
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const since = Date.now();
    await Promise.all(copies.map((copy) => revocationHolds("logout_everywhere", copy, since, { atOnce: [A], later: [B, C] })));
    for (const copy of copies) assert.equal((await copy.refresh(B)).status, 401, "no refresh");
  });

  test("ending another session from A: that session refused at A at once, at B and C within the KV bound", async () => {
    const user = newUser();
    const here = await loggedIn(A, user);
    const there = await loggedIn(B, user);
    await sleep(bound + SLACK_MS);
    assert.equal(await there.request(B), 200);
    assert.equal(await there.request(C), 200);
    const res = await here.call(A, "DELETE", `/auth/sessions/${there.sid}`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const since = Date.now();
    await revocationHolds("end_session", there, since, { atOnce: [A], later: [B, C] });
    assert.equal((await there.refresh(B)).status, 401, "the ended session does not refresh");
    assert.equal(await here.request(B), 200, "the session that ended it lives on");
    assert.equal((await here.refresh(C)).status, 200);
  });
});

describe("a stolen refresh token", () => {
  test("presented at B while the victim refreshes at A: one rotation wins; reuse after the grace window ends the session everywhere", async () => {
    const victim = await loggedIn(A, newUser());
    await sleep(bound + SLACK_MS);
    const thief = new Client(victim.cookies);
    const [atA, atB] = await Promise.all([victim.refresh(A), thief.refresh(B)]);
    assert.equal(atA.status, 200, `victim at A: ${JSON.stringify(atA.json)}`);
    assert.equal(atB.status, 200, `thief at B: ${JSON.stringify(atB.json)}`);
    const rotated = [atA, atB].filter((res) => res.set[REFRESH]);
    assert.equal(rotated.length, 1, "exactly one rotation; the other is a grace answer (access token only)");
    for (const res of [atA, atB]) assert.ok(res.set[ACCESS], "both get an access token");
    const [winner, loser, loserAt] = atA.set[REFRESH] ? [victim, thief, B] : [thief, victim, A];
    // Outside the grace window the retired token is reuse: the session ends everywhere.
    await sleep(REFRESH_GRACE * 1000 + 1100);
    const reuse = await loser.refresh(loserAt);
    assert.equal(reuse.status, 401, `reuse at ${loserAt.name}: ${JSON.stringify(reuse.json)}`);
    const since = Date.now();
    // Access tokens: refused where the authority lives at once, elsewhere within the KV bound
    // (the location that detected the reuse included, until revocations are final where they
    // are handled). Refresh tokens: dead everywhere at once.
    await Promise.all([
      ...[winner, loser].map((client) => revocationHolds("reuse", new Client(client.cookies), since, { atOnce: [A], later: [B, C] })),
      ...net.locations.map(async (loc) => {
        const res = await new Client(winner.cookies).refresh(loc);
        assert.equal(res.status, 401, `the winner's refresh token is dead at ${loc.name}`);
      }),
    ]);
  });
});

describe("the session limit", () => {
  test(`holds exactly with logins spread over the locations (MAX_SESSIONS = ${MAX_SESSIONS})`, async () => {
    const user = newUser();
    const where = [A, B, C, A, B, C, A, B, C];
    const clients = await Promise.all(where.map((loc) => loggedIn(loc, user)));
    await sleep(bound + SLACK_MS);
    const results = await Promise.all(clients.map((client, i) => client.refresh(where[i])));
    const live = results.filter((res) => res.status === 200);
    assert.equal(live.length, MAX_SESSIONS, `refreshable sessions: ${results.map((r) => r.status)}`);
    assert.ok(results.every((res) => res.status === 200 || res.status === 401));
    const survivor = clients[results.findIndex((res) => res.status === 200)];
    for (const loc of net.locations) {
      const listed = await survivor.call(loc, "GET", "/auth/sessions");
      assert.equal(listed.status, 200);
      assert.equal(listed.json.sessions.length, MAX_SESSIONS, `sessions listed at ${loc.name}`);
    }
  });
});

describe("faults at one location", () => {
  test("KV down at B: logins and refreshes at B fail closed (503); its requests are still judged by the authority; A and C keep serving", async () => {
    const client = await loggedIn(A, newUser());
    await sleep(bound + SLACK_MS);
    net.kv.fault("B", { down: true });
    try {
      await origin.clear();
      // Whether a session stands is the authority's answer, which B's KV does not hold.
      assert.equal(await client.request(B), 200);
      assert.equal((await client.refresh(B)).status, 503, "the account check reads B's KV");
      const login = await new Client().login(B, newUser(), PASSWORD);
      assert.equal(login.status, 503);
      assert.equal(await client.request(A), 200);
      assert.equal(await client.request(C), 200);
      assert.equal((await origin.requests()).length, 3, "only the session's requests were forwarded");
      assert.equal((await client.refresh(A)).status, 200, "A refreshes");
    } finally {
      net.kv.fault("B", {});
    }
    assert.equal((await client.refresh(B)).status, 200, "B refreshes again once its KV is back");
  });

  test("the authority failing: login and refresh fail closed everywhere; access tokens keep working until they expire", async () => {
    const user = newUser();
    const client = await loggedIn(B, user);
    const issued = Date.now();
    await sleep(bound + SLACK_MS);
    // The authority lives at A and writes through to A's KV: with that replica down every
    // command fails (503), while B and C still read their own replicas.
    net.kv.fault("A", { down: true });
    try {
      await origin.clear();
      for (const loc of [B, C]) {
        const login = await new Client().login(loc, user, PASSWORD);
        assert.equal(login.status, 503, `login at ${loc.name}`);
        const refresh = await client.refresh(loc);
        assert.equal(refresh.status, 503, `refresh at ${loc.name}`);
        assert.equal(refresh.set[REFRESH], undefined, "no rotation");
        assert.equal(await client.request(loc), 200, `the access token works at ${loc.name}`);
      }
      const expires = issued + ACCESS_TTL * 1000;
      await sleep(expires - Date.now() - 1500);
      assert.equal(await client.request(B), 200, "still served just before it expires");
      await sleep(expires + CLOCK_LEEWAY * 1000 + 1500 - Date.now());
      assert.equal(await client.request(B), 401, "refused once expired");
      assert.equal(await client.request(C), 401);
      const forwarded = await origin.requests();
      assert.equal(forwarded.length, 3, "only the valid access token's requests were forwarded");
    } finally {
      net.kv.fault("A", {});
    }
    assert.equal((await client.refresh(B)).status, 200, "the refresh token survived the outage");
  });
});

describe("soak", () => {
  test("200 session lifecycles over the locations: no live session refused, no logged-out one served past its bound", async () => {
    const lifecycles = 200;
    const figures = await soak(net.locations, {
      lifecycles,
      concurrency: 40,
      password: PASSWORD,
      users: soakUsers(net, lifecycles, PASSWORD),
      refreshAfterMs: bound,
      boundMs: bound,
      slackMs: SLACK_MS,
    });
    console.log(`soak ${JSON.stringify(figures)}`);
    assert.deepEqual(figures.sample, []);
    assert.equal(figures.lifecycles, lifecycles);
    assert.equal(figures.refused, 0, "live sessions refused");
    assert.equal(figures.servedPastBound, 0, "logged-out sessions served past the bound");
    assert.equal(figures.servedAtOnce, 0, "a logout is final at once where it was pressed");
  });
});
