// DPoP (RFC 9449) for the benchmark: a client key, a bound session from the token endpoint, and
// proofs made before a run, so the load generator's own signing never sits between two requests
// (a proof is good once, for its method, URL and token, for 60 s).
import { createHash, randomUUID, webcrypto } from "node:crypto";

const { subtle } = webcrypto;
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** An ES256 key pair and its public JWK. */
export async function dpopKey() {
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const { kty, crv, x, y } = await subtle.exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
}

/** A proof by `key` for `method` on `url`, bound to `token` when given. */
export async function proof(key, method, url, token) {
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk };
  const claims = { jti: randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) };
  if (token) claims.ath = createHash("sha256").update(token).digest("base64url");
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, Buffer.from(input));
  return `${input}.${b64url(signature)}`;
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
