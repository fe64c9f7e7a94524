// WebSockets end to end: a real WebSocket client (Node's own) through the built worker in workerd
// to a real WebSocket origin (the ws package). A signed-in upgrade reaches the origin with the
// identity headers, and the edge relays the socket: text and binary messages both ways, closes
// from either side, and its own close when the session ends (logout, a session ended from
// another device, a logout at another location), for both session stores. An upgrade without a
// session is refused with nothing reaching the origin.
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocketServer } from "ws";
import { testKeys } from "./harness.mjs";
import { Client, startLocations } from "./locations.mjs";
import { ACCESS, addUser, auditEvents, login, pseudonym, rawRequest, secureWorker, session } from "./support.mjs";

/** Seconds between the edge's checks of an open socket's session, in this file. */
const INTERVAL = 1;

/**
 * An origin that accepts WebSockets, greets each, echoes text as `echo: <text>` and binary as the
 * same bytes, and records each connection: its upgrade headers, and how its socket closed.
 */
async function startSocketOrigin() {
  const connections = [];
  const server = http.createServer((req, res) => res.writeHead(404).end());
  const sockets = new WebSocketServer({ server });
  sockets.on("connection", (socket, req) => {
    const closed = once(socket, "close").then(([code, reason]) => ({ code, reason: String(reason) }));
    connections.push({ headers: req.headers, socket, closed });
    socket.send("hello from the origin");
    socket.on("message", (data, binary) => (binary ? socket.send(data, { binary: true }) : socket.send(`echo: ${data}`)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    connections,
    get upgrades() {
      return connections.map((c) => c.headers);
    },
    async close() {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Opens a WebSocket to `url` with `headers` (and `protocols`, the subprotocols it offers);
 * resolves once open to { socket, next, closed }: `next(n)` waits for the first n messages (text
 * as strings, binary as Buffers), `closed` resolves to { code, reason, at } when the socket
 * closes. Rejects if it does not open.
 */
function connect(url, headers, protocols = []) {
  const socket = new WebSocket(url, { headers, protocols });
  socket.binaryType = "arraybuffer";
  const messages = [];
  const waiting = [];
  socket.addEventListener("message", (event) => {
    messages.push(typeof event.data === "string" ? event.data : Buffer.from(event.data));
    waiting.splice(0).forEach((wake) => wake());
  });
  const next = async (count) => {
    while (messages.length < count) await new Promise((wake) => waiting.push(wake));
    return messages.slice(0, count);
  };
  const closed = new Promise((resolve) =>
    socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason, at: Date.now() })),
  );
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve({ socket, next, closed }));
    socket.addEventListener("error", () => reject(new Error("the WebSocket did not open")));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails if `promise` has not settled within `ms`, naming `what`. */
function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";

/** Sends a raw upgrade of `path` from Firefox with `cookie` to `port`; resolves to the answer's head. */
function upgradeHead(port, path, cookie) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no answer to the upgrade"));
    }, 10000);
    socket.on("connect", () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          `User-Agent: ${FIREFOX}\r\nCookie: ${cookie}\r\n\r\n`,
      ),
    );
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
      const end = received.indexOf("\r\n\r\n");
      if (end >= 0) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received.slice(0, end));
      }
    });
    socket.on("error", reject);
  });
}

/** Logs `name` in and returns { jar, sid }. */
async function signIn(edge, name) {
  const { res, jar } = await login(edge, name);
  assert.equal(res.status, 200, `login of ${name}`);
  return { jar, sid: (await res.json()).session.id };
}

