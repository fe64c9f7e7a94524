// Load generation: wrk (the figures in BENCHMARKS.md) and a closed-loop Node client for the
// stateful flows (login, refresh, logout need per-session cookies) and for when wrk is absent.
// Every run is bounded in time and talks to 127.0.0.1 only.
import { spawn, spawnSync } from "node:child_process";
import http from "node:http";

export function haveWrk() {
  return spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** wrk's duration strings: "812.00us", "1.20ms", "2.00s". */
function wrkMillis(text) {
  const m = text.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) throw new Error(`unparsable wrk duration ${text}`);
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
}

/** Parses `wrk --latency` output; throws when a figure is missing. */
export function parseWrk(out) {
  const rps = out.match(/^Requests\/sec:\s+([\d.]+)/m);
  const p50 = out.match(/^\s+50%\s+(\S+)/m);
  const p99 = out.match(/^\s+99%\s+(\S+)/m);
  const total = out.match(/^\s+(\d+) requests in/m);
  if (!rps || !p50 || !p99 || !total) throw new Error(`could not parse wrk output:\n${out}`);
  const non2xx = out.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    tool: "wrk",
    requests: Number(total[1]),
    rps: Number(rps[1]),
    p50: wrkMillis(p50[1]),
    p99: wrkMillis(p99[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** One wrk run: GET `url` with `headers` for `seconds` on `connections` connections. */
export async function wrk(url, { seconds, connections = 16, threads = 1, headers = {} }) {
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`refusing a non-loopback target ${url}`);
  const args = ["-t", String(threads), "-c", String(connections), "-d", `${seconds}s`, "--timeout", "5s", "--latency"];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}: ${value}`);
  args.push(url);
  const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), (seconds + 20) * 1000);
  const code = await new Promise((resolve) => child.once("exit", resolve));
  clearTimeout(killer);
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${out}`);
  return parseWrk(out);
}

/**
 * A closed-loop client: `concurrency` loops, each sending the request `next(loop)` returns (null
 * ends that loop) as soon as its previous response is read, until `seconds` pass.
 * `onResponse(loop, status, headers, body)` sees every answer. Returns rate and latencies (ms).
 */
export async function closedLoop(base, { seconds, concurrency, next, onResponse = () => {} }) {
  if (!base.startsWith("http://127.0.0.1:")) throw new Error(`refusing a non-loopback target ${base}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  const statuses = {};
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  const send = (req) =>
    new Promise((resolve, reject) => {
      const body = req.body === undefined ? undefined : Buffer.from(req.body);
      const headers = { ...req.headers, ...(body && { "content-length": body.length }) };
      const r = http.request(`${base}${req.path}`, { method: req.method ?? "GET", headers, agent, timeout: 10_000 }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      });
      r.on("timeout", () => r.destroy(new Error("request timed out")));
      r.on("error", reject);
      r.end(body);
    });
  const loop = async (i) => {
    while (process.hrtime.bigint() < deadline) {
      const req = next(i);
      if (!req) return;
      const t0 = process.hrtime.bigint();
      const res = await send(req);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      onResponse(i, res);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    tool: "node",
    requests: latencies.length,
    rps: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statuses,
  };
}
