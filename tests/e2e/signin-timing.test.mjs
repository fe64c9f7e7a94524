// Sign-in timing (SECURITY.md, "Sign-in timing"): a wrong password for an account that exists
// and any password for a name that has no account must take the same time, or the response time
// tells which accounts exist.
//
// The test measures it as an attacker would, against the built worker in workerd: sign-ins for
// known users with a wrong password and sign-ins for names with no account, sent one at a time
// and interleaved (each pair in a random order from a fixed seed, so load drift on a busy machine
// falls on both groups alike), after warm-up requests that are discarded. Each group takes its
// names in turn from a pool of the same size, so every name has the same history of attempts
// (its throttle counter's object is as warm on both sides). The known users' records are as the
// CLI writes them and as an older record may be, with fewer iterations (MIN_ITERATIONS, the
// fewest a record may have): both must cost what an unknown name costs. The two samples are
// compared with a two-sided Mann-Whitney U test, which assumes no distribution (latencies have
// long tails), and the difference must not be significant at ALPHA.
//
// Both paths then also wait out the failure floor (LOGIN_FAILURE_FLOOR_MS, here FLOOR_MS to keep
// the run short): no refusal may arrive before it, and a difference in the work below it (a
// storage read that finds a record against one that finds none: 2 ms on one machine of this
// kind, none on another) cannot show.
//
// A test that cannot fail proves nothing, so the same statistic must also find a small
// deliberate difference in the same noise: each group's latencies centred on its median, the
// unknown group's then shifted by SHIFT_MS either way, must differ at ALPHA. On a machine too
// noisy to see SHIFT_MS the test fails rather than passing blind.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startWorker, userRecord } from "./harness.mjs";

/** Measured sign-ins per group, after WARMUP discarded pairs. */
const PER_GROUP = 200;
const WARMUP = 20;
/** The significance level both ways: no difference must reach it, the deliberate one must. */
const ALPHA = 0.001;
/** The deliberate difference the test must be able to see, in milliseconds. */
const SHIFT_MS = 3;
const SEED = 0x5eed_2025;
/** The failure floor the worker runs with, in milliseconds (the default is 250). */
const FLOOR_MS = 100;
/** The known users' records: the full count new records get, and the fewest a record may have. */
const RECORD_ITERATIONS = [100_000, 10_000, 100_000, 10_000];
const PASSWORD = "the right password";
const WRONG = "not the password";

/** mulberry32: a small seeded generator, so every run interleaves the same way. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The upper tail of the standard normal distribution, P(Z > z) (erfc, Numerical Recipes 6.2). */
function normalTail(z) {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -x * x - 1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851586 + t * (-0.82215223 + t * 0.17087277))))))));
  const upper = (t * Math.exp(poly)) / 2;
  return z >= 0 ? upper : 1 - upper;
}

/**
 * The two-sided Mann-Whitney U test of samples `x` and `y`: U of `x`, and the p-value from the
 * normal approximation with the tie correction and a continuity correction (exact enough for
 * samples of this size).
 */
function mannWhitney(x, y) {
  const all = [...x.map((v) => [v, 0]), ...y.map((v) => [v, 1])].sort((a, b) => a[0] - b[0]);
  const n = all.length;
  const [n1, n2] = [x.length, y.length];
  let rankSum = 0;
  let ties = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1][0] === all[i][0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k][1] === 0) rankSum += rank;
    const t = j - i + 1;
    ties += t ** 3 - t;
    i = j + 1;
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1))));
  const z = sd > 0 ? Math.max(0, Math.abs(u - mean) - 0.5) / sd : 0;
  return { u, z, p: Math.min(1, 2 * normalTail(z)) };
}

