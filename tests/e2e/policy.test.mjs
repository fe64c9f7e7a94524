// The access policy end to end, against the built worker in workerd and real origin processes:
// public, signed-in and role rules, the 403 as JSON and as a page, PUBLIC_PATHS beside the
// policy, CORS preflights passed to an origin that answers them, and the path spellings that
// origins resolve differently, in front of an origin that normalises nothing and one that
// normalises everything it can.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startOrigin, testKeys } from "./harness.mjs";
import { BROWSER, addUser, assertNothingForwarded, auditEvents, rawGet, rawRequest, secureWorker, session } from "./support.mjs";

const secrets = testKeys();
const API = { accept: "application/json" };
const POLICY = `
  # reading the documentation needs no account
  GET /docs/* public
  /admin/ roles-all admin
  /api/reports/** roles-any finance,admin
  POST /api/** signed-in cors-preflight
`;

/** A worker with the policy in front of `origin`, and its users: alice (admin), fin (finance), bob (neither). */
async function policyWorker(origin) {
  const edge = await secureWorker(origin, secrets, { vars: { ACCESS_POLICY: POLICY, PUBLIC_PATHS: "/pub/" } });
  await addUser(edge, "alice", { roles: ["admin", "staff"] });
  await addUser(edge, "fin", { roles: ["finance"] });
  await addUser(edge, "bob", { roles: ["member"] });
  return {
    edge,
    jars: {
      alice: await session(edge, "alice"),
      fin: await session(edge, "fin"),
      bob: await session(edge, "bob"),
    },
  };
}

