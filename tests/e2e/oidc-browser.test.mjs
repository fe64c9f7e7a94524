// Sign-in through real OpenID providers in real Chromium: two `oidc-provider` instances on
// loopback (tests/e2e/oidc-support.mjs) configured as providers of the built worker in workerd,
// in front of the recording origin. A person clicks the provider's button, signs in at the
// provider's own form, and lands on the application signed in; the session is the edge's own
// (refresh in place, the session list), and the provider's logout ends it at the edge.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { ROOT, startOrigin, startWorker } from "./harness.mjs";
import { ACCESS, REFRESH, auditEvents } from "./support.mjs";
import { providerVars, startRealProvider } from "./oidc-support.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;

let one, two, origin, edge, base, browser;

before(async () => {
  if (skip) return;
  one = await startRealProvider({ id: "one", alg: "RS256" });
  two = await startRealProvider({ id: "two", alg: "ES256" });
  origin = await startOrigin();
  edge = await startWorker({
    captureLogs: true,
    vars: {
      ORIGIN_URL: origin.url,
      DEV_MODE: "true", // the providers and the origin are plain http on 127.0.0.1
      COOKIE_SECURE: "true", // Chromium keeps Secure cookies on http://localhost
      ...providerVars([
        { ...one, extra: { NAME: "Provider One", ROLES_CLAIM: "groups", ROLE_MAP: "admins=admin,staff=member" } },
        { ...two, extra: { NAME: "Provider Two", ALLOWED_DOMAINS: "example.com", LOGOUT: "provider" } },
      ]),
    },
  });
  base = edge.url.replace("://127.0.0.1:", "://localhost:");
  one.attach(base);
  two.attach(base);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await edge?.dispose().catch(() => {});
  await origin?.close().catch(() => {});
  await one?.close().catch(() => {});
  await two?.close().catch(() => {});
});

async function screenshot(page, file) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
}

/** From the app's sign-in page, through the provider's button, its login form and consent. */
async function signInAt(page, label, login) {
  await page.goto(`${base}/reports?year=2026`);
  assert.equal(new URL(page.url()).pathname, "/auth/login", "a protected page sends the browser to sign in");
  await page.getByRole("link", { name: `Sign in with ${label}` }).click();
  const form = page.locator("input[name=login]");
  await form.waitFor().catch(async (err) => {
    throw new Error(`no login form at the provider: ${page.url()}\n${(await page.content()).slice(0, 3000)}`, { cause: err });
  });
  await form.fill(login);
  await page.locator("input[name=password]").fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((url) => url.origin === base && url.pathname === "/reports");
}

const contexts = {};

test("a user signs in at a real provider and reaches the origin as <provider>:<sub>", { skip }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  contexts.one = { context, page };
  await page.goto(`${base}/auth/login`);
  await screenshot(page, "oidc-login.png");
  await origin.clear();
  await signInAt(page, "Provider One", "admin-ada");
  assert.equal(new URL(page.url()).search, "?year=2026", "next is carried through the provider");
  const seen = (await origin.requests()).filter((r) => r.url.startsWith("/reports"));
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers["x-auth-user"], "one:admin-ada");
  assert.equal(seen[0].headers["x-auth-roles"], "admin,member");
  // The provider's tokens reach neither the origin nor the browser: the only JWT forwarded is the
  // edge's own assertion, and the browser keeps the edge's two session cookies (the flow cookie
  // is cleared).
  for (const [name, value] of Object.entries(seen[0].headers)) {
    if (name !== "x-auth-assertion") assert.doesNotMatch(String(value), /eyJ[\w-]+\.eyJ|eg_oidc/, `header ${name}`);
  }
  const cookies = (await context.cookies()).filter((c) => c.domain === "localhost").map((c) => c.name);
  assert.deepEqual(cookies.sort(), [ACCESS, REFRESH].sort());
  await screenshot(page, "oidc-signed-in.png");
});

