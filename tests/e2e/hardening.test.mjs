// Hardening, end to end against the built worker in workerd: one family per class of attack that
// a run of about 900 attack requests found, each written to vary the spelling of the attack
// rather than to replay it. Sessions swapped by a planted refresh cookie; a public prefix
// bypassed through a stock static-file origin (Python's http.server); session cookies carried to
// the origin on a second Cookie line; other proxies' identity headers; concurrent and IPv6
// password guessing; raw session ids and tokens in audit lines.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { startOrigin, startWorker } from "./harness.mjs";
import {
  ACCESS,
  BROWSER,
  addUser,
  assertNothingForwarded,
  auditEvents,
  auditLines,
  login,
  pseudonym,
  rawGet,
  rawRequest,
  session,
} from "./support.mjs";

const API = { accept: "application/json" };

/** The name and value of the refresh cookie a login set, whatever the deployment names it. */
function refreshOf(jar) {
  const found = [...jar.cookies].find(([name]) => /eg_refresh$/.test(name));
  assert.ok(found, `a refresh cookie was set: ${[...jar.cookies.keys()].join(", ")}`);
  return { name: found[0], value: found[1], pair: `${found[0]}=${found[1]}` };
}

/** Starts `python3 -m http.server` on a free port serving `directory`; returns { url, port, close() }. */
async function startStaticOrigin(directory) {
  const child = spawn("python3", ["-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, "0"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => line),
    once(child, "exit").then(([code]) => {
      throw new Error(`python3 -m http.server exited early (code ${code})`);
    }),
  ]);
  const port = Number(first.match(/port (\d+)/)?.[1]);
  assert.ok(port > 0, `http.server announced its port: ${first}`);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

describe("a refresh cookie planted by a sibling subdomain", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startOrigin();
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true" }, captureLogs: true });
    await addUser(edge, "victim");
    await addUser(edge, "mallory");
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("the refresh cookie is host-only: __Host- prefix, Secure, Path=/ and no Domain", async () => {
    const { res } = await login(edge, "victim");
    assert.equal(res.status, 200);
    const refresh = res.headers.getSetCookie().find((c) => /^__Host-eg_refresh=/.test(c));
    assert.ok(refresh, `a __Host-eg_refresh cookie is set: ${res.headers.getSetCookie().join(" | ")}`);
    const attrs = refresh.split(";").map((a) => a.trim().toLowerCase());
    assert.ok(attrs.includes("secure") && attrs.includes("path=/") && attrs.includes("httponly"), refresh);
    assert.ok(!attrs.some((a) => a.startsWith("domain")), refresh);
    for (const line of res.headers.getSetCookie()) assert.match(line, /^__Host-/, `every session cookie is __Host-: ${line}`);
  });

  test("a planted __Secure-eg_refresh or eg_refresh (Domain=parent) signs nobody in as the attacker", async () => {
    // A sibling subdomain can set these names with Domain=<parent>; __Host- names it cannot.
    // The browser then sends the planted cookie with every request, alone (a logged-out victim)
    // or after the victim's own host-only cookies.
    const attacker = await session(edge, "mallory");
    const token = refreshOf(attacker).value;
    const victim = await session(edge, "victim");
    const own = victim.header();
    for (const name of ["__Secure-eg_refresh", "eg_refresh", "__secure-eg_refresh"]) {
      for (const [what, cookie] of [
        ["logged-out victim", `${name.trim()}=${token}`],
        ["victim with an expired access cookie", `${ACCESS}=expired; ${name.trim()}=${token}`],
        ["victim holding a session", `${own}; ${name.trim()}=${token}`],
      ]) {
        await origin.clear();
        const nav = await edge.fetch("/inbox", { headers: { ...BROWSER, cookie } });
        const seen = await origin.requests();
        for (const request of seen) assert.notEqual(request.headers["x-auth-user"], "mallory", `${name}, ${what}: forwarded as the attacker`);
        assert.ok(
          !nav.headers.getSetCookie().some((c) => c.startsWith(`${ACCESS}=`) && !/Max-Age=0/.test(c)) || what === "victim holding a session",
          `${name}, ${what}: no access cookie minted from the planted refresh token`,
        );
        await nav.body?.cancel();
        const explicit = await edge.fetch("/auth/refresh", { method: "POST", headers: { cookie: `${name.trim()}=${token}` } });
        assert.equal(explicit.status, 401, `${name}: POST /auth/refresh with only the planted cookie`);
        await explicit.body?.cancel();
      }
    }
    // The victim with their own cookies and the planted one is still the victim.
    await origin.clear();
    const res = await edge.fetch("/inbox", { headers: { ...API, cookie: `${own}; __Secure-eg_refresh=${token}` } });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const [request] = await origin.requests();
    assert.equal(request.headers["x-auth-user"], "victim");
    assert.ok(!String(request.headers.cookie ?? "").includes(token), "the planted token is stripped too");
  });

  test("REFRESH_COOKIE_PATH other than / is a configuration error naming the variable", async () => {
    const broken = await startWorker({ vars: { ORIGIN_URL: origin.url, REFRESH_COOKIE_PATH: "/auth/refresh" } });
    try {
      const res = await broken.fetch("/anything", { headers: API });
      assert.equal(res.status, 500);
      const body = await res.json();
      assert.equal(body.error, "configuration_error");
      assert.match(body.message, /REFRESH_COOKIE_PATH/);
    } finally {
      await broken.dispose();
    }
  });
});

