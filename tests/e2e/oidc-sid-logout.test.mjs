// OpenID Connect, issue 25 class 6, items 5 and 6, against a provider the test answers for
// (startHostileProvider in oidc-support.mjs) with secure cookies:
// - back-channel logout by `sid`: two edge sessions of one user from two provider sessions, a
//   logout token naming one `sid` ends only that one, with or without `sub`; `typ: JWT` accepted;
// - the flow cookie: `__Host-eg_oidc` with `Path=/`, never seen by the origin, cleared by every
//   callback answer, and a finished sign-in's callback refused when replayed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startOrigin, startWorker } from "./harness.mjs";
import { Jar } from "./support.mjs";
import { idTokenClaims, logoutTokenClaims, providerVars, signJwt, startHostileProvider } from "./oidc-support.mjs";

const FLOW = "__Host-eg_oidc";
let provider, origin, edge;

before(async () => {
  provider = await startHostileProvider();
  origin = await startOrigin();
  edge = await startWorker({
    vars: {
      ORIGIN_URL: origin.url,
      DEV_MODE: "true", // the provider is plain http on 127.0.0.1
      COOKIE_SECURE: "true",
      ...providerVars([{ id: "idp", ...provider }]),
    },
  });
});

after(async () => {
  await edge?.dispose();
  await origin?.close();
  await provider?.close();
});

/** Starts a sign-in in `jar`; returns the start answer and the authorization request. */
async function start(jar = new Jar()) {
  const res = jar.take(await edge.fetch("/auth/oidc/idp/start?next=/app"));
  assert.equal(res.status, 303);
  return { jar, res, params: new URL(res.headers.get("location")).searchParams };
}

function idToken(params, over = {}) {
  return signJwt({ alg: "RS256", kid: "rsa-1", typ: "JWT" }, idTokenClaims(provider, params, over), provider.rsa);
}

async function callback(jar, query) {
  return jar.take(
    await edge.fetch(`/auth/oidc/idp/callback?${new URLSearchParams(query)}`, {
      headers: { cookie: jar.header(), accept: "text/html" },
    }),
  );
}

/** A new browser signed in as eve through the provider session `sid`. */
async function signedIn(sid) {
  const { jar, params } = await start();
  const code = `code-${Math.random()}`;
  provider.answers.set(code, idToken(params, { sid }));
  const res = await callback(jar, { code, state: params.get("state") });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/app");
  return jar;
}

const status = async (jar) => (await edge.fetch("/auth/session", { headers: { cookie: jar.header() } })).status;

function logoutToken(over = {}, typ = "logout+jwt") {
  return signJwt({ alg: "RS256", kid: "rsa-1", typ }, logoutTokenClaims(provider, over), provider.rsa);
}

