// A software WebAuthn authenticator and client for the end-to-end tests: it plays both the
// browser (clientDataJSON, the JSON forms of PublicKeyCredential) and a platform authenticator
// holding discoverable credentials (attestation "none", user verification always performed,
// ES256, EdDSA or RS256 keys made with WebCrypto, private keys non-extractable).
//
// Honest ceremonies follow WebAuthn Level 3 and are what a verifier must accept. Every ceremony
// also takes a `tamper` object; each knob in it changes exactly one thing and leaves everything
// else correct (in particular the assertion's signature always covers the bytes actually sent),
// so a test can check that the relying party refuses each defect on its own merits:
//
//   client data (create and get)
//     origin            string: the origin written into clientDataJSON
//     type              string: clientDataJSON.type instead of "webauthn.create" / "webauthn.get"
//     challenge         string: written verbatim instead of the options' challenge
//     crossOrigin       any JSON value instead of false
//     topOrigin         any JSON value: adds a topOrigin member (crossOrigin is left alone)
//     extraClientData   object: members appended after the standard ones, in order (a name that
//                       is already there gives a duplicate member, which JSON.parse resolves to
//                       the last one)
//     clientDataJSON    string or bytes: the whole clientDataJSON, as is
//   authenticator data (create and get)
//     rpId              string: the RP ID whose SHA-256 goes into rpIdHash
//     up, uv            false clears the flag (true sets it, as honest)
//     be, bs            boolean: the backup eligibility / backup state flags
//     counter           uint32: the sign count reported; the credential's stored count is left as
//                       it was
//     credentialId      base64url. create: the new credential gets this id (replacing a held
//                       credential of that id). get: the response claims this id, verbatim; if
//                       the authenticator holds a credential with this id it signs with that one
//                       (whatever allowCredentials and rpId say), otherwise with the credential
//                       it would have picked
//     garbageCbor       true or "truncated": create: the attestationObject cut short inside its
//                       authData; get: authenticatorData cut to 35 bytes (before the end of the
//                       sign count). "extensions": the ED flag set and a truncated CBOR map as
//                       the extensions. "coseKey" (create only): authData ends 5 bytes short
//                       of the end of the credential public key
//     trailingBytes     Uint8Array, array of byte values, or a count of zero bytes: appended
//                       after the authenticator data (no flag says so)
//   create only
//     coseAlg           number: the alg (label 3) of the COSE key, the key itself unchanged
//     fmt               string: the attestation format (the statement stays {})
//     attStmt           object: the attestation statement (CBOR-encoded as given)
//     credentialIdLength  number: a random credential id of this many bytes
//     noAttestedData    true: no AT flag and no attested credential data
//   get only
//     signWith          "other": sign with a fresh key of the same algorithm
//     userHandle        base64url string to return as userHandle; null omits it
//
// A tampered response is still a plain JSON object of the normal shape. The registration
// response's publicKey (SPKI) and publicKeyAlgorithm always describe the real key, and its
// authenticatorData always equals the authData inside attestationObject, except with
// garbageCbor "truncated", where only attestationObject is broken.
//
// Sign counts: each credential starts at the constructor's `counter`, which the registration
// reports; every assertion adds one and reports the new count. A credential whose count is 0
// reports 0 forever, like a synced passkey. `credentials` is the live list of what the
// authenticator holds; a test may change a record's counter.
import { decode as cborgDecode, encode as cborgEncode } from "cborg";

const subtle = globalThis.crypto.subtle;

// --- Encodings ---------------------------------------------------------------------------------

/** base64url without padding of bytes (Uint8Array, ArrayBuffer or any ArrayBufferView). */
export function b64url(bytes) {
  return Buffer.from(toBytes(bytes)).toString("base64url");
}

/** Bytes of a base64url string without padding; anything else (padding, "+", "/") throws. */
export function fromB64url(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new TypeError(`not base64url without padding: ${JSON.stringify(text)}`);
  }
  return new Uint8Array(Buffer.from(text, "base64url"));
}

/**
 * CBOR of a value, maps in insertion order (no sorting): a Map for integer keys (COSE keys), a
 * plain object for text keys, Uint8Array for byte strings.
 */
export function cborEncode(value) {
  return cborgEncode(value, { mapSorter: undefined });
}

/** The CBOR item in bytes, maps as Map (integer keys survive); trailing bytes throw. */
export function cborDecode(bytes) {
  return cborgDecode(toBytes(bytes), { useMaps: true });
}

