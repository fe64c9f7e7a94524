// Self-check of the software WebAuthn authenticator (webauthn-authenticator.mjs) the passkey
// tests drive, against an independent relying-party library (@simplewebauthn/server) and
// node:crypto, so that a refusal by the worker can be trusted to be the worker's finding and not
// the test client's mistake. Needs neither the worker nor the network.
//
// Checked:
//   - Honest registrations and assertions with ES256, EdDSA and RS256 are accepted with user
//     verification required, and their bytes are laid out as WebAuthn says (clientDataJSON's
//     member order, authenticator data, the COSE key, the "none" attestation object); each
//     assertion signature also verifies with node:crypto against the SPKI the response carries.
//   - ES256 signatures are ASN.1 DER (the r || s to DER conversion, against node:crypto).
//   - Credential choice (newest discoverable, allowCredentials, an explicit id), sign counts
//     (counting up, or 0 forever), backup flags, and a browser's refusals of bad options.
//   - Tampered ceremonies are refused by the library for the tampered part, and each knob
//     changes only its own part: told to expect the tampered value, the library accepts.
import assert from "node:assert/strict";
import { createHash, createPublicKey, createVerify, generateKeyPairSync, sign, verify } from "node:crypto";
import { before, describe, test } from "node:test";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import {
  SoftAuthenticator,
  b64url,
  cborDecode,
  cborEncode,
  ecdsaRawToDer,
  fromB64url,
} from "./webauthn-authenticator.mjs";

// Nothing here may reach the network (the library's metadata services stay uninitialised).
globalThis.fetch = () => {
  throw new Error("this test must not use the network");
};

const ORIGIN = "http://localhost:8787";
const RP_ID = "localhost";
const ALGS = [
  { alg: "ES256", cose: -7 },
  { alg: "EdDSA", cose: -8 },
  { alg: "RS256", cose: -257 },
];

const sha256 = (bytes) => new Uint8Array(createHash("sha256").update(bytes).digest());
const text = (b64) => Buffer.from(fromB64url(b64)).toString("utf8");

function registrationOptions(extra = {}) {
  return generateRegistrationOptions({
    rpName: "edgegate",
    rpID: RP_ID,
    userName: "alice",
    attestationType: "none",
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
    ...extra,
  });
}

function authenticationOptions(extra = {}) {
  return generateAuthenticationOptions({ rpID: RP_ID, userVerification: "required", ...extra });
}

function verifyRegistration(response, options, extra = {}) {
  return verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: true,
    ...extra,
  });
}

function verifyAuthentication(response, options, credential, extra = {}) {
  return verifyAuthenticationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential,
    requireUserVerification: true,
    ...extra,
  });
}

/** Registers one credential honestly; returns what a relying party would store. */
async function register(authenticator, extra = {}) {
  const options = await registrationOptions(extra);
  const response = await authenticator.create(options, ORIGIN);
  const result = await verifyRegistration(response, options);
  assert.equal(result.verified, true);
  return { options, response, credential: result.registrationInfo.credential, info: result.registrationInfo };
}

/** An independent reading of authenticator data (WebAuthn §6.1). */
function parseAuthData(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parsed = { rpIdHash: bytes.subarray(0, 32), flags: bytes[32], signCount: view.getUint32(33, false) };
  if (parsed.flags & 0x40) {
    parsed.aaguid = bytes.subarray(37, 53);
    const idLength = view.getUint16(53, false);
    parsed.credentialId = bytes.subarray(55, 55 + idLength);
    parsed.rest = bytes.subarray(55 + idLength);
  } else {
    parsed.rest = bytes.subarray(37);
  }
  return parsed;
}

