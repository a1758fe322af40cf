/**
 * Redis with real `talos` processes (docs/verification.md#cache, docs/verification.md#rate-limits): cache invalidation over Redis pub/sub (the
 * subscriber alone, end to end, and after its connection is killed), the shared `redis` rate-limit
 * backend across two processes, and a Redis that is down (fail-open and fail-closed).
 *
 * Needs PostgreSQL (TALOS_TEST_DSN) and Redis (TALOS_TEST_REDIS_URL). Keys are fresh random UUIDs,
 * so the shared Redis holds no state another run could see; invalidation messages carry an origin
 * and this suite's servers only act on key ids they own.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ISSUED_PATH, NIL_NID, REDIS_CHANNEL, issueAt, localPortsTo, metricValue, pollUntil, sleep, summarize, verifyAt, warm } from "../support/cluster.js";
import { freshDatabase } from "../support/postgres.js";
import { REDIS_URL, pgAndRedisOrWarn, redisAddr } from "../support/redis.js";
import { E2E_TIMEOUT_MS, fetchJson, startTalos, stopAllTalos, type JsonResponse, type TalosProcess } from "../support/process.js";
import { NOT_FOUND_VERIFICATION } from "../support/http-expect.js";

const SECRET = "e2e-redis-hmac-secret-0123456789abcdef-xyz";
const ISSUER = "https://redis.e2e.talos.test";
const PROPAGATION_LIMIT_MS = 5_000;

const RUN = pgAndRedisOrWarn("test/e2e/redis.test.ts (Redis pub/sub invalidation, shared rate limits, Redis outage)");

describe.skipIf(!RUN)("Redis: pub/sub invalidation, shared rate limits, outage", { timeout: E2E_TIMEOUT_MS }, () => {
  let db: { dsn: string; drop: () => Promise<void> };
  let sql: postgres.Sql;
  /** test-side Redis connections: commands, and a subscriber */
  let redis: Redis;
  let listener: Redis;
  /** two admin instances sharing Redis (invalidation + `redis` rate-limit backend) */
  let r1: TalosProcess;
  let r2: TalosProcess;
  /** Redis configured but unreachable: fail-open (default) and fail-closed */
  let downOpen: TalosProcess;
  let downClosed: TalosProcess;
  const delays: Record<string, number> = {};
  const redisPort = () => Number(new URL(REDIS_URL!).port || "6379");

  const env = (extra: Record<string, string> = {}) => ({
    TALOS_DB_DSN: db.dsn,
    TALOS_SECRETS_HMAC_CURRENT: SECRET,
    TALOS_CREDENTIALS_ISSUER: ISSUER,
    TALOS_CACHE_TTL: "10m",
    TALOS_CACHE_REDIS_ADDRS: redisAddr(REDIS_URL!),
    TALOS_RATE_LIMIT_BACKEND: "redis",
    ...extra,
  });

  beforeAll(async () => {
    db = await freshDatabase("talos_e2e_redis");
    sql = postgres(db.dsn, { max: 2, onnotice: () => {} });
    redis = new Redis(REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 2 });
    listener = new Redis(REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await Promise.all([redis.connect(), listener.connect()]);
    r1 = await startTalos({ args: ["serve", "admin", "--migrate"], env: env() });
    const down = { TALOS_CACHE_REDIS_ADDRS: "127.0.0.1:1", TALOS_CACHE_REDIS_TIMEOUT: "1s" };
    [r2, downOpen, downClosed] = await Promise.all([
      startTalos({ args: ["serve", "admin"], env: env() }),
      startTalos({ args: ["serve", "admin"], env: env(down) }),
      startTalos({ args: ["serve", "admin"], env: env({ ...down, TALOS_RATE_LIMIT_FAIL_OPEN: "false" }) }),
    ]);
  });
  afterAll(async () => {
    if (Object.keys(delays).length > 0) {
      const s = summarize(Object.values(delays));
      console.log(`[redis] invalidation delays over ${s.n} cases: median ${s.median} ms, max ${s.max} ms; ${JSON.stringify(delays)}`);
    }
    await stopAllTalos();
    redis?.disconnect();
    listener?.disconnect();
    await sql?.end();
    await db?.drop();
  });

  /** Polls `s` (cache not bypassed) until `done(response)`; records the delay since `since`. */
  async function until(label: string, s: TalosProcess, credential: string, done: (r: JsonResponse) => boolean, since: number): Promise<JsonResponse> {
    let last!: JsonResponse;
    const ms = await pollUntil(
      async () => {
        last = await verifyAt(s.apiUrl, credential);
        return done(last);
      },
      PROPAGATION_LIMIT_MS,
      3,
      since,
    );
    expect(ms, `${label}: still ${last.headers.get("ory-talos-cache")} ${last.text} after ${PROPAGATION_LIMIT_MS} ms`).not.toBeNull();
    delays[label] = Math.round(ms! * 10) / 10;
    console.log(`[redis] ${label}: ${delays[label]} ms`);
    return last;
  }

  async function warmOn(s: TalosProcess, credential: string) {
    const r = await warm(s.apiUrl, credential);
    expect(r.headers.get("ory-talos-cache")).toBe("HIT");
    expect(r.body.is_valid).toBe(true);
  }

  const revokedInDbOnly = (keyId: string) => sql`update api_keys set revoked = true where key_id = ${keyId}`; // no NOTIFY
  const message = (keyId: string, over: Record<string, string> = {}) => JSON.stringify({ nid: NIL_NID, kind: "issued", key_id: keyId, origin: "test", ...over });
  const isRevoked = (r: JsonResponse) => r.body.error_code === "VERIFICATION_ERROR_REVOKED";
  /** `ip:port` of r2's subscribed connection(s): r2's connections to Redis among the pub/sub clients Redis lists */
  async function r2PubSub(): Promise<string[]> {
    const mine = new Set(localPortsTo(r2.pid, redisPort()));
    return ((await redis.call("CLIENT", "LIST", "TYPE", "pubsub")) as string)
      .split("\n")
      .map((l) => /\baddr=(\S+):(\d+)\b/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && mine.has(Number(m[2])))
      .map((m) => `${m[1]}:${m[2]}`);
  }

  /** Strict "nothing arrived": a marker key's message, published after the ones under test, evicts on r2 (one channel, in order) */
  async function markerEvictedOnR2(): Promise<void> {
    const m = await issueAt(r1.apiUrl);
    await warmOn(r2, m.secret);
    await revokedInDbOnly(m.keyId);
    await redis.publish(REDIS_CHANNEL, message(m.keyId));
    const ms = await pollUntil(async () => isRevoked(await verifyAt(r2.apiUrl, m.secret)), PROPAGATION_LIMIT_MS, 3);
    expect(ms, "the marker message reached r2").not.toBeNull();
  }

  describe("cache invalidation over Redis pub/sub", () => {
    it("the subscriber alone evicts: a message on talos:cache:invalidate (no NOTIFY) makes the next verify fresh", async () => {
      const k = await issueAt(r1.apiUrl);
      await warmOn(r2, k.secret);
      await revokedInDbOnly(k.keyId);
      await markerEvictedOnR2();
      const stale = await verifyAt(r2.apiUrl, k.secret);
      expect([stale.headers.get("ory-talos-cache"), stale.body.is_valid], "stale without a message").toEqual(["HIT", true]);

      // messages for another network, or of an unknown kind, or malformed, evict nothing
      await redis.publish(REDIS_CHANNEL, message(k.keyId, { nid: randomUUID() }));
      await redis.publish(REDIS_CHANNEL, message(k.keyId, { kind: "derived" }));
      await redis.publish(REDIS_CHANNEL, "not json");
      await markerEvictedOnR2();
      expect((await verifyAt(r2.apiUrl, k.secret)).body.is_valid, "foreign and malformed messages are ignored").toBe(true);

      const remoteBefore = metricValue((await fetchJson(`${r2.metricsUrl}/metrics`)).text, "talos_cache_invalidations_total", { source: "remote", outcome: "ok" });
      const receivers = await redis.publish(REDIS_CHANNEL, message(k.keyId));
      const t0 = performance.now();
      expect(receivers, "at least r1, r2 and this suite's listener are subscribed").toBeGreaterThanOrEqual(2);
      const r = await until("redis subscriber only (manual publish)", r2, k.secret, isRevoked, t0);
      expect(r.headers.get("ory-talos-cache")).toBe("MISS");
      const remoteAfter = metricValue((await fetchJson(`${r2.metricsUrl}/metrics`)).text, "talos_cache_invalidations_total", { source: "remote", outcome: "ok" });
      expect(remoteAfter).toBeGreaterThan(remoteBefore);
    });

    it("end to end with Redis configured: revoke on r1 is published after commit and r2 reports REVOKED", async () => {
      const k = await issueAt(r1.apiUrl);
      await warmOn(r1, k.secret);
      await warmOn(r2, k.secret);
      const got: string[] = [];
      const onMessage = (channel: string, payload: string) => channel === REDIS_CHANNEL && payload.includes(k.keyId) && got.push(payload);
      listener.on("message", onMessage);
      await listener.subscribe(REDIS_CHANNEL);
      try {
        expect((await fetchJson(`${r1.apiUrl}${ISSUED_PATH}/${k.keyId}:revoke`, { body: {} })).status).toBe(204);
        const t0 = performance.now();
        await until("revoke, NOTIFY + Redis (either path)", r2, k.secret, isRevoked, t0);
        expect(isRevoked(await verifyAt(r1.apiUrl, k.secret)), "the mutating instance at once").toBe(true);
        expect(await pollUntil(async () => got.length > 0, 2_000, 10), "r1 published on Redis").not.toBeNull();
        const m = JSON.parse(got[0]!);
        expect(m).toMatchObject({ nid: NIL_NID, kind: "issued", key_id: k.keyId });
        expect(m.origin).toMatch(/^[0-9a-f-]{36}$/);
      } finally {
        listener.off("message", onMessage);
        await listener.unsubscribe(REDIS_CHANNEL);
      }
    });

    it("a killed pub/sub connection: on resubscription the cache is cleared, then messages flow again", async () => {
      const k = await issueAt(r1.apiUrl);
      await warmOn(r2, k.secret);
      await revokedInDbOnly(k.keyId); // as if the message was published while r2 was disconnected
      expect((await verifyAt(r2.apiUrl, k.secret)).body.is_valid, "stale before the reconnect").toBe(true);

      expect(localPortsTo(r2.pid, redisPort()).length, "r2 holds two Redis connections (commands, subscriber)").toBeGreaterThanOrEqual(2);
      const subscribed = await r2PubSub();
      expect(subscribed.length, "exactly one of r2's connections is subscribed").toBe(1);
      const addr = subscribed[0]!;
      expect(await redis.call("CLIENT", "KILL", "ADDR", addr, "SKIPME", "yes"), "one connection killed").toBe(1);
      const t0 = performance.now();

      let last!: JsonResponse;
      const ms = await pollUntil(
        async () => {
          last = await verifyAt(r2.apiUrl, k.secret);
          return isRevoked(last);
        },
        PROPAGATION_LIMIT_MS,
        20,
        t0,
      );
      expect(ms, `still ${last.headers.get("ory-talos-cache")} ${last.text}`).not.toBeNull();
      expect(last.headers.get("ory-talos-cache"), "cleared cache: the state came from the database").toBe("MISS");
      console.log(`[redis] pub/sub reconnect: cache cleared after ${Math.round(ms!)} ms`);

      // resubscribed: a message evicts again
      let again: string[] = [];
      expect(await pollUntil(async () => (again = await r2PubSub()).length === 1, 5_000, 50), "r2 subscribed again").not.toBeNull();
      expect(again[0]).not.toBe(addr);
      const k2 = await issueAt(r1.apiUrl);
      await warmOn(r2, k2.secret);
      await revokedInDbOnly(k2.keyId);
      expect((await verifyAt(r2.apiUrl, k2.secret)).body.is_valid, "stale before the message").toBe(true);
      await redis.publish(REDIS_CHANNEL, message(k2.keyId));
      await until("redis subscriber after reconnect", r2, k2.secret, isRevoked, performance.now());
    });
  });

  describe("rate limiting with the shared redis backend", () => {
    const rateLimited = (r: JsonResponse) => r.body.error_code === "VERIFICATION_ERROR_RATE_LIMITED";

    it("3Q concurrent verifies split over two processes: exactly Q allowed in total, each remaining value once", async () => {
      const Q = 20;
      // 1 h window: no quota refills while the requests run, so the count is exact
      const k = await issueAt(r1.apiUrl, { rate_limit_policy: { quota: Q, window: "3600s" } });
      const results = await Promise.all(Array.from({ length: 3 * Q }, (_, i) => verifyAt((i % 2 ? r1 : r2).apiUrl, k.secret)));
      const allowed = results.filter((r) => r.body.is_valid);
      const limited = results.filter(rateLimited);
      expect(allowed.length).toBe(Q);
      expect(limited.length).toBe(2 * Q);
      // one atomic script per request: the remaining counts are Q-1 … 0, each exactly once
      expect(allowed.map((r) => Number(r.body.rate_limit_remaining)).sort((x, y) => x - y)).toEqual(Array.from({ length: Q }, (_, i) => i));
      for (const r of allowed) {
        expect(r.headers.get("ratelimit")).toMatch(new RegExp(`^"default";r=${r.body.rate_limit_remaining};t=\\d+$`));
        expect(r.headers.get("ratelimit-policy")).toBe(`"default";q=${Q};w=3600`);
        expect(r.headers.get("retry-after")).toBeNull();
      }
      for (const r of limited) {
        expect(r.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
        expect(Number(r.headers.get("retry-after"))).toBeLessThanOrEqual(180);
        expect(r.headers.get("ratelimit")).toMatch(/^"default";r=0;t=\d+$/);
        expect(r.body).toMatchObject({ is_valid: false, rate_limit_remaining: "0", rate_limit_policy: { quota: String(Q), window: "3600s" } });
      }
      const decisions = async (s: TalosProcess, decision: string) =>
        metricValue((await fetchJson(`${s.metricsUrl}/metrics`)).text, "talos_rate_limit_decisions_total", { decision, backend: "redis" });
      expect((await decisions(r1, "allowed")) + (await decisions(r2, "allowed"))).toBeGreaterThanOrEqual(Q);
      expect((await decisions(r1, "limited")) + (await decisions(r2, "limited"))).toBeGreaterThanOrEqual(2 * Q);
    });

    it("the allowance returns after the window (quota 5 per 2 s), whichever process asks", async () => {
      const Q = 5;
      const k = await issueAt(r1.apiUrl, { rate_limit_policy: { quota: Q, window: "2s" } });
      const burst = await Promise.all(Array.from({ length: 2 * Q }, (_, i) => verifyAt((i % 2 ? r1 : r2).apiUrl, k.secret)));
      // one more per emission interval (400 ms) can slip in if the burst is slow: only a lower bound
      expect(burst.filter((r) => r.body.is_valid).length).toBeGreaterThanOrEqual(Q);
      const limited = burst.find(rateLimited);
      expect(limited, "the burst was limited").toBeDefined();
      expect(limited!.headers.get("retry-after")).toMatch(/^[12]$/);
      const resetAt = Math.max(...burst.filter((r) => r.body.is_valid).map((r) => Date.parse(r.body.rate_limit_reset_time)));
      expect(resetAt - Date.now()).toBeLessThanOrEqual(2_100);
      await sleep(Math.max(0, resetAt - Date.now()) + 150);
      const again = await verifyAt(r2.apiUrl, k.secret);
      expect(again.body.is_valid).toBe(true);
      expect(again.body.rate_limit_remaining, "the full quota is back").toBe(String(Q - 1));
      expect(again.headers.get("ratelimit")).toMatch(new RegExp(`^"default";r=${Q - 1};t=[12]$`));
    });
  });

  describe("Redis configured but down (127.0.0.1:1)", () => {
    const errorsOf = async (s: TalosProcess) =>
      metricValue((await fetchJson(`${s.metricsUrl}/metrics`)).text, "talos_rate_limit_decisions_total", { decision: "error", backend: "redis" });

    it("the server starts and serves (start-up waits at most cache.redis.timeout for Redis)", async () => {
      expect(downOpen.hasExited()).toBe(false);
      expect((await fetchJson(`${downOpen.apiUrl}/health/ready`)).status).toBe(200);
      expect(downOpen.logs().some((l) => l.msg === "redis error"), "the connection failure is logged").toBe(true);
    });

    it("fail-open (default): valid, no RateLimit header, remaining 0, reset null, counted as an error", async () => {
      const k = await issueAt(downOpen.apiUrl, { rate_limit_policy: { quota: 1, window: "60s" } });
      const before = await errorsOf(downOpen);
      for (let i = 0; i < 3; i++) {
        const r = await verifyAt(downOpen.apiUrl, k.secret); // quota 1: only an unenforced limit lets 3 through
        expect(r.body).toMatchObject({ is_valid: true, error_code: "VERIFICATION_ERROR_UNSPECIFIED", rate_limit_remaining: "0", rate_limit_reset_time: null });
        expect(r.headers.get("ratelimit")).toBeNull();
        expect(r.headers.get("retry-after")).toBeNull();
        expect(r.headers.get("ratelimit-policy")).toBe('"default";q=1;w=60');
      }
      expect((await errorsOf(downOpen)) - before).toBe(3);
    });

    it("fail-closed (rate_limit.fail_open false): VERIFICATION_ERROR_INTERNAL, counted as an error", async () => {
      const k = await issueAt(downClosed.apiUrl, { rate_limit_policy: { quota: 100, window: "60s" } });
      const before = await errorsOf(downClosed);
      const r = await verifyAt(downClosed.apiUrl, k.secret);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        ...NOT_FOUND_VERIFICATION,
        error_code: "VERIFICATION_ERROR_INTERNAL",
        error_message: "An internal server error occurred.",
      });
      expect(r.headers.get("ratelimit")).toBeNull();
      expect((await errorsOf(downClosed)) - before).toBe(1);
      // a key without a policy never touches the limiter
      const free = await issueAt(downClosed.apiUrl);
      expect((await verifyAt(downClosed.apiUrl, free.secret)).body.is_valid).toBe(true);
    });

    it("a mutation still succeeds and evicts locally; the failed publish is counted", async () => {
      const k = await issueAt(downOpen.apiUrl);
      await warmOn(downOpen, k.secret);
      const metric = async () =>
        metricValue((await fetchJson(`${downOpen.metricsUrl}/metrics`)).text, "talos_cache_invalidations_total", { source: "local", outcome: "error" });
      const before = await metric();
      expect((await fetchJson(`${downOpen.apiUrl}${ISSUED_PATH}/${k.keyId}:revoke`, { body: {} })).status).toBe(204);
      expect(isRevoked(await verifyAt(downOpen.apiUrl, k.secret))).toBe(true);
      expect(await pollUntil(async () => (await metric()) > before, 5_000, 50), "publish failure counted").not.toBeNull();
    });
  });
});
