// OpenID Connect hardening (issue 25, class 6), against providers the test drives
// (startDrivableProvider in oidc-support.mjs): key rotation on every route that verifies a
// provider token, a failing key set, redirects and stalls at the token endpoint, audiences the
// client does not trust, RFC 9207 `iss`, and e-mail addresses that are not one address.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startOrigin, startWorker } from "./harness.mjs";
import { Jar } from "./support.mjs";
import { idTokenClaims, logoutTokenClaims, providerVars, startDrivableProvider, startRecorder } from "./oidc-support.mjs";

let plain, loud, rot, third, origin, edge;

before(async () => {
  plain = await startDrivableProvider();
  rot = await startDrivableProvider();
  loud = await startDrivableProvider({ discovery: { authorization_response_iss_parameter_supported: true } });
  third = await startRecorder();
  origin = await startOrigin();
  edge = await startWorker({
    captureLogs: true,
    vars: {
      ORIGIN_URL: origin.url,
      DEV_MODE: "true",
      COOKIE_SECURE: "false",
      ...providerVars([
        { id: "plain", ...plain, extra: { ALLOWED_DOMAINS: "example.com" } },
        { id: "rot", ...rot },
        { id: "loud", ...loud },
      ]),
    },
  });
});

after(async () => {
  await edge?.dispose();
  await origin?.close();
  for (const server of [plain, rot, loud, third]) await server?.close();
});

async function start(id) {
  const jar = new Jar();
  const res = jar.take(await edge.fetch(`/auth/oidc/${id}/start?next=/app`));
  assert.equal(res.status, 303);
  return { jar, params: new URL(res.headers.get("location")).searchParams };
}

const idClaims = (provider, params, over) =>
  idTokenClaims(provider, params, { sid: "provider-session-1", ...over });

async function callback(id, jar, query) {
  return jar.take(
    await edge.fetch(`/auth/oidc/${id}/callback?${new URLSearchParams(query)}`, {
      headers: { cookie: jar.header(), accept: "text/html" },
    }),
  );
}

/** Signs in at `provider` (`id`) with an ID token of `claims` overrides; the callback answer. */
async function signIn(id, provider, over = {}, extraQuery = {}) {
  const { jar, params } = await start(id);
  const code = `code-${Math.random()}`;
  provider.answers.set(code, provider.sign({ typ: "JWT" }, idClaims(provider, params, over)));
  const res = await callback(id, jar, { code, state: params.get("state"), ...extraQuery });
  return { res, jar };
}

function assertRefused(res, jar, error, what) {
  assert.equal(res.status, 303, what);
  assert.equal(res.headers.get("location"), `/auth/login?error=${error}`, what);
  assert.ok(!jar.cookies.has("eg_access"), `${what}: no session`);
  assert.ok(!jar.cookies.has("eg_oidc"), `${what}: the flow cookie is cleared`);
}

test("the drivable provider signs in when nothing is wrong", async () => {
  const { res, jar } = await signIn("plain", plain);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/app");
  assert.ok(jar.cookies.has("eg_access"));
});

test("an ID token that also names another audience is refused, even with our azp", async () => {
  const { res, jar } = await signIn("plain", plain, { aud: ["another-client", plain.clientId], azp: plain.clientId });
  assertRefused(res, jar, "provider_error", "two audiences");
});

test("an e-mail address that is not one address never passes the domain allow-list", async () => {
  const { res, jar } = await signIn("plain", plain, { email: "a@evil.test@example.com" });
  assertRefused(res, jar, "provider_refused", "a@evil.test@example.com");
});

test("a redirect from the token endpoint is not followed: the secret, code and verifier stay here", async () => {
  plain.tokenMode = "redirect";
  plain.redirectTo = `${third.url}/steal`;
  try {
    const { res, jar } = await signIn("plain", plain);
    assertRefused(res, jar, "provider_error", "307 from the token endpoint");
    assert.deepEqual(third.requests, [], "nothing reached the third party");
  } finally {
    plain.tokenMode = "normal";
  }
});

test("a stalled token endpoint is given up after about 10 s", async () => {
  plain.tokenMode = "stall";
  plain.stallMs = 25_000;
  try {
    const began = Date.now();
    const { res, jar } = await signIn("plain", plain);
    const took = Date.now() - began;
    assertRefused(res, jar, "provider_error", "stalled token endpoint");
    assert.ok(took < 15_000, `answered after ${took} ms`);
  } finally {
    plain.tokenMode = "normal";
  }
});

test("RFC 9207: an advertised iss is required and must be the issuer; a wrong one is refused anywhere", async () => {
  let attempt = await signIn("loud", loud);
  assertRefused(attempt.res, attempt.jar, "provider_error", "advertised iss missing");
  attempt = await signIn("loud", loud, {}, { iss: plain.issuer });
  assertRefused(attempt.res, attempt.jar, "provider_error", "iss of another provider");
  attempt = await signIn("plain", plain, {}, { iss: loud.issuer });
  assertRefused(attempt.res, attempt.jar, "provider_error", "iss of another provider, not advertised");
  attempt = await signIn("loud", loud, {}, { iss: loud.issuer });
  assert.equal(attempt.res.headers.get("location"), "/app", "the right iss signs in");
});

test("after a key rotation, logout tokens with the new key are honoured; a failing key set is asked once a minute", async () => {
  // Both providers' metadata is fetched now; the refetch budget opens a minute later.
  const { jar } = await signIn("rot", rot);
  assert.ok(jar.cookies.has("eg_access"));
  const { jar: plainJar } = await signIn("plain", plain);
  assert.ok(plainJar.cookies.has("eg_access"));
  rot.rotate();
  await new Promise((resolve) => setTimeout(resolve, 61_000));

  // Sign-in with an unknown kid while the key set fails: the browser goes back to the sign-in
  // page (not a 503), and the next one does not ask the key set again.
  plain.rotate();
  plain.jwksFails = true;
  const hits = plain.jwksHits;
  let attempt = await signIn("plain", plain);
  assertRefused(attempt.res, attempt.jar, "provider_error", "key set down");
  assert.equal(plain.jwksHits, hits + 1, "one refetch");
  attempt = await signIn("plain", plain);
  assertRefused(attempt.res, attempt.jar, "provider_error", "key set down again");
  assert.equal(plain.jwksHits, hits + 1, "the failed refetch spent the budget");
  plain.jwksFails = false;

  const token = rot.sign({ typ: "logout+jwt" }, logoutTokenClaims(rot));
  const res = await edge.fetch("/auth/oidc/rot/backchannel-logout", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  assert.equal(res.status, 200, await res.text());
  const session = await edge.fetch("/auth/session", { headers: { cookie: jar.header() } });
  assert.equal(session.status, 401, "the session ended");
});
