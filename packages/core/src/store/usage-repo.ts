import { and, asc, eq, gte, lt, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { keyUsage } from "./schema.js";
import type { UsageCount } from "./types.js";

/** The pool handle or a transaction handle of either driver (as repo.ts's AnyPgDatabase, without importing it back). */
type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any, any>;

/** Rows per upsert: 5 columns x 5000 stays well under the 65535 bind-parameter limit. */
const CHUNK = 5000;

/** docs/observability.md#usage-history: counts are added, so every instance's flushes sum up. */
export async function addUsage(db: AnyPgDatabase, rows: UsageCount[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db
      .insert(keyUsage)
      .values(rows.slice(i, i + CHUNK))
      .onConflictDoUpdate({
        target: [keyUsage.nid, keyUsage.keyId, keyUsage.hour, keyUsage.outcome],
        set: { count: sql`${keyUsage.count} + excluded.count` },
      });
  }
}

/** The key's hourly counts with start <= hour < end, oldest first. */
export async function usageOf(db: AnyPgDatabase, nid: string, keyId: string, start: Date, end: Date): Promise<UsageCount[]> {
  return db
    .select()
    .from(keyUsage)
    .where(and(eq(keyUsage.nid, nid), eq(keyUsage.keyId, keyId), gte(keyUsage.hour, start), lt(keyUsage.hour, end)))
    .orderBy(asc(keyUsage.hour), asc(keyUsage.outcome));
}

/** Deletes every count older than `before`; returns how many rows went. */
export async function pruneUsage(db: AnyPgDatabase, before: Date): Promise<number> {
  const gone = await db.delete(keyUsage).where(lt(keyUsage.hour, before)).returning({ hour: keyUsage.hour });
  return gone.length;
}