/** Verifies an assertion with node:crypto against the SPKI from the registration response. */
function nodeVerifies(alg, spkiB64url, assertion) {
  const key = createPublicKey({ key: Buffer.from(fromB64url(spkiB64url)), format: "der", type: "spki" });
  const data = Buffer.concat([
    fromB64url(assertion.response.authenticatorData),
    sha256(fromB64url(assertion.response.clientDataJSON)),
  ]);
  const signature = fromB64url(assertion.response.signature);
  if (alg === "EdDSA") return verify(null, data, key, signature);
  if (alg === "ES256") return verify("sha256", data, { key, dsaEncoding: "der" }, signature);
  return verify("sha256", data, key, signature);
}

/** Strict DER reading of an ECDSA signature: minimal INTEGERs, nothing left over. */
function parseDerSignature(der) {
  assert.equal(der[0], 0x30, "SEQUENCE");
  assert.ok(der[1] < 0x80, "short-form length for P-256");
  assert.equal(der[1], der.length - 2, "SEQUENCE length covers the rest exactly");
  const integers = [];
  let at = 2;
  for (let i = 0; i < 2; i++) {
    assert.equal(der[at], 0x02, "INTEGER");
    const length = der[at + 1];
    const value = der.subarray(at + 2, at + 2 + length);
    assert.ok(length >= 1 && length <= 33);
    assert.equal(value[0] & 0x80, 0, "non-negative");
    if (length > 1) assert.ok(value[0] !== 0 || value[1] & 0x80, "no needless leading zero");
    integers.push(value);
    at += 2 + length;
  }
  assert.equal(at, der.length, "no trailing bytes");
  return integers;
}

describe("helpers", () => {
  test("base64url round-trips and refuses padding and the standard alphabet", () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0x00, 0x01]);
    assert.equal(b64url(bytes), "-_8AAQ");
    assert.deepEqual(fromB64url("-_8AAQ"), bytes);
    assert.equal(b64url(bytes.buffer), "-_8AAQ");
    for (const bad of ["-_8AAQ==", "+/8AAQ", "a", "ab c"]) assert.throws(() => fromB64url(bad), TypeError);
  });

  test("CBOR keeps map insertion order, integer keys and byte strings", () => {
    const coseKey = new Map([[1, 2], [3, -7], [-1, 1], [-2, Uint8Array.of(1, 2)], [-3, Uint8Array.of(3)]]);
    assert.equal(Buffer.from(cborEncode(coseKey)).toString("hex"), "a501020326200121420102224103");
    const attestation = cborEncode({ fmt: "none", attStmt: {}, authData: Uint8Array.of(0, 0) });
    assert.equal(
      Buffer.from(attestation).toString("hex"),
      "a3" + "63666d74646e6f6e65" + "6761747453746d74a0" + "68617574684461746142" + "0000",
    );
    assert.deepEqual([...cborDecode(cborEncode(new Map([[-3, 1], [1, 2]]))).keys()], [-3, 1]);
  });

  test("r || s to DER: minimal INTEGERs, a zero byte before a set high bit", () => {
    const r = new Uint8Array(32).fill(0x80);
    const s = new Uint8Array(32);
    s[30] = 0x01;
    s[31] = 0x7f; // 0x017f after 30 leading zero bytes
    const der = ecdsaRawToDer(new Uint8Array([...r, ...s]));
    assert.equal(
      Buffer.from(der).toString("hex"),
      "3027" + "0221" + "00" + "80".repeat(32) + "0202" + "017f",
    );
    const zero = ecdsaRawToDer(new Uint8Array(64));
    assert.equal(Buffer.from(zero).toString("hex"), "3006020100020100");
  });

  test("r || s to DER: node:crypto accepts every converted signature (P-256, 300 signatures)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    let highBit = 0;
    for (let i = 0; i < 300; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
      if (raw[0] & 0x80 || raw[32] & 0x80) highBit++;
      const der = ecdsaRawToDer(raw);
      const [rInt, sInt] = parseDerSignature(der);
      assert.equal(BigInt(`0x${Buffer.from(rInt).toString("hex")}`), BigInt(`0x${raw.subarray(0, 32).toString("hex")}`));
      assert.equal(BigInt(`0x${Buffer.from(sInt).toString("hex")}`), BigInt(`0x${raw.subarray(32).toString("hex")}`));
      const verifier = createVerify("sha256").update(data);
      assert.ok(verifier.verify({ key: publicKey, dsaEncoding: "der" }, der), `signature ${i}`);
    }
    assert.ok(highBit > 0, "some signatures needed the zero byte");
  });
});

