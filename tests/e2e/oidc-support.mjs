// OpenID providers for the end-to-end tests, on loopback:
//  - startRealProvider(): the `oidc-provider` package (a certified OpenID provider) with one
//    client for the worker, PKCE required, its development login form (any login name signs in,
//    as that account), back-channel logout and RP-initiated logout on;
//  - startHostileProvider(): a small server of our own that serves a discovery document, a JWKS
//    and a token endpoint whose ID token the test chooses per authorization code, to check that
//    each crafted answer is refused.
import { generateKeyPairSync, createHmac, createSign, randomBytes } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import Provider from "oidc-provider";

export const b64url = (data) => Buffer.from(data).toString("base64url");
export const nowSecs = () => Math.floor(Date.now() / 1000);

/** Claims of a test account at a real provider, by its login name. */
export function accountClaims(id) {
  return {
    sub: id,
    email: `${id}@example.com`,
    email_verified: true,
    groups: id.startsWith("admin") ? ["staff", "admins"] : ["staff"],
  };
}

async function listen(server) {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server.address().port;
}

/**
 * A real OpenID provider listening on loopback, for the worker as provider `id`. The worker's
 * address is known only once the worker runs, which needs the issuer: so `attach(edgeUrl)`
 * registers the client afterwards. Returns { id, issuer, clientId, clientSecret, attach, close() }.
 */
export async function startRealProvider({ id, alg = "RS256" }) {
  const server = http.createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = `edge-${id}`;
  const clientSecret = b64url(randomBytes(24));
  const attach = (edgeUrl) => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [`${edgeUrl}/auth/oidc/${id}/callback`],
        post_logout_redirect_uris: [`${edgeUrl}/auth/login?reason=logged_out`],
        // The provider posts from Node, which reaches workerd on 127.0.0.1 (not on localhost's ::1).
        backchannel_logout_uri: `${edgeUrl.replace("://localhost:", "://127.0.0.1:")}/auth/oidc/${id}/backchannel-logout`,
        backchannel_logout_session_required: true,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: alg,
      },
    ],
    jwks: { keys: [{ ...rsa, kid: "rsa-1", alg: "RS256", use: "sig" }, { ...ec, kid: "ec-1", alg: "ES256", use: "sig" }] },
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["groups"] },
    scopes: ["openid", "email", "profile"],
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    cookies: { keys: [b64url(randomBytes(32))] },
    findAccount: async (_ctx, accountId) => ({
      accountId,
      claims: async () => accountClaims(accountId),
    }),
    // The provider refuses to post to special-use addresses (an SSRF guard); the worker under
    // test is on loopback, so its back-channel logout goes through plain fetch.
    fetch: (url, options) => {
      delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
    // Claims in the ID token itself, as most providers put them.
    conformIdTokenClaims: false,
  });
  provider.on("server_error", (_ctx, err) => console.error(`provider ${id}: ${err.stack}`));
  provider.on("backchannel.error", (_ctx, err) => console.error(`provider ${id} back-channel logout: ${err.message} ${err.cause?.message ?? ""} ${err.cause?.code ?? ""}`));
  server.on("request", provider.callback());
  };
  return {
    id,
    issuer,
    attach,
    clientId,
    clientSecret,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The worker's vars for `providers` ({ id, issuer, clientId, clientSecret, extra }). */
export function providerVars(providers) {
  const vars = { OIDC_PROVIDERS: providers.map((p) => p.id).join(",") };
  for (const p of providers) {
    const prefix = `OIDC_${p.id.toUpperCase().replaceAll("-", "_")}_`;
    vars[`${prefix}ISSUER`] = p.issuer;
    vars[`${prefix}CLIENT_ID`] = p.clientId;
    vars[`${prefix}CLIENT_SECRET`] = p.clientSecret;
    for (const [name, value] of Object.entries(p.extra ?? {})) vars[`${prefix}${name}`] = value;
  }
  return vars;
}

/**
 * The claims of an ID token `provider` (its `issuer` and `clientId`) issues to the sign-in whose
 * authorization request was `params` (its `nonce`): user `eve`, valid for five minutes. `over`
 * replaces claims; a claim set to `undefined` is left out.
 */
export function idTokenClaims(provider, params, over = {}) {
  const now = nowSecs();
  return overridden(
    {
      iss: provider.issuer,
      aud: provider.clientId,
      sub: "eve",
      nonce: params.get("nonce"),
      iat: now,
      exp: now + 300,
      email: "eve@example.com",
      email_verified: true,
    },
    over,
  );
}

/** The event a back-channel logout token carries (Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL = "http://schemas.openid.net/event/backchannel-logout";

/** The claims of a logout token from `provider` for the user "eve", with `over` applied as in
 * `idTokenClaims`. */
export function logoutTokenClaims(provider, over = {}) {
  return overridden(
    {
      iss: provider.issuer,
      aud: provider.clientId,
      sub: "eve",
      jti: `jti-${Math.random()}`,
      iat: nowSecs(),
      events: { [BACKCHANNEL]: {} },
    },
    over,
  );
}

/** Answers `res` with JSON: `json(status, body, headers)`. */
function jsonAnswer(res) {
  return (status, body, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
}

/** A provider's discovery document at `issuer`: its endpoints under the issuer's own URL. */
function discoveryDocument(issuer) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
  };
}

