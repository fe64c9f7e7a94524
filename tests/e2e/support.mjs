// Shared helpers for the end-to-end test files: a browser-like cookie jar, users and logins,
// raw HTTP over a socket (for requests fetch refuses to send), token forging with the test's own
// knowledge of SESSION_KEYS, and the audit-line pseudonyms. Used with harness.mjs.
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import net from "node:net";
import { startWorker, userRecord, wranglerVars } from "./harness.mjs";

export const PASSWORD = "correct horse battery staple";
/** Headers of a same-origin top-level navigation. */
export const BROWSER = { accept: "text/html,application/xhtml+xml", "sec-fetch-site": "same-origin" };
/** The cookie names with COOKIE_SECURE = true. */
export const ACCESS = "__Host-eg_access";
export const REFRESH = "__Host-eg_refresh";

/** The cookies a response sets: { name, value, maxAge } each, maxAge in seconds (Infinity when
 * the line names none; 0 or less deletes the cookie). */
export function setCookies(res) {
  return res.headers.getSetCookie().map((line) => {
    const [pair, ...attrs] = line.split(";");
    const eq = pair.indexOf("=");
    const maxAge = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith("max-age="));
    return {
      name: pair.slice(0, eq).trim(),
      value: pair.slice(eq + 1),
      maxAge: maxAge ? Number(maxAge.split("=")[1]) : Infinity,
    };
  });
}

/** Cookies as a browser keeps them: name -> value, updated from Set-Cookie. */
export class Jar {
  constructor() {
    this.cookies = new Map();
  }
  take(res) {
    for (const { name, value, maxAge } of setCookies(res)) {
      if (maxAge <= 0) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  clone() {
    const copy = new Jar();
    copy.cookies = new Map(this.cookies);
    return copy;
  }
}

/** A worker in front of `origin`, with secure cookies, the test file's `secrets` and its console captured. */
export function secureWorker(origin, secrets, options = {}) {
  return startWorker({
    captureLogs: true,
    ...options,
    vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", ...options.vars },
    secrets,
  });
}

/** POST /auth/token with a JSON body (or a form body when `form` is set). */
export function tokenRequest(edge, fields, { form = false, headers = {} } = {}) {
  return edge.fetch("/auth/token", {
    method: "POST",
    headers: {
      "content-type": form ? "application/x-www-form-urlencoded" : "application/json",
      ...headers,
    },
    body: form ? new URLSearchParams(fields).toString() : JSON.stringify(fields),
  });
}

export async function addUser(edge, name, options, password = PASSWORD) {
  await (await edge.kv("USERS")).put(`user:${name}`, userRecord(password, options));
}

/** A JSON login; returns the response and a jar holding the cookies it set. */
export async function login(edge, name, { password = PASSWORD, headers = {} } = {}) {
  const jar = new Jar();
  const res = jar.take(
    await edge.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ username: name, password }),
    }),
  );
  return { res, jar };
}

/** Logs in and fails the test unless it worked. */
export async function session(edge, name, options) {
  const { res, jar } = await login(edge, name, options);
  assert.equal(res.status, 200, `login of ${name}`);
  await res.body?.cancel();
  return jar;
}

/** Asserts that the origin has received nothing since its last clear(). */
export async function assertNothingForwarded(origin, what = "") {
  const seen = await origin.requests();
  assert.deepEqual(
    seen.map((r) => `${r.method} ${r.url}`),
    [],
    `nothing may reach the origin${what ? ` (${what})` : ""}`,
  );
}

/**
 * One raw HTTP/1.1 exchange with `port` on 127.0.0.1: `request` is sent byte for byte (string as
 * latin1, or a Buffer). Resolves to { status, head, body, raw } once the answer is complete (by
 * Content-Length or the last chunk) or the server closes; `status` is 0 without an answer.
 */
export function rawRequest(port, request, { timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = received.toString("latin1");
      const match = raw.match(/^HTTP\/1\.[01] (\d{3})/);
      const split = raw.indexOf("\r\n\r\n");
      resolve({
        status: match ? Number(match[1]) : 0,
        head: split >= 0 ? raw.slice(0, split) : raw,
        body: split >= 0 ? raw.slice(split + 4) : "",
        raw,
      });
    };
    const complete = () => {
      const raw = received.toString("latin1");
      const split = raw.indexOf("\r\n\r\n");
      if (split < 0) return false;
      const head = raw.slice(0, split);
      const body = raw.slice(split + 4);
      const length = head.match(/\r\ncontent-length:\s*(\d+)/i);
      if (length) return body.length >= Number(length[1]);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return body.endsWith("0\r\n\r\n");
      return false;
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("raw request timed out"));
    }, timeoutMs);
    socket.on("connect", () => socket.write(Buffer.isBuffer(request) ? request : Buffer.from(request, "latin1")));
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (complete()) finish();
    });
    socket.on("error", () => {}); // a reset after the answer is still an answer
    socket.on("close", finish);
  });
}