/**
 * ASN.1 DER (SEQUENCE of two INTEGERs) of an ECDSA signature given as r || s, as WebCrypto
 * returns it; WebAuthn authenticators send the DER form.
 */
export function ecdsaRawToDer(raw) {
  const bytes = toBytes(raw);
  if (bytes.length === 0 || bytes.length % 2 !== 0) throw new RangeError("r || s of even length expected");
  const half = bytes.length / 2;
  const body = concat(derInteger(bytes.subarray(0, half)), derInteger(bytes.subarray(half)));
  return concat(Uint8Array.of(0x30), derLength(body.length), body);
}

function derInteger(unsigned) {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  let value = unsigned.subarray(start);
  if (value[0] & 0x80) value = concat(Uint8Array.of(0), value);
  return concat(Uint8Array.of(0x02), derLength(value.length), value);
}

function derLength(length) {
  if (length < 0x80) return Uint8Array.of(length);
  const octets = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest & 0xff);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("bytes expected (Uint8Array, ArrayBuffer or an ArrayBufferView)");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const utf8 = (text) => new TextEncoder().encode(text);
const sha256 = async (bytes) => new Uint8Array(await subtle.digest("SHA-256", bytes));
const randomBytes = (length) => globalThis.crypto.getRandomValues(new Uint8Array(length));

// --- Algorithms --------------------------------------------------------------------------------

const ALGORITHMS = {
  ES256: {
    cose: -7,
    generate: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
    // WebCrypto signs as r || s; authenticators send DER.
    encodeSignature: ecdsaRawToDer,
    async coseKey(publicKey, alg) {
      const point = new Uint8Array(await subtle.exportKey("raw", publicKey)); // 04 || x || y
      return new Map([[1, 2], [3, alg], [-1, 1], [-2, point.slice(1, 33)], [-3, point.slice(33, 65)]]);
    },
  },
  EdDSA: {
    cose: -8,
    generate: { name: "Ed25519" },
    sign: { name: "Ed25519" },
    encodeSignature: (signature) => signature,
    async coseKey(publicKey, alg) {
      const x = new Uint8Array(await subtle.exportKey("raw", publicKey));
      return new Map([[1, 1], [3, alg], [-1, 6], [-2, x]]);
    },
  },
  RS256: {
    cose: -257,
    generate: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: Uint8Array.of(1, 0, 1),
      hash: "SHA-256",
    },
    sign: { name: "RSASSA-PKCS1-v1_5" },
    encodeSignature: (signature) => signature,
    async coseKey(publicKey, alg) {
      const jwk = await subtle.exportKey("jwk", publicKey);
      return new Map([[1, 3], [3, alg], [-1, fromB64url(jwk.n)], [-2, fromB64url(jwk.e)]]);
    },
  },
};

async function generateKeyPair(alg) {
  return subtle.generateKey(ALGORITHMS[alg].generate, false, ["sign", "verify"]);
}

async function signWithKey(alg, privateKey, message) {
  const algorithm = ALGORITHMS[alg];
  return algorithm.encodeSignature(new Uint8Array(await subtle.sign(algorithm.sign, privateKey, message)));
}

// --- Tamper knobs ------------------------------------------------------------------------------

const CLIENT_DATA_KNOBS = ["origin", "type", "challenge", "crossOrigin", "topOrigin", "extraClientData", "clientDataJSON"];
const AUTH_DATA_KNOBS = ["rpId", "up", "uv", "be", "bs", "counter", "credentialId", "garbageCbor", "trailingBytes"];
const CREATE_KNOBS = new Set([
  ...CLIENT_DATA_KNOBS,
  ...AUTH_DATA_KNOBS,
  "coseAlg",
  "fmt",
  "attStmt",
  "credentialIdLength",
  "noAttestedData",
]);
const GET_KNOBS = new Set([...CLIENT_DATA_KNOBS, ...AUTH_DATA_KNOBS, "signWith", "userHandle"]);
const GARBAGE = { create: [true, "truncated", "extensions", "coseKey"], get: [true, "truncated", "extensions"] };

/** Whether the knob is given (present and not undefined; null counts as given). */
const has = (tamper, knob) => Object.hasOwn(tamper, knob) && tamper[knob] !== undefined;

