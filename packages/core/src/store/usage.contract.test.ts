import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NIL_NID } from "../types.js";
import { openStore } from "./open.js";
import type { Store, UsageCount } from "./types.js";

/** The usage-history part of the store contract (docs/observability.md#usage-history), on every driver. */
const PG_DSN = process.env["TALOS_TEST_DSN"];
const HOUR = 3_600_000;
const H0 = Date.UTC(2026, 5, 1, 10);
const OTHER_NID = "11111111-1111-1111-1111-111111111111";
const row = (keyId: string, hoursFromH0: number, outcome: string, count: number, nid = NIL_NID): UsageCount => ({
  nid,
  keyId,
  hour: new Date(H0 + hoursFromH0 * HOUR),
  outcome,
  count,
});

function describeUsageContract(name: string, open: () => Promise<{ store: Store; close: () => Promise<void> }>) {
  describe(`usage repository: ${name}`, () => {
    let env: Awaited<ReturnType<typeof open>>;
    beforeAll(async () => {
      env = await open();
    });
    afterAll(async () => {
      await env?.close();
    });
    const series = (keyId: string, from = -1000, to = 1000) =>
      env.store.repo.usageOf(NIL_NID, keyId, new Date(H0 + from * HOUR), new Date(H0 + to * HOUR)).then((rows) => rows.map((r) => [(r.hour.getTime() - H0) / HOUR, r.outcome, r.count]));

    it("adds: the same (key, hour, outcome) sums, other outcomes and hours are rows of their own", async () => {
      const k = randomUUID();
      await env.store.repo.addUsage([row(k, 0, "valid", 3), row(k, 0, "revoked", 1), row(k, 1, "valid", 2)]);
      await env.store.repo.addUsage([row(k, 0, "valid", 4)]);
      // inside a transaction too, with the transaction's repo
      await env.store.transaction((tx) => tx.addUsage([row(k, 1, "valid", 1)]));
      expect(await series(k)).toEqual([
        [0, "revoked", 1],
        [0, "valid", 7],
        [1, "valid", 3],
      ]);
    });

    it("reads one key of one network, start inclusive and end exclusive", async () => {
      const k = randomUUID();
      await env.store.repo.addUsage([row(k, -1, "valid", 1), row(k, 0, "valid", 2), row(k, 2, "valid", 3), row(randomUUID(), 0, "valid", 9), row(k, 0, "valid", 9, OTHER_NID)]);
      expect(await series(k, 0, 2)).toEqual([[0, "valid", 2]]);
      expect(await series(k, -1, 3)).toEqual([
        [-1, "valid", 1],
        [0, "valid", 2],
        [2, "valid", 3],
      ]);
    });

    it("writes more rows than one statement holds", async () => {
      const k = randomUUID();
      const many = Array.from({ length: 6001 }, (_, i) => row(k, -i, "valid", 1));
      await env.store.repo.addUsage(many);
      expect((await series(k, -7000, 1)).length).toBe(6001);
    });

    it("prunes hours strictly older than the cut-off and says how many rows went", async () => {
      const k = randomUUID();
      await env.store.repo.addUsage([row(k, -20_000, "valid", 1), row(k, -20_000, "expired", 1), row(k, -10, "valid", 1)]);
      const gone = await env.store.repo.pruneUsage(new Date(H0 - 10 * HOUR));
      expect(gone).toBeGreaterThanOrEqual(2);
      expect(await series(k, -30_000, 1)).toEqual([[-10, "valid", 1]]);
    });
  });
}

describeUsageContract("memory", async () => {
  const store = await openStore("memory");
  return { store, close: () => store.close() };
});

// defined only with a PostgreSQL server (store.contract.test.ts says loudly when it is missing)
if (PG_DSN) {
  describeUsageContract("postgres", async () => {
    const name = `talos_usage_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const admin = postgres(PG_DSN, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const u = new URL(PG_DSN);
    u.pathname = `/${name}`;
    const store = await openStore(u.toString(), { poolMax: 4 });
    await store.migrate();
    return {
      store,
      close: async () => {
        await store.close();
        const a = postgres(PG_DSN, { max: 1, onnotice: () => {} });
        await a.unsafe(`drop database if exists ${name} with (force)`);
        await a.end();
      },
    };
  });
}
