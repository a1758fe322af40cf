/**
 * The console key page's core reads: keyLineage / keyEvents (rotated from / to out of the
 * api_key.rotated events, no column of its own) and Verifier.quota (the live bucket, never spent),
 * on the embedded database and on PostgreSQL when TALOS_TEST_DSN is set.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createVerifier,
  issueKey,
  keyEvents,
  keyLineage,
  rotateKey,
  type CreateFields,
  type Limiter,
  type RateLimitPolicy,
  type ServiceContext,
} from "@talos/core";
import { startOn, testDatabases, type TestServer } from "../support/harness.js";

const fields = (actorId: string, rateLimitPolicy: RateLimitPolicy | null = null): CreateFields => ({
  name: "lineage",
  actorId,
  scopes: [],
  metadata: null,
  rateLimitPolicy,
  allowedCidrs: null,
  visibility: 0,
});

for (const db of testDatabases()) {
  describe(`key lineage and events (${db.name})`, () => {
    let s: TestServer;
    let ctx: ServiceContext;
    beforeAll(async () => {
      s = await startOn(db);
      ctx = s.deps.ctx;
    });
    afterAll(() => s?.close());

    it("links a chain of rotations both ways", async () => {
      const a = (await issueKey(ctx, fields("lin-chain"))).record;
      const b = (await rotateKey(ctx, a.keyId, {})).record;
      const c = (await rotateKey(ctx, b.keyId, {})).record;
      const id = (l: Awaited<ReturnType<typeof keyLineage>>) => [l.rotatedFrom?.keyId ?? null, l.rotatedTo?.keyId ?? null];
      expect(id(await keyLineage(ctx, a))).toEqual([null, b.keyId]);
      expect(id(await keyLineage(ctx, b))).toEqual([a.keyId, c.keyId]);
      expect(id(await keyLineage(ctx, c))).toEqual([b.keyId, null]);
    });

    it("finds the rotation that created a key among 150 later rotations of the same actor (pages)", async () => {
      const old = (await issueKey(ctx, fields("lin-busy"))).record;
      const target = (await rotateKey(ctx, old.keyId, {})).record;
      const others = await Promise.all(Array.from({ length: 150 }, () => issueKey(ctx, fields("lin-busy"))));
      for (const o of others) await rotateKey(ctx, o.record.keyId, {});
      expect((await keyLineage(ctx, target)).rotatedFrom?.keyId).toBe(old.keyId);
      const last = (await keyLineage(ctx, others.at(-1)!.record)).rotatedTo;
      expect(last?.event.type).toBe("api_key.rotated");
    });

    it("lists a key's events newest first, with the rotation that created it, at most `limit`", async () => {
      const first = await issueKey(ctx, fields("lin-events"));
      const a = first.record;
      const second = await rotateKey(ctx, a.keyId, {});
      const b = second.record;
      const oldEvents = await keyEvents(ctx, a, 20, await keyLineage(ctx, a));
      expect(oldEvents.map((e) => e.type)).toEqual(["api_key.rotated", "api_key.issued"]);
      expect(oldEvents[0]!.payload["new_key_id"]).toBe(b.keyId);
      const newEvents = await keyEvents(ctx, b, 20, await keyLineage(ctx, b));
      expect(newEvents.map((e) => [e.type, e.keyId])).toEqual([["api_key.rotated", a.keyId]]);
      expect(await keyEvents(ctx, a, 1)).toHaveLength(1);
      for (const text of [JSON.stringify(oldEvents), JSON.stringify(newEvents)]) {
        expect(text).not.toContain(first.secret);
        expect(text).not.toContain(second.secret);
      }
    });

    it("has no lineage for an imported key or a key never rotated", async () => {
      const a = (await issueKey(ctx, fields("lin-none"))).record;
      expect(await keyLineage(ctx, a)).toEqual({ rotatedFrom: null, rotatedTo: null });
      expect(await keyLineage(ctx, { ...a, kind: "imported" })).toEqual({ rotatedFrom: null, rotatedTo: null });
    });

    it("Verifier.quota peeks the verify path's bucket and never spends it", async () => {
      const v = s.deps.verifier;
      const issued = await issueKey(ctx, fields("lin-quota", { quota: 4, windowSeconds: 3600, unit: "" }));
      const rec = issued.record;
      const live = await v.quota(rec);
      expect(live).toMatchObject({ state: "live", limit: 4, windowSeconds: 3600, remaining: 4 });
      for (let i = 0; i < 3; i++) expect((await v.verify(issued.secret, { clientIp: null, cacheMode: "default" })).isValid).toBe(true);
      for (let i = 0; i < 3; i++) expect(await v.quota(rec)).toMatchObject({ state: "live", remaining: 1 });
      const next = await v.verify(issued.secret, { clientIp: null, cacheMode: "default" });
      expect(next.rateLimitRemaining).toBe(0);
      expect(await v.quota(rec)).toMatchObject({ remaining: 0 });
      expect(await v.quota({ ...rec, rateLimitPolicy: null })).toEqual({ state: "none" });
      expect(await v.quota({ ...rec, rateLimitPolicy: { quota: 4, windowSeconds: 60, unit: "tokens" } })).toEqual({
        state: "not_enforced",
        unit: "tokens",
      });
    });

    it("Verifier.quota: off without a limiter, unavailable when the limiter fails", async () => {
      const rec = (await issueKey(ctx, fields("lin-quota-off", { quota: 4, windowSeconds: 60, unit: "" }))).record;
      const base = { cache: null, lastUsed: null, tokens: null };
      expect(await createVerifier(ctx, { ...base, limiter: null }).quota(rec)).toEqual({ state: "off" });
      const errors: unknown[] = [];
      const broken: Limiter = { backend: "redis", take: () => Promise.reject(new Error("down")), peek: () => Promise.reject(new Error("down")) };
      expect(await createVerifier(ctx, { ...base, limiter: broken, onLimiterError: (e) => errors.push(e) }).quota(rec)).toEqual({
        state: "unavailable",
      });
      expect(errors).toHaveLength(1);
    });
  });
}
