// Browser tests of every state the sign-in, account and error pages can be in: real Chromium
// (playwright-core) against the built worker in workerd (tests/e2e/harness.mjs) in front of the
// recording origin, at a desktop and a phone viewport, with and without JavaScript where a
// person may have it off. Each state is asserted by what the page shows, screenshotted into
// test-artifacts/pages-*.png, and checked with axe-core (every rule axe runs by default,
// best practices included), which must report no violation of any impact.
//
// APP_NAME holds markup characters on purpose: the pages must show it as text.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { ROOT, startSystem, userRecord } from "./harness.mjs";
import { ACCESS as ACCESS_COOKIE, REFRESH as REFRESH_COOKIE } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const AXE = readFileSync(path.join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
const APP_NAME = `Acme <Portal> & "Co"`;
const USER = "alice";
const PASSWORD = "correct horse battery staple";
const CLIENT_ADDRESS = "203.0.113.77";
const VIEWPORTS = {
  desktop: { viewport: { width: 1100, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
};
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (apt-get install -y chromium)` : false;

let system;
let base;
let browser;
const axeReport = []; // "state: N violations", printed at the end

before(async () => {
  if (skip) return;
  system = await startSystem({
    vars: {
      APP_NAME,
      DEV_MODE: "true",
      COOKIE_SECURE: "true",
      SESSION_STORE: "kv", // the expiry test ages a session record in KV
      REFRESH_GRACE: "0", // a retired refresh token is reuse at once
      ACCESS_POLICY: "/admin/ roles-all admin,ops", // the 403 page (alice is a member)
    },
    slowKv: { ms: 0, bindings: ["SESSIONS"] }, // faults switched on for the error state
  });
  base = system.edge.url.replace("://127.0.0.1:", "://localhost:");
  await (await system.edge.kv("USERS")).put(`user:${USER}`, userRecord(PASSWORD));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await system?.dispose().catch(() => {});
  if (axeReport.length) console.log(`axe-core results:\n  ${axeReport.join("\n  ")}`);
});

// --- helpers --------------------------------------------------------------------------------------

async function open(device = "desktop", { javaScript = true, address = CLIENT_ADDRESS } = {}) {
  const context = await browser.newContext({
    ...VIEWPORTS[device],
    javaScriptEnabled: javaScript,
    extraHTTPHeaders: { "cf-connecting-ip": address },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on("console", (msg) => msg.type() === "error" && problems.push(msg.text()));
  page.on("pageerror", (err) => problems.push(err.message));
  return { context, page, problems, device, javaScript };
}

const RUN_AXE = `(async () => {
  if (!window.axe) { ${AXE}\n }
  const result = await window.axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
})()`;

/**
 * axe-core on a page whose scripts are off, where nothing can be evaluated in it: the page's
 * document as the browser built it (so <noscript> content is in it) is served, with its scripts
 * removed, at the same address to a scripting page of the same size, where axe runs.
 */
async function axeWithoutScripts(tab) {
  const html = (await tab.page.content())
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, "")
    .replace(/<(\/?)noscript>/g, "<$1div>");
  const context = await browser.newContext({ ...VIEWPORTS[tab.device] });
  try {
    const page = await context.newPage();
    const url = tab.page.url();
    await page.route(url, (route) => route.fulfill({ status: 200, contentType: "text/html", body: html }));
    await page.goto(url);
    return await page.evaluate(RUN_AXE);
  } finally {
    await context.close();
  }
}

/** Screenshot and axe-core run of the page in its current state; no violation may remain. */
async function check(tab, state) {
  const label = `${state} (${tab.device}${tab.javaScript ? "" : ", no JavaScript"})`;
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = `pages-${state}-${tab.device}${tab.javaScript ? "" : "-nojs"}.png`;
  await tab.page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
  // axe runs through the DevTools protocol, which the page's CSP does not stop.
  const violations = tab.javaScript ? await tab.page.evaluate(RUN_AXE) : await axeWithoutScripts(tab);
  axeReport.push(`${label}: ${violations.length} violations`);
  assert.deepEqual(violations, [], `axe violations in ${label}: ${JSON.stringify(violations, null, 1)}`);
}

const at = (page) => {
  const url = new URL(page.url());
  return { path: url.pathname, params: url.searchParams };
};

let users = 0;
/** A fresh account, so that each scenario sees only its own sessions. */
async function newUser() {
  const name = `user${++users}`;
  await (await system.edge.kv("USERS")).put(`user:${name}`, userRecord(PASSWORD));
  return name;
}

async function signIn(page, password = PASSWORD, username = USER) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Signs in through a deep link and lands on it. */
async function signedIn(tab, target = "/app/start", user = USER) {
  await tab.page.goto(`${base}${target}`);
  assert.equal(at(tab.page).path, "/auth/login");
  await signIn(tab.page, PASSWORD, user);
  await tab.page.waitForURL((url) => url.pathname === target.split("?")[0], { timeout: 15_000 });
}

async function sessionId(page) {
  return page.evaluate(async () => (await (await fetch("/auth/session", { headers: { accept: "application/json" } })).json()).session.id);
}

/** The notice of the sign-in page, as a person reads it. */
const notice = (page) => page.locator("#login-error").innerText();

/** Every visible control is at least 44 px tall and wide enough to hit on a touch screen. */
async function assertTouchTargets(page) {
  const small = await page.locator("button, a.button, input:not([type=hidden]), .check label").evaluateAll((elements) =>
    elements
      .filter((el) => el.offsetParent !== null && el.type !== "checkbox")
      .map((el) => ({ el: el.id || el.textContent.trim(), box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.height < 44 || box.width < 44)
      .map(({ el, box }) => `${el}: ${Math.round(box.width)}x${Math.round(box.height)}`),
  );
  assert.deepEqual(small, [], "touch targets under 44 px");
}

function scenario(name, fn) {
  test(name, { timeout: 120_000, skip }, fn);
}

// --- the sign-in page -----------------------------------------------------------------------------

const REASONS = {
  logged_out: /You have logged out\./,
  logged_out_everywhere: /logged out on every device/,
  session_ended: /ended from another device/,
  session_expired: /Your session expired/,
  reuse_detected: /ended for your safety/,
};

for (const device of Object.keys(VIEWPORTS)) {
  scenario(`sign-in page says why for every way a session ends, without JavaScript (${device})`, async () => {
    const tab = await open(device, { javaScript: false });
    for (const [reason, words] of Object.entries(REASONS)) {
      const response = await tab.page.goto(`${base}/auth/login?reason=${reason}&next=%2Fapp%2Fx`);
      assert.equal(response.status(), 200);
      assert.match(await notice(tab.page), words, reason);
      assert.equal(await tab.page.locator("#next").inputValue(), "/app/x");
      await check(tab, `login-reason-${reason}`);
    }
    // An unknown reason says nothing rather than something wrong; the app's name is text.
    await tab.page.goto(`${base}/auth/login?reason=%3Cscript%3E`);
    assert.equal(await notice(tab.page), "");
    assert.equal(await tab.page.locator("#app-name").innerText(), APP_NAME);
    assert.match(await tab.page.title(), /Acme <Portal> & "Co"/);
    await check(tab, "login");
    if (device === "phone") await assertTouchTargets(tab.page);
    await tab.context.close();
  });

  scenario(`without JavaScript a wrong password shows the error and keeps the username and next; a deep link lands after sign-in (${device})`, async () => {
    const tab = await open(device, { javaScript: false });
    const target = "/app/deep/link?tab=2";
    await tab.page.goto(`${base}${target}`);
    assert.equal(at(tab.page).path, "/auth/login");
    assert.equal(await tab.page.locator("#next").inputValue(), target, "next is not in the served form");
    await signIn(tab.page, "not the password");
    await tab.page.waitForURL((url) => url.searchParams.get("error") === "invalid_credentials");
    assert.equal(await notice(tab.page), "The username or password is incorrect.");
    assert.equal(await tab.page.getByLabel("Username").inputValue(), USER, "the username was cleared");
    assert.equal(await tab.page.getByLabel("Password").inputValue(), "");
    assert.equal(await tab.page.getByLabel("Username").getAttribute("aria-invalid"), "true");
    assert.equal(await tab.page.locator("#next").inputValue(), target, "next lost after a failed sign-in");
    await check(tab, "login-wrong-password");
    await tab.page.getByLabel("Password").fill(PASSWORD);
    await tab.page.getByRole("button", { name: "Sign in" }).click();
    await tab.page.waitForURL((url) => url.pathname === "/app/deep/link", { timeout: 15_000 });
    assert.equal(new URL(tab.page.url()).search, "?tab=2");

    // The account page without JavaScript: a clear view and working forms, no endless "Loading".
    await tab.page.goto(`${base}/auth/account`);
    assert.match(await tab.page.locator("#nojs").innerText(), /JavaScript, which is off/);
    assert.equal(await tab.page.getByText("Loading").isVisible(), false);
    assert.equal(await tab.page.locator("#summary").isVisible(), false);
    assert.equal(await tab.page.getByRole("button", { name: "Log out everywhere" }).isVisible(), true);
    await check(tab, "account-nojs");
    if (device === "phone") await assertTouchTargets(tab.page);
    await tab.page.getByRole("button", { name: "Log out", exact: true }).click();
    await tab.page.waitForURL((url) => url.searchParams.get("reason") === "logged_out");
    assert.match(await notice(tab.page), REASONS.logged_out);
    await tab.context.close();
  });

  scenario(`the sign-in page of a signed-in browser says so and offers to continue (${device})`, async () => {
    const tab = await open(device);
    await signedIn(tab, "/app/first");
    await tab.page.goto(`${base}/auth/login?next=%2Fapp%2Fsecond`);
    assert.equal(await tab.page.getByRole("heading", { level: 1 }).innerText(), "You are already signed in");
    assert.equal(await tab.page.locator("#signed-in-user").innerText(), USER);
    assert.equal(await tab.page.getByLabel("Username").count(), 0, "an empty sign-in form is shown to a signed-in browser");
    await check(tab, "login-already-signed-in");
    if (device === "phone") await assertTouchTargets(tab.page);
    await tab.page.getByRole("link", { name: "Continue" }).click();
    await tab.page.waitForURL((url) => url.pathname === "/app/second");
    await tab.context.close();
  });

  scenario(`an unknown /auth path is an HTML page for a browser and JSON for an API call (${device})`, async () => {
    const tab = await open(device);
    const response = await tab.page.goto(`${base}/auth/no-such-page`);
    assert.equal(response.status(), 404);
    assert.match(response.headers()["content-type"], /^text\/html/);
    assert.match(response.headers()["content-security-policy"], /default-src 'none'/);
    assert.equal(await tab.page.getByRole("heading", { level: 1 }).innerText(), "Page not found");
    assert.equal(await tab.page.locator("#app-name").innerText(), APP_NAME);
    await check(tab, "error-404");
    if (device === "phone") await assertTouchTargets(tab.page);
    const api = await system.edge.fetch("/auth/no-such-page", { headers: { accept: "application/json" } });
    assert.equal(api.status, 404);
    assert.deepEqual((await api.json()).error, "not_found");
    await tab.context.close();
  });

  scenario(`a page the user's roles do not open says who is signed in and what is missing (${device})`, async () => {
    const user = await newUser();
    const tab = await open(device);
    await signedIn(tab, "/app/start", user);
    const response = await tab.page.goto(`${base}/admin/reports`);
    assert.equal(response.status(), 403);
    assert.match(response.headers()["content-security-policy"], /default-src 'none'/);
    assert.equal(await tab.page.getByRole("heading", { level: 1 }).innerText(), "You do not have access to this page");
    assert.equal(
      await tab.page.locator(".lede").innerText(),
      `You are signed in as ${user}. This page needs roles your account does not have: admin, ops.`,
    );
    await check(tab, "error-403");
    if (device === "phone") await assertTouchTargets(tab.page);
    await tab.context.close();
  });

  scenario(`the account page: loading, sessions told apart with honest expiry, the empty state, and an error with a retry (${device})`, async () => {
    const user = await newUser();
    const tab = await open(device);
    await signedIn(tab, "/app/start", user);
    // Loading: the session API held back until the state has been looked at.
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await tab.page.route(
      "**/auth/session",
      async (route) => {
        await held;
        await route.continue();
      },
      { times: 1 },
    );
    await tab.page.goto(`${base}/auth/account`);
    await tab.page.getByRole("status").filter({ hasText: "Loading your account" }).waitFor();
    assert.equal(await tab.page.locator("#summary").isVisible(), false);
    await check(tab, "account-loading");
    release();

    // Loaded, with only this device: the empty state.
    await tab.page.locator("#summary").waitFor();
    assert.equal(await tab.page.locator("#summary").innerText(), `Signed in as ${user}.`);
    assert.equal(await tab.page.locator("#loading").isVisible(), false);
    assert.equal(await tab.page.locator("#sessions-empty").isVisible(), true, "the empty state is not shown");
    assert.equal(await tab.page.locator("#sessions-empty").innerText(), "No other devices are signed in.");
    assert.equal(await tab.page.locator("#sessions li.session").count(), 1);
    assert.equal(await tab.page.locator("#app-name").innerText(), APP_NAME);
    const row = tab.page.locator("#sessions li.session[data-current]");
    assert.match(await row.innerText(), /203\.0\.113\.x/, "the address prefix is not shown");
    assert.doesNotMatch(await row.innerText(), /203\.0\.113\.77/, "the full address is shown");
    assert.match(await row.locator(".session-ends").innerText(), /^Ends after 30 minutes without activity, and at .+ at the latest$/);
    assert.match(await tab.page.locator("#session-expires").innerText(), /after 30 minutes without activity, and at .+ at the latest/);
    await check(tab, "account-only-this-device");
    if (device === "phone") await assertTouchTargets(tab.page);

    // A second session from elsewhere: told apart by address.
    const other = await open(device, { address: "198.51.100.23" });
    await signedIn(other, "/app/other", user);
    await tab.page.reload();
    await tab.page.locator("#sessions li.session:not([data-current])").waitFor();
    assert.equal(await tab.page.locator("#sessions-empty").isVisible(), false);
    const otherRow = tab.page.locator("#sessions li.session:not([data-current])");
    assert.match(await otherRow.innerText(), /198\.51\.100\.x/);
    await check(tab, "account-two-sessions");
    if (device === "phone") await assertTouchTargets(tab.page);

    // The session storage fails: an error with a retry, and no claim of who is signed in.
    await system.edge.kvFault("SESSIONS", "down");
    try {
      await tab.page.reload();
      await tab.page.locator("#load-error").waitFor();
      assert.match(await tab.page.locator("#load-error-text").innerText(), /Your account could not be loaded: session storage is unavailable/);
      assert.equal(await tab.page.getByText("Signed in as").isVisible(), false, "still says Signed in as while the API fails");
      assert.equal(await tab.page.locator("#identity").isVisible(), false);
      assert.equal(await tab.page.locator("#sessions-card").isVisible(), false);
      await check(tab, "account-error");
      if (device === "phone") await assertTouchTargets(tab.page);
    } finally {
      await system.edge.kvFault("SESSIONS", null);
    }
    await tab.page.getByRole("button", { name: "Try again" }).click();
    await tab.page.locator("#summary").waitFor();
    assert.equal(await tab.page.locator("#load-error").isVisible(), false);
    assert.equal(await tab.page.locator("#sessions li.session").count(), 2);
    assert.deepEqual(tab.problems.filter((p) => !/503|Service Unavailable/.test(p)), [], "console errors on the account page");
    await other.context.close();
    await tab.context.close();
  });
}

