// Keys for the benchmark: DPoP (RFC 9449) proofs and a bound session from the token endpoint,
// the proofs made before a run so the load generator's own signing never sits between two
// requests (a proof is good once, for its method, URL and token, for 60 s); and a browser
// session bound to a device key (W3C DBSC), for the steady state with a live bound cookie.
import { createHash, randomUUID, webcrypto } from "node:crypto";

const { subtle } = webcrypto;
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** An ES256 key pair and its public JWK. */
export async function dpopKey() {
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const { kty, crv, x, y } = await subtle.exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
}

/** `header` and `claims` signed by `key` (ES256), as a compact JWS. */
export async function signEs256(key, header, claims) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, Buffer.from(input));
  return `${input}.${b64url(signature)}`;
}

/** A proof by `key` for `method` on `url`, bound to `token` when given. */
export async function proof(key, method, url, token) {
  const claims = { jti: randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) };
  if (token) claims.ath = createHash("sha256").update(token).digest("base64url");
  return signEs256(key, { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk }, claims);
}

/** `count` proofs for `method` on `url` with `token`, made now. */
export async function proofs(key, method, url, token, count) {
  return Promise.all(Array.from({ length: count }, () => proof(key, method, url, token)));
}

/** The access token of a password grant at `base`, bound to `key` when given. */
export async function tokenGrant(base, username, password, key) {
  const url = `${base}/auth/token`;
  const headers = { "content-type": "application/json" };
  if (key) headers.DPoP = await proof(key, "POST", url);
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ grant_type: "password", username, password }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`token grant: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The cookies of a browser session of `user` at `edge` (its password `password`) registered as
 * device-bound: the session cookies and the live bound cookie. */
export async function boundBrowserSession(edge, user, password) {
  const res = await fetch(`${edge}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "sec-fetch-site": "same-origin" },
    body: JSON.stringify({ username: user, password }),
  });
  const offer = res.headers.get("secure-session-registration") ?? "";
  const challenge = offer.match(/challenge="([^"]+)"/)?.[1];
  if (res.status !== 200 || !challenge) throw new Error(`login with a registration offer: ${res.status} ${offer}`);
  const cookies = (lines) => lines.map((line) => line.split(";")[0]).filter((pair) => !pair.endsWith("="));
  const signedIn = cookies(res.headers.getSetCookie());
  const key = await dpopKey();
  const response = await signEs256(key, { typ: "dbsc+jwt", alg: "ES256", jwk: key.jwk }, { jti: challenge });
  const registered = await fetch(`${edge}/auth/device/register`, {
    method: "POST",
    headers: { cookie: signedIn.join("; "), "secure-session-response": response, "sec-fetch-site": "same-origin" },
  });
  if (registered.status !== 200) throw new Error(`device registration: ${registered.status} ${await registered.text()}`);
  return [...signedIn, ...cookies(registered.headers.getSetCookie())].join("; ");
}
