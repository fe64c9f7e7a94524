// Browser tests of the whole sign-in flow: real Chromium (playwright-core) against the built worker
// in workerd (Miniflare, tests/e2e/harness.mjs) in front of the real demo origin
// (scripts/demo-origin.mjs), which verifies every x-auth-assertion against the worker's JWKS.
//
// The pages are opened on http://localhost:<port>: Chromium treats localhost as a secure context,
// so with COOKIE_SECURE=true it stores the `Secure` `__Host-` cookies as in production.
//
// The steps share one system and run in order; when a step fails, the steps that need its result
// are skipped (named in their skip message) rather than failing for the same reason again.
// Screenshots go to test-artifacts/ (git-ignored), and so does browser-exchange.log: every
// request the browser made and the worker's answer (status, Location, Set-Cookie names).
import assert from "node:assert/strict";
import { randomBytes, pbkdf2Sync } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { freePort } from "../../bench/workerd.mjs";
import { ROOT, startWorker } from "./harness.mjs";
import { orderedSteps, sessionOf, startDemoOrigin } from "./browser-steps.mjs";
import { ACCESS as ACCESS_COOKIE, REFRESH as REFRESH_COOKIE } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const ISSUER = "https://edgegate.e2e.test";
const AUDIENCE = "edgegate-e2e-origin";
const USER = "alice";
const PASSWORD = "correct horse battery staple";
const STEP_TIMEOUT = 60_000;


const skipAll = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (apt-get install -y chromium)` : false;

// --- shared state -------------------------------------------------------------------------------

let edge; // harness worker
let origin; // demo origin child process
let base; // http://localhost:<worker port>
let originBase; // http://127.0.0.1:<demo origin port>
let browser;
const exchange = []; // every request/response seen by any page, for the log and failure messages
const { step } = orderedSteps({ skipAll, timeout: STEP_TIMEOUT });
const contexts = {}; // name -> { context, page }


// --- helpers --------------------------------------------------------------------------------------

/** The USERS KV record for `password`, in the worker's `pbkdf2-sha256$...` format. */
function passwordRecord(password, roles = ["member"]) {
  const iterations = 100_000;
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const b64 = (buf) => buf.toString("base64").replace(/=+$/, "");
  return JSON.stringify({ password: `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(hash)}`, roles, disabled: false });
}

const b64url = (buf) => buf.toString("base64url");


/** Records the page's HTTP traffic into `exchange` (tagged with the context's name). */
function record(name, page) {
  page.on("response", async (response) => {
    const request = response.request();
    if (!request.url().startsWith(base)) return;
    let setCookies = [];
    try {
      // Values hidden: name, whether it is a clearing cookie, and the attributes.
      setCookies = (await response.headerValues("set-cookie")).map((line) => {
        const [pair, ...attributes] = line.split(";");
        const [name, value = ""] = pair.split("=");
        return `${name.trim()}=${value.trim() ? "<value>" : "<empty>"};${attributes.join(";")}`;
      });
    } catch {}
    const url = new URL(request.url());
    exchange.push(
      `[${name}] ${request.method()} ${url.pathname}${url.search} -> ${response.status()}` +
        (response.headers().location ? ` Location: ${response.headers().location}` : "") +
        (setCookies.length ? `\n    Set-Cookie: ${setCookies.join("\n    Set-Cookie: ")}` : ""),
    );
  });
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  return problems;
}

/** The last few exchanges of context `name`, for assertion messages. */
function recent(name, count = 8) {
  return exchange.filter((line) => line.startsWith(`[${name}]`)).slice(-count).join("\n");
}

async function newContext(name, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems = record(name, page);
  contexts[name] = { context, page, problems };
  return contexts[name];
}

async function screenshot(page, file) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
}

/** Fills and submits the sign-in form of the page, by its labels, like a user with a keyboard. */
async function signIn(page, password = PASSWORD) {
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("Password").press("Enter");
}


async function sessionRows(page) {
  await page.locator("#sessions[aria-busy='false']").waitFor({ timeout: 10_000 });
  return page.locator("#sessions li.session[data-session-id]").evaluateAll((items) =>
    items.map((li) => ({ id: li.dataset.sessionId, current: li.dataset.current === "true", text: li.textContent })),
  );
}

const pathOf = (page) => {
  const url = new URL(page.url());
  return { path: url.pathname, params: url.searchParams, full: url.pathname + url.search };
};

// --- system ---------------------------------------------------------------------------------------

before(async () => {
  if (skipAll) return;
  const originPort = await freePort();
  edge = await startWorker({
    vars: {
      ORIGIN_URL: `http://127.0.0.1:${originPort}`,
      ISSUER,
      ORIGIN_AUDIENCE: AUDIENCE,
      DEV_MODE: "true", // the origin is plain http on 127.0.0.1
      COOKIE_SECURE: "true",
    },
    secrets: {
      SESSION_KEYS: `s1:${b64url(randomBytes(32))}`,
      ASSERTION_KEYS: `a1:${b64url(randomBytes(32))}`,
    },
  });
  origin = await startDemoOrigin(originPort, edge.url, { issuer: ISSUER, audience: AUDIENCE });
  originBase = `http://127.0.0.1:${originPort}`;
  base = edge.url.replace("://127.0.0.1:", "://localhost:");
  await (await edge.kv("USERS")).put(`user:${USER}`, passwordRecord(PASSWORD));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, "browser-exchange.log"), exchange.join("\n") + "\n");
  await browser?.close().catch(() => {});
  if (origin && origin.exitCode === null) {
    origin.kill("SIGTERM");
    await once(origin, "exit").catch(() => {});
  }
  await edge?.dispose().catch(() => {});
});

