// An in-memory Workers KV namespace for `workerd serve`: the HTTP protocol workerd speaks to a
// `kvNamespace` binding's service (the one Miniflare's KV object implements), kept in a Map of
// this isolate. Enough for edgegate: get, put (expiration, metadata), delete, list by prefix.
// Not a model of KV's latency or consistency: a read here is an in-process subrequest.
const store = new Map(); // key -> { value: ArrayBuffer, expiration?: seconds, metadata?: string }

const now = () => Math.floor(Date.now() / 1000);

function live(key) {
  const entry = store.get(key);
  if (entry && entry.expiration !== undefined && entry.expiration <= now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

function keyOf(url) {
  const raw = url.pathname.slice(1);
  return url.searchParams.get("urlencoded")?.toLowerCase() === "true" ? decodeURIComponent(raw) : raw;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const limit = Number(url.searchParams.get("key_count_limit") ?? 1000);
      const cursor = Number(url.searchParams.get("cursor") ?? 0);
      const names = [...store.keys()].filter((k) => k.startsWith(prefix) && live(k)).sort();
      const page = names.slice(cursor, cursor + limit);
      const keys = page.map((name) => {
        const { expiration, metadata } = store.get(name);
        return { name, expiration, metadata };
      });
      const complete = cursor + limit >= names.length;
      return Response.json(
        complete
          ? { keys, list_complete: true, cacheStatus: null }
          : { keys, list_complete: false, cursor: String(cursor + limit), cacheStatus: null },
      );
    }
    if (request.method === "GET" && url.pathname === "/__count") {
      return Response.json({ keys: store.size });
    }
    const key = keyOf(url);
    switch (request.method) {
      case "GET": {
        const entry = live(key);
        if (!entry) return new Response("Not Found", { status: 404 });
        const headers = new Headers();
        if (entry.expiration !== undefined) headers.set("CF-Expiration", String(entry.expiration));
        if (entry.metadata !== undefined) headers.set("CF-KV-Metadata", entry.metadata);
        return new Response(entry.value, { headers });
      }
      case "PUT": {
        const ttl = url.searchParams.get("expiration_ttl");
        const at = url.searchParams.get("expiration");
        const expiration = ttl !== null ? now() + Number(ttl) : at !== null ? Number(at) : undefined;
        const metadata = request.headers.get("CF-KV-Metadata") ?? undefined;
        store.set(key, { value: await request.arrayBuffer(), expiration, metadata });
        return new Response();
      }
      case "DELETE":
        store.delete(key);
        return new Response();
      default:
        return new Response("method not allowed", { status: 405 });
    }
  },
};
