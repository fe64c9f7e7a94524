// Attacks on the edge, end to end against the built worker in workerd, in front of a recording
// origin: forged and confused tokens, identity-header smuggling, cookie tossing, open redirects,
// login/logout CSRF and credential stuffing. After every attack the test checks that nothing
// reached the origin, or that what reached it carries only the identity the edge vouches for.
//
// Forged tokens are built with the test's own knowledge of SESSION_KEYS (HMAC-SHA256 through
// node:crypto). A correctly forged token is accepted (the positive control below), so each
// refusal is caused by the one defect that token carries.
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startOrigin, startWorker, testKeys, wranglerVars } from "./harness.mjs";
import {
  ACCESS,
  BROWSER,
  PASSWORD,
  REFRESH,
  accessClaims,
  addUser,
  assertNothingForwarded,
  auditEvents,
  auditLines,
  b64url,
  login,
  nowSecs,
  pseudonym,
  rawGet,
  rawRequest,
  ringKey,
  session,
  signHs256,
  signInput,
} from "./support.mjs";

const API = { accept: "application/json" };
const vars = wranglerVars();
const secrets = testKeys();
const SESSION_KEY = ringKey(secrets.SESSION_KEYS);
const ASSERTION_KID = ringKey(secrets.ASSERTION_KEYS).kid;
const LEEWAY = 30;
const HEADER = { alg: "HS256", kid: SESSION_KEY.kid, typ: "at+jwt" };

let origin;
let edge;
before(async () => {
  origin = await startOrigin();
  // The forged tokens below name sessions nobody opened: with the KV revocation read such a
  // token is judged by its signature and claims alone, which is what these tests are about. With
  // the authority's read it is refused for its session as well ("a session the authority does
  // not hold", below).
  edge = await startWorker({
    vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", CLOCK_LEEWAY: String(LEEWAY), REVOCATION_READ: "kv" },
    secrets,
    captureLogs: true,
  });
  await addUser(edge, "alice", { roles: ["admin", "staff"] });
  await addUser(edge, "bob", { roles: ["member"] });
});
after(async () => {
  await edge?.dispose();
  await origin?.close();
});

/** A token signed with the deployment's real session key. */
const real = (header, payload) => signHs256(header, payload, SESSION_KEY.key);

/** Presents `token` as the access cookie (an API call and a navigation) and as a bearer token; all must be refused. */
async function assertRefused(token, what) {
  await origin.clear();
  const cookie = `${ACCESS}=${token}`;
  const api = await edge.fetch("/api/secret", { headers: { ...API, cookie } });
  assert.equal(api.status, 401, `${what}: API call`);
  assert.equal((await api.json()).error, "unauthenticated", what);
  const nav = await edge.fetch("/page", { headers: { ...BROWSER, cookie } });
  assert.equal(nav.status, 302, `${what}: navigation`);
  assert.equal(nav.headers.get("location"), "/auth/login?next=/page", what);
  // The same validation holds for the token presented as `Authorization: Bearer`.
  const asBearer = await edge.fetch("/api/secret", { headers: { ...API, authorization: `Bearer ${token}` } });
  assert.equal(asBearer.status, 401, `${what}: as a bearer token`);
  assert.equal((await asBearer.json()).error, "invalid_token", `${what}: as a bearer token`);
  await assertNothingForwarded(origin, what);
}

/** The one request the origin received, which must carry exactly `user`'s identity. */
async function assertForwardedAs(user, what) {
  const seen = await origin.requests();
  assert.equal(seen.length, 1, `${what}: exactly one request reaches the origin`);
  const [request] = seen;
  const names = request.rawHeaders.filter((_, i) => i % 2 === 0);
  const identityLike = names.filter((name) => /^\s*x[-_]auth/i.test(name) || /remote[-_]user|forwarded[-_]user/i.test(name));
  assert.deepEqual(
    identityLike.map((n) => n.toLowerCase()).sort(),
    ["x-auth-assertion", "x-auth-roles", "x-auth-session", "x-auth-user"],
    `${what}: only our four identity headers, once each`,
  );
  assert.equal(request.headers["x-auth-user"], user, what);
  return request;
}

describe("a session the authority does not hold", () => {
  test("a token signed with the real session key for an invented session is refused by the authority's read", async () => {
    const strict = await startWorker({
      vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", SESSION_STORE: "authority" },
      secrets,
    });
    try {
      await origin.clear();
      const token = real(HEADER, accessClaims({ sub: "invented-by-test" }));
      for (const headers of [{ ...API, cookie: `${ACCESS}=${token}` }, { ...API, authorization: `Bearer ${token}` }]) {
        const res = await strict.fetch("/api/invented", { headers });
        assert.equal(res.status, 401);
        assert.match((await res.json()).error, /^(session_ended|invalid_token)$/);
      }
      await assertNothingForwarded(origin, "an invented session");
    } finally {
      await strict.dispose();
    }
  });
});

