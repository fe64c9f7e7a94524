// Passkeys (WebAuthn Level 3) end to end: the built worker in workerd with KV and the session
// authority (Durable Object), in front of the real recording origin, driven by the software
// authenticator and client of webauthn-authenticator.mjs (honest, or tampered one knob at a time).
//
// Covered, and how:
//   - Honest round trips with ES256, EdDSA and RS256 keys: registration (201, listed), sign-in
//     (200, session cookies, the redirect to `next`), a protected request that reaches the origin
//     with the user's identity headers, `last_used_at` set, and the `passkey_added` and
//     `passkey_sign_in` audit lines. Every configured origin works; credential ids of the
//     shortest and longest allowed lengths are accepted.
//   - Hostile registrations, one defect each (client data, authenticator data, attestation,
//     COSE key, credential ids, CBOR, sizes, challenges of every wrong kind, duplicates, the
//     request itself: cross-site, without a session, not a recent sign-in, oversized, a bad name):
//     the status, the reason code, the `passkey_refused` audit line with its reason, and nothing
//     stored (the user's list is unchanged, no `passkey_added` line).
//   - Hostile sign-ins, one defect each (the same families, plus replays, expired and forged
//     challenges, other users' credentials and handles, counters, backup flags, signatures,
//     disabled and deleted accounts): 401 `passkey_refused`, the audit line with the reason, and
//     no session: no cookie is set, and a protected request with whatever came back reaches
//     nothing. Expired challenges are made with the deployment's own session key (the test owns
//     SESSION_KEYS), after a positive control that shows the same construction is accepted when
//     current.
//   - Removal by the user and by the operator (admin endpoint), the last passkey of a user
//     without a password kept (409), a second authenticator for one user (excludeCredentials).
//   - Configuration: PASSKEY_COUNTER = log lets a regressed counter through with a note in the
//     audit line; the password throttle (per address and per account, with the failure floor)
//     applies to passkey sign-ins; PASSKEYS = off removes the endpoints; settings that cannot
//     work stop the worker from serving (500 configuration_error).
//
// Most tests share one worker (fresh user names and client addresses per test, so that every
// audit line can be told apart by its pseudonymised client address); a configuration that
// differs gets a worker of its own. Audit details go through the worker's redaction, which turns
// a run of 16 or more token characters into a pseudonym; an expected reason is accepted as written
// or as redacted (`redacted`), and one test asserts that reasons stay readable.
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startOrigin, startSystem, startWorker, testKeys } from "./harness.mjs";
import {
  Jar,
  addUser,
  assertNothingForwarded,
  auditEvents,
  auditLines,
  editSession,
  login,
  pseudonym,
  ringKey,
  session,
  setCookies,
} from "./support.mjs";
import { SoftAuthenticator, b64url, cborDecode, cborEncode, fromB64url } from "./webauthn-authenticator.mjs";

// --- the deployment under test --------------------------------------------------------------------

const RP_ID = "localhost";
/** The page origin of the ceremonies (the first of WEBAUTHN_ORIGINS). */
const PAGE = "http://localhost:8787";
/** A second configured origin, under the RP id. */
const SECOND_PAGE = "http://app.localhost:8787";
const ADMIN_SECRET = "passkey-operator-secret-".padEnd(48, "x");
/** The session keys of every worker here: the test can make sign-in challenges with them. */
const SECRETS = testKeys();
const RECENT_SIGN_IN = 60;

const BASE_VARS = {
  WEBAUTHN_RP_ID: RP_ID,
  WEBAUTHN_ORIGINS: `${PAGE}, ${SECOND_PAGE}`,
  PASSKEY_RECENT_SIGN_IN: String(RECENT_SIGN_IN),
  LOGIN_FAILURE_FLOOR_MS: "0",
  // Hostile sign-ins are many here; the throttle has tests (and a worker) of its own.
  LOGIN_MAX_FAILURES_PER_CLIENT: "10000",
  LOGIN_MAX_FAILURES_PER_ACCOUNT: "10000",
  ADMIN_SECRET,
};

/** Session cookie names with COOKIE_SECURE = false (wrangler.toml's local default). */
const ACCESS_COOKIE = "eg_access";
const REFRESH_COOKIE = "eg_refresh";
const JSON_API = { accept: "application/json" };
const SAME_ORIGIN = { "sec-fetch-site": "same-origin" };

/** Starts a worker with the base settings and `vars` over them, its console captured. */
function startPasskeySystem(vars = {}) {
  return startSystem({ captureLogs: true, secrets: SECRETS, vars: { ...BASE_VARS, ...vars } });
}

// --- names, addresses, audit ------------------------------------------------------------------------

let userSeq = 0;
/** A user name no other test uses. */
const freshName = (what) => `pk-${what}-${++userSeq}`;

let addressSeq = 0;
/** A client address no other test uses: its pseudonym tells this test's audit lines apart. */
const freshAddress = () => {
  addressSeq++;
  return `10.${20 + (addressSeq >> 16)}.${(addressSeq >> 8) & 255}.${addressSeq & 255}`;
};

/** `text` as the worker's audit redaction writes it (src/auth/audit.rs `redact`): every run of at
 * least 16 token characters becomes `~` and its pseudonym, except short upper-case variable names. */
function redacted(text) {
  return text.replace(/[A-Za-z0-9_-]+/g, (run) => {
    const variableName = run.length < 32 && run.includes("_") && /^[A-Z_]+$/.test(run);
    return run.length >= 16 && !variableName ? `~${pseudonym(run)}` : run;
  });
}

/** The audit events of `kind` written for requests from `address`, once `count` have come. */
function auditFrom(sys, kind, address, { count = 1, what = kind } = {}) {
  const client = pseudonym(address);
  return auditEvents(sys.edge, (e) => e.event === kind && e.client === client, { count, what });
}

/** Every audit event of `kind` so far (no waiting). */
const auditNow = (sys, kind, predicate = () => true) =>
  auditLines(sys.edge.logs()).filter((e) => e.event === kind && predicate(e));

/** The one `passkey_refused` line for `address`, which must give `detail` as the reason. */
async function assertRefusedLine(sys, address, detail, { user } = {}) {
  const lines = await auditFrom(sys, "passkey_refused", address, { what: `passkey_refused (${detail})` });
  assert.equal(lines.length, 1, `one passkey_refused line: ${JSON.stringify(lines)}`);
  const [line] = lines;
  // The reason's code in words (`wrong_origin` is written "wrong origin"), so that the audit
  // redaction of long identifier-like runs leaves it readable.
  assert.equal(line.detail, detail.replaceAll("_", " "), `the audit line's reason (${detail}): ${JSON.stringify(line)}`);
  if (user !== undefined) assert.equal(line.user, user === null ? undefined : pseudonym(user), "the audit line's user");
  return line;
}

// --- requests ------------------------------------------------------------------------------------------

