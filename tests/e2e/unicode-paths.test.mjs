// Path spellings that common origins equate by Unicode rules, end to end: the built worker in
// workerd with a role policy, in front of an origin that routes the way Unicode-aware servers
// and frameworks do. Rules are matched with ASCII case folding at heart, but such an origin
// NFKC-normalises the decoded path (`／` is `/`, `ｋ` and the Kelvin sign are `k`, `ſ` is `s`),
// compares case the Unicode way through upper case (`ı` is `I`, so `i`), drops invisible
// characters (zero-width ones, the word joiner, the BOM, the soft hyphen) and trailing dots and
// spaces of segments (Windows, IIS), and resolves dot segments last. Whatever the spelling, a
// member without the role must never get what the origin serves at a role path; members with
// the role still do, and ordinary paths, non-ASCII ones included, still work.
import assert from "node:assert/strict";
import http from "node:http";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { testKeys } from "./harness.mjs";
import { addUser, rawGet, rawRequest, secureWorker, session } from "./support.mjs";

const secrets = testKeys();
const POLICY = `
  /backoffice/ roles-any admin
  /docs/kb roles-any staff
  /docs/ public
  /pub/ public
`;

/** What the origin serves, by normalised route; the two guarded ones carry a marker. */
const CONTENT = {
  "/backoffice/ledger": "LEDGER-CONTENT",
  "/docs/kb": "KB-CONTENT",
  "/docs/intro": "INTRO-CONTENT",
  "/files/café": "CAFE-CONTENT",
  "/pub/café": "PUBLIC-CAFE-CONTENT",
};
/** The roles the origin's route needs, under the policy above. */
const NEEDS = { "/backoffice/ledger": "admin", "/docs/kb": "staff" };

const INVISIBLE = /[\u00AD\u200B-\u200D\u2060\uFEFF]/gu;

/** The route a Unicode-normalising origin acts on for the request target `url`. */
function route(url) {
  let path = url.split("?")[0];
  try {
    path = decodeURIComponent(path);
  } catch {
    return null;
  }
  path = path.replace(INVISIBLE, "").normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
  const segments = [];
  for (const raw of path.split("/")) {
    // Trailing dots and spaces go (Windows), but `..` stays a dot segment.
    const trimmed = raw.replace(/[. ]+$/u, "");
    const segment = trimmed === "" ? raw.replace(/ +$/u, "") : trimmed;
    if (segment === "..") segments.pop();
    else if (segment !== "." && segment !== "") segments.push(segment);
  }
  return `/${segments.join("/")}`;
}

