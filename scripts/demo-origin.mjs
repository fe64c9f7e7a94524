// A tiny stand-in for the protected application behind edgegate, used by ./scripts/run.sh.
//
// Every request reaching it through edgegate carries identity headers added by the worker:
//   x-auth-user, x-auth-session, x-auth-roles   what the worker says about the user
//   x-auth-assertion                            the same facts in a short-lived EdDSA JWT
// The plain headers are only trustworthy if the request really came through the worker, so this
// origin does what a real application should: it verifies the assertion against the worker's
// public keys (GET <EDGEGATE_URL>/.well-known/jwks.json) with `jose`, checks issuer, audience,
// type, algorithm and age, and checks that the plain headers say the same as the signed claims.
// Only then does it show the user as signed in; otherwise it shows a loud "not verified" page and
// ignores the headers (anyone who can reach the origin directly could have sent them).
//
//   node scripts/demo-origin.mjs [port]     (default 8788; 0 = any free port; 127.0.0.1 only)
//
// Environment (defaults match wrangler.toml [vars] and ./scripts/run.sh):
//   EDGEGATE_URL       where to fetch the JWKS     default http://127.0.0.1:${EDGEGATE_PORT:-8787}
//   EDGEGATE_ISSUER    expected `iss`              default EDGEGATE_URL (wrangler.toml ISSUER)
//   EDGEGATE_AUDIENCE  expected `aud`              default edgegate-demo-origin (ORIGIN_AUDIENCE)
//
// Answers JSON instead of HTML when the request prefers application/json (e.g. curl -H 'accept:
// application/json'). GET /.demo-origin/health answers "ok".
import http from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";

const port = Number(process.argv[2] ?? process.env.PORT ?? 8788);
const host = "127.0.0.1";

const EDGEGATE_URL = (process.env.EDGEGATE_URL || `http://127.0.0.1:${process.env.EDGEGATE_PORT || 8787}`).replace(/\/+$/, "");
const ISSUER = process.env.EDGEGATE_ISSUER || EDGEGATE_URL;
const AUDIENCE = process.env.EDGEGATE_AUDIENCE || "edgegate-demo-origin";
const ASSERTION_TYP = "edgegate-assertion+jwt";
const MAX_LIFETIME = 60; // seconds; the worker never mints longer-lived assertions
const CLOCK_TOLERANCE = 5; // seconds
const JWKS_URL = new URL("/.well-known/jwks.json", EDGEGATE_URL);

// Fetched on first use, cached, and fetched again when a token names an unknown key (rotation).
const jwks = createRemoteJWKSet(JWKS_URL, { timeoutDuration: 5000, cooldownDuration: 5000 });

const STYLESHEET = path.join(path.dirname(fileURLToPath(import.meta.url)), "../www/style.css");

// --- verification ---------------------------------------------------------------------------------

const EXPLAIN = {
  ERR_JWT_EXPIRED: "The assertion has expired. Assertions live at most a minute; this one is stale or replayed.",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "The signature does not match: the assertion was not signed by edgegate's key, or it was altered.",
  ERR_JWKS_NO_MATCHING_KEY: "No key in edgegate's JWKS matches the assertion's `kid`: it was signed by some other key.",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "Several keys in the JWKS match the assertion's header.",
  ERR_JWKS_TIMEOUT: "edgegate's JWKS could not be fetched in time.",
  ERR_JWKS_INVALID: "edgegate's JWKS is not a valid key set.",
  ERR_JWT_CLAIM_VALIDATION_FAILED: "A claim does not have the value this origin requires.",
  ERR_JWT_INVALID: "The assertion is not a well-formed JWT.",
  ERR_JWS_INVALID: "The assertion is not a well-formed JWS.",
  ERR_JOSE_ALG_NOT_ALLOWED: "The assertion uses a signing algorithm other than EdDSA.",
};

class Rejected extends Error {
  constructor(code, message, detail) {
    super(message);
    this.code = code;
    this.detail = detail;
  }
}

/**
 * Verifies the request's x-auth-assertion and that the plain x-auth-* headers agree with it.
 * Returns { verified: true, claims, header } or { verified: false, error: { code, message, detail } }.
 */
