import { describe, expect, it } from "vitest";
import { createMemoryRateLimiter } from "./memory.js";

const NOW = 1_732_000_000_000;

describe("memory rate limiter", () => {
  it("admits exactly quota out of a 3×quota burst, then refills after the window", async () => {
    const rl = createMemoryRateLimiter();
    expect(rl.backend).toBe("memory");
    for (const [quota, windowMs] of [[10, 60_000], [7, 1000], [1, 1000]] as const) {
      const key = `nid:issued:burst-${quota}`;
      const burst = await Promise.all(Array.from({ length: 3 * quota }, () => rl.take(key, quota, windowMs, NOW)));
      expect(burst.filter((d) => d.allowed)).toHaveLength(quota);
      expect(burst.slice(0, quota).every((d) => d.allowed)).toBe(true);
      expect(burst[quota]).toMatchObject({ allowed: false, remaining: 0, nowMs: NOW, resetTimeMs: NOW + windowMs });

      const after = await Promise.all(Array.from({ length: 2 * quota }, () => rl.take(key, quota, windowMs, NOW + windowMs)));
      expect(after.filter((d) => d.allowed)).toHaveLength(quota);
      expect(after[0]).toMatchObject({ allowed: true, remaining: quota - 1 });
    }
    await rl.close();
  });

  it("returns capacity one emission interval at a time", async () => {
    const rl = createMemoryRateLimiter();
    for (let i = 0; i < 10; i++) await rl.take("k", 10, 60_000, NOW);
    expect(await rl.take("k", 10, 60_000, NOW + 5999)).toMatchObject({ allowed: false, retryAfterS: 1 });
    expect(await rl.take("k", 10, 60_000, NOW + 6000)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await rl.take("k", 10, 60_000, NOW + 6000)).toMatchObject({ allowed: false, retryAfterS: 6 });
  });

  it("keeps keys independent", async () => {
    const rl = createMemoryRateLimiter();
    expect((await rl.take("n1:issued:a", 1, 60_000, NOW)).allowed).toBe(true);
    expect((await rl.take("n1:issued:a", 1, 60_000, NOW)).allowed).toBe(false);
    expect((await rl.take("n1:issued:b", 1, 60_000, NOW)).allowed).toBe(true);
    expect((await rl.take("n1:imported:a", 1, 60_000, NOW)).allowed).toBe(true);
    expect((await rl.take("n2:issued:a", 1, 60_000, NOW)).allowed).toBe(true);
  });

  it("stays within maxKeys", async () => {
    const rl = createMemoryRateLimiter({ maxKeys: 2 });
    await rl.take("a", 1, 60_000, NOW);
    await rl.take("b", 1, 60_000, NOW);
    await rl.take("c", 1, 60_000, NOW); // evicts "a", the least recently used
    expect((await rl.take("c", 1, 60_000, NOW)).allowed).toBe(false);
    expect((await rl.take("a", 1, 60_000, NOW)).allowed).toBe(true);
  });

  it("rejects the promise on invalid input instead of throwing synchronously", async () => {
    const rl = createMemoryRateLimiter();
    await expect(rl.take("k", 0, 1000, NOW)).rejects.toThrow(RangeError);
  });

  it("peek reads the bucket without spending from it or keeping it alive", async () => {
    const rl = createMemoryRateLimiter({ maxKeys: 2 });
    expect(await rl.peek("k", 5, 60_000, NOW)).toEqual({ remaining: 5, resetTimeMs: NOW, nowMs: NOW });
    for (let i = 0; i < 3; i++) await rl.take("k", 5, 60_000, NOW);
    for (let i = 0; i < 10; i++) expect(await rl.peek("k", 5, 60_000, NOW)).toEqual({ remaining: 2, resetTimeMs: NOW + 36_000, nowMs: NOW });
    // the next take sees exactly what it would have seen without the peeks
    expect(await rl.take("k", 5, 60_000, NOW)).toMatchObject({ allowed: true, remaining: 1 });
    expect((await rl.peek("k", 5, 60_000, NOW + 12_000)).remaining).toBe(2); // one interval T = 12 s later: one more, as take would see it
    // no recency bump: "k" stays the least recently used and is evicted first
    await rl.take("b", 1, 60_000, NOW);
    await rl.peek("k", 5, 60_000, NOW);
    await rl.take("c", 1, 60_000, NOW);
    expect(await rl.peek("k", 5, 60_000, NOW)).toEqual({ remaining: 5, resetTimeMs: NOW, nowMs: NOW });
    expect((await rl.peek("b", 1, 60_000, NOW)).remaining).toBe(0);
    await expect(rl.peek("k", 0, 1000, NOW)).rejects.toThrow(RangeError);
  });
});