// --- steps ------------------------------------------------------------------------------------------

step("the sign-in page is served with the strict CSP, is keyboard-operable and shows ?error= messages", [], async () => {
  const { page, problems } = await newContext("A");
  const response = await page.goto(`${base}/auth/login?error=invalid_credentials&next=%2Fapp`);
  assert.equal(response.status(), 200, recent("A"));
  const csp = response.headers()["content-security-policy"] ?? "";
  for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"]) {
    assert.ok(csp.includes(directive), `CSP lacks ${directive}: ${csp}`);
  }
  assert.match(response.headers()["content-type"] ?? "", /^text\/html/);

  // The stylesheet and the script loaded (a CSP violation or a 404 shows up as a console error).
  assert.equal(await page.locator("body").evaluate((b) => getComputedStyle(b).display), "flex", "style.css not applied");
  await assert.doesNotReject(page.locator("#login-error", { hasText: "incorrect" }).waitFor({ timeout: 5000 }), "the page does not show the error");
  assert.equal(await page.locator("#next").inputValue(), "/app", "?next= is not in the form");

  // Accessible names, autocomplete, keyboard order.
  assert.equal(await page.getByLabel("Username").getAttribute("autocomplete"), "username");
  assert.equal(await page.getByLabel("Password").getAttribute("autocomplete"), "current-password");
  assert.equal(await page.locator("#login-error").getAttribute("role"), "alert");
  await page.getByLabel("Username").focus();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "password");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "submit");
  const ring = await page.locator("#submit").evaluate((el) => getComputedStyle(el).outlineStyle);
  assert.notEqual(ring, "none", "no visible focus ring on the submit button");
  await screenshot(page, "login-error.png");
  assert.deepEqual(problems, [], "console errors on the sign-in page");
});

step("a protected page redirects to sign-in with next; a wrong password comes back with the error and next kept", [], async () => {
  const { page } = await newContext("A2");
  const target = "/app/dashboard?tab=1";
  await page.goto(`${base}${target}`);
  let at = pathOf(page);
  assert.equal(at.path, "/auth/login", `not redirected to the sign-in page:\n${recent("A2")}`);
  assert.equal(at.params.get("next"), target, `next is not the requested page:\n${recent("A2")}`);
  assert.equal(await page.locator("#next").inputValue(), target);
  await screenshot(page, "login.png");

  await signIn(page, "not the password");
  await page.waitForURL((url) => url.pathname === "/auth/login" && url.searchParams.has("error"), { timeout: 15_000 });
  at = pathOf(page);
  assert.equal(at.params.get("error"), "invalid_credentials", recent("A2"));
  assert.equal(at.params.get("next"), target, `next lost after a failed sign-in:\n${recent("A2")}`);
  await page.locator("#login-error", { hasText: "incorrect" }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator("#next").inputValue(), target);
  await contexts.A2.context.close();
});

