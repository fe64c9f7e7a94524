// Passkeys in real Chromium: the whole experience of a user adding passkeys on the account page and
// signing in with them on the sign-in page (the button and the username field's autofill), with
// Chromium's own virtual authenticators (DevTools protocol, WebAuthn domain: ctap2, internal
// transport, resident keys, user verification) doing the cryptography, the built worker in
// workerd (tests/e2e/harness.mjs) checking it, and the real demo origin (scripts/demo-origin.mjs)
// verifying every x-auth-assertion that follows a passkey sign-in.
//
// The worker listens on a port chosen before it starts, so that WEBAUTHN_ORIGINS can name the
// pages' origin, http://localhost:<port> (a secure context in Chromium; WEBAUTHN_RP_ID=localhost).
// Each browser context stands for one device and has its own authenticator: "laptop" and
// "phone" (the second device, whose authenticator marks its passkeys as synced).
//
// User presence: an authenticator answers a ceremony only while presence simulation is on, so it
// stays off except around the ceremony a step means to complete, like a person who has not
// touched the authenticator. This matters for the sign-in page, which arms a conditional
// (autofill) request on load: Chromium's virtual authenticator, with the WebAuthn UI disabled,
// answers a conditional request as soon as it is made (as if the person had picked the passkey
// in the autofill list), and while presence is off the request simply waits. The autofill list
// itself cannot be shown or picked from headlessly (with the WebAuthn UI enabled every ceremony
// waits for clicks on browser UI the page cannot reach), so the conditional step checks that
// the page armed the request and that it waits, then turns presence on and lets the page's own
// renewal of that request (every 110 s, fast-forwarded with Playwright's fake clock) make the
// request that the authenticator answers. An init script records every navigator.credentials
// call (its mediation and how it settled) without changing what it does. Browsers without
// conditional mediation, or without WebAuthn at all, are stood for by init scripts that remove
// the API: the sign-in page must then still work with the password.
//
// The steps share one system and run in order; when a step fails, the steps that need its result
// are skipped (named in their skip message). Every state is screenshotted into test-artifacts/
// (git-ignored) and checked with axe-core; test-artifacts/passkeys-browser-exchange.log holds every
// request the browser made and the worker's answer, and passkeys-browser-worker.log the
// worker's console lines.
//
// Test vectors: the registration (adding "Laptop") and the authentication (the first sign-in with
// the passkey button) the browser sent, with the options the worker gave, are recorded; with RECORD_PASSKEY_VECTORS=1 they are written to
// src/auth/accounts/passkey/testdata/chromium-virtual-authenticator.json for the native tests.
//
//   node --test --test-reporter=spec tests/e2e/passkeys-browser.test.mjs
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import { verifyAuthenticationResponse, verifyRegistrationResponse } from "@simplewebauthn/server";
import { chromium } from "playwright-core";
import { freePort, retryOnPortClash } from "../../bench/workerd.mjs";
import { ROOT, startWorker, userRecord } from "./harness.mjs";
import { orderedSteps, sessionOf, startDemoOrigin } from "./browser-steps.mjs";
import { auditEvents, auditLines, pseudonym } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const AXE = readFileSync(path.join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
const VECTORS = path.join(ROOT, "src/auth/accounts/passkey/testdata/chromium-virtual-authenticator.json");
const RECORD_VECTORS = process.env.RECORD_PASSKEY_VECTORS === "1";
const ISSUER = "https://edgegate.e2e.test";
const AUDIENCE = "edgegate-e2e-origin";
const RP_ID = "localhost";
const USER = "alice";
const PASSWORD = "correct horse battery staple";
const STEP_TIMEOUT = 90_000;
// The renewal period of the sign-in page's waiting autofill request (www/login.js).
const CONDITIONAL_RENEW = "01:50";

/** A platform authenticator with resident keys and user verification, as a laptop or a phone has. */
const AUTHENTICATOR = {
  protocol: "ctap2",
  transport: "internal",
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: false,
};

const skipAll = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (apt-get install -y chromium)` : false;

// Records every navigator.credentials.get/create call of a page (kind, mediation, how it settled)
// in window.__webauthnCalls, and reports it to the test through the __webauthnCall binding (which
// outlives the page, whose calls a navigation would otherwise take away); the call itself is left
// as it is.
const WATCH_WEBAUTHN = `(() => {
  const calls = (window.__webauthnCalls = []);
  if (!window.CredentialsContainer) return;
  const report = (call) => { try { window.__webauthnCall({ ...call }); } catch (e) {} };
  for (const kind of ["get", "create"]) {
    const original = CredentialsContainer.prototype[kind];
    CredentialsContainer.prototype[kind] = function (options) {
      const call = { id: Math.random().toString(36).slice(2), kind, mediation: (options && options.mediation) || null, state: "pending", error: null };
      calls.push(call);
      report(call);
      const result = original.call(this, options);
      result.then(
        () => { call.state = "resolved"; report(call); },
        (err) => { call.state = "rejected"; call.error = err && err.name; report(call); },
      );
      return result;
    };
  }
})();`;

// A browser without conditional mediation (no autofill of passkeys), and one without WebAuthn.
// (Chromium also has the method on Credential, which PublicKeyCredential inherits from.)
const WITHOUT_CONDITIONAL = "delete PublicKeyCredential.isConditionalMediationAvailable; delete Credential.isConditionalMediationAvailable;";
const WITHOUT_WEBAUTHN = "delete window.PublicKeyCredential;";

const RUN_AXE = `(async () => {
  if (!window.axe) { ${AXE}\n }
  const result = await window.axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
})()`;

// --- shared state -------------------------------------------------------------------------------

let edge; // harness worker
let origin; // demo origin child process
let base; // http://localhost:<worker port>
let browser;
const exchange = []; // every request/response seen by any page, for the log and failure messages
const { step } = orderedSteps({ skipAll, timeout: STEP_TIMEOUT });
const devices = {}; // name -> { context, page, problems, cdp, authenticatorId, passkeyCalls }
const axeReport = []; // "state: N violations", printed at the end
// The ceremonies to record as test vectors: { credential, challenge } each.
const recorded = { registration: null, authentication: null };


// --- helpers --------------------------------------------------------------------------------------


/**
 * Records the page's HTTP traffic into `exchange` (tagged with the device's name), its console
 * errors into the returned list, and every passkey endpoint call (the page that made it, what it
 * sent, what came back) into `calls`.
 */
function record(name, page, calls) {
  page.on("response", async (response) => {
    const request = response.request();
    if (!request.url().startsWith(base)) return;
    const url = new URL(request.url());
    exchange.push(
      `[${name}] ${request.method()} ${url.pathname}${url.search} -> ${response.status()}` +
        (response.headers().location ? ` Location: ${response.headers().location}` : ""),
    );
    if (!url.pathname.startsWith("/auth/passkeys")) return;
    // `from`: the page that made the call (the sign-in pages' referrer policy is same-origin).
    const from = request.headers().referer ?? null;
    const call = { method: request.method(), path: url.pathname, status: response.status(), from, sent: null, answer: null };
    calls.push(call);
    try {
      call.sent = request.postData() ? JSON.parse(request.postData()) : null;
    } catch {}
    try {
      call.answer = await response.json();
    } catch {} // e.g. the page navigated away before the body was read
  });
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  return problems;
}

/** The last few exchanges of device `name`, for assertion messages. */
function recent(name, count = 10) {
  return exchange.filter((line) => line.startsWith(`[${name}]`)).slice(-count).join("\n");
}

/**
 * A device: a browser context with its own page and, unless `authenticator` is false, its own
 * virtual authenticator (options over AUTHENTICATOR), with presence simulation off.
 */
async function newDevice(name, { authenticator = {}, initScripts = [], viewport = { width: 1000, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport });
  await context.addInitScript(WATCH_WEBAUTHN);
  for (const script of initScripts) await context.addInitScript(script);
  // The page's navigator.credentials calls, oldest first, each updated when it settles.
  const webauthn = [];
  await context.exposeBinding("__webauthnCall", (source, call) => {
    const known = webauthn.find((c) => c.id === call.id);
    if (known) Object.assign(known, call);
    else webauthn.push({ ...call, from: source.frame.url() });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const passkeyCalls = [];
  const problems = record(name, page, passkeyCalls);
  const device = { name, context, page, problems, passkeyCalls, webauthn };
  if (authenticator) {
    device.cdp = await context.newCDPSession(page);
    await device.cdp.send("WebAuthn.enable", { enableUI: false });
    const { authenticatorId } = await device.cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { ...AUTHENTICATOR, ...authenticator },
    });
    device.authenticatorId = authenticatorId;
  }
  devices[name] = device;
  return device;
}

/** Turns the device's user presence simulation on (its authenticator answers) or off (it waits). */
async function presence(device, on) {
  await device.cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId: device.authenticatorId, enabled: on });
}

/** The credentials the device's authenticator holds (ids as base64url). */
async function credentialsOf(device) {
  const { credentials } = await device.cdp.send("WebAuthn.getCredentials", { authenticatorId: device.authenticatorId });
  return credentials.map((c) => ({ ...c, id: Buffer.from(c.credentialId, "base64").toString("base64url") }));
}

/** Screenshot and axe-core run of the page in its current state; no violation may remain. */
async function checkState(page, state) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `passkeys-${state}.png`), fullPage: true });
  // axe runs through the DevTools protocol, which the page's CSP does not stop.
  const violations = await page.evaluate(RUN_AXE);
  axeReport.push(`${state}: ${violations.length} violations`);
  assert.deepEqual(violations, [], `axe violations in ${state}: ${JSON.stringify(violations, null, 1)}`);
}

const webauthnCalls = (page) => page.evaluate(() => window.__webauthnCalls.map((c) => ({ ...c })));

/** Waits until the page's autofill (conditional) request is made and waiting. */
async function conditionalWaiting(page) {
  await page
    .waitForFunction(() => window.__webauthnCalls.some((c) => c.kind === "get" && c.mediation === "conditional" && c.state === "pending"), null, { timeout: 10_000 })
    .catch(async () => assert.fail(`no waiting conditional request: ${JSON.stringify(await webauthnCalls(page))}`));
}

/** Signs in with the password form, like a user with a keyboard. */
async function signInWithPassword(page) {
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("Password").press("Enter");
}


/** The passkeys the account page lists: { id, name, badge, meta }. */
async function passkeyRows(page) {
  await page.locator("#passkeys[aria-busy='false']").waitFor({ state: "attached", timeout: 10_000 });
  return page.locator("#passkeys li[data-passkey-id]").evaluateAll((items) =>
    items.map((li) => ({
      id: li.dataset.passkeyId,
      name: li.querySelector(".session-device")?.firstChild?.textContent ?? "",
      badge: li.querySelector(".badge")?.textContent ?? "",
      meta: li.querySelector(".session-meta")?.textContent ?? "",
    })),
  );
}

const pathOf = (page) => {
  const url = new URL(page.url());
  return { path: url.pathname, params: url.searchParams, full: url.pathname + url.search };
};

async function landOn(page, pathname, who) {
  await page.waitForURL((url) => url.pathname === pathname, { timeout: 15_000 }).catch(() => {
    assert.fail(`did not land on ${pathname} but on ${page.url()}:\n${recent(who)}`);
  });
}

/** Opens the account page and waits until its passkeys section has loaded. */
async function openAccount(device) {
  const response = await device.page.goto(`${base}/auth/account`);
  assert.equal(response.status(), 200, recent(device.name));
  await device.page.locator("#passkeys-card").waitFor({ state: "visible" }).catch(() => {
    assert.fail(`the passkeys section did not appear:\n${recent(device.name)}\n${device.problems.join("\n")}`);
  });
  return passkeyRows(device.page);
}

/** Logs out with the account page's button (the authenticator waiting), landing on sign-in. */
async function logOut(device) {
  await presence(device, false);
  const { page } = device;
  if (pathOf(page).path !== "/auth/account") await openAccount(device);
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await landOn(page, "/auth/login", device.name);
  assert.deepEqual((await device.context.cookies()).map((c) => c.name), [], "cookies left after logging out");
}

/** The demo origin verified the worker's assertion for alice on the current page. */
async function assertVerifiedAtOrigin(page, who) {
  const verdict = page.locator("#verdict");
  assert.equal(await verdict.getAttribute("data-verified"), "true", `the demo origin did not verify the assertion: ${await verdict.innerText()}\n${recent(who)}`);
  assert.equal(await page.locator("#verified-user").innerText(), USER);
}

/**
 * Signs in with the sign-in page's passkey button, no password typed: opens the page with
 * `next` (the autofill's request armed and waiting), lets the authenticator answer, clicks the
 * button and lands on `next`. Returns what the sign-in page did (madeFrom).
 */
async function signInWithPasskeyButton(device, next) {
  const { page, name } = device;
  await presence(device, false);
  const since = mark(device);
  await page.goto(`${base}/auth/login?next=${encodeURIComponent(next)}`);
  const loginUrl = page.url();
  const button = page.getByRole("button", { name: "Sign in with a passkey" });
  await button.waitFor({ state: "visible" });
  await conditionalWaiting(page);
  await presence(device, true);
  try {
    await button.click();
    await landOn(page, new URL(next, base).pathname, name);
  } finally {
    await presence(device, false);
  }
  assert.equal(pathOf(page).full, next);
  return madeFrom(device, loginUrl, since);
}

/** What the device did from the page at `url` since `mark` (from mark()): its passkey endpoint calls and its navigator.credentials calls. */
function madeFrom(device, url, since) {
  return {
    calls: device.passkeyCalls.slice(since.calls).filter((c) => c.from === url),
    webauthn: device.webauthn.slice(since.webauthn).filter((c) => c.from === url).map(({ kind, mediation, state, error }) => ({ kind, mediation, state, error })),
  };
}
const mark = (device) => ({ calls: device.passkeyCalls.length, webauthn: device.webauthn.length });

const ceremonyOf = (calls, path) => calls.filter((c) => c.path === path && c.method === "POST");
const clientData = (credential) => JSON.parse(Buffer.from(credential.response.clientDataJSON, "base64url").toString("utf8"));

/** Expected console errors (the refused sign-in's 401) are taken out; the rest must be none. */
function unexpectedProblems(device, allowed = []) {
  return device.problems.filter((problem) => !allowed.some((pattern) => pattern.test(problem)));
}

// --- system ---------------------------------------------------------------------------------------

before(async () => {
  if (skipAll) return;
  const originPort = await freePort();
  // The worker's port is chosen first, so that WEBAUTHN_ORIGINS can name the pages' origin.
  edge = await retryOnPortClash(async () => {
    const port = await freePort();
    return startWorker({
      port,
      captureLogs: true,
      vars: {
        ORIGIN_URL: `http://127.0.0.1:${originPort}`,
        ISSUER,
        ORIGIN_AUDIENCE: AUDIENCE,
        DEV_MODE: "true", // the origin is plain http on 127.0.0.1, and so is the pages' origin
        COOKIE_SECURE: "true",
        PASSKEYS: "on",
        WEBAUTHN_RP_ID: RP_ID,
        WEBAUTHN_ORIGINS: `http://localhost:${port}`,
      },
    });
  });
  base = `http://localhost:${edge.port}`;
  origin = await startDemoOrigin(originPort, edge.url, { issuer: ISSUER, audience: AUDIENCE });
  await (await edge.kv("USERS")).put(`user:${USER}`, userRecord(PASSWORD));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, "passkeys-browser-exchange.log"), exchange.join("\n") + "\n");
  if (edge) writeFileSync(path.join(ARTIFACTS, "passkeys-browser-worker.log"), edge.logs().join("\n") + "\n");
  if (axeReport.length) console.log(`axe-core results:\n  ${axeReport.join("\n  ")}`);
  await browser?.close().catch(() => {});
  if (origin && origin.exitCode === null) {
    origin.kill("SIGTERM");
    await once(origin, "exit").catch(() => {});
  }
  await edge?.dispose().catch(() => {});
});

