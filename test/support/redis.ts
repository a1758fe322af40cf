import { TEST_DSN } from "./postgres.js";

/** The Redis server tests use, or null (then Redis tests say loudly that they skip). */
export const REDIS_URL = process.env.TALOS_TEST_REDIS_URL || null;

/** `host:port` of a redis:// URL, as `cache.redis.addrs` takes it. */
export function redisAddr(url: string): string {
  const p = new URL(url);
  return `${p.hostname}:${p.port || "6379"}`;
}

/** For suites needing PostgreSQL and Redis: true when both are set, else a loud warning naming what to set. */
export function pgAndRedisOrWarn(what: string): boolean {
  if (TEST_DSN && REDIS_URL) return true;
  const missing = [!TEST_DSN && "TALOS_TEST_DSN=postgres://...", !REDIS_URL && "TALOS_TEST_REDIS_URL=redis://127.0.0.1:6379"].filter(Boolean);
  console.warn(`\n!!! SKIPPED: ${what} — set ${missing.join(" and ")} to run it (CI does).\n`);
  return false;
}