describe("honest ceremonies are accepted", () => {
  for (const { alg, cose } of ALGS) {
    test(`${alg}: registration, then two assertions with rising sign counts`, async () => {
      const authenticator = new SoftAuthenticator({ alg });
      const { options, response, credential, info } = await register(authenticator);

      // The registration response and its bytes.
      assert.equal(response.type, "public-key");
      assert.equal(response.id, response.rawId);
      assert.equal(response.authenticatorAttachment, "platform");
      assert.deepEqual(response.clientExtensionResults, { credProps: { rk: true } });
      assert.equal(response.response.publicKeyAlgorithm, cose);
      assert.deepEqual(response.response.transports, ["internal"]);
      assert.equal(
        text(response.response.clientDataJSON),
        `{"type":"webauthn.create","challenge":"${options.challenge}","origin":"${ORIGIN}","crossOrigin":false}`,
      );
      const attestation = cborDecode(fromB64url(response.response.attestationObject));
      assert.deepEqual([...attestation.keys()], ["fmt", "attStmt", "authData"]);
      assert.equal(attestation.get("fmt"), "none");
      assert.equal(attestation.get("attStmt").size, 0);
      const authData = attestation.get("authData");
      assert.equal(b64url(authData), response.response.authenticatorData);
      const parsed = parseAuthData(authData);
      assert.deepEqual(parsed.rpIdHash, sha256(RP_ID));
      assert.equal(parsed.flags, 0x01 | 0x04 | 0x40, "UP, UV, AT");
      assert.equal(parsed.signCount, 1);
      assert.deepEqual(parsed.aaguid, new Uint8Array(16));
      assert.equal(parsed.credentialId.length, 32);
      assert.equal(b64url(parsed.credentialId), response.id);
      const coseKey = cborDecode(parsed.rest);
      const labels = { ES256: [1, 3, -1, -2, -3], EdDSA: [1, 3, -1, -2], RS256: [1, 3, -1, -2] }[alg];
      assert.deepEqual([...coseKey.keys()], labels);
      assert.equal(coseKey.get(3), cose);
      assert.equal(coseKey.get(1), { ES256: 2, EdDSA: 1, RS256: 3 }[alg]);

      // What the library concluded.
      assert.equal(credential.id, response.id);
      assert.equal(credential.counter, 1);
      assert.equal(info.userVerified, true);
      assert.equal(info.credentialDeviceType, "singleDevice");
      assert.equal(info.credentialBackedUp, false);
      assert.deepEqual(authenticator.credentials, [
        { id: response.id, userHandle: options.user.id, rpId: RP_ID, alg, counter: 1 },
      ]);

      let stored = credential;
      for (const expectedCount of [2, 3]) {
        const request = await authenticationOptions();
        const assertion = await authenticator.get(request, ORIGIN);
        assert.equal(assertion.id, response.id);
        assert.equal(assertion.response.userHandle, options.user.id);
        assert.equal(
          text(assertion.response.clientDataJSON),
          `{"type":"webauthn.get","challenge":"${request.challenge}","origin":"${ORIGIN}","crossOrigin":false}`,
        );
        const assertionData = parseAuthData(fromB64url(assertion.response.authenticatorData));
        assert.equal(assertionData.flags, 0x01 | 0x04, "UP, UV");
        assert.equal(assertionData.rest.length, 0);
        const signatureLength = fromB64url(assertion.response.signature).length;
        if (alg === "EdDSA") assert.equal(signatureLength, 64);
        if (alg === "RS256") assert.equal(signatureLength, 256);
        if (alg === "ES256") parseDerSignature(fromB64url(assertion.response.signature));
        assert.ok(nodeVerifies(alg, response.response.publicKey, assertion), "node:crypto verifies it");

        const result = await verifyAuthentication(assertion, request, stored);
        assert.equal(result.verified, true);
        assert.equal(result.authenticationInfo.newCounter, expectedCount);
        assert.equal(result.authenticationInfo.userVerified, true);
        stored = { ...stored, counter: result.authenticationInfo.newCounter };
      }
      assert.equal(authenticator.credentials[0].counter, 3);
    });
  }

  test("an ES256 signature is DER, not r || s", async () => {
    const authenticator = new SoftAuthenticator({ alg: "ES256" });
    const { response } = await register(authenticator);
    const assertion = await authenticator.get(await authenticationOptions(), ORIGIN);
    const key = createPublicKey({ key: Buffer.from(fromB64url(response.response.publicKey)), format: "der", type: "spki" });
    const data = Buffer.concat([
      fromB64url(assertion.response.authenticatorData),
      sha256(fromB64url(assertion.response.clientDataJSON)),
    ]);
    const signature = fromB64url(assertion.response.signature);
    assert.ok(createVerify("sha256").update(data).verify({ key, dsaEncoding: "der" }, signature));
    let asRawToo;
    try {
      asRawToo = createVerify("sha256").update(data).verify({ key, dsaEncoding: "ieee-p1363" }, signature);
    } catch {
      asRawToo = false; // node:crypto refuses a signature of the wrong length outright
    }
    assert.equal(asRawToo, false);
  });

  test("a counter of 0 stays 0 (synced passkey), with backup flags, and the library accepts it", async () => {
    const authenticator = new SoftAuthenticator({ counter: 0, backupEligible: true, backedUp: true });
    const { credential, info } = await register(authenticator);
    assert.equal(credential.counter, 0);
    assert.equal(info.credentialDeviceType, "multiDevice");
    assert.equal(info.credentialBackedUp, true);
    for (let i = 0; i < 2; i++) {
      const request = await authenticationOptions();
      const assertion = await authenticator.get(request, ORIGIN);
      assert.equal(parseAuthData(fromB64url(assertion.response.authenticatorData)).flags, 0x01 | 0x04 | 0x08 | 0x10);
      const result = await verifyAuthentication(assertion, request, credential);
      assert.equal(result.verified, true);
      assert.equal(result.authenticationInfo.newCounter, 0);
    }
  });

  test("the AAGUID given is the one attested", async () => {
    const aaguid = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";
    const { info } = await register(new SoftAuthenticator({ aaguid }));
    assert.equal(info.aaguid, aaguid);
  });

  test("credential choice: newest for the RP, allowCredentials, or an explicit id", async () => {
    const authenticator = new SoftAuthenticator();
    const first = await register(authenticator, { userName: "first" });
    const second = await register(authenticator, { userName: "second" });
    const request = await authenticationOptions();
    assert.equal((await authenticator.get(request, ORIGIN)).id, second.response.id);
    const allowFirst = await authenticationOptions({ allowCredentials: [{ id: first.response.id }] });
    const viaAllow = await authenticator.get(allowFirst, ORIGIN);
    assert.equal(viaAllow.id, first.response.id);
    assert.equal(viaAllow.response.userHandle, first.options.user.id);
    assert.equal((await verifyAuthentication(viaAllow, allowFirst, first.credential)).verified, true);
    const named = await authenticator.get(request, ORIGIN, { credentialId: first.response.id });
    assert.equal(named.id, first.response.id);
    assert.equal((await verifyAuthentication(named, request, { ...first.credential, counter: 2 })).verified, true);
  });

  test("a browser's refusals: RP ID of another site, excluded credential, no usable algorithm, no credential", async () => {
    const authenticator = new SoftAuthenticator({ alg: "EdDSA" });
    const { response } = await register(authenticator);
    const options = await registrationOptions();
    await assert.rejects(authenticator.create({ ...options, rp: { ...options.rp, id: "example.com" } }, ORIGIN), {
      name: "SecurityError",
    });
    await assert.rejects(authenticator.create({ ...options, excludeCredentials: [{ id: response.id, type: "public-key" }] }, ORIGIN), {
      name: "InvalidStateError",
    });
    await assert.rejects(authenticator.create({ ...options, pubKeyCredParams: [{ type: "public-key", alg: -7 }] }, ORIGIN), {
      name: "NotSupportedError",
    });
    const elsewhere = await generateAuthenticationOptions({ rpID: "example.com" });
    await assert.rejects(authenticator.get(elsewhere, "https://example.com"), { name: "NotAllowedError" });
    await assert.rejects(authenticator.get(await authenticationOptions(), ORIGIN, { signwith: "other" }), TypeError);
    await assert.rejects(authenticator.create(options, ORIGIN, { signWith: "other" }), TypeError);
  });
});

