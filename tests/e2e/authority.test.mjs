// Concurrency against the built worker with the session authority (a Durable Object per user)
// bound, and the same suite against Workers KV alone, which documents where the two differ.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startOrigin, startWorker, testKeys, userRecord } from "./harness.mjs";

const PASSWORD = "concurrency is hard";
const PARALLEL = 10;
const LIMIT = 3;
const ADMIN_SECRET = "authority-test-admin-secret-".padEnd(40, "z");

function cookiesOf(res) {
  return res.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .filter((pair) => !pair.endsWith("="))
    .join("; ");
}

async function login(edge, name) {
  const res = await edge.fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: name, password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  return cookiesOf(res);
}

let origin;
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

for (const backend of ["authority", "kv"]) {
  describe(`${backend} backend`, () => {
    let edge;
    before(async () => {
      edge = await startWorker({
        // Logins in flight count against the per-account limit until their password is checked,
        // so the parallel logins below need a limit above their number.
        vars: { ORIGIN_URL: origin.url, SESSION_STORE: backend, REFRESH_GRACE: "0", MAX_SESSIONS: String(LIMIT), LOGIN_MAX_FAILURES_PER_ACCOUNT: "100" },
        secrets: { ...testKeys(), ADMIN_SECRET },
      });
      for (const name of ["rotator", "crowd"]) {
        await (await edge.kv("USERS")).put(`user:${name}`, userRecord(PASSWORD));
      }
    });
    after(async () => {
      await edge?.dispose();
    });

    test(`${PARALLEL} parallel refreshes of one token`, async (t) => {
      const cookie = await login(edge, "rotator");
      const refreshOnly = cookie.split("; ").find((pair) => pair.startsWith("eg_refresh="));
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, () => edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: refreshOnly } })),
      );
      const winners = answers.filter((res) => res.status === 200);
      const statuses = answers.map((res) => res.status);
      t.diagnostic(`${backend}: ${winners.length} of ${PARALLEL} rotations won`);
      assert.ok(statuses.every((status) => status === 200 || status === 401), statuses.join(","));
      if (backend === "authority") {
        assert.equal(winners.length, 1, "exactly one rotation wins");
        // The losers replayed a retired token: the session is over, the winner's tokens too.
        const winner = cookiesOf(winners[0]);
        const after = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: winner } });
        assert.equal(after.status, 401);
        const browse = await edge.fetch("/anything", { headers: { cookie: winner } });
        assert.equal(browse.status, 401, "the winner's access token is revoked with the session");
      } else {
        assert.ok(winners.length >= 1, "KV alone lets at least one win (and possibly several)");
      }
    });

    test("sessions ended by the operator leave the list and the limit", async () => {
      await (await edge.kv("USERS")).put("user:operated", userRecord(PASSWORD));
      const kept = await login(edge, "operated");
      const ended = await login(edge, "operated");
      const endedId = ended.split("; ").find((pair) => pair.startsWith("eg_refresh=")).split("=")[1].split(".")[0];
      // What `edgegate sessions revoke` sends: the worker ends it through the user's authority.
      const res = await edge.fetch(`/auth/admin/users/operated/sessions/${endedId}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN_SECRET}` },
      });
      assert.equal(res.status, 200);
      assert.deepEqual((await res.json()).ended, [endedId]);
      const listed = await (await edge.fetch("/auth/sessions", { headers: { cookie: kept } })).json();
      assert.equal(listed.sessions.length, 1);
      assert.ok(listed.sessions.every((session) => session.id !== endedId));
      // The limit counts live sessions only: LIMIT - 1 more logins keep the first one alive.
      for (let i = 0; i < LIMIT - 1; i++) await login(edge, "operated");
      const first = await edge.fetch("/anything", { headers: { cookie: kept } });
      assert.equal(first.status, 200, "the ended session no longer counts against the limit");
    });

    test(`${PARALLEL} parallel logins against a limit of ${LIMIT}`, async (t) => {
      const cookies = await Promise.all(Array.from({ length: PARALLEL }, () => login(edge, "crowd")));
      const live = await Promise.all(
        cookies.map(async (cookie) => (await edge.fetch("/anything", { headers: { cookie } })).status === 200),
      );
      const alive = live.filter(Boolean).length;
      t.diagnostic(`${backend}: ${alive} sessions alive after ${PARALLEL} logins, limit ${LIMIT}`);
      if (backend === "authority") {
        assert.equal(alive, LIMIT, "the limit holds exactly");
        const latest = cookies[live.lastIndexOf(true)];
        const listed = await (await edge.fetch("/auth/sessions", { headers: { cookie: latest } })).json();
        assert.equal(listed.sessions.length, LIMIT);
      } else {
        assert.ok(alive >= LIMIT, "KV alone keeps at least the limit (and may overshoot it)");
      }
    });
  });
}
