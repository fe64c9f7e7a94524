// The origin-side verification snippets of INTEGRATION.md, run against the real worker: the guide
// shows tests/integration/verify.mjs (jose), verify.py (PyJWT) and rust-verify/ (jwt-compact)
// byte for byte, and each of them must accept the assertion the origin really received and
// refuse every kind of bad one. Needs python3 with pyjwt and cryptography
// (scripts/setup.sh --test installs them) and cargo (the Rust snippet is built here, once).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac, createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ROOT, startOrigin, startWorker, testKeys, userRecord } from "./harness.mjs";
import { assertionVerifier } from "../integration/verify.mjs";

const run = promisify(execFile);
const PASSWORD = "correct horse battery staple";
const ISSUER = "https://edge.integration.example";
const AUDIENCE = "integration-origin";
const SNIPPETS = {
  node: "tests/integration/verify.mjs",
  python: "tests/integration/verify.py",
  rustManifest: "tests/integration/rust-verify/Cargo.toml",
  rustMain: "tests/integration/rust-verify/src/main.rs",
};
const RUST_TARGET = path.join(ROOT, "target/rust-verify");
const RUST_BIN = path.join(RUST_TARGET, "release/rust-verify");

// ---- the guide shows the files exactly ---------------------------------------------------------

/** Code blocks preceded by `<!-- file: PATH -->` in a Markdown document: [{ file, code }]. */
function fileBlocks(markdown) {
  const blocks = [];
  const re = /^<!-- file: (\S+) -->\n```[a-z]*\n([\s\S]*?)^```$/gm;
  for (const m of markdown.matchAll(re)) blocks.push({ file: m[1], code: m[2] });
  return blocks;
}

describe("INTEGRATION.md", () => {
  const guide = readFileSync(path.join(ROOT, "INTEGRATION.md"), "utf8");

  test("shows every snippet file, byte for byte", () => {
    const blocks = fileBlocks(guide);
    const shown = blocks.map((b) => b.file);
    for (const file of Object.values(SNIPPETS)) assert.ok(shown.includes(file), `${file} is not in INTEGRATION.md`);
    // every `file:` marker must be followed by its code block
    assert.equal(blocks.length, [...guide.matchAll(/^<!-- file: /gm)].length, "a file marker without a code block");
    for (const { file, code } of blocks) {
      assert.equal(code, readFileSync(path.join(ROOT, file), "utf8"), `INTEGRATION.md's copy of ${file} differs`);
    }
  });

  test("code blocks marked with a file in README.md match too", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    for (const { file, code } of fileBlocks(readme)) {
      assert.equal(code, readFileSync(path.join(ROOT, file), "utf8"), `README.md's copy of ${file} differs`);
    }
  });

  test("the pinned Python requirements are the ones the guide installs", () => {
    const pins = readFileSync(path.join(ROOT, "tests/integration/requirements.txt"), "utf8")
      .split("\n")
      .filter((line) => line && !line.startsWith("#"));
    assert.deepEqual(
      pins.map((p) => p.split("==")[0]),
      ["pyjwt", "cryptography"],
    );
    for (const pin of pins) assert.match(pin, /^[a-z]+==\d+\.\d+\.\d+$/);
  });
});

// ---- the snippets against the running worker ---------------------------------------------------

const b64url = (data) => Buffer.from(data).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

let origin;
let edge;
let workDir;
let jwksUrl;
let jwksFile;
let jwks;
/** What the origin received for one authenticated request: headers and the assertion. */
let received;
const secrets = testKeys();
const [assertionKid, assertionSeed] = secrets.ASSERTION_KEYS.split(":");
/** The worker's assertion signing key, rebuilt from its seed (PKCS#8 prefix for Ed25519). */
const signingKey = createPrivateKey({
  key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(assertionSeed, "base64url")]),
  format: "der",
  type: "pkcs8",
});