// --- steps ------------------------------------------------------------------------------------------

const SIGNED_IN = "alice signs in with her password and sees the passkeys section: no passkeys, the add form";
const ADDED = "alice adds the passkey \"Laptop\": the authenticator holds it, the page lists it";
const LOGGED_OUT = "logging out lands on the sign-in page, which offers the passkey button";
const PASSKEY_SIGN_IN = "the passkey button signs alice in without a password and lands on next";
const CONDITIONAL = "the username field's autofill (conditional mediation) signs alice in";
const SECOND_DEVICE = "a second device adds \"Phone\": each authenticator holds its own, both are listed, both sign in";
const REMOVED = "removing \"Phone\" on the account page: gone, audited, and its credential no longer signs in";

step(SIGNED_IN, [], async () => {
  const laptop = await newDevice("laptop");
  const { page } = laptop;
  await page.goto(`${base}/auth/login?next=%2Fauth%2Faccount`);
  assert.equal(await page.getByLabel("Username").getAttribute("autocomplete"), "username webauthn");
  await signInWithPassword(page);
  await landOn(page, "/auth/account", "laptop");
  const rows = await openAccount(laptop);
  assert.deepEqual(rows, []);
  assert.equal(await page.locator("#user-id").innerText(), USER);
  await assert.doesNotReject(page.locator("#passkeys-empty", { hasText: "You have no passkeys yet." }).waitFor({ state: "visible" }));
  assert.ok(await page.locator("#passkey-add").isVisible(), "the add form is hidden right after a sign-in");
  assert.ok(await page.getByRole("button", { name: "Add a passkey" }).isVisible());
  assert.equal(await page.locator("#passkey-reauth").isVisible(), false, "the re-authentication notice shows right after a sign-in");
  assert.equal(await page.locator("#passkey-unsupported").isVisible(), false, "the page says this browser cannot create passkeys");
  assert.deepEqual(await credentialsOf(laptop), []);
  await checkState(page, "account-no-passkeys");
  assert.deepEqual(laptop.problems, [], "console errors");
});