describe("forged access tokens", () => {
  test("positive control: a token signed with the real session key is accepted", async () => {
    // Proves the forging below is faithful, so every refusal that follows is caused by its defect.
    await origin.clear();
    const token = real(HEADER, accessClaims({ sub: "forged-by-test" }));
    const res = await edge.fetch("/api/control", { headers: { ...API, cookie: `${ACCESS}=${token}` } });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await assertForwardedAs("forged-by-test", "control");
  });

  test("every refused token leaves an audit line with the reason and no token (ASVS 16.3.2)", async () => {
    const address = "198.51.100.161";
    const forged = signHs256(HEADER, accessClaims(), Buffer.alloc(32, 9));
    const res = await edge.fetch("/api/audited", { headers: { ...API, cookie: `${ACCESS}=${forged}`, "cf-connecting-ip": address } });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    const mine = await auditEvents(edge, (l) => l.event === "token_rejected" && l.client === pseudonym(address), {
      what: "the refused request's line",
    });
    assert.equal(mine.length, 1, "one line for the refused request");
    const lines = edge.logs().filter((line) => line.includes('"token_rejected"'));
    assert.equal(mine[0].detail, "token signature does not verify");
    assert.ok(lines.every((line) => !line.includes(forged.split(".")[2])), "the token never reaches the log");
  });

  test("alg none in every casing, with and without a signature, is refused", async () => {
    const claims = accessClaims();
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      const header = { ...HEADER, alg };
      const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}.`;
      await assertRefused(unsigned, `alg ${alg}, empty signature`);
      // Even a signature that verifies with the real key does not make `none` acceptable.
      await assertRefused(real(header, claims), `alg ${alg} with a valid HS256 signature`);
    }
    for (const alg of ["hs256", "HS512", "HS384", "EdDSA", "RS256", ""]) {
      await assertRefused(real({ ...HEADER, alg }, claims), `alg ${JSON.stringify(alg)} with a valid HS256 signature`);
    }
    const noAlg = { kid: HEADER.kid, typ: HEADER.typ };
    await assertRefused(real(noAlg, claims), "no alg at all");
  });

  test("an empty signature and a signature by another key are refused", async () => {
    const valid = real(HEADER, accessClaims());
    await assertRefused(valid.slice(0, valid.lastIndexOf(".") + 1), "empty signature");
    await assertRefused(signHs256(HEADER, accessClaims(), Buffer.alloc(32, 7)), "signed by another key");
    const flipped = valid.slice(0, -2) + (valid.at(-2) === "A" ? "B" : "A") + valid.at(-1);
    await assertRefused(flipped, "signature with one character changed");
  });

  test("algorithm confusion: HS256 keyed with the Ed25519 public assertion key from the JWKS is refused", async () => {
    const jwks = await (await edge.fetch("/.well-known/jwks.json")).json();
    const jwk = jwks.keys.find((k) => k.kid === ASSERTION_KID);
    assert.ok(jwk, "the assertion key is published");
    const publicKey = createPublicKey({ key: jwk, format: "jwk" });
    const candidates = {
      "raw public key bytes": Buffer.from(jwk.x, "base64url"),
      "the x member as text": Buffer.from(jwk.x),
      "the JWK as JSON": Buffer.from(JSON.stringify(jwk)),
      "the JWKS document": Buffer.from(JSON.stringify(jwks)),
      "the SPKI PEM": Buffer.from(publicKey.export({ type: "spki", format: "pem" })),
      "the SPKI DER": publicKey.export({ type: "spki", format: "der" }),
    };
    for (const [what, key] of Object.entries(candidates)) {
      for (const kid of [ASSERTION_KID, SESSION_KEY.kid]) {
        const token = signHs256({ ...HEADER, kid }, accessClaims(), key);
        await assertRefused(token, `HS256 with ${what}, kid ${kid}`);
      }
    }
  });

  test("embedded jwk and jku/x5u pointing elsewhere are ignored (and never fetched)", async () => {
    const attackerKey = Buffer.alloc(32, 9);
    const elsewhere = `${origin.url}/attacker/jwks.json`;
    const headers = [
      { ...HEADER, jwk: { kty: "oct", k: b64url(attackerKey) } },
      { alg: "HS256", typ: "at+jwt", jwk: { kty: "oct", k: b64url(attackerKey), kid: "attacker" }, kid: "attacker" },
      { ...HEADER, jku: elsewhere },
      { ...HEADER, x5u: elsewhere },
      { ...HEADER, kid: "attacker", jku: elsewhere, x5u: elsewhere },
      { ...HEADER, x5c: [publicCertificateLike(attackerKey)] },
    ];
    for (const header of headers) {
      await assertRefused(signHs256(header, accessClaims(), attackerKey), JSON.stringify(header));
    }
    // assertRefused also proved the origin (where jku/x5u point) was never asked for keys.
  });

  test("kid path traversal, injection strings and other key ids are refused even when the signature is right", async () => {
    const kids = [
      "../../x",
      `../${SESSION_KEY.kid}`,
      `${SESSION_KEY.kid}/../${SESSION_KEY.kid}`,
      "' OR 1=1",
      `${SESSION_KEY.kid}' OR '1'='1`,
      "\u0000",
      `${SESSION_KEY.kid}\u0000`,
      `${SESSION_KEY.kid} `,
      SESSION_KEY.kid.toUpperCase(),
      "",
      "x".repeat(4000),
      ASSERTION_KID,
      123,
      null,
      [SESSION_KEY.kid],
    ];
    for (const kid of kids) {
      await assertRefused(real({ ...HEADER, kid }, accessClaims()), `kid ${JSON.stringify(kid).slice(0, 40)}`);
    }
    const { kid: _omitted, ...noKid } = HEADER;
    await assertRefused(real(noKid, accessClaims()), "no kid");
  });

  test("crit headers are refused, known or not", async () => {
    for (const extra of [{ crit: ["exp"] }, { crit: ["x-edgegate-unknown"], "x-edgegate-unknown": true }, { crit: [] }, { crit: null }]) {
      await assertRefused(real({ ...HEADER, ...extra }, accessClaims()), JSON.stringify(extra));
    }
  });

  test("a wrong or missing typ is refused", async () => {
    for (const typ of ["JWT", "jwt", "AT+JWT", "application/at+jwt", "edgegate-assertion+jwt", "", undefined]) {
      await assertRefused(real({ ...HEADER, typ }, accessClaims()), `typ ${typ}`);
    }
  });

  test("a token of another kind is refused: knd, iss and aud must match exactly", async () => {
    const cases = {
      "knd assertion": { knd: "assertion" },
      "knd refresh": { knd: "refresh" },
      "knd missing": { knd: undefined },
      "wrong iss": { iss: "https://evil.example" },
      "iss with a trailing slash": { iss: `${vars.ISSUER}/` },
      "iss missing": { iss: undefined },
      "aud of the origin (an assertion's audience)": { aud: vars.ORIGIN_AUDIENCE },
      "aud as an array": { aud: [vars.ISSUER] },
      "aud missing": { aud: undefined },
      "sub missing": { sub: undefined },
      "sid missing": { sid: undefined },
      "roles as a string": { roles: "admin" },
    };
    for (const [what, over] of Object.entries(cases)) {
      await assertRefused(real(HEADER, accessClaims(over)), what);
    }
  });

  test("expired, not yet valid and malformed times are refused", async () => {
    const now = nowSecs();
    const cases = {
      "expired an hour ago": { exp: now - 3600, iat: now - 3900, nbf: now - 3900 },
      "valid from in an hour": { nbf: now + 3600, iat: now + 3600, exp: now + 3900 },
      "exp missing": { exp: undefined },
      "nbf missing": { nbf: undefined },
      "iat missing": { iat: undefined },
      "exp as a string": { exp: String(now + 300) },
      "exp far beyond any range": { exp: 1e20 },
    };
    for (const [what, over] of Object.entries(cases)) {
      await assertRefused(real(HEADER, accessClaims({ now, ...over })), what);
    }
  });

  test("clock skew: valid at exactly the leeway, refused one second beyond it", async () => {
    // The worker reads its own clock; a request whose start and end fall in the same second (checked
    // here, retried otherwise) was judged at exactly `now`.
    async function judged(makeClaims) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const now = nowSecs();
        await origin.clear();
        const token = real(HEADER, makeClaims(now));
        const res = await edge.fetch("/api/skew", { headers: { ...API, cookie: `${ACCESS}=${token}` } });
        await res.body?.cancel();
        if (nowSecs() === now) return res.status;
      }
      throw new Error("could not fit a request inside one second");
    }
    const sub = "skewed";
    assert.equal(await judged((now) => accessClaims({ sub, now: now - 300 - LEEWAY, ttl: 300 })), 200, "exp = now - leeway is accepted");
    await assertForwardedAs(sub, "exp at the leeway");
    assert.equal(await judged((now) => accessClaims({ sub, now: now - 300 - LEEWAY - 1, ttl: 300 })), 401, "exp = now - leeway - 1 is refused");
    await assertNothingForwarded(origin, "exp beyond the leeway");
    assert.equal(await judged((now) => accessClaims({ sub, now: now + LEEWAY })), 200, "nbf = now + leeway is accepted");
    await assertForwardedAs(sub, "nbf at the leeway");
    assert.equal(await judged((now) => accessClaims({ sub, now: now + LEEWAY + 1 })), 401, "nbf = now + leeway + 1 is refused");
    await assertNothingForwarded(origin, "nbf beyond the leeway");
  });

  test("an identity assertion captured at the origin is not an access token", async () => {
    const jar = await session(edge, "alice");
    await origin.clear();
    await (await edge.fetch("/api/capture", { headers: { cookie: jar.header() } })).body?.cancel();
    const [seen] = await origin.requests();
    const assertion = seen.headers["x-auth-assertion"];
    assert.match(assertion, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    await assertRefused(assertion, "replayed assertion");
    // Same, with the assertion's kid also present in the session ring.
    const shared = await startWorker({
      vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true" },
      secrets: { ...secrets, SESSION_KEYS: `${ASSERTION_KID}:${SESSION_KEY.key.toString("base64url")}` },
    });
    try {
      await origin.clear();
      const res = await shared.fetch("/api/secret", { headers: { ...API, cookie: `${ACCESS}=${assertion}` } });
      assert.equal(res.status, 401, "an assertion is refused even when its kid names a session key");
      await assertNothingForwarded(origin, "assertion against a ring sharing its kid");
    } finally {
      await shared.dispose();
    }
  });

  test("a refresh token is not an access token", async () => {
    const jar = await session(edge, "bob");
    await assertRefused(jar.cookies.get(REFRESH), "refresh token as access token");
  });

  test("huge tokens and cookie headers are refused", async () => {
    const padded = real(HEADER, accessClaims({ roles: Array.from({ length: 400 }, (_, i) => `role-${i}`) }));
    assert.ok(padded.length > 5000 && padded.length < 8000, `a ${padded.length}-byte token`);
    await assertRefused(padded, "5 KB access cookie with a valid signature");
    // A valid token inside a 20 KB Cookie header: the header is untrusted as a whole.
    const valid = real(HEADER, accessClaims());
    await assertRefused(`${valid}; filler=${"f".repeat(20000)}`, "valid token in a 20 KB Cookie header");
  });

  test("bad base64, wrong segment counts and non-UTF-8 content are refused", async () => {
    const valid = real(HEADER, accessClaims());
    const [h, p, s] = valid.split(".");
    const cases = {
      "invalid base64 characters": `${h}.${p.slice(0, 10)}!!!${p.slice(10)}.${s}`,
      "standard base64 alphabet": `${h}.${p}.${Buffer.from(s, "base64url").toString("base64").replace(/=+$/, "")}+/`,
      "an extra segment": `${valid}.${s}`,
      "five segments (JWE shape)": `${h}.${p}.${s}.${s}.${s}`,
      "two segments": `${h}.${p}`,
      "one segment": h,
      "only dots": "..",
      "header not JSON": real("not json", accessClaims()),
      "header a JSON array": real("[]", accessClaims()),
      "payload not JSON": real(HEADER, "not json"),
      "payload a JSON string": real(HEADER, '"claims"'),
      "header bytes not UTF-8": `${b64url(Buffer.from([0xff, 0xfe, 0x7b, 0x80]))}.${p}.${s}`,
      "payload with invalid UTF-8 in a string": (() => {
        const json = Buffer.from(JSON.stringify(accessClaims({ sub: "SUBJECT" })));
        const bytes = Buffer.from(json.toString("latin1").replace("SUBJECT", "\xff\xfe"), "latin1");
        return signInput(`${b64url(JSON.stringify(HEADER))}.${b64url(bytes)}`, SESSION_KEY.key);
      })(),
    };
    for (const [what, token] of Object.entries(cases)) {
      await assertRefused(token, what);
    }
    // Raw non-UTF-8 bytes in the cookie itself, sent byte for byte.
    await origin.clear();
    const res = await rawRequest(
      edge.port,
      rawGet(edge.port, "/api/bytes", [`Accept: application/json`, `Cookie: ${ACCESS}=${h}.\xff\xfe\x80.${s}`]),
    );
    assert.equal(res.status, 401, "non-UTF-8 bytes in the access cookie");
    await assertNothingForwarded(origin, "non-UTF-8 cookie bytes");
  });
});

/** A base64 blob in the shape of an x5c entry (not a real certificate: it must never be parsed). */
function publicCertificateLike(key) {
  return Buffer.concat([Buffer.from([0x30, 0x82]), key]).toString("base64");
}

describe("identity header smuggling", () => {
  let jar;
  before(async () => {
    jar = await session(edge, "alice");
  });

  test("client X-Auth-* and other proxies' identity headers are replaced in every spelling fetch can send", async () => {
    const spoofs = [
      ["X-Auth-User", "mallory"],
      ["x-auth-user", "mallory"],
      ["X-AUTH-USER", "mallory"],
      ["X-Auth_User", "mallory"],
      ["x_auth_user", "mallory"],
      ["X_AUTH_ROLES", "root"],
      ["X-Auth-Roles", "root"],
      ["X-Auth-Session", "spoofed"],
      ["X-Auth-Assertion", "eyJhbGciOiJub25lIn0.e30."],
      ["X-Auth-Admin", "true"],
      ["X-Auth", "mallory"],
      ["X-Auth-", "mallory"],
      ["X-Forwarded-User", "mallory"],
      ["X_Forwarded_Email", "mallory@evil.example"],
      ["Remote-User", "mallory"],
      ["REMOTE_USER", "mallory"],
      ["X-Remote-User", "mallory"],
      ["X-Webauth-User", "mallory"],
      ["Cf-Access-Authenticated-User-Email", "mallory@evil.example"],
      ["X-MS-CLIENT-PRINCIPAL-NAME", "mallory"],
    ];
    for (const [name, value] of spoofs) {
      await origin.clear();
      const headers = new Headers({ cookie: jar.header() });
      headers.append(name, value);
      headers.append(name, `${value}-again`); // a duplicate, joined by fetch into one line
      const res = await edge.fetch("/api/smuggle", { headers });
      assert.equal(res.status, 200, name);
      await res.body?.cancel();
      const seen = await assertForwardedAs("alice", name);
      assert.equal(seen.headers["x-auth-roles"], "admin,staff", name);
      const values = seen.rawHeaders.filter((_, i) => i % 2 === 1);
      assert.ok(!values.some((v) => v.includes(value)), `${name}: the spoofed value is gone`);
    }
  });

  test("duplicate, folded, space-padded and CR/LF-split header lines sent raw carry only our identity", async () => {
    const cookie = `Cookie: ${jar.header()}`;
    const cases = {
      "duplicate lines in three spellings": ["X-Auth-User: mallory", "x-auth-user: root", "X_AUTH_USER: mallory"],
      "obs-fold continuation of our header": ["X-Auth-User: mallory", "\troot"],
      "obs-fold hiding a header in another's value": ["X-Custom: a", " X-Auth-User: mallory"],
      "trailing space in the name": ["X-Auth-User : mallory"],
      "tab before the colon": ["X-Auth-User\t: mallory"],
      "bare LF splitting a value": ["X-Custom: a\nX-Auth-User: mallory"],
      "bare CR splitting a value": ["X-Custom: a\rX-Auth-User: mallory"],
      "non-UTF-8 value": ["X-Auth-User: \xff\xfemallory"],
      "20 KB X-Auth-User": [`X-Auth-User: ${"m".repeat(20000)}`],
      "mixed-case underscore spelling": ["x-aUtH_uSeR: mallory"],
    };
    for (const [what, lines] of Object.entries(cases)) {
      await origin.clear();
      const res = await rawRequest(edge.port, rawGet(edge.port, "/api/raw", [cookie, ...lines]));
      assert.equal(res.status, 200, what);
      const seen = await assertForwardedAs("alice", what);
      const headerNames = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      assert.ok(!headerNames.some((n) => n.trim().replace(/_/g, "-").startsWith("x-auth") && !n.startsWith("x-auth-")), what);
    }
  });

  test("malformed header lines are refused before the worker runs; nothing is forwarded", async () => {
    const cookie = `Cookie: ${jar.header()}`;
    for (const [what, lines] of Object.entries({
      "NUL in a value": ["X-Custom: a\u0000X-Auth-User: mallory"],
      "a line without a colon": ["X-Auth-User mallory"],
      "an empty header name": [": mallory"],
    })) {
      await origin.clear();
      const res = await rawRequest(edge.port, rawGet(edge.port, "/api/raw", [cookie, ...lines]));
      assert.equal(res.status, 400, what);
      await assertNothingForwarded(origin, what);
    }
  });

  test("without a session, smuggled identity headers get 401 and reach nothing", async () => {
    await origin.clear();
    const res = await edge.fetch("/api/anon", { headers: { ...API, "x-auth-user": "alice", "x-auth-session": "x", "x-auth-roles": "admin" } });
    assert.equal(res.status, 401);
    await assertNothingForwarded(origin);
    const raw = await rawRequest(edge.port, rawGet(edge.port, "/api/anon", ["Accept: application/json", "X-Auth-User: alice", "X_Auth_User: alice"]));
    assert.equal(raw.status, 401);
    await assertNothingForwarded(origin, "raw");
  });
});

describe("cookie tossing", () => {
  test("two access cookies (victim's and a planted one), in either order, authenticate nobody", async () => {
    const victim = await session(edge, "alice");
    const planted = await session(edge, "bob");
    const v = victim.cookies.get(ACCESS);
    const p = planted.cookies.get(ACCESS);
    const before = auditLines(edge.logs()).filter((l) => l.event === "cookie_tossing").length;
    for (const cookie of [`${ACCESS}=${v}; ${ACCESS}=${p}`, `${ACCESS}=${p}; ${ACCESS}=${v}`, `${ACCESS}=${v}; theme=x; ${ACCESS}=${v}`]) {
      await origin.clear();
      const api = await edge.fetch("/api/toss", { headers: { ...API, cookie } });
      assert.equal(api.status, 401, cookie.slice(0, 60));
      // A navigation with the victim's refresh cookie too must not refresh in place either.
      const nav = await edge.fetch("/toss", { headers: { ...BROWSER, cookie: `${cookie}; ${REFRESH}=${victim.cookies.get(REFRESH)}` } });
      assert.equal(nav.status, 302);
      assert.match(nav.headers.get("location"), /^\/auth\/login\?next=/);
      await assertNothingForwarded(origin, "duplicate access cookies");
    }
    const after = (await auditEvents(edge, (l) => l.event === "cookie_tossing", { count: before + 6, what: "every tossing attempt is logged" })).length;
    assert.ok(after - before >= 6, `every tossing attempt is logged (${after - before})`);
  });

  test("prefix case variants and unprefixed names of the access cookie do not authenticate", async () => {
    const token = (await session(edge, "alice")).cookies.get(ACCESS);
    for (const name of ["__host-eg_access", "__HOST-EG_ACCESS", "__Host-EG_access", "__Host-eg_Access", "eg_access", "__Secure-eg_access", "__Host-eg_access2", "__Host-eg-access", "=__Host-eg_access", "__Host-eg_access\t2"]) {
      await origin.clear();
      // (Whitespace around a name is not a variant: browsers trim it when they store the cookie.)
      const res = await edge.fetch("/api/prefix", { headers: { ...API, cookie: `${name}=${token}` } });
      assert.equal(res.status, 401, name);
      await assertNothingForwarded(origin, name);
    }
  });

  test("a refresh cookie planted twice neither refreshes nor consumes the victim's token", async () => {
    const victim = await session(edge, "alice");
    const attacker = await session(edge, "bob");
    const mine = victim.cookies.get(REFRESH);
    const theirs = attacker.cookies.get(REFRESH);
    for (const cookie of [`${REFRESH}=${mine}; ${REFRESH}=${theirs}`, `${REFRESH}=${theirs}; ${REFRESH}=${mine}`, `${REFRESH}=${mine}; ${REFRESH}=${mine}`]) {
      await origin.clear();
      const nav = await edge.fetch("/planted", { headers: { ...BROWSER, cookie } });
      assert.equal(nav.status, 302, "no refresh in place");
      assert.ok(!nav.headers.getSetCookie().some((c) => c.startsWith(`${ACCESS}=`) && !/Max-Age=0/.test(c)), "no new access cookie");
      const refresh = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie } });
      assert.equal(refresh.status, 401);
      await assertNothingForwarded(origin, "planted refresh cookies");
    }
    const legit = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: `${REFRESH}=${mine}` } });
    assert.equal(legit.status, 200, "the victim's refresh token was not consumed");
    const theirsStill = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: `${REFRESH}=${theirs}` } });
    assert.equal(theirsStill.status, 200, "nor the attacker's (nothing was rotated)");
  });
});

describe("open redirects", () => {
  const TRICKS = [
    "https://evil.example",
    "http://evil.example/login",
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    " //evil.example",
    "/%09/evil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example",
    "/%5Cevil.example",
    "/%255C%255Cevil.example",
    "%2F%2Fevil.example",
    "http:evil.example",
    "https:/evil.example",
    "https://127.0.0.1@evil.example",
    "//evil.example%2F@127.0.0.1",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/..//evil.example",
    "/./..//evil.example",
    "/x/../..//evil.example",
    "/%2e%2e//evil.example",
    "/%0d%0aLocation:%20https://evil.example",
    "/\r\nLocation: https://evil.example",
    "/\u3002evil.example",
    "/\u2215\u2215evil.example",
    "evil.example",
    "@evil.example",
    `/${"a".repeat(3000)}`,
  ];

  function assertSameOrigin(location, what) {
    assert.ok(location, `${what}: a Location`);
    assert.doesNotMatch(location, /[\r\n\t\\]/, what);
    assert.ok(location.startsWith("/") && !location.startsWith("//"), `${what}: ${location}`);
    assert.equal(new URL(location, edge.url).origin, edge.url, `${what}: ${location}`);
  }

  before(async () => {
    await addUser(edge, "redirected");
  });

  test("every open-redirect trick in next ends same-origin after a form login, and a safe next is kept", async () => {
    for (const next of [...TRICKS, "/reports/2024?q=a%20b#top"]) {
      const res = await edge.fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "192.0.2.10" },
        body: new URLSearchParams({ username: "redirected", password: PASSWORD, next }).toString(),
      });
      assert.equal(res.status, 303, JSON.stringify(next));
      assertSameOrigin(res.headers.get("location"), JSON.stringify(next));
      if (TRICKS.includes(next)) assert.equal(res.headers.get("location"), "/", JSON.stringify(next));
      else assert.equal(res.headers.get("location"), next, "a same-origin path survives");
    }
  });

  test("a failed form login carries only a safe next back to the login page", async () => {
    for (const next of TRICKS.slice(0, 4)) {
      const res = await edge.fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "192.0.2.11" },
        body: new URLSearchParams({ username: `nobody-${TRICKS.indexOf(next)}`, password: "x", next }).toString(),
      });
      assert.equal(res.status, 303);
      const location = res.headers.get("location");
      assertSameOrigin(location, next);
      assert.equal(new URL(location, edge.url).searchParams.get("next"), "/", next);
    }
  });

  test("the login redirect of an unauthenticated navigation never points elsewhere, nor does the login that follows", async () => {
    const paths = [
      "//evil.example/x",
      "/\\evil.example",
      "/%2F%2Fevil.example",
      "/%5Cevil.example",
      "/.//evil.example",
      "/x/..//evil.example",
      "/%2e%2e//evil.example",
      "//evil.example?next=//evil.example",
      "/ok?next=https://evil.example",
      "/path%0d%0aSet-Cookie:x=y",
    ];
    for (const path of paths) {
      await origin.clear();
      const res = await edge.fetch(`${edge.url}${path}`, { headers: BROWSER });
      // An ambiguous path (encoded separators, dot segments, `//`) is refused before any
      // session work: no redirect at all, and nothing forwarded.
      if (res.status === 400) {
        assert.equal((await res.json()).error, "bad_request", path);
        await assertNothingForwarded(origin, path);
        continue;
      }
      assert.equal(res.status, 302, path);
      const location = res.headers.get("location");
      assertSameOrigin(location, path);
      assert.equal(new URL(location, edge.url).pathname, "/auth/login", path);
      const next = new URL(location, edge.url).searchParams.get("next");
      assertSameOrigin(next, `${path} -> next`);
      await assertNothingForwarded(origin, path);
      const login = await edge.fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "192.0.2.12" },
        body: new URLSearchParams({ username: "redirected", password: PASSWORD, next }).toString(),
      });
      assert.equal(login.status, 303);
      assertSameOrigin(login.headers.get("location"), `${path} -> login`);
    }
  });
});