/** A JWT with the given header and claims, signed by `signer(input)`. */
function jwt(header, claims, signer) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(signer(input))}`;
}

/** An assertion like the worker's, signed with the worker's own key, with `changes` applied. */
function mint({ header = {}, claims = {} } = {}) {
  const t = now();
  return jwt(
    { alg: "EdDSA", kid: assertionKid, typ: "edgegate-assertion+jwt", ...header },
    {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "alice",
      sid: "c2Vzc2lvbi1pZC0xMjM0NTY",
      jti: "bWludGVkLWluLXRoZS10ZXN0",
      roles: ["admin"],
      knd: "assertion",
      iat: t,
      nbf: t,
      exp: t + 30,
      ...claims,
    },
    (input) => sign(null, Buffer.from(input), signingKey),
  );
}

/** The token with one character in the middle of its signature changed. */
function tamper(token) {
  const dot = token.lastIndexOf(".");
  const at = dot + Math.floor((token.length - dot) / 2);
  return token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
}

/** Logs alice in, makes one request through the edge and returns what the origin saw. */
async function throughTheEdge() {
  const login = await edge.fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: PASSWORD }),
  });
  assert.equal(login.status, 200, "login");
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  await origin.clear();
  const res = await edge.fetch("/reports/2024?view=full", { headers: { cookie } });
  assert.equal(res.status, 200);
  const [seen] = await origin.requests();
  assert.equal(seen.url, "/reports/2024?view=full");
  return seen.headers;
}

before(async () => {
  origin = await startOrigin();
  edge = await startWorker({ vars: { ORIGIN_URL: origin.url, ISSUER, ORIGIN_AUDIENCE: AUDIENCE }, secrets });
  await (await edge.kv("USERS")).put("user:alice", userRecord(PASSWORD, { roles: ["admin", "staff"] }));
  received = await throughTheEdge();
  jwksUrl = `${edge.url}/.well-known/jwks.json`;
  jwks = await (await fetch(jwksUrl)).json();
  workDir = mkdtempSync(path.join(tmpdir(), "edgegate-integration-"));
  jwksFile = path.join(workDir, "jwks.json");
  writeFileSync(jwksFile, JSON.stringify(jwks));
});
after(async () => {
  await edge?.dispose();
  await origin?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test("the origin received the identity headers and an assertion signed with the published key", () => {
  assert.equal(received["x-auth-user"], "alice");
  assert.equal(received["x-auth-roles"], "admin,staff");
  assert.match(received["x-auth-session"], /^[A-Za-z0-9_-]{22}$/);
  const header = JSON.parse(Buffer.from(received["x-auth-assertion"].split(".")[0], "base64url"));
  assert.deepEqual(header, { alg: "EdDSA", kid: assertionKid, typ: "edgegate-assertion+jwt" });
  assert.deepEqual(
    jwks.keys.map((k) => [k.kty, k.crv, k.kid, k.alg]),
    [["OKP", "Ed25519", assertionKid, "EdDSA"]],
  );
});

/**
 * Runs one verifier. Returns { ok: true, claims } or { ok: false, why }; anything else (a crash,
 * a usage error, a missing dependency) fails the test.
 */
async function outcome(promise) {
  try {
    const { stdout } = await promise;
    return { ok: true, claims: JSON.parse(stdout) };
  } catch (err) {
    if (err.code === 1 && /^refused: /m.test(err.stderr)) return { ok: false, why: err.stderr.trim() };
    throw err;
  }
}

let shared; // one verifier for the usual issuer and audience, as an origin would keep it
const nodeVerifier = () => (shared ??= assertionVerifier({ jwksUrl, issuer: ISSUER, audience: AUDIENCE }));
const verifiers = {
  "Node (jose), in-process": async (token, { issuer = ISSUER, audience = AUDIENCE } = {}) => {
    const verify = issuer === ISSUER && audience === AUDIENCE ? nodeVerifier() : assertionVerifier({ jwksUrl, issuer, audience });
    try {
      return { ok: true, claims: await verify(token) };
    } catch (err) {
      assert.ok(err.code?.startsWith("ERR_J") || /not an edgegate assertion/.test(err.message), `unexpected error: ${err.stack}`);
      return { ok: false, why: `${err.code}: ${err.message}` };
    }
  },
  "Node (jose), command line": (token, { issuer = ISSUER, audience = AUDIENCE } = {}) =>
    outcome(run(process.execPath, [path.join(ROOT, SNIPPETS.node), token, jwksUrl, issuer, audience])),
  "Python (PyJWT)": (token, { issuer = ISSUER, audience = AUDIENCE } = {}) =>
    outcome(run("python3", [path.join(ROOT, SNIPPETS.python), token, jwksUrl, issuer, audience])),
  "Rust (jwt-compact)": (token, { issuer = ISSUER, audience = AUDIENCE } = {}) =>
    outcome(run(RUST_BIN, [token, jwksFile, issuer, audience])),
};

for (const [name, verify] of Object.entries(verifiers)) {
  describe(name, () => {
    before(async () => {
      if (name.startsWith("Rust")) {
        // Incremental: only the first run compiles (about a minute on two cores).
        await run("cargo", ["build", "--release", "--locked", "--quiet", "--manifest-path", path.join(ROOT, SNIPPETS.rustManifest)], {
          cwd: ROOT,
          env: { ...process.env, CARGO_TARGET_DIR: RUST_TARGET },
          timeout: 600_000,
        });
      }
      // A fresh assertion for each verifier: one lives at most ASSERTION_TTL, less than a cold build.
      received = await throughTheEdge();
    });

    test("accepts the assertion the origin received, and its claims match the plain headers", async () => {
      const result = await verify(received["x-auth-assertion"]);
      assert.ok(result.ok, result.why);
      const claims = result.claims;
      assert.equal(claims.sub, received["x-auth-user"]);
      assert.equal(claims.sid, received["x-auth-session"]);
      assert.equal(claims.roles.join(","), received["x-auth-roles"]);
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, AUDIENCE);
      assert.equal(claims.knd, "assertion");
      assert.ok(claims.exp - claims.iat <= 60 && claims.exp >= now() - 5, JSON.stringify(claims));
    });

    test("accepts a fresh assertion from another request", async () => {
      const headers = await throughTheEdge();
      const result = await verify(headers["x-auth-assertion"]);
      assert.ok(result.ok, result.why);
      assert.equal(result.claims.sid, headers["x-auth-session"]);
    });

    test("accepts a well-formed assertion minted with the worker's key (the control for the refusals below)", async () => {
      const result = await verify(mint());
      assert.ok(result.ok, result.why);
      assert.equal(result.claims.sub, "alice");
    });

    const refusals = {
      "a tampered signature": () => [tamper(received["x-auth-assertion"])],
      "a changed claim under the original signature": () => {
        const [h, p, s] = received["x-auth-assertion"].split(".");
        const claims = JSON.parse(Buffer.from(p, "base64url"));
        return [`${h}.${b64url(JSON.stringify({ ...claims, sub: "mallory" }))}.${s}`];
      },
      "another audience": () => [received["x-auth-assertion"], { audience: "some-other-origin" }],
      "another issuer": () => [received["x-auth-assertion"], { issuer: "https://other-edge.example" }],
      "an expired assertion": () => [mint({ claims: { iat: now() - 120, nbf: now() - 120, exp: now() - 60 } })],
      "an assertion not yet valid": () => [mint({ claims: { iat: now() + 120, nbf: now() + 120, exp: now() + 150 } })],
      "an access token's typ": () => [mint({ header: { typ: "JWT" } })],
      "another kind of token (knd)": () => [mint({ claims: { knd: "access" } })],
      "a kid the JWKS does not have": () => [mint({ header: { kid: "unknown-kid" } })],
      "HS256 keyed with the public key (algorithm confusion)": () => {
        const x = Buffer.from(jwks.keys[0].x, "base64url");
        const claims = JSON.parse(Buffer.from(received["x-auth-assertion"].split(".")[1], "base64url"));
        const header = { alg: "HS256", kid: assertionKid, typ: "edgegate-assertion+jwt" };
        return [jwt(header, claims, (input) => createHmac("sha256", x).update(input).digest())];
      },
      "alg none": () => {
        const claims = JSON.parse(Buffer.from(received["x-auth-assertion"].split(".")[1], "base64url"));
        return [`${b64url(JSON.stringify({ alg: "none", kid: assertionKid, typ: "edgegate-assertion+jwt" }))}.${b64url(JSON.stringify(claims))}.`];
      },
    };
    for (const [what, args] of Object.entries(refusals)) {
      test(`refuses ${what}`, async () => {
        const result = await verify(...args());
        assert.equal(result.ok, false, `accepted: ${JSON.stringify(result.claims)}`);
      });
    }
  });
}
