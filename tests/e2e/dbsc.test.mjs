// Device Bound Session Credentials (W3C DBSC) end to end: a browser session bound to a key the
// browser holds, so that copied cookies stop working within a known bound. The built worker in
// workerd, in front of a real recording origin, driven by a small client written from the draft
// (not from the edge's code): keys made with WebCrypto (ES256 and RS256, private keys not
// extractable), a cookie jar that honours Max-Age as a browser does, registration, the refresh
// round trip (403 with a challenge, then a signed retry), and requests that, like Chromium, first
// refresh the bound cookie when it is missing or expired.
//
// Checked, and why:
//   - The happy path with both algorithms: the sign-in offers registration in a well-formed
//     `Secure-Session-Registration` structured field, registration answers the session
//     instructions and sets the bound cookie for DEVICE_COOKIE_TTL, and once it expires the
//     challenge round trip renews it; the quoted and bare header forms are both accepted. A
//     registered session's refresh token renews nothing without a live bound cookie of the same
//     session (device_unbound), while its access token lives out ACCESS_TTL; unregistered sessions
//     refresh as before. The session list marks which sessions are device bound.
//   - The point of it all, a cookie thief: the complete cookie jar (access, refresh and bound
//     cookie) and the User-Agent copied to a client without the private key, at the victim's
//     location and at another one (locations.mjs). A greedy thief refreshing as often as it can
//     and a patient one; whatever they do, their last success comes no later than
//     DEVICE_COOKIE_TTL + ACCESS_TTL (+ leeway and slack) after the copy, nothing of theirs
//     reaches the origin after it, /auth/device/refresh never answers them 200, and the victim,
//     who has the key, goes on. The measured worst case is printed as
//     `bound dbsc_thief_<where> claimed=<s> measured=<s>`.
//   - Hostile registrations and refreshes, hand-made with WebCrypto, each with one defect (alg
//     none, HS256, a jwk of another type than alg, a private key in the jwk, a reused or foreign
//     or made-up challenge, another key's signature, oversized, malformed headers, after logout).
//     A positive control first shows that the same builder makes JWTs the edge accepts, so each
//     refusal is caused by its defect. Each refusal: the prescribed status, no bound cookie, and
//     an audit line `device_refused`.
//   - A refresh token presented with another session's live bound cookie ends the session
//     (device_mismatch); `Secure-Session-Skipped` is audited (device_skipped).
//   - DEVICE_BOUND_SESSIONS = require: a session not registered within DEVICE_BOUND_GRACE is
//     refused at its next refresh and ended, a registered one keeps going; off: no offer and no
//     registration.
//
// Time: ACCESS_TTL cannot go below 30 s (the worker refuses less), so the thief tests take about
// 40 s; DEVICE_COOKIE_TTL is 5 s. The `offer` configuration runs on two locations (A and B) of
// one workerd; `require` and `off` each on a single worker.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startOrigin } from "./harness.mjs";
import { startLocations } from "./locations.mjs";
import {
  ACCESS,
  PASSWORD,
  REFRESH,
  addUser,
  auditLines,
  b64url,
  nowSecs,
  pseudonym,
  secureWorker,
  setCookies,
} from "./support.mjs";

const { subtle } = globalThis.crypto;
const te = new TextEncoder();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The bound cookie's name with COOKIE_SECURE = true (the registration answer names it too). */
const DEVICE = "__Host-eg_device";
const REGISTER_PATH = "/auth/device/register";
const REFRESH_PATH = "/auth/device/refresh";
const CHROME =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAME_ORIGIN = { "sec-fetch-site": "same-origin", accept: "application/json" };

const DEVICE_COOKIE_TTL = 5;
const ACCESS_TTL = 30; // the least the worker accepts
const CLOCK_LEEWAY = 1;
const DEVICE_BOUND_GRACE = 3;
// Polling interval, request time and whole-second clocks: what a measured delay may exceed its
// bound by without the claim being broken.
const SLACK_MS = 1500;
/** How long before its Max-Age runs out the client renews the bound cookie. */
const RENEW_AHEAD_MS = 1500;
const POLL_MS = 200;

// --- structured fields (RFC 8941), as much as DBSC's headers use -------------------------------

/**
 * Parses an RFC 8941 list (an item is a one-member list). Members are { value, params }; a value
 * is a string, a number, a boolean, { token } or, for an inner list, an array of members. Throws
 * on anything malformed, so a test fails on a header a browser would not accept.
 */
export function parseSfList(text) {
  const s = String(text);
  let i = 0;
  const fail = (why) => {
    throw new Error(`not a structured field (${why} at ${i}): ${s}`);
  };
  const sp = () => {
    while (s[i] === " ") i++;
  };
  const ows = () => {
    while (s[i] === " " || s[i] === "\t") i++;
  };
  const bare = () => {
    if (s[i] === '"') {
      i++;
      let out = "";
      for (;;) {
        if (i >= s.length) fail("unterminated string");
        const c = s[i++];
        if (c === "\\") {
          if (s[i] !== '"' && s[i] !== "\\") fail("bad escape");
          out += s[i++];
        } else if (c === '"') return out;
        else if (c < " " || c > "~") fail("non-printable in string");
        else out += c;
      }
    }
    const rest = s.slice(i);
    let m = /^\?[01]/.exec(rest);
    if (m) {
      i += 2;
      return m[0] === "?1";
    }
    m = /^-?\d{1,15}(\.\d{1,3})?/.exec(rest);
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    m = /^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*/.exec(rest);
    if (!m) fail("no item");
    i += m[0].length;
    return { token: m[0] };
  };
  const params = () => {
    const out = {};
    while (s[i] === ";") {
      i++;
      sp();
      const m = /^[a-z*][a-z0-9_\-.*]*/.exec(s.slice(i));
      if (!m) fail("bad parameter key");
      i += m[0].length;
      if (s[i] === "=") {
        i++;
        out[m[0]] = bare();
      } else out[m[0]] = true;
    }
    return out;
  };
  const members = [];
  sp();
  while (i < s.length) {
    let value;
    if (s[i] === "(") {
      i++;
      value = [];
      for (;;) {
        sp();
        if (s[i] === ")") {
          i++;
          break;
        }
        if (i >= s.length) fail("unterminated inner list");
        value.push({ value: bare(), params: params() });
        if (s[i] !== " " && s[i] !== ")") fail("bad inner list");
      }
    } else value = bare();
    members.push({ value, params: params() });
    ows();
    if (i >= s.length) break;
    if (s[i] !== ",") fail("expected a comma");
    i++;
    ows();
    if (i >= s.length) fail("trailing comma");
  }
  return members;
}

