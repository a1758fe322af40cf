import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { gcraPeek, type Tat } from "./gcra.js";
import type { RateDecision, RateLimiter, RatePeek } from "./types.js";

// gcra.ts line for line (Lua numbers are doubles, every value an integer < 2^53, so results match).
// The clock is the server's TIME: instances with skewed clocks share one TAT, and the expiry
// (PXAT) is judged by that same clock. Stored value: "<tat ms>:<frac>:<quota>".
const GCRA_LUA = `
local quota = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local ti = math.floor(window / quota)
local tr = window - ti * quota
if tr < 0 then ti = ti - 1; tr = tr + quota elseif tr >= quota then ti = ti + 1; tr = tr - quota end

local ta, tb = now, 0
local v = redis.call('GET', KEYS[1])
if v then
  local sa, sb, sq = string.match(v, '^(%d+):(%d+):(%d+)$')
  if sa then
    local a, b, q = tonumber(sa), tonumber(sb), tonumber(sq)
    if q ~= quota and b > 0 then
      b = math.ceil((b / q) * quota)
      if b >= quota then a = a + 1; b = 0 end
    end
    if a >= now then ta = a; tb = b end
  end
end

local na = ta + ti
local nb
if tb >= quota - tr then nb = tb - (quota - tr); na = na + 1 else nb = tb + tr end

local d = na - window - now
if d > 0 or (d == 0 and nb > 0) then
  local retry
  if nb > 0 then retry = math.floor(d / 1000) + 1 else retry = math.ceil(d / 1000) end
  local reset = ta
  if tb > 0 then reset = reset + 1 end
  return {0, 0, retry, reset, now}
end

local m = window - (na - now)
local remaining
if m * quota <= 9007199254740991 then
  local n = m * quota - nb
  remaining = math.floor(n / window)
  if remaining * window > n then remaining = remaining - 1
  elseif (remaining + 1) * window <= n then remaining = remaining + 1 end
else
  remaining = math.floor(m * (quota / window) - nb / window)
end
if remaining < 0 then remaining = 0 end
if remaining > quota - 1 then remaining = quota - 1 end

local reset = na
if nb > 0 then reset = reset + 1 end
redis.call('SET', KEYS[1], string.format('%d:%d:%d', na, nb, quota), 'PXAT', string.format('%d', reset))
return {1, remaining, 0, reset, now}
`;
const GCRA_SHA = createHash("sha1").update(GCRA_LUA).digest("hex");

export const REDIS_KEY_PREFIX = "talos:rl:";

/** The stored value as the script reads it (`^(%d+):(%d+):(%d+)$`); anything else counts as absent, as there. */
const STORED = /^(\d+):(\d+):(\d+)$/;
function parseTat(v: string | null): Tat | null {
  const m = v === null ? null : STORED.exec(v);
  if (!m) return null;
  const tat = { ms: Number(m[1]), frac: Number(m[2]), quota: Number(m[3]) };
  return tat.quota >= 1 ? tat : null;
}

/**
 * Shared limiter (docs/verification.md#rate-limit-backends `redis`): one atomic script per request on `talos:rl:<key>`.
 * `redis` is owned by the caller (close() leaves it open); `nowMs` is ignored, see the script.
 */
export function createRedisRateLimiter(redis: Redis): RateLimiter {
  async function run(key: string, quota: number, windowMs: number): Promise<unknown> {
    try {
      return await redis.evalsha(GCRA_SHA, 1, key, quota, windowMs);
    } catch (e) {
      // First use on this server, or after SCRIPT FLUSH / failover: EVAL loads it again.
      if (e instanceof Error && e.message.startsWith("NOSCRIPT")) return redis.eval(GCRA_LUA, 1, key, quota, windowMs);
      throw e;
    }
  }

  return {
    backend: "redis",
    async take(key: string, quota: number, windowMs: number): Promise<RateDecision> {
      if (!Number.isSafeInteger(quota) || quota < 1) throw new RangeError("rate limit: quota must be a positive safe integer");
      if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError("rate limit: window must be a positive safe integer");
      const reply = await run(REDIS_KEY_PREFIX + key, quota, windowMs);
      if (!Array.isArray(reply) || reply.length !== 5 || !reply.every((x) => typeof x === "number")) {
        throw new Error("rate limit: unexpected reply from the Redis script");
      }
      const [allowed, remaining, retryAfterS, resetTimeMs, nowMs] = reply as [number, number, number, number, number];
      return { allowed: allowed === 1, remaining, retryAfterS, resetTimeMs, nowMs };
    },
    async peek(key: string, quota: number, windowMs: number): Promise<RatePeek> {
      if (!Number.isSafeInteger(quota) || quota < 1) throw new RangeError("rate limit: quota must be a positive safe integer");
      if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError("rate limit: window must be a positive safe integer");
      // TIME and GET in one MULTI (read only: no script, no SET, the PXAT expiry untouched); the
      // arithmetic is gcra.ts, which the script mirrors, on the server's clock like the script's.
      const replies = await redis.multi().time().get(REDIS_KEY_PREFIX + key).exec();
      if (replies?.length !== 2) throw new Error("rate limit: the Redis peek was aborted");
      const [[timeErr, time], [getErr, value]] = replies! as [[Error | null, unknown], [Error | null, unknown]];
      if (timeErr) throw timeErr;
      if (getErr) throw getErr;
      if (!Array.isArray(time) || time.length !== 2) throw new Error("rate limit: unexpected TIME reply from Redis");
      const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
      return { ...gcraPeek(parseTat(typeof value === "string" ? value : null), now, quota, windowMs), nowMs: now };
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}