describe("tampered registrations", () => {
  let options;
  const authenticator = new SoftAuthenticator({ alg: "ES256" });
  before(async () => {
    options = await registrationOptions();
  });
  const create = (tamper) => authenticator.create(options, ORIGIN, tamper);

  const refused = [
    ["origin", { origin: "https://evil.example" }, /origin/],
    ["type", { type: "webauthn.get" }, /type/],
    ["challenge", { challenge: b64url(new Uint8Array(32)) }, /challenge/],
    ["rpId", { rpId: "evil.example" }, /RP ID/],
    ["up", { up: false }, /User presence/],
    ["uv", { uv: false }, /User verification/],
    ["noAttestedData", { noAttestedData: true }, /credential ID/],
    ["trailingBytes", { trailingBytes: [0xff, 0xfe] }, /Leftover bytes/],
    ["garbageCbor truncated", { garbageCbor: true }, /No data/],
    ["garbageCbor extensions", { garbageCbor: "extensions" }, /well formed/],
    ["fmt", { fmt: "packed" }, /attestation signature/],
    ["attStmt", { attStmt: { sig: Uint8Array.of(1) } }, /unexpected attestation statement/],
    ["coseAlg", { coseAlg: -35 }, /Unexpected public key alg/],
  ];
  for (const [name, tamper, reason] of refused) {
    test(`refused: ${name}`, async () => {
      const response = await create(tamper);
      await assert.rejects(verifyRegistration(response, options), reason);
    });
  }

  test("each knob changes only its part: expecting the tampered value, the library accepts", async () => {
    const origin = "https://evil.example";
    const byOrigin = await create({ origin });
    assert.equal((await verifyRegistration(byOrigin, options, { expectedOrigin: origin })).verified, true);
    const byRpId = await create({ rpId: "evil.example" });
    assert.equal((await verifyRegistration(byRpId, options, { expectedRPID: "evil.example" })).verified, true);
    const byUv = await create({ uv: false });
    assert.equal((await verifyRegistration(byUv, options, { requireUserVerification: false })).verified, true);
    const challenge = b64url(new Uint8Array(32));
    const byChallenge = await create({ challenge });
    assert.equal((await verifyRegistration(byChallenge, options, { expectedChallenge: challenge })).verified, true);
    const byCoseAlg = await create({ coseAlg: -35 });
    assert.equal((await verifyRegistration(byCoseAlg, options, { supportedAlgorithmIDs: [-35] })).verified, true);
    assert.equal(byCoseAlg.response.publicKeyAlgorithm, -7, "the response still names the real algorithm");
  });

  test("the attested data as asked: id lengths, claimed id, flags, counter, format", async () => {
    for (const length of [1024, 8]) {
      const response = await create({ credentialIdLength: length });
      const parsed = parseAuthData(fromB64url(response.response.authenticatorData));
      assert.equal(parsed.credentialId.length, length);
      assert.equal(fromB64url(response.id).length, length);
    }
    const claimed = b64url(Uint8Array.of(7, 7, 7, 7));
    const byId = await create({ credentialId: claimed });
    assert.equal(byId.id, claimed);
    assert.equal(b64url(parseAuthData(fromB64url(byId.response.authenticatorData)).credentialId), claimed);
    assert.equal(authenticator.credentials.filter((c) => c.id === claimed).length, 1);

    const flagged = await create({ be: true, bs: true, counter: 77 });
    const flags = parseAuthData(fromB64url(flagged.response.authenticatorData));
    assert.equal(flags.flags, 0x01 | 0x04 | 0x08 | 0x10 | 0x40);
    assert.equal(flags.signCount, 77);
    assert.equal(authenticator.credentials.at(-1).counter, 1, "the stored count is not moved");

    const noAt = await create({ noAttestedData: true });
    const bare = fromB64url(noAt.response.authenticatorData);
    assert.equal(bare.length, 37);
    assert.equal(bare[32], 0x01 | 0x04);

    const trailing = await create({ trailingBytes: 3 });
    const attested = cborDecode(fromB64url(trailing.response.attestationObject)).get("authData");
    assert.deepEqual([...attested.subarray(-3)], [0, 0, 0]);

    const packed = cborDecode(fromB64url((await create({ fmt: "packed", attStmt: { alg: -7 } })).response.attestationObject));
    assert.equal(packed.get("fmt"), "packed");
    assert.equal(packed.get("attStmt").get("alg"), -7);

    const truncated = await create({ garbageCbor: true });
    assert.throws(() => cborDecode(fromB64url(truncated.response.attestationObject)));
    assert.equal(parseAuthData(fromB64url(truncated.response.authenticatorData)).credentialId.length, 32);
    // The credential public key cut short (for ES256 inside y): a strict CBOR reader refuses
    // it. (The library's reader takes the short byte string as it comes; its registration check
    // accepts this one, so it is not among the refusals above.)
    const cutKey = await create({ garbageCbor: "coseKey" });
    const cutKeyData = parseAuthData(fromB64url(cutKey.response.authenticatorData));
    assert.equal(cutKeyData.credentialId.length, 32);
    assert.throws(() => cborDecode(cutKeyData.rest));
    assert.equal(b64url(cborDecode(fromB64url(cutKey.response.attestationObject)).get("authData")), cutKey.response.authenticatorData);
  });

  test("client data knobs: crossOrigin, topOrigin, extra members, a raw override", async () => {
    const crossed = await create({ crossOrigin: true, topOrigin: "https://top.example" });
    assert.equal(
      text(crossed.response.clientDataJSON),
      `{"type":"webauthn.create","challenge":"${options.challenge}","origin":"${ORIGIN}","crossOrigin":true,"topOrigin":"https://top.example"}`,
    );
    const extra = await create({ extraClientData: { other_keys_can_be_added_here: "x", origin: "https://evil.example" } });
    assert.ok(text(extra.response.clientDataJSON).endsWith(`"crossOrigin":false,"other_keys_can_be_added_here":"x","origin":"https://evil.example"}`));
    await assert.rejects(verifyRegistration(extra, options), /origin/);
    const raw = await create({ clientDataJSON: "{not json" });
    assert.equal(text(raw.response.clientDataJSON), "{not json");
    await assert.rejects(verifyRegistration(raw, options));
  });
});