// --- how sessions end -------------------------------------------------------------------------------

scenario("logging out says so, and Back never loops back to sign-in", async () => {
  const tab = await open("desktop");
  await signedIn(tab, "/app/before");
  await tab.page.goto(`${base}/auth/account`);
  await tab.page.locator("#summary").waitFor();
  await tab.page.getByRole("button", { name: "Log out", exact: true }).first().click();
  await tab.page.waitForURL((url) => url.searchParams.get("reason") === "logged_out");
  assert.match(await notice(tab.page), REASONS.logged_out);
  await check(tab, "login-after-logout");
  // Back: the account page, now signed out, replaces itself with sign-in...
  await tab.page.goBack();
  await tab.page.waitForURL((url) => url.pathname === "/auth/login" && url.searchParams.get("next") === "/auth/account");
  // ...so the next Back goes further back, to the page before it (the browser may show it from
  // its back/forward cache, or the edge sends it to sign in), never to the account page again.
  await tab.page.goBack();
  await tab.page.waitForLoadState();
  const back = at(tab.page);
  assert.ok(
    back.path === "/app/before" || (back.path === "/auth/login" && back.params.get("next") === "/app/before"),
    `Back loops: ${tab.page.url()}`,
  );
  await tab.context.close();
});

for (const javaScript of [true, false]) {
  scenario(`log out everywhere asks for confirmation first, then ends every session and says so${javaScript ? "" : " (without JavaScript)"}`, async () => {
    const user = await newUser();
    const tab = await open("desktop", { javaScript });
    const other = await open("phone");
    await signedIn(tab, "/app/one", user);
    await signedIn(other, "/app/two", user);
    await tab.page.goto(`${base}/auth/account`);
    if (javaScript) await tab.page.locator("#summary").waitFor();
    const posts = [];
    tab.page.on("request", (r) => r.method() === "POST" && posts.push(r.url()));
    await tab.page.getByRole("button", { name: "Log out everywhere" }).click();
    await tab.page.waitForTimeout(300);
    assert.deepEqual(posts, [], "logged out everywhere without confirmation");
    assert.equal(at(tab.page).path, "/auth/account");
    assert.equal(await tab.page.getByLabel("Yes, end every session, including this one").evaluate((box) => box.validity.valueMissing), true);
    await check(tab, "account-confirm-everywhere");
    await tab.page.getByLabel("Yes, end every session, including this one").check();
    await tab.page.getByRole("button", { name: "Log out everywhere" }).click();
    await tab.page.waitForURL((url) => url.searchParams.get("reason") === "logged_out_everywhere");
    assert.match(await notice(tab.page), REASONS.logged_out_everywhere);
    assert.deepEqual((await tab.context.cookies()).map((c) => c.name), []);
    await check(tab, "login-after-logout-everywhere");
    // The other device is signed out as well.
    await other.page.goto(`${base}/app/after`);
    assert.equal(at(other.page).path, "/auth/login");
    assert.match(await notice(other.page), REASONS.session_ended);
    await tab.context.close();
    await other.context.close();
  });
}