function checkTamper(tamper, allowed, ceremony) {
  if (tamper === null || typeof tamper !== "object") throw new TypeError("tamper must be an object");
  for (const knob of Object.keys(tamper)) {
    if (!allowed.has(knob)) throw new TypeError(`unknown tamper knob for ${ceremony}: ${knob}`);
  }
  if (has(tamper, "garbageCbor") && !GARBAGE[ceremony].includes(tamper.garbageCbor)) {
    throw new TypeError(`tamper.garbageCbor for ${ceremony} is one of ${GARBAGE[ceremony].join(", ")}`);
  }
  if (has(tamper, "counter") && !isUint32(tamper.counter)) throw new RangeError("tamper.counter must be a uint32");
  if (has(tamper, "signWith") && tamper.signWith !== "other") throw new TypeError('tamper.signWith must be "other"');
  if (has(tamper, "credentialId") && has(tamper, "credentialIdLength")) {
    throw new TypeError("tamper.credentialId and tamper.credentialIdLength exclude each other");
  }
  if (has(tamper, "credentialIdLength")) {
    const length = tamper.credentialIdLength;
    if (!Number.isInteger(length) || length < 0 || length > 0xffff) {
      throw new RangeError("tamper.credentialIdLength must fit the 2-byte length (0..65535)");
    }
  }
}

const isUint32 = (value) => Number.isInteger(value) && value >= 0 && value <= 0xffffffff;

function trailingBytesOf(value) {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) throw new RangeError("tamper.trailingBytes count must be >= 0");
    return new Uint8Array(value);
  }
  if (Array.isArray(value)) return Uint8Array.from(value);
  return toBytes(value);
}

// --- Client data and authenticator data ---------------------------------------------------------

/** clientDataJSON bytes: type, challenge, origin, crossOrigin in that order, then any extras. */
function clientDataJSON(type, challenge, origin, tamper) {
  if (has(tamper, "clientDataJSON")) {
    const raw = tamper.clientDataJSON;
    return typeof raw === "string" ? utf8(raw) : toBytes(raw);
  }
  const members = [
    ["type", has(tamper, "type") ? tamper.type : type],
    ["challenge", has(tamper, "challenge") ? tamper.challenge : challenge],
    ["origin", has(tamper, "origin") ? tamper.origin : origin],
    ["crossOrigin", has(tamper, "crossOrigin") ? tamper.crossOrigin : false],
  ];
  if (has(tamper, "topOrigin")) members.push(["topOrigin", tamper.topOrigin]);
  for (const [name, value] of Object.entries(tamper.extraClientData ?? {})) members.push([name, value]);
  return utf8(`{${members.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(",")}}`);
}

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };
// A CBOR map of one entry whose text key announces 11 bytes ("credProtect") and brings 5.
const MALFORMED_EXTENSIONS = Uint8Array.of(0xa1, 0x6b, 0x63, 0x72, 0x65, 0x64, 0x50);

/**
 * rpIdHash | flags | signCount | [attested credential data] | [extensions] | [trailing bytes].
 * `attested` is { aaguid, credentialId, coseKey } with coseKey already encoded.
 */
async function authenticatorData({ rpId, flags, signCount, attested, extensions, trailing }) {
  const head = new Uint8Array(37);
  head.set(await sha256(utf8(rpId)), 0);
  head[32] = flags | (attested ? FLAG.AT : 0) | (extensions ? FLAG.ED : 0);
  new DataView(head.buffer).setUint32(33, signCount, false);
  const parts = [head];
  if (attested) {
    const idLength = new Uint8Array(2);
    new DataView(idLength.buffer).setUint16(0, attested.credentialId.length, false);
    parts.push(attested.aaguid, idLength, attested.credentialId, attested.coseKey);
  }
  if (extensions) parts.push(extensions);
  if (trailing) parts.push(trailing);
  return concat(...parts);
}

/** The RP ID must be the origin's host or a parent domain of it (no public suffix list). */
function checkRpId(rpId, origin) {
  const host = new URL(origin).hostname;
  const ip = /^[\d.]+$/.test(host) || host.startsWith("[");
  if (rpId === host || (!ip && host.endsWith(`.${rpId}`))) return;
  throw new DOMException(`RP ID ${JSON.stringify(rpId)} is not valid for origin ${origin}`, "SecurityError");
}

