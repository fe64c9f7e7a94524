// A recording origin for the end-to-end tests: an HTTP server standing in for the application
// behind edgegate. Every request is recorded (method, url, headers, body) and answered with
// 200 and a small JSON echo (a CORS preflight with 204 and the CORS headers allowing it).
// Started as a child process by harness.mjs. A request carrying
// `x-origin-respond-headers` (a JSON object) gets those headers on its answer, so a test can
// play an origin that marks its responses cacheable.
//
// Every answer names the `route` the origin acts on. By default that is the path as received,
// byte for byte (an origin that normalises nothing). Started with `normalise`, the origin reads
// paths as the most forgiving servers do: it decodes twice, takes `\` for `/`, splits off `?`
// and `#` after decoding, drops `;` parameters, merges `//`, resolves dot segments, ignores case
// and a trailing `/`. The policy tests put both behind the edge.
//
// Control endpoints (called by the tests directly, never through the worker):
//   GET    /__origin/requests   the recorded requests, oldest first, as JSON
//   DELETE /__origin/requests   forget them
//
//   node tests/e2e/origin-server.mjs [port] [normalise]   (port 0 or absent: a free port)
// Prints one line `{"port": N}` on stdout once listening.
import http from "node:http";

const recorded = [];
const normalising = process.argv[3] === "normalise";

/** The path `url` names, as this origin reads it. */
function route(url) {
  if (!normalising) return url.split("?")[0];
  let path = url;
  for (let round = 0; round < 2; round++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      break;
    }
  }
  path = path.replaceAll("\\", "/").split(/[?#]/)[0];
  const segments = [];
  for (const segment of path.split("/").map((s) => s.split(";")[0])) {
    if (segment === "..") segments.pop();
    else if (segment !== "." && segment !== "") segments.push(segment);
  }
  return `/${segments.join("/")}`.toLowerCase();
}

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
      route: route(req.url),
      body: body.toString("utf8"),
      bodyBase64: body.toString("base64"),
      at: Date.now(),
    };
    recorded.push(entry);
    // A CORS preflight gets the answer an application with a CORS policy gives it.
    const announced = req.headers["access-control-request-method"];
    if (req.method === "OPTIONS" && announced && req.headers.origin) {
      res
        .writeHead(204, {
          "access-control-allow-origin": req.headers.origin,
          "access-control-allow-methods": announced,
          "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "",
          "access-control-allow-credentials": "true",
          "x-origin": "recording-origin",
        })
        .end();
      return;
    }
    const extra = JSON.parse(req.headers["x-origin-respond-headers"] ?? "{}");
    res
      .writeHead(200, { "content-type": "application/json", "x-origin": "recording-origin", ...extra })
      .end(JSON.stringify({ origin: true, method: entry.method, url: entry.url, route: entry.route }));
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