step("signing in lands on next, where the demo origin verified the assertion and shows the identity", [], async () => {
  const { page, context } = contexts.A ?? (await newContext("A"));
  await page.goto(`${base}/app/dashboard?tab=1`);
  assert.equal(pathOf(page).path, "/auth/login", `not redirected to the sign-in page:\n${recent("A")}`);
  await signIn(page);
  await page.waitForURL((url) => url.pathname === "/app/dashboard", { timeout: 15_000 }).catch(() => {
    assert.fail(`did not land on /app/dashboard but on ${page.url()}:\n${recent("A")}`);
  });
  assert.equal(pathOf(page).full, "/app/dashboard?tab=1");
  const verdict = page.locator("#verdict");
  assert.equal(
    await verdict.getAttribute("data-verified"),
    "true",
    `the demo origin did not verify the assertion: ${await verdict.innerText()}`,
  );
  assert.equal(await page.locator("#verified-user").innerText(), USER);
  assert.match(await page.locator("#claim-roles").innerText(), /member/);
  // The session cookies never reach page scripts (HttpOnly) nor the origin (stripped by the worker).
  assert.equal(await page.evaluate(() => document.cookie), "");
  const headers = await page.locator("#auth-headers").innerText();
  assert.match(headers, /x-auth-user\s+alice/);
  await screenshot(page, "demo-origin.png");
  assert.ok((await context.cookies()).length > 0);
});

step("the session cookies are HttpOnly, Secure, host-bound and SameSite", ["signing in lands on next, where the demo origin verified the assertion and shows the identity"], async () => {
  const cookies = await contexts.A.context.cookies();
  const byName = Object.fromEntries(cookies.map((c) => [c.name, c]));
  const describe = JSON.stringify(cookies.map(({ name, path, httpOnly, secure, sameSite, domain }) => ({ name, path, httpOnly, secure, sameSite, domain })));
  assert.deepEqual(Object.keys(byName).sort(), [ACCESS_COOKIE, REFRESH_COOKIE].sort(), `unexpected cookie set: ${describe}`);
  const access = byName[ACCESS_COOKIE];
  assert.equal(access.httpOnly, true, describe);
  assert.equal(access.secure, true, describe);
  assert.equal(access.sameSite, "Lax", describe);
  assert.equal(access.path, "/", describe);
  assert.equal(access.domain, "localhost", describe); // host-only (a __Host- cookie has no Domain)
  const refresh = byName[REFRESH_COOKIE];
  assert.equal(refresh.httpOnly, true, describe);
  assert.equal(refresh.secure, true, describe);
  assert.equal(refresh.sameSite, "Strict", describe);
  assert.equal(refresh.path, "/", describe);
  assert.equal(refresh.domain, "localhost", describe); // host-only: no sibling can plant a __Host- cookie
  assert.ok(refresh.expires > access.expires, `the refresh cookie should outlive the access cookie: ${describe}`);
});

step("identity headers sent by the browser are replaced, not forwarded", ["signing in lands on next, where the demo origin verified the assertion and shows the identity"], async () => {
  const { page } = contexts.A;
  await page.setExtraHTTPHeaders({ "x-auth-user": "mallory", "x-auth-roles": "admin", "x-auth-assertion": "forged" });
  try {
    await page.goto(`${base}/app/forged`);
    assert.equal(await page.locator("#verdict").getAttribute("data-verified"), "true", recent("A"));
    assert.equal(await page.locator("#verified-user").innerText(), USER);
    const headers = await page.locator("#auth-headers").innerText();
    assert.doesNotMatch(headers, /mallory|admin|forged/);
  } finally {
    await page.setExtraHTTPHeaders({});
  }
});