/** A GET request for rawRequest from header lines (each without CRLF). */
export function rawGet(port, path, lines) {
  return [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...lines, "Connection: close", "", ""].join("\r\n");
}

export const b64url = (data) => Buffer.from(data).toString("base64url");

/** The `kid` and key bytes of the first entry of a SESSION_KEYS-style ring. */
export function ringKey(ring) {
  const [kid, key] = ring.split(/[,\n]/)[0].trim().split(":");
  return { kid, key: Buffer.from(key, "base64url") };
}

/** A compact JWS over an already encoded signing input (`header.payload`), HS256 with `key`. */
export function signInput(input, key) {
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

/** A compact JWS over arbitrary header and payload objects (or raw strings), HS256 with `key`. */
export function signHs256(header, payload, key) {
  const enc = (part) => b64url(typeof part === "string" ? part : JSON.stringify(part));
  return signInput(`${enc(header)}.${enc(payload)}`, key);
}

export const nowSecs = () => Math.floor(Date.now() / 1000);

/**
 * Claims of an access token the worker would mint, for the worker's vars, at `now` (default: the
 * current second) lasting `ttl`. Any other option replaces that claim; `undefined` removes it.
 */
export function accessClaims(options = {}) {
  const { now = nowSecs(), ttl = 300, ...over } = options;
  const { ISSUER } = wranglerVars();
  const sub = "sub" in over ? over.sub : "mallory";
  const claims = {
    iss: ISSUER,
    aud: ISSUER,
    sub,
    sid: b64url(createHash("sha256").update(String(sub)).digest().subarray(0, 16)),
    jti: b64url(randomBytes(16)),
    roles: ["admin"],
    knd: "access",
    iat: now,
    nbf: now,
    exp: now + ttl,
  };
  for (const [name, value] of Object.entries(over)) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

/** The audit pseudonym of an identifier, as src/auth/audit.rs computes it. */
export function pseudonym(value) {
  return createHash("sha256").update(value).digest().subarray(0, 9).toString("base64url");
}

/** The worker's audit lines (JSON objects) among captured console lines. */
export function auditLines(lines) {
  return lines.flatMap((line) => {
    try {
      const parsed = JSON.parse(line);
      return parsed && typeof parsed.event === "string" ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The worker's audit events matching `predicate`, once at least `count` of them have arrived.
 * workerd hands console output over after the response, so a line may lag its request by a few
 * milliseconds; this waits up to `ms` and fails (naming `what`) if they never come.
 */
export async function auditEvents(edge, predicate, { count = 1, ms = 3000, what = "audit lines" } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const events = auditLines(edge.logs()).filter(predicate);
    if (events.length >= count) return events;
    assert.ok(Date.now() < deadline, `${what}: ${events.length} of ${count} arrived within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The stored hash of a refresh token (`<sid>.<secret>`), as src/auth/session/refresh.rs computes it. */
export function refreshHash(token) {
  const secret = Buffer.from(token.split(".")[1], "base64url");
  return createHash("sha256").update(secret).digest("base64url");
}

/** Rewrites the stored session record of `sid` with `change(record)`. */
export async function editSession(edge, sid, change) {
  const sessions = await edge.kv("SESSIONS");
  const record = JSON.parse(await sessions.get(`session:${sid}`));
  change(record);
  await sessions.put(`session:${sid}`, JSON.stringify(record));
  return record;
}

/** The page origin passkey ceremonies run on in the tests: wrangler.toml's WEBAUTHN_ORIGINS. */
export const PASSKEY_ORIGIN = "http://localhost:8787";

/**
 * Registers a passkey of `authenticator` (tests/e2e/webauthn-authenticator.mjs) for the session
 * in `jar`, as the account page does; fails the test unless it was added. The passkey as listed.
 */
export async function registerPasskey(edge, jar, authenticator, { name = "Laptop", origin = PASSKEY_ORIGIN } = {}) {
  const headers = { "content-type": "application/json", "sec-fetch-site": "same-origin", cookie: jar.header() };
  const options = await edge.fetch("/auth/passkeys/register/options", { method: "POST", headers, body: "{}" });
  assert.equal(options.status, 200, "registration options");
  const credential = await authenticator.create((await options.json()).publicKey, origin);
  const res = await edge.fetch("/auth/passkeys/register", {
    method: "POST",
    headers,
    body: JSON.stringify({ name, credential }),
  });
  const body = await res.json();
  assert.equal(res.status, 201, `registration: ${JSON.stringify(body)}`);
  return body.passkey;
}
