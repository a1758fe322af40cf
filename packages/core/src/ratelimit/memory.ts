import { LRUCache } from "lru-cache";
import { gcra, gcraPeek, tatExpiryMs } from "./gcra.js";
import type { Tat } from "./gcra.js";
import type { RateDecision, RateLimiter, RatePeek } from "./types.js";

/**
 * Per-process limiter (docs/verification.md#rate-limit-backends `memory`): exact within the process, since `take` runs
 * synchronously. The LRU bounds memory; entries past their TAT are dropped when next read, and
 * the idle ones are the least recently used, so they are the first evicted.
 */
export function createMemoryRateLimiter(opts: { maxKeys?: number } = {}): RateLimiter {
  const tats = new LRUCache<string, Tat>({ max: opts.maxKeys ?? 1_000_000 });

  return {
    backend: "memory",
    take(key: string, quota: number, windowMs: number, nowMs: number): Promise<RateDecision> {
      try {
        const now = Math.floor(nowMs);
        let tat = tats.get(key) ?? null;
        if (tat !== null && now >= tatExpiryMs(tat)) {
          tats.delete(key);
          tat = null;
        }
        const r = gcra(tat, now, quota, windowMs);
        if (r.newTat !== null) tats.set(key, r.newTat);
        return Promise.resolve({
          allowed: r.allowed,
          remaining: r.remaining,
          retryAfterS: r.retryAfterS,
          resetTimeMs: r.resetTimeMs,
          nowMs: now,
        });
      } catch (e) {
        return Promise.reject(e);
      }
    },
    peek(key: string, quota: number, windowMs: number, nowMs: number): Promise<RatePeek> {
      try {
        const now = Math.floor(nowMs);
        // LRUCache.peek: no recency bump, so looking never keeps an idle bucket alive
        let tat = tats.peek(key) ?? null;
        if (tat !== null && now >= tatExpiryMs(tat)) tat = null;
        return Promise.resolve({ ...gcraPeek(tat, now, quota, windowMs), nowMs: now });
      } catch (e) {
        return Promise.reject(e);
      }
    },
    close(): Promise<void> {
      tats.clear();
      return Promise.resolve();
    },
  };
}