describe("cross-site requests", () => {
  const CROSS = () => [
    { "sec-fetch-site": "cross-site" },
    { "sec-fetch-site": "same-site" },
    { "sec-fetch-site": "cross-site", origin: edge.url },
    { "sec-fetch-site": "SAME-ORIGIN" },
    { origin: "https://evil.example" },
    { origin: "null" },
    { origin: `http://127.0.0.1:${edge.port + 1}` },
    { origin: `http://localhost:${edge.port}` },
    { origin: `https://127.0.0.1:${edge.port}` },
    { origin: `${edge.url}.evil.example` },
  ];

  async function sessionCount() {
    const { keys } = await (await edge.kv("SESSIONS")).list({ prefix: "session:" });
    return keys.length;
  }

  test("login CSRF: refused (403, or back to the login page for a form), no cookies and no session created, for form, text/plain and JSON bodies", async () => {
    const bodies = [
      ["application/x-www-form-urlencoded", new URLSearchParams({ username: "bob", password: PASSWORD, next: "/" }).toString()],
      ["text/plain", `username=bob&password=${PASSWORD}`],
      ["application/json", JSON.stringify({ username: "bob", password: PASSWORD })],
    ];
    const before = await sessionCount();
    for (const headers of CROSS()) {
      for (const [type, body] of bodies) {
        const res = await edge.fetch("/auth/login", { method: "POST", headers: { "content-type": type, ...headers }, body });
        const what = `${type} ${JSON.stringify(headers)}`;
        if (type === "application/x-www-form-urlencoded") {
          // A browser form post goes back to the login page with the refusal.
          assert.equal(res.status, 303, what);
          assert.equal(res.headers.get("location"), "/auth/login?error=forbidden", what);
        } else {
          assert.equal(res.status, 403, what);
          assert.equal((await res.json()).error, "cross_site", what);
        }
        assert.deepEqual(res.headers.getSetCookie(), [], what);
      }
    }
    assert.equal(await sessionCount(), before, "no session was created");
    await auditEvents(edge, (l) => l.event === "cross_site_rejected", { what: "refusals are logged" });
  });

  test("logout, refresh and session-ending CSRF: refused with 403, and the session lives on", async () => {
    const victim = await session(edge, "alice");
    const { session: mine } = await (await edge.fetch("/auth/session", { headers: { cookie: victim.header() } })).json();
    const cookie = victim.header();
    for (const headers of CROSS()) {
      for (const [method, path] of [
        ["POST", "/auth/logout"],
        ["POST", "/auth/refresh"],
        ["DELETE", "/auth/sessions"],
        ["DELETE", `/auth/sessions/${mine.id}`],
      ]) {
        const res = await edge.fetch(path, { method, headers: { cookie, accept: "application/json", ...headers } });
        assert.equal(res.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.deepEqual(res.headers.getSetCookie(), [], "no cookie is cleared or set");
        assert.equal(res.headers.get("clear-site-data"), null);
      }
    }
    const img = await edge.fetch("/auth/logout", { headers: { cookie, "sec-fetch-site": "cross-site" } });
    assert.equal(img.status, 404, "GET never logs out (image-tag CSRF)");
    await origin.clear();
    const still = await edge.fetch("/api/after-csrf", { headers: { cookie } });
    assert.equal(still.status, 200, "the victim's session survived every attempt");
    await still.body?.cancel();
    await assertForwardedAs("alice", "after CSRF");
    const rotated = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: `${REFRESH}=${victim.cookies.get(REFRESH)}` } });
    assert.equal(rotated.status, 200, "its refresh token was never consumed");
    // Control: the same logout from our own origin does end the session.
    victim.take(rotated);
    const own = await edge.fetch("/auth/logout", { method: "POST", headers: { cookie: victim.header(), origin: edge.url, "sec-fetch-site": "same-origin", accept: "application/json" } });
    assert.equal(own.status, 200);
    assert.equal((await edge.fetch("/api/after-logout", { headers: { ...API, cookie: victim.header() } })).status, 401);
  });
});

