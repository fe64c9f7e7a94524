// The design floor of edgegate's request path: ONE synchronous call into a small wasm module
// (bench/floor/src/lib.rs: the Cookie header parsed, the access cookie picked, its SHA-256 looked
// up in a per-isolate map) and the request forwarded with five headers set. What a steady-state
// authenticated request cannot cost less than in a Rust-in-wasm worker; not part of edgegate.
import { floor, initSync } from "./edgegate_floor.js";
import module from "./edgegate_floor_bg.wasm";

initSync({ module });

export default {
  fetch(request, env) {
    const out = floor(request.headers.get("Cookie") ?? "");
    if (!out) return Response.json({ error: "unauthenticated", message: "sign in first" }, { status: 401 });
    const [user, session, roles, assertion, cookie] = out.split("\n");
    const url = new URL(request.url);
    const forwarded = new Request(env.ORIGIN_URL + url.pathname + url.search, request);
    const headers = forwarded.headers;
    headers.set("X-Auth-User", user);
    headers.set("X-Auth-Session", session);
    headers.set("X-Auth-Roles", roles);
    headers.set("X-Auth-Assertion", assertion);
    if (cookie) headers.set("Cookie", cookie);
    else headers.delete("Cookie");
    return fetch(forwarded);
  },
};