function median(sample) {
  const s = [...sample].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

describe("the statistic", () => {
  test("U and p agree with a hand-computed case", () => {
    // x ranks 1, 3, 5 of 6: rank sum 9, U = 9 - 6 = 3 of a possible 9; z = (|3 - 4.5| - 0.5) / sqrt(5.25).
    const { u, z, p } = mannWhitney([1, 3, 5], [2, 4, 6]);
    assert.equal(u, 3);
    assert.ok(Math.abs(z - 1 / Math.sqrt(5.25)) < 1e-12, `z = ${z}`);
    assert.ok(Math.abs(p - 0.6625) < 0.001, `p = ${p}`);
    assert.ok(Math.abs(normalTail(1.959964) - 0.025) < 1e-6);
    assert.ok(Math.abs(normalTail(-1) - 0.841345) < 1e-6);
  });

  test("same distribution: no significance; shifted: significance, both ways", () => {
    const random = seeded(SEED);
    // Long-tailed like latencies: exponential noise over a floor.
    const draw = () => 20 - 2 * Math.log(1 - random());
    const a = Array.from({ length: PER_GROUP }, draw);
    const b = Array.from({ length: PER_GROUP }, draw);
    assert.ok(mannWhitney(a, b).p > 0.05, "one distribution, two samples");
    assert.ok(mannWhitney(a, b.map((v) => v + SHIFT_MS)).p < ALPHA, "b slower");
    assert.ok(mannWhitney(a.map((v) => v + SHIFT_MS), b).p < ALPHA, "a slower");
    assert.equal(mannWhitney([5, 5, 5], [5, 5, 5]).p, 1, "all tied");
  });
});

describe("sign-in timing", () => {
  let edge;
  const known = [];
  const unknown = [];

  before(async () => {
    edge = await startWorker({
      captureLogs: true,
      // Limits out of reach: every attempt is checked, none is turned away by the throttle.
      vars: {
        LOGIN_MAX_FAILURES_PER_ACCOUNT: "10000",
        LOGIN_MAX_FAILURES_PER_CLIENT: "10000",
        LOGIN_WINDOW: "86400",
        LOGIN_FAILURE_FLOOR_MS: String(FLOOR_MS),
      },
    });
    const users = await edge.kv("USERS");
    for (const [i, iterations] of RECORD_ITERATIONS.entries()) {
      known.push(`member-${i}`);
      unknown.push(`nobody-${i}`);
      await users.put(`user:member-${i}`, userRecord(PASSWORD, { iterations }));
    }
  });

  after(async () => {
    await edge?.dispose();
  });

  /** The latency of one JSON sign-in, response body read, in milliseconds. */
  async function signIn(username, password) {
    const start = performance.now();
    const res = await edge.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    await res.arrayBuffer();
    const elapsed = performance.now() - start;
    assert.equal(res.status, 401, `sign-in of ${username}`);
    return elapsed;
  }

  test("a wrong password for a known user takes as long as a sign-in for an unknown one", async (t) => {
    const random = seeded(SEED);
    const knownTimes = [];
    const unknownTimes = [];
    for (let i = 0; i < PER_GROUP + WARMUP; i++) {
      const pair = [
        async () => ["known", await signIn(known[i % known.length], WRONG)],
        async () => ["unknown", await signIn(unknown[i % unknown.length], WRONG)],
      ];
      if (random() < 0.5) pair.reverse();
      for (const run of pair) {
        const [group, ms] = await run();
        if (i < WARMUP) continue;
        (group === "known" ? knownTimes : unknownTimes).push(ms);
      }
    }
    const fastest = Math.min(...knownTimes, ...unknownTimes);
    assert.ok(fastest >= FLOOR_MS, `a refusal came ${fastest.toFixed(2)} ms after its request, before the floor`);
    const observed = mannWhitney(knownTimes, unknownTimes);
    // The power check: both samples' own noise, centred on a common median, then the unknown
    // group moved by SHIFT_MS either way. The statistic must see that.
    const centred = (sample) => {
      const m = median(sample);
      return sample.map((v) => v - m);
    };
    const [knownNoise, unknownNoise] = [centred(knownTimes), centred(unknownTimes)];
    const slower = mannWhitney(knownNoise, unknownNoise.map((v) => v + SHIFT_MS));
    const faster = mannWhitney(knownNoise, unknownNoise.map((v) => v - SHIFT_MS));
    t.diagnostic(
      `median known ${median(knownTimes).toFixed(2)} ms, unknown ${median(unknownTimes).toFixed(2)} ms ` +
        `(n = ${PER_GROUP} each); Mann-Whitney p = ${observed.p.toPrecision(3)}; ` +
        `with unknown +${SHIFT_MS} ms p = ${slower.p.toExponential(2)}, -${SHIFT_MS} ms p = ${faster.p.toExponential(2)}`,
    );
    assert.ok(
      observed.p > ALPHA,
      `known and unknown users take different times: median ${median(knownTimes).toFixed(2)} ms against ` +
        `${median(unknownTimes).toFixed(2)} ms, p = ${observed.p}`,
    );
    // A difference found stands on its own; "none found" means something only with power.
    assert.ok(
      slower.p < ALPHA && faster.p < ALPHA,
      `the measurement cannot see a ${SHIFT_MS} ms difference (p = ${slower.p}, ${faster.p}): too noisy to test`,
    );
  });
});