step("the account page shows who is signed in and exactly one session, marked as this device", ["signing in lands on next, where the demo origin verified the assertion and shows the identity"], async () => {
  const { page, problems } = contexts.A;
  problems.length = 0;
  const response = await page.goto(`${base}/auth/account`);
  assert.equal(response.status(), 200, recent("A"));
  assert.match(response.headers()["content-security-policy"] ?? "", /default-src 'none'/);
  const rows = await sessionRows(page);
  assert.equal(await page.locator("#user-id").innerText(), USER);
  assert.match(await page.locator("#user-roles").innerText(), /member/);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.equal(rows[0].current, true);
  assert.match(rows[0].text, /This device/);
  const { body } = await sessionOf(page);
  assert.equal(rows[0].id, body.session.id);
  contexts.A.sessionId = body.session.id;
  assert.deepEqual(problems, [], "console errors on the account page");
});

step("a second browser signs in: both see two sessions, each with the this-device marker on its own", ["the account page shows who is signed in and exactly one session, marked as this device"], async () => {
  const { page } = await newContext("B", {
    userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
  });
  // The account page is served to anyone; without a session its script sends the browser to
  // sign-in (a redirect by the worker would do as well).
  await page.goto(`${base}/auth/account`);
  await page.waitForURL((url) => url.pathname === "/auth/login", { timeout: 10_000 }).catch(() => {
    assert.fail(`the account page without a session did not lead to sign-in: ${page.url()}\n${recent("B")}`);
  });
  assert.equal(pathOf(page).params.get("next"), "/auth/account", recent("B"));
  assert.equal(pathOf(page).params.get("error"), null, "a browser that never signed in is not told its session ended");
  await signIn(page);
  await page.waitForURL((url) => url.pathname === "/auth/account", { timeout: 15_000 }).catch(() => {
    assert.fail(`did not land on /auth/account but on ${page.url()}:\n${recent("B")}`);
  });
  const { body } = await sessionOf(page);
  contexts.B.sessionId = body.session.id;
  assert.notEqual(contexts.B.sessionId, contexts.A.sessionId);

  const rowsB = await sessionRows(page);
  assert.equal(rowsB.length, 2, JSON.stringify(rowsB));
  assert.deepEqual(rowsB.filter((r) => r.current).map((r) => r.id), [contexts.B.sessionId]);
  assert.match(rowsB.find((r) => r.current).text, /Firefox on Windows/);

  const pageA = contexts.A.page;
  await pageA.reload();
  const rowsA = await sessionRows(pageA);
  assert.equal(rowsA.length, 2, JSON.stringify(rowsA));
  assert.deepEqual(rowsA.filter((r) => r.current).map((r) => r.id), [contexts.A.sessionId]);
  assert.ok(rowsA.some((r) => r.id === contexts.B.sessionId && /Firefox on Windows/.test(r.text)));
  await screenshot(pageA, "account.png");
  await pageA.setViewportSize({ width: 390, height: 800 });
  await screenshot(pageA, "account-mobile.png");
  await pageA.setViewportSize({ width: 1000, height: 800 });
});

step("ending the other session from the first browser signs the second one out", ["a second browser signs in: both see two sessions, each with the this-device marker on its own"], async () => {
  const { page } = contexts.A;
  const row = page.locator(`#sessions li[data-session-id="${contexts.B.sessionId}"]`);
  const deleted = page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().endsWith(`/auth/sessions/${contexts.B.sessionId}`));
  await row.getByRole("button", { name: /End session/ }).click();
  const response = await deleted;
  assert.equal(response.status(), 200, `DELETE /auth/sessions/{id} answered ${response.status()}: ${await response.text()}`);
  await row.waitFor({ state: "detached", timeout: 5000 });
  assert.match(await page.locator("#status").innerText(), /ended/);
  assert.equal((await sessionRows(page)).length, 1);

  // The first browser is still signed in.
  assert.equal((await sessionOf(page)).status, 200);

  // The second browser's next navigation goes back to sign-in; its API calls get 401.
  const pageB = contexts.B.page;
  await pageB.goto(`${base}/app/after-revoke`);
  assert.equal(pathOf(pageB).path, "/auth/login", `the ended session still reaches the origin:\n${recent("B")}`);
  assert.equal(pathOf(pageB).params.get("next"), "/app/after-revoke");
  assert.equal((await sessionOf(pageB)).status, 401);
});