step(ADDED, [SIGNED_IN], async () => {
  const laptop = devices.laptop;
  const { page } = laptop;
  await page.getByLabel("Name of the new passkey").fill("Laptop");
  const registered = page.waitForResponse((r) => r.request().method() === "POST" && r.url() === `${base}/auth/passkeys/register`);
  await presence(laptop, true);
  try {
    await page.getByRole("button", { name: "Add a passkey" }).click();
    const response = await registered;
    assert.equal(response.status(), 201, `POST /auth/passkeys/register answered ${response.status()}: ${await response.text()}`);
  } finally {
    await presence(laptop, false);
  }

  const held = await credentialsOf(laptop);
  assert.equal(held.length, 1, JSON.stringify(held));
  assert.equal(held[0].isResidentCredential, true);
  assert.equal(held[0].rpId, RP_ID);
  assert.equal(held[0].userName, USER);
  laptop.credentialId = held[0].id;

  await page.locator("#passkeys li[data-passkey-id]").first().waitFor();
  const rows = await passkeyRows(page);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.equal(rows[0].id, laptop.credentialId, "the listed passkey is not the authenticator's credential");
  assert.equal(rows[0].name, "Laptop");
  assert.equal(rows[0].badge, "This device only");
  assert.match(rows[0].meta, /^Added .+ · Not used yet$/);
  assert.match(await page.locator("#status").innerText(), /The passkey “Laptop” was added/);
  assert.equal(await page.locator("#passkeys-empty").isVisible(), false);
  assert.equal(await page.getByLabel("Name of the new passkey").inputValue(), "");
  assert.ok(await page.getByRole("button", { name: "Remove the passkey Laptop" }).isVisible());
  const [added] = await auditEvents(edge, (e) => e.event === "passkey_added", { what: "passkey_added" });
  assert.equal(added.user, pseudonym(USER));
  assert.equal(added.detail, `~${pseudonym(laptop.credentialId)}`);

  // The registration the browser sent, with the options the worker gave it.
  const [options] = ceremonyOf(laptop.passkeyCalls, "/auth/passkeys/register/options");
  const [sent] = ceremonyOf(laptop.passkeyCalls, "/auth/passkeys/register");
  assert.equal(options?.answer?.publicKey?.rp?.id, RP_ID, JSON.stringify(options));
  assert.equal(sent?.sent?.name, "Laptop");
  recorded.registration = { credential: sent.sent.credential, challenge: options.answer.publicKey.challenge };

  await checkState(page, "account-one-passkey");
  assert.deepEqual(laptop.problems, [], "console errors");
});

