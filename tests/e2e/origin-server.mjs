// A recording origin for the end-to-end tests: an HTTP server standing in for the application
// behind edgegate. Every request is recorded (method, url, headers, body) and answered with
// 200 and a small JSON echo. Started as a child process by harness.mjs. A request carrying
// `x-origin-respond-headers` (a JSON object) gets those headers on its answer, so a test can
// play an origin that marks its responses cacheable.
//
// Control endpoints (called by the tests directly, never through the worker):
//   GET    /__origin/requests   the recorded requests, oldest first, as JSON
//   DELETE /__origin/requests   forget them
//
//   node tests/e2e/origin-server.mjs [port]   (0 or absent: a free port)
// Prints one line `{"port": N}` on stdout once listening.
import http from "node:http";

const recorded = [];

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (req.url === "/__origin/requests") {
      if (req.method === "DELETE") recorded.length = 0;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(recorded));
      return;
    }
    const entry = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: body.toString("utf8"),
      bodyBase64: body.toString("base64"),
      at: Date.now(),
    };
    recorded.push(entry);
    const extra = JSON.parse(req.headers["x-origin-respond-headers"] ?? "{}");
    res
      .writeHead(200, { "content-type": "application/json", "x-origin": "recording-origin", ...extra })
      .end(JSON.stringify({ origin: true, method: entry.method, url: entry.url }));
  });
});

server.on("error", (err) => {
  console.error(`recording origin: ${err.message}`);
  process.exit(1);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
// Exit with the test process even if it dies without cleaning up.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