function parseAaguid(aaguid) {
  if (aaguid === undefined) return new Uint8Array(16);
  if (typeof aaguid === "string") {
    const hex = aaguid.replaceAll("-", "");
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError("aaguid must be a UUID or 32 hex digits");
    return new Uint8Array(Buffer.from(hex, "hex"));
  }
  const bytes = toBytes(aaguid);
  if (bytes.length !== 16) throw new RangeError("aaguid must be 16 bytes");
  return new Uint8Array(bytes);
}

// --- The authenticator -------------------------------------------------------------------------

export class SoftAuthenticator {
  /** What the authenticator holds: [{ id, userHandle, rpId, alg, counter }], oldest first. */
  credentials = [];
  /** Each credential record's key pair. */
  #keys = new WeakMap();
  #alg;
  #backupEligible;
  #backedUp;
  #counter;
  #aaguid;

  constructor({ alg = "ES256", backupEligible = false, backedUp = false, counter = 1, aaguid } = {}) {
    if (!Object.hasOwn(ALGORITHMS, alg)) throw new TypeError(`alg must be one of ${Object.keys(ALGORITHMS).join(", ")}`);
    if (!isUint32(counter)) throw new RangeError("counter must be a uint32");
    this.#alg = alg;
    this.#backupEligible = Boolean(backupEligible);
    this.#backedUp = Boolean(backedUp);
    this.#counter = counter;
    this.#aaguid = parseAaguid(aaguid);
  }

  /** The algorithm of the credentials this authenticator makes. */
  get alg() {
    return this.#alg;
  }

