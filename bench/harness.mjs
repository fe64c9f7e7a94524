// Shared by the end-to-end benchmark (bench/e2e.mjs) and the profiler (bench/profile.mjs): the
// origin process, seeded users of the `kv` credential backend, and logging in through edgegate.
import { spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";

export const PASSWORD = "bench-password-1";

export async function startOrigin() {
  const child = spawn(process.execPath, [new URL("./origin.mjs", import.meta.url).pathname, "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(JSON.parse(d).port));
    child.once("exit", (code) => reject(new Error(`origin exited (${code})`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    stats: async () => (await fetch(`${url}/__origin/stats`)).json(),
    stop: () => child.kill("SIGTERM"),
  };
}

/** The user record format of the `kv` credential backend (PBKDF2-HMAC-SHA256, 100,000 rounds). */
function userRecord(password) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, 100000, 32, "sha256");
  const b64 = (b) => b.toString("base64").replace(/=+$/, "");
  return JSON.stringify({ password: `pbkdf2-sha256$100000$${b64(salt)}$${b64(hash)}`, roles: ["member"], disabled: false });
}

/** `name=value; ...` for the non-empty cookies a response sets, merged over `previous`. */
export function cookiesFrom(setCookie = [], previous = "") {
  const jar = new Map(previous.split("; ").filter(Boolean).map((kv) => [kv.split("=")[0], kv]));
  for (const line of setCookie) {
    const pair = line.split(";")[0];
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.length > eq + 1) jar.set(pair.slice(0, eq), pair);
  }
  return [...jar.values()].join("; ");
}

export const loginRequest = (user) => ({
  method: "POST",
  path: "/auth/login",
  headers: { "content-type": "application/json", accept: "application/json" },
  body: JSON.stringify({ username: user, password: PASSWORD }),
});

export async function login(edge, user) {
  const req = loginRequest(user);
  const res = await fetch(edge + req.path, { method: "POST", headers: req.headers, body: req.body });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return cookiesFrom(res.headers.getSetCookie());
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Seeds `count` users `bench-u0`… with PASSWORD into the USERS namespace served at `kvUsers`. */
export async function seedUsers(kvUsers, count) {
  const record = userRecord(PASSWORD);
  for (let i = 0; i < count; i++) {
    const key = encodeURIComponent(`user:bench-u${i}`);
    const res = await fetch(`${kvUsers}/${key}?urlencoded=true`, { method: "PUT", body: record });
    check(res.ok, `seeding user ${i}: ${res.status}`);
  }
}

/** Runs `main`, exiting 0 when it resolves, 1 when it throws, 2 past `minutes` (a stuck run). */
export function runMain(name, main, minutes) {
  const watchdog = setTimeout(() => {
    console.error(`${name}: overall time limit reached`);
    process.exit(2);
  }, minutes * 60 * 1000);
  watchdog.unref();
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(`${name} failed: ${err.stack ?? err}`);
      process.exit(1);
    },
  );
}
