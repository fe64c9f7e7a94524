// The Wycheproof RS256, ES256 and Ed25519 vectors through the worker's own signature check,
// inside workerd: each key is vetted by the core (PublicKey::from_jwk) and each signature
// verified by WebCrypto (WebCryptoSignatureCheck), the path every ID token, logout token and
// DPoP proof takes. ES256 signatures in ASN.1 DER, as WebAuthn gives them, are sent with
// signature_format "der" and converted to r || s by es256_raw_from_der first (a signature it
// refuses is a false verdict). tests/wycheproof.rs runs the same cases through the native check.
// As there, a case whose result is "acceptable" may go either way and is counted but not
// checked; no case is pinned.
// The build is the release worker plus the test-only routes (scripts/build.sh --conformance).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { ROOT, startOrigin, startWorker, testKeys } from "./harness.mjs";

const SCRIPT = path.join(ROOT, "target/conformance/index.js");
const VECTORS = path.join(ROOT, "../shared/vectors/wycheproof");
const FILES = [
  { file: "rsa_signature_2048_sha256_test.json", alg: "RS256", jwkField: "keyJwk", cases: 259 },
  { file: "ecdsa_secp256r1_sha256_p1363_test.json", alg: "ES256", jwkField: "publicKeyJwk", cases: 262 },
  { file: "ed25519_test.json", alg: "EdDSA", jwkField: "publicKeyJwk", cases: 151 },
  // No JWK in this file: the groups' uncompressed points become one (groupJwk).
  { file: "ecdsa_secp256r1_sha256_test.json", alg: "ES256", jwkField: "publicKeyJwk", cases: 484, der: true },
];
const missing = FILES.some(({ file }) => !existsSync(path.join(VECTORS, file)));

const b64url = (hex) => Buffer.from(hex, "hex").toString("base64url");

// Some EC groups give only the uncompressed point (04 || x || y); their JWK is written from it,
// as tests/wycheproof.rs does.
function groupJwk(group, jwkField) {
  if (group[jwkField]) return group[jwkField];
  const point = Buffer.from(group.publicKey.uncompressed, "hex");
  assert.deepEqual([point.length, point[0]], [65, 4], "an uncompressed P-256 point");
  return {
    kty: "EC",
    crv: "P-256",
    x: point.subarray(1, 33).toString("base64url"),
    y: point.subarray(33).toString("base64url"),
  };
}

let origin;
let edge;
before(async () => {
  if (missing) return;
  // Returns at once when the build is up to date.
  execFileSync("bash", ["scripts/build.sh", "--conformance"], { cwd: ROOT, stdio: "inherit" });
  origin = await startOrigin();
  edge = await startWorker({
    scriptPath: SCRIPT,
    captureLogs: true,
    vars: { ORIGIN_URL: origin.url },
    secrets: testKeys(),
  });
});
after(async () => {
  await edge?.dispose();
  await origin?.close();
});

for (const { file, alg, jwkField, cases: expectedCases, der = false } of FILES) {
  test(
    `${alg}${der ? " (DER)" : ""}: every Wycheproof verdict matches through WebCrypto in workerd (${file})`,
    { skip: missing && `Wycheproof vectors not found under ${VECTORS}` },
    async () => {
      const vectors = JSON.parse(readFileSync(path.join(VECTORS, file), "utf8"));
      const cases = vectors.testGroups.flatMap((group) =>
        group.tests.map((t) => ({ group, t, jwk: groupJwk(group, jwkField) })),
      );
      assert.equal(cases.length, expectedCases, "cases in the file");
      const res = await edge.fetch("/.edgegate/conformance/signatures", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(
          cases.map(({ t, jwk }) => ({
            alg,
            jwk,
            message: b64url(t.msg),
            signature: b64url(t.sig),
            ...(der && { signature_format: "der" }),
          })),
        ),
      });
      const body = await res.text();
      assert.equal(res.status, 200, `${body}\n${edge.logs().join("\n")}`);
      const { verdicts } = JSON.parse(body);
      assert.equal(verdicts.length, cases.length, "one verdict per case");
      const tally = { valid: 0, invalid: 0, acceptable: 0 };
      const wrong = [];
      cases.forEach(({ t }, i) => {
        tally[t.result] += 1;
        assert.equal(typeof verdicts[i], "boolean");
        if (t.result === "acceptable") return;
        const expected = t.result === "valid";
        if (verdicts[i] !== expected) {
          wrong.push(`tcId ${t.tcId} (${t.comment}; ${t.flags}): expected ${t.result}, got ${verdicts[i]}`);
        }
      });
      assert.deepEqual(wrong, [], `${wrong.length} verdicts differ`);
      assert.ok(tally.valid > 0 && tally.invalid > 0, "both accepting and refusing are exercised");
      console.log(`${file}: ${JSON.stringify(tally)}, all checked verdicts match`);
    },
  );
}
