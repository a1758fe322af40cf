/**
 * Two real `talos` processes with multitenancy, sharing PostgreSQL and Redis
 * (docs/multitenancy.md#isolation): rate-limit buckets are shared across the processes but
 * separate per network, and a revocation in one network reaches the other process's cache of that
 * network without touching the other network's copy of the same raw key.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../support/cluster.js";
import { hostClient, writeIn } from "../support/hosts.js";
import { freshDatabase } from "../support/postgres.js";
import { REDIS_URL, pgAndRedisOrWarn, redisAddr } from "../support/redis.js";
import { E2E_TIMEOUT_MS, startTalos, stopAllTalos, tempDir, type TalosProcess } from "../support/process.js";

const A = "0b9e7c1e-5a43-4f11-9a0e-3f3f0f6f4a01";
const B = "6c1a5b0e-1d2e-4c3f-8a4b-5c6d7e8f9a02";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const RUN = pgAndRedisOrWarn("test/e2e/multitenancy-redis.test.ts (per-network rate limits and invalidation across two processes)");

describe.skipIf(!RUN)("multitenancy across two processes sharing PostgreSQL and Redis", { timeout: E2E_TIMEOUT_MS }, () => {
  let db: { dsn: string; drop: () => Promise<void> };
  let p1: TalosProcess;
  let p2: TalosProcess;

  beforeAll(async () => {
    db = await freshDatabase("talos_tenants_redis");
    const dir = tempDir("talos-mt-redis-");
    writeIn(dir, "a.yaml", "credentials:\n  issuer: https://a.test\n");
    writeIn(dir, "b.yaml", "credentials:\n  issuer: https://b.test\n");
    const file = writeIn(
      dir,
      "talos.yaml",
      `multitenancy:\n  enabled: true\n  networks:\n    - { hostname: a.test, id: ${A}, config_path: a.yaml }\n    - { hostname: b.test, id: ${B}, config_path: b.yaml }\n`,
    );
    const env = {
      TALOS_DB_DSN: db.dsn,
      TALOS_SECRETS_HMAC_CURRENT: "mt-redis-hmac-secret-0123456789abcdef-0123",
      TALOS_CREDENTIALS_ISSUER: "https://main.test",
      TALOS_CACHE_TTL: "10m",
      TALOS_CACHE_REDIS_ADDRS: redisAddr(REDIS_URL!),
      TALOS_CACHE_REDIS_DB: "11",
      TALOS_RATE_LIMIT_BACKEND: "redis",
    };
    p1 = await startTalos({ args: ["serve", "admin", "--migrate", "--config", file], env, startTimeoutMs: 170_000 });
    p2 = await startTalos({ args: ["serve", "admin", "--config", file], env, startTimeoutMs: 170_000 });
  }, 180_000);
  afterAll(async () => {
    await stopAllTalos();
    await db?.drop();
  });

  it("rate limits: one bucket per key across both processes, separate per network", async () => {
    const raw = `mt-rl-${randomUUID()}`;
    const policy = { rate_limit_policy: { quota: 2, window: "3600s" } };
    for (const host of ["a.test", "b.test"]) {
      const r = await hostClient(p1.apiPort, host).post(IMPORTED, { name: "rl", actor_id: "rl", raw_key: raw, ...policy });
      expect(r.status, r.text).toBe(201);
    }
    const a1 = hostClient(p1.apiPort, "a.test");
    const a2 = hostClient(p2.apiPort, "a.test");
    const b2 = hostClient(p2.apiPort, "b.test");
    expect((await a1.verify(raw)).body.is_valid).toBe(true);
    expect((await a2.verify(raw)).body.is_valid).toBe(true);
    const third = await a1.verify(raw);
    expect(third.body).toMatchObject({ is_valid: false, error_code: "VERIFICATION_ERROR_RATE_LIMITED" });
    // network b's copy of the same raw key has its own bucket
    expect((await b2.verify(raw)).body).toMatchObject({ is_valid: true, issuer: "https://b.test" });
    expect((await b2.verify(raw)).body.is_valid).toBe(true);
    expect((await b2.verify(raw)).body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
  });

  it("a revocation in network a reaches the other process's cache of a; b's copy stays valid", async () => {
    const raw = `mt-inv-${randomUUID()}`;
    const ids: Record<string, string> = {};
    for (const host of ["a.test", "b.test"]) ids[host] = (await hostClient(p1.apiPort, host).post(IMPORTED, { name: "inv", actor_id: "inv", raw_key: raw })).body.key_id;
    const a2 = hostClient(p2.apiPort, "a.test");
    const b2 = hostClient(p2.apiPort, "b.test");
    // warm both networks' caches on p2
    for (let i = 0; i < 3; i++) {
      await a2.verify(raw);
      await b2.verify(raw);
    }
    expect((await a2.verify(raw)).headers["ory-talos-cache"]).toBe("HIT");
    const revoked = await hostClient(p1.apiPort, "a.test").post(`${IMPORTED}/${ids["a.test"]}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE" });
    expect(revoked.status, revoked.text).toBe(204);
    const seen = await pollUntil(async () => (await a2.verify(raw)).body.is_valid === false, 5_000, 20);
    expect(seen, "p2 never saw the revocation in network a").not.toBeNull();
    expect((await a2.verify(raw)).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    const b = await b2.verify(raw);
    expect(b.body).toMatchObject({ is_valid: true, key_id: ids["b.test"] });
    expect(b.headers["ory-talos-cache"]).toBe("HIT");
  });
});
