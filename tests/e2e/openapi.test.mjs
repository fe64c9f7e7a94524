// The edge's own API against its description: schemathesis (pinned in tests/api/requirements.txt,
// installed by scripts/setup.sh --test into tests/api/.venv) generates requests from
// www/openapi.yaml and sends them to the built worker in workerd, with a real user's credentials
// (a login of its own, again whenever an answer is 401: see tests/api/schemathesis.toml), the
// admin secret, and an OpenID provider on loopback. Every answer must match the document
// (status, content type, headers, body schema) and none may be a server error: as a browser
// (session cookies), as an API client (bearer tokens from POST /auth/token), and at the default
// login limits, which its own failed logins reach.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { ROOT, startOrigin, startWorker } from "./harness.mjs";
import { addUser, auditEvents } from "./support.mjs";
import { providerVars, startHostileProvider } from "./oidc-support.mjs";

const SCHEMATHESIS = path.join(ROOT, "tests/api/.venv/bin/schemathesis");
const ADMIN_SECRET = "schemathesis-admin-secret-".padEnd(48, "x");
// The document's examples name these: the run command's demo user and a provider id.
const USER = "demo";
const PASSWORD = "edgegate-demo";
const PROVIDER = "google";

let provider, origin, edge;

/** A worker with the test's user, the admin secret and the provider, `vars` over those; its
 * console lines are kept (logs()), not printed. */
async function worker(vars = {}) {
  const started = await startWorker({
    captureLogs: true,
    vars: { ORIGIN_URL: origin.url, ...providerVars([{ id: PROVIDER, ...provider }]), ...vars },
    secrets: { ADMIN_SECRET },
  });
  await addUser(started, USER, { roles: ["member"] }, PASSWORD);
  return started;
}

before(async () => {
  provider = await startHostileProvider();
  origin = await startOrigin();
  edge = await worker({
    // The run logs in again after every session it ends, and sends many failed logins of its
    // own: throttling would soon refuse its logins too (its answers are checked on their own below).
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "10000",
    LOGIN_MAX_FAILURES_PER_CLIENT: "10000",
    // Its logins (python-requests) and its requests (schemathesis) name different clients in
    // User-Agent; enforced, every refresh would end the session (device_mismatch, documented).
    SESSION_BINDING: "audit",
  });
});

after(async () => {
  await edge?.dispose();
  await origin?.close();
  await provider?.close();
});

/** Runs schemathesis against `target` with `args`, `env` and the settings file `config`;
 * resolves to { code, output }. */
function schemathesis(target, args, env = {}, config = "tests/api/schemathesis.toml") {
  assert.ok(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run scripts/setup.sh --test`);
  const child = spawn(
    SCHEMATHESIS,
    ["--config-file", config, "--no-color"]
      .concat(["run", "www/openapi.yaml", "--url", target.url, ...args]),
    {
      cwd: ROOT,
      env: {
        ...process.env,
        EDGEGATE_USER: USER,
        EDGEGATE_PASSWORD: PASSWORD,
        EDGEGATE_ADMIN_SECRET: ADMIN_SECRET,
        // Hypothesis's caches (Unicode tables) beside the tool, not in the repository's root.
        HYPOTHESIS_STORAGE_DIRECTORY: path.join(ROOT, "tests/api/.venv/hypothesis"),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** The options of every run: all checks, a fixed seed and a bounded number of cases. */
function options(report) {
  return [
    "--checks",
    "all",
    // Every check but one: the edge answers a method its own routes do not take with 404 (README:
    // any other /auth/… is not found), and sends other methods on the JWKS and health paths to
    // the origin, as any path the edge does not own; 405 is not part of its contract.
    "--exclude-checks",
    "unsupported_method",
    "--seed",
    "20260721",
    "--max-examples",
    "10",
    "--generation-database",
    "none",
    "--workers",
    "1",
    "--max-failures",
    "20",
    "--report",
    "junit",
    "--report-junit-path",
    path.join(ROOT, "test-artifacts/schemathesis", `${report}.xml`),
  ];
}

async function check(t, target, args, env) {
  const { code, output } = await schemathesis(target, args, env);
  assert.equal(code, 0, `schemathesis found answers that do not match the document:\n${output}`);
  t.diagnostic(output.slice(output.lastIndexOf("SUMMARY")));
}

test("as a browser: every answer matches www/openapi.yaml, and none is a server error", async (t) => {
  await check(t, edge, options("browser"));
});

test("as an API client with bearer tokens: the session endpoints' answers match too", async (t) => {
  await check(t, edge, [...options("bearer"), "--include-tag", "sessions"], {
    SCHEMATHESIS_HOOKS: "tests/api/bearer_first.py",
  });
});

test("as an API client with DPoP-bound tokens: the session endpoints' answers match too", async (t) => {
  const { code, output } = await schemathesis(
    edge,
    [...options("dpop"), "--include-tag", "sessions"],
    { SCHEMATHESIS_HOOKS: "tests/api/dpop_client.py", EDGEGATE_URL: edge.url },
    "tests/api/schemathesis-dpop.toml",
  );
  assert.equal(code, 0, `schemathesis found answers that do not match the document:\n${output}`);
  // The hook signs every request of an operation that takes dpopToken; none signed, none checked.
  const signed = Number(/dpop_client: (\d+) requests signed/.exec(output)?.[1] ?? 0);
  assert.ok(signed > 0, `the DPoP client signed no request:\n${output}`);
  t.diagnostic(`${signed} requests with DPoP proofs; ${output.slice(output.lastIndexOf("SUMMARY"))}`);
});

test("throttled at the default login limits: the sign-in answers match too", async (t) => {
  // Its own failed logins soon reach the limits, and from then on the answers are 429 (or, to a
  // form, 303 back to the sign-in page), with Retry-After.
  const throttled = await worker();
  try {
    const signIn = ["--include-operation-id", "login", "--include-operation-id", "token"];
    await check(t, throttled, [...options("throttled"), ...signIn]);
    await auditEvents(throttled, (event) => event.event === "rate_limited", { what: "throttled logins" });
  } finally {
    await throttled.dispose();
  }
});