/** A JSON request from a same-origin page at `address`, with `user`'s cookies if given. */
async function call(sys, method, path, { user, address, body, headers = {} } = {}) {
  const res = await sys.edge.fetch(path, {
    method,
    headers: {
      ...JSON_API,
      ...SAME_ORIGIN,
      ...(body !== undefined && { "content-type": "application/json" }),
      "cf-connecting-ip": address ?? user?.address ?? freshAddress(),
      ...(user && { cookie: user.jar.header() }),
      ...headers,
    },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  if (user) user.jar.take(res);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, text, res };
}

/** A new user with a password, signed in from an address of their own: { name, address, jar, sid }. */
async function newUser(sys, what) {
  const name = freshName(what);
  await addUser(sys.edge, name);
  const address = freshAddress();
  const jar = await session(sys.edge, name, { headers: { "cf-connecting-ip": address } });
  return { name, address, jar, sid: jar.cookies.get(REFRESH_COOKIE).split(".")[0] };
}

/** Rewrites `name`'s record in USERS with `change(record)`. */
async function editUser(sys, name, change) {
  const users = await sys.edge.kv("USERS");
  const record = JSON.parse(await users.get(`user:${name}`));
  change(record);
  await users.put(`user:${name}`, JSON.stringify(record));
}

/** `user`'s passkeys as listed by GET /auth/passkeys. */
async function listPasskeys(sys, user) {
  const { status, body } = await call(sys, "GET", "/auth/passkeys", { user });
  assert.equal(status, 200, `the list of ${user.name}: ${JSON.stringify(body)}`);
  return body.passkeys;
}

/** The creation options of a new registration by `user` (asserting 200). */
async function registrationOptions(sys, user) {
  const { status, body } = await call(sys, "POST", "/auth/passkeys/register/options", { user, body: {} });
  assert.equal(status, 200, `registration options: ${JSON.stringify(body)}`);
  return body.publicKey;
}

/** POST /auth/passkeys/register with `credential`. */
function finishRegistration(sys, user, credential, { name = "laptop" } = {}) {
  return call(sys, "POST", "/auth/passkeys/register", { user, body: { name, credential } });
}

/** An honest registration of a new credential on `auth` (asserting 201). */
async function register(sys, user, auth, { name = "laptop", page = PAGE, tamper = {} } = {}) {
  const options = await registrationOptions(sys, user);
  const credential = await auth.create(options, page, tamper);
  const { status, body } = await finishRegistration(sys, user, credential, { name });
  assert.equal(status, 201, `registration of ${user.name}: ${JSON.stringify(body)}`);
  return { passkey: body.passkey, credential, options };
}

/** A new user with one registered passkey on a new authenticator: { user, auth, passkey }. */
async function userWithPasskey(sys, what, authOptions = {}) {
  const user = await newUser(sys, what);
  const auth = new SoftAuthenticator({ alg: "ES256", ...authOptions });
  const { passkey } = await register(sys, user, auth);
  return { user, auth, passkey, handle: auth.credentials.at(-1).userHandle };
}

/** The request options of a new sign-in. */
async function signInOptions(sys, address = freshAddress()) {
  const { status, body, res } = await call(sys, "POST", "/auth/passkeys/sign-in/options", { address, body: {} });
  assert.equal(status, 200, `sign-in options: ${JSON.stringify(body)}`);
  assert.equal(res.headers.get("cache-control"), "no-store");
  return body.publicKey;
}

/** POST /auth/passkeys/sign-in with `credential`; the answer, with a jar of the cookies it set. */
async function postSignIn(sys, credential, { address, next = "/home" } = {}) {
  const answer = await call(sys, "POST", "/auth/passkeys/sign-in", { address, body: { credential, next } });
  answer.jar = new Jar();
  answer.jar.take(answer.res);
  return answer;
}

/**
 * A sign-in with `auth`: fresh options, the assertion (tampered with `tamper`, then changed by
 * `edit(credential)` if given), posted from `address`.
 */
async function signIn(sys, auth, { tamper = {}, edit, address = freshAddress(), next, page = PAGE, options } = {}) {
  const publicKey = options ?? (await signInOptions(sys, address));
  const credential = await auth.get(publicKey, page, tamper);
  if (edit) await edit(credential);
  return { ...(await postSignIn(sys, credential, { address, next })), credential, address };
}

// --- what a session is, and is not ------------------------------------------------------------------

/** A request for a protected path with `jar`'s cookies; the origin's record of it, if it got through. */
async function protectedRequest(sys, jar) {
  await sys.origin.clear();
  const cookie = jar.header();
  const res = await sys.edge.fetch("/app/whoami", { headers: { ...JSON_API, ...(cookie && { cookie }) } });
  await res.body?.cancel();
  const seen = await sys.origin.requests();
  return { status: res.status, seen };
}

/**
 * Asserts that `res` opened no session: it sets no cookie, and a protected request with whatever
 * cookies it did set is refused without reaching the origin.
 */
async function assertNoSession(sys, res, what) {
  const set = setCookies(res).filter((cookie) => cookie.maxAge > 0);
  assert.deepEqual(set.map((cookie) => cookie.name), [], `${what}: no cookie may be set`);
  const jar = new Jar();
  jar.take(res);
  await sys.origin.clear();
  const probe = await sys.edge.fetch("/app/whoami", {
    headers: { ...JSON_API, ...(jar.header() && { cookie: jar.header() }) },
  });
  assert.equal(probe.status, 401, `${what}: a protected request with what came back is refused`);
  await probe.body?.cancel();
  await assertNothingForwarded(sys.origin, what);
}

/** Asserts that a sign-in was refused as every one is (401 passkey_refused), logged with `detail`, no session. */
async function assertSignInRefused(sys, attempt, detail, { user } = {}) {
  assert.equal(attempt.status, 401, `${detail}: ${attempt.text}`);
  assert.equal(attempt.body?.error, "passkey_refused", `${detail}: the client learns nothing more than that`);
  await assertNoSession(sys, attempt.res, detail);
  await assertRefusedLine(sys, attempt.address, detail, { user });
  const client = pseudonym(attempt.address);
  assert.deepEqual(auditNow(sys, "passkey_sign_in", (e) => e.client === client), [], `${detail}: no passkey_sign_in line`);
  assert.deepEqual(auditNow(sys, "login_ok", (e) => e.client === client), [], `${detail}: no login_ok line`);
}

/** Asserts a signed-in answer for `name`: the redirect, session cookies, and a protected request
 * that reaches the origin as `name`. The jar of the new session. */
async function assertSignedIn(sys, attempt, name, { next = "/home" } = {}) {
  assert.equal(attempt.status, 200, `sign-in of ${name}: ${attempt.text}`);
  assert.equal(attempt.body.redirect, next);
  assert.equal(attempt.body.signed_in.user.id, name);
  const names = setCookies(attempt.res)
    .filter((cookie) => cookie.maxAge > 0)
    .map((cookie) => cookie.name);
  assert.ok(names.includes(ACCESS_COOKIE) && names.includes(REFRESH_COOKIE), `session cookies set: ${names}`);
  const { status, seen } = await protectedRequest(sys, attempt.jar);
  assert.equal(status, 200, "a protected request with the new cookies gets through");
  assert.equal(seen.length, 1, "exactly one request reaches the origin");
  assert.equal(seen[0].headers["x-auth-user"], name, "the origin is told who signed in");
  assert.ok(seen[0].headers["x-auth-session"], "with its session");
  return attempt.jar;
}

/**
 * Asserts a refused registration: 400 with `code`, the `passkey_refused` line with `detail`,
 * and nothing stored (the list as it was, no `passkey_added` line for the user).
 */
async function assertRegistrationRefused(sys, user, attempt, code, detail = code, listed = []) {
  assert.equal(attempt.status, 400, `${code}: ${attempt.text}`);
  assert.equal(attempt.body?.error, code, `the reason code: ${attempt.text}`);
  const set = setCookies(attempt.res).filter((cookie) => cookie.maxAge > 0);
  assert.deepEqual(set.map((cookie) => cookie.name), [], "a refused registration sets no cookie");
  await assertRefusedLine(sys, user.address, detail, { user: user.name });
  const now = await listPasskeys(sys, user);
  assert.deepEqual(now, listed, "nothing is stored");
  const added = auditNow(sys, "passkey_added", (e) => e.user === pseudonym(user.name));
  assert.equal(added.length, listed.length, "no passkey_added line for the refused one");
}

// --- bytes -------------------------------------------------------------------------------------------------

/** A sign-in challenge as the worker makes it (src/auth/accounts/passkey/challenge.rs): 16 random
 * bytes, the 120-second window, and a MAC of both under a key derived from SESSION_KEYS, for the
 * window `offset` windows from now, under `ring` (default: the deployment's). */
function madeSignInChallenge(offset = 0, ring = SECRETS.SESSION_KEYS) {
  const derived = createHmac("sha256", ringKey(ring).key).update("edgegate passkey sign-in challenge").digest();
  const unique = randomBytes(16);
  const window = Buffer.alloc(8);
  window.writeBigInt64BE(BigInt(Math.floor(Date.now() / 1000 / 120) + offset));
  const tag = createHmac("sha256", derived).update(Buffer.concat([window, unique])).digest().subarray(0, 16);
  return b64url(Buffer.concat([unique, window, tag]));
}

/**
 * Puts `coseKey` (a Map of COSE labels) in place of the new credential's public key in a
 * registration response. Attestation "none" signs nothing, so the response stays as valid as
 * the key is.
 */
function withCoseKey(credential, coseKey) {
  const attestation = cborDecode(fromB64url(credential.response.attestationObject));
  const authData = attestation.get("authData");
  const idLength = (authData[53] << 8) | authData[54];
  const authDataOut = Buffer.concat([authData.subarray(0, 37 + 16 + 2 + idLength), cborEncode(coseKey)]);
  credential.response.attestationObject = b64url(cborEncode({ fmt: "none", attStmt: {}, authData: authDataOut }));
  credential.response.authenticatorData = b64url(authDataOut);
}

/** The COSE key of an RSA public key of `bits` bits (RS256). */
function rsaCoseKey(bits) {
  const { n, e } = generateKeyPairSync("rsa", { modulusLength: bits }).publicKey.export({ format: "jwk" });
  return new Map([[1, 3], [3, -257], [-1, fromB64url(n)], [-2, fromB64url(e)]]);
}

/** Waits, if need be, until the current 120-second challenge window has more than 3 s left. */
async function awayFromWindowEdge() {
  const left = 120 - ((Date.now() / 1000) % 120);
  if (left <= 3) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 100));
}

/** r || s of a DER ECDSA signature (each 32 bytes), as WebCrypto takes it and authenticators do not send it. */
function derToRaw(der) {
  const bytes = fromB64url(der);
  let at = 2;
  const parts = [];
  for (let i = 0; i < 2; i++) {
    const length = bytes[at + 1];
    let value = bytes.subarray(at + 2, at + 2 + length);
    while (value.length > 32 && value[0] === 0) value = value.subarray(1);
    const padded = new Uint8Array(32);
    padded.set(value, 32 - value.length);
    parts.push(padded);
    at += 2 + length;
  }
  return b64url(Buffer.concat(parts));
}

