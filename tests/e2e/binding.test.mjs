// Session binding, end to end: a session remembers the browser family and platform of its login,
// and a refresh presented by another one is audited (SESSION_BINDING = audit) or refused with the
// session ended (enforce, the default). The built worker in workerd, with both session stores.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startOrigin, startWorker, testKeys } from "./harness.mjs";
import { ACCESS, addUser, auditEvents, auditLines, BROWSER, editSession, login, pseudonym, REFRESH } from "./support.mjs";

const CHROME_LINUX =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const CHROME_LINUX_UPDATED = CHROME_LINUX.replace("Chrome/126.0.0.0", "Chrome/127.0.6533.88");
const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0";

let origin;
const secrets = testKeys();

before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

/** A JSON login from `agent`: the jar and the session id. */
async function signIn(edge, user, agent) {
  const { res, jar } = await login(edge, user, { headers: { "user-agent": agent } });
  assert.equal(res.status, 200, `login of ${user}`);
  const body = await res.json();
  return { jar, sid: body.session.id };
}

/** POST /auth/refresh with `jar`'s cookies, from `agent`. */
function refresh(edge, jar, agent) {
  return edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: jar.header(), "user-agent": agent } });
}

/** The audit lines of session `sid` so far. */
function linesOf(edge, sid) {
  return auditLines(edge.logs()).filter((line) => line.session === pseudonym(sid));
}

