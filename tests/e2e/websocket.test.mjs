// WebSockets through the edge: a real `ws` client and a real `ws` origin server, with the built
// worker between them. The upgrade passes the same session check as any request and the origin
// sees the identity headers on it; without a session nothing reaches the origin.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { once } from "node:events";
import { WebSocket, WebSocketServer } from "ws";
import { testKeys } from "./harness.mjs";
import { REFRESH, addUser, secureWorker, session } from "./support.mjs";

/** An origin that records each upgrade's headers and echoes every message back, prefixed. */
async function startSocketOrigin() {
  const upgrades = [];
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket, req) => {
    upgrades.push(req.headers);
    socket.send("hello from origin");
    socket.on("message", (data) => socket.send(`echo:${data}`));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    upgrades,
    close: () => new Promise((resolve) => { wss.close(); server.close(resolve); }),
  };
}

/** Opens a socket through the edge; resolves to the socket, or rejects with the refused status. */
function connect(edge, headers = {}) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${edge.port}/live`, { headers });
    const inbox = [];
    socket.on("message", (data) => inbox.push(String(data)));
    socket.once("upgrade", (res) => { socket.setCookies = res.headers["set-cookie"] ?? []; });
    socket.inbox = inbox;
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_req, res) => reject(Object.assign(new Error("refused"), { status: res.statusCode })));
    socket.once("error", reject);
  });
}

async function nextMessage(socket, count) {
  const deadline = Date.now() + 5000;
  while (socket.inbox.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${socket.inbox.length} messages: ${socket.inbox}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return socket.inbox[count - 1];
}

let origin;
let edge;
before(async () => {
  origin = await startSocketOrigin();
  edge = await secureWorker(origin, testKeys());
  await addUser(edge, "ada", { roles: ["member", "ops"] });
});
after(async () => {
  await edge?.dispose();
  await origin?.close();
});

test("an authenticated upgrade reaches the origin with identity and echoes both ways", async () => {
  const jar = await session(edge, "ada");
  const socket = await connect(edge, { cookie: jar.header() });
  assert.equal(await nextMessage(socket, 1), "hello from origin");
  socket.send("ping 1");
  assert.equal(await nextMessage(socket, 2), "echo:ping 1");
  socket.send(Buffer.from("ping 2"));
  assert.equal(await nextMessage(socket, 3), "echo:ping 2");
  const seen = origin.upgrades.at(-1);
  assert.equal(seen["x-auth-user"], "ada");
  assert.equal(seen["x-auth-roles"], "member,ops");
  assert.ok(seen["x-auth-assertion"], "the signed assertion is on the upgrade");
  assert.equal(seen.upgrade?.toLowerCase(), "websocket");
  assert.ok(!String(seen.cookie ?? "").includes("eg_access"), "our cookies are not forwarded");
  socket.close();
  await once(socket, "close");
});

test("an upgrade without a session is refused and never reaches the origin", async () => {
  const before = origin.upgrades.length;
  await assert.rejects(connect(edge), (err) => err.status === 401);
  await assert.rejects(connect(edge, { cookie: "__Host-eg_access=forged.token.value" }), (err) => err.status === 401);
  assert.equal(origin.upgrades.length, before);
});

test("client-sent identity headers on an upgrade are replaced by the edge's", async () => {
  const jar = await session(edge, "ada");
  const socket = await connect(edge, { cookie: jar.header(), "x-auth-user": "root", "x-auth-roles": "admin" });
  await nextMessage(socket, 1);
  const seen = origin.upgrades.at(-1);
  assert.equal(seen["x-auth-user"], "ada");
  assert.equal(seen["x-auth-roles"], "member,ops");
  socket.close();
  await once(socket, "close");
});

test("an upgrade carrying only the refresh cookie is refreshed in place and still connects", async () => {
  const jar = await session(edge, "ada");
  const socket = await connect(edge, { cookie: `${REFRESH}=${jar.cookies.get(REFRESH)}`, "user-agent": "node", "sec-fetch-site": "same-origin" });
  assert.equal(await nextMessage(socket, 1), "hello from origin");
  socket.send("after refresh");
  assert.equal(await nextMessage(socket, 2), "echo:after refresh");
  assert.equal(origin.upgrades.at(-1)["x-auth-user"], "ada");
  assert.ok(socket.setCookies.some((line) => line.startsWith(`${REFRESH}=`)), "the rotated refresh cookie is on the 101");
  socket.close();
  await once(socket, "close");
});