scenario("a session ended from another device is told so on its next page, and its account page goes to sign-in in place", async () => {
  const user = await newUser();
  const mine = await open("desktop");
  const lost = await open("phone", { address: "198.51.100.9" });
  await signedIn(mine, "/app/mine", user);
  await signedIn(lost, "/app/lost", user);
  await lost.page.goto(`${base}/auth/account`);
  await lost.page.locator("#summary").waitFor();
  const lostId = await sessionId(lost.page);
  await mine.page.goto(`${base}/auth/account`);
  const row = mine.page.locator(`#sessions li[data-session-id="${lostId}"]`);
  await row.getByRole("button", { name: /End session/ }).click();
  await row.waitFor({ state: "detached" });
  assert.match(await mine.page.locator("#status").innerText(), /has ended/);
  assert.equal(await mine.page.locator("#sessions-empty").isVisible(), true);
  await check(mine, "account-after-ending-a-session");

  // The ended browser's account page, shown again, sends it to sign-in with the reason.
  const historyBefore = await lost.page.evaluate(() => history.length);
  await lost.page.reload();
  await lost.page.waitForURL((url) => url.pathname === "/auth/login");
  assert.equal(at(lost.page).params.get("reason"), "session_ended");
  assert.match(await notice(lost.page), REASONS.session_ended);
  assert.equal(await lost.page.evaluate(() => history.length), historyBefore, "the redirect to sign-in was pushed, not replaced");
  await check(lost, "login-session-ended");
  await mine.context.close();
  await lost.context.close();
});