describe("credential stuffing", () => {
  test("many usernames from one address hit the per-client limit; every refusal is logged without secrets", async () => {
    const address = "198.51.100.77";
    const attempts = Array.from({ length: 25 }, (_, i) => ({
      username: `stuffing.victim.${i}@example.net`,
      password: `Spring2024!-leaked-${i}`,
    }));
    const statuses = [];
    for (const { username, password } of attempts) {
      const { res } = await login(edge, username, { password, headers: { "cf-connecting-ip": address } });
      statuses.push(res.status);
      if (res.status === 429) assert.ok(Number(res.headers.get("retry-after")) > 0, "Retry-After");
      const body = await res.json();
      assert.equal(body.error, res.status === 429 ? "rate_limited" : "invalid_credentials");
    }
    assert.deepEqual(statuses, [...Array(20).fill(401), ...Array(5).fill(429)]);
    const blocked = await login(edge, "alice", { headers: { "cf-connecting-ip": address } });
    assert.equal(blocked.res.status, 429, "even a real user's right password, from that address");
    const elsewhere = await login(edge, "alice", { headers: { "cf-connecting-ip": "198.51.100.78" } });
    assert.equal(elsewhere.res.status, 200, "other addresses are unaffected");

    const client = pseudonym(address);
    await auditEvents(edge, (e) => e.event === "rate_limited" && e.client === client, { count: 6, what: "rate_limited lines" });
    const lines = edge.logs();
    const events = auditLines(lines);
    const failed = events.filter((e) => e.event === "login_failed" && e.client === client);
    const limited = events.filter((e) => e.event === "rate_limited" && e.client === client);
    assert.equal(failed.length, 20, "one login_failed line per refused password");
    assert.equal(limited.length, 6, "one rate_limited line per throttled attempt");
    for (const e of [...failed, ...limited]) assert.match(e.user, /^[\w-]{12}$/, "the user is a pseudonym");
    assert.equal(failed[3].user, pseudonym(attempts[3].username), "pseudonyms correlate with the username");

    const secretsSeen = [
      address,
      PASSWORD,
      ...attempts.flatMap(({ username, password }) => [username, password, username.split("@")[0]]),
      ...elsewhere.jar.cookies.values(),
      elsewhere.jar.cookies.get(REFRESH).split(".")[1],
    ];
    for (const line of lines) {
      for (const secret of secretsSeen) assert.ok(!line.includes(secret), `a log line contains ${secret.slice(0, 12)}…: ${line.slice(0, 200)}`);
      assert.doesNotMatch(line, /eyJ[\w-]{10,}\.[\w-]{10,}/, "no token in the log");
      assert.doesNotMatch(line, /[\w-]{22}\.[\w-]{43}/, "no refresh token in the log");
    }
  });
});