describe("tampered assertions", () => {
  for (const { alg } of ALGS) {
    describe(alg, () => {
      const authenticator = new SoftAuthenticator({ alg });
      let registered;
      let request;
      before(async () => {
        registered = await register(authenticator);
        request = await authenticationOptions();
      });
      // The relying party's stored count stays 1: every honest assertion here reports more.
      const stored = () => ({ ...registered.credential, counter: 1 });
      const get = (tamper) => authenticator.get(request, ORIGIN, tamper);

      const refused = [
        ["origin", { origin: "https://evil.example" }, /origin/],
        ["type", { type: "webauthn.create" }, /type/],
        ["challenge", { challenge: b64url(new Uint8Array(32)) }, /challenge/],
        ["rpId", { rpId: "evil.example" }, /RP ID/],
        ["up", { up: false }, /User not present/],
        ["uv", { uv: false }, /User verification/],
        ["counter replayed", { counter: 1 }, /counter/],
        ["crossOrigin without an expected top origin", { crossOrigin: true, topOrigin: "https://top.example" }, /top origin/],
        ["trailingBytes", { trailingBytes: Uint8Array.of(0) }, /Leftover bytes/],
        ["garbageCbor truncated", { garbageCbor: "truncated" }, /37 bytes/],
        ["garbageCbor extensions", { garbageCbor: "extensions" }, /well formed/],
      ];
      for (const [name, tamper, reason] of refused) {
        test(`refused: ${name}`, async () => {
          await assert.rejects(verifyAuthentication(await get(tamper), request, stored()), reason);
        });
      }

      test("refused: signWith other (the signature does not verify)", async () => {
        const assertion = await get({ signWith: "other" });
        assert.equal((await verifyAuthentication(assertion, request, stored())).verified, false);
        assert.equal(nodeVerifies(alg, registered.response.response.publicKey, assertion), false);
      });

      test("each knob changes only its part: expecting the tampered value, the library accepts", async () => {
        const accepted = async (tamper, extra) =>
          assert.equal((await verifyAuthentication(await get(tamper), request, stored(), extra)).verified, true);
        await accepted({ origin: "https://evil.example" }, { expectedOrigin: "https://evil.example" });
        await accepted({ rpId: "evil.example" }, { expectedRPID: "evil.example" });
        await accepted({ uv: false }, { requireUserVerification: false });
        const challenge = b64url(new Uint8Array(32));
        await accepted({ challenge }, { expectedChallenge: challenge });
        await accepted({ type: "webauthn.create" }, { expectedType: "webauthn.create" });
        await accepted({ crossOrigin: true, topOrigin: "https://top.example" }, { expectedTopOrigin: "https://top.example" });
        await accepted({ extraClientData: { note: "x" } });
        await accepted({ be: true, bs: true });
        const byCounter = await get({ counter: 1000 });
        assert.equal((await verifyAuthentication(byCounter, request, stored())).authenticationInfo.newCounter, 1000);
        // Knobs the library refuses are still correctly signed over the bytes sent.
        for (const tamper of [{ trailingBytes: 4 }, { garbageCbor: true }, { garbageCbor: "extensions" }, { clientDataJSON: "{}" }]) {
          assert.ok(nodeVerifies(alg, registered.response.response.publicKey, await get(tamper)), JSON.stringify(tamper));
        }
      });

      test("claimed credential id and user handle", async () => {
        const claimed = b64url(Uint8Array.of(1, 2, 3));
        const assertion = await get({ credentialId: claimed });
        assert.equal(assertion.id, claimed);
        assert.equal(assertion.rawId, claimed);
        // Signed by the credential the authenticator picked: only the id is a lie.
        const claimedResult = await verifyAuthentication(assertion, request, { ...stored(), id: claimed });
        assert.equal(claimedResult.verified, true);
        const withoutHandle = await get({ userHandle: null });
        assert.equal("userHandle" in withoutHandle.response, false);
        const otherHandle = b64url(Uint8Array.of(9));
        assert.equal((await get({ userHandle: otherHandle })).response.userHandle, otherHandle);
      });

      test("flags and counter as asked; an explicit count does not move the stored one", async () => {
        const before = authenticator.credentials[0].counter;
        const data = parseAuthData(fromB64url((await get({ be: true, bs: false, up: false, counter: 5 })).response.authenticatorData));
        assert.equal(data.flags, 0x04 | 0x08);
        assert.equal(data.signCount, 5);
        assert.equal(authenticator.credentials[0].counter, before);
        const truncated = fromB64url((await get({ garbageCbor: true })).response.authenticatorData);
        assert.equal(truncated.length, 35);
        const extended = parseAuthData(fromB64url((await get({ garbageCbor: "extensions" })).response.authenticatorData));
        assert.equal(extended.flags & 0x80, 0x80);
        assert.throws(() => cborDecode(extended.rest));
      });
    });
  }
});
