// A hostile OpenID provider (tests/e2e/oidc-support.mjs: a server of our own with a real RS256
// key) whose every crafted answer must be refused: the browser lands back on the sign-in page
// with an error a person can read, no session cookie is set, and nothing reaches the origin.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import { startOrigin, startWorker } from "./harness.mjs";
import { Jar, assertNothingForwarded, auditEvents } from "./support.mjs";
import { idTokenClaims, logoutTokenClaims, nowSecs, providerVars, signJwt, startHostileProvider } from "./oidc-support.mjs";

let hostile, origin, edge;

before(async () => {
  hostile = await startHostileProvider();
  origin = await startOrigin();
  edge = await startWorker({
    captureLogs: true,
    vars: {
      ORIGIN_URL: origin.url,
      DEV_MODE: "true", // the provider is plain http on 127.0.0.1
      COOKIE_SECURE: "false",
      ...providerVars([
        { id: "hostile", ...hostile },
        // A provider that cannot be reached (nothing listens on port 1).
        { id: "down", issuer: "http://127.0.0.1:1", clientId: "edge-down", clientSecret: "down-secret" },
      ]),
    },
  });
});

after(async () => {
  await edge?.dispose();
  await origin?.close();
  await hostile?.close();
});

/** Starts a sign-in; returns the jar (with the flow cookie) and the authorization request. */
async function start(next = "/app") {
  const jar = new Jar();
  const res = jar.take(await edge.fetch(`/auth/oidc/hostile/start?next=${encodeURIComponent(next)}`));
  assert.equal(res.status, 303);
  const location = new URL(res.headers.get("location"));
  assert.equal(location.origin + location.pathname, `${hostile.issuer}/authorize`);
  return { jar, params: location.searchParams };
}

const idClaims = (params, over) => idTokenClaims(hostile, params, over);

const rs256 = (claims, header = {}) => signJwt({ alg: "RS256", kid: "rsa-1", typ: "JWT", ...header }, claims, hostile.rsa);

/** The callback as the provider's redirect would make the browser request it. */
async function callback(jar, query) {
  return jar.take(
    await edge.fetch(`/auth/oidc/hostile/callback?${new URLSearchParams(query)}`, {
      headers: { cookie: jar.header(), accept: "text/html" },
    }),
  );
}

async function assertRefused(res, jar, error, what) {
  assert.equal(res.status, 303, what);
  assert.equal(res.headers.get("location"), `/auth/login?error=${error}`, what);
  assert.ok(!jar.cookies.has("eg_access") && !jar.cookies.has("eg_refresh"), `${what}: no session cookie`);
  const page = await edge.fetch(res.headers.get("location"), { headers: { accept: "text/html" } });
  const html = await page.text();
  assert.match(html, /identity provider|took too long|not allowed/, `${what}: the page says why`);
  await assertNothingForwarded(origin, what);
}

test("a well-formed answer signs in (the stub itself is sound)", async () => {
  const { jar, params } = await start();
  hostile.answers.set("good", rs256(idClaims(params)));
  const res = await callback(jar, { code: "good", state: params.get("state") });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/app");
  assert.ok(jar.cookies.has("eg_access") && jar.cookies.has("eg_refresh"), [...jar.cookies.keys()].join());
  // The code went with the PKCE verifier and HTTP Basic client authentication.
  const sent = hostile.tokenRequests.at(-1);
  assert.equal(sent.form.code_verifier.length, 43);
  assert.equal(sent.authorization, `Basic ${Buffer.from(`${hostile.clientId}:${hostile.clientSecret}`).toString("base64")}`);
  const session = await (await edge.fetch("/auth/session", { headers: { cookie: jar.header() } })).json();
  assert.equal(session.user.id, "hostile:eve");
});

const crafted = [
  ["wrong iss", /another issuer/, (p) => rs256(idClaims(p, { iss: "http://127.0.0.1:1" }))],
  ["wrong aud", /not for this client/, (p) => rs256(idClaims(p, { aud: "another-client" }))],
  ["missing nonce", /no `nonce` claim/, (p) => rs256(idClaims(p, { nonce: undefined }))],
  ["wrong nonce", /nonce is not this sign-in/, (p) => rs256(idClaims(p, { nonce: "not-this-sign-in" }))],
  ["expired", /expired/, (p) => rs256(idClaims(p, { exp: nowSecs() - 120, iat: nowSecs() - 400 }))],
  ["alg none", /algorithm `none`/, (p) => signJwt({ alg: "none", kid: "rsa-1" }, idClaims(p), null)],
  ["HS256 with the client secret", /algorithm `HS256`/, (p) => signJwt({ alg: "HS256", kid: "rsa-1" }, idClaims(p), Buffer.from(hostile.clientSecret))],
  [
    "unknown kid (signed by another key)",
    /no key `rsa-2`/,
    (p) =>
      signJwt({ alg: "RS256", kid: "rsa-2" }, idClaims(p), generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey),
  ],
  ["oversized token", /no usable id_token|larger than/, (p) => rs256(idClaims(p, { padding: "x".repeat(20_000) }))],
];

