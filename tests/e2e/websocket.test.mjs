// WebSockets end to end: a real WebSocket client (Node's own) through the built worker in workerd
// to a real WebSocket origin (the ws package). A signed-in upgrade reaches the origin with the
// identity headers and carries messages both ways; an upgrade without a session is refused with
// nothing reaching the origin.
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { WebSocketServer } from "ws";
import { testKeys } from "./harness.mjs";
import { ACCESS, addUser, rawRequest, secureWorker, session } from "./support.mjs";

/** An origin that accepts WebSockets, echoes every message back, and records each upgrade's headers. */
async function startSocketOrigin() {
  const upgrades = [];
  const server = http.createServer((req, res) => res.writeHead(404).end());
  const sockets = new WebSocketServer({ server });
  sockets.on("connection", (socket, req) => {
    upgrades.push(req.headers);
    socket.send("hello from the origin");
    socket.on("message", (data) => socket.send(`echo: ${data}`));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    upgrades,
    async close() {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Opens a WebSocket to `url` with `headers`; resolves to { socket, messages } once open, or rejects. */
function connect(url, headers) {
  const socket = new WebSocket(url, { headers });
  const messages = [];
  const waiting = [];
  socket.addEventListener("message", (event) => {
    messages.push(String(event.data));
    waiting.splice(0).forEach((wake) => wake());
  });
  const next = async (count) => {
    while (messages.length < count) await new Promise((wake) => waiting.push(wake));
    return messages.slice(0, count);
  };
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve({ socket, next }));
    socket.addEventListener("error", () => reject(new Error("the WebSocket did not open")));
  });
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
