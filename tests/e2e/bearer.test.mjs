// API clients end to end: tokens from POST /auth/token (the only place they appear in a body),
// `Authorization: Bearer` on protected paths and the session endpoints, refresh grants with
// rotation and reuse detection, logout, and every bad credential refused with a challenge and
// nothing forwarded. Against the built worker in workerd, with both session stores, and a real
// recording origin.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startOrigin, testKeys } from "./harness.mjs";
import {
  PASSWORD,
  accessClaims,
  addUser,
  assertNothingForwarded,
  login,
  nowSecs,
  ringKey,
  secureWorker,
  session,
  signHs256,
  tokenRequest,
} from "./support.mjs";


/** A password grant that must succeed; returns its JSON body. */
async function passwordGrant(edge, username, options) {
  const res = await tokenRequest(edge, { grant_type: "password", username, password: PASSWORD }, options);
  assert.equal(res.status, 200, `password grant of ${username}`);
  assert.deepEqual(res.headers.getSetCookie(), [], "tokens in the body set no cookie");
  return res.json();
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });

async function assertChallenge(res, code, what) {
  assert.equal(res.status, 401, what);
  const body = await res.json();
  assert.equal(body.error, code, what);
  const challenge = res.headers.get("www-authenticate") ?? "";
  assert.match(challenge, /^Bearer realm="edgegate"/, `${what}: challenge`);
  if (code !== "unauthenticated") assert.match(challenge, /error="invalid_token"/, `${what}: challenge`);
  assert.deepEqual(res.headers.getSetCookie(), [], `${what}: a bearer refusal clears no cookie`);
  return body;
}

