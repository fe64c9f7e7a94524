// The store conformance suite (src/testing/conformance.rs), run inside the built worker against the
// backends that ship: Workers KV alone, and the session authority (a Durable Object per user) in
// front of it. The same suite runs natively and in wasm against the in-memory store; here each
// check talks to real bindings in workerd. The build is the release worker plus the suite's
// route (scripts/build.sh --conformance).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { ROOT, startOrigin, startWorker, testKeys } from "./harness.mjs";

const SCRIPT = path.join(ROOT, "target/conformance/index.js");
const CHECKS = [
  "create_get_and_list",
  "rotation_grace_and_reuse",
  "wrong_secret_changes_nothing",
  "idle_and_absolute_expiry",
  "limit_evicts_oldest",
  "single_session_mode",
  "revoke_one_and_all",
  "standing_follows_the_session",
  "a_device_key_binds_once",
];

let origin;
before(async () => {
  // Returns at once when the build is up to date.
  execFileSync("bash", ["scripts/build.sh", "--conformance"], { cwd: ROOT, stdio: "inherit" });
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

for (const store of ["kv", "authority"]) {
  test(`the ${store} store passes the conformance suite in workerd`, async () => {
    const edge = await startWorker({
      scriptPath: SCRIPT,
      captureLogs: true,
      vars: { ORIGIN_URL: origin.url, SESSION_STORE: store },
      secrets: testKeys(),
    });
    try {
      const res = await edge.fetch("/.edgegate/conformance", { method: "POST" });
      const body = await res.text();
      assert.equal(res.status, 200, `${body}\n${edge.logs().join("\n")}`);
      assert.deepEqual(JSON.parse(body), { store, passed: CHECKS });
    } finally {
      await edge.dispose();
    }
  });
}

test("the release build has no conformance route", async () => {
  const edge = await startWorker({ vars: { ORIGIN_URL: origin.url }, secrets: testKeys() });
  try {
    for (const route of ["/.edgegate/conformance", "/.edgegate/conformance/signatures"]) {
      const res = await edge.fetch(route, { method: "POST", body: "[]" });
      assert.equal(res.status, 401, `${route}: an ordinary protected path, no session, no suite`);
    }
  } finally {
    await edge.dispose();
  }
});
