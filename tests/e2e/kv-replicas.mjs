// A model of Workers KV across locations, for `workerd serve`: one Node HTTP server (one port per
// location and namespace) speaking the protocol workerd uses for a `kvNamespace` binding whose
// service is `external` (the one bench/kv.js implements), with the consistency Workers KV has:
//
// - a write is visible at once at the location that made it (its replica and its read cache);
// - it reaches every other location's replica `propagationMs` later (last writer wins, by the
//   time of the write);
// - reads are served from a per-location cache for the read's cacheTtl (`cacheTtlMs` unless the
//   read names one, scaled like every other bound); misses are cached too, so a key read as
//   absent stays absent there until that entry expires, even after the write has arrived;
// - expirations (absolute or TTL, in real seconds) are honoured on every read and listing;
// - listings read the location's replica (they lag like reads, without the read cache).
//
// Faults, per location: `down` (every call answers 503, so the binding throws), `slowMs` (added
// latency before every answer), `cutOff` (no propagation in or out until it is lifted; writes
// made meanwhile are delivered, in order, once both ends are connected again).
//
//   const kv = await startKvReplicas({ locations: ["A", "B", "C"], namespaces: ["SESSIONS", "USERS"],
//                                      propagationMs: 500, cacheTtlMs: 1000 });
//   kv.address("B", "SESSIONS")        "127.0.0.1:<port>" for an `external` service
//   kv.fault("B", { down: true })      kv.fault("B", {}) heals it
//   kv.seed("USERS", key, value)       written at every location at once (fixtures)
//   kv.peek("B", "SESSIONS", key)      what B's replica holds, bypassing the cache
//   kv.requests                        every call received: { location, namespace, method, url, headers }
//   await kv.close();
import http from "node:http";

