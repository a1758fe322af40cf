/**
 * Fault suite, Redis (issue 12): two real `talos serve` processes share a PRIVATE redis-server (rate
 * limiter and cache invalidation) that is stopped under load and started again. Asserted: both
 * processes live, every request gets an HTTP answer, verification keeps answering 200 (the limiter
 * fails open by default), every acknowledged write is in the database and nothing else is, and a
 * revocation made while Redis was down reaches the other process's cache once Redis is back.
 * Readiness stays 200: it reports the database, and a Redis outage degrades, it does not stop service.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { ISSUED_PATH, issueAt, pollUntil, sleep, verifyAt } from "../support/cluster.js";
import { privateRedis, redisServerBin, sampleReadiness, startLoad, statusCounts, unanswered } from "../support/faults.js";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { E2E_TIMEOUT_MS, fetchJson, startTalos, stopAllTalos } from "../support/process.js";

const REDIS_BIN = redisServerBin();
if (!TEST_DSN) warnSkip("test/e2e/faults-redis.test.ts (Redis unreachable under load and coming back)");
else if (!REDIS_BIN) console.warn("\n!!! SKIPPED: test/e2e/faults-redis.test.ts — redis-server not found (/usr/bin, /usr/local/bin).\n");

afterAll(stopAllTalos);

describe.skipIf(!TEST_DSN || !REDIS_BIN)("Redis unreachable under load, then back", { timeout: E2E_TIMEOUT_MS }, () => {
  it("both processes live, every request answered, no acknowledged write lost, invalidation resumes", async () => {
    const redis = await privateRedis(REDIS_BIN!);
    const db = await freshDatabase("talos_fault_redis");
    try {
      const env = {
        TALOS_DB_DSN: db.dsn,
        TALOS_SECRETS_HMAC_CURRENT: "e2e-faults-redis-hmac-secret-0123456789abcdef",
        TALOS_CREDENTIALS_ISSUER: "https://faults-redis.e2e.talos.test",
        TALOS_CACHE_TTL: "10m",
        TALOS_CACHE_REDIS_ADDRS: redis.addr,
        TALOS_RATE_LIMIT_BACKEND: "redis",
      };
      const a = await startTalos({ args: ["serve", "admin", "--migrate"], env, startTimeoutMs: 100_000 });
      const b = await startTalos({ args: ["serve", "admin"], env, startTimeoutMs: 100_000 });
      const actor = `redis-fault-${randomUUID()}`;
      // rate limited, so every verify goes through the Redis limiter
      const limited = await issueAt(a.apiUrl, { actor_id: `${actor}-verify`, rate_limit_policy: { quota: 1_000_000, window: "3600s" } });
      const cached = await issueAt(a.apiUrl, { actor_id: `${actor}-cached` });
      expect((await verifyAt(b.apiUrl, cached.secret)).body.is_valid).toBe(true);
      expect((await verifyAt(b.apiUrl, cached.secret)).headers.get("ory-talos-cache")).toBe("HIT");

      const ready = sampleReadiness(a.metricsUrl!);
      const load = startLoad(a.apiUrl, { secret: limited.secret, actor });
      await sleep(500);
      await redis.stop();
      await sleep(500);
      // revoked while the invalidation channel is down: acknowledged, and stored
      const revoke = await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${cached.keyId}:revoke`, { body: {} });
      expect(revoke.status, revoke.text).toBe(204);
      await sleep(2_000);
      await redis.start();
      // B missed the message; on resubscribing it drops its cache, so the revocation shows
      const seen = await pollUntil(async () => (await verifyAt(b.apiUrl, cached.secret)).body.is_valid === false, 10_000, 100);
      expect(seen, "the revocation reaches B's cache after Redis is back").not.toBeNull();
      await sleep(500);
      const report = await load.stop();
      const samples = await ready.stop();

      for (const t of [a, b]) expect(t.hasExited(), t.stderr.slice(-20).join("\n")).toBe(false);
      expect(unanswered(report), JSON.stringify(unanswered(report).slice(0, 5))).toEqual([]);
      const allowed: Record<string, number[]> = { verify: [200], issue: [201], revoke: [204] };
      expect(report.outcomes.filter((o) => !allowed[o.op]!.includes(o.answer as number)).slice(0, 5), JSON.stringify(statusCounts(report))).toEqual([]);
      expect(report.outcomes.filter((o) => o.op === "verify").length).toBeGreaterThan(20);
      // the limiter failed open: no verify was refused for want of Redis
      expect(samples.filter((s) => s.status !== 200)).toEqual([]);

      const sql = postgres(db.dsn, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql<{ key_id: string; request_id: string; revoked: boolean }[]>`
          select key_id, request_id, revoked from api_keys where actor_id = ${actor}`;
        expect(new Map(rows.map((r) => [r.request_id, r.key_id]))).toEqual(report.ackedKeys);
        const revoked = new Set(rows.filter((r) => r.revoked).map((r) => r.key_id));
        expect([...report.ackedRevokes].filter((id) => !revoked.has(id))).toEqual([]);
      } finally {
        await sql.end();
      }
      console.log(`redis stopped 2.5 s under load: ${JSON.stringify(statusCounts(report))}; revocation seen by B ${Math.round(seen!)} ms after Redis restarted`);
      expect(await a.stop()).toBe(0);
      expect(await b.stop()).toBe(0);
    } finally {
      await redis.cleanup();
      await stopAllTalos();
      await db.drop();
    }
  });
});