describe("a public prefix in front of a stock static-file origin", () => {
  const SECRET = "TOP-SECRET-6f1c2e";
  const PUBLIC = "public-content-91aa";
  let dir;
  let origin;
  let edge;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "edgegate-static-"));
    mkdirSync(path.join(dir, "public", "sub"), { recursive: true });
    writeFileSync(path.join(dir, "public", "ok.txt"), PUBLIC);
    writeFileSync(path.join(dir, "public", "sub", "ok.txt"), PUBLIC);
    writeFileSync(path.join(dir, "secret.txt"), SECRET);
    mkdirSync(path.join(dir, "private"));
    writeFileSync(path.join(dir, "private", "secret.txt"), SECRET);
    origin = await startStaticOrigin(dir);
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, PUBLIC_PATHS: "/public/" } });
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = (target) => rawRequest(edge.port, rawGet(edge.port, target, ["Accept: */*"]));

  test("positive controls: public files are served anonymously, the secret is not", async () => {
    const ok = await get("/public/ok.txt");
    assert.equal(ok.status, 200);
    assert.ok(ok.body.includes(PUBLIC));
    const ordinary = await get("/public/%6Fk.txt");
    assert.equal(ordinary.status, 200, "an ordinary escape is decoded, not refused");
    const direct = await get("/secret.txt");
    assert.equal(direct.status, 401);
    assert.ok(!direct.body.includes(SECRET));
    const [python] = [await fetch(`${origin.url}/public/..%2fsecret.txt`)];
    assert.ok((await python.text()).includes(SECRET), "the origin itself resolves ..%2f outside the prefix");
  });

  test("no encoding, separator or dot spelling serves a file outside the prefix", async () => {
    const up = ["..%2f", "..%2F", "%2e%2e%2f", "%2E%2E%2F", ".%2e/", "%2e./", "..%5c", "..%5C", "..\\", "%2e%2e%5c",
      "..%252f", "%252e%252e%252f", "%252e%252e/", "..;/", ".%2e;/", "..%2f%2e%2e%2f", "%c0%ae%c0%ae%2f", "..%c0%af",
      "..%u2215", "..%00/", "%2e%2e%00/", "..%09/", "./..%2f", "sub/..%2f..%2f", "sub%2f..%2f..%2f", "..%2f..%2f"];
    const targets = [];
    for (const step of up) {
      targets.push(`/public/${step}secret.txt`, `/public/${step}private/secret.txt`, `/public/sub/${step}${step}secret.txt`);
    }
    targets.push("/public//../secret.txt", "/public/..//secret.txt", "/public/.%2e", "/public;/../secret.txt",
      "/public%2f..%2fsecret.txt", "/public/%2e%2e", "/public\\..\\secret.txt", "/public/ok.txt/..%2f..%2fsecret.txt");
    const refused = [];
    for (const target of targets) {
      const res = await get(target);
      assert.ok(!res.raw.includes(SECRET), `${target}: the secret was served anonymously (${res.status})`);
      assert.ok([400, 401, 404].includes(res.status), `${target}: ${res.status}`);
      if (res.status === 400) refused.push(target);
    }
    // The edge refuses them itself (a JSON 400), rather than relying on the origin.
    const encoded = await get("/public/..%2fsecret.txt");
    assert.equal(encoded.status, 400);
    assert.equal(JSON.parse(encoded.body).error, "bad_request");
    assert.ok(refused.length > targets.length / 2, `most spellings are refused at the edge (${refused.length}/${targets.length})`);
  });
});

