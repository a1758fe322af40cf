import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { createServer, Socket } from "node:net";
import type { AddressInfo, Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { inspect, promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KeyStatus, keyRecord, keyStatus, type KeyKind, type KeyRecord } from "../types.js";
import type { KeyEvent } from "../events/types.js";
import {
  DEFAULT_MIGRATIONS_FOLDER,
  StatementTimeoutError,
  StoreError,
  StoreUnavailableError,
  createRepo,
  dsnKind,
  isConnectionError,
  openStore,
  rawDriverError,
  redactDsn,
  type AnyPgDatabase,
  type Store,
} from "./index.js";

const PG_DSN = process.env["TALOS_TEST_DSN"];
if (!PG_DSN) {
  console.warn(
    "\n!!! SKIPPED: the PostgreSQL run of the store contract suite (packages/core/src/store/store.contract.test.ts).\n" +
      "!!! Only the embedded database (memory, pglite://) was tested. Set\n" +
      "!!! TALOS_TEST_DSN=postgres://postgres@127.0.0.1:5432/postgres to run it against a real PostgreSQL.\n",
  );
}

const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "talos-store-"));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/* ------------------------------------------------------------------ helpers */

function rec(over: Partial<KeyRecord> & { nid: string }): KeyRecord {
  return keyRecord({ kind: "issued", keyId: randomUUID(), name: "name", actorId: "actor", ...over }, new Date("2026-01-01T00:00:00.123Z"));
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(20);
  }
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A fresh database on the TALOS_TEST_DSN server; returns its DSN and a dropper. */
async function freshPgDatabase(): Promise<{ dsn: string; drop: () => Promise<void> }> {
  const admin = postgres(PG_DSN!, { max: 1, onnotice: () => {} });
  const name = `talos_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_DSN!);
  u.pathname = `/${name}`;
  return {
    dsn: u.toString(),
    drop: async () => {
      const a = postgres(PG_DSN!, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/* ------------------------------------------------------------------ the contract */

export function describeStoreContract(name: string, openFn: () => Promise<Store>, opts: { guarded?: boolean } = {}): void {
  const guarded = opts.guarded ?? true;
  describe(`store contract: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await openFn();
    });
    afterAll(async () => {
      await store?.close();
    });

    it("round-trips every field (dates to the ms, JSON metadata, nulls)", async () => {
      const nid = randomUUID();
      const full = rec({
        nid,
        kind: "imported",
        keyId: "a".repeat(64),
        name: "ünïcødé name ✓",
        actorId: "user_123",
        scopes: ["read", "write:all", 'we"ird', "back\\slash", "comma,brace{}", "NULL", ""],
        metadata: { a: 1, nested: { b: [true, null, 1.5, "x"] }, emoji: "🔑", empty: {} },
        createTime: new Date("2026-02-03T04:05:06.789Z"),
        updateTime: new Date("2026-02-03T04:05:07.001Z"),
        expireTime: new Date("2027-12-31T23:59:59.999Z"),
        lastUsedTime: new Date("2026-02-04T00:00:00.007Z"),
        rateLimitPolicy: { quota: 2 ** 53 - 1, windowSeconds: 315360000, unit: "content-bytes" },
        allowedCidrs: ["10.0.0.0/8", "2001:db8::/32"],
        revoked: true,
        revocationReason: 4,
        revocationDescription: "left the company",
        visibility: 2,
        requestId: "req-1",
        requestFingerprint: "fp-1",
      });
      const sparse = rec({ nid, rateLimitPolicy: { quota: 1, windowSeconds: 1, unit: "" } });
      expect(await store.repo.insertKey(full)).toBe(true);
      expect(await store.repo.insertKey(sparse)).toBe(true);
      expect(await store.repo.getKey(nid, full.keyId)).toEqual(full);
      expect(await store.repo.getKey(nid, sparse.keyId)).toEqual(sparse);
      expect(await store.repo.getKey(nid, "missing")).toBeNull();
      // scoped by nid
      expect(await store.repo.getKey(randomUUID(), full.keyId)).toBeNull();
    });

    it("stores an empty allowed_cidrs list as null and a null policy as null", async () => {
      const nid = randomUUID();
      const r = rec({ nid, allowedCidrs: [], rateLimitPolicy: null, metadata: {} });
      await store.repo.insertKey(r);
      const got = await store.repo.getKey(nid, r.keyId);
      expect(got?.allowedCidrs).toBeNull();
      expect(got?.rateLimitPolicy).toBeNull();
      expect(got?.metadata).toEqual({});
    });

    it("insertKey returns false on a key_id or (kind, request_id) conflict without breaking the transaction", async () => {
      const nid = randomUUID();
      const first = rec({ nid, requestId: "req-a" });
      await store.transaction(async (repo) => {
        expect(await repo.insertKey(first)).toBe(true);
        expect(await repo.insertKey(rec({ nid, keyId: first.keyId }))).toBe(false);
        expect(await repo.insertKey(rec({ nid, requestId: "req-a" }))).toBe(false);
        // the transaction is still usable after both conflicts
        expect(await repo.insertKey(rec({ nid, keyId: "after-conflicts" }))).toBe(true);
        // request ids are namespaced by kind
        expect(await repo.insertKey(rec({ nid, kind: "imported", keyId: "b".repeat(64), requestId: "req-a" }))).toBe(true);
      });
      expect(await store.repo.getKey(nid, "after-conflicts")).not.toBeNull();
      expect(await store.repo.getKey(nid, "b".repeat(64))).not.toBeNull();
      expect((await store.repo.getKey(nid, first.keyId))?.name).toBe("name");
      // many keys without a request id coexist
      expect(await store.repo.insertKey(rec({ nid }))).toBe(true);
      expect(await store.repo.insertKey(rec({ nid }))).toBe(true);
    });

    it("insertKey and revokeKey write their outbox events in the same statement, and none when nothing changed", async () => {
      const nid = randomUUID();
      const event = (keyId: string, type: KeyEvent["type"]): KeyEvent => ({
        id: randomUUID(),
        nid,
        type,
        keyId,
        keyKind: "issued",
        actorId: "actor",
        source: "admin_api",
        principal: "",
        occurredTime: new Date("2026-03-01T00:00:00.000Z"),
        payload: { n: 1 },
      });
      const outbox = (e: KeyEvent) => ({ events: [e], deliveries: [], notify: "talos_events" });
      const first = rec({ nid, requestId: "req-o" });
      const issued = event(first.keyId, "api_key.issued");
      const lost = event("conflict", "api_key.issued");
      const revokedMissing = event("missing", "api_key.revoked");
      const revoked = event(first.keyId, "api_key.revoked");
      await store.transaction(async (repo) => {
        expect(await repo.insertKey(first, outbox(issued))).toBe(true);
        expect(await repo.insertKey(rec({ nid, requestId: "req-o" }), outbox(lost))).toBe(false);
        expect(await repo.revokeKey(nid, "missing", 1, "", new Date(), outbox(revokedMissing))).toBeNull();
        expect((await repo.revokeKey(nid, first.keyId, 1, "", new Date(), outbox(revoked)))?.revoked).toBe(true);
      });
      const ids = (await store.repo.events.list(nid, { limit: 10 })).map((e) => e.id).sort();
      expect(ids).toEqual([issued.id, revoked.id].sort());
      // a rolled-back change takes its event with it
      const rolled = event("rolled-back", "api_key.issued");
      await expect(
        store.transaction(async (repo) => {
          await repo.insertKey(rec({ nid, keyId: "rolled-back" }), outbox(rolled));
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect((await store.repo.events.list(nid, { limit: 10 })).map((e) => e.id)).not.toContain(rolled.id);
    });

    it("insertKey with an outbox outside a transaction is one statement: event and deliveries only for a new key, values as written", async () => {
      const nid = randomUUID();
      const first = rec({ nid, kind: "imported", keyId: "e".repeat(64) });
      const event = (id: string): KeyEvent => ({
        id,
        nid,
        type: "api_key.imported",
        keyId: first.keyId,
        keyKind: "imported",
        actorId: "actor",
        source: "admin_api",
        principal: "tok-1",
        occurredTime: new Date("2026-03-01T12:34:56.789Z"),
        payload: { name: "n", scopes: ["a", "b"], nested: { n: 1, s: 'it\'s "quoted"' } },
      });
      const outbox = (e: KeyEvent) => ({
        events: [e],
        deliveries: ["hook-a", "hook-b"].map((webhookId) => ({ eventId: e.id, webhookId, nid, nextAttemptTime: e.occurredTime })),
        notify: "talos_events",
      });
      const won = event(randomUUID());
      const dup = event(randomUUID());
      let woken = 0;
      const unlisten = await store.listen("talos_events", () => woken++);
      try {
        expect(await store.repo.insertKey(first, outbox(won))).toBe(true);
        // a duplicate key: the statement inserts nothing at all
        expect(await store.repo.insertKey({ ...first, name: "dup" }, outbox(dup))).toBe(false);
        await vi.waitFor(() => expect(woken).toBeGreaterThanOrEqual(1));
      } finally {
        await unlisten();
      }
      expect((await store.repo.getKey(nid, first.keyId))?.name).toBe(first.name);
      const stored = await store.repo.events.get(nid, won.id);
      expect(stored?.event).toEqual(won);
      expect(stored?.deliveries.map((d) => d.webhookId).sort()).toEqual(["hook-a", "hook-b"]);
      expect(
        stored?.deliveries.every((d) => d.state === "pending" && d.attempts === 0 && d.nextAttemptTime.getTime() === won.occurredTime.getTime()),
      ).toBe(true);
      expect(await store.repo.events.get(nid, dup.id)).toBeNull();
      expect((await store.repo.events.list(nid, { limit: 10 })).map((e) => e.id)).toEqual([won.id]);
    });

    it("revokeActiveKey outside a transaction revokes only the active key it names, with its event and notifications", async () => {
      const nid = randomUUID();
      const key = rec({ nid, actorId: "owner" });
      const other = rec({ nid, actorId: "someone" });
      const gone = rec({ nid, actorId: "owner" });
      for (const r of [key, other]) expect(await store.repo.insertKey(r)).toBe(true);
      const revocation = (keyId: string) => {
        const e: KeyEvent = {
          id: randomUUID(),
          nid,
          type: "api_key.revoked",
          keyId,
          keyKind: "issued",
          actorId: "owner",
          source: "admin_api",
          principal: "",
          occurredTime: new Date("2026-03-02T00:00:00.000Z"),
          payload: { reason: "REVOCATION_REASON_KEY_COMPROMISE", description: "" },
        };
        return { events: [e], deliveries: [{ eventId: e.id, webhookId: "hook-a", nid, nextAttemptTime: e.occurredTime }], notify: "talos_events" };
      };
      const now = new Date("2026-03-02T00:00:01.000Z");
      const first = revocation(key.keyId);
      const again = revocation(key.keyId);
      const missing = revocation(gone.keyId);
      const wrongActor = revocation(other.keyId);
      const woken: string[] = [];
      const unlistenEvents = await store.listen("talos_events", () => woken.push("events"));
      const unlistenKeys = await store.listen("talos_test_invalidation", (p) => woken.push(p));
      try {
        expect(await store.repo.revokeActiveKey(key, 1, "", now, first, { channel: "talos_test_invalidation", payload: key.keyId })).toBe(true);
        // already revoked, absent, or not the key that was read (another actor): nothing written, nothing sent
        expect(await store.repo.revokeActiveKey(key, 4, "again", now, again, { channel: "talos_test_invalidation", payload: "again" })).toBe(false);
        expect(await store.repo.revokeActiveKey(gone, 1, "", now, missing, { channel: "talos_test_invalidation", payload: "missing" })).toBe(false);
        expect(await store.repo.revokeActiveKey({ ...other, actorId: "owner" }, 1, "", now, wrongActor)).toBe(false);
        await vi.waitFor(() => expect(woken).toEqual(expect.arrayContaining(["events", key.keyId])));
        await sleep(100);
        expect(woken.filter((w) => w !== "events")).toEqual([key.keyId]);
      } finally {
        await unlistenEvents();
        await unlistenKeys();
      }
      const stored = await store.repo.getKey(nid, key.keyId);
      expect(stored).toMatchObject({ revoked: true, revocationReason: 1, revocationDescription: "", updateTime: now });
      expect((await store.repo.getKey(nid, other.keyId))?.revoked).toBe(false);
      expect((await store.repo.events.list(nid, { limit: 10 })).map((e) => e.id)).toEqual([first.events[0]!.id]);
      expect((await store.repo.events.get(nid, first.events[0]!.id))?.deliveries.map((d) => d.webhookId)).toEqual(["hook-a"]);
      // inside a transaction it joins the transaction: a rollback undoes the revocation and its event
      const third = rec({ nid, actorId: "owner" });
      await store.repo.insertKey(third);
      const rolled = revocation(third.keyId);
      await expect(
        store.transaction(async (repo) => {
          expect(await repo.revokeActiveKey(third, 1, "", now, rolled)).toBe(true);
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect((await store.repo.getKey(nid, third.keyId))?.revoked).toBe(false);
      expect(await store.repo.events.get(nid, rolled.events[0]!.id)).toBeNull();
    });

    it("insertKeys of 1000 rows with conflicts returns exactly the inserted ids", async () => {
      const nid = randomUUID();
      const existing = Array.from({ length: 10 }, () => rec({ nid }));
      for (const r of existing) await store.repo.insertKey(r);
      const taken = rec({ nid, kind: "imported", keyId: "c".repeat(64), requestId: "batch-req" });
      await store.repo.insertKey(taken);

      const fresh = Array.from({ length: 985 }, (_, i) => rec({ nid, kind: "imported", keyId: `k${String(i).padStart(5, "0")}` }));
      const batch = [
        ...fresh,
        ...existing.slice(0, 5).map((r) => ({ ...r, name: "dup" })), // key_id conflicts
        rec({ nid, kind: "imported", keyId: "d".repeat(64), requestId: "batch-req" }), // request_id conflict
        { ...fresh[0]!, name: "in-batch duplicate" }, // duplicate inside the batch
        ...Array.from({ length: 8 }, () => rec({ nid })),
      ];
      expect(batch.length).toBe(1000);
      const inserted = await store.repo.insertKeys(batch);
      const expected = new Set([...fresh.map((r) => r.keyId), ...batch.slice(-8).map((r) => r.keyId)]);
      expect(inserted).toEqual(expected);
      expect((await store.repo.getKey(nid, fresh[0]!.keyId))?.name).toBe("name");
      expect((await store.repo.getKey(nid, existing[0]!.keyId))?.name).toBe("name");
      expect(await store.repo.getKey(nid, "d".repeat(64))).toBeNull();
      expect(await store.repo.countLiveKeys(nid)).toBe(10 + 1 + 993);
      expect(await store.repo.insertKeys([])).toEqual(new Set());
    });

    it("insertKeys inside a transaction keeps the transaction usable", async () => {
      const nid = randomUUID();
      const a = rec({ nid });
      await store.repo.insertKey(a);
      await store.transaction(async (repo) => {
        const ids = await repo.insertKeys([a, rec({ nid, keyId: "x1" })]);
        expect(ids).toEqual(new Set(["x1"]));
        expect(await repo.getKey(nid, "x1")).not.toBeNull();
      });
      expect(await store.repo.getKey(nid, "x1")).not.toBeNull();
    });

    it("getKeys returns the records of many ids in one call, ignoring unknown and repeated ids", async () => {
      const nid = randomUUID();
      const recs = Array.from({ length: 300 }, () => rec({ nid }));
      await store.repo.insertKeys(recs);
      const ask = [...recs.map((r) => r.keyId), "nope", recs[0]!.keyId];
      const got = await store.repo.getKeys(nid, ask);
      expect(got.map((r) => r.keyId).sort()).toEqual(recs.map((r) => r.keyId).sort());
      expect(got.find((r) => r.keyId === recs[7]!.keyId)).toEqual(recs[7]);
      expect(await store.repo.getKeys(nid, [])).toEqual([]);
      expect(await store.repo.getKeys(randomUUID(), ask)).toEqual([]);
    });

    it("getKeysByRequestIds finds keys by request id within one kind", async () => {
      const nid = randomUUID();
      const a = rec({ nid, requestId: "r1" });
      const b = rec({ nid, requestId: "r2" });
      const c = rec({ nid, kind: "imported", keyId: "e".repeat(64), requestId: "r1" });
      await store.repo.insertKeys([a, b, c, rec({ nid })]);
      const got = await store.repo.getKeysByRequestIds(nid, "issued", ["r1", "r2", "r3"]);
      expect(got.map((r) => r.keyId).sort()).toEqual([a.keyId, b.keyId].sort());
      expect((await store.repo.getKeysByRequestIds(nid, "imported", ["r1"])).map((r) => r.keyId)).toEqual([c.keyId]);
      expect(await store.repo.getKeysByRequestIds(nid, "issued", [])).toEqual([]);
    });

    it("listKeys orders by key_id in byte order and pages with afterKeyId", async () => {
      const nid = randomUUID();
      const ids = ["b", "B", "a-1", "a1", "a_", "é", "Z", "~", "0", "a", "ab", "A b", "-x"];
      await store.repo.insertKeys(ids.map((keyId) => rec({ nid, keyId })));
      await store.repo.insertKey(rec({ nid, kind: "imported", keyId: "f".repeat(64) }));
      const sorted = [...ids].sort(byteOrder);
      const all = await store.repo.listKeys(nid, { kind: "issued", limit: 100, now: Date.now() });
      expect(all.map((r) => r.keyId)).toEqual(sorted);

      const paged: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.repo.listKeys(nid, { kind: "issued", limit: 4, now: Date.now(), ...(after ? { afterKeyId: after } : {}) });
        paged.push(...page.map((r) => r.keyId));
        if (page.length < 4) break;
        after = page[page.length - 1]!.keyId;
      }
      expect(paged).toEqual(sorted);
      const imported = await store.repo.listKeys(nid, { kind: "imported", limit: 10, now: Date.now() });
      expect(imported.map((r) => r.keyId)).toEqual(["f".repeat(64)]);
    });

    it("listKeys filters by actor and by status at the given now", async () => {
      const nid = randomUUID();
      const now = Date.parse("2026-06-01T12:00:00.000Z");
      const at = (ms: number) => new Date(now + ms);
      const keys = {
        activeForever: rec({ nid, keyId: "k1", actorId: "alice" }),
        activeFuture: rec({ nid, keyId: "k2", actorId: "alice", expireTime: at(1) }),
        expiredExactlyNow: rec({ nid, keyId: "k3", actorId: "alice", expireTime: at(0) }),
        expiredPast: rec({ nid, keyId: "k4", actorId: "bob", expireTime: at(-86_400_000) }),
        revoked: rec({ nid, keyId: "k5", actorId: "alice", revoked: true, revocationReason: 1 }),
        revokedAndExpired: rec({ nid, keyId: "k6", actorId: "bob", revoked: true, expireTime: at(-1) }),
      };
      await store.repo.insertKeys(Object.values(keys));
      const list = async (q: { actorId?: string; status?: KeyStatus }, t = now) =>
        (await store.repo.listKeys(nid, { kind: "issued", limit: 100, now: t, ...q })).map((r) => r.keyId);

      expect(await list({ status: KeyStatus.ACTIVE })).toEqual(["k1", "k2"]);
      expect(await list({ status: KeyStatus.EXPIRED })).toEqual(["k3", "k4"]);
      expect(await list({ status: KeyStatus.REVOKED })).toEqual(["k5", "k6"]);
      expect(await list({ status: KeyStatus.UNSPECIFIED })).toEqual(["k1", "k2", "k3", "k4", "k5", "k6"]);
      expect(await list({ actorId: "alice" })).toEqual(["k1", "k2", "k3", "k5"]);
      expect(await list({ actorId: "bob", status: KeyStatus.EXPIRED })).toEqual(["k4"]);
      expect(await list({ actorId: "nobody" })).toEqual([]);
      // the same rows at an earlier instant
      expect(await list({ status: KeyStatus.ACTIVE }, now - 2 * 86_400_000)).toEqual(["k1", "k2", "k3", "k4"]);
      // agrees with keyStatus() for every row
      for (const r of Object.values(keys)) {
        const s = keyStatus(r, now);
        expect(await list({ status: s })).toContain(r.keyId);
      }
    });

    it("updateKey writes exactly the patched fields", async () => {
      const nid = randomUUID();
      const r = rec({
        nid,
        name: "before",
        scopes: ["a"],
        metadata: { keep: true },
        rateLimitPolicy: { quota: 5, windowSeconds: 10, unit: "" },
        allowedCidrs: ["10.0.0.0/8"],
      });
      await store.repo.insertKey(r);
      const t1 = new Date("2026-01-02T00:00:00.555Z");
      const u1 = await store.repo.updateKey(nid, r.keyId, { name: "after", updateTime: t1 });
      expect(u1).toEqual({ ...r, name: "after", updateTime: t1 });

      const t2 = new Date("2026-01-03T00:00:00.000Z");
      const u2 = await store.repo.updateKey(nid, r.keyId, {
        scopes: [],
        metadata: null,
        rateLimitPolicy: null,
        allowedCidrs: [],
        updateTime: t2,
      });
      expect(u2).toEqual({ ...r, name: "after", scopes: [], metadata: null, rateLimitPolicy: null, allowedCidrs: null, updateTime: t2 });

      const u3 = await store.repo.updateKey(nid, r.keyId, {
        rateLimitPolicy: { quota: 7, windowSeconds: 60, unit: "requests" },
        allowedCidrs: ["::1/128"],
        metadata: { x: [1] },
        updateTime: t2,
      });
      expect(u3?.rateLimitPolicy).toEqual({ quota: 7, windowSeconds: 60, unit: "requests" });
      expect(u3?.allowedCidrs).toEqual(["::1/128"]);
      expect(u3?.metadata).toEqual({ x: [1] });
      expect(await store.repo.getKey(nid, r.keyId)).toEqual(u3);
      expect(await store.repo.updateKey(nid, "missing", { name: "x", updateTime: t2 })).toBeNull();
    });

    it("revokeKey marks the key revoked and returns it; unknown keys give null", async () => {
      const nid = randomUUID();
      const r = rec({ nid, expireTime: new Date("2030-01-01T00:00:00.000Z") });
      await store.repo.insertKey(r);
      const now = new Date("2026-05-05T05:05:05.505Z");
      const got = await store.repo.revokeKey(nid, r.keyId, 4, "gone", now);
      expect(got).toEqual({ ...r, revoked: true, revocationReason: 4, revocationDescription: "gone", updateTime: now });
      expect(await store.repo.getKey(nid, r.keyId)).toEqual(got);
      expect(await store.repo.revokeKey(nid, "missing", 1, "", now)).toBeNull();
    });

    it("deleteKey removes the row once", async () => {
      const nid = randomUUID();
      const r = rec({ nid, kind: "imported", keyId: "9".repeat(64) });
      await store.repo.insertKey(r);
      expect(await store.repo.deleteKey(nid, r.keyId)).toBe(true);
      expect(await store.repo.deleteKey(nid, r.keyId)).toBe(false);
      expect(await store.repo.getKey(nid, r.keyId)).toBeNull();
      // the same id may be inserted again afterwards
      expect(await store.repo.insertKey(r)).toBe(true);
    });

    it("countLiveKeys counts non-revoked keys of both kinds in the network", async () => {
      const nid = randomUUID();
      await store.repo.insertKeys([
        rec({ nid }),
        rec({ nid, expireTime: new Date(0) }), // expired still counts
        rec({ nid, kind: "imported", keyId: "1".repeat(64) }),
        rec({ nid, revoked: true }),
        rec({ nid: randomUUID() }),
      ]);
      expect(await store.repo.countLiveKeys(nid)).toBe(3);
      expect(await store.repo.countLiveKeys(randomUUID())).toBe(0);
    });

    it("touchLastUsed writes at most once per UTC day, in one batch", async () => {
      const nid = randomUUID();
      const a = rec({ nid });
      const b = rec({ nid });
      const c = rec({ nid, lastUsedTime: new Date("2026-03-10T08:00:00.000Z") });
      await store.repo.insertKeys([a, b, c]);
      const day1 = new Date("2026-03-10T10:00:00.000Z");
      const n1 = await store.repo.touchLastUsed([
        { nid, keyId: a.keyId, time: day1 },
        { nid, keyId: a.keyId, time: new Date("2026-03-10T09:30:00.250Z") }, // earlier the same day wins
        { nid, keyId: b.keyId, time: day1 },
        { nid, keyId: c.keyId, time: day1 }, // already used that day
        { nid, keyId: "missing", time: day1 },
      ]);
      expect(n1).toBe(2);
      expect((await store.repo.getKey(nid, a.keyId))?.lastUsedTime).toEqual(new Date("2026-03-10T09:30:00.250Z"));
      expect((await store.repo.getKey(nid, b.keyId))?.lastUsedTime).toEqual(day1);
      expect((await store.repo.getKey(nid, c.keyId))?.lastUsedTime).toEqual(new Date("2026-03-10T08:00:00.000Z"));

      // later the same UTC day (23:59:59.999): nothing written
      expect(await store.repo.touchLastUsed([{ nid, keyId: a.keyId, time: new Date("2026-03-10T23:59:59.999Z") }])).toBe(0);
      // the next UTC day: written; a batch spanning midnight keeps the first use of the last day
      const n2 = await store.repo.touchLastUsed([
        { nid, keyId: a.keyId, time: new Date("2026-03-11T00:00:00.001Z") },
        { nid, keyId: b.keyId, time: new Date("2026-03-10T23:00:00.000Z") },
        { nid, keyId: b.keyId, time: new Date("2026-03-11T06:00:00.000Z") },
        { nid, keyId: b.keyId, time: new Date("2026-03-11T05:00:00.000Z") },
      ]);
      expect(n2).toBe(2);
      expect((await store.repo.getKey(nid, a.keyId))?.lastUsedTime).toEqual(new Date("2026-03-11T00:00:00.001Z"));
      expect((await store.repo.getKey(nid, b.keyId))?.lastUsedTime).toEqual(new Date("2026-03-11T05:00:00.000Z"));
      // an older day never moves the value back
      expect(await store.repo.touchLastUsed([{ nid, keyId: a.keyId, time: day1 }])).toBe(0);
      expect(await store.repo.touchLastUsed([])).toBe(0);
    });

    it("a failed transaction leaves nothing behind and rethrows the caller's error unchanged", async () => {
      const nid = randomUUID();
      const boom = new Error("caller failure");
      const r = rec({ nid });
      await expect(
        store.transaction(async (repo) => {
          await repo.insertKey(r);
          await repo.insertKeys([rec({ nid }), rec({ nid })]);
          expect(await repo.countLiveKeys(nid)).toBe(3);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await store.repo.getKey(nid, r.keyId)).toBeNull();
      expect(await store.repo.countLiveKeys(nid)).toBe(0);
      // and returns the function's value on success
      expect(await store.transaction(async (repo) => repo.insertKey(r))).toBe(true);
    });

    // production opens the store without the guard (OpenStoreOptions.guardTransactions): the rest
    // of the contract must hold there too, this case only where the guard is on
    if (guarded) it("refuses the pool repo inside a transaction instead of deadlocking", async () => {
      const nid = randomUUID();
      const r = rec({ nid });
      const err = await store
        .transaction(async (repo) => {
          await repo.insertKey(r);
          await store.repo.getKey(nid, r.keyId);
        })
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/use the repo passed to the transaction callback/);
      await expect(store.transaction(() => store.transaction(async () => 1))).rejects.toThrow(/inside store.transaction/);
      expect(await store.repo.getKey(nid, r.keyId)).toBeNull();
      // work started in the callback but finishing after it may use the pool repo
      let later: Promise<unknown> | undefined;
      await store.transaction(async (repo) => {
        await repo.insertKey(r);
        later = sleep(50).then(() => store.repo.getKey(nid, r.keyId));
      });
      expect(await later).toEqual(r);
    });

    it("getKeyForUpdate inside a transaction locks the row until commit", async () => {
      const nid = randomUUID();
      const r = rec({ nid, name: "v0" });
      await store.repo.insertKey(r);
      expect(await store.repo.getKeyForUpdate(nid, r.keyId)).toEqual(r); // plain read outside a transaction

      let release!: () => void;
      const held = new Promise<void>((res) => (release = res));
      let locked!: () => void;
      const isLocked = new Promise<void>((res) => (locked = res));
      const tx1 = store.transaction(async (repo) => {
        const got = await repo.getKeyForUpdate(nid, r.keyId);
        expect(got?.name).toBe("v0");
        locked();
        await held;
        await repo.updateKey(nid, r.keyId, { name: "v1", updateTime: r.updateTime });
      });
      await isLocked;
      let seen: string | undefined;
      const tx2 = store.transaction(async (repo) => {
        seen = (await repo.getKeyForUpdate(nid, r.keyId))?.name;
      });
      await sleep(300);
      expect(seen).toBeUndefined(); // still waiting for tx1
      release();
      await tx1;
      await tx2;
      expect(seen).toBe("v1");
      expect(await store.transaction((repo) => repo.getKeyForUpdate(nid, "missing"))).toBeNull();
    });

    it("notify reaches listeners, from a transaction only after commit", async () => {
      const channel = `talos_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
      const got: string[] = [];
      const unlisten = await store.listen(channel, (p) => got.push(p));
      await store.repo.notify(channel, '{"hello":"world"}');
      await waitFor(() => got.length === 1);
      expect(got).toEqual(['{"hello":"world"}']);

      let commit!: () => void;
      const gate = new Promise<void>((res) => (commit = res));
      let notified!: () => void;
      const didNotify = new Promise<void>((res) => (notified = res));
      const tx = store.transaction(async (repo) => {
        await repo.notify(channel, "in-tx");
        notified();
        await gate;
      });
      await didNotify;
      await sleep(300); // a negative wait: the embedded database admits nothing else while the transaction is open
      expect(got).toEqual(['{"hello":"world"}']);
      commit();
      await tx;
      await waitFor(() => got.length === 2);
      expect(got[1]).toBe("in-tx");

      // a rolled back transaction delivers nothing
      await expect(
        store.transaction(async (repo) => {
          await repo.notify(channel, "rolled-back");
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");

      await unlisten();
      const sentinel = `talos_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
      const marks: string[] = [];
      const unlistenSentinel = await store.listen(sentinel, (p) => marks.push(p));
      await store.repo.notify(channel, "after-unlisten");
      await store.repo.notify(sentinel, "after-unlisten"); // delivered in order: once it is here, the other would be too
      await waitFor(() => marks.length === 1);
      await unlistenSentinel();
      expect(got).toEqual(['{"hello":"world"}', "in-tx"]);
    });

    it("migrationStatus lists every migration as applied, and migrate() is idempotent", async () => {
      const journal = JSON.parse(fs.readFileSync(path.join(DEFAULT_MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8")) as {
        entries: { tag: string }[];
      };
      const before = await store.migrationStatus();
      expect(before.map((m) => m.name)).toEqual(journal.entries.map((e) => e.tag));
      for (const m of before) expect(m.appliedAt).toBeInstanceOf(Date);
      await store.migrate();
      expect(await store.migrationStatus()).toEqual(before);
    });

    it("ping succeeds on a healthy store", async () => {
      await store.ping(2000);
    });

    it("driver errors never leak bound parameters", async () => {
      const secret = `SECRET-${randomUUID()}`;
      const e1 = await store.repo.getKey(secret, "x").catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(StoreError);
      expect((e1 as Error).message).toBe("database error");
      expect(inspect(e1, { depth: 20, showHidden: false })).not.toContain(secret);
      expect(JSON.stringify(e1)).not.toContain(secret);
      expect((e1 as StoreError).code).toBe("22P02");
      // the original stays reachable on purpose, for a debugger
      expect(String(rawDriverError(e1))).toContain("Failed query");

      const nid = randomUUID();
      const bad = rec({ nid, kind: secret as KeyKind, name: secret });
      const e2 = await store.repo.insertKey(bad).catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(StoreError);
      expect(inspect(e2, { depth: 20 })).not.toContain(secret);
      expect((e2 as StoreError).code).toBe("23514"); // check_violation

      // inside a transaction the wrapped error propagates unchanged
      const e3 = await store.transaction((repo) => repo.getKey(secret, "x")).catch((e: unknown) => e);
      expect(e3).toBeInstanceOf(StoreError);
      expect(inspect(e3, { depth: 20 })).not.toContain(secret);
    });
  });
}

/* ------------------------------------------------------------------ the runs */

describeStoreContract("memory", () => openStore("memory"));

describeStoreContract("memory, production (no transaction guard)", () => openStore("memory", { guardTransactions: false }), { guarded: false });

describeStoreContract("pglite://<tmpdir>", () => openStore(`pglite://${tmpDir()}/db`));

describe.skipIf(!PG_DSN)("store contract on PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof freshPgDatabase>>;
  beforeAll(async () => {
    db = await freshPgDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  describeStoreContract("postgres", async () => {
    const store = await openStore(db.dsn, { poolMax: 4 });
    await store.migrate();
    return store;
  });
});

/* ------------------------------------------------------------------ statement counts */

/** A repo whose drizzle handle counts the statements it sends. */
function countingRepo(make: (logger: { logQuery: (q: string) => void }) => AnyPgDatabase) {
  const queries: string[] = [];
  const repo = createRepo(make({ logQuery: (q) => queries.push(q) }));
  return { repo, queries };
}

function describeStatementCounts(name: string, make: () => Promise<{ db: (l: { logQuery: (q: string) => void }) => AnyPgDatabase; close: () => Promise<void> }>) {
  describe(`repo statement counts: ${name}`, () => {
    let env: Awaited<ReturnType<typeof make>>;
    beforeAll(async () => {
      env = await make();
    });
    afterAll(async () => {
      await env?.close();
    });

    it("insertKeys(1000) is one INSERT, getKeys(500) one SELECT, touchLastUsed(100) one UPDATE, revokeActiveKey one statement", async () => {
      const { repo, queries } = countingRepo(env.db);
      const nid = randomUUID();
      const recs = Array.from({ length: 1000 }, () => rec({ nid, scopes: ["a", "b"], metadata: { i: 1 } }));
      await repo.insertKeys(recs);
      expect(queries.length).toBe(1);
      expect(queries[0]).toMatch(/^insert into "api_keys" .* on conflict do nothing returning/is);

      queries.length = 0;
      const got = await repo.getKeys(nid, recs.slice(0, 500).map((r) => r.keyId));
      expect(got.length).toBe(500);
      expect(queries.length).toBe(1);
      expect(queries[0]).toContain("= any(");

      queries.length = 0;
      const n = await repo.touchLastUsed(recs.slice(0, 100).map((r) => ({ nid, keyId: r.keyId, time: new Date() })));
      expect(n).toBe(100);
      expect(queries.length).toBe(1);

      // a revocation with its event, delivery and both notifications: one statement
      queries.length = 0;
      const e = { id: randomUUID(), nid, type: "api_key.revoked" as const, keyId: recs[0]!.keyId, keyKind: "issued" as const, actorId: recs[0]!.actorId, source: "admin_api" as const, principal: "", occurredTime: new Date(), payload: {} };
      const outbox = { events: [e], deliveries: [{ eventId: e.id, webhookId: "w", nid, nextAttemptTime: e.occurredTime }], notify: "talos_events" };
      expect(await repo.revokeActiveKey(recs[0]!, 1, "", new Date(), outbox, { channel: "talos_invalidate", payload: "{}" })).toBe(true);
      expect(queries.length).toBe(1);
      expect(queries[0]).toMatch(/^with talos_key as \(update "api_keys" .*pg_notify.*pg_notify/is);

      queries.length = 0;
      await repo.insertKeys(Array.from({ length: 4500 }, () => rec({ nid })));
      expect(queries.length).toBe(3); // chunks stay under the 65535 bind-parameter limit
    });
  });
}

describeStatementCounts("pglite", async () => {
  const pg = await PGlite.create();
  await migratePglite(drizzlePglite({ client: pg }), { migrationsFolder: DEFAULT_MIGRATIONS_FOLDER });
  return { db: (logger) => drizzlePglite({ client: pg, logger }), close: () => pg.close() };
});

describe.skipIf(!PG_DSN)("repo statement counts on PostgreSQL", () => {
  let fresh: Awaited<ReturnType<typeof freshPgDatabase>>;
  let client: postgres.Sql;
  beforeAll(async () => {
    fresh = await freshPgDatabase();
    const s = await openStore(fresh.dsn);
    await s.migrate();
    await s.close();
    client = postgres(fresh.dsn, { onnotice: () => {} });
  });
  afterAll(async () => {
    await client?.end();
    await fresh?.drop();
  });
  describeStatementCounts("postgres", async () => ({
    db: (logger) => drizzlePostgres({ client, logger }),
    close: async () => {},
  }));
});

/* ------------------------------------------------------------------ embedded-only behaviour */

describe("pglite directory lock", () => {
  it("a second open of the same directory fails naming it; reopening after close works and data persisted", async () => {
    const dir = path.join(tmpDir(), "data");
    const s1 = await openStore(`pglite://${dir}`);
    const nid = randomUUID();
    const r = rec({ nid, metadata: { persisted: true } });
    await s1.repo.insertKey(r);
    await expect(openStore(`pglite://${dir}`)).rejects.toThrow(`database directory ${dir} is locked by another talos process`);
    // the failed attempt did not disturb the holder
    expect(await s1.repo.getKey(nid, r.keyId)).toEqual(r);
    await s1.close();
    await s1.close(); // idempotent
    expect(fs.existsSync(path.join(dir, ".talos.lock"))).toBe(false);

    const s2 = await openStore(`pglite://${dir}`);
    expect(await s2.repo.getKey(nid, r.keyId)).toEqual(r);
    expect((await s2.migrationStatus()).every((m) => m.appliedAt !== null)).toBe(true);
    await s2.close();
  });

  it("a second process fails at start-up with the directory in the message", async () => {
    const dir = path.join(tmpDir(), "data");
    const s = await openStore(`pglite://${dir}`);
    try {
      const script = `import { openStore } from ${JSON.stringify(path.join(REPO_ROOT, "packages/core/src/store/index.ts"))};
        try { await openStore(${JSON.stringify(`pglite://${dir}`)}); console.log("OPENED"); process.exit(0); }
        catch (e) { console.log("ERR " + e.message); process.exit(3); }`;
      const out = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        cwd: REPO_ROOT,
      }).then(
        () => ({ code: 0, stdout: "" }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
      expect(out.code).toBe(3);
      expect(out.stdout.trim()).toBe(`ERR database directory ${dir} is locked by another talos process`);
    } finally {
      await s.close();
    }
  });

  it("relative pglite:// paths resolve against the working directory", async () => {
    const base = tmpDir();
    const cwd = process.cwd();
    process.chdir(base);
    try {
      const s = await openStore("pglite://./rel");
      await s.close();
    } finally {
      process.chdir(cwd);
    }
    expect(fs.existsSync(path.join(base, "rel", "PG_VERSION"))).toBe(true);
  });

  it("takes over a stale lock (dead pid, or an old heartbeat from another namespace) but not a live one", async () => {
    const dir = path.join(tmpDir(), "data");
    fs.mkdirSync(dir, { recursive: true });
    const lockFile = path.join(dir, ".talos.lock");
    const bootId = fs.existsSync("/proc/sys/kernel/random/boot_id")
      ? fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
      : undefined;
    const pidns = fs.existsSync("/proc/self/ns/pid") ? fs.readlinkSync("/proc/self/ns/pid") : undefined;
    const write = (info: Record<string, unknown>) =>
      fs.writeFileSync(lockFile, JSON.stringify({ host: os.hostname(), boot: bootId, pidns, token: "t", ...info }));

    // a live process holds it
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      write({ pid: child.pid });
      await expect(openStore(`pglite://${dir}`)).rejects.toThrow(`database directory ${dir} is locked by another talos process`);
    } finally {
      child.kill();
    }
    await new Promise((res) => child.once("exit", res));

    // the holder died: stale
    write({ pid: child.pid });
    const logs: string[] = [];
    const s = await openStore(`pglite://${dir}`, { logger: (m) => logs.push(m) });
    expect(logs.some((l) => l.startsWith("removed stale lock"))).toBe(true);
    await s.close();

    // another pid namespace: judged by heartbeat age
    write({ pid: 1, pidns: "pid:[1]", boot: "other-kernel" });
    await expect(openStore(`pglite://${dir}`)).rejects.toThrow("is locked by another talos process");
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(lockFile, old, old);
    const s2 = await openStore(`pglite://${dir}`);
    await s2.close();

    // garbage in the lock file is not a lock
    fs.writeFileSync(lockFile, "not json");
    const s3 = await openStore(`pglite://${dir}`);
    await s3.close();
  });

  it("after close, calls fail with StoreUnavailableError", async () => {
    const s = await openStore("memory");
    await s.close();
    await expect(s.repo.getKey(randomUUID(), "x")).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(s.ping(500)).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

/* ------------------------------------------------------------------ DSNs and errors */

describe("DSN helpers", () => {
  it("classifies DSNs and rejects other schemes without echoing the DSN", () => {
    expect(dsnKind("memory")).toBe("memory");
    expect(dsnKind("pglite://./data")).toBe("pglite");
    expect(dsnKind("pglite:///var/lib/talos")).toBe("pglite");
    expect(dsnKind("postgres://u:p@h/db")).toBe("postgres");
    expect(dsnKind("postgresql://h/db?sslmode=require")).toBe("postgres");
    for (const bad of ["sqlite://x.db", "mysql://u:hunter2@h/db", "", "memory2", "file.db"]) {
      let msg = "";
      try {
        dsnKind(bad);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/use memory, pglite:\/\/<dir>, postgres:\/\/ or postgresql:\/\//);
      expect(msg).not.toContain("hunter2");
    }
  });

  it("redacts passwords", () => {
    expect(redactDsn("postgres://talos:s3cret@db:5432/talos?sslmode=require")).toBe("postgres://talos:***@db:5432/talos?sslmode=require");
    expect(redactDsn("postgres://talos:p@ss:w@rd@db/talos")).toBe("postgres://talos:***@db/talos");
    expect(redactDsn("postgres://talos@db/talos?password=x&sslmode=disable")).toBe("postgres://talos@db/talos?password=***&sslmode=disable");
    expect(redactDsn("postgres://db/talos")).toBe("postgres://db/talos");
    expect(redactDsn("memory")).toBe("memory");
    expect(redactDsn("pglite://./data")).toBe("pglite://./data");
  });

  it("rejects a bad pool_max_conns", async () => {
    await expect(openStore("postgres://127.0.0.1:1/x?pool_max_conns=zero")).rejects.toThrow("pool_max_conns must be a positive integer");
  });

  it("classifies connection errors of both drivers", () => {
    const withCode = (code: string) => Object.assign(new Error("x"), { code });
    for (const c of ["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECT_TIMEOUT", "57P01", "08006", "08001"]) {
      expect(isConnectionError(withCode(c))).toBe(true);
      expect(isConnectionError(new Error("Failed query", { cause: withCode(c) }))).toBe(true);
    }
    expect(isConnectionError(new Error("PGlite is closed"))).toBe(true);
    expect(isConnectionError(new AggregateError([withCode("ECONNREFUSED")]))).toBe(true);
    for (const c of ["23505", "22P02", "57014", "42P01"]) expect(isConnectionError(withCode(c))).toBe(false);
    expect(isConnectionError(new Error("boom"))).toBe(false);
  });
});

/* ------------------------------------------------------------------ PostgreSQL-only behaviour */

/** A TCP proxy in front of the PostgreSQL server that the test can take down and bring back. */
function tcpProxy(target: { host: string; port: number }) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  return {
    get port() {
      return port;
    },
    async start() {
      server = createServer((client) => {
        const upstream = new Socket();
        upstream.connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {});
        }
        client.pipe(upstream).pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      await new Promise<void>((res) => server!.listen(port, "127.0.0.1", res));
      port = (server.address() as AddressInfo).port;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server?.close(() => res()) ?? res());
    },
  };
}

describe.skipIf(!PG_DSN)("PostgreSQL-only behaviour", () => {
  let fresh: Awaited<ReturnType<typeof freshPgDatabase>>;
  beforeAll(async () => {
    fresh = await freshPgDatabase();
  });
  afterAll(async () => {
    await fresh?.drop();
  });

  it("a fresh database shows pending migrations; concurrent migrate() calls apply each once", async () => {
    const a = await openStore(fresh.dsn);
    const b = await openStore(fresh.dsn);
    try {
      const before = await a.migrationStatus();
      expect(before.length).toBeGreaterThan(0);
      for (const m of before) expect(m.appliedAt).toBeNull();
      await expect(a.repo.getKey(randomUUID(), "x")).rejects.toBeInstanceOf(StoreError); // no table yet

      const logs: string[] = [];
      const c = await openStore(fresh.dsn, { logger: (m) => logs.push(m) });
      await Promise.all([a.migrate(), b.migrate(), c.migrate()]);
      await c.close();
      const after = await b.migrationStatus();
      expect(after.map((m) => m.name)).toEqual(before.map((m) => m.name));
      for (const m of after) expect(m.appliedAt).toBeInstanceOf(Date);

      const admin = postgres(fresh.dsn, { max: 1, onnotice: () => {} });
      const rows = await admin`select count(*)::int as n from drizzle.__drizzle_migrations`;
      const nets = await admin`select nid from networks`;
      await admin.end();
      expect(rows[0]?.n).toBe(before.length);
      expect(nets.map((r) => r.nid)).toEqual(["00000000-0000-0000-0000-000000000000"]);
      await a.ping(2000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("consumes pool_max_conns and never opens more connections", async () => {
    const app = `talos_pool_${randomUUID().slice(0, 8)}`;
    const u = new URL(fresh.dsn);
    u.searchParams.set("pool_max_conns", "2");
    u.searchParams.set("application_name", app);
    const s = await openStore(u.toString(), { poolMax: 9 });
    const admin = postgres(PG_DSN!, { max: 1, onnotice: () => {} });
    try {
      await Promise.all(Array.from({ length: 20 }, () => s.repo.getKeys(randomUUID(), ["a", "b"])));
      const rows = await admin`select count(*)::int as n from pg_stat_activity where application_name = ${app}`;
      expect(rows[0]?.n).toBeGreaterThanOrEqual(1);
      expect(rows[0]?.n).toBeLessThanOrEqual(2);
    } finally {
      await admin.end();
      await s.close();
    }
  });

  it("statement_timeout surfaces as StatementTimeoutError", async () => {
    const holder = await openStore(fresh.dsn);
    const impatient = await openStore(fresh.dsn, { statementTimeoutMs: 200 });
    const nid = randomUUID();
    const r = rec({ nid });
    await holder.repo.insertKey(r);
    let release!: () => void;
    const held = new Promise<void>((res) => (release = res));
    let locked!: () => void;
    const isLocked = new Promise<void>((res) => (locked = res));
    const tx = holder.transaction(async (repo) => {
      await repo.getKeyForUpdate(nid, r.keyId);
      locked();
      await held;
    });
    try {
      await isLocked;
      const err = await impatient.transaction((repo) => repo.getKeyForUpdate(nid, r.keyId)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StatementTimeoutError);
      expect((err as Error).message).toBe("database statement timeout");
    } finally {
      release();
      await tx;
      await holder.close();
      await impatient.close();
    }
  });

  it("survives losing the server, reports it as unavailable, and recovers (LISTEN included)", async () => {
    const target = new URL(PG_DSN!);
    const proxy = tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.start();
    const u = new URL(fresh.dsn);
    u.host = `127.0.0.1:${proxy.port}`;
    const s = await openStore(u.toString());
    try {
      await s.migrate(); // owns its schema: does not rely on the migration test running first
      await s.ping(2000);
      const nid = randomUUID();
      const r = rec({ nid });
      expect(await s.repo.insertKey(r)).toBe(true);
      const got: string[] = [];
      let reconnects = 0;
      const unlisten = await s.listen("talos_test_proxy", (p) => got.push(p), () => reconnects++);

      await proxy.stop();
      const e1 = await s.repo.getKey(nid, r.keyId).catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(StoreUnavailableError);
      expect((e1 as Error).message).toBe("database unavailable");
      await expect(s.ping(1000)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(s.transaction((repo) => repo.getKey(nid, r.keyId))).rejects.toBeInstanceOf(StoreUnavailableError);

      await proxy.start(); // same port
      await waitFor(() => reconnects > 0, 20_000);
      // a pooled connection still in its reconnect back-off (capped at 1 s) may fail a call or two
      // with ECONNREFUSED, as unavailable; within 3 s the pool serves again
      const failures: unknown[] = [];
      let back: unknown;
      for (const end = Date.now() + 3000; back === undefined && Date.now() < end; ) {
        back = await s.repo.getKey(nid, r.keyId).catch((e: unknown) => (failures.push(e), undefined));
        if (back === undefined) await sleep(50);
      }
      for (const f of failures) expect(f).toBeInstanceOf(StoreUnavailableError);
      console.info(`[store] calls failed after the server came back: ${failures.length}`);
      expect(back).toEqual(r);
      await s.ping(2000);
      await s.repo.notify("talos_test_proxy", "back");
      await waitFor(() => got.includes("back"));
      await unlisten();
    } finally {
      await s.close();
      await proxy.stop();
    }
  });

  it("a backend killed by the server (57P01) is replaced transparently for later calls", async () => {
    const app = `talos_kill_${randomUUID().slice(0, 8)}`;
    const u = new URL(fresh.dsn);
    u.searchParams.set("application_name", app);
    const s = await openStore(u.toString(), { poolMax: 1 });
    const admin = postgres(PG_DSN!, { max: 1, onnotice: () => {} });
    try {
      await s.ping(2000);
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${app}`;
      await sleep(100);
      // the first call may see the dead connection; the pool then reconnects
      let ok = false;
      for (let i = 0; i < 3 && !ok; i++) {
        try {
          await s.ping(2000);
          ok = true;
        } catch (e) {
          expect(e).toBeInstanceOf(StoreUnavailableError);
        }
      }
      expect(ok).toBe(true);
    } finally {
      await admin.end();
      await s.close();
    }
  });
});

describe("schema newer than the binary", () => {
  it("lists migrations applied by a newer talos as unknown", async () => {
    const dir = path.join(tmpDir(), "data");
    const first = await openStore(`pglite://${dir}`);
    await first.close();
    const pg = new PGlite(dir);
    const future = Date.UTC(2099, 0, 1);
    await pg.query(`insert into drizzle.__drizzle_migrations (hash, created_at) values ('from-the-future', ${future})`);
    await pg.close();
    const s = await openStore(`pglite://${dir}`);
    try {
      const states = await s.migrationStatus();
      const unknown = states.filter((m) => m.unknown);
      expect(unknown).toHaveLength(1);
      expect(unknown[0]!.name).toContain("2099-01-01");
      expect(states.filter((m) => !m.unknown).every((m) => m.appliedAt instanceof Date)).toBe(true);
    } finally {
      await s.close();
    }
  });
});