describe("the policy decides per path and method", () => {
  let origin, edge, jars;
  before(async () => {
    origin = await startOrigin();
    ({ edge, jars } = await policyWorker(origin));
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  const as = (who, headers = API) => ({ headers: { ...headers, cookie: jars[who].header() } });

  /** The one request the origin got since the last clear(). */
  async function forwardedOnce() {
    const seen = await origin.requests();
    assert.equal(seen.length, 1, JSON.stringify(seen.map((r) => r.url)));
    await origin.clear();
    return seen[0];
  }

  test("a public rule forwards without identity, for its methods only", async () => {
    await origin.clear();
    const res = await edge.fetch("/docs/intro", { headers: API });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).url, "/docs/intro");
    const seen = await forwardedOnce();
    assert.equal(seen.headers["x-auth-user"], undefined);
    assert.equal(seen.headers["x-auth-assertion"], undefined);
    // HEAD rides with GET; POST is not in the rule, so it needs a session.
    assert.equal((await edge.fetch("/docs/intro", { method: "HEAD", headers: API })).status, 200);
    await origin.clear();
    const post = await edge.fetch("/docs/intro", { method: "POST", headers: API, body: "x" });
    assert.equal(post.status, 401);
    await assertNothingForwarded(origin, "POST to a GET-only public rule");
    // `*` is one segment, and a public rule matches only the spelling it names.
    for (const target of ["/docs/a/b", "/Docs/intro"]) {
      assert.equal((await edge.fetch(target, { headers: API })).status, 401, target);
    }
    await assertNothingForwarded(origin, "paths outside the public rule");
  });

  test("PUBLIC_PATHS still serve without a session, before the policy", async () => {
    await origin.clear();
    assert.equal((await edge.fetch("/pub/logo.png", { headers: API })).status, 200);
    assert.equal((await forwardedOnce()).headers["x-auth-user"], undefined);
    assert.equal((await edge.fetch("/pub", { headers: API })).status, 401);
    await assertNothingForwarded(origin);
  });

  test("a path no rule names needs a session: 401 for API calls, the login page for navigations", async () => {
    await origin.clear();
    const res = await edge.fetch("/elsewhere", { headers: API });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, "unauthenticated");
    const nav = await edge.fetch("/elsewhere", { headers: BROWSER });
    assert.equal(nav.status, 302);
    assert.match(nav.headers.get("location"), /^\/auth\/login\?next=\/elsewhere/);
    await assertNothingForwarded(origin);
    assert.equal((await edge.fetch("/elsewhere", as("bob"))).status, 200);
    assert.equal((await forwardedOnce()).headers["x-auth-user"], "bob");
  });

  test("a role rule forwards users holding the roles, with their roles", async () => {
    await origin.clear();
    const admin = await edge.fetch("/admin/users", as("alice"));
    assert.equal(admin.status, 200);
    const seen = await forwardedOnce();
    assert.equal(seen.headers["x-auth-user"], "alice");
    assert.equal(seen.headers["x-auth-roles"], "admin,staff");
    for (const who of ["alice", "fin"]) {
      assert.equal((await edge.fetch("/api/reports/2026/q1", as(who))).status, 200, who);
      assert.equal((await forwardedOnce()).headers["x-auth-user"], who);
    }
  });

  test("a user without the roles gets 403 JSON for API calls, and nothing is forwarded", async () => {
    await origin.clear();
    for (const [who, target] of [["bob", "/admin/users"], ["fin", "/admin/"], ["bob", "/api/reports/q1"], ["bob", "/ADMIN/users/"]]) {
      const res = await edge.fetch(target, as(who));
      assert.equal(res.status, 403, `${who} ${target}`);
      assert.match(res.headers.get("content-type"), /^application\/json/);
      const body = await res.json();
      assert.equal(body.error, "forbidden");
      assert.match(body.message, /role/);
    }
    await assertNothingForwarded(origin, "403s");
    // Each is logged, naming the path and what was missing (ASVS 16.3.2).
    await auditEvents(edge, (e) => e.event === "access_denied" && e.detail === "GET /api/reports/q1: needs one of finance,admin");
    await auditEvents(edge, (e) => e.event === "access_denied" && e.detail === "GET /admin/: needs all of admin", { what: "fin's 403" });
  });

  test("a browser navigation without the roles gets a 403 page naming the user and the missing roles", async () => {
    await origin.clear();
    const res = await edge.fetch("/api/reports/q1", as("bob", BROWSER));
    assert.equal(res.status, 403);
    assert.match(res.headers.get("content-type"), /^text\/html/);
    assert.match(res.headers.get("content-security-policy"), /default-src 'none'/);
    const page = await res.text();
    assert.match(page, /signed in as bob/);
    assert.match(page, /one of the roles finance, admin/);
    assert.doesNotMatch(page, /<script/i);
    const all = await (await edge.fetch("/admin/", as("fin", BROWSER))).text();
    assert.match(all, /signed in as fin\. This page needs roles your account does not have: admin\./);
    await assertNothingForwarded(origin, "403 pages");
  });

  test("without a session, a role path behaves like any signed-in path", async () => {
    await origin.clear();
    assert.equal((await edge.fetch("/admin/users", { headers: API })).status, 401);
    const nav = await edge.fetch("/admin/users", { headers: BROWSER });
    assert.equal(nav.status, 302);
    assert.match(nav.headers.get("location"), /^\/auth\/login\?next=\/admin\/users/);
    await assertNothingForwarded(origin);
  });

  test("a CORS preflight passes to the origin where a cors-preflight rule governs the request it announces", async () => {
    await origin.clear();
    const preflight = (target, method) =>
      edge.fetch(target, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example",
          "access-control-request-method": method,
          "access-control-request-headers": "content-type",
        },
      });
    const res = await preflight("/api/orders", "POST");
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example");
    assert.equal(res.headers.get("access-control-allow-methods"), "POST");
    const seen = await forwardedOnce();
    assert.equal(seen.method, "OPTIONS");
    assert.equal(seen.headers["x-auth-user"], undefined);
    // The request it announced still needs its session.
    const post = await edge.fetch("/api/orders", { method: "POST", headers: { ...API, origin: "https://app.example" }, body: "{}" });
    assert.equal(post.status, 401);
    // Announcing a method the rule does not cover, on a role path, or without Origin: the rule's requirement.
    for (const [target, method] of [["/api/orders", "DELETE"], ["/admin/users", "GET"]]) {
      assert.equal((await preflight(target, method)).status, 401, `${method} ${target}`);
    }
    const bare = await edge.fetch("/api/orders", { method: "OPTIONS", headers: { "access-control-request-method": "POST" } });
    assert.equal(bare.status, 401);
    await assertNothingForwarded(origin, "preflights the policy does not let through");
  });
});

test("a policy that does not parse answers 500 naming the rule, and forwards nothing", async () => {
  const origin = await startOrigin();
  const edge = await secureWorker(origin, secrets, { vars: { ACCESS_POLICY: "/docs/ public\n/admin/ roles-all\n" } });
  try {
    for (const target of ["/docs/x", "/admin/x", "/elsewhere"]) {
      const res = await edge.fetch(target, { headers: API });
      assert.equal(res.status, 500, target);
      const body = await res.json();
      assert.equal(body.error, "configuration_error");
      assert.match(body.message, /ACCESS_POLICY: rule 2 \(`\/admin\/ roles-all`\)/);
    }
    await assertNothingForwarded(origin, "a broken policy");
  } finally {
    await edge.dispose();
    await origin.close();
  }
});