describe("session cookies on more than one Cookie line", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startOrigin();
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", PUBLIC_PATHS: "/pub/" }, captureLogs: true });
    await addUser(edge, "alice");
    await addUser(edge, "bob");
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("the worker sees several Cookie lines as one value joined with a comma", async () => {
    await origin.clear();
    const res = await rawRequest(edge.port, rawGet(edge.port, "/pub/join", ["Cookie: a=1", "Cookie: b=2"]));
    assert.equal(res.status, 200);
    const [request] = await origin.requests();
    // What workerd hands the worker (passed through unchanged, as it has no session cookie).
    assert.equal(request.headers.cookie, "a=1, b=2");
  });

  test("no session cookie on any line reaches the origin", async () => {
    const alice = await session(edge, "alice");
    const access = alice.cookies.get(ACCESS);
    const { value: refresh, pair: refreshPair } = refreshOf(alice);
    const variants = [
      [`Cookie: theme=dark`, `Cookie: ${ACCESS}=${access}`],
      [`Cookie: ${ACCESS}=${access}; theme=dark`, `Cookie: lang=en; ${refreshPair}`],
      [`Cookie: ${ACCESS}=${access}`, `Cookie: ${refreshPair}`],
      [`Cookie: a=1`, `Cookie: b=2`, `Cookie: ${refreshPair}; c=3`],
      [`Cookie: ${ACCESS}=${access}; theme=dark`, `cookie:   x=1;${refreshPair}`],
      [`Cookie: theme=dark`, `COOKIE: __host-eg_access=${access}`],
    ];
    for (const lines of variants) {
      for (const target of ["/pub/lines", "/private/lines"]) {
        await origin.clear();
        const res = await rawRequest(edge.port, rawGet(edge.port, target, ["Accept: application/json", ...lines]));
        assert.ok(res.status > 0, `${target} ${lines.join(" / ")}: answered`);
        for (const request of await origin.requests()) {
          const forwarded = JSON.stringify(request.headers);
          // (The refresh token's first part is the session id, which X-Auth-Session carries.)
          for (const secret of [access, refresh, refresh.split(".")[1], access.split(".")[2]]) {
            assert.ok(!forwarded.includes(secret), `${target} ${lines.map((l) => l.slice(0, 40)).join(" / ")}: a token reached the origin: ${request.headers.cookie}`);
          }
        }
      }
    }
  });

  test("the same session cookie on two lines is cookie tossing: nobody is authenticated and it is logged", async () => {
    const alice = (await session(edge, "alice")).cookies.get(ACCESS);
    const bob = (await session(edge, "bob")).cookies.get(ACCESS);
    const address = "198.51.100.201";
    for (const lines of [
      [`Cookie: ${ACCESS}=${alice}`, `Cookie: ${ACCESS}=${bob}`],
      [`Cookie: ${ACCESS}=${bob}`, `Cookie: ${ACCESS}=${alice}`],
      [`Cookie: ${ACCESS}=${alice}`, `Cookie: ${ACCESS}=${alice}`],
    ]) {
      await origin.clear();
      const res = await rawRequest(edge.port, rawGet(edge.port, "/api/two-lines", ["Accept: application/json", `CF-Connecting-IP: ${address}`, ...lines]));
      assert.equal(res.status, 401);
      await assertNothingForwarded(origin, "a session cookie on two lines");
    }
    const tossing = await auditEvents(edge, (e) => e.event === "cookie_tossing" && e.client === pseudonym(address), { count: 3, what: "cookie_tossing lines" });
    assert.equal(tossing.length, 3);
  });
});