describe("session lifecycle", () => {
  test("session fixation: a login ignores the session the browser presents and issues a fresh id", async () => {
    const planted = await session(edge, "bob");
    const plantedId = planted.cookies.get(REFRESH).split(".")[0];
    const { res, jar } = await login(edge, "alice", { headers: { cookie: planted.header() } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.user.id, "alice");
    assert.notEqual(body.session.id, plantedId);
    assert.equal(jar.cookies.get(REFRESH).split(".")[0], body.session.id, "the new cookies name the new session");
    assert.notEqual(jar.cookies.get(ACCESS), planted.cookies.get(ACCESS));
    await origin.clear();
    await (await edge.fetch("/api/fixation", { headers: { cookie: jar.header() } })).body?.cancel();
    const [seen] = await origin.requests();
    assert.equal(seen.headers["x-auth-session"], body.session.id);
  });

  test(
    "re-authentication ends the session the browser presented (ASVS 7.2.4)",
    async () => {
      await addUser(edge, "relogin");
      const first = await session(edge, "relogin");
      const { res } = await login(edge, "relogin", { headers: { cookie: first.header() } });
      assert.equal(res.status, 200);
      const old = await edge.fetch("/api/old", { headers: { ...API, cookie: first.header() } });
      assert.equal(old.status, 401, "the session presented at login has ended");
    },
  );

  test("a disabled account's sessions end at their next refresh, and their access tokens are refused from then on", async () => {
    await addUser(edge, "leaver");
    const jar = await session(edge, "leaver");
    await addUser(edge, "leaver", { disabled: true });
    await origin.clear();
    const before = await edge.fetch("/api/leaver", { headers: { cookie: jar.header() } });
    assert.equal(before.status, 200, "until its expiry (at most ACCESS_TTL + CLOCK_LEEWAY) a minted access token still works");
    await before.body?.cancel();
    const refresh = await post("/auth/refresh", `${REFRESH}=${jar.cookies.get(REFRESH)}`);
    assert.equal(refresh.status, 401);
    assert.equal((await refresh.json()).error, "session_expired");
    await origin.clear();
    const after = await edge.fetch("/api/leaver", { headers: { ...API, cookie: jar.header() } });
    assert.equal(after.status, 401);
    assert.equal((await after.json()).error, "session_ended");
    await assertNothingForwarded(origin, "disabled account");
    const again = await login(edge, "leaver");
    assert.equal(again.res.status, 401, "and it cannot log in");
  });

  test(
    "a login with a malformed username is logged as login_failed and counted against the address (ASVS 16.3.1)",
    async () => {
      const address = "198.51.100.90";
      const { res } = await login(edge, "not a valid name!", { password: "x", headers: { "cf-connecting-ip": address } });
      assert.equal(res.status, 401);
      await auditEvents(edge, (l) => l.event === "login_failed" && l.client === pseudonym(address), { what: "the malformed login's line" });
    },
  );
});

function post(path, cookie) {
  return edge.fetch(path, { method: "POST", headers: { accept: "application/json", cookie } });
}
