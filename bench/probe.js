// Times platform primitives inside workerd, where a worker's own clock does not advance while it
// computes: the client times GET /?op=<op>&n=<n> against n=0 and divides. Used by bench/e2e.mjs to
// show what the native WebCrypto Ed25519 of the runtime costs next to Ed25519 compiled to wasm,
// and what one KV read that misses (edgegate's revocation check) costs with bench/kv.js.
const message = new TextEncoder().encode("x".repeat(330));
let keyPair;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? 0);
    keyPair ??= await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    let last;
    switch (url.searchParams.get("op")) {
      case "ed25519":
        for (let i = 0; i < n; i++) last = await crypto.subtle.sign("Ed25519", keyPair.privateKey, message);
        break;
      case "kv-miss":
        for (let i = 0; i < n; i++) last = await env.KV.get(`revoked:probe-${i}`);
        break;
      default:
        return new Response("unknown op", { status: 400 });
    }
    return new Response(String(last instanceof ArrayBuffer ? new Uint8Array(last)[0] : last));
  },
};