/** The `Secure-Session-Registration` offer of a response: { algs, path, challenge }, or null. */
function registrationOffer(res) {
  const header = res.headers.get("secure-session-registration");
  if (header === null) return null;
  const [first] = parseSfList(header);
  assert.ok(Array.isArray(first.value), `an inner list of algorithms: ${header}`);
  const algs = first.value.map((m) => {
    assert.ok(m.value && typeof m.value.token === "string", `algorithms are tokens: ${header}`);
    return m.value.token;
  });
  assert.equal(typeof first.params.path, "string", `path is a string: ${header}`);
  assert.equal(typeof first.params.challenge, "string", `challenge is a string: ${header}`);
  return { algs, path: first.params.path, challenge: first.params.challenge, header };
}

/** The `Secure-Session-Challenge` of a response: { challenge, id }, or null. */
function sessionChallenge(res) {
  const header = res.headers.get("secure-session-challenge");
  if (header === null) return null;
  const [first] = parseSfList(header);
  assert.equal(typeof first.value, "string", `the challenge is a string: ${header}`);
  return { challenge: first.value, id: first.params.id, header };
}

// --- keys and JWTs -------------------------------------------------------------------------------

const ALGS = {
  ES256: { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  RS256: {
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
};
const PUBLIC_MEMBERS = { EC: ["kty", "crv", "x", "y"], RSA: ["kty", "n", "e"] };

/**
 * A fresh key: { alg, privateKey, jwk (public) }. The private key is not extractable (as in a
 * browser's key store) unless `extractable`, when `privateJwk` holds it too.
 */
async function newKey(alg = "ES256", { extractable = false } = {}) {
  const pair = await subtle.generateKey(ALGS[alg].generate, extractable, ["sign", "verify"]);
  const full = await subtle.exportKey("jwk", pair.publicKey);
  const jwk = Object.fromEntries(PUBLIC_MEMBERS[full.kty].map((name) => [name, full[name]]));
  const key = { alg, privateKey: pair.privateKey, jwk };
  if (extractable) key.privateJwk = await subtle.exportKey("jwk", pair.privateKey);
  return key;
}

/** `base` with `over` laid on it; a member set to `undefined` in `over` is removed. */
function overlay(base, over = {}) {
  const out = { ...base, ...over };
  for (const [name, value] of Object.entries(out)) if (value === undefined) delete out[name];
  return out;
}

const encodePart = (part) => b64url(typeof part === "string" ? part : JSON.stringify(part));

/**
 * A DBSC JWT by `key` with `jti` (a challenge): header { typ: "dbsc+jwt", alg, jwk } (jwk left
 * out with `jwk: false`, as on refresh), payload { jti, iat }. `header` and `claims` override (or,
 * with `undefined`, remove) members; `signer` is another key to sign with, or a function
 * returning the signature bytes for the signing input.
 */
async function dbscJwt(key, jti, { jwk = true, header = {}, claims = {}, signer = key } = {}) {
  const protectedHeader = overlay({ typ: "dbsc+jwt", alg: key.alg, ...(jwk && { jwk: key.jwk }) }, header);
  const payload = overlay({ jti, iat: nowSecs() }, claims);
  const input = `${encodePart(protectedHeader)}.${encodePart(payload)}`;
  const signature =
    typeof signer === "function"
      ? await signer(input)
      : await subtle.sign(ALGS[signer.alg].sign, signer.privateKey, te.encode(input));
  return `${input}.${b64url(signature)}`;
}

/** A header value in the draft's form (an sf-string) or in Chromium's (bare). */
const headerValue = (value, quoted) => (quoted ? `"${value}"` : value);

// --- a DBSC browser ------------------------------------------------------------------------------

/**
 * A browser at one place (a location, or a single worker): its cookies, honouring Max-Age unless
 * it is a thief's copy (a thief sends whatever it holds), its User-Agent, and its DBSC key and
 * session once registered.
 */
class Browser {
  constructor(at, { alg = "ES256", agent = CHROME, quoted = true } = {}) {
    this.at = at;
    this.alg = alg;
    this.agent = agent;
    this.quoted = quoted;
    this.cookies = new Map(); // name -> { value, expiresAt (ms) }
    this.honourExpiry = true;
    this.registered = false;
  }

  /** A thief's copy of everything a browser sends (cookies, User-Agent), without its key. */
  copyTo(at) {
    const thief = new Browser(at, { alg: this.alg, agent: this.agent, quoted: this.quoted });
    thief.cookies = new Map([...this.cookies].map(([name, c]) => [name, { ...c }]));
    thief.honourExpiry = false;
    thief.sid = this.sid;
    return thief;
  }

  async ownKey() {
    this.key ??= await newKey(this.alg);
    return this.key;
  }

  take(res) {
    for (const { name, value, maxAge } of setCookies(res)) {
      if (maxAge <= 0) this.cookies.delete(name);
      else this.cookies.set(name, { value, expiresAt: Date.now() + maxAge * 1000 });
    }
    return res;
  }

  /** The value of cookie `name` as this browser would send it now (undefined if gone). */
  cookie(name) {
    const c = this.cookies.get(name);
    if (!c || (this.honourExpiry && c.expiresAt <= Date.now())) return undefined;
    return c.value;
  }

  /** Drops cookie `name`, as a browser does once its Max-Age has passed. */
  expire(name) {
    this.cookies.delete(name);
  }

  header(names = [...this.cookies.keys()]) {
    return names
      .filter((name) => this.cookie(name) !== undefined)
      .map((name) => `${name}=${this.cookie(name)}`)
      .join("; ");
  }

  send(target, { method = "GET", headers = {}, cookies, ...init } = {}) {
    const cookie = this.header(cookies);
    return this.at.fetch(target, {
      method,
      ...init,
      headers: { "user-agent": this.agent, ...(cookie && { cookie }), ...headers },
    });
  }

  /** Signs in; keeps the session id and the registration offer (or null). */
  async signIn(user) {
    const res = this.take(
      await this.send("/auth/login", {
        method: "POST",
        headers: { ...SAME_ORIGIN, "content-type": "application/json" },
        body: JSON.stringify({ username: user, password: PASSWORD }),
      }),
    );
    const body = await res.json().catch(() => null);
    assert.equal(res.status, 200, `login of ${user}: ${JSON.stringify(body)}`);
    this.user = user;
    this.sid = body.session.id;
    this.offer = registrationOffer(res);
    this.loginRes = res;
    return res;
  }

  /** POST to the registration path with `response` (a JWT, or any raw header value) as is. */
  async registerRaw(value, { path = this.offer?.path ?? REGISTER_PATH, cookies } = {}) {
    const headers = { ...SAME_ORIGIN };
    if (value !== undefined) headers["secure-session-response"] = value;
    const res = this.take(await this.send(path, { method: "POST", headers, cookies }));
    res.json = await res.json().catch(() => null);
    return res;
  }

  /** Registers a new key for the offered challenge (or `jti`); `res.json` holds the answer. */
  async register({ quoted = this.quoted, jti = this.offer?.challenge, key } = {}) {
    assert.ok(this.offer, "the sign-in offered registration (Secure-Session-Registration)");
    this.key = key ?? (await this.ownKey());
    const res = await this.registerRaw(headerValue(await dbscJwt(this.key, jti), quoted));
    if (res.status === 200) {
      this.registered = true;
      this.instructions = res.json;
    }
    return res;
  }

  /** One POST to the refresh path, with `response` (a header value) when given. */
  async refreshRaw({ response, id = this.sid, quoted = this.quoted, path = REFRESH_PATH } = {}) {
    const headers = { ...SAME_ORIGIN };
    if (id !== undefined) headers["sec-secure-session-id"] = headerValue(id, quoted);
    if (response !== undefined) headers["secure-session-response"] = response;
    const res = this.take(await this.send(this.instructions?.refresh_url ?? path, { method: "POST", headers }));
    res.json = await res.json().catch(() => null);
    res.challenge = sessionChallenge(res);
    return res;
  }

  /**
   * The browser's refresh: a POST without a response, which must answer 403 with a challenge,
   * then the retry signed by this browser's key (`key` to sign with another). Returns
   * { first, res } (res: the retry's answer).
   */
  async refreshBound({ quoted = this.quoted, key } = {}) {
    const first = await this.refreshRaw({ quoted });
    if (first.status !== 403 || !first.challenge) return { first, res: first };
    const signer = key ?? (await this.ownKey());
    let res = first;
    // A browser retries with a fresh challenge when the one it signed is no longer current
    // (403 with a new challenge), a few times.
    for (let attempt = 0; attempt < 3 && res.status === 403 && res.challenge; attempt++) {
      const jwt = await dbscJwt(signer, res.challenge.challenge, { jwk: false });
      res = await this.refreshRaw({ response: headerValue(jwt, quoted), quoted });
    }
    return { first, res };
  }

  /**
   * A request as Chromium makes it for a registered session: the bound cookie refreshed first
   * when missing or expired, then the request with every cookie.
   */
  async request(target = "/app/page", { headers = {} } = {}) {
    // Chromium renews ahead of the expiry (about two minutes ahead); here a second and a half,
    // as the edge's clock is whole seconds.
    const bound = this.cookies.get(DEVICE);
    const renewing = !bound || bound.expiresAt - RENEW_AHEAD_MS <= Date.now();
    if (this.registered && renewing) {
      const { res } = await this.refreshBound();
      assert.equal(res.status, 200, `the browser's refresh of its bound cookie: ${res.status} ${JSON.stringify(res.json)}`);
    }
    const res = this.take(await this.send(target, { headers: { accept: "application/json", ...headers } }));
    res.json = await res.json().catch(() => null);
    return res;
  }

  /** POST /auth/refresh with every cookie. */
  async refreshTokens() {
    const res = this.take(await this.send("/auth/refresh", { method: "POST", headers: SAME_ORIGIN }));
    res.json = await res.json().catch(() => null);
    return res;
  }

  async logout() {
    const res = this.take(await this.send("/auth/logout", { method: "POST", headers: SAME_ORIGIN }));
    await res.body?.cancel();
    return res;
  }

  async sessions() {
    const res = await this.send("/auth/sessions", { headers: SAME_ORIGIN });
    assert.equal(res.status, 200, "GET /auth/sessions");
    return (await res.json()).sessions;
  }
}

/** The Set-Cookie lines of `res` for cookie `name` (cleared ones included). */
const setCookie = (res, name) => res.headers.getSetCookie().filter((line) => line.startsWith(`${name}=`));
/** Whether `res` sets a live bound cookie. */
const setsBoundCookie = (res) => setCookie(res, DEVICE).some((line) => !/Max-Age=0\b/i.test(line));

// --- audit ---------------------------------------------------------------------------------------

/** Where audit lines come from: { logs() } (a worker, or the locations' workerd). */
let auditSource;
const mark = () => auditSource.logs().length;

/** The audit events `predicate` accepts among the lines written since `since`, once `count` have come. */
async function eventsSince(since, predicate, { count = 1, ms = 3000, what = "audit lines", source = auditSource } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const events = auditLines(source.logs().slice(since)).filter(predicate);
    if (events.length >= count) return events;
    assert.ok(Date.now() < deadline, `${what}: ${events.length} of ${count} arrived within ${ms} ms`);
    await sleep(20);
  }
}

const refusedSince = (since, what, options) =>
  eventsSince(since, (e) => e.event === "device_refused", { what: `device_refused (${what})`, ...options });

// --- the offer configuration, on two locations -------------------------------------------------

let origin;
let userCount = 0;
const worst = new Map(); // bound name -> { claimed, measured } in seconds

before(async () => {
  origin = await startOrigin();
});
after(async () => {
  for (const [name, { claimed, measured }] of worst) {
    console.log(`bound ${name} claimed=${claimed.toFixed(3)} measured=${measured.toFixed(3)}`);
  }
  await origin?.close();
});

describe("DEVICE_BOUND_SESSIONS unset (offer), at locations A and B", () => {
  let net;
  let A;
  let B;
  const newUser = () => {
    const name = `dbsc-${++userCount}`;
    net.addUser(name, PASSWORD);
    return name;
  };
  /** A browser signed in at `at` (default A) as a fresh user, not registered. */
  const signedIn = async (at = A, options = {}) => {
    const browser = new Browser(at, options);
    await browser.signIn(options.user ?? newUser());
    assert.ok(browser.offer, "the sign-in offers registration (Secure-Session-Registration)");
    return browser;
  };
  /** A browser signed in and registered, with the registration's answer checked. */
  const registered = async (at = A, options = {}) => {
    const browser = await signedIn(at, options);
    const res = await browser.register();
    assert.equal(res.status, 200, `registration: ${JSON.stringify(res.json)}`);
    return browser;
  };

  before(async () => {
    net = await startLocations({
      originUrl: origin.url,
      locations: ["A", "B"],
      vars: {
        DEVICE_COOKIE_TTL: String(DEVICE_COOKIE_TTL),
        ACCESS_TTL: String(ACCESS_TTL),
        CLOCK_LEEWAY: String(CLOCK_LEEWAY),
      },
    });
    [A, B] = net.locations;
    auditSource = { logs: () => net.logs() };
  });
  after(async () => {
    await net?.stop();
  });

  describe("the happy path", () => {
    for (const [alg, quoted] of [
      ["ES256", true],
      ["RS256", false],
    ]) {
      test(`${alg} (${quoted ? "quoted" : "bare"} headers): offer, registration, requests, the bound cookie renewed by the challenge round trip`, async () => {
        const browser = await signedIn(A, { alg, quoted });
        const { offer } = browser;
        assert.ok(offer, "the sign-in answer offers registration");
        assert.deepEqual(offer.algs, ["ES256", "RS256"], offer.header);
        assert.equal(offer.path, REGISTER_PATH);
        assert.ok(offer.challenge.length >= 16, `a challenge worth the name: ${offer.challenge}`);
        assert.ok(browser.cookie(ACCESS) && browser.cookie(REFRESH), "the session cookies are set as ever");
        const before = await browser.sessions();
        assert.equal(before.find((s) => s.id === browser.sid)?.device_bound, false, "not bound before registering");

        const since = mark();
        const res = await browser.register();
        assert.equal(res.status, 200, `registration: ${JSON.stringify(res.json)}`);
        assert.deepEqual(res.json, {
          session_identifier: browser.sid,
          refresh_url: REFRESH_PATH,
          scope: { origin: res.json?.scope?.origin, include_site: false, scope_specification: [] },
          credentials: [{ type: "cookie", name: DEVICE, attributes: "Path=/; Secure; HttpOnly; SameSite=Lax" }],
          allowed_refresh_initiators: [],
        });
        assert.ok([net.vars.ISSUER, A.url].includes(res.json.scope.origin), `scope.origin is the edge's: ${res.json.scope.origin}`);
        const [line] = setCookie(res, DEVICE);
        assert.ok(line, "the bound cookie is set");
        for (const attr of [`Max-Age=${DEVICE_COOKIE_TTL}`, "Path=/", "Secure", "HttpOnly", "SameSite=Lax"]) {
          assert.ok(line.split(";").map((a) => a.trim()).includes(attr), `${attr} in ${line}`);
        }
        const [registeredLine] = await eventsSince(since, (e) => e.event === "device_registered", { what: "device_registered" });
        assert.equal(registeredLine.session, pseudonym(browser.sid));
        const listed = await browser.sessions();
        assert.equal(listed.find((s) => s.id === browser.sid)?.device_bound, true, "marked device bound");

        await origin.clear();
        const page = await browser.request("/app/dbsc-happy");
        assert.equal(page.status, 200);
        const [seen] = await origin.requests();
        assert.equal(seen.headers["x-auth-user"], browser.user, "the origin is reached with the identity");

        // The bound cookie expires; the browser renews it with the challenge round trip.
        const firstCookie = browser.cookie(DEVICE);
        await sleep(DEVICE_COOKIE_TTL * 1000 + 300);
        assert.equal(browser.cookie(DEVICE), undefined, "the browser dropped the expired bound cookie");
        const refreshSince = mark();
        const { first, res: renewed } = await browser.refreshBound();
        assert.equal(first.status, 403, "a refresh without a response is answered with a challenge");
        assert.ok(first.challenge, "Secure-Session-Challenge");
        assert.equal(first.challenge.id, browser.sid, "the challenge names the session");
        assert.ok(!setsBoundCookie(first), "no bound cookie before the proof");
        assert.equal(renewed.status, 200, `the signed retry: ${JSON.stringify(renewed.json)}`);
        assert.ok(browser.cookie(DEVICE) && browser.cookie(DEVICE) !== firstCookie, "a new bound cookie");
        assert.equal(renewed.json?.session_identifier, browser.sid, "the same instructions");
        assert.equal(renewed.json?.refresh_url, REFRESH_PATH);
        await eventsSince(refreshSince, (e) => e.event === "device_refreshed" && e.session === pseudonym(browser.sid), {
          what: "device_refreshed",
        });

        // The browser drops the access cookie too: a refresh in place with the live bound cookie.
        browser.expire(ACCESS);
        const inPlace = await browser.request("/app/dbsc-happy");
        assert.equal(inPlace.status, 200, `refresh in place with a live bound cookie: ${JSON.stringify(inPlace.json)}`);
        assert.ok(browser.cookie(ACCESS), "a new access cookie");
        // /auth/refresh with the live bound cookie works; and again after the next expiry,
        // through Browser.request's renewal.
        const spent = browser.cookie(REFRESH);
        const refreshed = await browser.refreshTokens();
        assert.equal(refreshed.status, 200, `/auth/refresh with a live bound cookie: ${JSON.stringify(refreshed.json)}`);
        assert.notEqual(browser.cookie(REFRESH), spent, "rotated");
        await sleep(DEVICE_COOKIE_TTL * 1000 + 300);
        browser.expire(ACCESS);
        assert.equal((await browser.request("/app/dbsc-happy")).status, 200, "renewed and refreshed again");
      });
    }

    test("the quoted and the bare form of every header are accepted, in any mix", async () => {
      for (const [registerQuoted, idQuoted, responseQuoted] of [
        [true, false, true],
        [false, true, false],
      ]) {
        const browser = await registered(A, { quoted: registerQuoted });
        browser.expire(DEVICE);
        const first = await browser.refreshRaw({ quoted: idQuoted });
        assert.equal(first.status, 403, `challenge with ${idQuoted ? "a quoted" : "a bare"} session id`);
        const jwt = await dbscJwt(browser.key, first.challenge.challenge, { jwk: false });
        const res = await browser.refreshRaw({ quoted: idQuoted, response: headerValue(jwt, responseQuoted) });
        assert.equal(res.status, 200, `refresh with ${responseQuoted ? "a quoted" : "a bare"} response: ${JSON.stringify(res.json)}`);
        assert.ok(setsBoundCookie(res));
      }
    });

    test("a device-bound session's refresh token renews nothing without a live bound cookie; its access token lives on", async () => {
      const browser = await registered();
      const access = browser.cookie(ACCESS);
      browser.expire(DEVICE);
      const since = mark();
      const res = await browser.refreshTokens();
      assert.equal(res.status, 401);
      assert.equal(res.json?.error, "device_unbound");
      assert.ok(!setCookie(res, ACCESS).some((l) => !/Max-Age=0/i.test(l)), "no access token leaves the edge");
      // Refresh in place: an expired (here garbage) access cookie with the refresh cookie.
      browser.cookies.set(ACCESS, { value: "expired.or.garbage", expiresAt: Infinity });
      await origin.clear();
      const inPlace = await browser.send("/app/dbsc-unbound", { headers: { accept: "application/json" } });
      assert.equal(inPlace.status, 401, "no refresh in place");
      assert.equal((await inPlace.json()).error, "device_unbound");
      await assertNothingForwardedHere("refresh in place without a bound cookie");
      await refusedSince(since, "refresh without a bound cookie");
      browser.cookies.set(ACCESS, { value: access, expiresAt: Infinity });
      const page = await browser.send("/app/dbsc-unbound", { headers: { accept: "application/json" } });
      assert.equal(page.status, 200, "the access token keeps working");
      await page.body?.cancel();
      // The browser, with its key, renews the bound cookie and refreshes again.
      const { res: renewed } = await browser.refreshBound();
      assert.equal(renewed.status, 200);
      assert.equal((await browser.refreshTokens()).status, 200, "refreshes again once bound");
    });

    test("a session that never registered refreshes as before", async () => {
      const browser = await signedIn();
      assert.equal((await browser.refreshTokens()).status, 200, "/auth/refresh");
      browser.expire(ACCESS);
      const res = await browser.request("/app/unregistered");
      assert.equal(res.status, 200, "refresh in place");
      assert.ok(browser.cookie(ACCESS));
    });

    test("logout clears everything; the session can then neither register nor refresh", async () => {
      const browser = await registered();
      const copy = browser.copyTo(A);
      const fresh = await signedIn();
      const freshCopy = fresh.copyTo(A);
      freshCopy.offer = fresh.offer;
      const pending = await dbscJwt(await fresh.ownKey(), fresh.offer.challenge);
      for (const b of [browser, fresh]) {
        const hadBound = b.cookie(DEVICE) !== undefined;
        const res = await b.logout();
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("clear-site-data"), '"cookies"');
        // A registered browser's bound cookie is cleared with the session's.
        const cleared = setCookies(res).some((c) => c.name === DEVICE && c.maxAge <= 0);
        assert.equal(cleared, hadBound, "the bound cookie is cleared when there was one");
      }
      const since = mark();
      const reg = await freshCopy.registerRaw(headerValue(pending, true));
      assert.equal(reg.status, 401, `registration after logout: ${JSON.stringify(reg.json)}`);
      assert.ok(!setsBoundCookie(reg));
      copy.expire(DEVICE);
      const first = await copy.refreshRaw();
      assert.notEqual(first.status, 200);
      if (first.challenge) {
        const res = await copy.refreshRaw({ response: headerValue(await dbscJwt(browser.key, first.challenge.challenge, { jwk: false }), true) });
        assert.equal(res.status, 401, "a refresh of a logged-out session, even with its key");
        assert.ok(["session_ended", "device_refused"].includes(res.json?.error), JSON.stringify(res.json));
        assert.ok(!setsBoundCookie(res));
      } else {
        assert.equal(first.status, 401);
      }
      await refusedSince(since, "after logout");
    });

    test("Secure-Session-Skipped is audited with its reason", async () => {
      const browser = await signedIn();
      const since = mark();
      const res = await browser.send("/app/skipped", {
        headers: { accept: "application/json", "secure-session-skipped": `unreachable;session_identifier="${browser.sid}"` },
      });
      await res.body?.cancel();
      const [line] = await eventsSince(since, (e) => e.event === "device_skipped", { what: "device_skipped" });
      assert.match(String(line.detail), /unreachable/);
    });
  });

  describe("a thief with the whole cookie jar but not the key", () => {
    /**
     * Runs one thief against a fresh victim signed in and registered at A: `greedy` refreshes as
     * often as it can from the copy on; otherwise the thief waits for the bound cookie to expire
     * and then tries every way to renew. Returns once the thief has been refused past the bound.
     */
    async function theft(where, greedy) {
      const victim = await registered(A);
      const tag = `${greedy ? "greedy" : "patient"}-${where.name}-${victim.sid.slice(0, 8)}`;
      const thief = victim.copyTo(where);
      const copied = Date.now();
      const boundMs = (DEVICE_COOKIE_TTL + ACCESS_TTL + 2 * CLOCK_LEEWAY) * 1000;
      const since = mark();
      let lastSuccess = null;
      let successes = 0;
      const thiefKey = await newKey(victim.alg);
      const thiefPath = `/app/thief-${tag}`;

      /** The thief tries /auth/device/refresh, without a response and then with its own key: never 200. */
      const deviceRefresh = async () => {
        const first = await thief.refreshRaw();
        assert.notEqual(first.status, 200, "/auth/device/refresh without a response");
        assert.ok(!setsBoundCookie(first));
        if (first.challenge) {
          const jwt = await dbscJwt(thiefKey, first.challenge.challenge, { jwk: false });
          const res = await thief.refreshRaw({ response: headerValue(jwt, true) });
          assert.notEqual(res.status, 200, "/auth/device/refresh signed by the thief's key");
          assert.ok(!setsBoundCookie(res), "no bound cookie for the thief");
          // Nor may the thief register its own key for the stolen session.
          const reg = await thief.registerRaw(headerValue(await dbscJwt(thiefKey, first.challenge.challenge), true), { path: REGISTER_PATH });
          assert.notEqual(reg.status, 200, "the thief registering its own key");
          assert.ok(!setsBoundCookie(reg));
        }
      };
      const note = (res, what) => {
        if (res.status === 200) {
          lastSuccess = Date.now();
          assert.ok(lastSuccess - copied <= boundMs + SLACK_MS, `${tag}: ${what} succeeded ${lastSuccess - copied} ms after the copy (bound ${boundMs} ms)`);
        }
      };
      const request = async () => {
        const res = thief.take(await thief.send(`${thiefPath}?t=${Date.now() - copied}`, { headers: { accept: "application/json" } }));
        await res.body?.cancel();
        if (res.status === 200) successes += 1;
        else assert.ok([401, 403, 302].includes(res.status), `${tag}: request answered ${res.status}`);
        note(res, "a request");
        return res.status;
      };

      if (greedy) {
        // From the copy on: refresh, renew and request as often as possible, keeping whatever
        // the edge hands out, until everything has been refused past the bound.
        for (;;) {
          const res = await thief.refreshTokens();
          note(res, "/auth/refresh");
          const reg = registrationOffer(res);
          if (reg) {
            const offered = await thief.registerRaw(headerValue(await dbscJwt(thiefKey, reg.challenge), true), { path: reg.path });
            assert.notEqual(offered.status, 200, "the thief registering on an offer");
          }
          await deviceRefresh();
          const status = await request();
          if (status !== 200 && res.status !== 200 && Date.now() - copied > boundMs + SLACK_MS) break;
          assert.ok(Date.now() - copied < boundMs + 20_000, `${tag}: still not refused long past the bound`);
          await sleep(POLL_MS);
        }
      } else {
        // The victim goes on at A meanwhile, renewing its bound cookie with its key.
        const victimLoop = (async () => {
          while (Date.now() - copied < (DEVICE_COOKIE_TTL + 3) * 1000) {
            const res = await victim.request("/app/victim");
            assert.equal(res.status, 200, `the victim's request: ${JSON.stringify(res.json)}`);
            await sleep(500);
          }
        })();
        // Within the bound cookie's life the thief's requests may pass (the access token is valid).
        await request();
        await sleep(Math.max(0, copied + DEVICE_COOKIE_TTL * 1000 + CLOCK_LEEWAY * 1000 + 500 - Date.now()));
        // The bound cookie has expired (the thief still sends it): no renewal of any kind.
        const refreshed = await thief.refreshTokens();
        assert.equal(refreshed.status, 401, `${tag}: /auth/refresh with an expired bound cookie`);
        assert.equal(refreshed.json?.error, "device_unbound");
        const access = thief.cookies.get(ACCESS);
        thief.cookies.set(ACCESS, { value: "expired.or.garbage", expiresAt: Infinity });
        const inPlace = await thief.send(`${thiefPath}?in-place`, { headers: { accept: "application/json" } });
        assert.equal(inPlace.status, 401, `${tag}: refresh in place`);
        await inPlace.body?.cancel();
        thief.cookies.set(ACCESS, access);
        await deviceRefresh();
        await victimLoop;
        // The victim, with its key, goes on: renewing, refreshing, requesting.
        victim.expire(DEVICE);
        victim.expire(ACCESS);
        const res = await victim.request("/app/victim");
        assert.equal(res.status, 200, `the victim after the thief's attempts: ${JSON.stringify(res.json)}`);
        assert.equal((await victim.refreshTokens()).status, 200, "the victim's /auth/refresh");
        assert.equal((await victim.sessions()).find((s) => s.id === victim.sid)?.device_bound, true);
        // The thief's copied access token lives out its own life, no longer; then the thief tries
        // everything once more, the (now retired) refresh token included.
        for (;;) {
          const status = await request();
          if (status !== 200) break;
          await sleep(POLL_MS);
        }
        for (let i = 0; i < 3; i++) {
          assert.notEqual(await request(), 200);
          const again = await thief.refreshTokens();
          assert.notEqual(again.status, 200, "/auth/refresh at the end");
          await deviceRefresh();
        }
      }

      // Nothing of the thief's reached the origin after the bound: every forwarded request was
      // one answered 200, and those all came within it.
      const forwarded = (await origin.requests()).filter((r) => r.url.startsWith(thiefPath));
      assert.equal(forwarded.length, successes, `${tag}: forwarded thief requests`);
      const measured = lastSuccess === null ? 0 : lastSuccess - copied;
      const name = `dbsc_thief_${greedy ? "greedy" : "patient"}_at_${where.name}`;
      const entry = worst.get(name) ?? { claimed: boundMs / 1000, measured: 0 };
      entry.measured = Math.max(entry.measured, measured / 1000);
      worst.set(name, entry);
      assert.ok(measured <= boundMs + SLACK_MS, `${tag}: last success ${measured} ms after the copy`);
      await refusedSince(since, tag, { source: auditSource, count: 1 }).then((events) =>
        assert.ok(events.some((e) => e.session === pseudonym(victim.sid)), `${tag}: a device_refused line for the session`),
      );
    }

    test("greedy and patient thieves at the victim's location (A) and at another (B): refused past DEVICE_COOKIE_TTL + ACCESS_TTL; the victim goes on", async () => {
      const results = await Promise.allSettled([theft(A, true), theft(B, true), theft(A, false), theft(B, false)]);
      const failures = results.filter((r) => r.status === "rejected").map((r) => r.reason);
      if (failures.length) throw failures.length === 1 ? failures[0] : new AggregateError(failures, failures.map((f) => f.message).join("\n"));
    });
  });

  describe("hostile registrations", () => {
    /** Registers with `value` (a raw header value) for a fresh session: the refusal, its audit, no cookie. */
    async function refusedRegistration(what, build, { status = 400, error = "invalid_registration" } = {}) {
      const browser = await signedIn();
      assert.ok(browser.offer, "the sign-in offered registration");
      const since = mark();
      const value = await build(browser);
      const res = await browser.registerRaw(value);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.json)}`);
      if (error) assert.equal(res.json?.error, error, what);
      assert.ok(!setsBoundCookie(res), `${what}: no bound cookie`);
      assert.ok(browser.cookie(DEVICE) === undefined, `${what}: no bound cookie in the jar`);
      await refusedSince(since, what);
      const listed = await browser.sessions();
      assert.equal(listed.find((s) => s.id === browser.sid)?.device_bound, false, `${what}: not bound`);
      return browser;
    }
    const quotedJwt = async (key, jti, options) => headerValue(await dbscJwt(key, jti, options), true);

    test("positive control: the builder's JWT, with the offered challenge, registers (quoted and bare)", async () => {
      for (const quoted of [true, false]) {
        const browser = await signedIn();
        const key = await newKey("ES256");
        const res = await browser.registerRaw(headerValue(await dbscJwt(key, browser.offer.challenge), quoted));
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.ok(setsBoundCookie(res));
      }
    });

    const cases = {
      "alg none": async (b) => {
        const key = await newKey("ES256");
        const jwt = await dbscJwt(key, b.offer.challenge, { header: { alg: "none" }, signer: async () => new Uint8Array() });
        return headerValue(jwt, true);
      },
      "alg HS256 keyed with the jwk's bytes": async (b) => {
        const key = await newKey("ES256");
        const hmacKey = Buffer.from(JSON.stringify(key.jwk));
        return quotedJwt(key, b.offer.challenge, {
          header: { alg: "HS256" },
          signer: async (input) => createHmac("sha256", hmacKey).update(input).digest(),
        });
      },
      "alg RS256 with an EC jwk": async (b) => {
        const ec = await newKey("ES256");
        const rsa = await newKey("RS256");
        return quotedJwt(rsa, b.offer.challenge, { header: { jwk: ec.jwk } });
      },
      "alg ES256 with an RSA jwk": async (b) => {
        const ec = await newKey("ES256");
        const rsa = await newKey("RS256");
        return quotedJwt(ec, b.offer.challenge, { header: { jwk: rsa.jwk } });
      },
      "a private key (d) in the jwk": async (b) => {
        const key = await newKey("ES256", { extractable: true });
        return quotedJwt(key, b.offer.challenge, { header: { jwk: { ...key.jwk, d: key.privateJwk.d } } });
      },
      "typ other than dbsc+jwt": async (b) => quotedJwt(await newKey("ES256"), b.offer.challenge, { header: { typ: "JWT" } }),
      "signed by another key than its jwk": async (b) => quotedJwt(await newKey("ES256"), b.offer.challenge, { signer: await newKey("ES256") }),
      "RS256 signed by another key than its jwk": async (b) => quotedJwt(await newKey("RS256"), b.offer.challenge, { signer: await newKey("RS256") }),
      "a made-up jti": async () => quotedJwt(await newKey("ES256"), b64url(randomBytes(24))),
      "no jti": async (b) => quotedJwt(await newKey("ES256"), b.offer.challenge, { claims: { jti: undefined } }),
      "the jti of another session's live challenge": async () => {
        const other = await signedIn();
        return quotedJwt(await newKey("ES256"), other.offer.challenge);
      },
      "an oversized JWT (> 8 KB), properly signed": async (b) =>
        quotedJwt(await newKey("ES256"), b.offer.challenge, { claims: { pad: "x".repeat(9000) } }),
      "an oversized header value (not a JWT)": async () => `"${"a".repeat(12_000)}"`,
      "an unterminated quoted value": async (b) => `"${await dbscJwt(await newKey("ES256"), b.offer.challenge)}`,
      "a value quoted at one end only": async (b) => `${await dbscJwt(await newKey("ES256"), b.offer.challenge)}"`,
      "two members": async (b) => {
        const jwt = await dbscJwt(await newKey("ES256"), b.offer.challenge);
        return `"${jwt}", "${jwt}"`;
      },
      "a byte sequence instead of a string": async (b) => `:${Buffer.from(await dbscJwt(await newKey("ES256"), b.offer.challenge)).toString("base64")}:`,
      "an empty value": async () => "",
      "not a JWT": async () => '"not.a.jwt"',
      "a JWT with four parts": async (b) => `"${await dbscJwt(await newKey("ES256"), b.offer.challenge)}.AAAA"`,
    };
    for (const [what, build] of Object.entries(cases)) {
      test(`refused: ${what}`, () => refusedRegistration(what, build));
    }

    test("refused: the challenge reused (a second registration of a registered session, and of its own jti)", async () => {
      const browser = await registered();
      for (const jwt of [await dbscJwt(browser.key, browser.offer.challenge), await dbscJwt(await newKey("ES256"), browser.offer.challenge)]) {
        const since = mark();
        const res = await browser.registerRaw(headerValue(jwt, true));
        assert.equal(res.status, 400, JSON.stringify(res.json));
        assert.equal(res.json?.error, "invalid_registration");
        assert.ok(!setsBoundCookie(res));
        await refusedSince(since, "second registration");
      }
      browser.expire(DEVICE);
      const { res } = await browser.refreshBound();
      assert.equal(res.status, 200, "the first key is still the session's");
    });

    test("refused: a registration without a session (401), and one replayed after logout (401)", async () => {
      const browser = await signedIn();
      const jwt = headerValue(await dbscJwt(await browser.ownKey(), browser.offer.challenge), true);
      const since = mark();
      const anonymous = await A.fetch(REGISTER_PATH, { method: "POST", headers: { ...SAME_ORIGIN, "secure-session-response": jwt } });
      assert.equal(anonymous.status, 401);
      assert.ok(!setsBoundCookie(anonymous));
      const copy = browser.copyTo(A);
      const ok = await browser.registerRaw(jwt);
      assert.equal(ok.status, 200);
      await browser.logout();
      const replay = await copy.registerRaw(jwt);
      assert.equal(replay.status, 401, `replayed after logout: ${JSON.stringify(replay.json)}`);
      assert.ok(!setsBoundCookie(replay));
      await refusedSince(since, "registration without a session");
    });
  });

  describe("hostile refreshes", () => {
    /** A refresh answer that renews nothing. */
    function renewsNothing(res, what) {
      assert.notEqual(res.status, 200, `${what}: ${JSON.stringify(res.json)}`);
      assert.ok(!setsBoundCookie(res), `${what}: no bound cookie`);
    }

    test("a made-up challenge, another session's challenge, and a replayed response renew nothing", async () => {
      const browser = await registered();
      const other = await registered();
      browser.expire(DEVICE);
      other.expire(DEVICE);
      const since = mark();
      const first = await browser.refreshRaw();
      assert.equal(first.status, 403);
      const made = await browser.refreshRaw({ response: headerValue(await dbscJwt(browser.key, b64url(randomBytes(24)), { jwk: false }), true) });
      renewsNothing(made, "a made-up challenge");
      const theirs = await other.refreshRaw();
      assert.equal(theirs.status, 403);
      const foreign = await browser.refreshRaw({ response: headerValue(await dbscJwt(browser.key, theirs.challenge.challenge, { jwk: false }), true) });
      renewsNothing(foreign, "another session's challenge");
      // A response that worked once does not work twice.
      const fresh = await browser.refreshRaw();
      const good = headerValue(await dbscJwt(browser.key, fresh.challenge.challenge, { jwk: false }), true);
      const ok = await browser.refreshRaw({ response: good });
      assert.equal(ok.status, 200, "positive control");
      browser.expire(DEVICE);
      const replayed = await browser.refreshRaw({ response: good });
      renewsNothing(replayed, "a replayed response");
      await refusedSince(since, "hostile refresh challenges", { count: 3 });
      // The other session's owner still renews, with a fresh challenge if need be.
      const { res } = await other.refreshBound();
      assert.equal(res.status, 200);
    });

    test("a response signed by another key: 401, no cookie, audited", async () => {
      const browser = await registered(A, { alg: "RS256" });
      browser.expire(DEVICE);
      const since = mark();
      const { first, res } = await browser.refreshBound({ key: await newKey("RS256") });
      assert.equal(first.status, 403);
      assert.equal(res.status, 401, JSON.stringify(res.json));
      assert.ok(["session_ended", "device_refused"].includes(res.json?.error), JSON.stringify(res.json));
      assert.ok(!setsBoundCookie(res));
      await refusedSince(since, "another key");
    });

    test("an unknown session, an unregistered session and an ended session: 401", async () => {
      const since = mark();
      // A real session that never registered, through the browser's round trip.
      const stranger = await signedIn();
      const attempt = await stranger.refreshBound({ key: await newKey("ES256") });
      renewsNothing(attempt.first, "unregistered, no response");
      renewsNothing(attempt.res, "unregistered, signed");
      const unknownSid = new Browser(A);
      unknownSid.sid = b64url(randomBytes(16));
      const made = await unknownSid.refreshRaw({ response: headerValue(await dbscJwt(await newKey("ES256"), b64url(randomBytes(24)), { jwk: false }), true) });
      assert.equal(made.status, 401, `an unknown session: ${JSON.stringify(made.json)}`);
      const unregistered = await stranger.refreshRaw({ response: headerValue(await dbscJwt(await newKey("ES256"), b64url(randomBytes(24)), { jwk: false }), true) });
      assert.equal(unregistered.status, 401, `an unregistered session: ${JSON.stringify(unregistered.json)}`);
      const ended = await registered();
      const copy = ended.copyTo(A);
      copy.key = ended.key;
      await ended.logout();
      copy.expire(DEVICE);
      const { res } = await copy.refreshBound();
      assert.equal(res.status, 401, `an ended session, with its own key: ${JSON.stringify(res.json)}`);
      assert.ok(!setsBoundCookie(res));
      await refusedSince(since, "unknown, unregistered, ended", { count: 2 });
    });
  });

  describe("another session's bound cookie", () => {
    test("a refresh token presented with the live bound cookie of someone else's session ends the session (device_mismatch)", async () => {
      // The thief's browser, signed in to its own account, with the victim's refresh token.
      const mine = await registered(A, { user: newUser() });
      const theirs = await registered(A, { user: newUser() });
      const mixed = mine.copyTo(A);
      mixed.cookies.set(DEVICE, { ...theirs.cookies.get(DEVICE) });
      mixed.expire(ACCESS);
      const since = mark();
      const res = await mixed.refreshTokens();
      assert.equal(res.status, 401);
      assert.equal(res.json?.error, "device_mismatch");
      assert.ok(!setCookie(res, ACCESS).some((l) => !/Max-Age=0/i.test(l)), "no access token leaves the edge");
      const [line] = await refusedSince(since, "device_mismatch");
      assert.ok([pseudonym(mine.sid), pseudonym(theirs.sid)].includes(line.session), JSON.stringify(line));
      // The session whose refresh token it was is over, for its holder too.
      const after = await mine.refreshTokens();
      assert.equal(after.status, 401, "the session is ended");
      const page = await mine.send("/app/after", { headers: { accept: "application/json" } });
      assert.equal(page.status, 401, "its access token is refused at this location at once");
      await page.body?.cancel();
      assert.equal((await theirs.request("/app/theirs")).status, 200, "the other session lives on");
    });

    test("with the bound cookie of another session of the same user, a refresh is refused and nothing ends", async () => {
      // Two sessions of one user in one browser (a sign-in racing the earlier session's renewal).
      const user = newUser();
      const first = await registered(A, { user });
      const second = await registered(A, { user });
      const mixed = first.copyTo(A);
      mixed.cookies.set(DEVICE, { ...second.cookies.get(DEVICE) });
      mixed.expire(ACCESS);
      const since = mark();
      const res = await mixed.refreshTokens();
      assert.equal(res.status, 401);
      assert.equal(res.json?.error, "device_unbound");
      await refusedSince(since, "the same user's other session");
      // Refused, not ended: the first session's own browser goes on.
      first.expire(ACCESS);
      assert.equal((await first.request("/app/first")).status, 200, "the first session lives on");
      assert.equal((await second.request("/app/second")).status, 200, "so does the second");
    });
  });

  /** Asserts that the origin has received nothing since its last clear() (any path). */
  async function assertNothingForwardedHere(what) {
    const seen = await origin.requests();
    assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), [], `nothing may reach the origin (${what})`);
  }
});

