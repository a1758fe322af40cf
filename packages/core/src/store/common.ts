import { sql } from "drizzle-orm";
import { StoreUnavailableError } from "./errors.js";
import type { AnyPgDatabase } from "./repo.js";

export interface OpenStoreOptions {
  /** PostgreSQL pool size when the DSN has no `pool_max_conns` (default 10). */
  poolMax?: number;
  /** PostgreSQL `statement_timeout` for pool connections (not for migrations); 0 or absent = server default. */
  statementTimeoutMs?: number;
  /** Operational notes (stale lock taken over, migration applied, LISTEN reconnected). Never driver text. */
  logger?: (msg: string) => void;
  /** Folder holding the drizzle-kit migrations; defaults to the repository's `drizzle/`. */
  migrationsFolder?: string;
  /**
   * Refuse the pool repo inside a transaction callback (default true). It needs AsyncLocalStorage,
   * which in Node 20 hooks every promise of the process (a few % of a cache-warm verify), so
   * production (NODE_ENV=production) turns it off; development and the tests keep it.
   */
  guardTransactions?: boolean;
}

export async function ping(db: AnyPgDatabase, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const query = db.execute(sql`select 1`);
  query.catch(() => {}); // a late failure after the timeout must not become an unhandled rejection
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError()), timeoutMs);
  });
  try {
    await Promise.race([query, timeout]);
  } catch (e) {
    throw e instanceof StoreUnavailableError ? e : new StoreUnavailableError(e);
  } finally {
    clearTimeout(timer);
  }
}

export function assertChannel(channel: string): void {
  // PGlite splices the channel into LISTEN unquoted; keep it a plain identifier everywhere
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid LISTEN channel name "${channel}"`);
}

export function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // a throwing subscriber must not take the LISTEN connection down with it
  }
}
