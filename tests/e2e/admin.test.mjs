// The operator's session commands, end to end: the real `edgegate` tool against the built worker's
// admin endpoint, for both session stores. The tool never writes session storage; the worker runs
// each command through the same rules as a user's own session endpoints.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ROOT, startOrigin, testKeys } from "./harness.mjs";
import { ACCESS, REFRESH, addUser, auditEvents, pseudonym, registerPasskey, secureWorker, session } from "./support.mjs";
import { SoftAuthenticator } from "./webauthn-authenticator.mjs";

const ADMIN_SECRET = "operator-secret-".padEnd(48, "x");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(ROOT, "target");
const TOOL = path.join(targetDir, "debug", "edgegate");

/** Runs the tool; resolves to { code, stdout, stderr } whatever its exit status. */
async function edgegate(args, env = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(TOOL, args, {
      cwd: ROOT,
      env: { ...process.env, EDGEGATE_ADMIN_SECRET: ADMIN_SECRET, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const sessionId = (jar) => jar.cookies.get(REFRESH).split(".")[0];

/** Whether the jar's session still gets through: its access token, then its refresh token. */
async function alive(edge, jar) {
  const browse = await edge.fetch("/anything", { headers: { cookie: `${ACCESS}=${jar.cookies.get(ACCESS)}` } });
  await browse.body?.cancel();
  const refresh = await edge.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: `${REFRESH}=${jar.cookies.get(REFRESH)}` },
  });
  await refresh.body?.cancel();
  assert.equal(browse.status === 200, refresh.status === 200, "access and refresh agree");
  return browse.status === 200;
}

let origin;
before(async () => {
  if (!existsSync(TOOL)) {
    execFileSync("cargo", ["build", "--quiet", "--features", "cli", "--bin", "edgegate"], { cwd: ROOT, stdio: "inherit" });
  }
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

test("without ADMIN_SECRET the admin endpoint does not exist", async () => {
  const edge = await secureWorker(origin, testKeys());
  try {
    const res = await edge.fetch("/auth/admin/users/alice/sessions", {
      headers: { authorization: `Bearer ${ADMIN_SECRET}` },
    });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error, "not_found");
  } finally {
    await edge.dispose();
  }
});

test("an ADMIN_SECRET too short to be a credential is a configuration error", async () => {
  const edge = await secureWorker(origin, { ...testKeys(), ADMIN_SECRET: "short" });
  try {
    const res = await edge.fetch("/auth/admin/users/alice/sessions");
    assert.equal(res.status, 500);
    assert.match((await res.json()).message, /ADMIN_SECRET/);
  } finally {
    await edge.dispose();
  }
});

for (const backend of ["authority", "kv"]) {
  describe(`${backend} backend`, () => {
    let edge;
    before(async () => {
      edge = await secureWorker(origin, { ...testKeys(), ADMIN_SECRET }, { vars: { SESSION_STORE: backend } });
      await addUser(edge, "alice");
      await addUser(edge, "bob");
    });
    after(async () => {
      await edge?.dispose();
    });

    test("a request without the secret is refused, audited, and changes nothing", async () => {
      const jar = await session(edge, "alice");
      for (const authorization of [undefined, "Bearer wrong", `Basic ${ADMIN_SECRET}`, `Bearer ${ADMIN_SECRET}x`]) {
        const headers = authorization ? { authorization } : {};
        // Even with the user's own session cookies: browser credentials do not count here.
        headers.cookie = jar.header();
        const res = await edge.fetch("/auth/admin/users/alice/sessions", { method: "DELETE", headers });
        assert.equal(res.status, 401, String(authorization));
        assert.equal((await res.json()).error, "unauthenticated");
      }
      await auditEvents(edge, (e) => e.event === "admin_refused", { count: 4, what: "admin_refused lines" });
      assert.ok(await alive(edge, jar), "the session survived");
      const wrongSecret = await edgegate(["sessions", "revoke-all", "alice", "--edge", edge.url], {
        EDGEGATE_ADMIN_SECRET: "y".repeat(48),
      });
      assert.equal(wrongSecret.code, 1);
      assert.match(wrongSecret.stderr, /the worker refused \(401 unauthenticated\)/);
      assert.ok(await alive(edge, jar));
    });

    test("list, end one and end all, through the tool", async () => {
      const first = await session(edge, "bob");
      const second = await session(edge, "bob");
      const other = await session(edge, "alice");

      const listed = await edgegate(["sessions", "list", "bob", "--edge", edge.url]);
      assert.equal(listed.code, 0, listed.stderr);
      const rows = listed.stdout.trim().split("\n");
      assert.match(rows[0], /^SESSION\s+CREATED/);
      const ids = rows.slice(1).map((row) => row.split(/\s+/)[0]);
      assert.deepEqual(new Set(ids), new Set([sessionId(first), sessionId(second)]));

      const one = await edgegate(["sessions", "revoke", "bob", sessionId(first), "--edge", edge.url]);
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stderr, /ended 1 session\(s\) of user bob/);
      assert.equal(await alive(edge, first), false, "the ended session is over at once");
      assert.ok(await alive(edge, second), "the other session of the user goes on");
      const [line] = await auditEvents(edge, (e) => e.event === "admin_revoke" && e.user === pseudonym("bob"));
      assert.ok(line.detail.startsWith("DELETE /auth/admin/users/bob/sessions/"), line.detail);

      const again = await edgegate(["sessions", "revoke", "bob", sessionId(first), "--edge", edge.url]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /404 unknown_session/);
      // A session is ended only as its owner's: naming another user ends nothing.
      const notHers = await edgegate(["sessions", "revoke", "alice", sessionId(second), "--edge", edge.url]);
      assert.equal(notHers.code, 1);
      assert.ok(await alive(edge, second));

      const afterOne = await edgegate(["sessions", "list", "bob", "--edge", edge.url]);
      assert.deepEqual(
        afterOne.stdout.trim().split("\n").slice(1).map((row) => row.split(/\s+/)[0]),
        [sessionId(second)],
        "the list no longer shows the ended session",
      );

      const all = await edgegate(["sessions", "revoke-all", "bob", "--edge", edge.url]);
      assert.equal(all.code, 0, all.stderr);
      assert.match(all.stderr, /ended 1 session\(s\) of user bob/);
      assert.equal(await alive(edge, second), false);
      assert.ok(await alive(edge, other), "another user's session is untouched");

      const empty = await edgegate(["sessions", "list", "bob", "--edge", edge.url]);
      assert.equal(empty.code, 0);
      assert.equal(empty.stdout, "");
      assert.match(empty.stderr, /no sessions/);
      await auditEvents(edge, (e) => e.event === "admin_list" && e.user === pseudonym("bob"), { count: 3 });
    });

    test("the routes refuse what is not a command", async () => {
      const auth = { authorization: `Bearer ${ADMIN_SECRET}` };
      const cases = [
        ["GET", "/auth/admin/users/Alice/sessions", 400, "bad_username"],
        ["GET", "/auth/admin/users/al%2Fice/sessions", 400, "bad_username"],
        ["POST", "/auth/admin/users/alice/sessions", 405, "method_not_allowed"],
        ["DELETE", "/auth/admin/users/alice/sessions/not-an-id", 400, "bad_session_id"],
        ["GET", "/auth/admin/users/alice", 404, "not_found"],
      ];
      for (const [method, target, status, code] of cases) {
        const res = await edge.fetch(target, { method, headers: auth });
        assert.equal(res.status, status, `${method} ${target}`);
        assert.equal((await res.json()).error, code, `${method} ${target}`);
      }
      // A federated user (as OpenID sign-in names them) is one too, percent-encoded.
      const federated = await edge.fetch("/auth/admin/users/corp%3Aa%2Fb/sessions", { headers: auth });
      assert.equal(federated.status, 200);
      assert.deepEqual(await federated.json(), { user: "corp:a/b", sessions: [] });
    });
  });
}

// Passkeys live in the users' authorities, so the tool reaches them through the worker alone.
describe("passkeys", () => {
  let edge;
  before(async () => {
    edge = await secureWorker(origin, { ...testKeys(), ADMIN_SECRET }, { vars: { SESSION_STORE: "authority" } });
  });
  after(async () => {
    await edge?.dispose();
  });

  test("the tool lists and removes a user's passkeys, never the last one of a user without a password", async () => {
    await addUser(edge, "carol");
    const jar = await session(edge, "carol");
    const none = await edgegate(["passkeys", "list", "carol", "--edge", edge.url]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /carol has no passkeys/);
    // Without a passkey, taking the password away would lock carol out: refused before KV is touched.
    const locked = await edgegate(["user", "remove-password", "carol", "--local", "--edge", edge.url]);
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /carol has no passkey/);

    const laptop = await registerPasskey(edge, jar, new SoftAuthenticator({ alg: "ES256" }), { name: "Laptop" });
    const phone = await registerPasskey(edge, jar, new SoftAuthenticator({ alg: "EdDSA" }), { name: "Phone" });
    const listed = await edgegate(["passkeys", "list", "carol", "--edge", edge.url]);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trim().split("\n");
    assert.match(rows[0], /^PASSKEY\s+ADDED \(UTC\)\s+LAST USED \(UTC\)\s+SYNCED\s+NAME$/);
    assert.deepEqual(rows.slice(1).map((row) => row.split(/\s+/)[0]), [laptop.id, phone.id]);
    assert.match(rows[1], /never\s+no\s+Laptop$/);

    const removed = await edgegate(["passkeys", "remove", "carol", laptop.id, "--edge", edge.url]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, new RegExp(`removed passkey ${laptop.id}`));
    await auditEvents(edge, (e) => e.event === "passkey_removed" && e.detail?.endsWith("by an operator"));
    const again = await edgegate(["passkeys", "remove", "carol", laptop.id, "--edge", edge.url]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /404 unknown_passkey/);

    // A passkey-only user keeps their last passkey.
    const record = JSON.parse(await (await edge.kv("USERS")).get("user:carol"));
    delete record.password;
    await (await edge.kv("USERS")).put("user:carol", JSON.stringify(record));
    const last = await edgegate(["passkeys", "remove", "carol", phone.id, "--edge", edge.url]);
    assert.equal(last.code, 1);
    assert.match(last.stderr, /409 last_passkey/);
    const still = await edgegate(["passkeys", "list", "carol", "--edge", edge.url]);
    assert.match(still.stdout, new RegExp(phone.id));
    const bad = await edgegate(["passkeys", "remove", "carol", "not-an-id", "--edge", edge.url]);
    assert.equal(bad.code, 2, "a malformed id is a usage error");
  });
});