// --- require and off, each on a single worker ----------------------------------------------------

describe("DEVICE_BOUND_SESSIONS = require", () => {
  let edge;
  before(async () => {
    edge = await secureWorker(origin, undefined, {
      vars: {
        DEVICE_BOUND_SESSIONS: "require",
        DEVICE_BOUND_GRACE: String(DEVICE_BOUND_GRACE),
        DEVICE_COOKIE_TTL: String(DEVICE_COOKIE_TTL),
        ACCESS_TTL: String(ACCESS_TTL),
        CLOCK_LEEWAY: String(CLOCK_LEEWAY),
      },
    });
    auditSource = edge;
    for (const user of ["rita", "ralph"]) await addUser(edge, user);
  });
  after(async () => {
    await edge?.dispose();
  });

  test("a session not registered within DEVICE_BOUND_GRACE is refused at its next refresh and ended; a registered one goes on", async () => {
    auditSource = edge;
    const lazy = new Browser(edge);
    await lazy.signIn("rita");
    assert.ok(lazy.offer, "registration offered");
    const keen = new Browser(edge);
    await keen.signIn("ralph");
    assert.equal((await keen.register()).status, 200);
    // Within the grace a refresh without registration still works.
    assert.equal((await lazy.refreshTokens()).status, 200, "within the grace");
    await sleep(DEVICE_BOUND_GRACE * 1000 + CLOCK_LEEWAY * 1000 + 500);
    const since = mark();
    // Kept before the refusal, whose answer clears the dead session's cookies.
    const access = lazy.cookies.get(ACCESS).value;
    const jar = new Map(lazy.cookies);
    const refused = await lazy.refreshTokens();
    assert.equal(refused.status, 401, `past the grace: ${JSON.stringify(refused.json)}`);
    assert.ok(!setCookie(refused, ACCESS).some((l) => !/Max-Age=0/i.test(l)), "no access token");
    await refusedSince(since, "not registered within the grace");
    const page = await edge.fetch("/app/lazy", { headers: { cookie: `${ACCESS}=${access}`, "user-agent": CHROME } });
    assert.equal(page.status, 401, "ended: its access token is refused too");
    await page.body?.cancel();
    const late = new Browser(edge);
    late.cookies = jar;
    late.sid = lazy.sid;
    late.offer = lazy.offer;
    const lateReg = await late.register();
    assert.notEqual(lateReg.status, 200, "no registration of the ended session");

    keen.expire(ACCESS);
    const res = await keen.request("/app/keen");
    assert.equal(res.status, 200, `the registered session refreshes: ${JSON.stringify(res.json)}`);
    assert.equal((await keen.refreshTokens()).status, 200);
  });
});

describe("DEVICE_BOUND_SESSIONS = off", () => {
  let edge;
  before(async () => {
    edge = await secureWorker(origin, undefined, { vars: { DEVICE_BOUND_SESSIONS: "off", DEVICE_COOKIE_TTL: String(DEVICE_COOKIE_TTL) } });
    auditSource = edge;
    await addUser(edge, "olga");
  });
  after(async () => {
    await edge?.dispose();
  });

  test("no registration offer; registration is not served; sessions refresh as before", async () => {
    const browser = new Browser(edge);
    await browser.signIn("olga");
    assert.equal(browser.loginRes.headers.get("secure-session-registration"), null);
    const key = await newKey("ES256");
    const res = await browser.registerRaw(headerValue(await dbscJwt(key, b64url(randomBytes(24))), true), { path: REGISTER_PATH });
    assert.ok([400, 401, 403, 404].includes(res.status), `registration under off: ${res.status}`);
    assert.ok(!setsBoundCookie(res));
    assert.equal((await browser.refreshTokens()).status, 200);
    browser.expire(ACCESS);
    assert.equal((await browser.request("/app/off")).status, 200);
    const listed = await browser.sessions();
    assert.notEqual(listed.find((s) => s.id === browser.sid)?.device_bound, true);
  });
});
