// The worker's HTTP contract, end to end: the release wasm in workerd with local KV, in front of
// a real recording origin process. Identity assertions are checked with jose, an independent
// JOSE implementation, against the worker's own JWKS.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { startOrigin, startWorker, testKeys, wranglerVars } from "./harness.mjs";
import { addUser, BROWSER, login, PASSWORD } from "./support.mjs";

let origin;
let edge;
let backend;
const secrets = testKeys();
/** The vars of every worker in this file: the recording origin, Secure cookies, the backend. */
const baseVars = () => ({ ORIGIN_URL: origin.url, COOKIE_SECURE: "true", SESSION_STORE: backend });

before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

// The whole contract, once per session store: the per-user authority and Workers KV alone.
for (const store of ["authority", "kv"]) {
  describe(`${store} session store`, () => {
    before(async () => {
      backend = store;
      edge = await startWorker({ vars: baseVars(), secrets });
      await addUser(edge, "alice", { roles: ["admin", "staff"] });
      await addUser(edge, "bob");
      await addUser(edge, "carol", { disabled: true });
    });
    after(async () => {
      await edge?.dispose();
    });


    describe("login", () => {
      test("JSON login answers the user and session and sets both cookies", async () => {
        const { res, jar } = await login(edge, "alice");
        assert.equal(res.status, 200);
        const body = await res.json();
        assert.deepEqual(body.user, { id: "alice", roles: ["admin", "staff"] });
        assert.match(body.session.id, /^[A-Za-z0-9_-]{22}$/);
        const cookies = res.headers.getSetCookie();
        const access = cookies.find((c) => c.startsWith("__Host-eg_access="));
        const refresh = cookies.find((c) => c.startsWith("__Host-eg_refresh="));
        assert.match(access, /; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=\d+/);
        assert.match(refresh, /Secure; HttpOnly; SameSite=Strict; Max-Age=\d+/);
        assert.equal(res.headers.get("cache-control"), "no-store");
        assert.equal(jar.cookies.size, 2);
      });

      test("form login redirects to a same-origin next and every other next falls back to /", async () => {
        const cases = [
          ["/reports?year=2024", "/reports?year=2024"],
          ["https://evil.example/", "/"],
          ["//evil.example", "/"],
          ["/\\evil.example", "/"],
          ["/%2F%2Fevil.example", "/"],
          ["/%5Cevil.example", "/"],
          ["javascript:alert(1)", "/"],
        ];
        for (const [next, expected] of cases) {
          const res = await edge.fetch("/auth/login", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ username: "bob", password: PASSWORD, next }).toString(),
          });
          assert.equal(res.status, 303, next);
          assert.equal(res.headers.get("location"), expected, next);
        }
      });

      test("wrong passwords, unknown and disabled users get the same 401", async () => {
        for (const [name, password] of [["alice", "wrong"], ["nobody", PASSWORD], ["carol", PASSWORD]]) {
          const { res } = await login(edge, name, { password, headers: { "cf-connecting-ip": `198.51.100.${name.length}` } });
          assert.equal(res.status, 401, name);
          assert.deepEqual(await res.json(), { error: "invalid_credentials", message: "wrong username or password" });
        }
      });

      test("a failed form login returns to the login page with the error and next", async () => {
        const res = await edge.fetch("/auth/login", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "username=alice&password=nope&next=%2Fdocs",
        });
        assert.equal(res.status, 303);
        assert.equal(res.headers.get("location"), "/auth/login?error=invalid_credentials&next=%2Fdocs&username=alice");
      });

      test("malformed bodies get 400 JSON errors", async () => {
        const res = await edge.fetch("/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
        assert.equal(res.status, 400);
        assert.equal((await res.json()).error, "bad_request");
      });

      test("failed logins are rate limited per account with Retry-After", async () => {
        await addUser(edge, "dave");
        for (let i = 0; i < 5; i++) {
          const { res } = await login(edge, "dave", { password: "guess" + i, headers: { "cf-connecting-ip": `203.0.113.${i}` } });
          assert.equal(res.status, 401);
        }
        const { res } = await login(edge, "dave", { headers: { "cf-connecting-ip": "203.0.113.99" } });
        assert.equal(res.status, 429, "even the right password is refused while limited");
        assert.ok(Number(res.headers.get("retry-after")) > 0);
        assert.equal((await res.json()).error, "rate_limited");
      });

      test("cross-site login and logout are refused with 403", async () => {
        for (const headers of [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, { origin: "https://evil.example" }, { origin: "null" }]) {
          for (const path of ["/auth/login", "/auth/logout", "/auth/refresh"]) {
            const res = await edge.fetch(path, {
              method: "POST",
              headers: { "content-type": "application/json", ...headers },
              body: JSON.stringify({ username: "alice", password: PASSWORD }),
            });
            assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
            assert.equal((await res.json()).error, "cross_site");
          }
        }
        const { res } = await login(edge, "bob", { headers: { origin: edge.url, "sec-fetch-site": "same-origin" } });
        assert.equal(res.status, 200, "same-origin requests pass");
        const form = await edge.fetch("/auth/login", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" },
          body: `username=bob&password=${encodeURIComponent(PASSWORD)}`,
        });
        assert.equal(form.status, 303, "a cross-site form post goes back to the login page");
        assert.equal(form.headers.get("location"), "/auth/login?error=forbidden");
        assert.deepEqual(form.headers.getSetCookie(), [], "and creates no session");
      });
    });

    describe("forwarding", () => {
      test("an authenticated request reaches the origin intact, with identity and without tokens", async () => {
        const { jar } = await login(edge, "alice");
        await origin.clear();
        const body = JSON.stringify({ hello: "origin" });
        const res = await edge.fetch("/api/items?x=1&y=2", {
          method: "PUT",
          headers: {
            cookie: `theme=dark; ${jar.header()}`,
            "content-type": "application/json",
            "x-auth-user": "mallory",
            "X-Auth_Roles": "root",
            "x-auth-session": "spoofed",
            "x-forwarded-user": "mallory",
            "x-custom": "kept",
          },
          body,
        });
        assert.equal(res.status, 200);
        const [seen] = await origin.requests();
        assert.equal(seen.method, "PUT");
        assert.equal(seen.url, "/api/items?x=1&y=2");
        assert.equal(seen.body, body);
        assert.equal(seen.headers["x-custom"], "kept");
        assert.equal(seen.headers["x-auth-user"], "alice");
        assert.equal(seen.headers["x-auth-roles"], "admin,staff");
        assert.match(seen.headers["x-auth-session"], /^[A-Za-z0-9_-]{22}$/);
        assert.equal(seen.headers["x-forwarded-user"], undefined);
        assert.equal(seen.headers.cookie, "theme=dark");
        const raw = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
        assert.equal(raw.filter((h) => h.replace(/_/g, "-").startsWith("x-auth-")).length, 4, "exactly our four identity headers");
      });

      test("the assertion verifies with jose against the published JWKS", async () => {
        const { jar } = await login(edge, "alice");
        await origin.clear();
        await edge.fetch("/whoami", { headers: { cookie: jar.header() } });
        const [seen] = await origin.requests();
        const jwks = await (await edge.fetch("/.well-known/jwks.json")).json();
        assert.equal(jwks.keys[0].kid, "test-assertion");
        const vars = wranglerVars();
        const { payload, protectedHeader } = await jwtVerify(seen.headers["x-auth-assertion"], createLocalJWKSet(jwks), {
          issuer: vars.ISSUER,
          audience: vars.ORIGIN_AUDIENCE,
          algorithms: ["EdDSA"],
          typ: "edgegate-assertion+jwt",
        });
        assert.equal(protectedHeader.kid, "test-assertion");
        assert.equal(payload.sub, "alice");
        assert.equal(payload.sid, seen.headers["x-auth-session"]);
        assert.deepEqual(payload.roles, ["admin", "staff"]);
        assert.ok(payload.exp - payload.iat <= 60);
      });

      test("without a session: navigations are redirected to login, API calls get 401, nothing reaches the origin", async () => {
        await origin.clear();
        const nav = await edge.fetch("/reports?q=1", { headers: BROWSER });
        assert.equal(nav.status, 302);
        assert.equal(nav.headers.get("location"), "/auth/login?next=/reports%3Fq%3D1");
        const api = await edge.fetch("/api/items", { headers: { accept: "application/json" } });
        assert.equal(api.status, 401);
        assert.equal((await api.json()).error, "unauthenticated");
        const forged = await edge.fetch("/api/items", { headers: { cookie: "__Host-eg_access=eyJhbGciOiJub25lIn0.e30." } });
        assert.equal(forged.status, 401);
        assert.deepEqual(await origin.requests(), []);
      });

      test("public paths pass through without identity", async () => {
        await origin.clear();
        const res = await edge.fetch("/favicon.ico", { headers: { "x-auth-user": "mallory" } });
        assert.equal(res.status, 200);
        const [seen] = await origin.requests();
        assert.equal(seen.headers["x-auth-user"], undefined);
      });
    });

    describe("refresh and logout", () => {
      test("refresh rotates the refresh token; reuse after the grace window ends the session", async () => {
        // A two-second grace window, so the test can step past it.
        const short = await startWorker({ vars: { ...baseVars(), REFRESH_GRACE: "2" }, secrets });
        try {
          await addUser(short, "bob");
          const { jar } = await login(short, "bob");
          const firstRefresh = jar.cookies.get("__Host-eg_refresh");
          const rotated = jar.take(await short.fetch("/auth/refresh", { method: "POST", headers: { cookie: jar.header() } }));
          assert.equal(rotated.status, 200);
          assert.notEqual(jar.cookies.get("__Host-eg_refresh"), firstRefresh);

          const stale = `__Host-eg_refresh=${firstRefresh}`;
          const grace = await short.fetch("/auth/refresh", { method: "POST", headers: { cookie: stale } });
          assert.equal(grace.status, 200, "a second tab inside the grace window is not an attack");
          assert.ok(!grace.headers.getSetCookie().some((c) => c.startsWith("__Host-eg_refresh=")), "grace keeps the refresh token");

          await new Promise((resolve) => setTimeout(resolve, 2100));
          const reused = await short.fetch("/auth/refresh", { method: "POST", headers: { cookie: stale } });
          assert.equal(reused.status, 401);
          assert.equal((await reused.json()).error, "refresh_reused");
          assert.ok(reused.headers.getSetCookie().every((c) => /Max-Age=0/.test(c)), "cookies are cleared");
          const legit = await short.fetch("/auth/refresh", { method: "POST", headers: { cookie: jar.header() } });
          assert.equal(legit.status, 401, "the whole session is gone");
          const browse = await short.fetch("/api", { headers: { cookie: jar.header() } });
          assert.equal(browse.status, 401, "its access token is revoked too");
        } finally {
          await short.dispose();
        }
      });

      test("unknown refresh tokens get 401 with cleared cookies", async () => {
        const res = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: "__Host-eg_refresh=AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } });
        assert.equal(res.status, 401);
        assert.ok(res.headers.getSetCookie().length === 2);
      });

      test("an expired access token is refreshed in place on navigations and API calls", async () => {
        const { jar } = await login(edge, "alice");
        jar.cookies.set("__Host-eg_access", "expired.or.garbage");
        await origin.clear();
        const res = jar.take(await edge.fetch("/dashboard", { headers: { ...BROWSER, cookie: jar.header() } }));
        assert.equal(res.status, 200);
        const names = res.headers.getSetCookie().map((c) => c.split("=")[0]);
        assert.deepEqual(names.sort(), ["__Host-eg_access", "__Host-eg_refresh"]);
        const [seen] = await origin.requests();
        assert.equal(seen.headers["x-auth-user"], "alice");
        const again = await edge.fetch("/dashboard", { headers: { cookie: jar.header() } });
        assert.equal(again.status, 200, "the new access cookie works");
        jar.cookies.set("__Host-eg_access", "expired.or.garbage");
        const api = jar.take(await edge.fetch("/api/items", { headers: { accept: "application/json", cookie: jar.header() } }));
        assert.equal(api.status, 200, "same-site API calls are refreshed in place too");
        assert.equal(api.headers.getSetCookie().length, 2);
      });

      test("logout revokes the session, clears cookies and sends Clear-Site-Data", async () => {
        const { jar } = await login(edge, "alice");
        const before = jar.header();
        const res = await edge.fetch("/auth/logout", { method: "POST", headers: { cookie: before, accept: "application/json" } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("clear-site-data"), '"cookies"');
        assert.ok(res.headers.getSetCookie().every((c) => /Max-Age=0/.test(c)));
        const after = await edge.fetch("/api", { headers: { cookie: before } });
        assert.equal(after.status, 401, "the old access token is refused at once at this location");
        assert.equal((await after.json()).error, "session_ended");
      });
    });

    describe("session endpoints", () => {
      test("session, sessions, revoke one and revoke all", async () => {
        await addUser(edge, "erin");
        const a = await login(edge, "erin", { headers: { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0" } });
        const b = await login(edge, "erin");
        const mine = await (await edge.fetch("/auth/session", { headers: { cookie: a.jar.header() } })).json();
        assert.equal(mine.user.id, "erin");
        assert.ok(mine.session.created_at <= mine.session.access_expires_at);
        assert.ok(mine.session.expires_at - mine.session.created_at >= 1800, "the session's expiry, not the token's");

        const list = await (await edge.fetch("/auth/sessions", { headers: { cookie: a.jar.header() } })).json();
        assert.equal(list.sessions.length, 2);
        const current = list.sessions.find((s) => s.current);
        assert.equal(current.id, mine.session.id);
        assert.equal(current.device, "Firefox on Linux");
        const other = list.sessions.find((s) => !s.current);

        const del = await edge.fetch(`/auth/sessions/${other.id}`, { method: "DELETE", headers: { cookie: a.jar.header() } });
        assert.equal(del.status, 200);
        assert.equal((await edge.fetch("/api", { headers: { cookie: b.jar.header() } })).status, 401, "the other device is out");

        const bob = await login(edge, "bob");
        const foreign = await edge.fetch(`/auth/sessions/${mine.session.id}`, { method: "DELETE", headers: { cookie: bob.jar.header() } });
        assert.equal(foreign.status, 404, "nobody ends another user's session");

        const all = await edge.fetch("/auth/sessions", { method: "DELETE", headers: { cookie: a.jar.header() } });
        assert.equal(all.status, 200);
        assert.equal((await edge.fetch("/api", { headers: { cookie: a.jar.header() } })).status, 401);
      });

      test("a refresh in place reaches the client with a failed answer too", async () => {
        const { jar } = await login(edge, "alice");
        jar.cookies.delete("__Host-eg_access"); // expired, and dropped by the browser
        const spent = jar.cookies.get("__Host-eg_refresh");
        const res = jar.take(await edge.fetch("/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA", { method: "DELETE", headers: { cookie: jar.header() } }));
        assert.equal(res.status, 404, "no such session");
        assert.notEqual(jar.cookies.get("__Host-eg_refresh"), spent, "the rotated refresh token comes with the 404");
        assert.ok(jar.cookies.has("__Host-eg_access"));
        const next = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: jar.header() } });
        assert.equal(next.status, 200, "and it is the token that works");
      });

      test("session endpoints need a session", async () => {
        for (const [method, path] of [["GET", "/auth/session"], ["GET", "/auth/sessions"], ["DELETE", "/auth/sessions"]]) {
          const res = await edge.fetch(path, { method });
          assert.equal(res.status, 401, path);
        }
        assert.equal((await edge.fetch("/auth/nothing")).status, 404);
      });
    });

    describe("pages", () => {
      test("login and account pages carry a strict CSP and no-store", async () => {
        for (const path of ["/auth/login", "/auth/account"]) {
          const res = await edge.fetch(path);
          assert.equal(res.status, 200, path);
          assert.match(res.headers.get("content-type"), /text\/html/);
          assert.match(res.headers.get("content-security-policy"), /default-src 'none'.*frame-ancestors 'none'/);
          assert.equal(res.headers.get("cache-control"), "no-store");
        }
        assert.equal((await edge.fetch("/auth/assets/..%2Fwrangler.toml")).status, 404);
      });
    });

    describe("failure modes", () => {
      test("a broken configuration answers 500 with a clear, secret-free message on every request", async () => {
        const broken = await startWorker({ secrets: { ...testKeys(), SESSION_KEYS: "k1:c2hvcnQ" } });
        try {
          for (const path of ["/", "/auth/login", "/.well-known/jwks.json"]) {
            const res = await broken.fetch(path);
            assert.equal(res.status, 500);
            const body = await res.json();
            assert.equal(body.error, "configuration_error");
            assert.match(body.message, /SESSION_KEYS/);
            assert.doesNotMatch(body.message, /c2hvcnQ/);
          }
        } finally {
          await broken.dispose();
        }
      });

      test("a KV outage fails closed: 503, nothing forwarded", async () => {
        const { jar } = await login(edge, "alice");
        // With the KV revocation read (the one read with `kv`, a choice with `authority`).
        const down = await startWorker({ vars: { ...baseVars(), REVOCATION_READ: "kv" }, secrets, faultyKv: ["SESSIONS", "USERS"] });
        try {
          await origin.clear();
          const browse = await down.fetch("/api", { headers: { cookie: jar.header() } });
          assert.equal(browse.status, 503);
          assert.equal((await browse.json()).error, "unavailable");
          const nav = await down.fetch("/page", { headers: { ...BROWSER, cookie: jar.header() } });
          assert.equal(nav.status, 503, "navigations are not bounced to login either");
          const loginRes = await login(down, "alice");
          assert.equal(loginRes.res.status, 503);
          const refresh = await down.fetch("/auth/refresh", { method: "POST", headers: { cookie: jar.header() } });
          assert.equal(refresh.status, 503);
          assert.deepEqual(await origin.requests(), []);
        } finally {
          await down.dispose();
        }
      });
    });
  });
}
