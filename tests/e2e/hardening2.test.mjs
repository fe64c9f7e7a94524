// Hardening, second round, end to end against the built worker in workerd: one family per class
// of issue, each sent raw where a fetch client would refuse or rewrite the bytes.
// Header names that are not RFC 9110 tokens (non-ASCII bytes after a reserved name); method and
// path overrides that a framework behind the edge would honour; WebSocket upgrades from another
// site's page or on a method other than GET; a bearer token after a tab or another separator
// than one space.
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocketServer } from "ws";
import { startOrigin, startWorker, testKeys } from "./harness.mjs";
import { PASSWORD, addUser, assertNothingForwarded, rawGet, rawRequest, secureWorker, session } from "./support.mjs";

/** A JSON error answer (status, `error` code) read from a raw response. */
function assertJsonError(res, status, code, what) {
  assert.equal(res.status, status, `${what}: ${res.head.split("\r\n")[0]}\n${res.body}`);
  assert.match(res.head, /\r\ncontent-type: application\/json/i, `${what}: a JSON answer`);
  if (code !== undefined) assert.equal(JSON.parse(res.body).error, code, `${what}: ${res.body}`);
}

/**
 * An origin that reads requests off the socket itself, so that it records header names byte for
 * byte whatever they contain (Node's HTTP parser would refuse the very bytes under test before
 * a test could see them). Every request is answered 200 and the connection closed.
 */