describe("websockets", () => {
  let origin;
  let edge;
  let wsBase;
  before(async () => {
    origin = await startSocketOrigin();
    edge = await secureWorker(origin, testKeys());
    await addUser(edge, "alice", { roles: ["member", "chat"] });
    wsBase = edge.url.replace(/^http/, "ws");
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("a signed-in upgrade reaches the origin with identity and echoes both ways", { timeout: 15000 }, async () => {
    const jar = await session(edge, "alice");
    const { socket, next } = await connect(`${wsBase}/live`, { cookie: jar.header() });
    assert.deepEqual(await next(1), ["hello from the origin"]);
    socket.send("ping 1");
    socket.send("ping 2");
    assert.deepEqual(await next(3), ["hello from the origin", "echo: ping 1", "echo: ping 2"]);
    socket.close(1000, "done");
    const seen = origin.upgrades.at(-1);
    assert.equal(seen["x-auth-user"], "alice");
    assert.match(seen["x-auth-roles"] ?? "", /chat/);
    assert.ok(seen["x-auth-assertion"], "the signed assertion reaches the origin at upgrade");
    assert.equal(seen.cookie, undefined, "session cookies are not forwarded");
  });

  test("an upgrade with only the refresh cookie is refreshed in place and still connects", { timeout: 15000 }, async () => {
    const jar = await session(edge, "alice");
    jar.cookies.delete(ACCESS);
    const { socket, next } = await connect(`${wsBase}/live`, { cookie: jar.header() });
    assert.deepEqual(await next(1), ["hello from the origin"]);
    socket.close(1000, "done");
    assert.equal(origin.upgrades.at(-1)["x-auth-user"], "alice");
  });

  test("the 101 of an upgrade refreshed in place carries the new cookies", { timeout: 15000 }, async () => {
    const jar = await session(edge, "alice", { headers: { "user-agent": FIREFOX } });
    jar.cookies.delete(ACCESS);
    const head = await upgradeHead(edge.port, "/live", jar.header());
    assert.match(head, /^HTTP\/1\.1 101 /);
    const cookies = head.split("\r\n").filter((line) => /^set-cookie:/i.test(line));
    assert.equal(cookies.length, 2, head);
    assert.ok(cookies.some((line) => line.includes(`${ACCESS}=`)), head);
    assert.match(head, /\r\ncache-control: private, no-store/i);
  });

  test("the subprotocol the origin chose reaches the client", { timeout: 15000 }, async () => {
    const jar = await session(edge, "alice");
    const { socket, next } = await connect(`${wsBase}/live`, { cookie: jar.header() }, ["chat.v2", "chat.v1"]);
    assert.equal(socket.protocol, "chat.v2");
    assert.equal(origin.upgrades.at(-1)["sec-websocket-protocol"], "chat.v2, chat.v1");
    await next(1);
    socket.close(1000, "done");
  });

  test("client-sent identity headers on an upgrade are replaced by the edge's", { timeout: 15000 }, async () => {
    const jar = await session(edge, "alice");
    const forged = { cookie: jar.header(), "x-auth-user": "root", "x-auth-roles": "admin", "x-auth-assertion": "forged" };
    const { socket, next } = await connect(`${wsBase}/live`, forged);
    await next(1);
    socket.close(1000, "done");
    const seen = origin.upgrades.at(-1);
    assert.equal(seen["x-auth-user"], "alice");
    assert.equal(seen["x-auth-roles"], "member,chat");
    assert.notEqual(seen["x-auth-assertion"], "forged");
  });

  test("an upgrade without a session is refused and nothing reaches the origin", async () => {
    const before = origin.upgrades.length;
    await assert.rejects(connect(`${wsBase}/live`, {}), /did not open/);
    const res = await rawRequest(
      edge.port,
      "GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert.equal(res.status, 401);
    assert.equal(origin.upgrades.length, before, "no upgrade reached the origin");
  });
});

for (const store of ["authority", "kv"]) {
  describe(`an open socket and its session (${store} store, checked every ${INTERVAL} s)`, () => {
    let origin;
    let edge;
    let wsBase;
    before(async () => {
      origin = await startSocketOrigin();
      edge = await secureWorker(origin, testKeys(), {
        vars: { SESSION_STORE: store, WEBSOCKET_CHECK_INTERVAL: String(INTERVAL), PUBLIC_PATHS: "/public/" },
      });
      await addUser(edge, "alice", { roles: ["member"] });
      wsBase = edge.url.replace(/^http/, "ws");
    });
    after(async () => {
      await edge?.dispose();
      await origin?.close();
    });

    /** A signed-in socket of `name`: { jar, sid, client, server } (server: the origin's side). */
    async function openSocket(name = "alice") {
      const { jar, sid } = await signIn(edge, name);
      const count = origin.connections.length;
      const client = await connect(`${wsBase}/live`, { cookie: jar.header() });
      assert.deepEqual(await client.next(1), ["hello from the origin"]);
      assert.equal(origin.connections.length, count + 1);
      const server = origin.connections.at(-1);
      assert.equal(server.headers["x-auth-session"], sid);
      return { jar, sid, client, server };
    }

    test("a live session's socket stays open across checks, relaying text and binary both ways", { timeout: 20000 }, async () => {
      const { client, server } = await openSocket();
      const bytes = Buffer.from([0, 1, 2, 127, 128, 254, 255]);
      const expected = ["hello from the origin"];
      for (let i = 1; i <= 4; i++) {
        await sleep(INTERVAL * 1000);
        assert.equal(client.socket.readyState, WebSocket.OPEN, `open after ${i} intervals`);
        client.socket.send(`ping ${i}`);
        client.socket.send(bytes);
        expected.push(`echo: ping ${i}`, bytes);
        assert.deepEqual(await within(5000, client.next(expected.length), `echoes of round ${i}`), expected);
      }
      // Binary stays binary, text stays text, from the origin's side too.
      server.socket.send(Buffer.from("from the origin, binary"), { binary: true });
      server.socket.send("from the origin, text");
      const [binary, text] = (await client.next(expected.length + 2)).slice(-2);
      assert.ok(Buffer.isBuffer(binary), "binary arrives as binary");
      assert.equal(binary.toString(), "from the origin, binary");
      assert.equal(text, "from the origin, text");
      client.socket.close(4000, "client done");
      assert.deepEqual(await within(5000, server.closed, "the origin's close"), { code: 4000, reason: "client done" });
    });

    test("a public path's upgrade needs no session and carries no identity", { timeout: 15000 }, async () => {
      const client = await connect(`${wsBase}/public/live`, {});
      assert.deepEqual(await client.next(1), ["hello from the origin"]);
      assert.equal(origin.connections.at(-1).headers["x-auth-user"], undefined);
      client.socket.send("anyone");
      assert.deepEqual((await client.next(2)).at(-1), "echo: anyone");
      client.socket.close(1000, "done");
    });

    test("the origin's close reaches the client with its code and reason", { timeout: 15000 }, async () => {
      const { client, server } = await openSocket();
      server.socket.close(4001, "origin done");
      const closed = await within(5000, client.closed, "the client's close");
      assert.equal(closed.code, 4001);
      assert.equal(closed.reason, "origin done");
    });

    test("logout closes the open socket with 4401 within the check interval, and the origin's side too", { timeout: 20000 }, async (t) => {
      const { jar, sid, client, server } = await openSocket();
      await sleep(INTERVAL * 1500);
      assert.equal(client.socket.readyState, WebSocket.OPEN, "open while the session lives");
      const res = await edge.fetch("/auth/logout", {
        method: "POST",
        headers: { cookie: jar.header(), accept: "application/json" },
      });
      assert.equal(res.status, 200);
      const loggedOut = Date.now();
      // The bound: the next check (at most one interval away) plus the store's answer.
      const bound = INTERVAL * 1000 + 1500;
      const closed = await within(bound, client.closed, "the client's socket closing after logout");
      t.diagnostic(`${store}: closed ${closed.at - loggedOut} ms after the logout answered`);
      assert.equal(closed.code, 4401);
      assert.equal(closed.reason, "session ended");
      assert.deepEqual(await within(3000, server.closed, "the origin's socket closing"), { code: 1000, reason: "session ended" });
      const [line] = await auditEvents(edge, (e) => e.event === "socket_closed" && e.session === pseudonym(sid), {
        what: "socket_closed",
      });
      assert.equal(line.user, pseudonym("alice"));
      assert.match(line.detail, /ended/);
    });

    test("a session ended from another device closes its socket; the other device's stays open", { timeout: 20000 }, async (t) => {
      const doomed = await openSocket();
      const kept = await openSocket();
      const res = await edge.fetch(`/auth/sessions/${doomed.sid}`, {
        method: "DELETE",
        headers: { cookie: kept.jar.header() },
      });
      assert.equal(res.status, 200);
      const ended = Date.now();
      const closed = await within(INTERVAL * 1000 + 1500, doomed.client.closed, "the ended session's socket closing");
      t.diagnostic(`${store}: closed ${closed.at - ended} ms after the end answered`);
      assert.equal(closed.code, 4401);
      assert.equal(closed.reason, "session ended");
      assert.equal((await within(3000, doomed.server.closed, "the origin's side")).code, 1000);
      await sleep(INTERVAL * 2000);
      assert.equal(kept.client.socket.readyState, WebSocket.OPEN, "the live session's socket is untouched");
      kept.client.socket.send("still here");
      assert.deepEqual((await within(5000, kept.client.next(2), "an echo")).at(-1), "echo: still here");
      kept.client.socket.close(1000, "done");
    });
  });
}

describe("an open socket while the session store is down (kv store)", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startSocketOrigin();
    edge = await secureWorker(origin, testKeys(), {
      vars: { SESSION_STORE: "kv", WEBSOCKET_CHECK_INTERVAL: String(INTERVAL) },
      slowKv: { ms: 0, bindings: ["SESSIONS"] },
    });
    await addUser(edge, "alice");
  });
  after(async () => {
    await edge?.kvFault("SESSIONS", null).catch(() => {});
    await edge?.dispose();
    await origin?.close();
  });

  test("one failed check is tolerated; two in a row close the socket with 4503", { timeout: 20000 }, async () => {
    const { jar, sid } = await signIn(edge, "alice");
    const client = await connect(`${edge.url.replace(/^http/, "ws")}/live`, { cookie: jar.header() });
    await client.next(1);
    const server = origin.connections.at(-1);
    await sleep(INTERVAL * 1500);
    await edge.kvFault("SESSIONS", "down");
    const down = Date.now();
    const closed = await within(INTERVAL * 3000 + 1500, client.closed, "the socket closing while the store is down");
    assert.ok(closed.at - down >= INTERVAL * 1000, `not at the first failed check (${closed.at - down} ms)`);
    assert.equal(closed.code, 4503);
    assert.equal(closed.reason, "session check failed");
    assert.deepEqual(await within(3000, server.closed, "the origin's side"), { code: 1000, reason: "session check failed" });
    const failures = await auditEvents(edge, (e) => e.event === "store_failure" && e.session === pseudonym(sid), {
      count: 2,
      what: "store_failure lines of the checks",
    });
    assert.match(failures[0].detail, /injected KV failure/);
    const [line] = await auditEvents(edge, (e) => e.event === "socket_closed" && e.session === pseudonym(sid), {
      what: "socket_closed",
    });
    assert.match(line.detail, /two session checks in a row failed/);
  });
});

