import { openStore, redactDsn, TalosError, type Config, type Store } from "@talos/core";
import type { Logger } from "@talos/http";
import { StartupError } from "./errors.js";

const SCHEMA_BEHIND = 'database schema is behind: run "talos migrate up" (or start with --migrate)';

/** Opens the database and checks (or, with `migrate`, applies) the PostgreSQL migrations. */
export async function openDatabase(config: Config, logger: Logger, opts: { migrate: boolean; production: boolean }): Promise<Store> {
  // the transaction guard is a development aid with a per-promise cost (see OpenStoreOptions)
  const store = await openStore(config.db.dsn, { logger: (msg) => logger.info({}, msg), guardTransactions: !opts.production });
  logger.info({ dsn: redactDsn(config.db.dsn), driver: store.driver }, "database opened");
  try {
    if (store.driver === "postgres") {
      const states = await store.migrationStatus();
      if (states.some((m) => m.unknown)) logger.warn({}, "database schema is newer than this talos binary: upgrade talos");
      const pending = states.filter((m) => m.appliedAt === null);
      if (pending.length > 0) {
        if (!(opts.migrate || config.db.migrate_on_start)) throw new StartupError(SCHEMA_BEHIND);
        await store.migrate();
        logger.info({ applied: pending.length }, "migrations applied");
      }
    }
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/** Readiness of the database: it answers within 2 s and (PostgreSQL) the schema is current. */
export async function databaseReady(store: Store): Promise<void> {
  await store.ping(2000);
  if (store.driver === "postgres") {
    const pending = (await store.migrationStatus()).some((m) => m.appliedAt === null);
    if (pending) throw new TalosError("service_unavailable", "database schema is behind");
  }
}
