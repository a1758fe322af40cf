import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { wrapDbError } from "./errors.js";
import { rowsOf, type AnyPgDatabase } from "./repo.js";
import type { MigrationState } from "./types.js";

/** The repository's drizzle/ folder, resolved from this file so any cwd works. */
export const DEFAULT_MIGRATIONS_FOLDER = fileURLToPath(new URL("../../../../drizzle/", import.meta.url));

const MIGRATIONS_SCHEMA = "drizzle";
const MIGRATIONS_TABLE = "__drizzle_migrations";
/** pg_advisory_lock(int4, int4) key of the migrator: 'talo' and 1. */
export const MIGRATION_LOCK = [0x74616c6f, 1] as const;

export interface JournalEntry {
  tag: string;
  when: number;
}

export function readJournal(folder: string): JournalEntry[] {
  const file = path.join(folder, "meta", "_journal.json");
  const journal = JSON.parse(fs.readFileSync(file, "utf8")) as { entries?: JournalEntry[] };
  return (journal.entries ?? []).map((e) => ({ tag: e.tag, when: Number(e.when) }));
}

/**
 * Drizzle's table records (hash, created_at = the journal's `when`); `applied_at` is our addition
 * (a defaulted column drizzle never names). Like drizzle's migrator, an entry counts as applied when
 * its `when` is not newer than the newest recorded one.
 */
export async function migrationStatus(db: AnyPgDatabase, folder: string): Promise<MigrationState[]> {
  const journal = readJournal(folder);
  let applied = new Map<number, Date | null>();
  try {
    const present = rowsOf(
      await db.execute(sql`select to_regclass(${`${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`}) is not null as present`),
    )[0]?.present;
    if (present === true || present === "t") {
      const rows = rowsOf(
        await db.execute(
          sql`select created_at::text as created_at, to_jsonb(m) ->> 'applied_at' as applied_at from ${sql.identifier(MIGRATIONS_SCHEMA)}.${sql.identifier(MIGRATIONS_TABLE)} m`,
        ),
      );
      applied = new Map(
        rows.map((r) => [Number(r.created_at), typeof r.applied_at === "string" ? new Date(r.applied_at) : null]),
      );
    }
  } catch (e) {
    throw wrapDbError(e);
  }
  const newest = Math.max(-Infinity, ...applied.keys());
  const known = new Set(journal.map((e) => e.when));
  const states: MigrationState[] = journal.map((e) => {
    if (applied.has(e.when)) return { name: e.tag, appliedAt: applied.get(e.when) ?? new Date(e.when) };
    // recorded by drizzle as applied-by-order but without its own row (or before applied_at existed)
    return { name: e.tag, appliedAt: e.when <= newest ? new Date(e.when) : null };
  });
  // Applied by a newer binary: the schema is ahead of this one (docs/server.md#databases-and-migrations wants a warning).
  for (const [when, at] of applied) {
    if (!known.has(when)) states.push({ name: `unknown migration of ${new Date(when).toISOString()}`, appliedAt: at ?? new Date(when), unknown: true });
  }
  return states;
}

export async function ensureMigrationsTable(db: AnyPgDatabase): Promise<void> {
  const table = sql`${sql.identifier(MIGRATIONS_SCHEMA)}.${sql.identifier(MIGRATIONS_TABLE)}`;
  await db.execute(sql`create schema if not exists ${sql.identifier(MIGRATIONS_SCHEMA)}`);
  await db.execute(
    sql`create table if not exists ${table} (id serial primary key, hash text not null, created_at bigint, applied_at timestamptz default now())`,
  );
  // a table created by drizzle-kit itself lacks the column; older rows keep null (time unknown)
  await db.execute(sql`alter table ${table} add column if not exists applied_at timestamptz`);
  await db.execute(sql`alter table ${table} alter column applied_at set default now()`);
}

export function logApplied(before: MigrationState[], after: MigrationState[], log: (m: string) => void): void {
  const pending = new Set(before.filter((m) => m.appliedAt === null).map((m) => m.name));
  for (const m of after) if (pending.has(m.name) && m.appliedAt !== null) log(`applied migration ${m.name}`);
}