step(LOGGED_OUT, [ADDED], async () => {
  const laptop = devices.laptop;
  const { page } = laptop;
  await logOut(laptop);
  const button = page.getByRole("button", { name: "Sign in with a passkey" });
  await assert.doesNotReject(button.waitFor({ state: "visible", timeout: 5000 }), "the passkey button stays hidden");
  assert.ok(await page.getByLabel("Password").isVisible(), "the password form is gone");
  await checkState(page, "login-passkey-button");
  assert.deepEqual(laptop.problems, [], "console errors");
  assert.equal((await sessionOf(page)).status, 401, "still signed in after logging out");
  laptop.problems.length = 0; // the probe's own 401
});

step(PASSKEY_SIGN_IN, [LOGGED_OUT], async () => {
  const laptop = devices.laptop;
  const { page } = laptop;
  const made = await signInWithPasskeyButton(laptop, "/app/passkey-landing?from=button");
  // The button's request is a modal one; the autofill's waiting request was withdrawn for it.
  assert.deepEqual(
    made.webauthn.map((c) => [c.kind, c.mediation, c.state, c.error]),
    [["get", "conditional", "rejected", "AbortError"], ["get", null, "resolved", null]],
    JSON.stringify(made.webauthn),
  );
  assert.deepEqual(
    made.calls.map((c) => `${c.path} ${c.status}`),
    ["/auth/passkeys/sign-in/options 200", "/auth/passkeys/sign-in/options 200", "/auth/passkeys/sign-in 200"],
    "expected: the autofill's challenge, the button's, the sign-in",
  );
  await assertVerifiedAtOrigin(page, "laptop");
  const [signedIn] = await auditEvents(edge, (e) => e.event === "passkey_sign_in", { what: "passkey_sign_in" });
  assert.equal(signedIn.user, pseudonym(USER));
  assert.equal(signedIn.detail, `~${pseudonym(laptop.credentialId)}`);
  await page.screenshot({ path: path.join(ARTIFACTS, "passkeys-demo-origin-after-passkey.png"), fullPage: true });

  // The authentication the browser sent, with the challenge of the options it answered.
  const [, options, sent] = made.calls;
  assert.equal(sent.sent.next, "/app/passkey-landing?from=button");
  const challenge = clientData(sent.sent.credential).challenge;
  assert.equal(options.answer?.publicKey?.challenge, challenge, "the sign-in does not answer the button's challenge");
  assert.equal(options.answer.publicKey.rpId, RP_ID);
  recorded.authentication = { credential: sent.sent.credential, challenge };

  // The account page shows the passkey as used.
  const rows = await openAccount(laptop);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.match(rows[0].meta, /· Last used (just now|\d+ seconds? ago)$/, JSON.stringify(rows));
  assert.ok(await page.locator("#passkey-add").isVisible(), "a passkey sign-in is a recent sign-in: the add form should show");
  await checkState(page, "account-passkey-used");
  assert.deepEqual(laptop.problems, [], "console errors");
});