describe("path spellings cannot make a request public or less guarded at the edge than at the origin", () => {
  const origins = {};
  const edges = {};
  before(async () => {
    for (const normalise of [false, true]) {
      const name = normalise ? "normalising" : "literal";
      origins[name] = await startOrigin({ normalise });
      edges[name] = await policyWorker(origins[name]);
    }
  });
  after(async () => {
    for (const { edge } of Object.values(edges)) await edge.dispose();
    for (const origin of Object.values(origins)) await origin.close();
  });

  /** The roles a request must carry for the route an origin acts on, by that origin's reading. */
  function needed(route) {
    const lower = route.toLowerCase().replace(/\/+$/, "");
    if (lower === "/admin" || lower.startsWith("/admin/")) return ["admin"];
    if (lower === "/api/reports" || lower.startsWith("/api/reports/")) return ["finance", "admin"];
    return null;
  }

  const SPELLINGS = [
    "/docs/..%2fadmin/users",
    "/docs/..%2Fadmin/users",
    "/docs/%2e%2e/admin/users",
    "/docs/.%2e/admin/users",
    "/docs/%252e%252e/admin/users",
    "/docs/%252e%252e%252fadmin/users",
    "/docs/..;/admin/users",
    "/docs/x;/../../admin/users",
    "/docs/..\\admin/users",
    "/docs/..%5cadmin/users",
    "/docs//../admin/users",
    "//admin/users",
    "/docs/intro/../../admin/users",
    "/docs/../admin/users",
    "/admin%3F/users",
    "/admin%3b/users",
    "/admin%23",
    "/ADMIN/users",
    "/Admin/",
    "/admin",
    "/%61dmin/users",
    "/api/Reports/q1",
    "/api/reports",
    "/API/REPORTS/",
    "/docs/%2e%2e%2fapi%2freports%2fq1",
    "/docs/intro%00/../../admin",
  ];

  test("every spelling is refused, or reaches the origin only with the roles the origin's route needs", async () => {
    let forwarded = 0;
    for (const [name, origin] of Object.entries(origins)) {
      const { edge, jars } = edges[name];
      for (const who of [null, "bob", "fin"]) {
        const cookie = who ? [`Cookie: ${jars[who].header()}`] : [];
        for (const target of SPELLINGS) {
          await origin.clear();
          const res = await rawRequest(edge.port, rawGet(edge.port, target, ["Accept: application/json", ...cookie]));
          const seen = await origin.requests();
          for (const request of seen) {
            forwarded++;
            const need = needed(request.route);
            if (!need) continue;
            const roles = (request.headers["x-auth-roles"] ?? "").split(",");
            assert.ok(
              need.some((role) => roles.includes(role)),
              `${name} origin acted on ${request.route} for ${target} as ${who ?? "nobody"} with roles [${roles}]`,
            );
          }
          if (seen.length === 0) assert.ok([400, 401, 403].includes(res.status), `${name} ${target} ${who}: ${res.status}`);
        }
      }
    }
    // Not vacuous: fin's reports spellings did reach the origins, with fin's roles.
    assert.ok(forwarded >= 4, `forwarded ${forwarded}`);
  });

  test("the same spellings reach the normalising origin for a user who holds the roles", async () => {
    const { edge, jars } = edges.normalising;
    const origin = origins.normalising;
    for (const target of ["/ADMIN/users", "/Admin/", "/admin"]) {
      await origin.clear();
      const res = await rawRequest(edge.port, rawGet(edge.port, target, ["Accept: application/json", `Cookie: ${jars.alice.header()}`]));
      assert.equal(res.status, 200, target);
      const [seen] = await origin.requests();
      assert.equal(seen.route, target.toLowerCase().replace(/\/$/, ""));
      assert.equal(seen.headers["x-auth-roles"], "admin,staff");
    }
  });

  test("ambiguous spellings are refused at the edge with 400, whoever asks", async () => {
    const { edge, jars } = edges.literal;
    for (const target of ["/docs/..%2fadmin/users", "/docs/%252e%252e/admin/users", "/docs/..;/admin/users", "/admin%3F/users", "/admin%3b/users", "//admin/users"]) {
      const res = await rawRequest(edge.port, rawGet(edge.port, target, ["Accept: application/json", `Cookie: ${jars.alice.header()}`]));
      assert.equal(res.status, 400, target);
      assert.equal(JSON.parse(res.body).error, "bad_request", target);
    }
  });
});