async function startRawOrigin() {
  const heads = [];
  const server = net.createServer((socket) => {
    let received = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return;
      heads.push(received.subarray(0, end).toString("latin1"));
      socket.end("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    heads,
    async close() {
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("header names that are not tokens", () => {
  let origin;
  let edge;
  let cookie;
  before(async () => {
    origin = await startRawOrigin();
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", PUBLIC_PATHS: "/pub/" } });
    await addUser(edge, "alice");
    cookie = (await session(edge, "alice")).header();
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  // Reserved names with one byte outside the token characters: latin-1 bytes, UTF-8 sequences, DEL.
  const NAMES = [
    Buffer.from("X-Auth-User\xa0", "latin1"),
    Buffer.from("X-Auth-Üser", "utf8"),
    Buffer.from("X-Auth-\xdcser", "latin1"),
    Buffer.from("Remote-User\xe9", "latin1"),
    Buffer.from("X-Forwarded-For\xe9", "latin1"),
    Buffer.from("Cf-Access-Jwt-Assertion\xe9", "latin1"),
  ];
  // A control character in a name is refused by workerd itself (plain-text 400) before the edge
  // runs; bytes from 0x80 up are handed to the worker as latin-1 characters.
  const REFUSED_BY_THE_RUNTIME = [Buffer.from("X-User\x7f", "latin1"), Buffer.from("X-Auth\x01User", "latin1")];
  const MARK = "mallory-forged";

  /** A raw GET of `target` with the header `name: MARK` among `lines`. */
  function request(target, name, lines) {
    const head = Buffer.from(rawGet(edge.port, target, ["Accept: application/json", ...lines]).replace(/\r\n\r\n$/, "\r\n"), "latin1");
    return Buffer.concat([head, name, Buffer.from(`: ${MARK}\r\n\r\n`, "latin1")]);
  }

  test("the raw origin records what the edge forwards (control)", async () => {
    origin.heads.length = 0;
    const res = await rawRequest(edge.port, rawGet(edge.port, "/api/control", [`Cookie: ${cookie}`, `X-Plain: ${MARK}`]));
    assert.equal(res.status, 200, res.head);
    assert.equal(origin.heads.length, 1);
    assert.match(origin.heads[0], /\r\nx-auth-user: alice/i);
    assert.match(origin.heads[0], new RegExp(`\\r\\nx-plain: ${MARK}`, "i"));
  });

  test("a request naming one is refused with 400 JSON, signed in or not, and nothing reaches the origin", async () => {
    for (const name of NAMES) {
      for (const [target, lines] of [["/api/names", [`Cookie: ${cookie}`]], ["/pub/names", []]]) {
        origin.heads.length = 0;
        const what = `${target} ${JSON.stringify(name.toString("latin1"))}`;
        const res = await rawRequest(edge.port, request(target, name, lines));
        assert.deepEqual(origin.heads, [], `${what}: nothing may reach the origin`);
        assertJsonError(res, 400, "bad_request", what);
      }
    }
    for (const name of REFUSED_BY_THE_RUNTIME) {
      origin.heads.length = 0;
      const res = await rawRequest(edge.port, request("/pub/names", name, []));
      assert.equal(res.status, 400, JSON.stringify(name.toString("latin1")));
      assert.deepEqual(origin.heads, []);
    }
  });
});

describe("method and path overrides", () => {
  let origin;
  let edge;
  let cookie;
  before(async () => {
    origin = await startOrigin();
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", PUBLIC_PATHS: "/public/" } });
    await addUser(edge, "alice");
    cookie = (await session(edge, "alice")).header();
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  // What Express's method-override, Rails, Symfony, ASP.NET, Laravel, Spring's HiddenHttpMethod
  // variants, IIS URL Rewrite, Zend/Laminas and Envoy read as the real method or path.
  const OVERRIDES = [
    "X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "X-Original-URL", "X-Rewrite-URL",
    "X-Override-URL", "X-Envoy-Original-Path", "x_http_method_override", "X-Http-Method-Override ",
  ];
  const canonical = (name) => name.trim().toLowerCase().replace(/[^a-z0-9]/g, "-");

  test("are removed before forwarding, with and without identity", async () => {
    const lines = OVERRIDES.map((name, i) => `${name}: ${i < 3 || i === 7 || i === 8 ? "DELETE" : "/admin/delete-everything"}`);
    for (const [target, extra] of [["/api/x", [`Cookie: ${cookie}`]], ["/public/x", []]]) {
      await origin.clear();
      const res = await rawRequest(edge.port, rawGet(edge.port, target, ["Accept: application/json", ...extra, ...lines]));
      assert.equal(res.status, 200, `${target}: ${res.head.split("\r\n")[0]}`);
      const [seen] = await origin.requests();
      const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map(canonical);
      for (const name of OVERRIDES) assert.ok(!names.includes(canonical(name)), `${target}: ${name} reached the origin: ${JSON.stringify(seen.rawHeaders)}`);
      assert.equal(seen.method, "GET");
      assert.equal(seen.url, target);
    }
  });
});

/**
 * An origin that accepts WebSockets and records every upgrade and every plain request it gets
 * (method, url, headers).
 */
async function startSocketOrigin() {
  const upgrades = [];
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(404).end();
  });
  const sockets = new WebSocketServer({ server });
  sockets.on("connection", (socket, req) => {
    upgrades.push({ method: req.method, url: req.url, headers: req.headers });
    socket.send("hello");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    upgrades,
    requests,
    clear() {
      upgrades.length = 0;
      requests.length = 0;
    },
    async close() {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Sends a raw WebSocket handshake `method path` with extra header `lines` (and `body`) to `port`; resolves to
 * { status, head, body } at the end of the head for a 101 or a HEAD, else once the body is in.
 */
function upgrade(port, method, path, lines, body = "") {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to the ${method} upgrade`));
    }, 10000);
    const finish = (head, body) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(head.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? 0), head, body });
    };
    socket.on("connect", () =>
      socket.write(
        [
          `${method} ${path} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Accept: application/json",
          ...lines,
          "",
          body,
        ].join("\r\n"),
        "latin1",
      ),
    );
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = received.slice(0, end);
      const body = received.slice(end + 4);
      const length = Number(head.match(/\r\ncontent-length:\s*(\d+)/i)?.[1] ?? NaN);
      if (/^HTTP\/1\.1 101 /.test(head) || method === "HEAD" || body.length >= length) finish(head, body);
      else if (/\r\ntransfer-encoding:\s*chunked/i.test(head) && body.endsWith("0\r\n\r\n")) finish(head, body.replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/gi, ""));
    });
    socket.on("error", () => {});
    socket.on("close", () => finish(received.split("\r\n\r\n")[0], received.split("\r\n\r\n").slice(1).join("\r\n\r\n")));
  });
}

describe("websocket upgrades: the page that asks, and the method", () => {
  let origin;
  let edge;
  let cookie;
  const APP = "https://app.example";
  before(async () => {
    origin = await startSocketOrigin();
    edge = await secureWorker(origin, testKeys(), { vars: { PUBLIC_PATHS: "/public/", WEBSOCKET_ORIGINS: `${APP}, https://admin.app.example` } });
    await addUser(edge, "alice");
    cookie = (await session(edge, "alice")).header();
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("another site's page, a sibling subdomain or a look-alike cannot open the user's socket: 403 cross_site, nothing forwarded", async () => {
    const hostile = [
      "https://evil.example",
      "https://evil.app.example",
      "https://app.example.evil.example",
      "http://app.example",
      "https://app.example:8443",
      "https://APP.example.evil",
      "null",
      `http://127.0.0.1:${edge.port + 1}`,
      `http://localhost:${edge.port}`,
    ];
    for (const from of hostile) {
      for (const path of ["/live", "/public/live"]) {
        origin.clear();
        const res = await upgrade(edge.port, "GET", path, [`Cookie: ${cookie}`, `Origin: ${from}`]);
        assert.deepEqual(origin.upgrades, [], `${from} ${path}: no upgrade may reach the origin`);
        assert.deepEqual(origin.requests, [], `${from} ${path}: no request may reach the origin`);
        assertJsonError(res, 403, "cross_site", `${from} ${path}`);
      }
    }
  });

  test("the edge's own origin, a configured one, and a client without Origin still connect", async () => {
    for (const from of [`http://127.0.0.1:${edge.port}`, APP, "https://admin.app.example", undefined]) {
      origin.clear();
      const res = await upgrade(edge.port, "GET", "/live", [`Cookie: ${cookie}`, ...(from ? [`Origin: ${from}`] : [])]);
      assert.equal(res.status, 101, `${from}: ${res.head}`);
      assert.equal(origin.upgrades.length, 1, `${from}: the upgrade reached the origin`);
      assert.equal(origin.upgrades[0].headers["x-auth-user"], "alice");
    }
  });

  // workerd hands every request carrying `Upgrade: websocket` to the worker as a GET (through
  // Miniflare's entry worker and on a direct socket alike), so the edge cannot see a bodiless
  // HEAD, DELETE or OPTIONS handshake for what it was: the origin gets the GET handshake the edge
  // judged. A handshake with a body is seen as a GET carrying one and refused; the core refuses
  // any other method wherever a runtime reports it (src/auth/http/admission.rs tests).
  test("an upgrade on POST, PUT or PATCH is refused with JSON, never forwarded as GET", async () => {
    for (const method of ["POST", "PUT", "PATCH"]) {
      for (const path of ["/live", "/public/live"]) {
        origin.clear();
        const body = ["Content-Type: text/plain", "Content-Length: 1", "", "x"];
        const res = await upgrade(edge.port, method, path, [`Cookie: ${cookie}`, ...body.slice(0, 2)], body[3]);
        assert.deepEqual(origin.upgrades, [], `${method} ${path}: no upgrade may reach the origin`);
        assert.deepEqual(origin.requests, [], `${method} ${path}: no request may reach the origin`);
        assertJsonError(res, 400, "bad_request", `${method} ${path}`);
      }
    }
  });

  test("a bodiless HEAD, DELETE or OPTIONS handshake reaches the origin as nothing but the GET the edge judged", async () => {
    for (const method of ["HEAD", "DELETE", "OPTIONS"]) {
      origin.clear();
      await upgrade(edge.port, method, "/live", [`Cookie: ${cookie}`]).catch(() => {});
      assert.deepEqual(origin.requests, [], `${method}: no plain request reaches the origin`);
      assert.ok(origin.upgrades.every((seen) => seen.method === "GET"), `${method}: ${JSON.stringify(origin.upgrades.map((u) => u.method))}`);
    }
  });
});

describe("WEBSOCKET_ORIGINS is validated", () => {
  test("an entry that is not an exact origin answers 500 configuration_error naming the variable", async () => {
    const origin = await startOrigin();
    try {
      for (const value of ["https://app.example/", "app.example", "https://*.app.example", "https://app.example/chat", "ftp://app.example"]) {
        const edge = await startWorker({ vars: { ORIGIN_URL: origin.url, WEBSOCKET_ORIGINS: value } });
        try {
          const res = await edge.fetch("/anything", { headers: { accept: "application/json" } });
          assert.equal(res.status, 500, value);
          const body = await res.json();
          assert.equal(body.error, "configuration_error", value);
          assert.match(body.message, /WEBSOCKET_ORIGINS/, value);
        } finally {
          await edge.dispose();
        }
      }
      await assertNothingForwarded(origin);
    } finally {
      await origin.close();
    }
  });
});

describe("a bearer token after a tab or another separator", () => {
  let origin;
  let edge;
  let token;
  let cookie;
  before(async () => {
    origin = await startOrigin();
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", PUBLIC_PATHS: "/pub/" } });
    await addUser(edge, "alice");
    cookie = (await session(edge, "alice")).header();
    const res = await edge.fetch("/auth/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "password", username: "alice", password: PASSWORD }),
    });
    assert.equal(res.status, 200, "password grant");
    token = (await res.json()).access_token;
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("is judged or refused with 401 invalid_token, and the origin never sees it", async () => {
    const spellings = [
      `Bearer\t${token}`,
      `bearer\t\t${token}`,
      `BEARER \t ${token}`,
      `Bearer\x0b${token}`,
      `Bearer\xa0${token}`,
      `Bearer:${token}`,
      `Bearer,${token}`,
      `Basic dXNlcjpwdw==,\tBearer\t${token}`,
    ];
    for (const value of spellings) {
      for (const [target, extra] of [["/api/x", [`Cookie: ${cookie}`]], ["/api/x", []], ["/pub/x", []]]) {
        await origin.clear();
        const what = `${JSON.stringify(value.replace(token, "<token>"))} ${target}${extra.length ? " with cookies" : ""}`;
        const res = await rawRequest(edge.port, rawGet(edge.port, target, ["Accept: application/json", `Authorization: ${value}`, ...extra]));
        const seen = await origin.requests();
        for (const request of seen) {
          assert.ok(!JSON.stringify(request.rawHeaders).includes(token.split(".")[2]), `${what}: the token reached the origin`);
          assert.equal(request.headers.authorization, undefined, `${what}: Authorization reached the origin`);
        }
        assert.ok([200, 401].includes(res.status), `${what}: ${res.head.split("\r\n")[0]}`);
        if (res.status === 401) assert.equal(JSON.parse(res.body).error, "invalid_token", what);
        else if (target.startsWith("/api/")) assert.equal(seen[0]?.headers["x-auth-user"], "alice", `${what}: judged as the token's user`);
      }
    }
  });
});