step(CONDITIONAL, [PASSKEY_SIGN_IN], async (t) => {
  const laptop = devices.laptop;
  const { page } = laptop;
  await logOut(laptop);
  const next = "/app/passkey-landing?from=autofill";
  // A fake clock, flowing with real time, so that the page's renewal of its waiting request can
  // be brought forward.
  await page.clock.install();
  const since = mark(laptop);
  await page.goto(`${base}/auth/login?next=${encodeURIComponent(next)}`);
  const loginUrl = page.url();
  const available = await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable());
  if (!available) {
    // Then the page must not arm a request, and the rest of this step has nothing to drive.
    await page.waitForTimeout(1000);
    assert.deepEqual(madeFrom(laptop, loginUrl, since).webauthn, []);
    t.diagnostic("this Chromium reports no conditional mediation: the autofill could not be tested");
    return;
  }

  // Armed on load: one challenge fetched, one conditional request waiting for the person.
  const username = page.getByLabel("Username");
  assert.equal(await username.getAttribute("autocomplete"), "username webauthn");
  await conditionalWaiting(page);
  await username.focus();
  await page.waitForTimeout(1000); // the request keeps waiting; nothing is sent
  const waiting = madeFrom(laptop, loginUrl, since);
  assert.deepEqual(waiting.calls.map((c) => c.path), ["/auth/passkeys/sign-in/options"], JSON.stringify(waiting.calls));
  assert.deepEqual(waiting.webauthn, [{ kind: "get", mediation: "conditional", state: "pending", error: null }]);
  assert.equal(pathOf(page).path, "/auth/login");
  assert.equal(await page.locator("#login-error").innerText(), "", "the waiting autofill shows a message");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "username");
  await checkState(page, "login-conditional-waiting");

  // The person picks the passkey: the authenticator answers the next conditional request, which
  // the page makes when it renews the waiting one (its challenge would otherwise run out).
  await presence(laptop, true);
  try {
    await page.clock.fastForward(CONDITIONAL_RENEW);
    await landOn(page, "/app/passkey-landing", "laptop");
  } finally {
    await presence(laptop, false);
    await page.clock.setSystemTime(new Date()); // back to real time for the later steps
  }
  assert.equal(pathOf(page).full, next);
  await assertVerifiedAtOrigin(page, "laptop");
  const made = madeFrom(laptop, loginUrl, since);
  // The waiting request withdrawn for the renewal, the renewed one answered; no button, no password.
  assert.deepEqual(
    made.webauthn.map((c) => [c.kind, c.mediation, c.state, c.error]),
    [["get", "conditional", "rejected", "AbortError"], ["get", "conditional", "resolved", null]],
    JSON.stringify(made.webauthn),
  );
  assert.deepEqual(
    made.calls.map((c) => `${c.path} ${c.status}`),
    ["/auth/passkeys/sign-in/options 200", "/auth/passkeys/sign-in/options 200", "/auth/passkeys/sign-in 200"],
    "expected: the first challenge, the renewed one, the sign-in",
  );
  const challenge = clientData(made.calls[2].sent.credential).challenge;
  assert.equal(challenge, made.calls[1].answer?.publicKey?.challenge, "the sign-in does not answer the renewed challenge");
  await auditEvents(edge, (e) => e.event === "passkey_sign_in", { count: 2, what: "passkey_sign_in after the autofill" });
  assert.deepEqual(laptop.problems, [], "console errors");
});

