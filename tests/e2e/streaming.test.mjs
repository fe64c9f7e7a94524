// Streaming through the edge: server-sent events and chunked responses reach the client as the
// origin writes them (also when the edge refreshes the session in place and adds cookies), and a
// large upload reaches the origin byte for byte. The origin holds the rest of each response back
// until the test has seen the first part, so a buffering edge would time out.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import { after, before, test } from "node:test";
import { testKeys } from "./harness.mjs";
import { REFRESH, addUser, secureWorker, session } from "./support.mjs";

/** A promise with its resolver, released by the test. */
function gate() {
  let open;
  const opened = new Promise((resolve) => { open = resolve; });
  return { open, opened };
}

let release = gate();
const uploads = [];

async function startStreamingOrigin() {
  const server = http.createServer(async (req, res) => {
    if (req.url === "/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: first\n\n");
      await release.opened;
      res.end("data: second\n\ndata: last\n\n");
    } else if (req.url === "/upload") {
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of req) {
        bytes += chunk.length;
        hash.update(chunk);
      }
      uploads.push({ bytes, sha256: hash.digest("hex"), user: req.headers["x-auth-user"] });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ bytes }));
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Reads from `reader` until `text` has arrived; fails after `ms`. */
async function readUntil(reader, text, ms = 5000) {
  const decoder = new TextDecoder();
  let seen = "";
  const deadline = Date.now() + ms;
  while (!seen.includes(text)) {
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`no "${text}" yet; got ${JSON.stringify(seen)}`)), Math.max(0, deadline - Date.now())));
    const { value, done } = await Promise.race([reader.read(), timeout]);
    if (done) break;
    seen += decoder.decode(value, { stream: true });
  }
  return seen;
}

let origin;
let edge;
before(async () => {
  origin = await startStreamingOrigin();
  edge = await secureWorker(origin, testKeys());
  await addUser(edge, "ada");
});
after(async () => {
  release.open();
  await edge?.dispose();
  await origin?.close();
});

for (const [name, cookie] of [
  ["with a valid access cookie", (jar) => jar.header()],
  ["refreshed in place (refresh cookie only, Set-Cookie added)", (jar) => `${REFRESH}=${jar.cookies.get(REFRESH)}`],
]) {
  test(`the first server-sent event arrives before the origin finishes, ${name}`, async () => {
    release = gate();
    const jar = await session(edge, "ada");
    const res = await edge.fetch("/events", { headers: { cookie: cookie(jar), "sec-fetch-site": "same-origin" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    if (name.startsWith("refreshed")) assert.ok(res.headers.getSetCookie().some((l) => l.startsWith(`${REFRESH}=`)));
    const reader = res.body.getReader();
    const first = await readUntil(reader, "data: first");
    assert.ok(!first.includes("second"), "the origin has not sent the rest yet");
    release.open();
    const rest = await readUntil(reader, "data: last");
    assert.match(first + rest, /data: first\n\ndata: second\n\ndata: last\n\n$/);
  });
}

test("a 50 MB upload streams to the origin byte for byte", async () => {
  const jar = await session(edge, "ada");
  const size = 50 * 1024 * 1024;
  const block = randomBytes(1024 * 1024);
  const hash = createHash("sha256");
  for (let i = 0; i < 50; i++) hash.update(block);
  let sent = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (sent === size) return controller.close();
      controller.enqueue(new Uint8Array(block));
      sent += block.length;
    },
  });
  const res = await edge.fetch("/upload", {
    method: "POST",
    headers: { cookie: jar.header(), "content-type": "application/octet-stream" },
    body,
    duplex: "half",
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { bytes: size });
  assert.deepEqual(uploads.at(-1), { bytes: size, sha256: hash.digest("hex"), user: "ada" });
});