async function postLogout(token) {
  const res = await edge.fetch("/auth/oidc/idp/backchannel-logout", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  return { status: res.status, body: await res.text() };
}

test("a logout token naming one sid ends only that provider session's edge session", async () => {
  const first = await signedIn("ps-a1");
  const second = await signedIn("ps-a2");
  assert.equal((await postLogout(logoutToken({ sid: "ps-a1" }))).status, 200);
  assert.equal(await status(first), 401, "the session of ps-a1 ended");
  assert.equal(await status(second), 200, "the session of ps-a2 lives on");
});

test("a logout token with a sid and no sub finds the user and ends that session alone", async () => {
  const first = await signedIn("ps-b1");
  const second = await signedIn("ps-b2");
  assert.equal((await postLogout(logoutToken({ sub: undefined, sid: "ps-b2" }))).status, 200);
  assert.equal(await status(second), 401);
  assert.equal(await status(first), 200);
  // A sid this edge never saw names no one: 200, and nothing ends.
  assert.equal((await postLogout(logoutToken({ sub: undefined, sid: "ps-unknown" }))).status, 200);
  assert.equal(await status(first), 200);
});

test("a logout token with sub only still ends every session of the user", async () => {
  const first = await signedIn("ps-c1");
  const second = await signedIn("ps-c2");
  assert.equal((await postLogout(logoutToken())).status, 200);
  assert.equal(await status(first), 401);
  assert.equal(await status(second), 401);
});

test("a logout token typed JWT is accepted; an ID token is still not a logout token", async () => {
  const kept = await signedIn("ps-d1");
  const ended = await signedIn("ps-d2");
  const { params } = await start();
  const asLogout = await postLogout(idToken(params, { sid: "ps-d1" }));
  assert.equal(asLogout.status, 400, "an ID token");
  assert.match(asLogout.body, /back-channel logout event/);
  assert.equal(await status(kept), 200);
  assert.equal((await postLogout(logoutToken({ sid: "ps-d2" }, "JWT"))).status, 200);
  assert.equal(await status(ended), 401);
  assert.equal(await status(kept), 200);
  const other = await postLogout(logoutToken({ sid: "ps-d1" }, "at+jwt"));
  assert.equal(other.status, 400, "another explicit type");
  assert.match(other.body, /another type/);
  assert.equal(await status(kept), 200);
});

test("the flow cookie is __Host-, reaches no origin, and every callback answer clears it", async () => {
  const { res } = await start();
  const line = res.headers.getSetCookie().find((cookie) => cookie.startsWith(`${FLOW}=`));
  assert.ok(line, res.headers.getSetCookie().join(" | "));
  assert.match(line, /^__Host-eg_oidc=[\w.-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600; Secure$/);
  assert.doesNotMatch(line, /Domain=/i);

  // A signed-in browser that starts another sign-in carries the flow cookie on every path: the
  // origin never sees it, in any spelling.
  const jar = await signedIn("ps-e1");
  await start(jar);
  assert.ok(jar.cookies.has(FLOW));
  await origin.clear();
  const proxied = await edge.fetch("/app/page", {
    headers: { cookie: `${jar.header()}; theme=dark; __Secure-eg_oidc=planted; EG-OIDC=x` },
  });
  assert.equal(proxied.status, 200);
  await proxied.body?.cancel();
  const seen = await origin.requests();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers.cookie, "theme=dark");

  // A refused callback clears it, and so does a successful one.
  const refused = await start();
  const answer = await callback(refused.jar, { code: "x", state: "not-this-one" });
  assert.equal(answer.headers.get("location"), "/auth/login?error=provider_expired");
  assert.ok(answer.headers.getSetCookie().some((c) => c.startsWith(`${FLOW}=;`) && /Max-Age=0/.test(c)));
  assert.ok(!refused.jar.cookies.has(FLOW));
  const good = await start();
  const code = `code-${Math.random()}`;
  provider.answers.set(code, idToken(good.params, { sid: "ps-e2" }));
  const done = await callback(good.jar, { code, state: good.params.get("state") });
  assert.equal(done.headers.get("location"), "/app");
  assert.ok(done.headers.getSetCookie().some((c) => c.startsWith(`${FLOW}=;`) && /Max-Age=0/.test(c)));
  assert.ok(!good.jar.cookies.has(FLOW));
});

test("a finished sign-in's callback replayed with its state and flow cookie is refused", async () => {
  const { jar, params } = await start();
  const saved = jar.clone(); // what someone who copied the browser's flow cookie would hold
  const code = `code-${Math.random()}`;
  provider.answers.set(code, idToken(params, { sid: "ps-f1" }));
  const first = await callback(jar, { code, state: params.get("state") });
  assert.equal(first.headers.get("location"), "/app");
  // Even with a fresh code the provider would honour, the same state is not accepted twice.
  const again = `code-${Math.random()}`;
  provider.answers.set(again, idToken(params, { sid: "ps-f1" }));
  const exchanges = provider.tokenRequests.length;
  const replay = await callback(saved, { code: again, state: params.get("state") });
  assert.equal(replay.status, 303);
  assert.equal(replay.headers.get("location"), "/auth/login?error=provider_expired");
  assert.ok(![...saved.cookies.keys()].some((name) => name.includes("eg_access")), "no session");
  assert.ok(!saved.cookies.has(FLOW), "the flow cookie is cleared");
  assert.equal(provider.tokenRequests.length, exchanges, "no code was exchanged");
});
