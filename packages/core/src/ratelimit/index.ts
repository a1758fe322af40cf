export { gcra, gcraPeek, tatExpiryMs } from "./gcra.js";
export type { GcraPeek, GcraResult, Tat } from "./gcra.js";
export type { RateDecision, RateLimiter, RatePeek } from "./types.js";
export { createMemoryRateLimiter } from "./memory.js";
export * from "./policy.js";
export { createRedisRateLimiter, REDIS_KEY_PREFIX } from "./redis.js";
export { createRedisClient, parseRedisAddr } from "./redis-client.js";
export type { RedisClientConfig } from "./redis-client.js";

import type { RateDecision, RateLimiter } from "./types.js";

/** A limiter failure; `allowed` carries `rate_limit.fail_open` (docs/verification.md#rate-limit-backends). */
export interface RateLimitFailure {
  error: true;
  allowed: boolean;
}

/**
 * Turns backend failures into a value so the caller maps them per docs/verification.md#rate-limit-backends: `allowed` → let the
 * request through without `RateLimit` headers; not allowed → VERIFICATION_ERROR_INTERNAL.
 */
export function withFailMode(
  limiter: RateLimiter,
  opts: { failOpen: boolean; onError: (e: unknown) => void },
): (key: string, quota: number, windowMs: number, nowMs: number) => Promise<RateDecision | RateLimitFailure> {
  return async (key, quota, windowMs, nowMs) => {
    try {
      return await limiter.take(key, quota, windowMs, nowMs);
    } catch (e) {
      opts.onError(e);
      return { error: true, allowed: opts.failOpen };
    }
  };
}
