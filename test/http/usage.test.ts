import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NIL_NID, UsageCounter, mintIssuedKey } from "@talos/core";
import { TEST_SECRET, startOn, startTestServer, testDatabases, type TestServer } from "../support/harness.js";
import { ISSUED, actor, expectBadRequest, expectKeyNotFound, issue, manualClock, rfc3339, verify } from "../support/http-expect.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 10:15 UTC: every verify of a test lands in the 10:00 bucket */
const T0 = Date.UTC(2026, 5, 1, 10, 15);
const usagePath = (keyId: string, query = "") => `/v2alpha1/admin/apiKeys/${keyId}/usage${query}`;

/** Instrumentation, not a mock: counts every call that reaches the real repository, by method. */
function countRepoCalls(srv: TestServer) {
  const repo = srv.built.store.repo as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const counts: Record<string, number> = {};
  const orig: Record<string, (...a: unknown[]) => Promise<unknown>> = {};
  for (const name of Object.keys(repo)) {
    if (typeof repo[name] !== "function") continue;
    orig[name] = repo[name]!;
    repo[name] = (...args) => {
      counts[name] = (counts[name] ?? 0) + 1;
      return orig[name]!.apply(repo, args);
    };
  }
  return {
    counts,
    restore: () => Object.assign(repo, orig),
  };
}