scenario("an expired session is told so", async () => {
  const tab = await open("desktop");
  await signedIn(tab, "/app/start");
  const id = await sessionId(tab.page);
  const sessions = await system.edge.kv("SESSIONS");
  const record = JSON.parse(await sessions.get(`session:${id}`));
  record.last_seen_at -= 3600; // idle for an hour: past the 30-minute idle timeout
  await sessions.put(`session:${id}`, JSON.stringify(record));
  await tab.context.clearCookies({ name: ACCESS_COOKIE }); // as when the short-lived token runs out
  await tab.page.goto(`${base}/app/later`);
  assert.equal(at(tab.page).path, "/auth/login");
  assert.equal(at(tab.page).params.get("reason"), "session_expired");
  assert.equal(at(tab.page).params.get("next"), "/app/later");
  assert.match(await notice(tab.page), REASONS.session_expired);
  await check(tab, "login-session-expired");
  await tab.context.close();
});

scenario("a reused refresh token ends the session, and the sign-in page says why", async () => {
  const tab = await open("desktop");
  await signedIn(tab, "/app/start");
  const stolen = (await tab.context.cookies()).find((c) => c.name === REFRESH_COOKIE);
  assert.ok(stolen, "no refresh cookie");
  await tab.context.clearCookies({ name: ACCESS_COOKIE });
  await tab.page.goto(`${base}/app/rotated`); // refreshed in place: the stolen copy is now retired
  assert.equal(at(tab.page).path, "/app/rotated");
  await tab.context.clearCookies();
  await tab.context.addCookies([stolen]);
  await tab.page.goto(`${base}/app/replayed`);
  assert.equal(at(tab.page).path, "/auth/login");
  assert.equal(at(tab.page).params.get("reason"), "reuse_detected");
  assert.match(await notice(tab.page), REASONS.reuse_detected);
  await check(tab, "login-reuse-detected");
  await tab.context.close();
});