// ===========================================================================================================
// One worker: passkeys on, the defaults but for the floor, the throttle and the recent-sign-in window.
// ===========================================================================================================

describe("passkeys, on one worker (WEBAUTHN_RP_ID = localhost, two origins)", () => {
  let sys;
  before(async () => {
    sys = await startPasskeySystem();
  });
  after(async () => {
    await sys?.dispose();
  });

  // --- 1. honest round trips ------------------------------------------------------------------------------

  describe("honest round trips", () => {
    for (const alg of ["ES256", "EdDSA", "RS256"]) {
      test(`${alg}: registered (201, listed), signs in (200, cookies, redirect), reaches the origin as the user, last_used_at set, audited`, async () => {
        const user = await newUser(sys, alg.toLowerCase());
        const auth = new SoftAuthenticator({ alg });
        const options = await registrationOptions(sys, user);
        assert.equal(options.rp.id, RP_ID);
        assert.equal(options.user.name, user.name);
        assert.equal(options.attestation, "none");
        assert.equal(options.authenticatorSelection.userVerification, "required");
        assert.equal(options.authenticatorSelection.residentKey, "required");
        assert.deepEqual(
          options.pubKeyCredParams,
          [-8, -7, -257].map((alg) => ({ type: "public-key", alg })),
          "EdDSA, ES256 and RS256 offered, in that order",
        );
        assert.deepEqual(options.excludeCredentials, []);
        const credential = await auth.create(options, PAGE);
        const started = Math.floor(Date.now() / 1000);
        const added = await finishRegistration(sys, user, credential, { name: `My ${alg} key` });
        assert.equal(added.status, 201, added.text);
        const { passkey } = added.body;
        assert.equal(passkey.id, credential.id);
        assert.equal(passkey.name, `My ${alg} key`);
        assert.equal(passkey.algorithm, alg);
        assert.equal(passkey.last_used_at, null);
        assert.equal(passkey.synced, false);
        assert.equal(passkey.backup_eligible, false);
        assert.ok(Math.abs(passkey.created_at - started) <= 5, "created_at is now");

        const { status, body } = await call(sys, "GET", "/auth/passkeys", { user });
        assert.equal(status, 200);
        assert.deepEqual(body.passkeys, [passkey], "listed as answered");
        assert.ok(Math.abs(body.manage_until - (started + RECENT_SIGN_IN)) <= 5, `manage_until: ${body.manage_until}`);

        const [addedLine] = await auditFrom(sys, "passkey_added", user.address);
        assert.equal(addedLine.user, pseudonym(user.name));
        assert.equal(addedLine.detail, redacted(credential.id));

        const options2 = await signInOptions(sys);
        assert.equal(options2.rpId, RP_ID);
        assert.equal(options2.userVerification, "required");
        assert.deepEqual(options2.allowCredentials, []);
        const attempt = await signIn(sys, auth, { next: "/reports?year=2024", options: options2 });
        await assertSignedIn(sys, attempt, user.name, { next: "/reports?year=2024" });
        const [signInLine] = await auditFrom(sys, "passkey_sign_in", attempt.address);
        assert.equal(signInLine.user, pseudonym(user.name));
        assert.equal(signInLine.detail, redacted(credential.id));
        assert.equal(signInLine.session, pseudonym(attempt.body.signed_in.session.id));

        const [listed] = await listPasskeys(sys, user);
        assert.equal(typeof listed.last_used_at, "number", "last_used_at is set");
        assert.ok(listed.last_used_at >= passkey.created_at);
      });
    }

    test("the second configured origin works for both ceremonies", async () => {
      const user = await newUser(sys, "second-origin");
      const auth = new SoftAuthenticator({ alg: "EdDSA" });
      await register(sys, user, auth, { page: SECOND_PAGE });
      await assertSignedIn(sys, await signIn(sys, auth, { page: SECOND_PAGE }), user.name);
    });

    test("credential ids of the shortest (16) and the longest (1023) allowed lengths are accepted", async () => {
      const user = await newUser(sys, "id-lengths");
      for (const length of [16, 1023]) {
        const auth = new SoftAuthenticator();
        const { passkey } = await register(sys, user, auth, { tamper: { credentialIdLength: length } });
        assert.equal(fromB64url(passkey.id).length, length);
        await assertSignedIn(sys, await signIn(sys, auth), user.name);
      }
    });

    test("an off-site `next` is not followed: the sign-in goes home", async () => {
      const { user, auth } = await userWithPasskey(sys, "next");
      const attempt = await signIn(sys, auth, { next: "//evil.example/steal" });
      await assertSignedIn(sys, attempt, user.name, { next: "/" });
    });
  });

  // --- 2. hostile registrations ---------------------------------------------------------------------------

  describe("hostile registrations: refused with the reason, nothing stored", () => {
    const large = "x".repeat(2100);
    /** { what, code, detail?, alg?, authenticator?, tamper?, edit?(credential) } */
    const cases = [
      { what: "clientDataJSON from another origin", tamper: { origin: "https://evil.example" }, code: "wrong_origin" },
      { what: "an origin that differs by port", tamper: { origin: "http://localhost:8788" }, code: "wrong_origin" },
      { what: "an origin that differs by scheme", tamper: { origin: "https://localhost:8787" }, code: "wrong_origin" },
      { what: "an origin with a trailing slash", tamper: { origin: `${PAGE}/` }, code: "wrong_origin" },
      { what: "clientDataJSON of a sign-in (type webauthn.get)", tamper: { type: "webauthn.get" }, code: "wrong_type" },
      { what: "clientDataJSON with crossOrigin true", tamper: { crossOrigin: true }, code: "cross_origin" },
      { what: "clientDataJSON with a topOrigin", tamper: { topOrigin: "https://evil.example" }, code: "cross_origin" },
      { what: "clientDataJSON that is not JSON", tamper: { clientDataJSON: "not json" }, code: "malformed", detail: "malformed clientDataJSON" },
      {
        what: "clientDataJSON with a second origin member",
        tamper: { extraClientData: { origin: "https://evil.example" } },
        code: "malformed",
        detail: "malformed clientDataJSON",
      },
      {
        what: "clientDataJSON over 2048 bytes",
        tamper: { extraClientData: { padding: large } },
        code: "too_large",
        detail: "clientDataJSON is too large",
      },
      { what: "authenticator data for another RP id", tamper: { rpId: "evil.example" }, code: "rp_id_hash" },
      { what: "authenticator data for a subdomain of the RP id", tamper: { rpId: "app.localhost" }, code: "rp_id_hash" },
      { what: "user presence (UP) not set", tamper: { up: false }, code: "user_not_present" },
      { what: "user verification (UV) not set", tamper: { uv: false }, code: "user_not_verified" },
      { what: "backed up (BS) without backup eligible (BE)", tamper: { be: false, bs: true }, code: "backup_flags" },
      { what: 'attestation format "packed"', tamper: { fmt: "packed" }, code: "attestation" },
      {
        what: "a non-empty attestation statement",
        tamper: { attStmt: { alg: -7, sig: new Uint8Array(70) } },
        code: "attestation",
      },
      { what: "COSE alg -35 (ES384), not offered", tamper: { coseAlg: -35 }, code: "algorithm_not_offered" },
      { what: "COSE alg -37 (PS256), not offered", tamper: { coseAlg: -37 }, code: "algorithm_not_offered" },
      { what: "an EC2 P-256 key labelled EdDSA (-8)", tamper: { coseAlg: -8 }, code: "public_key" },
      {
        what: "an EC2 key on P-384 labelled ES256",
        edit: (credential) => withCoseKey(credential, new Map([[1, 2], [3, -7], [-1, 2], [-2, randomBytes(48)], [-3, randomBytes(48)]])),
        code: "public_key",
      },
      {
        what: "an ES256 key whose point is not on P-256",
        edit: (credential) => withCoseKey(credential, new Map([[1, 2], [3, -7], [-1, 1], [-2, randomBytes(32)], [-3, randomBytes(32)]])),
        code: "public_key",
      },
      {
        what: "an Ed25519 key of 31 bytes",
        edit: (credential) => withCoseKey(credential, new Map([[1, 1], [3, -8], [-1, 6], [-2, randomBytes(31)]])),
        code: "public_key",
      },
      { what: "a 1024-bit RSA key", edit: (credential) => withCoseKey(credential, rsaCoseKey(1024)), code: "public_key" },
      {
        what: "a COSE key without an algorithm",
        edit: (credential) => withCoseKey(credential, new Map([[1, 2], [-1, 1], [-2, randomBytes(32)], [-3, randomBytes(32)]])),
        code: "algorithm_not_offered",
      },
      { what: "a credential id of 1024 bytes", tamper: { credentialIdLength: 1024 }, code: "credential_id_length" },
      { what: "a credential id of 8 bytes", tamper: { credentialIdLength: 8 }, code: "credential_id_length" },
      { what: "a credential id of 15 bytes", tamper: { credentialIdLength: 15 }, code: "credential_id_length" },
      {
        what: "id and rawId that differ",
        edit: (credential) => {
          credential.rawId = b64url(randomBytes(32));
        },
        code: "credential_id_mismatch",
      },
      {
        what: "id and rawId that name another credential than the authenticator data",
        edit: (credential) => {
          credential.id = credential.rawId = b64url(randomBytes(32));
        },
        code: "credential_id_mismatch",
      },
      {
        what: 'a credential of type "password"',
        edit: (credential) => {
          credential.type = "password";
        },
        code: "wrong_type",
      },
      {
        what: "a credential without its response",
        edit: (credential) => {
          delete credential.response;
        },
        code: "malformed",
        detail: "malformed credential",
      },
      {
        what: "an attestationObject cut inside its authData (garbageCbor true)",
        tamper: { garbageCbor: true },
        code: "malformed",
        detail: "malformed attestation object",
      },
      {
        what: 'an attestationObject cut inside its authData (garbageCbor "truncated")',
        tamper: { garbageCbor: "truncated" },
        code: "malformed",
        detail: "malformed attestation object",
      },
      {
        what: "malformed CBOR extensions",
        tamper: { garbageCbor: "extensions" },
        code: "malformed",
        detail: "malformed extensions",
      },
      {
        what: "a truncated COSE key",
        tamper: { garbageCbor: "coseKey" },
        code: "malformed",
        detail: "malformed credential public key",
      },
      {
        what: "a truncated COSE key (EdDSA)",
        alg: "EdDSA",
        tamper: { garbageCbor: "coseKey" },
        code: "malformed",
        detail: "malformed credential public key",
      },
      {
        what: "bytes after the authenticator data",
        tamper: { trailingBytes: 4 },
        code: "malformed",
        detail: "malformed authenticator data (trailing bytes)",
      },
      {
        what: "no attested credential data",
        tamper: { noAttestedData: true },
        code: "malformed",
        detail: "malformed attested credential data",
      },
      { what: "a made-up challenge", tamper: { challenge: b64url(randomBytes(32)) }, code: "challenge" },
      { what: "a challenge that is not base64url", tamper: { challenge: "not base64url!" }, code: "challenge" },
    ];

    for (const c of cases) {
      test(`${c.what}: 400 ${c.code}`, async () => {
        const user = await newUser(sys, "reg");
        const auth = new SoftAuthenticator({ alg: c.alg ?? "ES256", ...c.authenticator });
        const options = await registrationOptions(sys, user);
        const credential = await auth.create(options, PAGE, c.tamper ?? {});
        await c.edit?.(credential);
        const attempt = await finishRegistration(sys, user, credential);
        await assertRegistrationRefused(sys, user, attempt, c.code, c.detail ?? c.code);
        await register(sys, user, new SoftAuthenticator({ alg: c.alg ?? "ES256" })); // an honest one still works
      });
    }

    test("a challenge answered twice: the second registration is refused (challenge)", async () => {
      const user = await newUser(sys, "reg-replay");
      const options = await registrationOptions(sys, user);
      const first = await finishRegistration(sys, user, await new SoftAuthenticator().create(options, PAGE));
      assert.equal(first.status, 201, first.text);
      const listed = await listPasskeys(sys, user);
      const second = await finishRegistration(sys, user, await new SoftAuthenticator().create(options, PAGE));
      await assertRegistrationRefused(sys, user, second, "challenge", "challenge", listed);
    });

    test("the same response posted twice: the second is refused (challenge)", async () => {
      const user = await newUser(sys, "reg-repost");
      const options = await registrationOptions(sys, user);
      const credential = await new SoftAuthenticator().create(options, PAGE);
      assert.equal((await finishRegistration(sys, user, credential)).status, 201);
      const listed = await listPasskeys(sys, user);
      const again = await finishRegistration(sys, user, credential);
      await assertRegistrationRefused(sys, user, again, "challenge", "challenge", listed);
    });

    test("a sign-in challenge answered in a registration: refused (challenge)", async () => {
      const user = await newUser(sys, "reg-signin-challenge");
      const options = await registrationOptions(sys, user);
      const { challenge } = await signInOptions(sys);
      const credential = await new SoftAuthenticator().create(options, PAGE, { challenge });
      await assertRegistrationRefused(sys, user, await finishRegistration(sys, user, credential), "challenge");
    });

    test("another user's registration challenge answered in this user's session: refused (challenge)", async () => {
      const alice = await newUser(sys, "reg-alice");
      const bob = await newUser(sys, "reg-bob");
      await registrationOptions(sys, alice); // alice has a registration of her own begun
      const bobs = await registrationOptions(sys, bob);
      // alice's browser answers bob's options (his challenge and user handle) in her session
      const credential = await new SoftAuthenticator().create(bobs, PAGE);
      await assertRegistrationRefused(sys, alice, await finishRegistration(sys, alice, credential), "challenge");
      assert.deepEqual(await listPasskeys(sys, bob), [], "nor is anything stored for bob");
    });

    test("the challenge of the same user's other session: refused (challenge)", async () => {
      const user = await newUser(sys, "reg-other-session");
      const other = { ...user, jar: await session(sys.edge, user.name, { headers: { "cf-connecting-ip": user.address } }) };
      const options = await registrationOptions(sys, other);
      const credential = await new SoftAuthenticator().create(options, PAGE);
      await assertRegistrationRefused(sys, user, await finishRegistration(sys, user, credential), "challenge");
      assert.equal((await finishRegistration(sys, other, credential)).status, 201, "the session that asked can still finish");
    });

    test("a credential id the user has registered already: refused (duplicate_credential)", async () => {
      const user = await newUser(sys, "reg-duplicate");
      const { passkey } = await register(sys, user, new SoftAuthenticator());
      const listed = await listPasskeys(sys, user);
      // Another authenticator that makes a credential under the same id (the first one would
      // decline: the options exclude it).
      const options = await registrationOptions(sys, user);
      assert.deepEqual(options.excludeCredentials, [{ type: "public-key", id: passkey.id }]);
      const credential = await new SoftAuthenticator().create(options, PAGE, { credentialId: passkey.id });
      const attempt = await finishRegistration(sys, user, credential);
      await assertRegistrationRefused(sys, user, attempt, "duplicate_credential", "duplicate_credential", listed);
    });

    test("a credential id another user has registered: refused (duplicate_credential)", async () => {
      // WebAuthn L3 §7.1: a credential id already registered for any user should fail the
      // registration; an attacker who learnt a victim's credential id must not be able to claim it.
      const victim = await userWithPasskey(sys, "reg-victim");
      const mallory = await newUser(sys, "reg-mallory");
      const options = await registrationOptions(sys, mallory);
      const credential = await new SoftAuthenticator().create(options, PAGE, { credentialId: victim.passkey.id });
      const attempt = await finishRegistration(sys, mallory, credential);
      await assertRegistrationRefused(sys, mallory, attempt, "duplicate_credential");
    });

    test("one challenge answered by four registrations at once: exactly one is stored", async () => {
      const user = await newUser(sys, "reg-race");
      const options = await registrationOptions(sys, user);
      const credentials = await Promise.all([0, 1, 2, 3].map(() => new SoftAuthenticator().create(options, PAGE)));
      const answers = await Promise.all(
        credentials.map((credential) =>
          sys.edge.fetch("/auth/passkeys/register", {
            method: "POST",
            headers: { ...JSON_API, ...SAME_ORIGIN, "content-type": "application/json", cookie: user.jar.header(), "cf-connecting-ip": user.address },
            body: JSON.stringify({ name: "race", credential }),
          }),
        ),
      );
      const statuses = answers.map((res) => res.status).sort();
      assert.deepEqual(statuses, [201, 400, 400, 400]);
      for (const res of answers) if (res.status === 400) assert.equal((await res.json()).error, "challenge");
      assert.equal((await listPasskeys(sys, user)).length, 1);
      await auditFrom(sys, "passkey_refused", user.address, { count: 3 });
    });

    test("a registration begun before four later ones has given way (challenge); the latest is answered", async () => {
      const user = await newUser(sys, "reg-pending");
      const oldest = await registrationOptions(sys, user);
      const later = [];
      for (let i = 0; i < 4; i++) later.push(await registrationOptions(sys, user));
      const stale = await finishRegistration(sys, user, await new SoftAuthenticator().create(oldest, PAGE));
      await assertRegistrationRefused(sys, user, stale, "challenge");
      const fresh = await finishRegistration(sys, user, await new SoftAuthenticator().create(later[3], PAGE));
      assert.equal(fresh.status, 201, fresh.text);
    });

    test("a user with 16 passkeys can begin no 17th (400 too_many_passkeys)", async () => {
      const user = await newUser(sys, "reg-many");
      for (let i = 0; i < 16; i++) await register(sys, user, new SoftAuthenticator(), { name: `key ${i}` });
      const answer = await call(sys, "POST", "/auth/passkeys/register/options", { user, body: {} });
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.body.error, "too_many_passkeys");
      assert.equal((await listPasskeys(sys, user)).length, 16);
    });

    test("a body over 16 KB: 400 bad_request, nothing stored", async () => {
      const user = await newUser(sys, "reg-large-body");
      const options = await registrationOptions(sys, user);
      const credential = await new SoftAuthenticator().create(options, PAGE);
      credential.clientExtensionResults = { padding: "x".repeat(17 * 1024) };
      const attempt = await finishRegistration(sys, user, credential);
      assert.equal(attempt.status, 400, attempt.text);
      assert.equal(attempt.body.error, "bad_request");
      assert.deepEqual(await listPasskeys(sys, user), []);
    });

    test("a bad name (empty, 65 characters, a control character): 400 bad_name, nothing stored", async () => {
      const user = await newUser(sys, "reg-name");
      for (const name of ["", "   ", "n".repeat(65), "line\nbreak"]) {
        const options = await registrationOptions(sys, user);
        const credential = await new SoftAuthenticator().create(options, PAGE);
        const attempt = await finishRegistration(sys, user, credential, { name });
        assert.equal(attempt.status, 400, `${JSON.stringify(name)}: ${attempt.text}`);
        assert.equal(attempt.body.error, "bad_name");
      }
      assert.deepEqual(await listPasskeys(sys, user), []);
      const options = await registrationOptions(sys, user);
      const credential = await new SoftAuthenticator().create(options, PAGE);
      const ok = await finishRegistration(sys, user, credential, { name: `  ${"n".repeat(64)}  ` });
      assert.equal(ok.status, 201, "64 characters, trimmed, are fine");
      assert.equal(ok.body.passkey.name, "n".repeat(64));
    });

    test("cross-site requests (Sec-Fetch-Site cross-site or same-site, or a foreign Origin): 403 cross_site, nothing stored", async () => {
      const user = await newUser(sys, "reg-cross-site");
      const options = await registrationOptions(sys, user);
      const credential = await new SoftAuthenticator().create(options, PAGE);
      const foreign = [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, { origin: "https://evil.example" }];
      for (const hdrs of foreign) {
        const send = (path, body) =>
          sys.edge.fetch(path, {
            method: "POST",
            headers: { ...JSON_API, "content-type": "application/json", cookie: user.jar.header(), "cf-connecting-ip": user.address, ...hdrs },
            body: JSON.stringify(body),
          });
        for (const [path, body] of [
          ["/auth/passkeys/register/options", {}],
          ["/auth/passkeys/register", { name: "x", credential }],
        ]) {
          const res = await send(path, body);
          assert.equal(res.status, 403, `${path} ${JSON.stringify(hdrs)}`);
          assert.equal((await res.json()).error, "cross_site");
        }
      }
      await auditFrom(sys, "cross_site_rejected", user.address, { count: 6 });
      assert.deepEqual(await listPasskeys(sys, user), []);
      assert.equal((await finishRegistration(sys, user, credential)).status, 201, "the same response, same-origin, is fine");
    });

    test("without a session: 401 for the options, the registration and the list", async () => {
      const user = await newUser(sys, "reg-no-session");
      const options = await registrationOptions(sys, user);
      const credential = await new SoftAuthenticator().create(options, PAGE);
      const anonymous = { name: user.name, address: user.address, jar: new Jar() };
      for (const [method, path, body] of [
        ["POST", "/auth/passkeys/register/options", {}],
        ["POST", "/auth/passkeys/register", { name: "x", credential }],
        ["GET", "/auth/passkeys", undefined],
        ["DELETE", `/auth/passkeys/${credential.id}`, undefined],
      ]) {
        const answer = await call(sys, method, path, { user: anonymous, body });
        assert.equal(answer.status, 401, `${method} ${path}: ${answer.text}`);
        assert.equal(answer.body.error, "unauthenticated");
      }
      assert.deepEqual(await listPasskeys(sys, user), []);
    });

    test("a session that signed in more than PASSKEY_RECENT_SIGN_IN ago: 403 reauthenticate to add or remove", async () => {
      const user = await newUser(sys, "reg-not-recent");
      const { passkey } = await register(sys, user, new SoftAuthenticator());
      const options = await registrationOptions(sys, user);
      const credential = await new SoftAuthenticator().create(options, PAGE);
      await editSession(sys.edge, user.sid, (record) => {
        assert.equal(typeof record.created_at, "number");
        record.created_at -= RECENT_SIGN_IN + 5;
      });
      const begin = await call(sys, "POST", "/auth/passkeys/register/options", { user, body: {} });
      assert.equal(begin.status, 403, begin.text);
      assert.equal(begin.body.error, "reauthenticate");
      const finish = await finishRegistration(sys, user, credential);
      assert.equal(finish.status, 403, finish.text);
      assert.equal(finish.body.error, "reauthenticate");
      const remove = await call(sys, "DELETE", `/auth/passkeys/${passkey.id}`, { user });
      assert.equal(remove.status, 403, remove.text);
      assert.equal(remove.body.error, "reauthenticate");
      const listed = await call(sys, "GET", "/auth/passkeys", { user });
      assert.equal(listed.status, 200, "the list is still shown");
      assert.deepEqual(listed.body.passkeys.map((p) => p.id), [passkey.id], "nothing added or removed");
      assert.ok(listed.body.manage_until < Date.now() / 1000, "manage_until is in the past");
    });
  });

  // --- 3. hostile sign-ins --------------------------------------------------------------------------------

  describe("hostile sign-ins: 401 passkey_refused, the reason in the audit line, no session", () => {
    /** { what, detail, owner (the audit line names the user), alg?, authenticator?, tamper? (or a function
     * making it), edit?(credential) } */
    const cases = [
      { what: "clientDataJSON from another origin", tamper: { origin: "https://evil.example" }, detail: "wrong_origin" },
      { what: "clientDataJSON of a registration (type webauthn.create)", tamper: { type: "webauthn.create" }, detail: "wrong_type" },
      { what: "clientDataJSON with crossOrigin true", tamper: { crossOrigin: true }, detail: "cross_origin" },
      { what: "clientDataJSON with a topOrigin", tamper: { topOrigin: PAGE }, detail: "cross_origin" },
      { what: "clientDataJSON over 2048 bytes", tamper: { extraClientData: { padding: "x".repeat(2100) } }, detail: "clientDataJSON is too large" },
      { what: "clientDataJSON that is not JSON", tamper: { clientDataJSON: "{" }, detail: "malformed clientDataJSON" },
      { what: "clientDataJSON with a second type member", tamper: { extraClientData: { type: "webauthn.get" } }, detail: "malformed clientDataJSON" },
      { what: "authenticator data for another RP id", tamper: { rpId: "evil.example" }, detail: "rp_id_hash" },
      { what: "user presence (UP) not set", tamper: { up: false }, detail: "user_not_present" },
      { what: "user verification (UV) not set", tamper: { uv: false }, detail: "user_not_verified" },
      { what: "backed up (BS) without backup eligible (BE)", tamper: { bs: true }, detail: "backup_flags" },
      { what: "signed by another key", tamper: { signWith: "other" }, detail: "signature", owner: true },
      {
        what: "an ES256 signature as raw r || s instead of DER",
        edit: (credential) => {
          credential.response.signature = derToRaw(credential.response.signature);
        },
        detail: "signature",
        owner: true,
      },
      {
        what: "a signature of the right length made of zeros",
        alg: "EdDSA",
        edit: (credential) => {
          credential.response.signature = b64url(new Uint8Array(64));
        },
        detail: "signature",
        owner: true,
      },
      {
        what: "a signature over 1024 bytes",
        edit: (credential) => {
          credential.response.signature = b64url(randomBytes(1100));
        },
        detail: "signature is too large",
      },
      { what: "a made-up challenge", tamper: { challenge: b64url(randomBytes(40)) }, detail: "challenge" },
      // Made when the test runs (a window may end in between: two windows either way stay out).
      {
        what: "an expired challenge (made with the deployment's key, two windows ago)",
        tamper: () => ({ challenge: madeSignInChallenge(-2) }),
        detail: "challenge",
      },
      { what: "a challenge of a window to come", tamper: () => ({ challenge: madeSignInChallenge(+2) }), detail: "challenge" },
      {
        what: "a challenge made with another deployment's key",
        tamper: () => ({ challenge: madeSignInChallenge(0, testKeys().SESSION_KEYS) }),
        detail: "challenge",
      },
      { what: "no user handle", tamper: { userHandle: null }, detail: "user_handle" },
      { what: "a user handle that names no one", tamper: { userHandle: b64url(randomBytes(32)) }, detail: "user_handle" },
      { what: "a user handle of 16 bytes", tamper: { userHandle: b64url(randomBytes(16)) }, detail: "user_handle" },
      {
        what: "a credential id the user does not have, with their handle",
        tamper: { credentialId: b64url(randomBytes(32)) },
        detail: "unknown_credential",
        owner: true,
      },
      { what: "a credential id of 8 bytes", tamper: { credentialId: b64url(randomBytes(8)) }, detail: "credential_id_length" },
      {
        what: "id and rawId that differ",
        edit: (credential) => {
          credential.rawId = b64url(randomBytes(32));
        },
        detail: "credential_id_mismatch",
      },
      {
        what: "a credential without its response",
        edit: (credential) => {
          delete credential.response;
        },
        detail: "malformed credential",
      },
      { what: "authenticator data cut short (garbageCbor true)", tamper: { garbageCbor: true }, detail: "malformed authenticator data" },
      { what: "malformed CBOR extensions", tamper: { garbageCbor: "extensions" }, detail: "malformed extensions" },
      { what: "bytes after the authenticator data", tamper: { trailingBytes: [0xa0] }, detail: "malformed authenticator data (trailing bytes)" },
      {
        what: "backup eligible (BE) now, not at registration",
        tamper: { be: true },
        detail: "backup_flags",
        owner: true,
      },
      {
        what: "not backup eligible (BE) now, eligible at registration",
        authenticator: { backupEligible: true, backedUp: true },
        tamper: { be: false, bs: false },
        detail: "backup_flags",
        owner: true,
      },
    ];

    for (const c of cases) {
      test(`${c.what}: refused (${c.detail})`, async () => {
        const { user, auth } = await userWithPasskey(sys, "signin", { alg: c.alg ?? "ES256", ...c.authenticator });
        const tamper = typeof c.tamper === "function" ? c.tamper() : (c.tamper ?? {});
        const attempt = await signIn(sys, auth, { tamper, edit: c.edit });
        await assertSignInRefused(sys, attempt, c.detail, { user: c.owner ? user.name : null });
        await assertSignedIn(sys, await signIn(sys, auth), user.name); // the passkey itself still works
      });
    }

    test("challenges made with the deployment's key for this window and the one before are accepted (the construction above is right)", async () => {
      const { user, auth } = await userWithPasskey(sys, "made-challenge");
      for (const offset of [0, -1]) {
        await awayFromWindowEdge();
        const attempt = await signIn(sys, auth, { tamper: { challenge: madeSignInChallenge(offset) } });
        await assertSignedIn(sys, attempt, user.name);
      }
    });

    test("audit lines give refusal reasons readably (user not verified, counter regressed), not as pseudonyms", async () => {
      // An operator reads these lines to tell a cloned authenticator (counter_regressed) from a
      // misconfigured one; a reason code of 16 characters or more must not be redacted away.
      const user = await newUser(sys, "readable");
      const options = await registrationOptions(sys, user);
      const credential = await new SoftAuthenticator().create(options, PAGE, { uv: false });
      assert.equal((await finishRegistration(sys, user, credential)).status, 400);
      const [registration] = await auditFrom(sys, "passkey_refused", user.address);
      const auth = new SoftAuthenticator({ counter: 5 });
      await register(sys, user, auth);
      const regressed = await signIn(sys, auth, { tamper: { counter: 1 } });
      assert.equal(regressed.status, 401);
      const [signIn1] = await auditFrom(sys, "passkey_refused", regressed.address);
      assert.equal(registration.detail, "user not verified", `readable reason: ${JSON.stringify(registration)}`);
      assert.equal(signIn1.detail, "counter regressed", `readable reason: ${JSON.stringify(signIn1)}`);
    });

    test("a registration challenge answered in a sign-in: refused (challenge)", async () => {
      const { user, auth } = await userWithPasskey(sys, "signin-reg-challenge");
      const { challenge } = await registrationOptions(sys, user);
      const attempt = await signIn(sys, auth, { tamper: { challenge } });
      await assertSignInRefused(sys, attempt, "challenge", { user: null });
    });

    test("a replayed assertion: the second is refused (challenge_spent)", async () => {
      const { user, auth } = await userWithPasskey(sys, "replay");
      const first = await signIn(sys, auth);
      await assertSignedIn(sys, first, user.name);
      const address = freshAddress();
      const replay = { ...(await postSignIn(sys, first.credential, { address })), address };
      await assertSignInRefused(sys, replay, "challenge_spent", { user: user.name });
    });

    test("one assertion posted five times at once: exactly one session, four refusals (challenge_spent)", async () => {
      const { user, auth } = await userWithPasskey(sys, "replay-race");
      const options = await signInOptions(sys);
      const credential = await auth.get(options, PAGE);
      const addresses = [0, 1, 2, 3, 4].map(() => freshAddress());
      const attempts = await Promise.all(
        addresses.map(async (address) => ({ ...(await postSignIn(sys, credential, { address })), address })),
      );
      const won = attempts.filter((attempt) => attempt.status === 200);
      assert.equal(won.length, 1, `one sign-in: ${attempts.map((a) => a.status)}`);
      await assertSignedIn(sys, won[0], user.name);
      for (const attempt of attempts.filter((a) => a !== won[0])) {
        await assertSignInRefused(sys, attempt, "challenge_spent", { user: user.name });
      }
    });

    test("one challenge answered by two passkeys of one user: the second is refused (challenge_spent)", async () => {
      const { user, auth } = await userWithPasskey(sys, "spent-twice");
      const other = new SoftAuthenticator({ alg: "EdDSA" });
      await register(sys, user, other);
      const options = await signInOptions(sys);
      await assertSignedIn(sys, await signIn(sys, auth, { options }), user.name);
      await assertSignInRefused(sys, await signIn(sys, other, { options }), "challenge_spent", { user: user.name });
    });

    test("other users' credentials and handles: refused (unknown_credential, signature)", async () => {
      const a = await userWithPasskey(sys, "cross-a");
      const b = await userWithPasskey(sys, "cross-b");
      // B's credential id, A's handle, A's key.
      let attempt = await signIn(sys, a.auth, { tamper: { credentialId: b.passkey.id } });
      await assertSignInRefused(sys, attempt, "unknown_credential", { user: a.user.name });
      // A's credential, B's handle.
      attempt = await signIn(sys, a.auth, { tamper: { userHandle: b.handle } });
      await assertSignInRefused(sys, attempt, "unknown_credential", { user: b.user.name });
      // B's credential id and handle, signed with A's key.
      attempt = await signIn(sys, a.auth, { tamper: { credentialId: b.passkey.id, userHandle: b.handle } });
      await assertSignInRefused(sys, attempt, "signature", { user: b.user.name });
    });

    test("a sign counter that goes backwards or stands still is refused (counter_regressed); the next honest one works", async () => {
      const { user, auth } = await userWithPasskey(sys, "counter", { counter: 5 });
      await assertSignedIn(sys, await signIn(sys, auth), user.name); // reports 6
      await assertSignInRefused(sys, await signIn(sys, auth, { tamper: { counter: 3 } }), "counter_regressed", { user: user.name });
      await assertSignInRefused(sys, await signIn(sys, auth, { tamper: { counter: 6 } }), "counter_regressed", { user: user.name });
      await assertSignedIn(sys, await signIn(sys, auth), user.name); // reports 7
    });

    test("a synced passkey (BE and BS set, counter always 0) signs in again and again", async () => {
      const { user, auth, passkey } = await userWithPasskey(sys, "synced", { backupEligible: true, backedUp: true, counter: 0 });
      assert.equal(passkey.synced, true);
      assert.equal(passkey.backup_eligible, true);
      for (let i = 0; i < 3; i++) await assertSignedIn(sys, await signIn(sys, auth), user.name);
    });

    test("a disabled account is refused (account) and its sessions end; enabled again, it signs in", async () => {
      const { user, auth } = await userWithPasskey(sys, "disabled");
      assert.equal((await protectedRequest(sys, user.jar)).status, 200, "the password session works before");
      await editUser(sys, user.name, (record) => {
        record.disabled = true;
      });
      await assertSignInRefused(sys, await signIn(sys, auth), "account", { user: user.name });
      assert.equal((await protectedRequest(sys, user.jar)).status, 401, "the user's sessions ended");
      await editUser(sys, user.name, (record) => {
        record.disabled = false;
      });
      await assertSignedIn(sys, await signIn(sys, auth), user.name);
    });

    test("a user whose record was deleted is refused (account)", async () => {
      const { user, auth } = await userWithPasskey(sys, "deleted");
      await (await sys.edge.kv("USERS")).delete(`user:${user.name}`);
      await assertSignInRefused(sys, await signIn(sys, auth), "account", { user: user.name });
    });

    test("a record written anew (a reset, or the name given to someone new) retires the passkeys of before (account)", async () => {
      const { user, auth } = await userWithPasskey(sys, "renewed");
      // `edgegate user add` writes every record with a new account id.
      await editUser(sys, user.name, (record) => {
        record.account = b64url(randomBytes(16));
      });
      await assertSignInRefused(sys, await signIn(sys, auth), "account", { user: user.name });
      assert.deepEqual(await listPasskeys(sys, user), [], "not this account's passkeys");
    });

    test("a body over 16 KB: 400 bad_request, no session", async () => {
      const { auth } = await userWithPasskey(sys, "signin-large-body");
      const attempt = await signIn(sys, auth, {
        edit: (credential) => {
          credential.clientExtensionResults = { padding: "x".repeat(17 * 1024) };
        },
      });
      assert.equal(attempt.status, 400, attempt.text);
      assert.equal(attempt.body.error, "bad_request");
      await assertNoSession(sys, attempt.res, "an oversized sign-in");
    });

    test("cross-site sign-ins (and their options): 403 cross_site, no session", async () => {
      const { auth } = await userWithPasskey(sys, "signin-cross-site");
      const address = freshAddress();
      const options = await signInOptions(sys, address);
      const credential = await auth.get(options, PAGE);
      for (const hdrs of [{ "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }]) {
        for (const [path, body] of [
          ["/auth/passkeys/sign-in/options", {}],
          ["/auth/passkeys/sign-in", { credential, next: "/" }],
        ]) {
          const res = await sys.edge.fetch(path, {
            method: "POST",
            headers: { ...JSON_API, "content-type": "application/json", "cf-connecting-ip": address, ...hdrs },
            body: JSON.stringify(body),
          });
          assert.equal(res.status, 403, `${path} ${JSON.stringify(hdrs)}`);
          assert.equal((await res.clone().json()).error, "cross_site");
          await assertNoSession(sys, res, `${path} cross-site`);
        }
      }
      assert.deepEqual(auditNow(sys, "passkey_sign_in", (e) => e.client === pseudonym(address)), []);
    });
  });

  // --- 4. removal --------------------------------------------------------------------------------------------

  describe("removal", () => {
    test("a user removes their own passkey: 200, gone from the list, audited; it signs in no more (unknown_credential)", async () => {
      const { user, auth, passkey } = await userWithPasskey(sys, "remove");
      const removed = await call(sys, "DELETE", `/auth/passkeys/${passkey.id}`, { user });
      assert.equal(removed.status, 200, removed.text);
      assert.deepEqual(removed.body, { removed: passkey.id });
      assert.deepEqual(await listPasskeys(sys, user), []);
      const lines = await auditEvents(sys.edge, (e) => e.event === "passkey_removed" && e.user === pseudonym(user.name));
      assert.equal(lines[0].detail, `${redacted(passkey.id)} by its user`);
      await assertSignInRefused(sys, await signIn(sys, auth), "unknown_credential", { user: user.name });
      const again = await call(sys, "DELETE", `/auth/passkeys/${passkey.id}`, { user });
      assert.equal(again.status, 404, "a second removal finds nothing");
    });

    test("unknown, malformed and other users' passkey ids: 404, nothing removed", async () => {
      const a = await userWithPasskey(sys, "remove-a");
      const b = await userWithPasskey(sys, "remove-b");
      for (const id of [b64url(randomBytes(32)), "not-an-id", b.passkey.id]) {
        const answer = await call(sys, "DELETE", `/auth/passkeys/${id}`, { user: a.user });
        assert.equal(answer.status, 404, `${id}: ${answer.text}`);
        assert.equal(answer.body.error, "not_found");
      }
      assert.equal((await listPasskeys(sys, a.user)).length, 1);
      assert.equal((await listPasskeys(sys, b.user)).length, 1, "b's passkey is still there");
    });

    test("a removal from another site: 403 cross_site, nothing removed", async () => {
      const { user, passkey } = await userWithPasskey(sys, "remove-cross-site");
      const answer = await call(sys, "DELETE", `/auth/passkeys/${passkey.id}`, {
        user,
        headers: { "sec-fetch-site": "cross-site" },
      });
      assert.equal(answer.status, 403);
      assert.equal(answer.body.error, "cross_site");
      assert.equal((await listPasskeys(sys, user)).length, 1);
    });

    test("a user without a password keeps their last passkey (409 last_passkey); with two, one can go; no password sign-in", async () => {
      const { user, auth, passkey } = await userWithPasskey(sys, "passkey-only");
      await editUser(sys, user.name, (record) => {
        delete record.password;
      });
      // The password session ends its usefulness here; the user signs in with the passkey.
      const signedIn = await signIn(sys, auth);
      const jar = await assertSignedIn(sys, signedIn, user.name);
      const me = { ...user, jar };
      let answer = await call(sys, "DELETE", `/auth/passkeys/${passkey.id}`, { user: me });
      assert.equal(answer.status, 409, answer.text);
      assert.equal(answer.body.error, "last_passkey");
      const second = new SoftAuthenticator({ alg: "EdDSA" });
      const { passkey: other } = await register(sys, me, second, { name: "phone" });
      answer = await call(sys, "DELETE", `/auth/passkeys/${passkey.id}`, { user: me });
      assert.equal(answer.status, 200, answer.text);
      answer = await call(sys, "DELETE", `/auth/passkeys/${other.id}`, { user: me });
      assert.equal(answer.status, 409, answer.text);
      assert.equal(answer.body.error, "last_passkey");
      assert.deepEqual((await listPasskeys(sys, me)).map((p) => p.id), [other.id]);
      await assertSignedIn(sys, await signIn(sys, second), user.name);

      const address = freshAddress();
      const { res } = await login(sys.edge, user.name, { headers: { "cf-connecting-ip": address } });
      assert.equal(res.status, 401, "a password sign-in of a user without a password fails");
      assert.equal((await res.json()).error, "invalid_credentials");
      await assertNoSession(sys, res, "password sign-in of a passkey-only user");
    });

    describe("by the operator (admin endpoint)", () => {
      const admin = (method, path) =>
        sys.edge.fetch(path, { method, headers: { ...JSON_API, authorization: `Bearer ${ADMIN_SECRET}` } });

      test("lists and removes a user's passkeys, audited; a password user's last one can go", async () => {
        const { user, passkey } = await userWithPasskey(sys, "admin");
        const { passkey: other } = await register(sys, user, new SoftAuthenticator({ alg: "RS256" }), { name: "tablet" });
        let res = await admin("GET", `/auth/admin/users/${user.name}/passkeys`);
        assert.equal(res.status, 200);
        const listed = await res.json();
        assert.equal(listed.user, user.name);
        assert.deepEqual(listed.passkeys.map((p) => [p.id, p.name]), [[passkey.id, "laptop"], [other.id, "tablet"]]);
        res = await admin("DELETE", `/auth/admin/users/${user.name}/passkeys/${passkey.id}`);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { user: user.name, removed: passkey.id });
        const lines = await auditEvents(sys.edge, (e) => e.event === "passkey_removed" && e.user === pseudonym(user.name));
        assert.equal(lines[0].detail, `${redacted(passkey.id)} by an operator`);
        res = await admin("DELETE", `/auth/admin/users/${user.name}/passkeys/${other.id}`);
        assert.equal(res.status, 200, "the user has a password: the last passkey may go");
        assert.deepEqual(await listPasskeys(sys, user), []);
      });

      test("refuses the last passkey of a user without a password (409), an unknown one (404) and a wrong secret (401)", async () => {
        const { user, passkey } = await userWithPasskey(sys, "admin-only");
        await editUser(sys, user.name, (record) => {
          delete record.password;
        });
        let res = await admin("DELETE", `/auth/admin/users/${user.name}/passkeys/${passkey.id}`);
        assert.equal(res.status, 409);
        assert.equal((await res.json()).error, "last_passkey");
        res = await admin("DELETE", `/auth/admin/users/${user.name}/passkeys/${b64url(randomBytes(32))}`);
        assert.equal(res.status, 404);
        assert.equal((await res.json()).error, "unknown_passkey");
        res = await sys.edge.fetch(`/auth/admin/users/${user.name}/passkeys/${passkey.id}`, {
          method: "DELETE",
          headers: { ...JSON_API, authorization: `Bearer ${"y".repeat(48)}` },
        });
        assert.equal(res.status, 401);
        await res.body?.cancel();
        res = await admin("GET", `/auth/admin/users/${user.name}/passkeys`);
        assert.deepEqual((await res.json()).passkeys.map((p) => p.id), [passkey.id], "still there");
      });
    });
  });

  // --- 5. a second device ------------------------------------------------------------------------------------

  describe("two authenticators for one user", () => {
    test("the second registration's options exclude the first credential; both sign in", async () => {
      const { user, auth: laptop, passkey } = await userWithPasskey(sys, "two-devices");
      const options = await registrationOptions(sys, user);
      assert.deepEqual(options.excludeCredentials, [{ type: "public-key", id: passkey.id }]);
      await assert.rejects(laptop.create(options, PAGE), { name: "InvalidStateError" }, "the first device declines");
      const phone = new SoftAuthenticator({ alg: "EdDSA", backupEligible: true, backedUp: true, counter: 0 });
      const added = await finishRegistration(sys, user, await phone.create(options, PAGE), { name: "phone" });
      assert.equal(added.status, 201, added.text);
      assert.equal(laptop.credentials[0].userHandle, phone.credentials[0].userHandle, "one user handle for both");
      const listed = await listPasskeys(sys, user);
      assert.deepEqual(listed.map((p) => [p.name, p.algorithm, p.synced]), [["laptop", "ES256", false], ["phone", "EdDSA", true]]);
      await assertSignedIn(sys, await signIn(sys, laptop), user.name);
      await assertSignedIn(sys, await signIn(sys, phone), user.name);
      const third = await registrationOptions(sys, user);
      assert.deepEqual(third.excludeCredentials.map((c) => c.id).sort(), listed.map((p) => p.id).sort());
    });
  });
});

