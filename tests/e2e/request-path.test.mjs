// The request path as rebuilt, end to end against the built worker in workerd: every failure
// kind answers the JSON error contract (never the runtime's plain-text 500), methods and bodies
// reach the origin as sent, and a response that carries session cookies is never cacheable by a
// shared cache.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startOrigin, testKeys } from "./harness.mjs";
import {
  ACCESS,
  REFRESH,
  addUser,
  assertNothingForwarded,
  auditEvents,
  rawRequest,
  secureWorker,
  session,
} from "./support.mjs";

const secrets = testKeys();
const API = { accept: "application/json" };

let origin;
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

const worker = (options) => secureWorker(origin, secrets, options);

/** Asserts a JSON error answer of the contract: status, `error` code and a message. */
async function assertJsonError(res, status, code) {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json();
  assert.equal(body.error, code);
  assert.equal(typeof body.message, "string");
  assert.ok(body.message.length > 0);
  return body;
}

describe("every failure answers the JSON error contract", () => {
  test("a configuration error: 500 configuration_error naming the variable", async () => {
    const edge = await worker({ vars: { ORIGIN_URL: "https://origin.example/app" } });
    try {
      const body = await assertJsonError(await edge.fetch("/anything", { headers: API }), 500, "configuration_error");
      assert.match(body.message, /ORIGIN_URL/);
      await auditEvents(edge, (e) => e.event === "config_invalid");
    } finally {
      await edge.dispose();
    }
  });

  test("a runtime call that throws (no ASSETS binding): 500 internal, logged", async () => {
    const edge = await worker({ assets: false });
    try {
      await assertJsonError(await edge.fetch("/auth/login"), 500, "internal");
      await auditEvents(edge, (e) => e.event === "internal_error");
    } finally {
      await edge.dispose();
    }
  });

  test("a GET or HEAD with a body: 400 bad_request, nothing forwarded", async () => {
    const edge = await worker();
    try {
      await addUser(edge, "carol");
      const jar = await session(edge, "carol");
      await origin.clear();
      for (const method of ["GET", "HEAD"]) {
        const raw = await rawRequest(
          edge.port,
          [
            `${method} /app HTTP/1.1`,
            `Host: 127.0.0.1:${edge.port}`,
            `Cookie: ${jar.header()}`,
            "Content-Type: text/plain",
            "Content-Length: 5",
            "Connection: close",
            "",
            "hello",
          ].join("\r\n"),
        );
        assert.equal(raw.status, 400, `${method}: ${raw.head}`);
        assert.match(raw.head, /content-type: application\/json/i);
        if (method === "GET") assert.equal(JSON.parse(raw.body).error, "bad_request");
      }
      await assertNothingForwarded(origin, "GET/HEAD with a body");
    } finally {
      await edge.dispose();
    }
  });

  test("the origin unreachable: 502 origin_unreachable", async () => {
    const dead = await startOrigin();
    const deadUrl = dead.url;
    await dead.close();
    const edge = await worker({ vars: { ORIGIN_URL: deadUrl } });
    try {
      await addUser(edge, "dave");
      const jar = await session(edge, "dave");
      await assertJsonError(await edge.fetch("/app", { headers: { ...API, cookie: jar.header() } }), 502, "origin_unreachable");
      // A refresh in place before the failure: the rotated tokens still reach the browser, whose
      // old refresh token is spent (without them its next refresh would count as reuse).
      const refreshOnly = `${REFRESH}=${jar.cookies.get(REFRESH)}`;
      const failed = await edge.fetch("/app", { headers: { ...API, cookie: refreshOnly } });
      await assertJsonError(failed, 502, "origin_unreachable");
      const renewed = failed.headers.getSetCookie().map((line) => line.split(";")[0].split("=")[0]);
      assert.deepEqual(renewed.sort(), [ACCESS, REFRESH].sort(), "the new cookies come with the 502");
    } finally {
      await edge.dispose();
    }
  });

  test("storage down: 503 unavailable; no session: 401 unauthenticated; unknown /auth path: 404", async () => {
    const edge = await worker({ faultyKv: ["SESSIONS"] });
    try {
      await assertJsonError(await edge.fetch("/auth/refresh", {
        method: "POST",
        headers: { ...API, cookie: `${REFRESH}=AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA` },
      }), 503, "unavailable");
      await assertJsonError(await edge.fetch("/app", { headers: API }), 401, "unauthenticated");
      await assertJsonError(await edge.fetch("/auth/nope", { headers: API }), 404, "not_found");
    } finally {
      await edge.dispose();
    }
  });
});

describe("forwarding", () => {
  let edge;
  let jar;
  before(async () => {
    edge = await worker();
    await addUser(edge, "erin");
    jar = await session(edge, "erin");
  });
  after(async () => {
    await edge?.dispose();
  });

  test("methods outside the common set reach the origin as sent, with their bodies", async () => {
    for (const method of ["PROPFIND", "MKCOL", "LOCK", "PURGE", "REPORT", "PATCH"]) {
      await origin.clear();
      const body = `<?xml version="1.0"?><${method.toLowerCase()}/>`;
      const res = await edge.fetch("/dav/folder?depth=1", {
        method,
        headers: { cookie: jar.header(), "content-type": "application/xml" },
        body,
      });
      assert.equal(res.status, 200, method);
      const [seen] = await origin.requests();
      assert.equal(seen.method, method);
      assert.equal(seen.url, "/dav/folder?depth=1");
      assert.equal(seen.body, body, `${method} body`);
      assert.equal(seen.headers["x-auth-user"], "erin");
    }
  });

  test("audit lines name the location that wrote them", async () => {
    const [line] = await auditEvents(edge, (e) => e.event === "login_ok");
    assert.equal(typeof line.location, "string", JSON.stringify(line));
    assert.ok(line.location.length > 0);
  });

  test("a 5 MB upload arrives byte for byte", async () => {
    await origin.clear();
    const payload = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const res = await edge.fetch("/upload", { method: "PUT", headers: { cookie: jar.header() }, body: payload });
    assert.equal(res.status, 200);
    const [seen] = await origin.requests();
    assert.equal(Buffer.from(seen.bodyBase64, "base64").equals(payload), true);
  });

  test("a response refreshed in place is private and uncacheable, whatever the origin said", async () => {
    const stale = new Map(jar.cookies);
    stale.delete(ACCESS);
    const cookie = [...stale].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await edge.fetch("/cacheable", {
      headers: {
        ...API,
        cookie,
        "x-origin-respond-headers": JSON.stringify({
          "cache-control": "public, max-age=600",
          "cdn-cache-control": "max-age=600",
          "surrogate-control": "max-age=600",
        }),
      },
    });
    assert.equal(res.status, 200);
    assert.ok(res.headers.getSetCookie().some((c) => c.startsWith(`${ACCESS}=`)), "refreshed in place");
    assert.equal(res.headers.get("cache-control"), "private, no-store");
    assert.equal(res.headers.get("cdn-cache-control"), null);
    assert.equal(res.headers.get("surrogate-control"), null);
    assert.equal(res.headers.get("x-origin"), "recording-origin", "the origin's other headers stay");
    // Without new cookies the origin's caching headers pass untouched.
    const plain = await edge.fetch("/cacheable", {
      headers: { ...API, cookie: jar.header(), "x-origin-respond-headers": JSON.stringify({ "cache-control": "public, max-age=600" }) },
    });
    assert.equal(plain.headers.get("cache-control"), "public, max-age=600");
    assert.deepEqual(plain.headers.getSetCookie(), []);
  });
});
