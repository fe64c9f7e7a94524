// Streaming end to end through the built worker in workerd: a server-sent event stream reaches
// the client as the origin writes it, not when the origin finishes, also when the edge refreshes the
// session in place and adds Set-Cookie. The origin sends one event,
// then waits for the test to say it saw that event before it sends the rest. A 50 MB upload,
// sent as a stream in 1 MB chunks, reaches the origin byte for byte.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { testKeys } from "./harness.mjs";
import { ACCESS, REFRESH, addUser, secureWorker, session } from "./support.mjs";

/** An origin whose /events sends `first`, then the rest once release() is called; /upload answers the byte count and SHA-256 of the body. */
async function startEventOrigin() {
  let release;
  let released;
  const arm = () => (released = new Promise((resolve) => (release = resolve)));
  arm();
  const server = http.createServer(async (req, res) => {
    if (req.url === "/upload") {
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of req) {
        bytes += chunk.length;
        hash.update(chunk);
      }
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ bytes, sha256: hash.digest("hex") }));
    }
    if (req.url !== "/events") return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("data: first\n\n");
    await released;
    res.end("data: second\n\ndata: last\n\n");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    release: () => release(),
    arm,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Reads the first event while the origin still holds the rest back, then releases it and reads the rest. */
async function assertStreamed(res, origin) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n\n")) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the stream ended before the first event");
    text += value;
  }
  assert.equal(text, "data: first\n\n", "only the first event, while the origin still waits");
  origin.release();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  assert.equal(text, "data: first\n\ndata: second\n\ndata: last\n\n");
}

describe("streaming", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startEventOrigin();
    edge = await secureWorker(origin, testKeys());
    await addUser(edge, "alice");
  });
  after(async () => {
    origin?.release();
    await edge?.dispose();
    await origin?.close();
  });

  test("the first server-sent event arrives before the origin finishes", { timeout: 15000 }, async () => {
    const jar = await session(edge, "alice");
    const res = await edge.fetch("/events", { headers: { cookie: jar.header(), accept: "text/event-stream" } });
    assert.equal(res.status, 200);
    await assertStreamed(res, origin);
  });

  test("a response refreshed in place (Set-Cookie added) still streams", { timeout: 15000 }, async () => {
    origin.arm();
    const jar = await session(edge, "alice");
    jar.cookies.delete(ACCESS);
    const res = await edge.fetch("/events", { headers: { cookie: jar.header(), accept: "text/event-stream" } });
    assert.equal(res.status, 200);
    assert.ok(res.headers.getSetCookie().some((line) => line.startsWith(`${REFRESH}=`)), "the rotated refresh cookie is set");
    await assertStreamed(res, origin);
  });

  test("a 50 MB streamed upload reaches the origin byte for byte", { timeout: 60000 }, async () => {
    const jar = await session(edge, "alice");
    const chunk = randomBytes(1024 * 1024);
    const expected = createHash("sha256");
    for (let i = 0; i < 50; i++) expected.update(chunk);
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent++ === 50) controller.close();
        else controller.enqueue(new Uint8Array(chunk));
      },
    });
    const res = await edge.fetch("/upload", { method: "POST", headers: { cookie: jar.header() }, body, duplex: "half" });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { bytes: 50 * 1024 * 1024, sha256: expected.digest("hex") });
  });
});