for (const store of ["kv", "authority"]) {
  describe(`API clients with bearer tokens (${store} store)`, () => {
    let origin;
    let edge;
    const keys = testKeys();
    before(async () => {
      origin = await startOrigin();
      edge = await secureWorker(origin, keys, { vars: { SESSION_STORE: store, ACCESS_TTL: "30", CLOCK_LEEWAY: "0", REFRESH_GRACE: "1" } });
      await addUser(edge, "alice", { roles: ["member", "ops"] });
      await addUser(edge, "bob");
    });
    after(async () => {
      await edge?.dispose();
      await origin?.close();
    });

    test("a password grant answers the tokens in the body, and the access token speaks for the session", async () => {
      for (const form of [false, true]) {
        const grant = await passwordGrant(edge, "alice", { form });
        assert.equal(grant.token_type, "Bearer");
        assert.ok(grant.expires_in > 0 && grant.expires_in <= 30, `expires_in ${grant.expires_in}`);
        assert.match(grant.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
        assert.match(grant.refresh_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
        assert.ok(grant.refresh_token_expires_in > grant.expires_in);
        assert.deepEqual(grant.user, { id: "alice", roles: ["member", "ops"] });

        await origin.clear();
        const res = await edge.fetch("/app/data?x=1", { headers: { ...bearer(grant.access_token), accept: "text/html" } });
        assert.equal(res.status, 200, "forwarded, not sent to the login page");
        const [seen] = await origin.requests();
        assert.equal(seen.headers["x-auth-user"], "alice");
        assert.equal(seen.headers["x-auth-session"], grant.session.id);
        assert.ok(seen.headers["x-auth-assertion"], "the assertion goes along");
        assert.equal(seen.headers.authorization, undefined, "the bearer token never reaches the origin");

        const current = await edge.fetch("/auth/session", { headers: bearer(grant.access_token) });
        assert.equal(current.status, 200);
        assert.equal((await current.json()).session.id, grant.session.id);
        const listed = await edge.fetch("/auth/sessions", { headers: bearer(grant.access_token) });
        const { sessions } = await listed.json();
        assert.ok(sessions.some((one) => one.id === grant.session.id && one.current));
      }
    });

    test("a refresh grant rotates the refresh token; the old one coming back ends the session", async () => {
      const first = await passwordGrant(edge, "alice");
      const res = await tokenRequest(edge, { grant_type: "refresh_token", refresh_token: first.refresh_token });
      assert.equal(res.status, 200);
      assert.deepEqual(res.headers.getSetCookie(), []);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(res.headers.get("pragma"), "no-cache");
      const second = await res.json();
      assert.equal(second.session.id, first.session.id, "the same session");
      assert.notEqual(second.refresh_token, first.refresh_token, "rotated");
      assert.notEqual(second.access_token, first.access_token);
      const works = await edge.fetch("/app/x", { headers: bearer(second.access_token) });
      assert.equal(works.status, 200);

      // Past the grace window, the retired token is a stolen copy: the session ends.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const reused = await tokenRequest(edge, { grant_type: "refresh_token", refresh_token: first.refresh_token });
      assert.equal(reused.status, 401);
      assert.equal((await reused.json()).error, "refresh_reused");
      await assertChallenge(await edge.fetch("/app/x", { headers: bearer(second.access_token) }), "session_ended", "after reuse");
      const again = await tokenRequest(edge, { grant_type: "refresh_token", refresh_token: second.refresh_token });
      assert.equal(again.status, 401, "the newer refresh token is dead too");
    });

    test("logout with a bearer token ends that session only, and clears no cookie", async () => {
      const browser = await session(edge, "alice");
      const client = await passwordGrant(edge, "alice");
      const res = await edge.fetch("/auth/logout", {
        method: "POST",
        headers: { ...bearer(client.access_token), accept: "application/json", cookie: browser.header() },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true });
      assert.deepEqual(res.headers.getSetCookie(), []);
      assert.equal(res.headers.get("clear-site-data"), null);
      await assertChallenge(await edge.fetch("/app/x", { headers: bearer(client.access_token) }), "session_ended", "logged out");
      const refreshed = await tokenRequest(edge, { grant_type: "refresh_token", refresh_token: client.refresh_token });
      assert.equal(refreshed.status, 401, "its refresh token is dead");
      const stillIn = await edge.fetch("/app/x", { headers: { cookie: browser.header() } });
      assert.equal(stillIn.status, 200, "the browser's session was not the bearer's");
    });

    test("a session ended from elsewhere refuses its bearer token", async () => {
      const client = await passwordGrant(edge, "alice");
      const browser = await session(edge, "alice");
      const ended = await edge.fetch(`/auth/sessions/${client.session.id}`, {
        method: "DELETE",
        headers: { cookie: browser.header(), "sec-fetch-site": "same-origin" },
      });
      assert.equal(ended.status, 200);
      await assertChallenge(await edge.fetch("/auth/session", { headers: bearer(client.access_token) }), "session_ended", "revoked");
    });

    test("malformed, forged and expired bearer tokens are refused with a challenge and nothing is forwarded", async () => {
      const { kid, key } = ringKey(keys.SESSION_KEYS);
      const header = { alg: "HS256", typ: "at+jwt", kid };
      const expired = signHs256(header, accessClaims({ sub: "alice", now: nowSecs() - 120, ttl: 30 }), key);
      const forged = signHs256(header, accessClaims({ sub: "alice" }), Buffer.alloc(32, 7));
      const { jar } = await login(edge, "bob");
      const cookie = jar.header();
      await origin.clear();
      for (const [authorization, what] of [
        ["Bearer", "no token"],
        ["Bearer a b", "two words"],
        [`Bearer ${"a".repeat(5000)}`, "oversized"],
        ["Bearer x, Basic dXNlcjpwdw==", "two credentials"],
        [`Bearer ${forged}`, "forged"],
        [`Bearer ${expired}`, "expired"],
        ["Bearer not-a-token", "not a JWS"],
      ]) {
        for (const accept of ["application/json", "text/html"]) {
          // Beside bob's valid cookies: a bad bearer token is not excused by them.
          const res = await edge.fetch("/app/x", { headers: { authorization, accept, cookie } });
          const body = await assertChallenge(res, "invalid_token", `${what} (${accept})`);
          if (what === "expired") assert.match(body.message, /expired/);
        }
      }
      await assertNothingForwarded(origin, "bad bearer tokens");
    });

    test("another Authorization scheme is the origin's, passed through beside the cookie session", async () => {
      const jar = await session(edge, "bob");
      await origin.clear();
      const res = await edge.fetch("/app/x", { headers: { cookie: jar.header(), authorization: "Basic dXNlcjpwdw==" } });
      assert.equal(res.status, 200);
      const [seen] = await origin.requests();
      assert.equal(seen.headers.authorization, "Basic dXNlcjpwdw==");
      assert.equal(seen.headers["x-auth-user"], "bob");
    });

    test("a browser's login and refresh never put a token in the body", async () => {
      const { res, jar } = await login(edge, "bob");
      const body = await res.json();
      assert.equal(res.headers.getSetCookie().length, 2);
      assert.ok(res.headers.getSetCookie().every((line) => /HttpOnly/.test(line)));
      const refreshed = await edge.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: jar.header(), accept: "application/json" },
      });
      assert.equal(refreshed.status, 200);
      for (const answer of [body, await refreshed.json()]) {
        const text = JSON.stringify(answer);
        for (const value of jar.cookies.values()) assert.ok(!text.includes(value), "no cookie's token in a body");
        assert.equal(answer.access_token, undefined);
        assert.equal(answer.refresh_token, undefined);
      }
    });

    test("token requests that are not one are refused with a reason", async () => {
      const cases = [
        [{ username: "alice", password: PASSWORD }, 400, "bad_request", /grant_type/],
        [{ grant_type: "client_credentials" }, 400, "bad_request", /grant_type/],
        [{ grant_type: "password", username: "alice" }, 400, "bad_request", /password/],
        [{ grant_type: "refresh_token", refresh_token: "abc" }, 400, "bad_request", /refresh_token/],
        [{ grant_type: "password", username: "alice", password: "wrong" }, 401, "invalid_credentials", /wrong/],
        [{ grant_type: "password", username: "nobody", password: PASSWORD }, 401, "invalid_credentials", /wrong/],
      ];
      for (const [fields, status, code, message] of cases) {
        const res = await tokenRequest(edge, fields);
        assert.equal(res.status, status, JSON.stringify(fields));
        const body = await res.json();
        assert.equal(body.error, code, JSON.stringify(fields));
        assert.match(body.message, message);
        assert.deepEqual(res.headers.getSetCookie(), []);
      }
      const grant = await passwordGrant(edge, "bob");
      const unknown = grant.refresh_token.replace(/\.[\w-]{43}\./, `.${"A".repeat(43)}.`);
      const res = await tokenRequest(edge, { grant_type: "refresh_token", refresh_token: unknown });
      assert.equal(res.status, 401, "a refresh token whose secret is wrong");
      const crossSite = await tokenRequest(
        edge,
        { grant_type: "password", username: "alice", password: PASSWORD },
        { headers: { "sec-fetch-site": "cross-site" } },
      );
      assert.equal(crossSite.status, 403);
      assert.equal((await crossSite.json()).error, "cross_site");
      const notJson = await edge.fetch("/auth/token", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" });
      assert.equal(notJson.status, 400);
    });
  });
}

describe("API clients: the login limits count at /auth/token too", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startOrigin();
    edge = await secureWorker(origin, testKeys(), { vars: { LOGIN_MAX_FAILURES_PER_ACCOUNT: "3" } });
    await addUser(edge, "carol");
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("failed password grants and failed logins share one counter, then 429 with Retry-After", async () => {
    for (let i = 0; i < 2; i += 1) {
      const res = await tokenRequest(edge, { grant_type: "password", username: "carol", password: "wrong" });
      assert.equal(res.status, 401);
    }
    const { res: third } = await login(edge, "carol", { password: "wrong" });
    assert.equal(third.status, 401);
    const limited = await tokenRequest(edge, { grant_type: "password", username: "carol", password: PASSWORD });
    assert.equal(limited.status, 429, "even the right password waits now");
    assert.equal((await limited.json()).error, "rate_limited");
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
  });
});
