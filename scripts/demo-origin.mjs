// A tiny stand-in for the protected application behind edgegate, used by ./scripts/run.sh.
// It renders every request it receives as an HTML page showing the path and the identity
// headers (x-auth-*) the worker added, so you can see what the origin is told about the user.
//
//   node scripts/demo-origin.mjs [port]     (default 8788, listens on 127.0.0.1 only)
import http from "node:http";

const port = Number(process.argv[2] ?? process.env.PORT ?? 8788);
const host = "127.0.0.1";

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function page(req) {
  const auth = Object.entries(req.headers)
    .filter(([name]) => name.startsWith("x-auth-"))
    .sort(([a], [b]) => a.localeCompare(b));
  const rows = auth.length
    ? auth.map(([k, v]) => `<tr><th>${escape(k)}</th><td><code>${escape(v)}</code></td></tr>`).join("\n")
    : `<tr><td colspan="2"><em>no x-auth-* headers: this request did not come through edgegate with a session</em></td></tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>demo origin</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
  table { border-collapse: collapse; } th, td { text-align: left; padding: .25rem .75rem; border-bottom: 1px solid #ddd; }
  code { word-break: break-all; }
</style></head>
<body>
<h1>Demo origin</h1>
<p>This page is served by the application behind edgegate.</p>
<p><strong>${escape(req.method)}</strong> <code>${escape(req.url)}</code></p>
<h2>Identity headers received</h2>
<table>
${rows}
</table>
</body></html>
`;
}

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    if (req.url === "/.demo-origin/health") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(page(req));
  });
});

server.on("error", (err) => {
  console.error(`demo origin: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => console.log(`demo origin listening on http://${host}:${port}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