step("without conditional mediation or without WebAuthn the sign-in page still works with the password", [], async () => {
  // A browser that has WebAuthn but no passkey autofill: the button, no request armed on load.
  const plain = await newDevice("no-autofill", { authenticator: false, initScripts: [WITHOUT_CONDITIONAL] });
  await plain.page.goto(`${base}/auth/login?next=%2Fapp%2Fno-autofill`);
  assert.equal(await plain.page.evaluate(() => typeof PublicKeyCredential.isConditionalMediationAvailable), "undefined");
  await plain.page.getByRole("button", { name: "Sign in with a passkey" }).waitFor({ state: "visible" });
  await plain.page.waitForTimeout(1000);
  assert.deepEqual(plain.webauthn, [], "a request was armed without conditional mediation");
  assert.deepEqual(plain.passkeyCalls, [], "a challenge was fetched without conditional mediation");
  await checkState(plain.page, "login-without-conditional");
  await signInWithPassword(plain.page);
  await landOn(plain.page, "/app/no-autofill", "no-autofill");
  await assertVerifiedAtOrigin(plain.page, "no-autofill");
  assert.deepEqual(plain.problems, [], "console errors");

  // A browser without WebAuthn: no passkey button, the password form, and the account page says
  // passkeys cannot be created here (it still lists them).
  const old = await newDevice("no-webauthn", { authenticator: false, initScripts: [WITHOUT_WEBAUTHN] });
  await old.page.goto(`${base}/auth/login?next=%2Fauth%2Faccount`);
  assert.equal(await old.page.evaluate(() => typeof window.PublicKeyCredential), "undefined");
  await old.page.waitForTimeout(500);
  assert.equal(await old.page.locator("#passkey-area").isVisible(), false, "the passkey button shows without WebAuthn");
  await checkState(old.page, "login-without-webauthn");
  await signInWithPassword(old.page);
  await landOn(old.page, "/auth/account", "no-webauthn");
  await openAccount(old);
  await assert.doesNotReject(old.page.locator("#passkey-unsupported").waitFor({ state: "visible" }));
  assert.equal(await old.page.locator("#passkey-add").isVisible(), false, "the add form shows without WebAuthn");
  await checkState(old.page, "account-without-webauthn");
  assert.deepEqual(old.problems, [], "console errors");
  await plain.context.close();
  await old.context.close();
});

