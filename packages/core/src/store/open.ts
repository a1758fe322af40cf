import type { OpenStoreOptions } from "./common.js";
import { dsnKind, pgliteDir } from "./dsn.js";
import { DEFAULT_MIGRATIONS_FOLDER } from "./migrations.js";
import { openPglite } from "./pglite.js";
import { openPostgres } from "./postgres.js";
import type { Store } from "./types.js";

export type { OpenStoreOptions } from "./common.js";
export { dsnKind, pgliteDir, redactDsn, type DsnKind } from "./dsn.js";
export { DEFAULT_MIGRATIONS_FOLDER } from "./migrations.js";

/** Opens `memory`, `pglite://<dir>` (locked, migrated) or `postgres://…` (lazy pool; migrate separately). */
export async function openStore(dsn: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const kind = dsnKind(dsn);
  const folder = opts.migrationsFolder ?? DEFAULT_MIGRATIONS_FOLDER;
  const log = opts.logger ?? (() => {});
  if (kind === "postgres") return openPostgres(dsn, folder, opts, log);
  return openPglite(kind === "pglite" ? pgliteDir(dsn) : undefined, folder, opts, log);
}
