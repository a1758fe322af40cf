import { dsnKind, isStoreError, openStore, type Store } from "@talos/core";
import { resolveDsn, type MigrateOptions } from "./migrate.js";

const usage = (msg: string): number => {
  process.stderr.write(`error: ${msg}\n`);
  return 2;
};

/** Down and force rewrite the schema's history: PostgreSQL only (docs/cli.md#server-commands). */
async function withPostgres(opts: MigrateOptions, verb: string, fn: (store: Store) => Promise<void>): Promise<number> {
  const dsn = resolveDsn(opts);
  if (dsnKind(dsn) !== "postgres") {
    process.stderr.write(
      `error: migrate ${verb} works on PostgreSQL only: the embedded database migrates itself at start-up${dsn.startsWith("pglite") ? " (to start over, remove its data directory)" : ""}\n`,
    );
    return 1;
  }
  const store = await openStore(dsn);
  try {
    await fn(store);
    return 0;
  } catch (e) {
    // a redacted driver summary (SQLSTATE), never the driver's own text
    if (isStoreError(e)) throw new Error(`${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}`);
    throw e;
  } finally {
    await store.close();
  }
}

/** `talos migrate down [--steps N]`: rolls back the newest N applied migrations (default 1) in one transaction. */
export async function migrateDownCommand(opts: MigrateOptions & { steps?: string }): Promise<number> {
  const steps = opts.steps === undefined ? 1 : Number(opts.steps);
  if (!/^\d+$/.test(opts.steps ?? "1") || steps < 1) return usage("--steps must be a positive integer");
  return withPostgres(opts, "down", async (store) => {
    const undone = await store.migrateDown(steps);
    if (undone.length === 0) process.stdout.write("no migration is applied; nothing to roll back\n");
    for (const tag of undone) process.stdout.write(`rolled back ${tag}\n`);
  });
}

/**
 * `talos migrate force <version>`: records the first <version> migrations as applied (the number
 * `migrate status` prints, or a migration name; 0 = none) without running SQL.
 */
export async function migrateForceCommand(version: string, opts: MigrateOptions): Promise<number> {
  return withPostgres(opts, "force", async (store) => {
    const states = await store.migrationStatus();
    const known = states.filter((m) => !m.unknown);
    const byName = known.findIndex((m) => m.name === version);
    const n = byName >= 0 ? byName + 1 : /^\d+$/.test(version) ? Number(version) : Number.NaN;
    if (!(n >= 0 && n <= known.length)) {
      throw new Error(`unknown version "${version}": use 0 to ${known.length} (as "talos migrate status" numbers them) or a migration name`);
    }
    await store.forceMigrationVersion(n);
    process.stdout.write(n === 0 ? "recorded no migration as applied\n" : `recorded migrations up to ${known[n - 1]!.name} as applied\n`);
  });
}