/** `claims` with `over` applied: a value replaces a claim, `undefined` removes it. */
function overridden(claims, over) {
  for (const [name, value] of Object.entries(over)) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

/** A compact JWS; `key` is a private KeyObject (RS256/ES256), a Buffer (HS256), or null (none). */
export function signJwt(header, claims, key) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let signature = "";
  if (header.alg === "RS256") signature = createSign("sha256").update(input).sign(key, "base64url");
  if (header.alg === "ES256")
    signature = createSign("sha256").update(input).sign({ key, dsaEncoding: "ieee-p1363" }, "base64url");
  if (header.alg === "HS256") signature = createHmac("sha256", key).update(input).digest("base64url");
  return `${input}.${signature}`;
}

/**
 * A provider that answers as the test says. `answers.set(code, idToken)` chooses the ID token the
 * token endpoint gives for `code` (each code once, like a real provider; a second use gets
 * `invalid_grant`). Records every token request. Returns { issuer, clientId, clientSecret, keys,
 * answers, tokenRequests, close() }.
 */
export async function startHostileProvider() {
  const { privateKey: rsa, publicKey: rsaPublic } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const server = http.createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const answers = new Map();
  const used = new Set();
  const tokenRequests = [];
  server.on("request", async (req, res) => {
    const json = jsonAnswer(res);
    const url = new URL(req.url, issuer);
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(200, discoveryDocument(issuer));
    }
    if (url.pathname === "/jwks") {
      return json(200, { keys: [{ ...rsaPublic.export({ format: "jwk" }), kid: "rsa-1", alg: "RS256", use: "sig" }] });
    }
    if (url.pathname === "/token" && req.method === "POST") {
      let body = "";
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      tokenRequests.push({ form: Object.fromEntries(form), authorization: req.headers.authorization ?? null });
      const code = form.get("code");
      if (!answers.has(code) || used.has(code)) return json(400, { error: "invalid_grant" });
      used.add(code);
      return json(200, { access_token: "provider-access-token", token_type: "Bearer", id_token: answers.get(code) });
    }
    json(404, { error: "not_found" });
  });
  return {
    issuer,
    clientId: "edge-hostile",
    clientSecret: "hostile-client-secret-value",
    rsa,
    answers,
    tokenRequests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A hostile provider the test drives while it runs: `discovery` (extra members of the discovery
 * document, read when the edge fetches it), `tokenMode` ("normal", "redirect" to `redirectTo`
 * with a 307, "stall" for `stallMs`), `jwksFails` (the key set answers 500), `rotate()` (the key
 * set and `sign` move to a new key `rsa-2`). Counts `jwksHits`; `answers` as in
 * startHostileProvider. Returns the handle; `close()` when done.
 */
export async function startDrivableProvider({ discovery = {} } = {}) {
  const first = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const server = http.createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const state = {
    issuer,
    clientId: "edge-driven",
    clientSecret: "driven-client-secret-value",
    kid: "rsa-1",
    key: first,
    answers: new Map(),
    tokenMode: "normal",
    redirectTo: null,
    stallMs: 30_000,
    jwksFails: false,
    jwksHits: 0,
    tokenRequests: 0,
    rotate() {
      state.key = generateKeyPairSync("rsa", { modulusLength: 2048 });
      state.kid = "rsa-2";
    },
    sign(header, claims) {
      return signJwt({ alg: "RS256", kid: state.kid, ...header }, claims, state.key.privateKey);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  server.on("request", async (req, res) => {
    const json = jsonAnswer(res);
    const url = new URL(req.url, issuer);
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(200, { ...discoveryDocument(issuer), ...discovery });
    }
    if (url.pathname === "/jwks") {
      state.jwksHits += 1;
      if (state.jwksFails) return json(500, { error: "down" });
      const jwk = state.key.publicKey.export({ format: "jwk" });
      return json(200, { keys: [{ ...jwk, kid: state.kid, alg: "RS256", use: "sig" }] });
    }
    if (url.pathname === "/token" && req.method === "POST") {
      let body = "";
      for await (const chunk of req) body += chunk;
      state.tokenRequests += 1;
      if (state.tokenMode === "redirect") return json(307, {}, { location: state.redirectTo });
      if (state.tokenMode === "stall") await new Promise((resolve) => setTimeout(resolve, state.stallMs));
      const code = new URLSearchParams(body).get("code");
      if (!state.answers.has(code)) return json(400, { error: "invalid_grant" });
      const idToken = state.answers.get(code);
      state.answers.delete(code);
      return json(200, { access_token: "at", token_type: "Bearer", id_token: idToken });
    }
    json(404, { error: "not_found" });
  });
  return state;
}

/** A server that records every request it receives (a third party the edge must never reach). */
export async function startRecorder() {
  const server = http.createServer();
  const port = await listen(server);
  const requests = [];
  server.on("request", async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization ?? null, body });
    res.writeHead(404);
    res.end();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
