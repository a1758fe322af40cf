import { sql } from "drizzle-orm";
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { assertChannel, ping, safeCall, type OpenStoreOptions } from "./common.js";
import { containDriverFaults } from "./driver-guard.js";
import { redactDsn, splitPoolMax } from "./dsn.js";
import { wrapDbError } from "./errors.js";
import { ensureMigrationsTable, logApplied, migrationStatus, MIGRATION_LOCK } from "./migrations.js";
import { forceMigrationVersion, migrateDown, wrapMigrationError } from "./migrations-down.js";
import { createRepo } from "./repo.js";
import { poolRepoOptions, runTransaction } from "./transaction.js";
import type { Store, StoreStats } from "./types.js";

const DEFAULT_POOL_MAX = 10;
const CONNECT_TIMEOUT_S = 10;

/**
 * Seconds before the next connection attempt after `retries` failures: the driver's default grows
 * to 20 s, so a server back after a few seconds' outage stayed unused (and /health/ready 503) for
 * as long again; capped at 1 s (with jitter) we are serving again within about a second.
 */
export const reconnectBackoff = (retries: number): number => Math.min(3 ** retries / 100, 1) * (0.5 + Math.random() / 2);

/** A postgres.js pool behind the Store interface; connects lazily, so opening never fails on a down server. */
export function openPostgres(dsn: string, folder: string, opts: OpenStoreOptions, log: (m: string) => void): Store {
  const { url, poolMax } = splitPoolMax(dsn);
  const connection: Record<string, string | number> = { application_name: "talos", TimeZone: "UTC" };
  if (opts.statementTimeoutMs && opts.statementTimeoutMs > 0) connection.statement_timeout = Math.ceil(opts.statementTimeoutMs);
  let client: postgres.Sql;
  try {
    client = postgres(url, {
      max: poolMax ?? opts.poolMax ?? DEFAULT_POOL_MAX,
      onnotice: () => {},
      connect_timeout: CONNECT_TIMEOUT_S,
      connection,
      backoff: reconnectBackoff,
    });
  } catch {
    // the URL parser's message repeats the whole DSN, password included
    throw new Error(`invalid PostgreSQL DSN ${redactDsn(dsn)}`);
  }
  const db = drizzlePostgres({ client });
  let closed: Promise<void> | undefined;
  const stats: StoreStats = { poolMax: client.options.max, inFlight: 0, errors: 0 };
  const releaseGuard = containDriverFaults((f) => {
    stats.errors++;
    log(`postgres driver fault contained (${f.origin}): ${f.name}${f.code ? ` ${f.code}` : ""} at ${f.frame}`);
  });

  return {
    driver: "postgres",
    stats,
    repo: createRepo(db, { ...poolRepoOptions, stats }),
    transaction: (fn) => runTransaction(db, fn, stats, opts.guardTransactions ?? true),
    ping: (timeoutMs) => ping(db, timeoutMs),
    migrationStatus: () => migrationStatus(db, folder),
    migrate: () =>
      underMigrationLock(url, async (mdb) => {
        const before = await migrationStatus(mdb, folder);
        await ensureMigrationsTable(mdb);
        await migratePostgres(mdb, { migrationsFolder: folder });
        logApplied(before, await migrationStatus(mdb, folder), log);
      }),
    migrateDown: (steps) => underMigrationLock(url, (mdb) => migrateDown(mdb, folder, steps)),
    forceMigrationVersion: (version) => underMigrationLock(url, (mdb) => forceMigrationVersion(mdb, folder, version)),
    async listen(channel, onMessage, onReconnect) {
      assertChannel(channel);
      let connects = 0;
      try {
        const meta = await client.listen(
          channel,
          (payload) => safeCall(() => onMessage(payload)),
          () => {
            // postgres.js calls this after every (re)connection of the LISTEN connection
            if (connects++ > 0) {
              log(`LISTEN ${channel}: connection re-established`);
              if (onReconnect) safeCall(onReconnect);
            }
          },
        );
        return async () => {
          await meta.unlisten().catch(() => {});
        };
      } catch (e) {
        throw wrapDbError(e);
      }
    },
    close: () => (closed ??= client.end({ timeout: 5 }).catch(() => {}).finally(releaseGuard)),
  };
}

/**
 * Runs fn on one dedicated connection holding the migrator's advisory lock: the session-level lock
 * and the migration transaction must share it; no statement_timeout, a migration may be slow.
 */
async function underMigrationLock<T>(url: string, fn: (db: PostgresJsDatabase) => Promise<T>): Promise<T> {
  const mig = postgres(url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: CONNECT_TIMEOUT_S,
    connection: { application_name: "talos-migrate", TimeZone: "UTC" },
  });
  const mdb = drizzlePostgres({ client: mig });
  try {
    await mdb.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK[0]}, ${MIGRATION_LOCK[1]})`);
    return await fn(mdb);
  } catch (e) {
    throw wrapMigrationError(e);
  } finally {
    // ending the session releases the advisory lock even if the unlock itself failed
    await mig.end({ timeout: 5 }).catch(() => {});
  }
}
