// Deployment, as far as it goes without a Cloudflare account: `wrangler deploy --dry-run` for the
// top-level configuration and for each deployed environment must build and bundle the worker
// offline, the environments must carry every binding and a production-safe configuration, the
// bundle wrangler would upload must start in workerd and pass the worker's own configuration
// checks, and the wrangler commands of the README's "Deploy" section must exist in this wrangler.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { unstable_readConfig as readConfig } from "wrangler";
import { ROOT, testKeys } from "./harness.mjs";

const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const SECRET_NAMES = ["SESSION_KEYS", "ASSERTION_KEYS", "CREDENTIALS_SECRET"];
// No credentials, and a proxy that refuses every connection: anything that needs the network or
// an account fails instead of quietly working.
const DEAD_PROXY = "http://127.0.0.1:9";
const offlineEnv = () => {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^CLOUDFLARE_(API_TOKEN|API_KEY|ACCOUNT_ID|EMAIL)$|^CF_/.test(name)) delete env[name];
  }
  return {
    ...env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    HTTPS_PROXY: DEAD_PROXY,
    HTTP_PROXY: DEAD_PROXY,
    https_proxy: DEAD_PROXY,
    http_proxy: DEAD_PROXY,
    NO_PROXY: "",
    no_proxy: "",
  };
};

/** Runs wrangler (Node 22, repository root); resolves { code, out } with stdout and stderr together. */
async function wrangler(args, { timeout = 120_000 } = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: offlineEnv(),
      timeout,
      maxBuffer: 16 << 20,
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    if (typeof err.code !== "number") throw err;
    return { code: err.code, out: `${err.stdout}${err.stderr}` };
  }
}

const TARGETS = [
  { name: "the top-level configuration", env: "" },
  { name: "staging", env: "staging" },
  { name: "production", env: "production" },
];

const dirs = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