// ===========================================================================================================
// Workers of their own: the counter policy, the throttle, the configuration.
// ===========================================================================================================

describe("PASSKEY_COUNTER = log", () => {
  let sys;
  before(async () => {
    sys = await startPasskeySystem({ PASSKEY_COUNTER: "log" });
  });
  after(async () => {
    await sys?.dispose();
  });

  test("a sign counter that went backwards signs in, and the passkey_sign_in line says so; a replay is still refused", async () => {
    const { user, auth } = await userWithPasskey(sys, "counter-log", { counter: 10 });
    await assertSignedIn(sys, await signIn(sys, auth), user.name); // 11
    const regressed = await signIn(sys, auth, { tamper: { counter: 2 } });
    await assertSignedIn(sys, regressed, user.name);
    const [line] = await auditFrom(sys, "passkey_sign_in", regressed.address);
    assert.match(line.detail, /sign counter went backwards/, line.detail);
    const address = freshAddress();
    const replay = { ...(await postSignIn(sys, regressed.credential, { address })), address };
    await assertSignInRefused(sys, replay, "challenge_spent", { user: user.name });
  });
});

describe("the password throttle applies to passkey sign-ins", () => {
  let sys;
  const FLOOR_MS = 300;
  before(async () => {
    sys = await startPasskeySystem({
      LOGIN_MAX_FAILURES_PER_CLIENT: "3",
      LOGIN_MAX_FAILURES_PER_ACCOUNT: "3",
      LOGIN_FAILURE_FLOOR_MS: String(FLOOR_MS),
    });
  });
  after(async () => {
    await sys?.dispose();
  });

  test("per address: after 3 refusals (each answered no sooner than the floor), 429 with Retry-After, even for a good passkey", async () => {
    const { user, auth } = await userWithPasskey(sys, "throttle-client");
    const address = freshAddress();
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const attempt = await signIn(sys, auth, { address, tamper: { challenge: b64url(randomBytes(40)) } });
      const took = performance.now() - started;
      assert.equal(attempt.status, 401, attempt.text);
      assert.ok(took >= FLOOR_MS - 10, `refusal ${i + 1} took ${took.toFixed(0)} ms, under the floor`);
    }
    await auditFrom(sys, "passkey_refused", address, { count: 3 });
    const limited = await signIn(sys, auth, { address, tamper: { challenge: b64url(randomBytes(40)) } });
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.body.error, "rate_limited");
    assert.ok(Number(limited.res.headers.get("retry-after")) > 0, "Retry-After");
    const honest = await signIn(sys, auth, { address });
    assert.equal(honest.status, 429, "a good passkey from the throttled address is held back too");
    await assertNoSession(sys, honest.res, "throttled honest sign-in");
    await auditFrom(sys, "rate_limited", address, { count: 2 });
    await assertSignedIn(sys, await signIn(sys, auth), user.name); // from another address
  });

  test("per account: wrong passwords from many addresses do not lock a user's passkeys out", async () => {
    // The account's counter is what password guesses fill; a signed assertion cannot be guessed,
    // so passkey sign-ins are held back by their address's counter alone.
    const { user, auth } = await userWithPasskey(sys, "throttle-account");
    for (let i = 0; i < 3; i++) {
      const { res } = await login(sys.edge, user.name, {
        password: "wrong",
        headers: { "cf-connecting-ip": freshAddress() },
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    const { res } = await login(sys.edge, user.name, { headers: { "cf-connecting-ip": freshAddress() } });
    assert.equal(res.status, 429, "the password sign-in of the account is held back");
    await res.body?.cancel();
    const honest = await signIn(sys, auth);
    await assertSignedIn(sys, honest, user.name);
  });
});

describe("configuration", () => {
  let origin;
  before(async () => {
    origin = await startOrigin();
  });
  after(async () => {
    await origin?.close();
  });

  /** A worker in front of the shared origin with `vars` over wrangler.toml's (no base passkey settings). */
  const worker = (vars) =>
    startWorker({ captureLogs: true, secrets: SECRETS, vars: { ORIGIN_URL: origin.url, LOGIN_FAILURE_FLOOR_MS: "0", ...vars } });

  /** Every passkey endpoint answers 404, while the worker serves password sign-ins. */
  async function assertNoPasskeyEndpoints(edge) {
    const name = freshName("config");
    await addUser(edge, name);
    const jar = await session(edge, name);
    const sys = { edge, origin };
    const user = { name, jar, address: freshAddress() };
    for (const [method, path, body, who] of [
      ["POST", "/auth/passkeys/sign-in/options", {}, undefined],
      ["POST", "/auth/passkeys/sign-in", { credential: {}, next: "/" }, undefined],
      ["GET", "/auth/passkeys", undefined, user],
      ["POST", "/auth/passkeys/register/options", {}, user],
      ["POST", "/auth/passkeys/register", { name: "x", credential: {} }, user],
      ["DELETE", `/auth/passkeys/${b64url(randomBytes(32))}`, undefined, user],
    ]) {
      const answer = await call(sys, method, path, { user: who, body });
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.text}`);
    }
  }

  test("PASSKEYS = off: the passkey endpoints are 404", async () => {
    const edge = await worker({ PASSKEYS: "off", WEBAUTHN_RP_ID: RP_ID, WEBAUTHN_ORIGINS: PAGE });
    try {
      await assertNoPasskeyEndpoints(edge);
    } finally {
      await edge.dispose();
    }
  });

  // wrangler.toml's [vars] name an RP id for local development; empty is unset.
  const NO_RP_ID = { WEBAUTHN_RP_ID: "", WEBAUTHN_ORIGINS: "" };

  test("PASSKEYS unset with an IP-address ISSUER and no WEBAUTHN_RP_ID: passkeys are off, the worker serves", async () => {
    const edge = await worker(NO_RP_ID);
    try {
      await assertNoPasskeyEndpoints(edge);
    } finally {
      await edge.dispose();
    }
  });

  const broken = [
    { what: "PASSKEYS = on with an IP-address ISSUER and no WEBAUTHN_RP_ID", vars: { ...NO_RP_ID, PASSKEYS: "on" }, names: "PASSKEYS" },
    {
      what: "an origin outside the RP id",
      vars: { WEBAUTHN_RP_ID: RP_ID, WEBAUTHN_ORIGINS: "https://evil.example" },
      names: "WEBAUTHN_ORIGINS",
    },
    { what: "PASSKEY_RECENT_SIGN_IN below 60 s", vars: { WEBAUTHN_RP_ID: RP_ID, WEBAUTHN_ORIGINS: PAGE, PASSKEY_RECENT_SIGN_IN: "30" }, names: "PASSKEY_RECENT_SIGN_IN" },
    { what: "PASSKEY_COUNTER neither refuse nor log", vars: { WEBAUTHN_RP_ID: RP_ID, WEBAUTHN_ORIGINS: PAGE, PASSKEY_COUNTER: "ignore" }, names: "PASSKEY_COUNTER" },
    { what: "PASSKEYS neither on nor off", vars: { WEBAUTHN_RP_ID: RP_ID, WEBAUTHN_ORIGINS: PAGE, PASSKEYS: "yes" }, names: "PASSKEYS" },
  ];
  for (const { what, vars, names } of broken) {
    test(`${what}: the worker serves nothing (500 configuration_error naming ${names})`, async () => {
      const edge = await worker(vars);
      try {
        await origin.clear();
        for (const [method, path] of [
          ["GET", "/anything"],
          ["POST", "/auth/login"],
          ["POST", "/auth/passkeys/sign-in/options"],
        ]) {
          const res = await edge.fetch(path, { method, headers: { ...JSON_API, ...SAME_ORIGIN } });
          assert.equal(res.status, 500, `${method} ${path}`);
          const body = await res.json();
          assert.equal(body.error, "configuration_error");
          assert.match(body.message, new RegExp(names));
        }
        await assertNothingForwarded(origin, what);
        await auditEvents(edge, (e) => e.event === "config_invalid");
      } finally {
        await edge.dispose();
      }
    });
  }
});