for (const [what, reason, token] of crafted) {
  test(`refused: ${what}`, async () => {
    await origin.clear();
    const { jar, params } = await start();
    const code = `code-${what}`;
    hostile.answers.set(code, token(params));
    const res = await callback(jar, { code, state: params.get("state") });
    await assertRefused(res, jar, "provider_error", what);
    await auditEvents(edge, (e) => e.event === "login_failed" && reason.test(e.detail ?? ""), { what: `${what}: ${reason}` });
  });
}

test("refused: a replayed code (the provider refuses its second use)", async () => {
  await origin.clear();
  const first = await start();
  hostile.answers.set("once", rs256(idClaims(first.params)));
  assert.equal((await callback(first.jar, { code: "once", state: first.params.get("state") })).status, 303);
  await origin.clear();
  const second = await start();
  const res = await callback(second.jar, { code: "once", state: second.params.get("state") });
  await assertRefused(res, second.jar, "provider_error", "replayed code");
  await auditEvents(edge, (e) => /token endpoint answered 400 invalid_grant/.test(e.detail ?? ""), { what: "replay" });
});

test("refused: a state mismatch, and a callback without the flow cookie (no PKCE verifier)", async () => {
  await origin.clear();
  const before = hostile.tokenRequests.length;
  const { jar, params } = await start();
  hostile.answers.set("state", rs256(idClaims(params)));
  await assertRefused(await callback(jar, { code: "state", state: "forged" }), jar, "provider_expired", "state mismatch");
  const bare = new Jar();
  await assertRefused(await callback(bare, { code: "state", state: params.get("state") }), bare, "provider_expired", "no flow cookie");
  assert.equal(hostile.tokenRequests.length, before, "the code was never sent to the provider");
});

test("an unreachable provider: the button leads back to the sign-in page with the reason", async () => {
  const res = await edge.fetch("/auth/oidc/down/start?next=/app", { headers: { accept: "text/html" } });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/auth/login?error=provider_error");
  await auditEvents(edge, (e) => e.event === "login_failed" && /provider down: http:\/\/127\.0\.0\.1:1\/\.well-known\//.test(e.detail ?? ""), {
    what: "the unreachable provider refusal",
  });
});

test("a provider error is shown in words, and every refusal is in the audit log", async () => {
  const { jar, params } = await start();
  const res = await callback(jar, { error: "access_denied", state: params.get("state") });
  await assertRefused(res, jar, "provider_error", "provider error");
  const events = await auditEvents(edge, (e) => e.event === "login_failed" && /provider hostile/.test(e.detail ?? ""), {
    count: crafted.length + 4,
  });
  assert.ok(events.some((e) => /nonce/.test(e.detail)), JSON.stringify(events.map((e) => e.detail)));
});

// --- back-channel logout ---------------------------------------------------------------------------

/** A logout token's claims from the hostile provider, naming its provider session. */
const logoutClaims = (over = {}) => logoutTokenClaims(hostile, { sid: "provider-session", ...over });

const logoutToken = (claims, header = {}) =>
  signJwt({ alg: "RS256", kid: "rsa-1", typ: "logout+jwt", ...header }, claims, hostile.rsa);

async function postLogout(token) {
  const res = await edge.fetch("/auth/oidc/hostile/backchannel-logout", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  return { status: res.status, body: await res.text() };
}

async function signedInEve() {
  const { jar, params } = await start();
  const code = `eve-${Math.random()}`;
  hostile.answers.set(code, rs256(idClaims(params)));
  assert.equal((await callback(jar, { code, state: params.get("state") })).status, 303);
  return jar;
}

const sessionStatus = async (jar) => (await edge.fetch("/auth/session", { headers: { cookie: jar.header() } })).status;

test("back-channel logout: crafted logout tokens are refused and end nothing", async () => {
  const jar = await signedInEve();
  const cases = [
    ["no events claim", logoutToken(logoutClaims({ events: undefined })), /back-channel logout event/],
    ["a nonce", logoutToken(logoutClaims({ nonce: "n" })), /must not carry a nonce/],
    ["wrong aud", logoutToken(logoutClaims({ aud: "another-client" })), /not for this client/],
    ["wrong iss", logoutToken(logoutClaims({ iss: "http://127.0.0.1:1" })), /another issuer/],
    ["no jti", logoutToken(logoutClaims({ jti: undefined })), /`jti`/],
    ["too old", logoutToken(logoutClaims({ iat: nowSecs() - 600 })), /too long ago/],
    ["alg none", signJwt({ alg: "none", kid: "rsa-1" }, logoutClaims(), null), /algorithm `none`/],
    ["an ID token", rs256(logoutClaims({ events: undefined, nonce: "n" })), /back-channel logout event/],
  ];
  for (const [what, token, reason] of cases) {
    const res = await postLogout(token);
    assert.equal(res.status, 400, what);
    assert.match(res.body, reason, what);
  }
  assert.equal(await sessionStatus(jar), 200, "the session is still alive");
});

test("back-channel logout: a valid token ends the user's sessions at once; its replay is refused", async () => {
  const first = await signedInEve();
  const second = await signedInEve();
  const token = logoutToken(logoutClaims());
  assert.equal((await postLogout(token)).status, 200);
  assert.equal(await sessionStatus(first), 401);
  assert.equal(await sessionStatus(second), 401);
  const third = await signedInEve();
  const replay = await postLogout(token);
  assert.equal(replay.status, 400);
  assert.match(replay.body, /already used/);
  assert.equal(await sessionStatus(third), 200, "a replayed logout token ends no later session");
});