test("refresh in place works and the session list shows the provider's session", { skip }, async () => {
  const { context, page } = contexts.one;
  const before = (await context.cookies()).find((c) => c.name === REFRESH).value;
  await context.clearCookies({ name: ACCESS });
  await origin.clear();
  await page.goto(`${base}/reports`);
  assert.equal(new URL(page.url()).pathname, "/reports", `refreshed in place, not sent to sign in:\n${edge.logs().slice(-6).join("\n")}`);
  const seen = (await origin.requests()).filter((r) => r.url === "/reports");
  assert.equal(seen.length, 1, JSON.stringify(seen.map((r) => r.url)));
  assert.equal(seen[0].headers["x-auth-user"], "one:admin-ada");
  const after = (await context.cookies()).find((c) => c.name === REFRESH).value;
  assert.notEqual(after, before, "the refresh token rotated");
  const list = await page.evaluate(async () => (await fetch("/auth/sessions", { headers: { accept: "application/json" } })).json());
  const sessions = list.sessions ?? list;
  assert.equal(sessions.length, 1, JSON.stringify(list));
  assert.equal(sessions[0].current, true, JSON.stringify(list));
});

test("a second provider at the same time: its own namespace, allow-list by domain", { skip }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  contexts.two = { context, page };
  await origin.clear();
  await signInAt(page, "Provider Two", "bob");
  const seen = (await origin.requests()).filter((r) => r.url.startsWith("/reports"));
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers["x-auth-user"], "two:bob");
  // The first browser is still signed in as itself.
  await origin.clear();
  await contexts.one.page.goto(`${base}/reports`);
  assert.equal((await origin.requests()).find((r) => r.url === "/reports").headers["x-auth-user"], "one:admin-ada");
});

test("logging out at the provider ends the edge session at once (back-channel logout)", { skip }, async () => {
  const { page } = contexts.one;
  await page.goto(`${one.issuer}/session/end`);
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await auditEvents(edge, (e) => e.event === "revoke" && /back-channel logout ended 1 sessions/.test(e.detail ?? ""), {
    what: "the provider's back-channel logout",
  });
  const ended = edge.logs().join("\n");
  await origin.clear();
  await page.goto(`${base}/reports`);
  assert.equal(new URL(page.url()).pathname, "/auth/login", `the session was ended by the provider\n${ended.slice(-2000)}`);
  assert.deepEqual(
    (await origin.requests()).map((r) => r.url),
    [],
    "nothing reached the origin after the provider's logout",
  );
  // The other provider's user is untouched.
  await origin.clear();
  await contexts.two.page.goto(`${base}/reports`);
  assert.equal((await origin.requests()).find((r) => r.url === "/reports").headers["x-auth-user"], "two:bob");
});

test("logging out at the edge logs out at the provider too (RP-initiated logout) and comes back", { skip }, async () => {
  const { page } = contexts.two;
  await page.goto(`${base}/auth/login`);
  const hops = [];
  page.on("response", (r) => hops.push(`${r.status()} ${r.url()} -> ${r.headers().location ?? ""}`));
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL((url) => url.origin === two.issuer).catch(() => {});
  assert.equal(new URL(page.url()).origin, two.issuer, `the browser is at the provider logout: ${page.url()}\n${hops.join("\n")}`);
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await page.waitForURL((url) => url.origin === base && url.pathname === "/auth/login");
  assert.equal(new URL(page.url()).searchParams.get("reason"), "logged_out");
  await page.locator("#login-error", { hasText: "You have logged out" }).waitFor();
  const session = await page.evaluate(async () => (await fetch("/auth/session", { headers: { accept: "application/json" } })).status);
  assert.equal(session, 401, "the edge session is gone");
  // The provider's own session ended too: signing in again asks for the login form.
  await page.getByRole("link", { name: "Sign in with Provider Two" }).click();
  await page.locator("input[name=login]").waitFor();
  await screenshot(page, "oidc-provider-login-again.png");
});
