// Verifies an edgegate identity assertion (X-Auth-Assertion) with jose (npm install jose).
//
//   node verify.mjs TOKEN JWKS_URL ISSUER AUDIENCE
//
// Prints the claims and exits 0 when the assertion is valid; prints `refused: <why>` and exits 1
// when it is not.
import { createRemoteJWKSet, jwtVerify } from "jose";

/** Returns verify(token) → claims. Make one per process: it caches the JWKS. */
export function assertionVerifier({ jwksUrl, issuer, audience }) {
  // Fetches the JWKS on first use, caches it, and fetches it again when a token names an unknown kid.
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  return async function verify(token) {
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ["EdDSA"],
      typ: "edgegate-assertion+jwt",
      issuer,
      audience,
      requiredClaims: ["exp", "nbf", "sub", "sid"],
      clockTolerance: 5,
    });
    if (payload.knd !== "assertion") throw new Error("not an edgegate assertion (knd)");
    return payload; // payload.sub: user, payload.sid: session, payload.roles
  };
}

if (import.meta.filename === process.argv[1]) {
  const [token, jwksUrl, issuer, audience] = process.argv.slice(2);
  try {
    const claims = await assertionVerifier({ jwksUrl, issuer, audience })(token);
    console.log(JSON.stringify(claims));
  } catch (err) {
    console.error(`refused: ${err.code ?? err.name}: ${err.message}`);
    process.exit(1);
  }
}