step("a form login works without JavaScript", [], async () => {
  const { page } = await newContext("NoJS", { javaScriptEnabled: false });
  await page.goto(`${base}/app/nojs`);
  assert.equal(pathOf(page).path, "/auth/login", recent("NoJS"));
  await signIn(page);
  // The worker rendered `next` into the form, so the deep link is kept without the script.
  await page.waitForURL((url) => url.pathname === "/app/nojs", { timeout: 15_000 }).catch(() => {
    assert.fail(`still on ${page.url()}:\n${recent("NoJS")}`);
  });
  assert.equal(await page.locator("#verdict").getAttribute("data-verified"), "true", recent("NoJS"));
  assert.equal(await page.locator("#verified-user").innerText(), USER);
});

step("log out everywhere ends every session, this browser's included", ["ending the other session from the first browser signs the second one out", "a form login works without JavaScript"], async () => {
  // B signs in again, so there are three live sessions (A, B, NoJS).
  const pageB = contexts.B.page;
  await signIn(pageB);
  await pageB.waitForURL((url) => url.pathname === "/app/after-revoke", { timeout: 15_000 });

  const { page, context } = contexts.A;
  await page.goto(`${base}/auth/account`);
  assert.equal((await sessionRows(page)).length, 3);
  await page.getByLabel("Yes, end every session, including this one").check();
  await page.getByRole("button", { name: "Log out everywhere" }).click();
  await page.waitForURL((url) => url.pathname === "/auth/login", { timeout: 15_000 }).catch(() => {
    assert.fail(`not sent to sign-in after logging out everywhere: ${page.url()}\n${recent("A")}`);
  });
  const left = (await context.cookies()).map((c) => c.name);
  assert.deepEqual(left, [], `cookies left after logging out everywhere: ${left}`);

  for (const name of ["A", "B", "NoJS"]) {
    const other = contexts[name].page;
    await other.goto(`${base}/app/after-logout-everywhere`);
    assert.equal(pathOf(other).path, "/auth/login", `${name} still reaches the origin:\n${recent(name)}`);
  }
});

step("the log out button of the demo origin clears the cookies with Clear-Site-Data", [], async () => {
  const { page, context } = await newContext("C");
  await page.goto(`${base}/app/logout-test`);
  await signIn(page);
  await page.waitForURL((url) => url.pathname === "/app/logout-test", { timeout: 15_000 });
  const posted = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/auth/logout"));
  await page.getByRole("button", { name: "Log out" }).click();
  const response = await posted;
  assert.equal(response.status(), 303, recent("C"));
  assert.equal((await response.allHeaders())["clear-site-data"], '"cookies"', recent("C"));
  await page.waitForURL((url) => url.pathname === "/auth/login", { timeout: 15_000 });
  assert.deepEqual((await context.cookies()).map((c) => c.name), []);
  await page.goto(`${base}/app/logout-test`);
  assert.equal(pathOf(page).path, "/auth/login", recent("C"));
});

step("the demo origin refuses identity headers without a valid assertion", [], async () => {
  const jwks = await (await fetch(`${edge.url}/.well-known/jwks.json`)).json();
  assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1, JSON.stringify(jwks));
  assert.equal(jwks.keys[0].kty, "OKP");
  assert.equal(jwks.keys[0].crv, "Ed25519");
  assert.equal(jwks.keys[0].d, undefined, "the JWKS leaks the private key");

  const { page } = await newContext("Direct");
  await page.setExtraHTTPHeaders({ "x-auth-user": "mallory", "x-auth-session": "s", "x-auth-roles": "admin" });
  await page.goto(`${originBase}/app/direct`);
  assert.equal(await page.locator("#verdict").getAttribute("data-verified"), "false");
  assert.match(await page.locator("#verdict").innerText(), /NOT VERIFIED/i);
  assert.equal(await page.locator("#verify-error-code").innerText(), "NO_ASSERTION");
  await screenshot(page, "demo-origin-unverified.png");
});