  #flags(tamper) {
    let flags = FLAG.UP | FLAG.UV;
    if (tamper.up === false) flags &= ~FLAG.UP;
    if (tamper.uv === false) flags &= ~FLAG.UV;
    if (has(tamper, "be") ? tamper.be : this.#backupEligible) flags |= FLAG.BE;
    if (has(tamper, "bs") ? tamper.bs : this.#backedUp) flags |= FLAG.BS;
    return flags;
  }

  /**
   * navigator.credentials.create() with the JSON form of PublicKeyCredentialCreationOptions, at
   * the page `origin`; returns the RegistrationResponseJSON.
   */
  async create(options, origin, tamper = {}) {
    checkTamper(tamper, CREATE_KNOBS, "create");
    const rpId = options.rp?.id ?? new URL(origin).hostname;
    checkRpId(rpId, origin);
    const challenge = b64url(fromB64url(options.challenge));
    const userHandle = fromB64url(options.user?.id);
    if (userHandle.length < 1 || userHandle.length > 64) throw new TypeError("user.id must be 1 to 64 bytes");
    const algorithm = ALGORITHMS[this.#alg];
    const params = options.pubKeyCredParams ?? [];
    if (params.length > 0 && !params.some((p) => p.type === "public-key" && p.alg === algorithm.cose)) {
      throw new DOMException(`no ${this.#alg} (${algorithm.cose}) among pubKeyCredParams`, "NotSupportedError");
    }
    const excluded = new Set((options.excludeCredentials ?? []).map((c) => c.id));
    if (this.credentials.some((c) => c.rpId === rpId && excluded.has(c.id))) {
      throw new DOMException("the authenticator holds an excluded credential", "InvalidStateError");
    }

    let credentialId;
    if (has(tamper, "credentialId")) credentialId = fromB64url(tamper.credentialId);
    else credentialId = randomBytes(has(tamper, "credentialIdLength") ? tamper.credentialIdLength : 32);
    const keyPair = await generateKeyPair(this.#alg);
    const record = {
      id: b64url(credentialId),
      userHandle: b64url(userHandle),
      rpId,
      alg: this.#alg,
      counter: this.#counter,
    };

    const clientData = clientDataJSON("webauthn.create", challenge, origin, tamper);
    let coseKey = cborEncode(await algorithm.coseKey(keyPair.publicKey, has(tamper, "coseAlg") ? tamper.coseAlg : algorithm.cose));
    let extensions;
    if (tamper.garbageCbor === "coseKey") coseKey = coseKey.subarray(0, coseKey.length - 5);
    if (tamper.garbageCbor === "extensions") extensions = MALFORMED_EXTENSIONS;
    const authData = await authenticatorData({
      rpId: has(tamper, "rpId") ? tamper.rpId : rpId,
      flags: this.#flags(tamper),
      signCount: has(tamper, "counter") ? tamper.counter : record.counter,
      attested: tamper.noAttestedData ? undefined : { aaguid: this.#aaguid, credentialId, coseKey },
      extensions,
      trailing: has(tamper, "trailingBytes") ? trailingBytesOf(tamper.trailingBytes) : undefined,
    });
    let attestationObject = cborEncode({
      fmt: has(tamper, "fmt") ? tamper.fmt : "none",
      attStmt: has(tamper, "attStmt") ? tamper.attStmt : {},
      authData,
    });
    if (tamper.garbageCbor === true || tamper.garbageCbor === "truncated") {
      // Cut inside the authData byte string: its header announces more bytes than follow.
      attestationObject = attestationObject.subarray(0, attestationObject.length - Math.ceil(authData.length / 2));
    }

    // Credential ids are unique on an authenticator: a new credential under a held id replaces it.
    const held = this.credentials.findIndex((c) => c.id === record.id);
    if (held !== -1) this.credentials.splice(held, 1);
    this.credentials.push(record);
    this.#keys.set(record, keyPair);
    const clientExtensionResults = {};
    if (options.extensions?.credProps) clientExtensionResults.credProps = { rk: true };
    return {
      id: record.id,
      rawId: record.id,
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(attestationObject),
        transports: ["internal"],
        publicKeyAlgorithm: algorithm.cose,
        publicKey: b64url(await subtle.exportKey("spki", keyPair.publicKey)),
        authenticatorData: b64url(authData),
      },
      clientExtensionResults,
      authenticatorAttachment: "platform",
    };
  }

  /**
   * navigator.credentials.get() with the JSON form of PublicKeyCredentialRequestOptions, at the
   * page `origin`; returns the AuthenticationResponseJSON.
   */
  async get(options, origin, tamper = {}) {
    checkTamper(tamper, GET_KNOBS, "get");
    const rpId = options.rpId ?? new URL(origin).hostname;
    checkRpId(rpId, origin);
    const challenge = b64url(fromB64url(options.challenge));
    const record = this.#pick(options, rpId, tamper);
    const claimedId = has(tamper, "credentialId") ? tamper.credentialId : record.id;

    let signCount;
    if (has(tamper, "counter")) signCount = tamper.counter;
    else {
      if (record.counter !== 0) record.counter = (record.counter + 1) % 0x100000000;
      signCount = record.counter;
    }
    const clientData = clientDataJSON("webauthn.get", challenge, origin, tamper);
    const garbage = tamper.garbageCbor;
    let authData = await authenticatorData({
      rpId: has(tamper, "rpId") ? tamper.rpId : rpId,
      flags: this.#flags(tamper),
      signCount,
      extensions: garbage === "extensions" ? MALFORMED_EXTENSIONS : undefined,
      trailing: has(tamper, "trailingBytes") ? trailingBytesOf(tamper.trailingBytes) : undefined,
    });
    if (garbage === true || garbage === "truncated") authData = authData.subarray(0, 35);

    const privateKey = tamper.signWith === "other"
      ? (await generateKeyPair(record.alg)).privateKey
      : this.#keys.get(record).privateKey;
    const signature = await signWithKey(record.alg, privateKey, concat(authData, await sha256(clientData)));

    const response = {
      clientDataJSON: b64url(clientData),
      authenticatorData: b64url(authData),
      signature: b64url(signature),
    };
    const userHandle = Object.hasOwn(tamper, "userHandle") ? tamper.userHandle : record.userHandle;
    if (userHandle !== null && userHandle !== undefined) response.userHandle = userHandle;
    return {
      id: claimedId,
      rawId: claimedId,
      type: "public-key",
      response,
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  /**
   * The credential to sign with: the one tamper.credentialId names if held; else the first held
   * one for the RP in a non-empty allowCredentials; else the newest one for the RP.
   */
  #pick(options, rpId, tamper) {
    if (has(tamper, "credentialId")) {
      const named = this.credentials.find((c) => c.id === tamper.credentialId);
      if (named) return named;
    }
    const forRp = this.credentials.filter((c) => c.rpId === rpId);
    const allowed = options.allowCredentials ?? [];
    const record = allowed.length > 0
      ? allowed.map((d) => forRp.find((c) => c.id === d.id)).find(Boolean)
      : forRp.at(-1);
    if (!record) throw new DOMException(`no credential for ${rpId} on this authenticator`, "NotAllowedError");
    return record;
  }
}
