// DPoP (RFC 9449) end to end: sender-constrained tokens from POST /auth/token and on protected
// paths, against the built worker in workerd in front of a real recording origin.
//
// Checked, and why:
//   - A third-party client, unmodified (oauth4webapi), with ES256, EdDSA/Ed25519 and RS256 keys:
//     the password grant answers `token_type: DPoP` with an access token bound to the key's
//     RFC 7638 thumbprint (`cnf.jkt`), the token opens a protected path with the library's own
//     proofs, the origin learns the thumbprint (x-auth-dpop-jkt, and `cnf` in the signed
//     assertion) and never sees the Authorization or DPoP header, the refresh grant keeps the
//     binding, and the DPOP_NONCE=require round trip (use_dpop_nonce, then a retry with the
//     server's nonce) works as the library expects. An interop bug shows here first.
//   - Leaked tokens: an access token or refresh token copied without its private key is worth
//     nothing (as Bearer, or with the thief's own key), and a bound refresh token presented
//     without the right proof ends the session, because it was copied.
//   - Hostile proofs, hand-made with WebCrypto: each carries one defect (replayed jti, another
//     method or URL, stale or future iat, missing or wrong ath, another key, alg none or HS256, a
//     private key in the header, oversized, duplicated, wrong typ, crit, ...). Each must be refused
//     with 401 and a DPoP challenge naming the error, nothing may reach the origin, and an audit
//     line `dpop_refused` must be written. A positive control first shows that the same signer
//     makes proofs the edge accepts, so every refusal is caused by the one defect.
//   - DPOP=require refuses a token request without a proof but leaves browsers' cookie sign-in
//     alone; DPOP=off ignores the DPoP header (Bearer tokens as before).
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { startOrigin, testKeys, wranglerVars } from "./harness.mjs";
import {
  PASSWORD,
  addUser,
  assertNothingForwarded,
  auditEvents,
  auditLines,
  b64url,
  nowSecs,
  pseudonym,
  secureWorker,
  session,
  tokenRequest,
} from "./support.mjs";

const { subtle } = globalThis.crypto;
const API = { accept: "application/json" };
const vars = wranglerVars();

// --- keys, thumbprints and proofs ----------------------------------------------------------------

