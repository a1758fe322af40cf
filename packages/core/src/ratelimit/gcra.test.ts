import { describe, expect, it } from "vitest";
import { gcra, gcraPeek } from "./gcra.js";
import type { GcraResult, Tat } from "./gcra.js";

const NOW = 1_732_000_000_123;

/** Runs `n` requests at the given instants, carrying the state like a backend does. */
function run(times: number[], quota: number, windowMs: number, start: Tat | null = null): { results: GcraResult[]; tat: Tat | null } {
  let tat = start;
  const results = times.map((t) => {
    const r = gcra(tat, t, quota, windowMs);
    if (r.newTat !== null) tat = r.newTat;
    return r;
  });
  return { results, tat };
}

describe("gcra (docs/verification.md#gcra)", () => {
  it("follows the spec example: quota 10 per 60 s", () => {
    const { results, tat } = run(Array<number>(11).fill(NOW), 10, 60_000);
    expect(results.slice(0, 10).map((r) => r.allowed)).toEqual(Array(10).fill(true));
    expect(results.slice(0, 10).map((r) => r.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(results.slice(0, 10).map((r) => r.resetTimeMs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((k) => NOW + k * 6000));
    const eleventh = results[10]!;
    expect(eleventh).toEqual({ allowed: false, newTat: null, remaining: 0, retryAfterS: 6, resetTimeMs: NOW + 60_000 });

    expect(gcra(tat, NOW + 5999, 10, 60_000).allowed).toBe(false);
    expect(gcra(tat, NOW + 5999, 10, 60_000).retryAfterS).toBe(1);
    const later = gcra(tat, NOW + 6000, 10, 60_000);
    expect(later).toMatchObject({ allowed: true, remaining: 0, resetTimeMs: NOW + 66_000 });
    expect(gcra(later.newTat, NOW + 6000, 10, 60_000)).toMatchObject({ allowed: false, retryAfterS: 6 });
  });

  it("gives the whole quota back once the TAT has passed", () => {
    const { tat } = run(Array<number>(10).fill(NOW), 10, 60_000);
    expect(gcra(tat, NOW + 60_000, 10, 60_000)).toMatchObject({ allowed: true, remaining: 9, resetTimeMs: NOW + 66_000 });
    expect(gcra(tat, NOW + 30_000, 10, 60_000)).toMatchObject({ allowed: true, remaining: 4 });
  });

  it("admits exactly quota in a same-instant burst for awkward quota/window pairs", () => {
    // Window/quota pairs whose T is not representable; a float TAT gets ~half of these wrong.
    for (const [quota, windowMs] of [[3, 1000], [7, 60_000], [13, 1000], [999, 61_000], [4999, 3_600_000], [100_003, 1000]] as const) {
      const now = NOW + quota;
      const { results } = run(Array<number>(quota + 2).fill(now), quota, windowMs);
      const allowed = results.filter((r) => r.allowed);
      expect(allowed.length, `quota ${quota} window ${windowMs}`).toBe(quota);
      expect(allowed.map((r) => r.remaining)).toEqual(Array.from({ length: quota }, (_, i) => quota - 1 - i));
      expect(results[quota]!.allowed).toBe(false);
      expect(results[quota]!.retryAfterS).toBe(Math.ceil(windowMs / quota / 1000));
      expect(results[quota]!.resetTimeMs).toBe(now + windowMs);
    }
  });

  it("window 1 s, quota 1", () => {
    const a = gcra(null, NOW, 1, 1000);
    expect(a).toMatchObject({ allowed: true, remaining: 0, retryAfterS: 0, resetTimeMs: NOW + 1000 });
    expect(gcra(a.newTat, NOW + 1, 1, 1000)).toMatchObject({ allowed: false, remaining: 0, retryAfterS: 1, resetTimeMs: NOW + 1000 });
    expect(gcra(a.newTat, NOW + 999, 1, 1000)).toMatchObject({ allowed: false, retryAfterS: 1 });
    expect(gcra(a.newTat, NOW + 1000, 1, 1000)).toMatchObject({ allowed: true, remaining: 0, resetTimeMs: NOW + 2000 });
  });

  it("rounds fractional reset and retry times up", () => {
    // T = 333.33 ms: after three requests at NOW the TAT is exactly NOW + 1000.
    const { results, tat } = run([NOW, NOW, NOW], 3, 1000);
    expect(results.map((r) => r.resetTimeMs)).toEqual([NOW + 334, NOW + 667, NOW + 1000]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0]);
    const r = gcra(tat, NOW + 1, 3, 1000); // allow_at = NOW + 333.33
    expect(r).toMatchObject({ allowed: false, retryAfterS: 1, resetTimeMs: NOW + 1000 });
    expect(gcra(tat, NOW + 333, 3, 1000).allowed).toBe(false);
    expect(gcra(tat, NOW + 334, 3, 1000).allowed).toBe(true);
  });

  it("handles quotas up to 2^53-1 and windows up to 10 years", () => {
    const big = Number.MAX_SAFE_INTEGER;
    const tenYears = 315_360_000_000;
    for (const windowMs of [1000, 60_000, tenYears]) {
      const { results, tat } = run(Array<number>(1000).fill(NOW), big, windowMs);
      expect(results.every((r) => r.allowed)).toBe(true);
      for (const r of results) {
        expect(Number.isSafeInteger(r.remaining)).toBe(true);
        expect(r.remaining).toBeLessThanOrEqual(big - 1);
        expect(r.remaining).toBeGreaterThanOrEqual(big - 1 - 1000 - 1);
        expect(r.resetTimeMs - NOW).toBeLessThanOrEqual(1);
      }
      expect(tat!.frac).toBeLessThan(big);
      expect(Number.isSafeInteger(tat!.frac)).toBe(true);
    }

    // Quota 1 per ten years: one now, the next in ten years.
    const once = gcra(null, NOW, 1, tenYears);
    expect(once).toMatchObject({ allowed: true, remaining: 0, resetTimeMs: NOW + tenYears });
    expect(gcra(once.newTat, NOW + 1000, 1, tenYears)).toMatchObject({ allowed: false, retryAfterS: tenYears / 1000 - 1 });

    // Large quota over a long window: remaining counts down exactly.
    const { results } = run([NOW, NOW, NOW], 1_000_000_007, tenYears);
    expect(results.map((r) => r.remaining)).toEqual([1_000_000_006, 1_000_000_005, 1_000_000_004]);
  });

  it("matches an exact BigInt reference and keeps remaining within [0, quota-1]", () => {
    let seed = 42n;
    const rnd = (n: number): number => {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
      return Number((seed >> 11n) % BigInt(n));
    };
    const problems: string[] = [];
    for (let c = 0; c < 300; c++) {
      const quota = [1 + rnd(50), 1 + rnd(1e6), Number.MAX_SAFE_INTEGER - rnd(1e6)][c % 3]!;
      const windowMs = [1 + rnd(5000), 1000 * (1 + rnd(3600)), 315_360_000_000 - rnd(1e9)][rnd(3)]!;
      const Q = BigInt(quota);
      const W = BigInt(windowMs);
      let refTat: bigint | null = null; // in 1/quota ms
      let tat: Tat | null = null;
      let now = NOW + rnd(1e6);
      for (let i = 0; i < 60; i++) {
        now += rnd(3) === 0 ? rnd(Math.min(windowMs, 1e7)) : 0;
        const r = gcra(tat, now, quota, windowMs);
        const n = BigInt(now) * Q;
        const t: bigint = refTat !== null && refTat > n ? refTat : n;
        const allowAt = t + W - W * Q;
        const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;
        const want = n < allowAt
          ? { allowed: false, remaining: 0, retryAfterS: Number(ceilDiv(allowAt - n, 1000n * Q)), resetTimeMs: Number(ceilDiv(t, Q)) }
          : { allowed: true, remaining: Number((W * Q - (t + W - n)) / W), retryAfterS: 0, resetTimeMs: Number(ceilDiv(t + W, Q)) };
        if (want.allowed) refTat = t + W;
        // Beyond 2^53 / window the float path may be off by one; exact elsewhere.
        const exact = BigInt(windowMs) * Q <= BigInt(Number.MAX_SAFE_INTEGER);
        const got = { allowed: r.allowed, remaining: r.remaining, retryAfterS: r.retryAfterS, resetTimeMs: r.resetTimeMs };
        const ok = got.allowed === want.allowed && got.retryAfterS === want.retryAfterS && got.resetTimeMs === want.resetTimeMs &&
          (exact ? got.remaining === want.remaining : Math.abs(got.remaining - want.remaining) <= 1);
        if (!ok || r.remaining < 0 || r.remaining > quota - 1) {
          problems.push(`q=${quota} w=${windowMs} i=${i}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
        }
        if (r.newTat !== null) tat = r.newTat;
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it("keeps the stored TAT when the policy changes (PATCH)", () => {
    const { tat } = run(Array<number>(10).fill(NOW), 10, 60_000); // TAT = NOW + 60 s
    // Quota 20 per 60 s: T = 3 s, so the next request is allowed once NOW + 63 s - 60 s is reached.
    expect(gcra(tat, NOW + 2999, 20, 60_000).allowed).toBe(false);
    expect(gcra(tat, NOW + 3000, 20, 60_000).allowed).toBe(true);
    // A fractional TAT re-expressed in another quota rounds up, never granting extra capacity.
    const { tat: t3 } = run([NOW], 3, 1000); // TAT = NOW + 333 + 1/3
    const r = gcra(t3, NOW, 2, 1000); // T = 500: new TAT = NOW + 833.5 (> 833.33)
    expect(r.newTat).toEqual({ ms: NOW + 833, frac: 1, quota: 2 });
  });

  it("rejects invalid quota and window", () => {
    expect(() => gcra(null, NOW, 0, 1000)).toThrow(RangeError);
    expect(() => gcra(null, NOW, 1.5, 1000)).toThrow(RangeError);
    expect(() => gcra(null, NOW, 1, 0)).toThrow(RangeError);
  });
});

describe("gcraPeek: the bucket read without taking", () => {
  it("shows the full quota on a fresh bucket, then quota - k after k same-instant takes", () => {
    expect(gcraPeek(null, NOW, 10, 60_000)).toEqual({ remaining: 10, resetTimeMs: NOW });
    for (let k = 1; k <= 11; k++) {
      const { tat } = run(Array<number>(k).fill(NOW), 10, 60_000);
      expect(gcraPeek(tat, NOW, 10, 60_000)).toEqual({ remaining: Math.max(10 - k, 0), resetTimeMs: NOW + Math.min(k, 10) * 6000 });
    }
  });

  it("equals the number of takes a same-instant burst would admit, for awkward pairs, replenishment and a quota change", () => {
    const pairs: [number, number][] = [[3, 1000], [7, 3_600_000], [13, 1000], [1, 1000], [1000, 999]];
    for (const [quota, windowMs] of pairs) {
      const { tat } = run([NOW, NOW, NOW + 1, NOW + 17, NOW + 400], quota, windowMs);
      for (const at of [NOW + 400, NOW + 401, NOW + 777, NOW + windowMs, NOW + 2 * windowMs]) {
        for (const q of [quota, quota + 2]) {
          const burst = run(Array<number>(q + 2).fill(at), q, windowMs, tat).results.filter((r) => r.allowed).length;
          expect(gcraPeek(tat, at, q, windowMs).remaining, `quota ${q} window ${windowMs} at +${at - NOW}`).toBe(burst);
        }
      }
    }
  });

  it("reports the current TAT as the reset, and never changes its input", () => {
    const { tat } = run([NOW, NOW, NOW], 3, 1000);
    const before = structuredClone(tat);
    expect(gcraPeek(tat, NOW, 3, 1000)).toEqual({ remaining: 0, resetTimeMs: NOW + 1000 });
    expect(gcraPeek(tat, NOW + 500, 3, 1000)).toEqual({ remaining: 1, resetTimeMs: NOW + 1000 });
    expect(gcraPeek(tat, NOW + 1000, 3, 1000)).toEqual({ remaining: 3, resetTimeMs: NOW + 1000 });
    expect(tat).toEqual(before);
    expect(() => gcraPeek(null, NOW, 0, 1000)).toThrow(RangeError);
  });
});
