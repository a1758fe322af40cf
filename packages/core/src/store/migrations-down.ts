import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { wrapDbError } from "./errors.js";
import { ensureMigrationsTable, migrationStatus, readJournal, type JournalEntry } from "./migrations.js";
import type { AnyPgDatabase } from "./repo.js";

const TABLE = sql`${sql.identifier("drizzle")}.${sql.identifier("__drizzle_migrations")}`;
const BREAKPOINT = "--> statement-breakpoint";

/** A refusal with a message for the operator (no driver text in it). */
export class MigrationError extends Error {
  override name = "MigrationError";
}

/** Our own refusals pass through; anything from the driver is redacted (its text may hold data). */
export const wrapMigrationError = (e: unknown): Error => (e instanceof MigrationError ? e : wrapDbError(e));

/** `drizzle/down/<tag>.sql`: every migration has one (docs/migrations.md); a missing one is a packaging bug. */
export function downScriptPath(folder: string, tag: string): string {
  return path.join(folder, "down", `${tag}.sql`);
}

function readDownScript(folder: string, tag: string): string[] {
  const file = downScriptPath(folder, tag);
  if (!fs.existsSync(file)) throw new MigrationError(`migration ${tag} has no down script (${path.join("drizzle", "down", `${tag}.sql`)})`);
  return fs
    .readFileSync(file, "utf8")
    .split(BREAKPOINT)
    .filter((s) => s.trim() !== "");
}

/** The number of journal entries applied, refusing when the database holds migrations this binary does not know. */
async function appliedCount(db: AnyPgDatabase, folder: string, verb: string): Promise<number> {
  const states = await migrationStatus(db, folder);
  if (states.some((m) => m.unknown)) {
    throw new MigrationError(`cannot ${verb}: the database has migrations newer than this talos binary; use the newer binary`);
  }
  return states.filter((m) => m.appliedAt !== null).length;
}

/** Drops the records of every migration after the first `keep` journal entries, so drizzle's migrator re-applies them. */
async function forgetAfter(tx: AnyPgDatabase, journal: JournalEntry[], keep: number): Promise<void> {
  if (keep === 0) await tx.execute(sql`delete from ${TABLE}`);
  else await tx.execute(sql`delete from ${TABLE} where created_at > ${journal[keep - 1]!.when}`);
}

/**
 * Rolls back the newest `steps` applied migrations with their down scripts, newest first, in one
 * transaction together with the migrations table (all or nothing). Returns the tags rolled back.
 */
export async function migrateDown(db: AnyPgDatabase, folder: string, steps: number): Promise<string[]> {
  if (!Number.isInteger(steps) || steps < 1) throw new MigrationError("--steps must be a positive integer");
  const journal = readJournal(folder);
  const applied = await appliedCount(db, folder, "roll back");
  const keep = Math.max(0, applied - steps);
  const undo = journal.slice(keep, applied).reverse();
  const scripts = undo.map((m) => readDownScript(folder, m.tag)); // every script found before anything runs
  if (undo.length === 0) return [];
  await db.transaction(async (tx) => {
    for (const statements of scripts) for (const s of statements) await tx.execute(sql.raw(s));
    await forgetAfter(tx, journal, keep);
  });
  return undo.map((m) => m.tag);
}

/**
 * Records exactly the first `version` migrations as applied, running no SQL: the way out after a
 * migration failed half-way outside a transaction or the schema was repaired by hand.
 */
export async function forceMigrationVersion(db: AnyPgDatabase, folder: string, version: number): Promise<void> {
  const journal = readJournal(folder);
  if (!Number.isInteger(version) || version < 0 || version > journal.length) {
    throw new MigrationError(`version must be between 0 and ${journal.length}`);
  }
  await appliedCount(db, folder, "force a version");
  await ensureMigrationsTable(db);
  await db.transaction(async (tx) => {
    await forgetAfter(tx, journal, version);
    for (const m of journal.slice(0, version)) {
      // the hash drizzle's migrator records: SHA-256 of the up script's text
      const hash = crypto.createHash("sha256").update(fs.readFileSync(path.join(folder, `${m.tag}.sql`))).digest("hex");
      await tx.execute(
        sql`insert into ${TABLE} (hash, created_at) select ${hash}, ${m.when} where not exists (select 1 from ${TABLE} where created_at = ${m.when})`,
      );
    }
  });
}
