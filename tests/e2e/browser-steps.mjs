// What the browser tests share: steps that run in order and skip when a step they need did not
// pass, the real demo origin as a child process, and the page's own view of its session.
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { ROOT } from "./harness.mjs";

/**
 * Ordered steps: `step(name, deps, fn)` registers a test that is skipped (naming them) when a
 * step of `deps` did not pass, and marks itself passed; `skipAll` (a message) skips every one.
 */
export function orderedSteps({ skipAll, timeout }) {
  const done = new Set();
  const needs = (...steps) => {
    if (skipAll) return skipAll;
    const missing = steps.filter((s) => !done.has(s));
    return missing.length ? `needs the earlier step(s) ${missing.map((s) => `"${s}"`).join(", ")}, which did not pass` : false;
  };
  const step = (name, deps, fn) => {
    test(name, { timeout, skip: skipAll }, async (t) => {
      // Dependencies are known only once the earlier steps ran, so they are checked here.
      const missing = needs(...deps);
      if (missing) return t.skip(missing);
      await fn(t);
      done.add(name);
    });
  };
  return { step, needs, done };
}

/** Starts scripts/demo-origin.mjs on `port`, trusting the edge at `edgeUrl`; resolves once it listens. */
export async function startDemoOrigin(port, edgeUrl, { issuer, audience }) {
  const child = spawn(process.execPath, [path.join(ROOT, "scripts/demo-origin.mjs"), String(port)], {
    env: {
      ...process.env,
      EDGEGATE_URL: edgeUrl,
      EDGEGATE_ISSUER: issuer,
      EDGEGATE_AUDIENCE: audience,
      DEMO_ORIGIN_EXIT_ON_STDIN_END: "1",
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  await Promise.race([
    (async () => {
      for await (const line of lines) if (line.includes("listening on")) return;
    })(),
    once(child, "exit").then(([code]) => {
      throw new Error(`demo origin exited early (code ${code})`);
    }),
  ]);
  return child;
}

/** The current session as the page's own same-origin fetch sees it ({status, body}). */
export function sessionOf(page) {
  return page.evaluate(async () => {
    const res = await fetch("/auth/session", { credentials: "same-origin", headers: { accept: "application/json" } });
    let body = null;
    try {
      body = await res.json();
    } catch {}
    return { status: res.status, body };
  });
}