async function verify(req) {
  const token = req.headers["x-auth-assertion"];
  try {
    if (!token) {
      throw new Rejected(
        "NO_ASSERTION",
        "This request carries no x-auth-assertion header.",
        "It did not come through edgegate with a session (for example, the origin was opened directly).",
      );
    }
    let result;
    try {
      result = await jwtVerify(token, jwks, {
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: ASSERTION_TYP,
        algorithms: ["EdDSA", "Ed25519"],
        requiredClaims: ["sub", "sid", "iat", "exp"],
        maxTokenAge: MAX_LIFETIME + CLOCK_TOLERANCE,
        clockTolerance: CLOCK_TOLERANCE,
      });
    } catch (err) {
      let code = err?.code ?? "ERR_UNKNOWN";
      let detail = EXPLAIN[code] ?? "";
      if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && err.claim) {
        detail = `The \`${err.claim}\` claim failed (${err.reason ?? "check"}). Expected iss = ${ISSUER}, aud = ${AUDIENCE}.`;
      }
      if (code === "ERR_UNKNOWN" || /fetch|ECONNREFUSED|network/i.test(String(err?.message) + String(err?.cause))) {
        code = "JWKS_UNREACHABLE";
        detail = `Could not get edgegate's public keys from ${JWKS_URL}: ${err?.cause?.message ?? err?.message}. Is the worker running, and is EDGEGATE_URL right?`;
      }
      throw new Rejected(code, err?.message ?? String(err), detail);
    }
    const { payload, protectedHeader } = result;
    if (payload.exp - payload.iat > MAX_LIFETIME) {
      throw new Rejected("LIFETIME", `The assertion lives ${payload.exp - payload.iat} s.`, `edgegate assertions live at most ${MAX_LIFETIME} s.`);
    }
    if (payload.knd !== undefined && payload.knd !== "assertion") {
      throw new Rejected("KIND", `The token is a \`${payload.knd}\` token, not an assertion.`, "Another kind of edgegate token was put in x-auth-assertion.");
    }
    // The plain headers must say exactly what the signed claims say.
    const roles = Array.isArray(payload.roles) ? payload.roles : [];
    const expected = {
      "x-auth-user": String(payload.sub),
      "x-auth-session": String(payload.sid),
      "x-auth-roles": roles.join(","),
    };
    for (const [name, value] of Object.entries(expected)) {
      const got = req.headers[name] ?? "";
      if (got !== value) {
        throw new Rejected(
          "HEADER_MISMATCH",
          `The ${name} header (${JSON.stringify(got)}) does not match the signed assertion (${JSON.stringify(value)}).`,
          "Something between edgegate and this origin changed the identity headers.",
        );
      }
    }
    return { verified: true, claims: payload, header: protectedHeader };
  } catch (err) {
    const error =
      err instanceof Rejected
        ? { code: err.code, message: err.message, detail: err.detail }
        : { code: "ERR_UNEXPECTED", message: String(err?.message ?? err), detail: "" };
    return { verified: false, error };
  }
}

/** The assertion's header and claims without checking anything, to show what was received. */
function decodeUnverified(token) {
  if (!token) return null;
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch {
    return null;
  }
}

// --- HTML -------------------------------------------------------------------------------------------

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const time = (secs) => (typeof secs === "number" ? new Date(secs * 1000).toISOString().replace(".000Z", "Z") : "?");

function headerRows(req) {
  const auth = Object.entries(req.headers)
    .filter(([name]) => name.startsWith("x-auth-"))
    .sort(([a], [b]) => a.localeCompare(b));
  if (!auth.length) return `<tr><td colspan="2"><em>none</em></td></tr>`;
  return auth.map(([k, v]) => `<tr><th scope="row">${escape(k)}</th><td><code>${escape(v)}</code></td></tr>`).join("\n");
}

function json(value) {
  return `<pre><code>${escape(JSON.stringify(value, null, 2))}</code></pre>`;
}