for (const store of ["authority", "kv"]) {
  describe(`${store} session store`, () => {
    describe("SESSION_BINDING unset (enforce)", () => {
      let edge;
      before(async () => {
        edge = await startWorker({
          vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", SESSION_STORE: store },
          secrets,
          captureLogs: true,
        });
        await addUser(edge, "carol");
      });
      after(async () => {
        await edge?.dispose();
      });

      test("a refresh from Firefox on Windows of a Chrome-on-Linux session is refused, audited, and ends the session", async () => {
        const { jar, sid } = await signIn(edge, "carol", CHROME_LINUX);
        const stolen = await refresh(edge, jar, FIREFOX_WINDOWS);
        assert.equal(stolen.status, 401);
        assert.equal((await stolen.json()).error, "device_mismatch");
        assert.ok(
          stolen.headers.getSetCookie().some((c) => c.startsWith(`${REFRESH}=`) && /Max-Age=0/.test(c)),
          "the refresh cookie is cleared",
        );
        assert.ok(!stolen.headers.getSetCookie().some((c) => !/Max-Age=0/.test(c)), "no new token leaves the edge");

        const [line] = await auditEvents(edge, (e) => e.event === "binding_mismatch" && e.session === pseudonym(sid), {
          what: "binding_mismatch",
        });
        assert.equal(line.user, pseudonym("carol"));
        assert.equal(line.detail, "signed in on Chrome on Linux, refreshed from Firefox on Windows; refused, ending the session");
        assert.ok(!linesOf(edge, sid).some((e) => e.event === "refresh"), "no refresh was logged as done");

        // The cookie was copied, so the session is over for its legitimate holder too: the same
        // refresh token from the right browser, and the access token the login minted.
        const legit = await refresh(edge, jar, CHROME_LINUX);
        assert.equal(legit.status, 401);
        assert.equal((await legit.json()).error, "session_expired");
        const access = `${ACCESS}=${jar.cookies.get(ACCESS)}`;
        const browse = await edge.fetch("/api", { headers: { cookie: access, "user-agent": CHROME_LINUX } });
        assert.equal(browse.status, 401);
        assert.equal((await browse.json()).error, "session_ended");
      });

      test("a browser update does not end the session: a newer Chrome on Linux refreshes", async () => {
        const { jar, sid } = await signIn(edge, "carol", CHROME_LINUX);
        const before = jar.cookies.get(REFRESH);
        const updated = jar.take(await refresh(edge, jar, CHROME_LINUX_UPDATED));
        assert.equal(updated.status, 200);
        assert.notEqual(jar.cookies.get(REFRESH), before, "rotated");
        const again = jar.take(await refresh(edge, jar, CHROME_LINUX_UPDATED));
        assert.equal(again.status, 200);
        await auditEvents(edge, (e) => e.event === "refresh" && e.session === pseudonym(sid), { count: 2, what: "refresh" });
        assert.ok(!linesOf(edge, sid).some((e) => e.event === "binding_mismatch"));
      });

      test("a navigation refreshed in place from another device goes to sign-in with the reason", async () => {
        const { jar, sid } = await signIn(edge, "carol", CHROME_LINUX);
        const cookie = `${REFRESH}=${jar.cookies.get(REFRESH)}`;
        const res = await edge.fetch("/app/page", { headers: { ...BROWSER, cookie, "user-agent": FIREFOX_WINDOWS } });
        assert.equal(res.status, 302);
        assert.equal(res.headers.get("location"), "/auth/login?next=/app/page&reason=device_mismatch");
        await auditEvents(edge, (e) => e.event === "binding_mismatch" && e.session === pseudonym(sid), {
          what: "binding_mismatch",
        });
        const page = await edge.fetch("/auth/login?reason=device_mismatch", { headers: BROWSER });
        assert.match(await page.text(), /another browser or device than the one that signed in/);
      });

      test("a refresh without a User-Agent is a different device, not an exemption", async () => {
        const { jar } = await signIn(edge, "carol", CHROME_LINUX);
        // fetch always sends one; an empty value is what a client stripping it presents.
        const res = await refresh(edge, jar, "");
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error, "device_mismatch");
      });

      if (store === "kv") {
        test("a session stored before binding (no device in its record) still refreshes", async () => {
          const { jar, sid } = await signIn(edge, "carol", CHROME_LINUX);
          const record = await editSession(edge, sid, (r) => {
            assert.deepEqual(r.device, { browser: "Chrome", platform: "Linux" }, "the login recorded its device");
            delete r.device;
          });
          assert.equal(record.device, undefined);
          const res = await refresh(edge, jar, FIREFOX_WINDOWS);
          assert.equal(res.status, 200);
        });
      }
    });

    describe("SESSION_BINDING = audit", () => {
      let edge;
      before(async () => {
        edge = await startWorker({
          vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", SESSION_STORE: store, SESSION_BINDING: "audit" },
          secrets,
          captureLogs: true,
        });
        await addUser(edge, "dave");
      });
      after(async () => {
        await edge?.dispose();
      });

      test("a refresh from Firefox on Windows of a Chrome-on-Linux session goes on, with an audit line", async () => {
        const { jar, sid } = await signIn(edge, "dave", CHROME_LINUX);
        const before = jar.cookies.get(REFRESH);
        const res = jar.take(await refresh(edge, jar, FIREFOX_WINDOWS));
        assert.equal(res.status, 200);
        assert.equal((await res.json()).session.id, sid);
        assert.notEqual(jar.cookies.get(REFRESH), before, "rotated as usual");

        const events = await auditEvents(
          edge,
          (e) => (e.event === "binding_mismatch" || e.event === "refresh") && e.session === pseudonym(sid),
          { count: 2, what: "binding_mismatch and refresh" },
        );
        assert.deepEqual(
          events.map((e) => e.event),
          ["binding_mismatch", "refresh"],
        );
        assert.equal(events[0].detail, "signed in on Chrome on Linux, refreshed from Firefox on Windows; allowed (audit only)");
        assert.ok(events[0].client, "the presenting client's pseudonym");

        // The binding stays the login's: the original browser refreshes without a line.
        const home = jar.take(await refresh(edge, jar, CHROME_LINUX));
        assert.equal(home.status, 200);
        await auditEvents(edge, (e) => e.event === "refresh" && e.session === pseudonym(sid), { count: 2, what: "second refresh" });
        assert.equal(linesOf(edge, sid).filter((e) => e.event === "binding_mismatch").length, 1);
      });
    });
  });
}