step(SECOND_DEVICE, [CONDITIONAL], async () => {
  const laptop = devices.laptop;
  // The phone's authenticator marks its passkeys as backed up (a synced passkey provider).
  const phone = await newDevice("phone", {
    authenticator: { defaultBackupEligibility: true, defaultBackupState: true },
    viewport: { width: 390, height: 844 },
  });
  const { page } = phone;
  await page.goto(`${base}/auth/login?next=%2Fauth%2Faccount`);
  await signInWithPassword(page);
  await landOn(page, "/auth/account", "phone");
  assert.equal((await openAccount(phone)).length, 1);
  await page.getByLabel("Name of the new passkey").fill("Phone");
  const registered = page.waitForResponse((r) => r.request().method() === "POST" && r.url() === `${base}/auth/passkeys/register`);
  await presence(phone, true);
  try {
    await page.getByRole("button", { name: "Add a passkey" }).click();
    const response = await registered;
    assert.equal(response.status(), 201, `POST /auth/passkeys/register answered ${response.status()}: ${await response.text()}`);
  } finally {
    await presence(phone, false);
  }

  // Each authenticator holds its own passkey only.
  const onPhone = await credentialsOf(phone);
  assert.equal(onPhone.length, 1, JSON.stringify(onPhone));
  phone.credentialId = onPhone[0].id;
  assert.notEqual(phone.credentialId, laptop.credentialId);
  assert.deepEqual((await credentialsOf(laptop)).map((c) => c.id), [laptop.credentialId], "the laptop's authenticator sees another passkey");

  // Both are listed, on either device.
  await page.locator(`#passkeys li[data-passkey-id="${phone.credentialId}"]`).waitFor();
  const expected = [
    { id: laptop.credentialId, name: "Laptop", badge: "This device only" },
    { id: phone.credentialId, name: "Phone", badge: "Synced" },
  ];
  const brief = (rows) => rows.map(({ id, name, badge }) => ({ id, name, badge })).sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(brief(await passkeyRows(page)), expected);
  await checkState(page, "account-two-passkeys-phone");
  assert.deepEqual(brief(await openAccount(laptop)), expected);
  await checkState(laptop.page, "account-two-passkeys-laptop");

  // Signing in works from both devices, each with its own passkey.
  for (const device of [laptop, phone]) {
    const count = auditLines(edge.logs()).filter((e) => e.event === "passkey_sign_in").length;
    await logOut(device);
    await signInWithPasskeyButton(device, `/app/from-${device.name}`);
    await assertVerifiedAtOrigin(device.page, device.name);
    const [latest] = (await auditEvents(edge, (e) => e.event === "passkey_sign_in", { count: count + 1, what: `passkey_sign_in from the ${device.name}` })).slice(-1);
    assert.equal(latest.detail, `~${pseudonym(device.credentialId)}`, `the ${device.name} signed in with another passkey`);
  }
  assert.deepEqual(phone.problems, [], "console errors on the phone");
  assert.deepEqual(laptop.problems, [], "console errors on the laptop");
});

step(REMOVED, [SECOND_DEVICE], async () => {
  const { laptop, phone } = devices;
  const { page } = laptop;
  await openAccount(laptop);
  const row = page.locator(`#passkeys li[data-passkey-id="${phone.credentialId}"]`);
  const deleted = page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().startsWith(`${base}/auth/passkeys/`));
  await page.getByRole("button", { name: "Remove the passkey Phone" }).click();
  const response = await deleted;
  assert.equal(response.status(), 200, `DELETE /auth/passkeys/{id} answered ${response.status()}: ${await response.text()}`);
  await row.waitFor({ state: "detached", timeout: 5000 });
  assert.match(await page.locator("#status").innerText(), /The passkey “Phone” was removed/);
  assert.deepEqual((await passkeyRows(page)).map((r) => r.name), ["Laptop"]);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "passkeys-heading");
  const [removed] = await auditEvents(edge, (e) => e.event === "passkey_removed", { what: "passkey_removed" });
  assert.equal(removed.user, pseudonym(USER));
  assert.match(removed.detail, new RegExp(`^~${pseudonym(phone.credentialId)} by `), JSON.stringify(removed));
  await checkState(page, "account-phone-removed");
  assert.deepEqual((await openAccount(laptop)).map((r) => r.name), ["Laptop"], "the removal did not last");

  // The phone still holds its credential, which the worker no longer knows: refused, no session.
  assert.deepEqual((await credentialsOf(phone)).map((c) => c.id), [phone.credentialId]);
  await logOut(phone);
  const refusedBefore = auditLines(edge.logs()).filter((e) => e.event === "passkey_refused").length;
  await phone.page.goto(`${base}/auth/login?next=%2Fapp%2Fafter-removal`);
  const button = phone.page.getByRole("button", { name: "Sign in with a passkey" });
  await button.waitFor({ state: "visible" });
  await conditionalWaiting(phone.page);
  const sent = phone.page.waitForRequest((r) => r.method() === "POST" && r.url() === `${base}/auth/passkeys/sign-in`);
  const answered = phone.page.waitForResponse((r) => r.request().method() === "POST" && r.url() === `${base}/auth/passkeys/sign-in`);
  await presence(phone, true);
  try {
    await button.click();
    await sent;
  } finally {
    // Off before the refusal comes back, so that the autofill request the page arms again waits.
    await presence(phone, false);
  }
  const refusal = await answered;
  assert.equal(refusal.status(), 401, recent("phone"));
  assert.equal((await refusal.json()).error, "passkey_refused");
  await assert.doesNotReject(
    phone.page.locator("#login-error", { hasText: "That passkey was not accepted. Try again, or sign in another way." }).waitFor({ timeout: 5000 }),
    `no clear message: ${JSON.stringify(await phone.page.locator("#login-error").innerText())}`,
  );
  assert.equal(pathOf(phone.page).path, "/auth/login");
  assert.equal((await sessionOf(phone.page)).status, 401, "a session after a refused passkey");
  assert.deepEqual((await phone.context.cookies()).map((c) => c.name), [], "cookies after a refused passkey");
  assert.ok(await button.isEnabled(), "the passkey button stays disabled after the refusal");
  assert.equal(await button.innerText(), "Sign in with a passkey");
  await auditEvents(edge, (e) => e.event === "passkey_refused", { count: refusedBefore + 1, what: "passkey_refused" });
  await checkState(phone.page, "login-passkey-refused");
  assert.deepEqual(unexpectedProblems(phone, [/status of 401/]), [], "console errors");
});