/** WebCrypto parameters of the JWS algorithms the tests sign with. */
const ALGS = {
  ES256: { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  ES384: { generate: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } },
  EdDSA: { generate: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  Ed25519: { generate: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  RS256: {
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
};

/** The members RFC 7638 hashes, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS = { EC: ["crv", "kty", "x", "y"], OKP: ["crv", "kty", "x"], RSA: ["e", "kty", "n"] };

/** The public members of a JWK (what a proof's `jwk` header carries). */
function publicJwk(jwk) {
  return Object.fromEntries(THUMBPRINT_MEMBERS[jwk.kty].map((name) => [name, jwk[name]]));
}

/** The RFC 7638 SHA-256 thumbprint of a public JWK, base64url, computed here independently of the edge and the library. */
async function thumbprint(jwk) {
  const members = THUMBPRINT_MEMBERS[jwk.kty];
  assert.ok(members, `a thumbprint of kty ${jwk.kty}`);
  const canonical = `{${members.map((name) => `${JSON.stringify(name)}:${JSON.stringify(jwk[name])}`).join(",")}}`;
  return b64url(await subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
}

/** The thumbprint of a CryptoKey pair's public key (e.g. one oauth4webapi generated). */
async function pairThumbprint(keyPair) {
  return thumbprint(await subtle.exportKey("jwk", keyPair.publicKey));
}

/** A fresh key for hand-made proofs: { alg, privateKey, publicKey, jwk (public), privateJwk, jkt }. */
async function newKey(alg = "ES256") {
  const pair = await subtle.generateKey(ALGS[alg].generate, true, ["sign", "verify"]);
  const privateJwk = await subtle.exportKey("jwk", pair.privateKey);
  const jwk = publicJwk(privateJwk);
  return { alg, ...pair, jwk, privateJwk, jkt: await thumbprint(jwk) };
}

/** base64url(SHA-256(token as ASCII)): a proof's `ath`. */
async function ath(token) {
  return b64url(await subtle.digest("SHA-256", new TextEncoder().encode(token)));
}

/** `base` with `over` laid on it; a member set to `undefined` in `over` is removed. */
function overlay(base, over = {}) {
  const out = { ...base, ...over };
  for (const [name, value] of Object.entries(out)) if (value === undefined) delete out[name];
  return out;
}

const encodePart = (part) => b64url(typeof part === "string" ? part : JSON.stringify(part));

/**
 * A compact-JWS DPoP proof by `key` for `htm` and `htu`, with `ath` of `token` when given.
 * `header` and `claims` override (or, with `undefined`, remove) members; `sign(input)` replaces
 * the key's own signature (bytes or a string). ES256 signatures from WebCrypto are already the
 * raw r||s that JWS wants.
 */
async function proof(key, { htm = "GET", htu, token, header = {}, claims = {}, sign } = {}) {
  const protectedHeader = overlay({ typ: "dpop+jwt", alg: key.alg, jwk: key.jwk }, header);
  const payload = overlay(
    { jti: b64url(randomBytes(16)), htm, htu, iat: nowSecs(), ...(token !== undefined && { ath: await ath(token) }) },
    claims,
  );
  const input = `${encodePart(protectedHeader)}.${encodePart(payload)}`;
  const signature = sign
    ? await sign(input)
    : await subtle.sign(ALGS[key.alg].sign, key.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64url(signature)}`;
}

/** The claims of a compact JWT, unverified. */
function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

// --- requests ------------------------------------------------------------------------------------


const tokenUrl = (edge) => `${edge.url}/auth/token`;

/** A proof for the token endpoint. */
const tokenProof = (edge, key, options = {}) => proof(key, { htm: "POST", htu: tokenUrl(edge), ...options });

/** A password grant with a proof by `key` that must succeed with a token bound to it; returns the body. */
async function dpopGrant(edge, key, { username = "alice", json = false } = {}) {
  const res = await tokenRequest(
    edge,
    { grant_type: "password", username, password: PASSWORD },
    { form: !json, headers: { dpop: await tokenProof(edge, key) } },
  );
  assert.equal(res.status, 200, `DPoP password grant of ${username}`);
  const grant = await res.json();
  assert.equal(grant.token_type, "DPoP", "a proof at the token endpoint makes a DPoP token");
  assert.deepEqual(claimsOf(grant.access_token).cnf, { jkt: key.jkt }, "the access token is bound to the proof's key");
  return grant;
}

/** A password grant without a proof; returns the response. */
function plainGrant(edge, username = "alice") {
  return tokenRequest(edge, { grant_type: "password", username, password: PASSWORD }, { form: true });
}

/** A refresh grant, with `dpop` as its DPoP header when given. */
function refreshRequest(edge, refreshToken, dpop) {
  return tokenRequest(edge, { grant_type: "refresh_token", refresh_token: refreshToken }, { form: true, headers: dpop ? { dpop } : {} });
}

/** `method path` on the edge with `Authorization: DPoP <token>` and a proof by `key` (options go to proof()). */
async function dpopFetch(edge, token, key, { method = "GET", path = "/app/data", headers = {}, ...proofOptions } = {}) {
  const htu = `${edge.url}${path.split(/[?#]/)[0]}`;
  const dpop = await proof(key, { htm: method, htu, token, ...proofOptions });
  return edge.fetch(path, { method, headers: { ...API, authorization: `DPoP ${token}`, dpop, ...headers } });
}

/**
 * Asserts a 401 refusal with a DPoP challenge naming `code` (a string, or a list of the codes the
 * contract allows), the same code in a JSON body with a message, and nothing at the origin.
 */
async function assertDpopRefused(res, origin, code, what) {
  const codes = [code].flat();
  assert.equal(res.status, 401, `${what}: status`);
  const challenge = res.headers.get("www-authenticate") ?? "";
  assert.match(challenge, /^DPoP\b/, `${what}: a DPoP challenge (got ${JSON.stringify(challenge)})`);
  const named = challenge.match(/error="([^"]*)"/)?.[1];
  assert.ok(codes.includes(named), `${what}: challenge error ${JSON.stringify(named)}, expected ${codes.join(" or ")}`);
  const body = await res.json();
  assert.equal(body.error, named, `${what}: the body names the challenge's error`);
  assert.equal(typeof body.message, "string", `${what}: a message`);
  assert.deepEqual(res.headers.getSetCookie(), [], `${what}: a DPoP refusal sets no cookie`);
  await assertNothingForwarded(origin, what);
  return body;
}

/** Asserts a 400 `invalid_dpop_proof` from the token endpoint, with no token in it. */
async function assertTokenRefused(res, what, code = "invalid_dpop_proof") {
  assert.equal(res.status, 400, `${what}: status`);
  const body = await res.json();
  assert.equal(body.error, code, `${what}: error`);
  assert.equal(typeof body.message, "string", `${what}: a message`);
  assert.equal(body.access_token, undefined, `${what}: no access token`);
  assert.equal(body.refresh_token, undefined, `${what}: no refresh token`);
  assert.deepEqual(res.headers.getSetCookie(), [], `${what}: no cookie`);
  return body;
}

/**
 * Runs `act(address)` (a request sent from the client address `address`) and waits for one more
 * `dpop_refused` audit line than there was before; a line that names a client must name that
 * address. Also checks that no console line quotes `secrets` (tokens, proofs, signatures).
 */
let addressCounter = 0;
async function expectRefusalAudited(edge, what, act, secrets = []) {
  addressCounter += 1;
  const address = `198.51.100.${(addressCounter % 250) + 1}`;
  const mine = (line) => line.event === "dpop_refused" && (line.client === undefined || line.client === pseudonym(address));
  const before = auditLines(edge.logs()).filter(mine).length;
  const result = await act(address);
  await auditEvents(edge, mine, { count: before + 1, what: `${what}: a dpop_refused audit line` });
  for (const secret of secrets.filter(Boolean)) {
    assert.ok(!edge.logs().some((line) => line.includes(secret)), `${what}: the log never quotes a token or proof`);
  }
  return result;
}

/** The one request the origin received: forwarded as `user` with the thumbprint `jkt`, no credential. */
async function assertForwardedBound(edge, origin, user, jkt, what) {
  const seen = await origin.requests();
  assert.equal(seen.length, 1, `${what}: exactly one request reaches the origin`);
  const [request] = seen;
  assert.equal(request.headers["x-auth-user"], user, `${what}: identity`);
  assert.equal(request.headers["x-auth-dpop-jkt"], jkt, `${what}: the key's thumbprint`);
  assert.equal(request.headers.authorization, undefined, `${what}: the Authorization header never reaches the origin`);
  assert.equal(request.headers.dpop, undefined, `${what}: the DPoP header never reaches the origin`);
  const jwks = await (await edge.fetch("/.well-known/jwks.json")).json();
  const { payload } = await jwtVerify(request.headers["x-auth-assertion"], createLocalJWKSet(jwks), {
    issuer: vars.ISSUER,
    audience: vars.ORIGIN_AUDIENCE,
    algorithms: ["EdDSA"],
  });
  assert.equal(payload.sub, user, `${what}: the assertion's subject`);
  assert.deepEqual(payload.cnf, { jkt }, `${what}: the signed assertion carries the binding`);
  return request;
}

/** Starts a recording origin and a worker with `extra` vars, with alice and bob as users. */
async function startPair(extra = {}) {
  const origin = await startOrigin();
  try {
    const edge = await secureWorker(origin, testKeys(), { vars: { CLOCK_LEEWAY: "0", ...extra } });
    await addUser(edge, "alice", { roles: ["member", "ops"] });
    await addUser(edge, "bob");
    return { origin, edge };
  } catch (err) {
    await origin.close();
    throw err;
  }
}

// --- oauth4webapi as the client ------------------------------------------------------------------

/** The edge as an oauth4webapi authorization server, a public client, and the http:// opt-in. */
function library(edge) {
  return {
    as: { issuer: edge.url, token_endpoint: tokenUrl(edge) },
    client: { client_id: "cli" },
    clientAuth: oauth.None(),
    http: { [oauth.allowInsecureRequests]: true },
  };
}

/** A password grant made by oauth4webapi, with its DPoP handle when given; returns the processed body. */
async function libraryPasswordGrant(edge, DPoP, username = "alice") {
  const { as, client, clientAuth, http } = library(edge);
  const res = await oauth.genericTokenEndpointRequest(
    as,
    client,
    clientAuth,
    "password",
    { username, password: PASSWORD },
    { ...http, ...(DPoP && { DPoP }) },
  );
  return oauth.processGenericTokenEndpointResponse(as, client, res);
}

/** Runs `attempt()`; if it fails with the library's use_dpop_nonce error, once more (the handle now holds the nonce). */
async function retryOnNonce(attempt) {
  try {
    return await attempt();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return attempt();
  }
}

// The library's names for the algorithms: it signs Ed25519 keys as "Ed25519"; with modifyAssertion
// it sends the older name "EdDSA" for the same key.
const LIBRARY_KEYS = [
  { name: "ES256", generate: "ES256" },
  { name: "Ed25519", generate: "Ed25519" },
  { name: "EdDSA", generate: "EdDSA", header: { alg: "EdDSA" } },
  { name: "RS256", generate: "RS256" },
];

describe("DPoP with oauth4webapi, an unmodified third-party client (DPOP=allow)", () => {
  let origin;
  let edge;
  before(async () => {
    ({ origin, edge } = await startPair());
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("without a DPoP handle the library still gets Bearer tokens (DPOP=allow is the default)", async () => {
    const grant = await libraryPasswordGrant(edge, undefined);
    assert.equal(grant.token_type, "bearer", "the library lowercases token_type");
    assert.equal(claimsOf(grant.access_token).cnf, undefined, "an unbound token");
    await origin.clear();
    const { http } = library(edge);
    const res = await oauth.protectedResourceRequest(grant.access_token, "GET", new URL(`${edge.url}/app/plain`), new Headers(API), null, http);
    assert.equal(res.status, 200);
    const [seen] = await origin.requests();
    assert.equal(seen.headers["x-auth-user"], "alice");
    assert.equal(seen.headers["x-auth-dpop-jkt"], undefined, "no thumbprint for a Bearer token");
  });

  for (const { name, generate, header } of LIBRARY_KEYS) {
    test(`${name}: password grant, a protected request and a refresh, all with the library's proofs`, async () => {
      const { as, client, clientAuth, http } = library(edge);
      const keyPair = await oauth.generateKeyPair(generate);
      const DPoP = oauth.DPoP(client, keyPair, header && { [oauth.modifyAssertion]: (h) => Object.assign(h, header) });
      const jkt = await pairThumbprint(keyPair);

      const grant = await libraryPasswordGrant(edge, DPoP);
      assert.equal(grant.token_type, "dpop");
      assert.deepEqual(claimsOf(grant.access_token).cnf, { jkt }, "bound to the library's key");
      assert.equal(typeof grant.refresh_token, "string");

      await origin.clear();
      const res = await oauth.protectedResourceRequest(
        grant.access_token,
        "GET",
        new URL(`${edge.url}/app/library?page=2`),
        new Headers(API),
        null,
        { ...http, DPoP },
      );
      assert.equal(res.status, 200, "the library's proof opens the protected path");
      await res.body?.cancel();
      const seen = await assertForwardedBound(edge, origin, "alice", jkt, `${name} resource request`);
      assert.equal(seen.url, "/app/library?page=2", "the query goes along to the origin");

      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, clientAuth, grant.refresh_token, { ...http, DPoP }),
      );
      assert.equal(refreshed.token_type, "dpop", "the refresh keeps the binding");
      assert.deepEqual(claimsOf(refreshed.access_token).cnf, { jkt });
      assert.equal(claimsOf(refreshed.access_token).sid, claimsOf(grant.access_token).sid, "the same session");
      assert.notEqual(refreshed.refresh_token, grant.refresh_token, "rotated");

      await origin.clear();
      const again = await oauth.protectedResourceRequest(
        refreshed.access_token,
        "POST",
        new URL(`${edge.url}/app/library`),
        new Headers({ ...API, "content-type": "application/json" }),
        JSON.stringify({ a: 1 }),
        { ...http, DPoP },
      );
      assert.equal(again.status, 200, "the refreshed token works with the same key");
      await again.body?.cancel();
      const posted = await assertForwardedBound(edge, origin, "alice", jkt, `${name} after refresh`);
      assert.equal(posted.method, "POST");
      assert.equal(posted.body, '{"a":1}');
    });
  }

  test("the library's access token presented with another key's handle is refused, and the library sees the challenge", async () => {
    const { client, http } = library(edge);
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
    const grant = await libraryPasswordGrant(edge, DPoP);
    const thief = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
    await origin.clear();
    await assert.rejects(
      oauth.protectedResourceRequest(grant.access_token, "GET", new URL(`${edge.url}/app/x`), new Headers(API), null, {
        ...http,
        DPoP: thief,
      }),
      (err) => {
        assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `a challenge error, got ${err}`);
        assert.equal(err.status, 401);
        assert.ok(err.cause.some((challenge) => challenge.scheme === "dpop"), "a DPoP challenge");
        return true;
      },
    );
    await assertNothingForwarded(origin, "another key's proof");
  });
});

describe("DPoP nonces with oauth4webapi (DPOP_NONCE=require)", () => {
  let origin;
  let edge;
  before(async () => {
    ({ origin, edge } = await startPair({ DPOP_NONCE: "require" }));
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("the token endpoint asks for a nonce the first time; the library's handle remembers it and the retry succeeds", async () => {
    const { client } = library(edge);
    const keyPair = await oauth.generateKeyPair("ES256");
    const DPoP = oauth.DPoP(client, keyPair);
    await assert.rejects(libraryPasswordGrant(edge, DPoP), (err) => {
      assert.ok(oauth.isDPoPNonceError(err), `the library's use_dpop_nonce error, got ${err}`);
      assert.equal(err.status, 400, "a 400 from the token endpoint");
      assert.ok(err.response.headers.get("dpop-nonce"), "with a DPoP-Nonce header");
      return true;
    });
    const grant = await libraryPasswordGrant(edge, DPoP);
    assert.equal(grant.token_type, "dpop");
    assert.deepEqual(claimsOf(grant.access_token).cnf, { jkt: await pairThumbprint(keyPair) });
  });

  test("a protected path asks a fresh handle for a nonce with 401; the retry reaches the origin; refresh works with the nonce", async () => {
    const { as, client, clientAuth, http } = library(edge);
    const keyPair = await oauth.generateKeyPair("ES256");
    const jkt = await pairThumbprint(keyPair);
    const signIn = oauth.DPoP(client, keyPair);
    const grant = await retryOnNonce(() => libraryPasswordGrant(edge, signIn));

    // A new handle for the same key holds no nonce yet.
    const DPoP = oauth.DPoP(client, keyPair);
    const url = new URL(`${edge.url}/app/nonce`);
    await origin.clear();
    await assert.rejects(
      oauth.protectedResourceRequest(grant.access_token, "GET", url, new Headers(API), null, { ...http, DPoP }),
      (err) => {
        assert.ok(oauth.isDPoPNonceError(err), `the library's use_dpop_nonce error, got ${err}`);
        assert.equal(err.status, 401, "a 401 from a protected path");
        assert.ok(err.response.headers.get("dpop-nonce"), "with a DPoP-Nonce header");
        return true;
      },
    );
    await assertNothingForwarded(origin, "a proof without the nonce");
    const res = await retryOnNonce(() =>
      oauth.protectedResourceRequest(grant.access_token, "GET", url, new Headers(API), null, { ...http, DPoP }),
    );
    assert.equal(res.status, 200);
    // The forwarded answer names the nonce for the next proof, so the client is not refused to
    // learn it when it turns over.
    assert.match(res.headers.get("dpop-nonce") ?? "", /^[A-Za-z0-9_-]{32}$/, "a DPoP-Nonce on the forwarded answer");
    await res.body?.cancel();
    await assertForwardedBound(edge, origin, "alice", jkt, "after the nonce");

    const refreshed = await retryOnNonce(async () =>
      oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, clientAuth, grant.refresh_token, { ...http, DPoP }),
      ),
    );
    assert.equal(refreshed.token_type, "dpop");
    assert.deepEqual(claimsOf(refreshed.access_token).cnf, { jkt });
  });

  test("hand-made: no nonce or an invented one gets use_dpop_nonce with the nonce; the server's nonce is accepted", async () => {
    const key = await newKey("ES256");
    const first = await tokenRequest(
      edge,
      { grant_type: "password", username: "bob", password: PASSWORD },
      { form: true, headers: { dpop: await tokenProof(edge, key) } },
    );
    await assertTokenRefused(first, "token endpoint without a nonce", "use_dpop_nonce");
    let nonce = first.headers.get("dpop-nonce");
    assert.ok(nonce, "DPoP-Nonce on the token endpoint's answer");
    const granted = await tokenRequest(
      edge,
      { grant_type: "password", username: "bob", password: PASSWORD },
      { form: true, headers: { dpop: await tokenProof(edge, key, { claims: { nonce } }) } },
    );
    assert.equal(granted.status, 200, "the server's nonce is accepted at the token endpoint");
    const grant = await granted.json();
    assert.equal(grant.token_type, "DPoP");
    // The token response names the nonce in force, so the next proof need not be refused first.
    assert.match(granted.headers.get("dpop-nonce") ?? "", /^[A-Za-z0-9_-]{32}$/, "DPoP-Nonce on the token response");
    nonce = granted.headers.get("dpop-nonce");

    for (const [claims, what] of [
      [{}, "no nonce"],
      [{ nonce: b64url(randomBytes(16)) }, "an invented nonce"],
    ]) {
      await origin.clear();
      const res = await dpopFetch(edge, grant.access_token, key, { claims });
      await assertDpopRefused(res, origin, "use_dpop_nonce", what);
      assert.ok(res.headers.get("dpop-nonce"), `${what}: DPoP-Nonce on the 401`);
      nonce = res.headers.get("dpop-nonce");
    }
    await origin.clear();
    const res = await dpopFetch(edge, grant.access_token, key, { claims: { nonce } });
    assert.equal(res.status, 200, "a proof with the server's nonce is accepted");
    await res.body?.cancel();
    await assertForwardedBound(edge, origin, "bob", key.jkt, "hand-made proof with the nonce");
  });
});

for (const store of ["kv", "authority"]) {
  describe(`leaked DPoP-bound tokens are worth nothing without the key (${store} store)`, () => {
    let origin;
    let edge;
    before(async () => {
      ({ origin, edge } = await startPair({ SESSION_STORE: store }));
    });
    after(async () => {
      await edge?.dispose();
      await origin?.close();
    });

    test("positive control: the victim's own key refreshes a bound refresh token, and the new token stays bound", async () => {
      const victim = await newKey("ES256");
      const grant = await dpopGrant(edge, victim, { json: true });
      const res = await refreshRequest(edge, grant.refresh_token, await tokenProof(edge, victim));
      assert.equal(res.status, 200);
      const refreshed = await res.json();
      assert.equal(refreshed.token_type, "DPoP");
      assert.deepEqual(claimsOf(refreshed.access_token).cnf, { jkt: victim.jkt });
      assert.equal(refreshed.session.id, grant.session.id);
      await origin.clear();
      const used = await dpopFetch(edge, refreshed.access_token, victim);
      assert.equal(used.status, 200);
      await used.body?.cancel();
      await assertForwardedBound(edge, origin, "alice", victim.jkt, "refreshed token");
    });

    test("a stolen access token: as Bearer it is invalid_token; with the thief's own key it is refused", async () => {
      const victim = await newKey("ES256");
      const thief = await newKey("ES256");
      const { access_token: token } = await dpopGrant(edge, victim);

      await origin.clear();
      await expectRefusalAudited(
        edge,
        "bound token as Bearer",
        async (address) => {
          const res = await edge.fetch("/app/data", { headers: { ...API, authorization: `Bearer ${token}`, "cf-connecting-ip": address } });
          await assertDpopRefused(res, origin, "invalid_token", "bound token as Bearer");
        },
        [token],
      );
      await expectRefusalAudited(
        edge,
        "bound token with the thief's key",
        async (address) => {
          const res = await dpopFetch(edge, token, thief, { headers: { "cf-connecting-ip": address } });
          await assertDpopRefused(res, origin, ["invalid_dpop_proof", "invalid_token"], "bound token with the thief's key");
        },
        [token],
      );
      // The thief's own proof without the token's binding, as Bearer beside it: still nothing.
      const res = await edge.fetch("/app/data", {
        headers: { ...API, authorization: `Bearer ${token}`, dpop: await proof(thief, { htu: `${edge.url}/app/data`, token }) },
      });
      assert.equal(res.status, 401, "Bearer with a DPoP header beside it");
      await res.body?.cancel();
      await assertNothingForwarded(origin, "Bearer with a thief's proof");
    });

    for (const [how, thiefProof] of [
      ["without a proof", async () => undefined],
      ["with the thief's own key", async (edge) => tokenProof(edge, await newKey("ES256"))],
      ["with the thief's own Ed25519 key", async (edge) => tokenProof(edge, await newKey("Ed25519"))],
    ]) {
      test(`a stolen bound refresh token used ${how} is refused and ends the victim's session`, async () => {
        const victim = await newKey("ES256");
        const grant = await dpopGrant(edge, victim);
        await expectRefusalAudited(
          edge,
          `stolen refresh token ${how}`,
          async (address) => {
            const dpop = await thiefProof(edge);
            const res = await tokenRequest(
              edge,
              { grant_type: "refresh_token", refresh_token: grant.refresh_token },
              { form: true, headers: { "cf-connecting-ip": address, ...(dpop && { dpop }) } },
            );
            await assertTokenRefused(res, `stolen refresh token ${how}`);
          },
          [grant.refresh_token],
        );
        const legit = await refreshRequest(edge, grant.refresh_token, await tokenProof(edge, victim));
        assert.ok([400, 401].includes(legit.status), `the victim's own refresh fails now (got ${legit.status})`);
        const body = await legit.json();
        assert.equal(body.access_token, undefined, "no token for an ended session");
      });
    }

    test("an unbound (Bearer) token presented with the DPoP scheme is invalid_token", async () => {
      const res = await plainGrant(edge, "bob");
      assert.equal(res.status, 200);
      const grant = await res.json();
      assert.equal(grant.token_type, "Bearer");
      const key = await newKey("ES256");
      await origin.clear();
      await expectRefusalAudited(edge, "unbound token with the DPoP scheme", async (address) => {
        const refused = await dpopFetch(edge, grant.access_token, key, { headers: { "cf-connecting-ip": address } });
        await assertDpopRefused(refused, origin, "invalid_token", "unbound token with the DPoP scheme");
      });
    });

    test("a forged token with the DPoP scheme gets the DPoP challenge, invalid_token", async () => {
      const key = await newKey("ES256");
      // A well-formed JWS whose signature is nobody's.
      const forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl";
      await origin.clear();
      const refused = await dpopFetch(edge, forged, key);
      await assertDpopRefused(refused, origin, "invalid_token", "a forged token with the DPoP scheme");
    });
  });
}

describe("hostile DPoP proofs on a protected path (DPOP=allow)", () => {
  let origin;
  let edge;
  let key;
  let other;
  let grant;
  let second;
  before(async () => {
    ({ origin, edge } = await startPair());
    key = await newKey("ES256");
    other = await newKey("ES256");
    grant = await dpopGrant(edge, key);
    second = await dpopGrant(edge, key, { username: "bob" });
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("positive control: the test's hand-made proofs are accepted for every accepted alg", async () => {
    // Proves the signer below is faithful, so each refusal that follows is caused by its one defect.
    for (const alg of ["ES256", "EdDSA", "Ed25519", "RS256"]) {
      const own = await newKey(alg);
      const mine = await dpopGrant(edge, own, { json: alg === "RS256" });
      await origin.clear();
      const res = await dpopFetch(edge, mine.access_token, own, { path: "/app/control?q=1#frag" });
      assert.equal(res.status, 200, `${alg}: a proof with htu without query is accepted`);
      await res.body?.cancel();
      await assertForwardedBound(edge, origin, "alice", own.jkt, `${alg} control`);
    }
    await origin.clear();
    const del = await dpopFetch(edge, grant.access_token, key, { method: "DELETE", path: "/app/item/7" });
    assert.equal(del.status, 200, "htm follows the method");
    await del.body?.cancel();
    const [seen] = await origin.requests();
    assert.equal(seen.method, "DELETE");
  });

  const here = (path = "/app/data") => `${edge.url}${path}`;
  const send = (dpop, { token = grant.access_token, method = "GET", path = "/app/data", headers = {} } = {}) =>
    edge.fetch(path, { method, headers: { ...API, authorization: `DPoP ${token}`, ...(dpop !== undefined && { dpop }), ...headers } });

  /**
   * A request whose proof is a good one for GET /app/data and the token, except for `options`
   * (built when the test runs: options naming the edge or a token are wrapped in a function).
   */
  const bad = (options) => async (headers) => send(await proof(key, { htu: here(), token: grant.access_token, ...options }), { headers });

  // [what, expected error(s), act(headers) -> refused Response]
  const CASES = [
    [
      "a replayed proof (the same jti twice)",
      "invalid_dpop_proof",
      async (headers) => {
        const once = await proof(key, { htu: here(), token: grant.access_token });
        const first = await send(once);
        assert.equal(first.status, 200, "the proof's first use is accepted");
        await first.body?.cancel();
        await origin.clear();
        return send(once, { headers });
      },
    ],
    [
      "a new proof reusing a jti already seen",
      "invalid_dpop_proof",
      async (headers) => {
        const jti = b64url(randomBytes(16));
        const first = await send(await proof(key, { htu: here(), token: grant.access_token, claims: { jti } }));
        assert.equal(first.status, 200);
        await first.body?.cancel();
        await origin.clear();
        return send(await proof(key, { htu: here(), token: grant.access_token, claims: { jti } }), { headers });
      },
    ],
    ["htm of another method", "invalid_dpop_proof", bad({ htm: "POST" })],
    ["htm in lowercase", "invalid_dpop_proof", bad({ htm: "get" })],
    ["htu of another path", "invalid_dpop_proof", async (headers) => bad({ htu: here("/app/other") })(headers)],
    ["htu of another origin", "invalid_dpop_proof", bad({ htu: "https://elsewhere.example/app/data" })],
    ["no htu", "invalid_dpop_proof", bad({ htu: undefined })],
    ["iat 120 s in the past", "invalid_dpop_proof", async (headers) => bad({ claims: { iat: nowSecs() - 120 } })(headers)],
    ["iat 60 s in the future", "invalid_dpop_proof", async (headers) => bad({ claims: { iat: nowSecs() + 60 } })(headers)],
    ["no iat", "invalid_dpop_proof", bad({ claims: { iat: undefined } })],
    ["no jti", "invalid_dpop_proof", bad({ claims: { jti: undefined } })],
    ["ath missing", "invalid_dpop_proof", bad({ token: undefined })],
    ["ath of another token of the same key", "invalid_dpop_proof", async (headers) => bad({ token: second.access_token })(headers)],
    [
      "a proof by another client's key",
      ["invalid_dpop_proof", "invalid_token"],
      async (headers) => send(await proof(other, { htu: here(), token: grant.access_token }), { headers }),
    ],
    [
      "a signature that does not verify",
      "invalid_dpop_proof",
      async (headers) => {
        const good = await proof(key, { htu: here(), token: grant.access_token });
        const bad = await proof(key, { htu: here(), token: grant.access_token, sign: async () => Buffer.from(good.split(".")[2], "base64url") });
        return send(bad, { headers });
      },
    ],
    [
      "alg none with an empty signature",
      "invalid_dpop_proof",
      bad({ header: { alg: "none" }, sign: async () => "" }),
    ],
    [
      "alg HS256 keyed with the public key",
      "invalid_dpop_proof",
      async (headers) =>
        send(
          await proof(key, {
            htu: here(),
            token: grant.access_token,
            header: { alg: "HS256" },
            sign: async (input) => createHmac("sha256", Buffer.from(key.jwk.x, "base64url")).update(input).digest(),
          }),
          { headers },
        ),
    ],
    [
      "alg ES384 (not accepted), correctly signed",
      "invalid_dpop_proof",
      async (headers) => {
        const p384 = await newKey("ES384");
        return send(await proof(p384, { htu: here(), token: grant.access_token }), { headers });
      },
    ],
    [
      "a jwk of another type than the alg (ES256 over an Ed25519 key)",
      "invalid_dpop_proof",
      async (headers) => {
        const ed = await newKey("Ed25519");
        return send(await proof(ed, { htu: here(), token: grant.access_token, header: { alg: "ES256" } }), { headers });
      },
    ],
    [
      "a private key (d) in the jwk",
      "invalid_dpop_proof",
      async (headers) => bad({ header: { jwk: key.privateJwk } })(headers),
    ],
    ["no jwk", "invalid_dpop_proof", bad({ header: { jwk: undefined } })],
    ["typ jwt", "invalid_dpop_proof", bad({ header: { typ: "jwt" } })],
    ["no typ", "invalid_dpop_proof", bad({ header: { typ: undefined } })],
    [
      "a crit header",
      "invalid_dpop_proof",
      bad({ header: { crit: ["exp"], exp: 1 } }),
    ],
    [
      "an oversized proof (over 4096 bytes)",
      "invalid_dpop_proof",
      async (headers) => {
        const big = await proof(key, { htu: here(), token: grant.access_token, claims: { jti: b64url(randomBytes(3200)) } });
        assert.ok(big.length > 4096, `the proof is ${big.length} bytes`);
        return send(big, { headers });
      },
    ],
    [
      "two DPoP headers",
      "invalid_dpop_proof",
      async (headers) => {
        const both = new Headers({ ...API, authorization: `DPoP ${grant.access_token}`, ...headers });
        both.append("dpop", await proof(key, { htu: here(), token: grant.access_token }));
        both.append("dpop", await proof(key, { htu: here(), token: grant.access_token }));
        return edge.fetch("/app/data", { headers: both });
      },
    ],
    ["not a JWS", "invalid_dpop_proof", async (headers) => send("not-a-proof", { headers })],
    ["the DPoP scheme without a DPoP header", "invalid_dpop_proof", async (headers) => send(undefined, { headers })],
    ["an empty DPoP header", "invalid_dpop_proof", async (headers) => send("", { headers })],
  ];

  for (const [what, code, act] of CASES) {
    test(`refused: ${what}`, async () => {
      await origin.clear();
      await expectRefusalAudited(
        edge,
        what,
        async (address) => {
          const res = await act({ "cf-connecting-ip": address });
          await assertDpopRefused(res, origin, code, what);
        },
        [grant.access_token],
      );
    });
  }

  test("a proof without a token identifies no one: 401 and nothing forwarded", async () => {
    await origin.clear();
    for (const headers of [
      { dpop: await proof(key, { htu: here() }) },
      { dpop: await proof(key, { htu: here(), token: grant.access_token }) },
      { dpop: await proof(key, { htu: here() }), authorization: "DPoP" },
    ]) {
      const res = await edge.fetch("/app/data", { headers: { ...API, ...headers } });
      assert.equal(res.status, 401, `a proof alone (${Object.keys(headers).join(", ")})`);
      await res.body?.cancel();
    }
    await assertNothingForwarded(origin, "a proof without a token");
  });

  test("a bad proof at the token endpoint is refused with 400 and no tokens", async () => {
    for (const [what, options] of [
      ["htu of a protected path", { htu: here() }],
      ["htm GET", { htm: "GET" }],
      ["alg none", { header: { alg: "none" }, sign: async () => "" }],
      ["iat 120 s in the past", { claims: { iat: nowSecs() - 120 } }],
      ["a private key in the jwk", { header: { jwk: key.privateJwk } }],
    ]) {
      await expectRefusalAudited(edge, `token endpoint: ${what}`, async (address) => {
        const res = await tokenRequest(
          edge,
          { grant_type: "password", username: "alice", password: PASSWORD },
          { form: true, headers: { dpop: await tokenProof(edge, key, options), "cf-connecting-ip": address } },
        );
        await assertTokenRefused(res, `token endpoint: ${what}`);
      });
    }
  });
});

describe("DPOP=require", () => {
  let origin;
  let edge;
  before(async () => {
    ({ origin, edge } = await startPair({ DPOP: "require" }));
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("a password grant without a proof is refused with 400 invalid_dpop_proof", async () => {
    for (const json of [false, true]) {
      await expectRefusalAudited(edge, `no proof (${json ? "JSON" : "form"})`, async (address) => {
        const res = await tokenRequest(
          edge,
          { grant_type: "password", username: "alice", password: PASSWORD },
          { form: !json, headers: { "cf-connecting-ip": address } },
        );
        await assertTokenRefused(res, `no proof (${json ? "JSON" : "form"})`);
      });
    }
  });

  test("with a proof the grant answers a bound token that works", async () => {
    const key = await newKey("ES256");
    const grant = await dpopGrant(edge, key);
    await origin.clear();
    const res = await dpopFetch(edge, grant.access_token, key);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await assertForwardedBound(edge, origin, "alice", key.jkt, "DPOP=require");
  });

  test("browsers' cookie sign-in still works", async () => {
    const jar = await session(edge, "bob");
    await origin.clear();
    const res = await edge.fetch("/app/page", { headers: { cookie: jar.header() } });
    assert.equal(res.status, 200, "a cookie session is not a token grant");
    await res.body?.cancel();
    const [seen] = await origin.requests();
    assert.equal(seen.headers["x-auth-user"], "bob");
    assert.equal(seen.headers["x-auth-dpop-jkt"], undefined);
  });
});

describe("DPOP=off", () => {
  let origin;
  let edge;
  before(async () => {
    ({ origin, edge } = await startPair({ DPOP: "off" }));
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("the DPoP header is ignored at the token endpoint: Bearer tokens, unbound, that work as Bearer", async () => {
    const key = await newKey("ES256");
    const res = await tokenRequest(
      edge,
      { grant_type: "password", username: "alice", password: PASSWORD },
      { form: true, headers: { dpop: await tokenProof(edge, key) } },
    );
    assert.equal(res.status, 200);
    const grant = await res.json();
    assert.equal(grant.token_type, "Bearer");
    assert.equal(claimsOf(grant.access_token).cnf, undefined, "no binding");
    await origin.clear();
    const used = await edge.fetch("/app/data", { headers: { ...API, authorization: `Bearer ${grant.access_token}` } });
    assert.equal(used.status, 200);
    await used.body?.cancel();
    const [seen] = await origin.requests();
    assert.equal(seen.headers["x-auth-user"], "alice");
    assert.equal(seen.headers["x-auth-dpop-jkt"], undefined);
  });

  test("even a broken proof is ignored, and the library gets Bearer tokens with its DPoP handle", async () => {
    const key = await newKey("ES256");
    const res = await tokenRequest(
      edge,
      { grant_type: "password", username: "alice", password: PASSWORD },
      { form: true, headers: { dpop: await tokenProof(edge, key, { header: { alg: "none" }, sign: async () => "" }) } },
    );
    assert.equal(res.status, 200);
    assert.equal((await res.json()).token_type, "Bearer");
    const { client } = library(edge);
    const grant = await libraryPasswordGrant(edge, oauth.DPoP(client, await oauth.generateKeyPair("ES256")));
    assert.equal(grant.token_type, "bearer");
  });
});