const nowSecs = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the model; see the module comment. */
export async function startKvReplicas({
  locations,
  namespaces = ["SESSIONS", "USERS"],
  propagationMs = 500,
  cacheTtlMs = 1000,
  // The time scale: a read that names a cacheTtl (`cache_ttl`, real seconds) is cached for that
  // many seconds divided by this factor.
  realSecondsPerModelSecond = 40,
  logLimit = 2000,
} = {}) {
  // replicas[loc][ns]: key -> { value: Buffer | null (deleted), expiration?, metadata?, version }
  const replicas = {};
  // caches[loc][ns]: key -> { entry (as in replicas, or null for a miss), until: ms }
  const caches = {};
  const faults = {};
  // Writes in flight: { from, ns, key, entry, due }; applied lazily and by a timer.
  let pending = [];
  let clock = 0; // write versions: strictly increasing even within one millisecond
  const requests = [];
  for (const loc of locations) {
    replicas[loc] = Object.fromEntries(namespaces.map((ns) => [ns, new Map()]));
    caches[loc] = Object.fromEntries(namespaces.map((ns) => [ns, new Map()]));
    faults[loc] = {};
  }

  const apply = (loc, ns, key, entry) => {
    const current = replicas[loc][ns].get(key);
    if (!current || current.version < entry.version) replicas[loc][ns].set(key, entry);
  };
  /** Delivers every due write whose two ends are connected. */
  const deliver = () => {
    const now = Date.now();
    const waiting = [];
    for (const write of pending) {
      const targets = write.targets.filter((to) => {
        if (write.due > now || faults[write.from].cutOff || faults[to].cutOff) return true;
        apply(to, write.ns, write.key, write.entry);
        return false;
      });
      if (targets.length) waiting.push({ ...write, targets });
    }
    pending = waiting;
  };
  const timer = setInterval(deliver, 10);

  const write = (loc, ns, key, entry) => {
    entry.version = ++clock;
    apply(loc, ns, key, entry);
    caches[loc][ns].delete(key); // visible at once where it was made
    const targets = locations.filter((to) => to !== loc);
    pending.push({ from: loc, ns, key, entry, targets, due: Date.now() + propagationMs });
  };
  const live = (entry) =>
    entry && entry.value !== null && !(entry.expiration !== undefined && entry.expiration <= nowSecs()) ? entry : null;
  const read = (loc, ns, key, ttlMs) => {
    deliver();
    const cache = caches[loc][ns];
    const cached = cache.get(key);
    const now = Date.now();
    if (cached && cached.until > now) return live(cached.entry);
    const entry = live(replicas[loc][ns].get(key));
    cache.set(key, { entry, until: now + ttlMs });
    return entry;
  };

  const keyOf = (url) => {
    const raw = url.pathname.slice(1);
    return url.searchParams.get("urlencoded")?.toLowerCase() === "true" ? decodeURIComponent(raw) : raw;
  };

  async function handle(loc, ns, req, body) {
    const url = new URL(req.url, "http://kv.invalid");
    const fault = faults[loc];
    if (fault.slowMs) await sleep(fault.slowMs);
    if (fault.down) return { status: 503, body: `KV replica ${loc} is down` };
    if (req.method === "GET" && url.pathname === "/") {
      deliver();
      const prefix = url.searchParams.get("prefix") ?? "";
      const limit = Number(url.searchParams.get("key_count_limit") ?? 1000);
      const cursor = Number(url.searchParams.get("cursor") ?? 0);
      const store = replicas[loc][ns];
      const names = [...store.keys()].filter((k) => k.startsWith(prefix) && live(store.get(k))).sort();
      const keys = names.slice(cursor, cursor + limit).map((name) => {
        const { expiration, metadata } = store.get(name);
        return { name, expiration, metadata };
      });
      const complete = cursor + limit >= names.length;
      const page = complete
        ? { keys, list_complete: true, cacheStatus: null }
        : { keys, list_complete: false, cursor: String(cursor + limit), cacheStatus: null };
      return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(page) };
    }
    const key = keyOf(url);
    switch (req.method) {
      case "GET": {
        const asked = url.searchParams.get("cache_ttl");
        const ttlMs = asked !== null ? (Number(asked) * 1000) / realSecondsPerModelSecond : cacheTtlMs;
        const entry = read(loc, ns, key, ttlMs);
        if (!entry) return { status: 404, body: "Not Found" };
        const headers = {};
        if (entry.expiration !== undefined) headers["CF-Expiration"] = String(entry.expiration);
        if (entry.metadata !== undefined) headers["CF-KV-Metadata"] = entry.metadata;
        return { status: 200, headers, body: entry.value };
      }
      case "PUT": {
        const ttl = url.searchParams.get("expiration_ttl");
        const at = url.searchParams.get("expiration");
        const expiration = ttl !== null ? nowSecs() + Number(ttl) : at !== null ? Number(at) : undefined;
        const metadata = req.headers["cf-kv-metadata"];
        write(loc, ns, key, { value: body, expiration, metadata });
        return { status: 200, body: "" };
      }
      case "DELETE":
        write(loc, ns, key, { value: null });
        return { status: 200, body: "" };
      default:
        return { status: 405, body: "method not allowed" };
    }
  }

  const servers = new Map(); // "loc/ns" -> server
  for (const loc of locations) {
    for (const ns of namespaces) {
      const server = http.createServer((req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", async () => {
          if (requests.length < logLimit) {
            requests.push({ location: loc, namespace: ns, method: req.method, url: req.url, headers: req.headers });
          }
          try {
            const out = await handle(loc, ns, req, Buffer.concat(chunks));
            res.writeHead(out.status, out.headers ?? {}).end(out.body);
          } catch (err) {
            res.writeHead(500).end(String(err?.stack ?? err));
          }
        });
      });
      server.keepAliveTimeout = 60_000;
      await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
      servers.set(`${loc}/${ns}`, server);
    }
  }

  return {
    propagationMs,
    cacheTtlMs,
    /** Real seconds per second of this model (Workers KV's ≈ 60 s is boundMs here). */
    scale: realSecondsPerModelSecond,
    /** The longest a write takes to be read everywhere: propagation plus a cached read. */
    boundMs: propagationMs + cacheTtlMs,
    requests,
    address(loc, ns) {
      return `127.0.0.1:${servers.get(`${loc}/${ns}`).address().port}`;
    },
    /** Sets the faults of a location: { down, slowMs, cutOff }; {} heals it. */
    fault(loc, value = {}) {
      if (!faults[loc]) throw new Error(`no location ${loc}`);
      faults[loc] = { ...value };
      deliver();
    },
    /** Writes a value at every location at once (test fixtures, as if written long ago). */
    seed(ns, key, value) {
      const entry = { value: Buffer.from(value), version: ++clock };
      for (const loc of locations) {
        replicas[loc][ns].set(key, entry);
        caches[loc][ns].delete(key);
      }
    },
    /** The value a location's replica holds now (no cache), as text, or null. */
    peek(loc, ns, key) {
      deliver();
      const entry = live(replicas[loc][ns].get(key));
      return entry ? entry.value.toString("utf8") : null;
    },
    async close() {
      clearInterval(timer);
      await Promise.all(
        [...servers.values()].map((server) => {
          server.closeAllConnections();
          return new Promise((resolve) => server.close(resolve));
        }),
      );
    },
  };
}