describe("identity headers of other proxies", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startOrigin();
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", PUBLIC_PATHS: "/pub/" } });
    await addUser(edge, "alice", { roles: ["member"] });
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  // Families read as identity by Authelia, oauth2-proxy, Pomerium, Apache, Kubernetes, IIS/Azure
  // App Service, AWS ALB, Google IAP, Cloudflare Access, Grafana/Gitea, Vouch, Tailscale,
  // Shibboleth and generic setups, in several spellings each.
  const FORGED = [
    "Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name", "remote_email", "REMOTE-GROUPS",
    "X-Remote-User", "X-Remote-Group", "X-Remote-Extra-Scopes", "x_remote_user",
    "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "x_forwarded_email",
    "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Access-Token",
    "X-Authenticated-User", "X-Authentik-Username", "X-Auth", "X.Auth.User", "x_auth_roles",
    "Cf-Access-Authenticated-User-Email", "CF-Access-Jwt-Assertion", "cf_access_client_id",
    "X-WEBAUTH-USER", "X-WebAuth-Email", "X-MS-CLIENT-PRINCIPAL", "X-MS-CLIENT-PRINCIPAL-NAME",
    "X-MS-CLIENT-PRINCIPAL-ID", "X-MS-TOKEN-AAD-ACCESS-TOKEN", "x-amzn-oidc-identity", "x-amzn-oidc-data",
    "x-amzn-oidc-accesstoken", "X-Goog-Authenticated-User-Email", "X-Goog-Authenticated-User-Id",
    "X-Goog-IAP-JWT-Assertion", "X-Pomerium-Jwt-Assertion", "X-Pomerium-Claim-Email", "X-Vouch-User",
    "Tailscale-User-Login", "OIDC_CLAIM_email", "Shib-Identity-Provider", "X-User", "X-User-Id",
    "X-Username", "X-User-Email", "GAP-Auth", "X-Original-URL", "X-Original-Host", "X-Real-IP",
    "X-Cluster-Client-IP", "True-Client-IP", "Forwarded",
  ];
  const MARK = "mallory-forged";

  function assertNoForgedHeader(request, what) {
    const names = request.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    const values = request.rawHeaders.filter((_, i) => i % 2 === 1);
    assert.ok(!values.some((v) => v.includes(MARK)), `${what}: a forged value reached the origin: ${JSON.stringify(request.rawHeaders)}`);
    const own = new Set(["x-auth-user", "x-auth-session", "x-auth-roles", "x-auth-assertion", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]);
    const canonical = (n) => n.replace(/[^a-z0-9]/g, "-");
    for (const name of names) {
      if (own.has(name)) continue;
      assert.ok(!FORGED.some((f) => canonical(f.toLowerCase()) === canonical(name)), `${what}: ${name} reached the origin`);
    }
  }

  test("every family, in every spelling sent raw, is removed for signed-in and anonymous requests", async () => {
    const cookie = (await session(edge, "alice")).header();
    // Sent in groups: one request per group keeps each under the header limits.
    for (let i = 0; i < FORGED.length; i += 12) {
      const group = FORGED.slice(i, i + 12).map((name) => `${name}: ${MARK}-${name}`);
      for (const [target, extra] of [["/api/families", [`Cookie: ${cookie}`]], ["/pub/families", []]]) {
        await origin.clear();
        const res = await rawRequest(edge.port, rawGet(edge.port, target, ["Accept: application/json", ...extra, ...group]));
        assert.equal(res.status, 200, `${target}: ${res.head.split("\r\n")[0]}`);
        const [request] = await origin.requests();
        assertNoForgedHeader(request, `${target} ${group[0]}`);
        if (target.startsWith("/api/")) assert.equal(request.headers["x-auth-user"], "alice");
        else assert.equal(request.headers["x-auth-user"], undefined);
      }
    }
  });

  test("the edge sets X-Forwarded-For, -Host and -Proto itself, once each", async () => {
    await origin.clear();
    const res = await rawRequest(
      edge.port,
      rawGet(edge.port, "/pub/xff", ["CF-Connecting-IP: 203.0.113.50", `X-Forwarded-For: 10.0.0.1, ${MARK}`, `X-Forwarded-Host: ${MARK}.example`, "X-Forwarded-Proto: gopher", `x_forwarded_for: ${MARK}`]),
    );
    assert.equal(res.status, 200);
    const [request] = await origin.requests();
    assertNoForgedHeader(request, "x-forwarded-*");
    const names = request.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const own of ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]) assert.equal(names.filter((n) => n === own).length, 1, own);
    assert.equal(request.headers["x-forwarded-for"], "203.0.113.50");
    assert.equal(request.headers["x-forwarded-proto"], "http");
  });
});