step("the recorded ceremonies are Chromium's own answers to the worker's options", [ADDED, PASSKEY_SIGN_IN], async (t) => {
  const { registration, authentication } = recorded;
  const rpIdHash = createHash("sha256").update(RP_ID).digest();
  const laptop = devices.laptop;

  const created = clientData(registration.credential);
  assert.equal(created.type, "webauthn.create");
  assert.equal(created.challenge, registration.challenge);
  assert.equal(created.origin, base);
  assert.notEqual(created.crossOrigin, true);
  assert.equal(registration.credential.id, laptop.credentialId);
  assert.equal(registration.credential.type, "public-key");
  const regAuthData = Buffer.from(registration.credential.response.authenticatorData, "base64url");
  assert.deepEqual(regAuthData.subarray(0, 32), rpIdHash, "the registration's rpIdHash is not SHA-256(localhost)");

  const got = clientData(authentication.credential);
  assert.equal(got.type, "webauthn.get");
  assert.equal(got.challenge, authentication.challenge);
  assert.equal(got.origin, base);
  assert.equal(authentication.credential.id, laptop.credentialId);
  const authData = Buffer.from(authentication.credential.response.authenticatorData, "base64url");
  assert.deepEqual(authData.subarray(0, 32), rpIdHash, "the assertion's rpIdHash is not SHA-256(localhost)");
  assert.equal(authData[32] & 0x05, 0x05, "the assertion lacks UP or UV");
  assert.ok(authentication.credential.response.userHandle, "a resident credential's assertion carries the user handle");

  // An independent relying-party library accepts both, the assertion with the registered key.
  const expected = { expectedOrigin: base, expectedRPID: RP_ID, requireUserVerification: true };
  const { verified, registrationInfo } = await verifyRegistrationResponse({
    response: registration.credential,
    expectedChallenge: registration.challenge,
    ...expected,
  });
  assert.ok(verified, "@simplewebauthn/server refuses the recorded registration");
  const assertion = await verifyAuthenticationResponse({
    response: authentication.credential,
    expectedChallenge: authentication.challenge,
    credential: registrationInfo.credential,
    ...expected,
  });
  assert.ok(assertion.verified, "@simplewebauthn/server refuses the recorded authentication");

  if (!RECORD_VECTORS) {
    t.diagnostic(`not written: set RECORD_PASSKEY_VECTORS=1 to write ${path.relative(ROOT, VECTORS)}`);
    return;
  }
  const vectors = {
    source: `Chromium ${browser.version()} virtual authenticator (ctap2, internal, resident keys, UV), recorded by tests/e2e/passkeys-browser.test.mjs`,
    rp_id: RP_ID,
    origin: base,
    registration,
    authentication,
  };
  writeFileSync(VECTORS, JSON.stringify(vectors, null, 1) + "\n");
  t.diagnostic(`written: ${path.relative(ROOT, VECTORS)}`);
});

step("an autofill request that fails at once is not made again in a tight loop", [], async () => {
  // The sign-in page renews its autofill request when it ends; if every attempt fails at once
  // (the challenge cannot be fetched: offline, or the worker answers an error), the page must
  // not fetch challenges as fast as the browser can.
  const device = await newDevice("offline", { authenticator: false });
  await device.page.route(`${base}/auth/passkeys/sign-in/options`, (route) => route.abort("internetdisconnected"));
  let attempts = 0;
  device.page.on("request", (r) => r.url() === `${base}/auth/passkeys/sign-in/options` && attempts++);
  await device.page.goto(`${base}/auth/login?next=%2Fapp`);
  await device.page.waitForTimeout(2000);
  const count = attempts;
  await device.context.close();
  assert.ok(count <= 5, `the sign-in page asked for a challenge ${count} times in 2 s while they could not be fetched`);
});
