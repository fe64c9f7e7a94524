// The key rotation procedure of the README, end to end: the same KV and Durable Object state
// served by successive deployments whose SESSION_KEYS / ASSERTION_KEYS rings change.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { startOrigin, startWorker, testKeys, userRecord } from "./harness.mjs";

const PASSWORD = "rotate me";
const oldKeys = testKeys();
const newKeys = testKeys();
const rename = (entry, kid) => `${kid}:${entry.split(":")[1]}`;
const OLD_SESSION = rename(oldKeys.SESSION_KEYS, "s-old");
const NEW_SESSION = rename(newKeys.SESSION_KEYS, "s-new");
const OLD_ASSERTION = rename(oldKeys.ASSERTION_KEYS, "a-old");
const NEW_ASSERTION = rename(newKeys.ASSERTION_KEYS, "a-new");

let origin;
let state;
before(async () => {
  origin = await startOrigin();
  state = mkdtempSync(path.join(tmpdir(), "edgegate-rotation-"));
});
after(async () => {
  await origin?.close();
  rmSync(state, { recursive: true, force: true });
});

/** One deployment: the shared state with the given rings. */
async function deploy(SESSION_KEYS, ASSERTION_KEYS) {
  return startWorker({ vars: { ORIGIN_URL: origin.url }, secrets: { SESSION_KEYS, ASSERTION_KEYS }, persist: state });
}

const kidOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[0], "base64url")).kid;
const cookieValue = (res, name) =>
  res.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .find((pair) => pair.startsWith(`${name}=`))
    ?.slice(name.length + 1);

async function login(edge) {
  const res = await edge.fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "rotor", password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  return { access: cookieValue(res, "eg_access"), refresh: cookieValue(res, "eg_refresh") };
}

async function browse(edge, cookie) {
  await origin.clear();
  const res = await edge.fetch("/rotating", { headers: { cookie } });
  await res.body?.cancel();
  const [seen] = await origin.requests();
  return { res, seen };
}

test("add a key, old cookies stay valid, new ones use the new key, then the old key goes", async () => {
  // 1. Before: one key in each ring.
  let edge = await deploy(OLD_SESSION, OLD_ASSERTION);
  await (await edge.kv("USERS")).put("user:rotor", userRecord(PASSWORD));
  const before = await login(edge);
  assert.equal(kidOf(before.access), "s-old");
  await edge.dispose();

  // 2. Session ring with the new key in front; assertion key published before it signs.
  edge = await deploy(`${NEW_SESSION},${OLD_SESSION}`, `${OLD_ASSERTION},${NEW_ASSERTION}`);
  const jwks = await (await edge.fetch("/.well-known/jwks.json")).json();
  assert.deepEqual(jwks.keys.map((key) => key.kid), ["a-old", "a-new"], "the new assertion key is published first");
  const old = await browse(edge, `eg_access=${before.access}`);
  assert.equal(old.res.status, 200, "a cookie signed by the old key is still valid: nobody is logged out");
  assert.equal(kidOf(old.seen.headers["x-auth-assertion"]), "a-old");
  const after = await login(edge);
  assert.equal(kidOf(after.access), "s-new", "new cookies are signed with the new key");
  await edge.dispose();

  // 3. The new assertion key signs; the old one stays published.
  edge = await deploy(`${NEW_SESSION},${OLD_SESSION}`, `${NEW_ASSERTION},${OLD_ASSERTION}`);
  const signed = await browse(edge, `eg_access=${after.access}`);
  assert.equal(kidOf(signed.seen.headers["x-auth-assertion"]), "a-new");
  const published = createLocalJWKSet(await (await edge.fetch("/.well-known/jwks.json")).json());
  await jwtVerify(signed.seen.headers["x-auth-assertion"], published, { algorithms: ["EdDSA"] });
  await edge.dispose();

  // 4. The old keys are removed: old access tokens fail, but the session is not lost, because
  //    refresh tokens are not signed and the next refresh mints a token with the new key.
  edge = await deploy(NEW_SESSION, NEW_ASSERTION);
  const stale = await browse(edge, `eg_access=${before.access}`);
  assert.equal(stale.res.status, 401, "a token signed by the removed key is refused");
  const refreshed = await edge.fetch("/rotating", { headers: { cookie: `eg_access=${before.access}; eg_refresh=${before.refresh}` } });
  assert.equal(refreshed.status, 200, "the refresh cookie restores the session in place");
  assert.equal(kidOf(cookieValue(refreshed, "eg_access")), "s-new");
  const jwksAfter = await (await edge.fetch("/.well-known/jwks.json")).json();
  assert.deepEqual(jwksAfter.keys.map((key) => key.kid), ["a-new"]);
  await edge.dispose();
});