for (const target of TARGETS) {
  describe(`wrangler deploy --dry-run: ${target.name}`, () => {
    const config = readConfig({ config: path.join(ROOT, "wrangler.toml"), env: target.env || undefined });
    const deployed = target.env !== "";
    let outdir;

    test("bundles the worker offline, with every binding", async () => {
      outdir = mkdtempSync(path.join(tmpdir(), `edgegate-dry-run-${target.env || "top"}-`));
      dirs.push(outdir);
      const { code, out } = await wrangler(["deploy", "--dry-run", "--outdir", outdir, `--env=${target.env}`]);
      assert.equal(code, 0, out);
      assert.match(out, /--dry-run: exiting now/);
      assert.doesNotMatch(out, /\[ERROR\]|✘/, out);
      assert.doesNotMatch(out, /Processing wrangler\.toml configuration/, out); // wrangler's config warnings
      // what would be uploaded: the bindings wrangler lists
      for (const line of [/env\.AUTHORITY \(SessionAuthority\)\s+Durable Object/, /env\.SESSIONS \(.+\)\s+KV Namespace/, /env\.USERS \(.+\)\s+KV Namespace/, /env\.ASSETS\s+Assets/]) {
        assert.match(out, line);
      }
      assert.match(out, /Read \d+ files from the assets directory .*www/);

      const files = readdirSync(outdir);
      assert.ok(files.includes("index.js"), files.join(", "));
      const wasm = files.filter((f) => f.endsWith(".wasm"));
      assert.equal(wasm.length, 1, files.join(", "));
      const js = readFileSync(path.join(outdir, "index.js"), "utf8");
      assert.ok(js.includes(`from "./${wasm[0]}"`), "index.js does not import the bundled wasm");
      assert.ok(readFileSync(path.join(outdir, wasm[0])).equals(readFileSync(path.join(ROOT, "build/index_bg.wasm"))), "the bundled wasm is not build/index_bg.wasm");
    });

    test("the resolved configuration has the session authority, both namespaces and the assets", () => {
      assert.equal(path.relative(ROOT, config.main), "build/index.js");
      assert.deepEqual(config.durable_objects.bindings.map((b) => ({ ...b })), [{ name: "AUTHORITY", class_name: "SessionAuthority" }]);
      assert.ok(
        config.migrations.some((m) => (m.new_sqlite_classes ?? []).includes("SessionAuthority")),
        "no migration creates SessionAuthority",
      );
      assert.deepEqual(config.kv_namespaces.map((kv) => kv.binding).sort(), ["SESSIONS", "USERS"]);
      assert.equal(config.assets.binding, "ASSETS");
      assert.equal(config.assets.run_worker_first, true);
      for (const secret of SECRET_NAMES) assert.ok(!(secret in config.vars), `${secret} must be a secret, not a var`);
    });

    if (deployed) {
      test("the environment is configured for real traffic", () => {
        const top = readConfig({ config: path.join(ROOT, "wrangler.toml") });
        // vars are not inherited: an environment that forgets one runs on the worker's default
        for (const name of Object.keys(top.vars)) assert.ok(name in config.vars, `[env.${target.env}.vars] lacks ${name}`);
        assert.equal(config.vars.DEV_MODE, "false");
        assert.equal(config.vars.COOKIE_SECURE, "true");
        assert.match(config.vars.ORIGIN_URL, /^https:\/\//);
        assert.match(config.vars.ISSUER, /^https:\/\//);
        assert.notEqual(config.vars.ORIGIN_AUDIENCE, top.vars.ORIGIN_AUDIENCE);
        assert.ok(config.routes?.length > 0, "no routes");
        assert.equal(config.name, `edgegate-${target.env}`);
      });
    }

    test("the bundle wrangler would upload starts in workerd and accepts the environment's vars", async () => {
      assert.ok(outdir, "the dry run did not run");
      const secrets = testKeys();
      const mf = new Miniflare({
        modules: true,
        scriptPath: path.join(outdir, "index.js"),
        modulesRoot: outdir,
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
        compatibilityDate: config.compatibility_date,
        bindings: { ...config.vars, ...secrets },
        kvNamespaces: config.kv_namespaces.map((kv) => kv.binding),
        durableObjects: { AUTHORITY: "SessionAuthority" },
        cf: false,
        host: "127.0.0.1",
        port: 0,
      });
      try {
        // Deployed environments refuse plain HTTP and serve their own host; the top level is
        // DEV_MODE and serves loopback only.
        const base = deployed ? `https://${config.routes[0].pattern.replace(/\/\*$/, "")}` : "http://127.0.0.1:8787";
        const health = await mf.dispatchFetch(`${base}/.edgegate/health`);
        assert.equal(health.status, 200);
        assert.equal(await health.text(), "ok");
        const jwks = await (await mf.dispatchFetch(`${base}/.well-known/jwks.json`)).json();
        assert.deepEqual(jwks.keys.map((k) => k.kid), [secrets.ASSERTION_KEYS.split(":")[0]]);
        // A protected path: 401 (no session) proves the configuration validated; a
        // configuration problem would be a 500 configuration_error naming the variable.
        const res = await mf.dispatchFetch(`${base}/reports`, { headers: { accept: "application/json" } });
        const body = await res.json();
        assert.equal(res.status, 401, JSON.stringify(body));
        assert.equal(body.error, "unauthenticated");
      } finally {
        await mf.dispose();
      }
    });
  });
}

describe("the README's Deploy section", () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## Deploy$/m)[1]?.split(/^## /m)[0] ?? "";
  const block = section.match(/```sh\n([\s\S]*?)```/)?.[1] ?? "";
  // every `npx wrangler …` command, including those after a pipe
  const commands = block
    .split("\n")
    .flatMap((line) => line.replace(/#.*$/, "").split("|"))
    .map((part) => part.trim())
    .filter((part) => part.startsWith("npx wrangler "))
    .map((part) => part.slice("npx wrangler ".length).split(/\s+/));

  test("has the wrangler commands of a first deployment", () => {
    const subcommands = commands.map((words) => words.filter((w) => /^[a-z][a-z-]*$/.test(w)).slice(0, 3).join(" "));
    for (const expected of ["kv namespace create", "secret put", "deploy"]) {
      assert.ok(subcommands.some((s) => s.startsWith(expected)), `no "npx wrangler ${expected}" in README's Deploy section`);
    }
  });

  test("each wrangler command exists in this wrangler, with the positionals and flags used", async () => {
    const environments = Object.keys(readConfig({ config: path.join(ROOT, "wrangler.toml") }).env ?? {});
    const envNames = environments.length ? environments : ["staging", "production"];
    const help = new Map(); // subcommand -> its --help, each asked once
    for (const words of commands) {
      const sub = [];
      let i = 0;
      while (i < words.length && /^[a-z][a-z:-]*$/.test(words[i])) sub.push(words[i++]);
      const rest = words.slice(i);
      const flags = rest.filter((w) => w.startsWith("--"));
      const positionals = rest.filter((w, j) => !w.startsWith("--") && !(j > 0 && rest[j - 1].startsWith("--")));
      const key = sub.join(" ");
      if (!help.has(key)) help.set(key, await wrangler([...sub, "--help"], { timeout: 60_000 }));
      const { code, out } = help.get(key);
      assert.equal(code, 0, `wrangler ${sub.join(" ")} --help failed:\n${out}`);
      const usage = out.split("\n").find((l) => l.startsWith(`wrangler ${sub.join(" ")}`));
      assert.ok(usage, `wrangler ${sub.join(" ")}: no usage line in\n${out}`);
      const declared = (usage.match(/<[^>]+>|\[[^\]]+\]/g) ?? []).length;
      assert.ok(positionals.length <= declared, `wrangler ${words.join(" ")}: more positionals than "${usage}"`);
      for (const flag of flags) assert.ok(out.includes(flag), `wrangler ${sub.join(" ")} has no ${flag}`);
      const env = rest[rest.indexOf("--env") + 1];
      if (rest.includes("--env")) assert.ok(envNames.includes(env), `--env ${env} is not an environment of wrangler.toml`);
    }
  });

  test("the secrets it puts are the ones the worker reads, made by the bin and feature Cargo.toml declares", () => {
    const cargo = readFileSync(path.join(ROOT, "Cargo.toml"), "utf8");
    assert.match(cargo, /\[\[bin\]\]\nname = "edgegate"\n[^[]*required-features = \["cli"\]/);
    const puts = commands.filter((w) => w[0] === "secret" && w[1] === "put").map((w) => w[2]);
    assert.deepEqual(puts.sort(), ["ASSERTION_KEYS", "SESSION_KEYS"]);
    for (const line of block.split("\n").filter((l) => l.startsWith("cargo run"))) {
      assert.match(line, /^cargo run --features cli --bin edgegate -- (keys generate|user add) /, line);
    }
  });
});
