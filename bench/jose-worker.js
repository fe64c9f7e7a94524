// The JavaScript reference: the work of edgegate's authenticated GET, written as a plain worker
// with the `jose` library, to compare edgegate against what it replaces. It accepts the very
// access token edgegate issues (same SESSION_KEYS, ISSUER, cookie name, claims), so one login
// serves both. bench/workerd.mjs bundles it with esbuild; it is not part of edgegate.
import { SignJWT, base64url, jwtVerify } from "jose";

const ACCESS_COOKIE = "__Host-eg_access";
const OWN_COOKIES = new Set([ACCESS_COOKIE, "__Host-eg_refresh"]);
// PKCS#8 prefix of an Ed25519 private key (RFC 8410), followed by the 32-byte seed.
const PKCS8_ED25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
let keys; // imported once per isolate, as edgegate does

/** The first `kid:base64url-key` entry of a key ring. */
function firstKey(ring) {
  const [kid, key] = ring.split(/[\s,]+/).filter(Boolean)[0].split(":");
  return { kid, bytes: base64url.decode(key) };
}

async function importKeys(env) {
  const session = firstKey(env.SESSION_KEYS);
  const assertion = firstKey(env.ASSERTION_KEYS);
  const hmac = await crypto.subtle.importKey("raw", session.bytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const seed = new Uint8Array([...PKCS8_ED25519, ...assertion.bytes]);
  const ed25519 = await crypto.subtle.importKey("pkcs8", seed, { name: "Ed25519" }, false, ["sign"]);
  return { sessionKid: session.kid, hmac, assertionKid: assertion.kid, ed25519 };
}

const unauthenticated = () => Response.json({ error: "unauthenticated", message: "sign in first" }, { status: 401 });

export default {
  async fetch(request, env) {
    keys ??= await importKeys(env);
    const cookies = (request.headers.get("Cookie") ?? "").split(";").map((c) => c.trim()).filter(Boolean);
    const token = cookies.find((c) => c.startsWith(`${ACCESS_COOKIE}=`))?.slice(ACCESS_COOKIE.length + 1);
    if (!token) return unauthenticated();
    let claims;
    try {
      const keyFor = (header) => (header.kid === keys.sessionKid ? keys.hmac : Promise.reject(new Error("unknown kid")));
      const options = { algorithms: ["HS256"], issuer: env.ISSUER, audience: env.ISSUER, typ: "at+jwt", clockTolerance: 5, requiredClaims: ["exp", "nbf", "iat", "sub", "sid", "jti"] };
      ({ payload: claims } = await jwtVerify(token, keyFor, options));
    } catch {
      return unauthenticated();
    }
    if (claims.knd !== "access" || !Array.isArray(claims.roles)) return unauthenticated();
    if ((await env.SESSIONS.get(`revoked:${claims.sid}`)) !== null) return unauthenticated();

    const now = Math.floor(Date.now() / 1000);
    const jti = base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
    const identity = { iss: env.ISSUER, aud: env.ORIGIN_AUDIENCE, sub: claims.sub, sid: claims.sid, jti, roles: claims.roles, knd: "assertion" };
    const assertion = await new SignJWT(identity)
      .setProtectedHeader({ alg: "EdDSA", kid: keys.assertionKid, typ: "edgegate-assertion+jwt" })
      .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + 30)
      .sign(keys.ed25519);

    const headers = new Headers(request.headers);
    for (const name of [...headers.keys()]) if (name.startsWith("x-auth")) headers.delete(name);
    const kept = cookies.filter((c) => !OWN_COOKIES.has(c.slice(0, c.indexOf("="))));
    if (kept.length) headers.set("Cookie", kept.join("; "));
    else headers.delete("Cookie");
    headers.set("X-Auth-User", claims.sub);
    headers.set("X-Auth-Session", claims.sid);
    headers.set("X-Auth-Roles", claims.roles.join(","));
    headers.set("X-Auth-Assertion", assertion);
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, { method: request.method, headers, body: request.body, redirect: "manual" });
  },
};
