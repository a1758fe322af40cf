import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { assertChannel, ping, safeCall, type OpenStoreOptions } from "./common.js";
import { acquireDirLock, type DirLock } from "./dir-lock.js";
import { wrapDbError } from "./errors.js";
import { ensureMigrationsTable, logApplied, migrationStatus } from "./migrations.js";
import { forceMigrationVersion, migrateDown, wrapMigrationError } from "./migrations-down.js";
import { createRepo } from "./repo.js";
import { assertOutsideTransaction, poolRepoOptions, runTransaction } from "./transaction.js";
import type { Store, StoreStats } from "./types.js";

/** Opens the embedded database (in memory when `dataDir` is undefined) and applies its migrations. */
export async function openPglite(dataDir: string | undefined, folder: string, opts: OpenStoreOptions, log: (m: string) => void): Promise<Store> {
  let lock: DirLock | undefined;
  let pg: PGlite | undefined;
  try {
    if (dataDir !== undefined) {
      fs.mkdirSync(dataDir, { recursive: true });
      lock = acquireDirLock(dataDir, log);
    }
    pg = await PGlite.create(dataDir ? { dataDir } : {});
    const store = pgliteStore(pg, folder, lock, log, opts.guardTransactions ?? true);
    await store.migrate();
    return store;
  } catch (e) {
    await pg?.close().catch(() => {});
    lock?.release();
    throw e;
  }
}

function pgliteStore(pg: PGlite, folder: string, lock: DirLock | undefined, log: (m: string) => void, guard: boolean): Store {
  const db = drizzlePglite({ client: pg });
  let closed: Promise<void> | undefined;
  const stats: StoreStats = { poolMax: 1, inFlight: 0, errors: 0 };
  return {
    driver: "pglite",
    stats,
    repo: createRepo(db, { ...poolRepoOptions, stats }),
    transaction: (fn) => runTransaction(db, fn, stats, guard),
    async ping(timeoutMs) {
      assertOutsideTransaction(); // would wait forever for the transaction's connection
      await ping(db, timeoutMs);
    },
    async migrationStatus() {
      assertOutsideTransaction();
      return migrationStatus(db, folder);
    },
    async migrate() {
      // the directory lock already makes this process the only writer
      const before = await migrationStatus(db, folder);
      try {
        await ensureMigrationsTable(db);
        await migratePglite(db, { migrationsFolder: folder });
      } catch (e) {
        throw wrapDbError(e);
      }
      logApplied(before, await migrationStatus(db, folder), log);
    },
    async migrateDown(steps) {
      assertOutsideTransaction();
      return migrateDown(db, folder, steps).catch((e: unknown) => Promise.reject(wrapMigrationError(e)));
    },
    async forceMigrationVersion(version) {
      assertOutsideTransaction();
      await forceMigrationVersion(db, folder, version).catch((e: unknown) => Promise.reject(wrapMigrationError(e)));
    },
    async listen(channel, onMessage) {
      assertChannel(channel);
      try {
        const unsub = await pg.listen(channel, (payload) => safeCall(() => onMessage(payload)));
        return async () => {
          if (!pg.closed) await unsub().catch(() => {});
        };
      } catch (e) {
        throw wrapDbError(e);
      }
    },
    close: () =>
      (closed ??= (async () => {
        try {
          if (!pg.closed) await pg.close();
        } finally {
          lock?.release();
        }
      })()),
  };
}
