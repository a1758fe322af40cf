import { and, asc, eq, gt, is, isNull, lte, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { PgTransaction, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { KeyStatus, type KeyKind, type KeyRecord, type KeyVisibility, type RevocationReason } from "../types.js";
import { wrapDbError } from "./errors.js";
import { addUsage, pruneUsage, usageOf } from "./usage-repo.js";
import { createEventRepo, gatedOutboxCtes, outboxCtes, type EventRepo, type OutboxWrite } from "./events-repo.js";
import { apiKeys, type ApiKeyInsert, type ApiKeyRow } from "./schema.js";
import type { KeyPatch, LastUsedTouch, ListQuery, PgNotification, Repo, StoreStats } from "./types.js";

/** The pool handle or a transaction handle of either driver. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any, any>;

/** Rows per multi-row INSERT: 21 columns x 2000 stays well under the 65535 bind-parameter limit. */
const INSERT_CHUNK = 2000;

export function rowToRecord(r: ApiKeyRow): KeyRecord {
  return {
    nid: r.nid,
    kind: r.kind,
    keyId: r.keyId,
    name: r.name,
    actorId: r.actorId,
    scopes: r.scopes,
    metadata: r.metadata ?? null,
    createTime: r.createTime,
    updateTime: r.updateTime,
    expireTime: r.expireTime,
    lastUsedTime: r.lastUsedTime,
    rateLimitPolicy:
      r.rateLimitQuota === null
        ? null
        : { quota: r.rateLimitQuota, windowSeconds: r.rateLimitWindowSeconds ?? 0, unit: r.rateLimitUnit ?? "" },
    allowedCidrs: r.allowedCidrs && r.allowedCidrs.length > 0 ? r.allowedCidrs : null,
    revoked: r.revoked,
    revocationReason: r.revocationReason as RevocationReason,
    revocationDescription: r.revocationDescription,
    visibility: r.visibility as KeyVisibility,
    requestId: r.requestId,
    requestFingerprint: r.requestFingerprint,
  };
}

export function recordToRow(rec: KeyRecord): ApiKeyInsert {
  const p = rec.rateLimitPolicy;
  return {
    nid: rec.nid,
    keyId: rec.keyId,
    kind: rec.kind,
    name: rec.name,
    actorId: rec.actorId,
    scopes: rec.scopes,
    metadata: rec.metadata,
    createTime: rec.createTime,
    updateTime: rec.updateTime,
    expireTime: rec.expireTime,
    lastUsedTime: rec.lastUsedTime,
    rateLimitQuota: p ? p.quota : null,
    rateLimitWindowSeconds: p ? p.windowSeconds : null,
    rateLimitUnit: p ? p.unit : null,
    allowedCidrs: rec.allowedCidrs && rec.allowedCidrs.length > 0 ? rec.allowedCidrs : null,
    revoked: rec.revoked,
    revocationReason: rec.revocationReason,
    revocationDescription: rec.revocationDescription,
    visibility: rec.visibility,
    requestId: rec.requestId,
    requestFingerprint: rec.requestFingerprint,
  };
}

/** Rows of `db.execute()`: postgres.js returns an array, PGlite an object with `rows`. */
export function rowsOf(res: unknown): Record<string, unknown>[] {
  if (Array.isArray(res)) return res as Record<string, unknown>[];
  const rows = (res as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
}

export interface RepoOptions {
  /** Runs before every call; throwing rejects the call (transaction.ts uses it to catch the pool repo used inside a transaction). */
  beforeCall?: () => void;
  /** counters updated around every call (metrics) */
  stats?: StoreStats;
}

const utcDay = (d: Date): number => Math.floor(d.getTime() / 86_400_000);

/** Keeps one touch per key: the first use on the latest UTC day (what sequential writes would leave). */
function dedupeTouches(entries: LastUsedTouch[]): LastUsedTouch[] {
  const byKey = new Map<string, LastUsedTouch>();
  for (const e of entries) {
    const k = `${e.nid}\u0000${e.keyId}`;
    const prev = byKey.get(k);
    if (
      !prev ||
      utcDay(e.time) > utcDay(prev.time) ||
      (utcDay(e.time) === utcDay(prev.time) && e.time.getTime() < prev.time.getTime())
    ) {
      byKey.set(k, e);
    }
  }
  return [...byKey.values()];
}

function statusCondition(status: number | undefined, now: Date): SQL | undefined {
  switch (status) {
    case KeyStatus.ACTIVE:
      return and(eq(apiKeys.revoked, false), or(isNull(apiKeys.expireTime), gt(apiKeys.expireTime, now)));
    case KeyStatus.EXPIRED:
      return and(eq(apiKeys.revoked, false), lte(apiKeys.expireTime, now));
    case KeyStatus.REVOKED:
      return eq(apiKeys.revoked, true);
    default:
      return undefined;
  }
}

/**
 * Repo over one drizzle handle (pool or transaction, PGlite or postgres.js). The lookups used by
 * verification are prepared once per repo: postgres.js then keeps a named server-side statement per
 * connection, so a hit is Bind/Execute only.
 */
export function createRepo(db: AnyPgDatabase, opts: RepoOptions = {}): Repo {
  const inTx = is(db, PgTransaction);
  const beforeCall = opts.beforeCall;
  const stats = opts.stats;
  async function guard<T>(fn: () => Promise<T>): Promise<T> {
    beforeCall?.();
    if (stats) stats.inFlight++;
    try {
      return await fn();
    } catch (e) {
      if (stats) stats.errors++;
      throw wrapDbError(e);
    } finally {
      if (stats) stats.inFlight--;
    }
  }
  const byId = and(eq(apiKeys.nid, sql.placeholder("nid")), eq(apiKeys.keyId, sql.placeholder("keyId")));

  let getKeyQ: { execute(p: Record<string, unknown>): Promise<ApiKeyRow[]> } | undefined;
  let getKeysQ: { execute(p: Record<string, unknown>): Promise<ApiKeyRow[]> } | undefined;
  const getKeyStmt = () =>
    (getKeyQ ??= db.select().from(apiKeys).where(byId).limit(1).prepare("talos_get_key"));
  const getKeysStmt = () =>
    (getKeysQ ??= db
      .select()
      .from(apiKeys)
      .where(
        and(
          eq(apiKeys.nid, sql.placeholder("nid")),
          sql`${apiKeys.keyId} = any(${sql.placeholder("keyIds")}::text[])`,
        ),
      )
      .prepare("talos_get_keys"));

  const whereKey = (nid: string, keyId: string) => and(eq(apiKeys.nid, nid), eq(apiKeys.keyId, keyId));

  const events = createEventRepo(db, guard);

  /**
   * A change of one key row (`change`: an INSERT or UPDATE … RETURNING key_id) with its outbox write
   * and notifications, true when it touched a row. Usually one statement: the change as a CTE, the
   * event and deliveries inserted only if it returned a row, the pg_notify calls selected from it.
   * Atomic on its own, so the pool handle runs it without a transaction (one round trip instead of
   * BEGIN, …, COMMIT).
   */
  async function changeWithOutbox(change: (h: AnyPgDatabase) => SQLWrapper, outbox?: OutboxWrite, notify?: PgNotification): Promise<boolean> {
    const gated = outbox ? gatedOutboxCtes(outbox, "talos_key") : [];
    const wakes: SQL[] = [];
    if (notify) wakes.push(sql`, pg_notify(${notify.channel}, ${notify.payload})`);
    if (outbox?.notify && outbox.deliveries.length > 0) wakes.push(sql`, pg_notify(${outbox.notify}, '')`);
    if (gated) {
      const ctes = gated.length > 0 ? sql`, ${sql.join(gated, sql`, `)}` : sql``;
      const res = await db.execute(sql`with talos_key as ${change(db)}${ctes} select key_id${sql.join(wakes)} from talos_key`);
      return rowsOf(res).length === 1;
    }
    // an outbox too large for one statement: several, in a transaction of their own if need be
    const several = async (h: AnyPgDatabase, ev: EventRepo) => {
      await ev.insert(outbox!.events, outbox!.deliveries);
      const res = await h.execute(sql`with talos_key as ${change(h)} select key_id${sql.join(wakes)} from talos_key`);
      const changed = rowsOf(res).length === 1;
      if (!changed) await ev.remove(outbox!.events.map((e) => e.id));
      return changed;
    };
    return inTx ? several(db, events) : db.transaction((tx) => several(tx, createEventRepo(tx, (fn) => fn())));
  }

  return {
    events,

    insertKey: (rec, outbox) =>
      guard(async () => {
        const insert = (h: AnyPgDatabase) => h.insert(apiKeys).values(recordToRow(rec)).onConflictDoNothing().returning({ keyId: apiKeys.keyId });
        if (!outbox) return (await insert(db)).length === 1;
        return changeWithOutbox(insert, outbox);
      }),

    insertKeys: (recs) =>
      guard(async () => {
        const inserted = new Set<string>();
        for (let i = 0; i < recs.length; i += INSERT_CHUNK) {
          const chunk = recs.slice(i, i + INSERT_CHUNK).map(recordToRow);
          const rows = await db.insert(apiKeys).values(chunk).onConflictDoNothing().returning({ keyId: apiKeys.keyId });
          for (const r of rows) inserted.add(r.keyId);
        }
        return inserted;
      }),

    getKey: (nid, keyId) =>
      guard(async () => {
        const rows = await getKeyStmt().execute({ nid, keyId });
        const r = rows[0];
        return r ? rowToRecord(r) : null;
      }),

    getKeyForUpdate: (nid, keyId) =>
      guard(async () => {
        if (!inTx) {
          const r = (await getKeyStmt().execute({ nid, keyId }))[0];
          return r ? rowToRecord(r) : null;
        }
        const rows = await db.select().from(apiKeys).where(whereKey(nid, keyId)).limit(1).for("update");
        const r = rows[0];
        return r ? rowToRecord(r) : null;
      }),

    getKeys: (nid, keyIds) =>
      guard(async () => {
        if (keyIds.length === 0) return [];
        const rows = await getKeysStmt().execute({ nid, keyIds: [...new Set(keyIds)] });
        return rows.map(rowToRecord);
      }),

    getKeysByRequestIds: (nid: string, kind: KeyKind, requestIds: string[]) =>
      guard(async () => {
        if (requestIds.length === 0) return [];
        const rows = await db
          .select()
          .from(apiKeys)
          .where(
            and(
              eq(apiKeys.nid, nid),
              eq(apiKeys.kind, kind),
              sql`${apiKeys.requestId} = any(${sql.param([...new Set(requestIds)])}::text[])`,
            ),
          );
        return rows.map(rowToRecord);
      }),

    listKeys: (nid: string, q: ListQuery) =>
      guard(async () => {
        // key_id is declared COLLATE "C", so both the comparison and the ORDER BY are byte order
        const conds: (SQL | undefined)[] = [eq(apiKeys.nid, nid), eq(apiKeys.kind, q.kind)];
        if (q.actorId !== undefined) conds.push(eq(apiKeys.actorId, q.actorId));
        if (q.afterKeyId !== undefined && q.afterKeyId !== "") conds.push(gt(apiKeys.keyId, q.afterKeyId));
        conds.push(statusCondition(q.status, new Date(q.now)));
        const rows = await db
          .select()
          .from(apiKeys)
          .where(and(...conds))
          .orderBy(asc(apiKeys.keyId))
          .limit(Math.max(0, Math.floor(q.limit)));
        return rows.map(rowToRecord);
      }),

    updateKey: (nid: string, keyId: string, patch: KeyPatch) =>
      guard(async () => {
        const set: Partial<ApiKeyInsert> = { updateTime: patch.updateTime };
        if (patch.name !== undefined) set.name = patch.name;
        if (patch.scopes !== undefined) set.scopes = patch.scopes;
        if (patch.metadata !== undefined) set.metadata = patch.metadata;
        if (patch.rateLimitPolicy !== undefined) {
          const p = patch.rateLimitPolicy;
          set.rateLimitQuota = p ? p.quota : null;
          set.rateLimitWindowSeconds = p ? p.windowSeconds : null;
          set.rateLimitUnit = p ? p.unit : null;
        }
        if (patch.allowedCidrs !== undefined) {
          set.allowedCidrs = patch.allowedCidrs && patch.allowedCidrs.length > 0 ? patch.allowedCidrs : null;
        }
        const rows = await db.update(apiKeys).set(set).where(whereKey(nid, keyId)).returning();
        const r = rows[0];
        return r ? rowToRecord(r) : null;
      }),

    revokeKey: (nid: string, keyId: string, reason: RevocationReason, description: string, now: Date, outbox?: OutboxWrite) =>
      guard(async () => {
        const ctes = outbox && outboxCtes(db, outbox);
        if (outbox && !ctes) await events.insert(outbox.events, outbox.deliveries);
        const rows = await (ctes ? db.with(...ctes) : db)
          .update(apiKeys)
          .set({ revoked: true, revocationReason: reason, revocationDescription: description, updateTime: now })
          .where(whereKey(nid, keyId))
          .returning();
        const r = rows[0];
        if (outbox && !r) await events.remove(outbox.events.map((e) => e.id));
        else if (outbox?.notify && outbox.deliveries.length > 0) await events.notify(outbox.notify);
        return r ? rowToRecord(r) : null;
      }),

    revokeActiveKey: (key, reason, description, now, outbox, notify) =>
      guard(() =>
        changeWithOutbox(
          (h) =>
            h
              .update(apiKeys)
              .set({ revoked: true, revocationReason: reason, revocationDescription: description, updateTime: now })
              // The extra conditions are IS NOT DISTINCT FROM, which no index serves: written as `=`, the
              // planner took the (nid, kind) prefix of another index and scanned every key of the kind.
              .where(
                and(
                  whereKey(key.nid, key.keyId),
                  sql`(${apiKeys.kind}, ${apiKeys.actorId}, ${apiKeys.revoked}) is not distinct from (${key.kind}, ${key.actorId}, false)`,
                ),
              )
              .returning({ keyId: apiKeys.keyId }),
          outbox,
          notify,
        ),
      ),

    deleteKey: (nid, keyId) =>
      guard(async () => {
        const rows = await db.delete(apiKeys).where(whereKey(nid, keyId)).returning({ keyId: apiKeys.keyId });
        return rows.length > 0;
      }),

    countLiveKeys: (nid) =>
      guard(async () => {
        const rows = await db
          .select({ n: sql<number>`count(*)`.mapWith(Number) })
          .from(apiKeys)
          .where(and(eq(apiKeys.nid, nid), eq(apiKeys.revoked, false)));
        return rows[0]?.n ?? 0;
      }),

    touchLastUsed: (entries) =>
      guard(async () => {
        if (entries.length === 0) return 0;
        const list = dedupeTouches(entries);
        const nids = list.map((e) => e.nid);
        const ids = list.map((e) => e.keyId);
        const times = list.map((e) => e.time.toISOString());
        // timestamps travel as text[]: drizzle turns off postgres.js's timestamptz[] serializer
        const res = await db.execute(sql`
          update ${apiKeys} as k set last_used_time = v.t
          from unnest(${sql.param(nids)}::uuid[], ${sql.param(ids)}::text[], ${sql.param(times)}::text[]::timestamptz[]) as v(nid, key_id, t)
          where k.nid = v.nid and k.key_id = v.key_id
            and (k.last_used_time is null
                 or date_trunc('day', k.last_used_time at time zone 'UTC') < date_trunc('day', v.t at time zone 'UTC'))
          returning 1`);
        return rowsOf(res).length;
      }),

    notify: (channel, payload) =>
      guard(async () => {
        await db.execute(sql`select pg_notify(${channel}, ${payload})`);
      }),

    addUsage: (rows) => guard(() => addUsage(db, rows)),
    usageOf: (nid, keyId, start, end) => guard(() => usageOf(db, nid, keyId, start, end)),
    pruneUsage: (before) => guard(() => pruneUsage(db, before)),
  };
}
