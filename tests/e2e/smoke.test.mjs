// Smoke tests of the whole pipeline: the release wasm build runs in workerd and reaches a real
// origin through the network.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSystem } from "./harness.mjs";

let sys;
before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.dispose();
});

test("health endpoint answers 200 ok", async () => {
  const res = await sys.edge.fetch("/.edgegate/health");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
});

test("a POST with a query and a body reaches the origin intact", async () => {
  await sys.origin.clear();
  const body = JSON.stringify({ hello: "world", n: 1 });
  const res = await sys.edge.fetch("/hello?x=1", {
    method: "POST",
    headers: { "content-type": "application/json", "x-smoke": "yes" },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-origin"), "recording-origin");
  const seen = await sys.origin.requests();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].method, "POST");
  assert.equal(seen[0].url, "/hello?x=1");
  assert.equal(seen[0].body, body);
  assert.equal(seen[0].headers["content-type"], "application/json");
  assert.equal(seen[0].headers["x-smoke"], "yes");
});

test("KV namespaces are reachable from the test", async () => {
  const sessions = await sys.edge.kv("SESSIONS");
  await sessions.put("smoke", "value");
  assert.equal(await sessions.get("smoke"), "value");
});