describe("login throttling under concurrency and across an IPv6 /64", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startOrigin();
    edge = await startWorker({
      vars: { ORIGIN_URL: origin.url, LOGIN_MAX_FAILURES_PER_ACCOUNT: "5", LOGIN_MAX_FAILURES_PER_CLIENT: "5" },
    });
    await addUser(edge, "target");
    await addUser(edge, "owner");
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  const attempt = async (username, password, address) => {
    const { res } = await login(edge, username, { password, headers: { "cf-connecting-ip": address } });
    await res.body?.cancel();
    return res.status;
  };
  const count = (statuses, status) => statuses.filter((s) => s === status).length;

  test("bursts of 20 concurrent wrong guesses against one account check at most 5 passwords per window", async () => {
    let checked = 0;
    for (let burst = 0; burst < 4; burst++) {
      const statuses = await Promise.all(
        // Every guess from its own address, so only the account's counter can stop them.
        Array.from({ length: 20 }, (_, i) => attempt("target", `wrong-${burst}-${i}`, `192.0.2.${burst * 20 + i + 1}`)),
      );
      assert.deepEqual(statuses.filter((s) => s !== 401 && s !== 429), [], "only 401 and 429 answers");
      checked += count(statuses, 401);
    }
    assert.ok(checked <= 5, `${checked} wrong passwords were checked against a limit of 5`);
    assert.equal(checked, 5, "the limit itself is reachable");
  });

  test("bursts from one address across many accounts check at most the per-client limit", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attempt(`nobody.${i}@example.net`, "guess", "198.51.100.33")),
    );
    assert.equal(count(statuses, 401), 5, `answers: ${statuses.join(",")}`);
    assert.equal(count(statuses, 429), 15);
  });

  test("addresses of one IPv6 /64 share one budget; IPv4-mapped addresses count as IPv4", async () => {
    const statuses = [];
    for (let i = 1; i <= 8; i++) statuses.push(await attempt(`v6.user.${i}`, "guess", `2001:db8:77:1::${i.toString(16)}:${i}`));
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429], "one /64, many addresses");
    assert.equal(await attempt("v6.other", "guess", "2001:db8:77:1:ffff:ffff:ffff:fffe"), 429, "anywhere in the /64");
    assert.equal(await attempt("v6.other", "guess", "2001:db8:77:2::1"), 401, "the next /64 has its own budget");
    const mapped = [];
    for (let i = 1; i <= 6; i++) mapped.push(await attempt(`v4.user.${i}`, "guess", i % 2 ? "::ffff:203.0.113.9" : "203.0.113.9"));
    assert.deepEqual(mapped, [401, 401, 401, 401, 401, 429]);
  });

  test("a right password is never held back by its own successes", async () => {
    for (let i = 0; i < 8; i++) assert.equal(await attempt("owner", undefined, "198.51.100.90"), 200, `login ${i + 1}`);
  });
});