describe.each(testDatabases())("per-key usage history on $name (docs/observability.md#usage-history)", (db) => {
  const clock = manualClock(T0);
  let s: TestServer;

  beforeAll(async () => {
    // no timer flush during the test: flushes happen where the test says
    s = await startOn(db, { clock: clock.read, overrides: { "last_used.flush_interval": "1h" } });
  });
  afterAll(async () => {
    await s?.close();
  });

  const series = async (keyId: string, query = "") => {
    const res = await s.request("GET", usagePath(keyId, query));
    expect(res.status, res.text).toBe(200);
    return res.body;
  };

  it("counts N verifies of every outcome in the hour's bucket after a flush, with no database write per verify", async () => {
    const who = actor("usage");
    const valid = await issue(s, { actor_id: who });
    const revoked = await issue(s, { actor_id: who });
    expect((await s.request("POST", `${ISSUED}/${revoked.key.key_id}:revoke`, {})).status).toBe(204);
    const expiring = await issue(s, { actor_id: who, ttl: "60s" });
    const fenced = await issue(s, { actor_id: who, ip_restriction: { allowed_cidrs: ["10.9.0.0/16"] } });
    const limited = await issue(s, { actor_id: who, rate_limit_policy: { quota: "1", window: "3600s" } });
    const gone = randomUUID(); // a genuine issued key (checksum holds) that this database does not have
    const goneKey = mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: gone, unixSeconds: Math.floor(T0 / 1000) });
    await s.built.runtime.usage.flush();
    clock.tick(2 * 60_000); // expiring's 60 s have passed; still 10:17

    const calls = countRepoCalls(s);
    const runs: [string, number, () => Promise<unknown>][] = [
      [valid.key.key_id, 3, () => verify(s, valid.secret)],
      [revoked.key.key_id, 2, () => verify(s, revoked.secret)],
      [expiring.key.key_id, 4, () => verify(s, expiring.secret)],
      [fenced.key.key_id, 2, () => verify(s, fenced.secret, {}, "192.0.2.1")],
      [gone, 5, () => verify(s, goneKey)],
    ];
    for (const [, n, run] of runs) for (let i = 0; i < n; i++) await run();
    for (let i = 0; i < 3; i++) await verify(s, limited.secret); // 1 valid, 2 rate limited
    // imported-key ids are hashes of any input: an unknown imported credential is not counted
    await verify(s, `imp_${randomUUID()}`);
    const writes = Object.entries(calls.counts).filter(([m]) => !["getKey", "getKeys"].includes(m));
    calls.restore();
    expect(writes, "database calls other than key reads during the verifies").toEqual([]);
    expect(s.built.runtime.usage.pending).toBe(7);

    await s.built.runtime.usage.flush();
    expect(s.built.runtime.usage.pending).toBe(0);
    const hour = rfc3339(T0 - (T0 % HOUR));
    const expectBucket = async (keyId: string, counts: Record<string, string>) => {
      const body = await series(keyId);
      const b = body.buckets.find((x: { start_time: string }) => x.start_time === hour);
      const zeros = { valid: "0", not_found: "0", revoked: "0", expired: "0", ip_denied: "0", rate_limited: "0" };
      const total = String(Object.values(counts).reduce((a, c) => a + Number(c), 0));
      expect(b, `bucket ${hour} of ${keyId}`).toEqual({ start_time: hour, ...zeros, ...counts, total });
    };
    await expectBucket(valid.key.key_id, { valid: "3" });
    await expectBucket(revoked.key.key_id, { revoked: "2" });
    await expectBucket(expiring.key.key_id, { expired: "4" });
    await expectBucket(fenced.key.key_id, { ip_denied: "2" });
    await expectBucket(gone, { not_found: "5" });
    await expectBucket(limited.key.key_id, { valid: "1", rate_limited: "2" });
  });

  it("answers the documented series shape: 24 hourly buckets by default, days on request, zeros included", async () => {
    const k = await issue(s, { actor_id: actor("usage") });
    await verify(s, k.secret);
    await s.built.runtime.usage.flush();
    const hourly = await series(k.key.key_id);
    expect(hourly).toMatchObject({ key_id: k.key.key_id, granularity: "hour" });
    expect(hourly.buckets).toHaveLength(24);
    expect(hourly.end_time).toBe(rfc3339(clock.now - (clock.now % HOUR) + HOUR));
    expect(hourly.buckets.at(-1)).toMatchObject({ valid: "1", total: "1" });
    expect(hourly.buckets.slice(0, -1).every((b: { total: string }) => b.total === "0")).toBe(true);

    const daily = await series(k.key.key_id, `?granularity=day&start_time=${rfc3339(T0 - 2 * DAY)}&end_time=${rfc3339(T0)}`);
    expect(daily.buckets.map((b: { start_time: string }) => b.start_time)).toEqual([0, 1, 2].map((d) => rfc3339(T0 - (T0 % DAY) - (2 - d) * DAY)));
    expect(daily.buckets[2]).toMatchObject({ valid: "1", total: "1" });
  });

  it("rejects bad parameters with the envelope and answers 404 for unknown keys", async () => {
    const k = await issue(s, { actor_id: actor("usage") });
    expectBadRequest(await s.request("GET", usagePath(k.key.key_id, "?granularity=week")), "granularity");
    expectBadRequest(await s.request("GET", usagePath(k.key.key_id, "?start_time=yesterday")), "start_time");
    expectBadRequest(await s.request("GET", usagePath(k.key.key_id, `?start_time=${rfc3339(T0)}&end_time=${rfc3339(T0 - HOUR)}`)), "start_time");
    expectBadRequest(await s.request("GET", usagePath(k.key.key_id, `?start_time=${rfc3339(T0 - 400 * DAY)}`)), "start_time");
    // years PostgreSQL's timestamps or a four-digit RFC 3339 year cannot hold (found by the fuzz suite as a 500)
    expectBadRequest(await s.request("GET", usagePath(k.key.key_id, "?end_time=9999-12-31T23:59:59Z")), "end_time");
    expectBadRequest(await s.request("GET", usagePath(k.key.key_id, "?end_time=0000-01-01T00:00:00Z")), "end_time");
    expectBadRequest(await s.request("GET", usagePath(k.key.key_id, "?start_time=1969-12-31T23:00:00Z")), "start_time");
    expectKeyNotFound(await s.request("GET", usagePath(randomUUID())));
    expectKeyNotFound(await s.request("GET", usagePath("not-a-key-id")));
  });

  it("two instances' counts add up, and retention prunes old hours", async () => {
    const k = await issue(s, { actor_id: actor("usage") });
    const store = s.built.store;
    const counter = (retentionMs: number) =>
      new UsageCounter(store, { maxCells: 1000, flushSize: 1000, flushIntervalMs: HOUR, retentionMs, now: clock.read });
    const other = counter(90 * DAY);
    for (let i = 0; i < 4; i++) other.record(NIL_NID, k.key.key_id, "valid", clock.now);
    await verify(s, k.secret);
    await s.built.runtime.usage.flush();
    await other.close();
    const hour = rfc3339(clock.now - (clock.now % HOUR));
    const now = (await series(k.key.key_id)).buckets.find((b: { start_time: string }) => b.start_time === hour);
    expect(now).toMatchObject({ valid: "5", total: "5" });

    const old = new Date(clock.now - 100 * DAY - (clock.now % HOUR));
    await store.repo.addUsage([{ nid: NIL_NID, keyId: k.key.key_id, hour: old, outcome: "valid", count: 7 }]);
    const before = await store.repo.usageOf(NIL_NID, k.key.key_id, new Date(0), new Date(clock.now + HOUR));
    expect(before.map((r) => r.count)).toEqual([7, 5]);
    await counter(90 * DAY).close(); // a flush, then the retention sweep
    const after = await store.repo.usageOf(NIL_NID, k.key.key_id, new Date(0), new Date(clock.now + HOUR));
    expect(after.map((r) => [r.hour.getTime(), r.count])).toEqual([[clock.now - (clock.now % HOUR), 5]]);
  });

  it("bounds memory: beyond usage.max_pending cells new counts are dropped and counted", async () => {
    const c = new UsageCounter(s.built.store, { maxCells: 2, flushSize: 10, flushIntervalMs: HOUR, retentionMs: DAY, now: clock.read });
    c.record(NIL_NID, "a", "valid", clock.now);
    c.record(NIL_NID, "a", "valid", clock.now);
    c.record(NIL_NID, "b", "valid", clock.now);
    c.record(NIL_NID, "c", "valid", clock.now);
    expect([c.pending, c.stats.dropped]).toEqual([2, 1]);
    await c.close();
  });

  // defined on PostgreSQL only (an embedded database belongs to one process), so nothing is skipped
  if (db.name === "postgres") it("two servers on one PostgreSQL database add their counts", async () => {
    const k = await issue(s, { actor_id: actor("usage") });
    const second = await startTestServer({ clock: clock.read, overrides: { "db.dsn": s.config.db.dsn, "last_used.flush_interval": "1h" } });
    try {
      await verify(s, k.secret);
      await verify(second, k.secret);
      await verify(second, k.secret);
      await Promise.all([s.built.runtime.usage.flush(), second.built.runtime.usage.flush()]);
      const hour = rfc3339(clock.now - (clock.now % HOUR));
      const b = (await series(k.key.key_id)).buckets.find((x: { start_time: string }) => x.start_time === hour);
      expect(b).toMatchObject({ valid: "3", total: "3" });
    } finally {
      await second.close();
    }
  });
});