// Two locations (locations.mjs: KV replicas with Workers KV's consistency scaled down by 40, one
// session authority at A): a socket open at B while its session is ended at A.
for (const store of ["authority", "kv"]) {
  describe(`an open socket at one location, its session ended at another (${store} store)`, () => {
    const PASSWORD = "a long enough test password";
    let origin;
    let net;
    before(async () => {
      origin = await startSocketOrigin();
      net = await startLocations({
        originUrl: origin.url,
        locations: ["A", "B"],
        vars: { SESSION_STORE: store, WEBSOCKET_CHECK_INTERVAL: String(INTERVAL) },
      });
      net.addUser("alice", PASSWORD);
    });
    after(async () => {
      await net?.stop();
      await origin?.close();
    });

    test("logout at A closes the socket at B within the interval (plus KV's propagation on kv alone)", { timeout: 30000 }, async (t) => {
      const [A, B] = net.locations;
      const client = new Client();
      assert.equal((await client.login(A, "alice", PASSWORD)).status, 200);
      // At once: with kv, B's replica does not have the session yet, and the socket must live.
      const socket = await connect(`${B.url.replace(/^http/, "ws")}/live`, { cookie: client.header() });
      assert.deepEqual(await socket.next(1), ["hello from the origin"]);
      const server = origin.connections.at(-1);
      assert.equal(server.headers["x-auth-session"], client.sid);
      await sleep(net.kv.boundMs + INTERVAL * 2000);
      assert.equal(socket.socket.readyState, WebSocket.OPEN, "open while the session lives, wherever it was made");
      socket.socket.send("still here");
      assert.equal((await within(5000, socket.next(2), "an echo")).at(-1), "echo: still here");

      assert.equal((await client.call(A, "POST", "/auth/logout")).status, 200);
      const since = Date.now();
      // The marker's read at B is cached for KV's cacheTtl (60 s, scaled): the slowest way the end arrives.
      const kvBound = store === "kv" ? 500 + 60_000 / net.kv.scale : 0;
      const bound = INTERVAL * 1000 + kvBound + 700;
      const closed = await within(bound, socket.closed, `the socket at B closing (bound ${bound} ms)`);
      t.diagnostic(`${store}: the socket at B closed ${closed.at - since} ms after the logout at A (bound ${bound} ms)`);
      assert.equal(closed.code, 4401);
      assert.equal(closed.reason, "session ended");
      assert.equal((await within(3000, server.closed, "the origin's side")).code, 1000);
    });
  });
}
