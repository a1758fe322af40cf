import { and, desc, eq, getTableColumns, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { ClaimedDelivery, Delivery, DeliveryState, EventQuery, KeyEvent } from "../events/types.js";
import type { KeyRecord } from "../types.js";
import type { PgDatabase, PgQueryResultHKT, PgTable } from "drizzle-orm/pg-core";
import type { WithSubquery } from "drizzle-orm";
import { apiKeys, eventDeliveries, eventExpiryMarks, events, type EventDeliveryRow, type EventRow } from "./schema.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any, any>;

/** What an expiry event needs of a key. */
export type ExpiringKey = Pick<KeyRecord, "keyId" | "kind" | "actorId" | "expireTime">;

/** Rows of `db.execute()`: postgres.js returns an array, PGlite an object with `rows`. */
function rowsOf(res: unknown): Record<string, unknown>[] {
  if (Array.isArray(res)) return res as Record<string, unknown>[];
  const rows = (res as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
}

/** Rows per multi-row INSERT of events (10 columns): far below the bind-parameter limit. */
const CHUNK = 2000;
/** pg_try_advisory_xact_lock key of the expiry scan and the pruning: 'talo' and 2. */
const SCAN_LOCK = [0x74616c6f, 2] as const;

export interface NewDelivery {
  eventId: string;
  webhookId: string;
  nid: string;
  nextAttemptTime: Date;
}

/** An outbox write to join to the statement of the change it records (Repo.insertKey, Repo.revokeKey). */
export interface OutboxWrite {
  events: KeyEvent[];
  deliveries: NewDelivery[];
  /** pg_notify channel for the dispatchers, sent (on commit) when deliveries were written */
  notify?: string;
}

/**
 * The outbox write as data-modifying CTEs of the change's own statement: PostgreSQL runs them
 * whether or not the main query reads them, so the event costs the transaction no round trip.
 * `undefined` when the write does not fit one statement (the caller writes it separately).
 */
export function outboxCtes(db: AnyPgDatabase, w: OutboxWrite): WithSubquery[] | undefined {
  if (w.events.length === 0 || w.events.length > CHUNK || w.deliveries.length > CHUNK) return undefined;
  // getSQL(): drizzle would parenthesise the builder itself, and `as (( insert … ))` is not SQL
  const ctes: WithSubquery[] = [db.$with("talos_outbox_events", {}).as(db.insert(events).values(w.events).getSQL())];
  if (w.deliveries.length > 0) ctes.push(db.$with("talos_outbox_deliveries", {}).as(db.insert(eventDeliveries).values(w.deliveries).getSQL()));
  return ctes;
}

/**
 * The outbox write as data-modifying CTEs that insert only when `gate`, an earlier CTE of the same
 * statement (the change itself, with RETURNING), returned a row. The statement is the whole change:
 * nothing to undo when the change did not happen, so it needs no transaction of its own.
 * `undefined` when the write does not fit one statement.
 */
export function gatedOutboxCtes(w: OutboxWrite, gate: string): SQL[] | undefined {
  if (w.events.length === 0 || w.events.length > CHUNK || w.deliveries.length > CHUNK) return undefined;
  const ctes = [sql`talos_outbox_events as (${insertIf(events, w.events as unknown as Record<string, unknown>[], gate)})`];
  if (w.deliveries.length > 0)
    ctes.push(sql`talos_outbox_deliveries as (${insertIf(eventDeliveries, w.deliveries as unknown as Record<string, unknown>[], gate)})`);
  return ctes;
}

/**
 * `insert into <table> (<columns>) select * from (values …) v where exists (select 1 from <gate>)`.
 * INSERT … VALUES cannot carry a condition, so the rows become a VALUES list; each parameter is
 * cast to its column's type (a VALUES list outside INSERT would otherwise type them as text) and
 * encoded by its column, as drizzle's own insert does.
 */
function insertIf(table: PgTable, rows: Record<string, unknown>[], gate: string): SQL {
  const columns = getTableColumns(table);
  const keys = Object.keys(rows[0]!).filter((k) => rows[0]![k] !== undefined && columns[k] !== undefined);
  const names = sql.join(
    keys.map((k) => sql.identifier(columns[k]!.name)),
    sql`, `,
  );
  const tuple = (r: Record<string, unknown>) =>
    sql`(${sql.join(
      keys.map((k) => sql`${sql.param(r[k], columns[k])}::${sql.raw(columns[k]!.getSQLType())}`),
      sql`, `,
    )})`;
  return sql`insert into ${table} (${names}) select * from (values ${sql.join(rows.map(tuple), sql`, `)}) as v where exists (select 1 from ${sql.identifier(gate)})`;
}

export interface DeliveryOutcome {
  state: DeliveryState;
  attempts: number;
  nextAttemptTime: Date;
  time: Date;
  status: number | null;
  error: string;
}

export interface DeliveryStats {
  pending: number;
  dead: number;
  /** occurred time of the oldest pending delivery's event, null when none is pending */
  oldestPending: Date | null;
}

/** The outbox's data access (docs/events.md); on a transaction handle every write joins the transaction. */
export interface EventRepo {
  /** Events and their deliveries (and `notify`'s pg_notify, delivered on commit): one statement when they fit in one. */
  insert(evs: KeyEvent[], deliveries: NewDelivery[], notify?: string): Promise<void>;
  /** Deletes events by id (deliveries cascade): undoes an outbox write whose change did not happen. */
  remove(ids: string[]): Promise<void>;
  /** pg_notify(channel, ''): wakes the dispatchers on commit. */
  notify(channel: string): Promise<void>;
  list(nid: string, q: EventQuery): Promise<KeyEvent[]>;
  get(nid: string, id: string): Promise<{ event: KeyEvent; deliveries: Delivery[] } | null>;
  /** Makes every delivery of the event due now (attempts reset); adds rows for `addWebhooks` it lacks. Returns the rows touched. */
  redeliver(nid: string, id: string, addWebhooks: string[], now: Date): Promise<number>;
  /** FOR UPDATE SKIP LOCKED: due pending deliveries of one webhook, leased until `leaseUntil` (inside a transaction). */
  claim(webhookId: string, limit: number, now: Date, leaseUntil: Date): Promise<ClaimedDelivery[]>;
  finish(eventId: string, webhookId: string, o: DeliveryOutcome): Promise<void>;
  stats(): Promise<DeliveryStats>;
  /** Deletes up to `limit` events older than `before` (deliveries cascade); returns how many. */
  prune(before: Date, limit: number): Promise<number>;
  /** pg_try_advisory_xact_lock: true when this transaction now runs the scan alone. */
  tryScanLock(): Promise<boolean>;
  /** Live keys whose expire_time lies in (after, upTo] and that lack `mark`, soonest first. */
  expiryCandidates(nid: string, mark: string, after: Date, upTo: Date, limit: number): Promise<ExpiringKey[]>;
  /** Deletes expiry marks made before `before` (their keys can no longer be candidates). */
  pruneMarks(before: Date): Promise<number>;
  /** Inserts marks; returns the key ids whose `first` mark was new (the ones to emit for). */
  addMarks(nid: string, keyIds: string[], marks: string[]): Promise<Set<string>>;
}

export function eventFromRow(r: EventRow): KeyEvent {
  return {
    id: r.id,
    nid: r.nid,
    type: r.type as KeyEvent["type"],
    keyId: r.keyId,
    keyKind: r.keyKind,
    actorId: r.actorId,
    source: r.source as KeyEvent["source"],
    principal: r.principal,
    occurredTime: r.occurredTime,
    payload: r.payload,
  };
}

function deliveryFromRow(r: EventDeliveryRow): Delivery {
  return {
    eventId: r.eventId,
    webhookId: r.webhookId,
    state: r.state,
    attempts: r.attempts,
    nextAttemptTime: r.nextAttemptTime,
    lastAttemptTime: r.lastAttemptTime,
    lastStatus: r.lastStatus,
    lastError: r.lastError,
    deliveredTime: r.deliveredTime,
  };
}

export function createEventRepo(db: AnyPgDatabase, guard: <T>(fn: () => Promise<T>) => Promise<T>): EventRepo {
  return {
    insert: (evs, deliveries, notify) =>
      guard(async () => {
        // the common case (one change, a few webhooks) costs the change's transaction one round trip
        if (evs.length > 0 && evs.length <= CHUNK && deliveries.length <= CHUNK) {
          // drizzle parenthesises an embedded query itself
          const parts = [sql`e as ${db.insert(events).values(evs)}`];
          if (deliveries.length > 0) parts.push(sql`d as ${db.insert(eventDeliveries).values(deliveries)}`);
          await db.execute(sql`with ${sql.join(parts, sql`, `)} ${notify ? sql`select pg_notify(${notify}, '')` : sql`select 1`}`);
          return;
        }
        for (let i = 0; i < evs.length; i += CHUNK) await db.insert(events).values(evs.slice(i, i + CHUNK));
        for (let i = 0; i < deliveries.length; i += CHUNK) await db.insert(eventDeliveries).values(deliveries.slice(i, i + CHUNK));
        if (notify) await db.execute(sql`select pg_notify(${notify}, '')`);
      }),

    remove: (ids) =>
      guard(async () => {
        if (ids.length > 0) await db.delete(events).where(inArray(events.id, ids));
      }),

    notify: (channel) =>
      guard(async () => {
        await db.execute(sql`select pg_notify(${channel}, '')`);
      }),

    list: (nid, q) =>
      guard(async () => {
        const conds: (SQL | undefined)[] = [eq(events.nid, nid)];
        if (q.types?.length) conds.push(inArray(events.type, q.types));
        if (q.keyId !== undefined) conds.push(eq(events.keyId, q.keyId));
        if (q.actorId !== undefined) conds.push(eq(events.actorId, q.actorId));
        if (q.from) conds.push(gte(events.occurredTime, q.from));
        if (q.to) conds.push(lt(events.occurredTime, q.to));
        if (q.beforeId) conds.push(lt(events.id, q.beforeId));
        const rows = await db
          .select()
          .from(events)
          .where(and(...conds))
          .orderBy(desc(events.id))
          .limit(Math.max(0, Math.floor(q.limit)));
        return rows.map(eventFromRow);
      }),

    get: (nid, id) =>
      guard(async () => {
        const [row] = await db.select().from(events).where(and(eq(events.nid, nid), eq(events.id, id))).limit(1);
        if (!row) return null;
        const ds = await db.select().from(eventDeliveries).where(eq(eventDeliveries.eventId, id)).orderBy(eventDeliveries.webhookId);
        return { event: eventFromRow(row), deliveries: ds.map(deliveryFromRow) };
      }),

    redeliver: (nid, id, addWebhooks, now) =>
      guard(async () => {
        const [row] = await db.select({ id: events.id }).from(events).where(and(eq(events.nid, nid), eq(events.id, id))).limit(1);
        if (!row) return 0;
        if (addWebhooks.length > 0) {
          await db
            .insert(eventDeliveries)
            .values(addWebhooks.map((w) => ({ eventId: id, webhookId: w, nid, nextAttemptTime: now })))
            .onConflictDoNothing();
        }
        const touched = await db
          .update(eventDeliveries)
          .set({ state: "pending", attempts: 0, nextAttemptTime: now, lastError: "" })
          .where(eq(eventDeliveries.eventId, id))
          .returning({ w: eventDeliveries.webhookId });
        return touched.length;
      }),

    claim: (webhookId, limit, now, leaseUntil) =>
      guard(async () => {
        const d = eventDeliveries;
        const res = await db.execute(sql`
          with due as (
            select ${d.eventId} as event_id, ${d.webhookId} as webhook_id from ${d}
            where ${d.webhookId} = ${webhookId} and ${d.state} = 'pending' and ${d.nextAttemptTime} <= ${now.toISOString()}::timestamptz
            order by ${d.nextAttemptTime}
            limit ${limit}
            for update skip locked
          ), leased as (
            update ${d} set next_attempt_time = ${leaseUntil.toISOString()}::timestamptz
            from due where ${d.eventId} = due.event_id and ${d.webhookId} = due.webhook_id
            returning ${d.eventId} as event_id, ${d.attempts} as attempts
          )
          select e.id, e.nid, e.type, e.key_id, e.key_kind, e.actor_id, e.source, e.principal,
                 e.occurred_time::text as occurred_time, e.payload, leased.attempts
          from leased join ${events} e on e.id = leased.event_id
          order by e.id`);
        return rowsOf(res).map((r) => ({
          webhookId,
          attempts: Number(r.attempts),
          event: {
            id: String(r.id),
            nid: String(r.nid),
            type: r.type as KeyEvent["type"],
            keyId: String(r.key_id),
            keyKind: r.key_kind as KeyEvent["keyKind"],
            actorId: String(r.actor_id),
            source: r.source as KeyEvent["source"],
            principal: String(r.principal),
            occurredTime: new Date(String(r.occurred_time)),
            payload: (typeof r.payload === "string" ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
          },
        }));
      }),

    finish: (eventId, webhookId, o) =>
      guard(async () => {
        await db
          .update(eventDeliveries)
          .set({
            state: o.state,
            attempts: o.attempts,
            nextAttemptTime: o.nextAttemptTime,
            lastAttemptTime: o.time,
            lastStatus: o.status,
            lastError: o.error.slice(0, 500),
            deliveredTime: o.state === "delivered" ? o.time : null,
          })
          .where(and(eq(eventDeliveries.eventId, eventId), eq(eventDeliveries.webhookId, webhookId)));
      }),

    stats: () =>
      guard(async () => {
        const res = await db.execute(sql`
          select count(*) filter (where d.state = 'pending') as pending,
                 count(*) filter (where d.state = 'dead') as dead,
                 (select min(e.occurred_time)::text from ${eventDeliveries} p join ${events} e on e.id = p.event_id where p.state = 'pending') as oldest
          from ${eventDeliveries} d where d.state <> 'delivered'`);
        const r = rowsOf(res)[0] ?? {};
        return { pending: Number(r.pending ?? 0), dead: Number(r.dead ?? 0), oldestPending: r.oldest ? new Date(String(r.oldest)) : null };
      }),

    prune: (before, limit) =>
      guard(async () => {
        const res = await db.execute(sql`
          delete from ${events} where id in (
            select id from ${events} where occurred_time < ${before.toISOString()}::timestamptz limit ${limit})
          returning 1`);
        return rowsOf(res).length;
      }),

    tryScanLock: () =>
      guard(async () => {
        const r = rowsOf(await db.execute(sql`select pg_try_advisory_xact_lock(${SCAN_LOCK[0]}, ${SCAN_LOCK[1]}) as ok`))[0];
        return r?.ok === true || r?.ok === "t";
      }),

    expiryCandidates: (nid, mark, after, upTo, limit) =>
      guard(async () => {
        const k = apiKeys;
        const window = and(sql`${k.expireTime} > ${after.toISOString()}::timestamptz`, sql`${k.expireTime} <= ${upTo.toISOString()}::timestamptz`);
        // per kind, so each half walks the (nid, kind, revoked, expire_time) index
        const out: ExpiringKey[] = [];
        for (const kind of ["issued", "imported"] as const) {
          const rows = await db
            .select({ keyId: k.keyId, kind: k.kind, actorId: k.actorId, expireTime: k.expireTime })
            .from(k)
            .where(
              and(
                eq(k.nid, nid),
                eq(k.kind, kind),
                eq(k.revoked, false),
                window,
                sql`not exists (select 1 from ${eventExpiryMarks} m where m.nid = ${k.nid} and m.key_id = ${k.keyId} and m.mark = ${mark})`,
              ),
            )
            .orderBy(k.expireTime)
            .limit(limit - out.length);
          out.push(...rows);
          if (out.length >= limit) break;
        }
        return out;
      }),

    pruneMarks: (before) =>
      guard(async () => {
        const rows = await db.delete(eventExpiryMarks).where(lt(eventExpiryMarks.createTime, before)).returning({ k: eventExpiryMarks.keyId });
        return rows.length;
      }),

    addMarks: (nid, keyIds, marks) =>
      guard(async () => {
        const fresh = new Set<string>();
        if (keyIds.length === 0) return fresh;
        for (const [i, mark] of marks.entries()) {
          const rows = await db
            .insert(eventExpiryMarks)
            .values(keyIds.map((keyId) => ({ nid, keyId, mark })))
            .onConflictDoNothing()
            .returning({ keyId: eventExpiryMarks.keyId });
          if (i === 0) for (const r of rows) fresh.add(r.keyId);
        }
        return fresh;
      }),
  };
}