function page(req, result) {
  const pathname = req.url;
  const decoded = decodeUnverified(req.headers["x-auth-assertion"]);
  const now = Math.floor(Date.now() / 1000);
  let verdict;
  let identity = "";
  if (result.verified) {
    const c = result.claims;
    const roles = Array.isArray(c.roles) && c.roles.length ? c.roles.map((r) => `<span class="role">${escape(r)}</span>`).join("") : "none";
    verdict = `<section class="verdict verified" id="verdict" data-verified="true">
  <h1>Verified: signed in as <span id="verified-user">${escape(c.sub)}</span></h1>
  <p>edgegate's signature on this request's identity assertion checks out, so this origin trusts it.</p>
</section>`;
    identity = `<section class="card" aria-labelledby="who">
  <h2 id="who">Who is asking</h2>
  <table class="kv">
    <tr><th scope="row">User</th><td id="claim-sub">${escape(c.sub)}</td></tr>
    <tr><th scope="row">Roles</th><td id="claim-roles">${roles}</td></tr>
    <tr><th scope="row">Session</th><td><code id="claim-sid">${escape(c.sid)}</code></td></tr>
    <tr><th scope="row">Assertion</th><td>issued ${escape(time(c.iat))}, expires ${escape(time(c.exp))} (${c.exp - now} s left), signed with key <code>${escape(result.header.kid ?? "?")}</code></td></tr>
  </table>
</section>`;
  } else {
    verdict = `<section class="verdict unverified" id="verdict" data-verified="false" role="alert">
  <h1>Not verified</h1>
  <p><strong>This origin does not know who you are.</strong> The identity headers below are ignored.</p>
  <p><code id="verify-error-code">${escape(result.error.code)}</code> ${escape(result.error.message)}</p>
  ${result.error.detail ? `<p>${escape(result.error.detail)}</p>` : ""}
</section>`;
  }

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${result.verified ? "Demo origin: signed in" : "Demo origin: NOT VERIFIED"}</title>
<link rel="icon" href="/auth/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/auth/assets/style.css">
</head>
<body>
<div class="brand"><span class="brand-mark" aria-hidden="true"></span>demo origin behind edgegate</div>
<main class="wide">
${verdict}
${identity}
<section class="card" aria-labelledby="try">
  <h2 id="try">Try it</h2>
  <p>You asked for <strong>${escape(req.method)}</strong> <code id="request-path">${escape(pathname)}</code>.</p>
  <div class="actions">
    <a class="button secondary" href="/auth/account">Your account and sessions</a>
    <a class="button secondary" href="/demo/another-page?from=${encodeURIComponent(pathname)}">Another protected page</a>
    ${
      result.verified
        ? `<form class="inline" method="post" action="/auth/logout"><button type="submit" id="logout">Log out</button></form>`
        : `<a class="button" href="/auth/login?next=${encodeURIComponent(pathname)}">Sign in</a>`
    }
  </div>
</section>
<section class="card" aria-labelledby="how">
  <h2 id="how">How this request got here</h2>
  <ol class="flow">
    <li>Your browser asked edgegate (the Cloudflare Worker in front of this app) for <code>${escape(pathname)}</code>. Without a session, edgegate would have redirected you to <code>/auth/login?next=…</code> instead.</li>
    <li>edgegate checked your session cookie. It is <code>HttpOnly</code>, so no page script can read it, and edgegate strips it before forwarding: this origin never sees it.</li>
    <li>edgegate dropped any <code>x-auth-*</code> headers your browser might have sent, then added its own: who you are (<code>x-auth-user</code>, <code>x-auth-session</code>, <code>x-auth-roles</code>) and the same facts signed as a short-lived JWT (<code>x-auth-assertion</code>, EdDSA, at most ${MAX_LIFETIME} s).</li>
    <li>This origin verified that JWT with edgegate's public keys from <code><a href="${escape(JWKS_URL.href)}">${escape(JWKS_URL.href)}</a></code>: signature, <code>iss</code> = <code>${escape(ISSUER)}</code>, <code>aud</code> = <code>${escape(AUDIENCE)}</code>, <code>typ</code> = <code>${ASSERTION_TYP}</code>, age, and that the plain headers match the claims. ${
      result.verified ? "All checks passed." : "<strong>That failed for this request</strong>, so the headers are not trusted."
    }</li>
    <li>Your account page (<a href="/auth/account">/auth/account</a>) lists your sessions; ending one there makes its next request land back on the sign-in page.</li>
  </ol>
</section>
<section class="card" aria-labelledby="headers">
  <h2 id="headers">Identity headers received</h2>
  ${result.verified ? "" : `<p class="muted small">Shown struck through: unverified headers could have been sent by anyone who can reach this origin directly.</p>`}
  <table class="kv${result.verified ? "" : " untrusted"}" id="auth-headers">
${headerRows(req)}
  </table>
</section>
${
  decoded
    ? `<section class="card" aria-labelledby="assertion">
  <h2 id="assertion">The assertion, decoded${result.verified ? "" : " (unverified: do not trust)"}</h2>
  <p class="muted small">Header</p>
  ${json(decoded.header)}
  <p class="muted small">Claims</p>
  ${json(decoded.claims)}
</section>`
    : ""
}
</main>
</body>
</html>
`;
}

// --- server -------------------------------------------------------------------------------------------

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

function wantsJson(req) {
  const accept = String(req.headers.accept ?? "");
  return accept.includes("application/json") && !accept.includes("text/html");
}

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", async () => {
    try {
      if (req.url === "/.demo-origin/health") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
        return;
      }
      // Through edgegate, /auth/assets/* is served by the worker; this is for opening the origin directly.
      if (req.url === "/auth/assets/style.css") {
        res.writeHead(200, { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" }).end(readFileSync(STYLESHEET));
        return;
      }
      const result = await verify(req);
      if (wantsJson(req)) {
        const body = result.verified
          ? { verified: true, user: result.claims.sub, session: result.claims.sid, roles: result.claims.roles ?? [], claims: result.claims }
          : { verified: false, error: result.error };
        res.writeHead(200, { "content-type": "application/json", ...SECURITY_HEADERS }).end(JSON.stringify(body, null, 2));
        return;
      }
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS }).end(page(req, result));
    } catch (err) {
      console.error(`demo origin: ${err?.stack ?? err}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("demo origin error");
    }
  });
});

server.on("error", (err) => {
  console.error(`demo origin: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  console.log(`demo origin listening on http://${host}:${server.address().port}`);
  console.log(`demo origin: verifying x-auth-assertion with ${JWKS_URL} (iss ${ISSUER}, aud ${AUDIENCE})`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
// For test harnesses: exit together with the parent when it closes our stdin.
if (process.env.DEMO_ORIGIN_EXIT_ON_STDIN_END === "1") {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
