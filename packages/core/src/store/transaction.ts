import { AsyncLocalStorage } from "node:async_hooks";
import { wrapDbError } from "./errors.js";
import { createRepo, type AnyPgDatabase, type RepoOptions } from "./repo.js";
import type { Repo, StoreStats } from "./types.js";

/**
 * Marks the async context of a transaction callback. The pool repo refuses calls from inside it:
 * on PGlite they would deadlock (the transaction holds the only connection), on PostgreSQL they
 * would silently run outside the transaction.
 */
const txContext = new AsyncLocalStorage<{ open: boolean }>();

export function assertOutsideTransaction(): void {
  if (txContext.getStore()?.open) {
    throw new Error("store.repo used inside store.transaction(): use the repo passed to the transaction callback");
  }
}

export const poolRepoOptions: RepoOptions = { beforeCall: assertOutsideTransaction };

export async function runTransaction<T>(db: AnyPgDatabase, fn: (repo: Repo) => Promise<T>, stats: StoreStats, guard: boolean): Promise<T> {
  assertOutsideTransaction();
  stats.inFlight++;
  try {
    return await runTransactionInner(db, fn, stats, guard);
  } finally {
    stats.inFlight--;
  }
}

async function runTransactionInner<T>(db: AnyPgDatabase, fn: (repo: Repo) => Promise<T>, stats: StoreStats, guard: boolean): Promise<T> {
  // errors thrown by fn (TalosError, already wrapped store errors) pass through unchanged;
  // everything else came from BEGIN/COMMIT/ROLLBACK and gets wrapped
  let fromFn: { e: unknown } | undefined;
  const ctx = { open: true };
  try {
    const body = async (tx: Parameters<Parameters<AnyPgDatabase["transaction"]>[0]>[0]) => {
      try {
        return await fn(createRepo(tx, { stats }));
      } catch (e) {
        fromFn = { e };
        throw e;
      } finally {
        ctx.open = false; // work fn started but did not await may outlive the transaction
      }
    };
    return await db.transaction((tx) => (guard ? txContext.run(ctx, () => body(tx)) : body(tx)));
  } catch (e) {
    if (fromFn && fromFn.e === e) throw e;
    throw wrapDbError(e);
  }
}
