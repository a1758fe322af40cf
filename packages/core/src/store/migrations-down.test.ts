/**
 * Rolling migrations back and forcing a version, on the embedded database in process (the CLI
 * refuses embedded DSNs; test/e2e/cli-migrate.test.ts drives `talos migrate down|force` on
 * PostgreSQL). Plus the packaging rule: every migration ships its down script.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readJournal } from "./migrations.js";
import { downScriptPath } from "./migrations-down.js";
import { DEFAULT_MIGRATIONS_FOLDER, openStore } from "./open.js";
import type { Store } from "./types.js";

const stores: Store[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function open(folder = DEFAULT_MIGRATIONS_FOLDER): Promise<Store> {
  const s = await openStore("memory", { migrationsFolder: folder });
  stores.push(s);
  return s;
}

/** A copy of drizzle/ plus a second migration 0001_extra (table `extra`) whose down script is `down`. */
function folderWithExtra(down: string | null): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "talos-mig-"));
  dirs.push(dir);
  fs.cpSync(DEFAULT_MIGRATIONS_FOLDER, dir, { recursive: true });
  const journalFile = path.join(dir, "meta", "_journal.json");
  const journal = JSON.parse(fs.readFileSync(journalFile, "utf8"));
  const last = journal.entries.at(-1);
  journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1000, tag: "9999_extra" });
  fs.writeFileSync(journalFile, JSON.stringify(journal));
  fs.writeFileSync(path.join(dir, "9999_extra.sql"), 'CREATE TABLE "extra" ("id" integer);');
  if (down !== null) fs.writeFileSync(path.join(dir, "down", "9999_extra.sql"), down);
  return dir;
}

describe("down scripts", () => {
  it("every migration in drizzle/ has drizzle/down/<tag>.sql, and every down script has its migration", () => {
    const tags = readJournal(DEFAULT_MIGRATIONS_FOLDER).map((e) => e.tag);
    expect(tags.length).toBeGreaterThan(0);
    const missing = tags.filter((t) => !fs.existsSync(downScriptPath(DEFAULT_MIGRATIONS_FOLDER, t)));
    expect(missing, "write drizzle/down/<tag>.sql for each (docs/migrations.md)").toEqual([]);
    const orphans = fs
      .readdirSync(path.join(DEFAULT_MIGRATIONS_FOLDER, "down"))
      .filter((f) => f.endsWith(".sql") && !tags.includes(f.slice(0, -4)));
    expect(orphans).toEqual([]);
  });
});

describe("migrateDown and forceMigrationVersion (embedded database)", () => {
  // the shipped migrations, oldest first
  const TAGS = readJournal(DEFAULT_MIGRATIONS_FOLDER).map((e) => e.tag);
  const newestFirst = [...TAGS].reverse();

  it("down undoes the newest migration and records it as pending; up applies it again", async () => {
    const store = await open();
    const NID = "00000000-0000-0000-0000-000000000000";
    expect(await store.repo.countLiveKeys(NID)).toBe(0);
    expect(await store.migrateDown(1)).toEqual([TAGS.at(-1)]);
    expect((await store.migrationStatus()).map((m) => m.appliedAt === null)).toEqual(TAGS.map((_, i) => i === TAGS.length - 1));
    expect(await store.migrateDown(TAGS.length)).toEqual(newestFirst.slice(1));
    expect((await store.migrationStatus()).map((m) => m.appliedAt)).toEqual(TAGS.map(() => null));
    await expect(store.repo.countLiveKeys(NID), "the keys table is gone").rejects.toThrow();
    await store.migrate();
    const after = await store.migrationStatus();
    expect(after.map((m) => m.name)).toEqual(TAGS);
    expect(after.every((m) => m.appliedAt !== null)).toBe(true);
    expect(await store.repo.countLiveKeys(NID)).toBe(0);
  });

  it("--steps rolls back newest first and stops at none applied", async () => {
    const store = await open(folderWithExtra('DROP TABLE "extra";'));
    expect(await store.migrateDown(TAGS.length + 5)).toEqual(["9999_extra", ...newestFirst]);
    expect(await store.migrateDown(1)).toEqual([]);
    await store.migrate();
    expect((await store.migrationStatus()).every((m) => m.appliedAt !== null)).toBe(true);
  });

  it("a failing down script leaves schema and history untouched (one transaction)", async () => {
    const dir = folderWithExtra('DROP TABLE "extra";\n--> statement-breakpoint\nDROP TABLE "no_such_table";');
    const store = await open(dir);
    await expect(store.migrateDown(1)).rejects.toThrow(/database error/);
    expect((await store.migrationStatus()).every((m) => m.appliedAt !== null)).toBe(true);
    // the first statement's drop was undone too: a plain DROP TABLE "extra" still finds the table
    fs.writeFileSync(path.join(dir, "down", "9999_extra.sql"), 'DROP TABLE "extra";');
    expect(await store.migrateDown(1)).toEqual(["9999_extra"]);
  });

  it("refuses before running anything when a migration has no down script", async () => {
    const store = await open(folderWithExtra(null));
    await expect(store.migrateDown(2)).rejects.toThrow("migration 9999_extra has no down script (drizzle/down/9999_extra.sql)");
    expect((await store.migrationStatus()).every((m) => m.appliedAt !== null)).toBe(true);
  });

  it("refuses when the database has migrations this binary does not know", async () => {
    const dir = folderWithExtra('DROP TABLE "extra";');
    const store = await open(dir);
    // this binary's journal lacks the applied 9999_extra: a newer talos migrated the database
    const journalFile = path.join(dir, "meta", "_journal.json");
    const journal = JSON.parse(fs.readFileSync(journalFile, "utf8"));
    journal.entries.pop();
    fs.writeFileSync(journalFile, JSON.stringify(journal));
    await expect(store.migrateDown(1)).rejects.toThrow(/newer than this talos binary/);
    await expect(store.forceMigrationVersion(0)).rejects.toThrow(/newer than this talos binary/);
  });

  it("force records exactly the first N migrations without running SQL", async () => {
    const store = await open(folderWithExtra('DROP TABLE "extra";'));
    const all = TAGS.length + 1; // with 9999_extra
    const pending = async () => (await store.migrationStatus()).map((m) => m.appliedAt === null);
    await store.forceMigrationVersion(1);
    expect(await pending()).toEqual(Array.from({ length: all }, (_, i) => i >= 1));
    await store.forceMigrationVersion(0);
    expect(await pending()).toEqual(Array.from({ length: all }, () => true));
    await store.forceMigrationVersion(all);
    expect(await pending()).toEqual(Array.from({ length: all }, () => false));
    // no SQL ran: the keys table is still there and usable
    expect(await store.repo.countLiveKeys("00000000-0000-0000-0000-000000000000")).toBe(0);
    await expect(store.forceMigrationVersion(all + 1)).rejects.toThrow(`version must be between 0 and ${all}`);
  });
});