describe("audit lines never carry a live session id or token", () => {
  let origin;
  let edge;
  before(async () => {
    origin = await startOrigin();
    edge = await startWorker({
      vars: { ORIGIN_URL: origin.url, COOKIE_SECURE: "true", LOGIN_MAX_FAILURES_PER_ACCOUNT: "2", REFRESH_GRACE: "0", ACCESS_TTL: "30", CLOCK_LEEWAY: "0" },
      captureLogs: true,
    });
    await addUser(edge, "alice");
  });
  after(async () => {
    await edge?.dispose();
    await origin?.close();
  });

  test("every event a request can cause, with ids and tokens in its path and headers, logs none of them", async () => {
    const secrets = new Set();
    const remember = (jar) => {
      for (const value of jar.cookies.values()) {
        secrets.add(value);
        for (const part of value.split(".")) if (part.length >= 16) secrets.add(part);
      }
    };
    const signIn = async () => {
      const { res, jar } = await login(edge, "alice");
      assert.equal(res.status, 200);
      const { session: { id } } = await res.json();
      secrets.add(id);
      remember(jar);
      return { jar, id };
    };
    const a = await signIn();
    const b = await signIn();
    const c = await signIn();
    const access = a.jar.cookies.get(ACCESS);
    const { name: REFRESH_NAME, value: refresh } = refreshOf(a.jar);
    // `Authorization: Bearer` is a credential of its own (it would take the cookies' place), so the
    // access token rides in another header here, and as a bearer token in its own request below.
    const leaky = { "x-session": b.id, "x-access-token": `Bearer ${access}`, "x-refresh": refresh, referer: `https://app.example/auth/sessions/${c.id}` };

    // cross_site_rejected, with ids and tokens in the path.
    for (const target of [`/auth/sessions/${b.id}`, `/auth/sessions/${refresh}`, `/auth/sessions/${access}`, `/auth/sessions/${b.id.replaceAll("-", "%2D")}`]) {
      const res = await edge.fetch(target, { method: "DELETE", headers: { ...leaky, cookie: a.jar.header(), "sec-fetch-site": "cross-site" } });
      assert.equal(res.status, 403);
      await res.body?.cancel();
    }
    for (const target of ["/auth/refresh", "/auth/logout", `/auth/login?next=/auth/sessions/${b.id}`]) {
      const res = await edge.fetch(target, { method: "POST", headers: { ...leaky, cookie: a.jar.header(), "sec-fetch-site": "cross-site", "content-type": "application/json" }, body: "{}" });
      await res.body?.cancel();
    }
    // token_rejected: a tampered token, and cookie_tossing: two access cookies.
    const tampered = `${access.slice(0, -4)}AAAA`;
    secrets.add(tampered.split(".")[2]);
    await (await edge.fetch(`/api/${b.id}`, { headers: { ...API, ...leaky, cookie: `${ACCESS}=${tampered}` } })).body?.cancel();
    await (await edge.fetch(`/api/${c.id}`, { headers: { ...API, ...leaky, cookie: `${ACCESS}=${access}; ${ACCESS}=${access}` } })).body?.cancel();
    await (await edge.fetch(`/api/${b.id}`, { headers: { ...API, ...leaky, authorization: `Bearer ${tampered}` } })).body?.cancel();
    // refresh, refresh_refused, reuse_detected.
    const rotated = await edge.fetch("/auth/refresh", { method: "POST", headers: { ...leaky, cookie: `${REFRESH_NAME}=${refresh}` } });
    assert.equal(rotated.status, 200);
    for (const line of rotated.headers.getSetCookie()) {
      const value = line.split(";")[0].split("=").slice(1).join("=");
      secrets.add(value);
      for (const part of value.split(".")) if (part.length >= 16) secrets.add(part);
    }
    await rotated.body?.cancel();
    await (await edge.fetch("/auth/refresh", { method: "POST", headers: { ...leaky, cookie: `${REFRESH_NAME}=${refresh}` } })).body?.cancel();
    // revoke one, revoke all, logout.
    await (await edge.fetch(`/auth/sessions/${c.id}`, { method: "DELETE", headers: { ...leaky, cookie: b.jar.header() } })).body?.cancel();
    const d = await signIn();
    await (await edge.fetch("/auth/logout", { method: "POST", headers: { ...leaky, cookie: d.jar.header() } })).body?.cancel();
    const e = await signIn();
    await (await edge.fetch("/auth/sessions", { method: "DELETE", headers: { ...leaky, cookie: e.jar.header() } })).body?.cancel();
    // login_failed and rate_limited, with a token as the password and ids in the username.
    for (let i = 0; i < 4; i++) {
      const { res } = await login(edge, "alice", { password: access, headers: leaky });
      await res.body?.cancel();
    }
    const { res: odd } = await login(edge, `${b.id}@@`, { password: refresh, headers: leaky });
    await odd.body?.cancel();

    const wanted = ["login_ok", "login_failed", "rate_limited", "refresh", "reuse_detected", "logout", "revoke", "revoke_all", "cross_site_rejected", "cookie_tossing", "token_rejected"];
    await auditEvents(edge, (l) => l.event === "rate_limited", { what: "the last line" });
    const kinds = new Set(auditLines(edge.logs()).map((l) => l.event));
    for (const kind of wanted) assert.ok(kinds.has(kind), `an ${kind} line was produced (got ${[...kinds].join(", ")})`);
    const crossSite = auditLines(edge.logs()).filter((l) => l.event === "cross_site_rejected" && String(l.detail).startsWith("/auth/sessions/"));
    assert.ok(crossSite.some((l) => l.detail === `/auth/sessions/~${pseudonym(b.id)}`), `a session id in a path is logged as its pseudonym: ${JSON.stringify(crossSite)}`);
    for (const line of edge.logs()) {
      for (const secret of secrets) assert.ok(!line.includes(secret), `a log line contains ${secret.slice(0, 10)}…: ${line.slice(0, 240)}`);
    }
  });
});