/** A recording origin in this process: answers each known route with its content, else 404. */
async function startUnicodeOrigin() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const at = route(req.url);
    seen.push({ url: req.url, route: at, user: req.headers["x-auth-user"], roles: req.headers["x-auth-roles"] ?? "" });
    const body = CONTENT[at];
    res.writeHead(body ? 200 : 404, { "content-type": "text/plain; charset=utf-8" }).end(body ?? `no route ${at}`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    clear: () => void (seen.length = 0),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// Spellings of /backoffice/ledger (needs admin) and /docs/kb (needs staff), percent-encoded as a
// client would send them; RAW ones go out as raw UTF-8 bytes in the request line.
const GUARDED = [
  ["/bac%E2%84%AAoffice/ledger", "/backoffice/ledger"], // U+212A KELVIN SIGN
  ["/BAC%E2%84%AAOFFICE/LEDGER", "/backoffice/ledger"],
  ["/backoff%C4%B1ce/ledger", "/backoffice/ledger"], // U+0131 dotless i, upper case I
  ["/backoffice%EF%BC%8Fledger", "/backoffice/ledger"], // U+FF0F full-width solidus
  ["/%EF%BD%82ackoffice/ledger", "/backoffice/ledger"], // U+FF42 full-width b
  ["/back%E2%80%8Boffice/ledger", "/backoffice/ledger"], // U+200B zero-width space
  ["/backoffice%EF%BB%BF/ledger", "/backoffice/ledger"], // U+FEFF
  ["/backoffice./ledger", "/backoffice/ledger"],
  ["/backoffice%20/ledger", "/backoffice/ledger"],
  ["/backoffice/ledger.", "/backoffice/ledger"],
  ["/docs/%E2%84%AAb", "/docs/kb"], // public by /docs/ at the edge, /docs/kb at the origin
  ["/doc%C5%BF/kb", "/docs/kb"], // U+017F long s
  ["/docs%EF%BC%8Fkb", "/docs/kb"],
  ["/docs/%EF%BD%8Bb", "/docs/kb"], // U+FF4B full-width k
  ["/docs/k%E2%80%8Cb", "/docs/kb"], // U+200C
  ["/docs/k%E2%80%8Db", "/docs/kb"], // U+200D
  ["/docs/kb%E2%81%A0", "/docs/kb"], // U+2060 word joiner
  ["/docs/k%C2%ADb", "/docs/kb"], // U+00AD soft hyphen
  ["/docs/kb.", "/docs/kb"],
  ["/docs/kb%20", "/docs/kb"],
  ["/docs/kb.%20.", "/docs/kb"],
  ["/docs/KB", "/docs/kb"],
  ["RAW /bacKoffice/ledger", "/backoffice/ledger"],
  ["RAW /docs/Kb", "/docs/kb"],
  ["RAW /docſ/kb", "/docs/kb"],
];

// Spellings that would climb out of the public /docs/ once an origin normalises them.
const CLIMBING = [
  "/docs/%EF%BC%8E%EF%BC%8E/backoffice/ledger", // U+FF0E full-width full stops
  "/docs/.%E2%80%8B./backoffice/ledger",
  "/docs/..%E2%80%8B/backoffice/ledger",
  "/docs/%E2%80%A5/backoffice/ledger", // U+2025 two dot leader
  "/docs/intro%EF%BC%8F%EF%BC%8E%EF%BC%8E%EF%BC%8F%EF%BC%8E%EF%BC%8E%EF%BC%8Fbackoffice%EF%BC%8Fledger",
];

/** One GET through the edge as `jar`'s user (or nobody); RAW targets go as UTF-8 bytes. */
function get(edge, target, jar) {
  const lines = ["Accept: application/json", ...(jar ? [`Cookie: ${jar.header()}`] : [])];
  const raw = target.startsWith("RAW ");
  const request = rawGet(edge.port, raw ? target.slice(4) : target, lines);
  return rawRequest(edge.port, raw ? Buffer.from(request, "utf8") : request);
}

describe("Unicode spellings of a guarded path are as guarded as the path", () => {
  let origin, edge, jars;
  before(async () => {
    origin = await startUnicodeOrigin();
    edge = await secureWorker(origin, secrets, { vars: { ACCESS_POLICY: POLICY } });
    await addUser(edge, "alice", { roles: ["admin", "staff"] });
    await addUser(edge, "bob", { roles: ["member"] });
    jars = { alice: await session(edge, "alice"), bob: await session(edge, "bob") };
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("the origin in this test equates what the spellings claim", () => {
    for (const [target, expected] of GUARDED) {
      const url = target.startsWith("RAW ") ? encodeURI(target.slice(4)) : target;
      assert.equal(route(url), expected, target);
    }
    for (const target of CLIMBING) assert.equal(route(target), "/backoffice/ledger", target);
  });

  test("without the role, or without a session, no spelling gets the guarded content", async () => {
    const leaks = [];
    for (const who of [null, "bob"]) {
      for (const target of [...GUARDED.map(([t]) => t), ...CLIMBING]) {
        origin.clear();
        const res = await get(edge, target, who && jars[who]);
        for (const request of origin.seen) {
          const need = NEEDS[request.route];
          if (need && !request.roles.split(",").includes(need)) {
            leaks.push(`${target} as ${who ?? "nobody"}: the origin served ${request.route}`);
          }
        }
        if (/LEDGER-CONTENT|KB-CONTENT/.test(res.body)) leaks.push(`${target} as ${who ?? "nobody"}: ${res.status} with the content`);
        else if (origin.seen.length === 0) assert.ok([400, 401, 403].includes(res.status), `${target} as ${who ?? "nobody"}: ${res.status}`);
      }
    }
    assert.deepEqual(leaks, []);
  });

  test("spellings that climb out of a public folder once normalised are refused with 400", async () => {
    for (const who of [null, "alice"]) {
      for (const target of CLIMBING) {
        origin.clear();
        const res = await get(edge, target, who && jars[who]);
        assert.equal(res.status, 400, `${target} as ${who ?? "nobody"}`);
        const body = JSON.parse(res.body);
        assert.equal(body.error, "bad_request", target);
        assert.equal(typeof body.message, "string");
        assert.deepEqual(origin.seen, [], target);
      }
    }
  });

  test("a user with the role still gets the content by its name and by spellings the edge folds; others are refused with 400", async () => {
    // Letter case (Unicode, and `ı` as `i`) and trailing dots and spaces are folded like ASCII
    // case: these reach the origin for a user the rule admits.
    const folded = new Set(["/docs/KB", "/backoff%C4%B1ce/ledger", "/backoffice./ledger", "/backoffice%20/ledger", "/backoffice/ledger.", "/docs/kb.", "/docs/kb%20", "/docs/kb.%20."]);
    for (const [target, expected] of [["/backoffice/ledger", "/backoffice/ledger"], ["/docs/kb", "/docs/kb"], ...GUARDED]) {
      origin.clear();
      const res = await get(edge, target, jars.alice);
      if (res.status === 400) {
        assert.ok(!folded.has(target) && target !== expected, `${target} must be served`);
        assert.equal(JSON.parse(res.body).error, "bad_request", target);
        assert.deepEqual(origin.seen, [], target);
        continue;
      }
      assert.equal(res.status, 200, target);
      assert.ok(res.body.includes(CONTENT[expected]), target);
      assert.equal(origin.seen.length, 1, target);
      assert.equal(origin.seen[0].user, "alice");
    }
  });

  test("ordinary paths, non-ASCII ones included, still work", async () => {
    const cases = [
      ["/docs/intro", null, "INTRO-CONTENT"],
      ["/pub/caf%C3%A9", null, "PUBLIC-CAFE-CONTENT"],
      ["RAW /pub/café", null, "PUBLIC-CAFE-CONTENT"],
      ["/files/caf%C3%A9", "bob", "CAFE-CONTENT"],
      ["RAW /files/café", "bob", "CAFE-CONTENT"],
      ["/files/CAF%C3%89", "bob", "CAFE-CONTENT"],
    ];
    for (const [target, who, content] of cases) {
      origin.clear();
      const res = await get(edge, target, who && jars[who]);
      assert.equal(res.status, 200, target);
      assert.ok(Buffer.from(res.body, "latin1").toString("utf8").includes(content), target);
      assert.equal(origin.seen.length, 1, target);
      assert.equal(origin.seen[0].user, who ?? undefined, target);
    }
    // Signed-in paths still need the session, whatever their letters.
    origin.clear();
    assert.equal((await get(edge, "/files/caf%C3%A9", null)).status, 401);
    assert.deepEqual(origin.seen, []);
  });
});
