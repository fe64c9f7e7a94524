// The benchmark origin: answers every request with a small 200 body, as fast as Node's http can.
// It counts requests and how many carried edgegate's identity (x-auth-user and x-auth-assertion),
// keeps the last identity headers it received, and answers GET /__origin/stats directly (ask it
// on its own port, not through a worker).
//
//   node bench/origin.mjs [port]     prints {"port": N} once listening on 127.0.0.1
import http from "node:http";

const stats = { requests: 0, withIdentity: 0, users: {}, last: null };
const body = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  if (req.url === "/__origin/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(stats));
    return;
  }
  stats.requests++;
  const user = req.headers["x-auth-user"];
  if (user && req.headers["x-auth-assertion"]) {
    stats.withIdentity++;
    stats.users[user] = (stats.users[user] ?? 0) + 1;
    const h = req.headers;
    stats.last = { user, session: h["x-auth-session"], roles: h["x-auth-roles"], assertion: h["x-auth-assertion"], cookie: h.cookie ?? null };
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
