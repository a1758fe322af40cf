import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { StoreUnavailableError, wrapDbError } from "./errors.js";
import { createRepo, rowsOf, type AnyPgDatabase, type RepoOptions } from "./repo.js";
import type { MigrationState, Repo, Store, StoreStats } from "./types.js";

export type DsnKind = "memory" | "pglite" | "postgres";

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

/** The repository's drizzle/ folder, resolved from this file so any cwd works. */
export const DEFAULT_MIGRATIONS_FOLDER = fileURLToPath(new URL("../../../../drizzle/", import.meta.url));

const MIGRATIONS_SCHEMA = "drizzle";
const MIGRATIONS_TABLE = "__drizzle_migrations";
/** pg_advisory_lock(int4, int4) key of the migrator: 'talo' and 1. */
const MIGRATION_LOCK = [0x74616c6f, 1] as const;
const DEFAULT_POOL_MAX = 10;
const CONNECT_TIMEOUT_S = 10;

/** Classifies a DSN; anything else is an error naming the accepted schemes (never echoing the DSN). */
export function dsnKind(dsn: string): DsnKind {
  if (dsn === "memory") return "memory";
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dsn)?.[1]?.toLowerCase();
  if (scheme === "pglite") return "pglite";
  if (scheme === "postgres" || scheme === "postgresql") return "postgres";
  const shown = scheme ? `"${scheme}://"` : "this DSN";
  throw new Error(`unsupported database DSN ${shown}: use memory, pglite://<dir>, postgres:// or postgresql://`);
}

/** The DSN with its password (userinfo and `password=` parameter) replaced by `***`, for log lines. */
export function redactDsn(dsn: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(dsn);
  if (!m) return dsn;
  const scheme = m[1] ?? "";
  let rest = m[2] ?? "";
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const colon = rest.slice(0, at).indexOf(":");
    if (colon >= 0) rest = `${rest.slice(0, colon)}:***${rest.slice(at)}`;
  }
  rest = rest.replace(/([?&]password=)[^&#]*/gi, "$1***");
  return scheme + rest;
}

/** Directory of a `pglite://` DSN: `pglite://./data` is relative to the cwd, `pglite:///var/lib/talos` absolute. */
export function pgliteDir(dsn: string): string {
  const p = dsn.replace(/^pglite:\/\//i, "");
  if (p === "") throw new Error("pglite:// DSN needs a directory, e.g. pglite://./data");
  return path.resolve(p);
}

/** Splits `pool_max_conns` off a postgres DSN; the other parameters stay for the driver. */
function splitPoolMax(dsn: string): { url: string; poolMax: number | undefined } {
  const q = dsn.indexOf("?");
  if (q < 0) return { url: dsn, poolMax: undefined };
  const hash = dsn.indexOf("#", q);
  const query = dsn.slice(q + 1, hash < 0 ? undefined : hash);
  const params = new URLSearchParams(query);
  const raw = params.get("pool_max_conns");
  if (raw === null) return { url: dsn, poolMax: undefined };
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new Error("pool_max_conns must be a positive integer");
  }
  params.delete("pool_max_conns");
  const rest = params.toString();
  return { url: dsn.slice(0, q) + (rest ? `?${rest}` : ""), poolMax: n };
}

export async function openStore(dsn: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const kind = dsnKind(dsn);
  const folder = opts.migrationsFolder ?? DEFAULT_MIGRATIONS_FOLDER;
  const log = opts.logger ?? (() => {});
  if (kind === "postgres") return openPostgres(dsn, folder, opts, log);

  let lock: DirLock | undefined;
  let pg: PGlite | undefined;
  try {
    let dataDir: string | undefined;
    if (kind === "pglite") {
      dataDir = pgliteDir(dsn);
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

function openPostgres(dsn: string, folder: string, opts: OpenStoreOptions, log: (m: string) => void): Store {
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
    });
  } catch {
    // the URL parser's message repeats the whole DSN, password included
    throw new Error(`invalid PostgreSQL DSN ${redactDsn(dsn)}`);
  }
  const db = drizzlePostgres({ client });
  let closed: Promise<void> | undefined;
  const stats: StoreStats = { poolMax: client.options.max, inFlight: 0, errors: 0 };

  return {
    driver: "postgres",
    stats,
    repo: createRepo(db, { ...poolRepoOptions, stats }),
    transaction: (fn) => runTransaction(db, fn, stats, opts.guardTransactions ?? true),
    ping: (timeoutMs) => ping(db, timeoutMs),
    migrationStatus: () => migrationStatus(db, folder),
    async migrate() {
      // one dedicated connection: the session-level advisory lock and drizzle's migration
      // transaction must share it; no statement_timeout, a migration may legitimately be slow
      const mig = postgres(url, {
        max: 1,
        onnotice: () => {},
        connect_timeout: CONNECT_TIMEOUT_S,
        connection: { application_name: "talos-migrate", TimeZone: "UTC" },
      });
      const mdb = drizzlePostgres({ client: mig });
      try {
        await mdb.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK[0]}, ${MIGRATION_LOCK[1]})`);
        const before = await migrationStatus(mdb, folder);
        await ensureMigrationsTable(mdb);
        await migratePostgres(mdb, { migrationsFolder: folder });
        logApplied(before, await migrationStatus(mdb, folder), log);
      } catch (e) {
        throw wrapDbError(e);
      } finally {
        // ending the session releases the advisory lock even if the unlock itself failed
        await mig.end({ timeout: 5 }).catch(() => {});
      }
    },
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
    close: () => (closed ??= client.end({ timeout: 5 }).catch(() => {})),
  };
}

/**
 * Marks the async context of a transaction callback. The pool repo refuses calls from inside it:
 * on PGlite they would deadlock (the transaction holds the only connection), on PostgreSQL they
 * would silently run outside the transaction.
 */
const txContext = new AsyncLocalStorage<{ open: boolean }>();

function assertOutsideTransaction(): void {
  if (txContext.getStore()?.open) {
    throw new Error("store.repo used inside store.transaction(): use the repo passed to the transaction callback");
  }
}

const poolRepoOptions: RepoOptions = { beforeCall: assertOutsideTransaction };

async function runTransaction<T>(db: AnyPgDatabase, fn: (repo: Repo) => Promise<T>, stats: StoreStats, guard: boolean): Promise<T> {
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

async function ping(db: AnyPgDatabase, timeoutMs: number): Promise<void> {
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

/* ---------------------------------------------------------------- migrations */

interface JournalEntry {
  tag: string;
  when: number;
}

function readJournal(folder: string): JournalEntry[] {
  const file = path.join(folder, "meta", "_journal.json");
  const journal = JSON.parse(fs.readFileSync(file, "utf8")) as { entries?: JournalEntry[] };
  return (journal.entries ?? []).map((e) => ({ tag: e.tag, when: Number(e.when) }));
}

/**
 * Drizzle's table records (hash, created_at = the journal's `when`); `applied_at` is our addition
 * (a defaulted column drizzle never names). Like drizzle's migrator, an entry counts as applied when
 * its `when` is not newer than the newest recorded one.
 */
async function migrationStatus(db: AnyPgDatabase, folder: string): Promise<MigrationState[]> {
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

async function ensureMigrationsTable(db: AnyPgDatabase): Promise<void> {
  const table = sql`${sql.identifier(MIGRATIONS_SCHEMA)}.${sql.identifier(MIGRATIONS_TABLE)}`;
  await db.execute(sql`create schema if not exists ${sql.identifier(MIGRATIONS_SCHEMA)}`);
  await db.execute(
    sql`create table if not exists ${table} (id serial primary key, hash text not null, created_at bigint, applied_at timestamptz default now())`,
  );
  // a table created by drizzle-kit itself lacks the column; older rows keep null (time unknown)
  await db.execute(sql`alter table ${table} add column if not exists applied_at timestamptz`);
  await db.execute(sql`alter table ${table} alter column applied_at set default now()`);
}

function logApplied(before: MigrationState[], after: MigrationState[], log: (m: string) => void): void {
  const pending = new Set(before.filter((m) => m.appliedAt === null).map((m) => m.name));
  for (const m of after) if (pending.has(m.name) && m.appliedAt !== null) log(`applied migration ${m.name}`);
}

/* ---------------------------------------------------------------- helpers */

function assertChannel(channel: string): void {
  // PGlite splices the channel into LISTEN unquoted; keep it a plain identifier everywhere
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid LISTEN channel name "${channel}"`);
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // a throwing subscriber must not take the LISTEN connection down with it
  }
}

/* ---------------------------------------------------------------- directory lock */

/**
 * PGlite does not lock its data directory, so we do: `<dir>/.talos.lock` created atomically
 * (write a temp file, link(2) it into place) holding our pid and kernel identity. A lock is stale
 * when, on the same kernel and pid namespace, its process is gone (or the pid was reused); across
 * namespaces (containers sharing a volume) when its heartbeat mtime is older than LOCK_STALE_MS.
 */
interface DirLock {
  release(): void;
}

const LOCK_FILE = ".talos.lock";
const LOCK_HEARTBEAT_MS = 5_000;
const LOCK_STALE_MS = 30_000;
const heldDirs = new Set<string>();

interface LockInfo {
  pid: number;
  host: string;
  boot?: string | undefined;
  pidns?: string | undefined;
  start?: string | undefined;
  token: string;
}

function readOr<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

const bootId = (): string | undefined =>
  readOr(() => fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
const pidNamespace = (): string | undefined => readOr(() => fs.readlinkSync("/proc/self/ns/pid"));
/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; tells a reused pid apart. */
function processStart(pid: number): string | undefined {
  return readOr(() => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function lockedError(dir: string): Error {
  return new Error(`database directory ${dir} is locked by another talos process`);
}

function isStale(info: LockInfo | undefined, mtimeMs: number, me: LockInfo): boolean {
  if (!info || typeof info.pid !== "number") return true;
  const comparable = me.boot && me.pidns ? info.boot === me.boot && info.pidns === me.pidns : info.host === me.host;
  if (!comparable) return Date.now() - mtimeMs > LOCK_STALE_MS;
  if (info.pid === process.pid) return true; // not in heldDirs: a previous incarnation with our pid
  if (!processAlive(info.pid)) return true;
  if (info.start !== undefined) {
    const now = processStart(info.pid);
    if (now !== undefined && now !== info.start) return true;
  }
  return false;
}

function acquireDirLock(dir: string, log: (m: string) => void): DirLock {
  const real = fs.realpathSync(dir);
  if (heldDirs.has(real)) throw lockedError(dir);
  const file = path.join(real, LOCK_FILE);
  const me: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    boot: bootId(),
    pidns: pidNamespace(),
    start: processStart(process.pid),
    token: randomUUID(),
  };
  const content = JSON.stringify(me);

  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = `${file}.${me.token}.tmp`;
    fs.writeFileSync(tmp, content, { mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
      return holdLock(real, file, content);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    const seen = readOr(() => ({ text: fs.readFileSync(file, "utf8"), mtimeMs: fs.statSync(file).mtimeMs }));
    if (!seen) continue; // vanished meanwhile: retry
    if (!isStale(readOr(() => JSON.parse(seen.text) as LockInfo), seen.mtimeMs, me)) throw lockedError(dir);
    // take the stale file out of the way atomically; if what we moved is not what we judged, put it back
    const grave = `${file}.${me.token}.stale`;
    try {
      fs.renameSync(file, grave);
    } catch {
      continue; // vanished meanwhile: retry
    }
    const moved = readOr(() => fs.readFileSync(grave, "utf8"));
    if (moved !== seen.text) {
      readOr(() => fs.linkSync(grave, file));
      fs.rmSync(grave, { force: true });
      throw lockedError(dir);
    }
    fs.rmSync(grave, { force: true });
    log(`removed stale lock ${file}`);
  }
  throw lockedError(dir);
}

function holdLock(real: string, file: string, content: string): DirLock {
  heldDirs.add(real);
  const beat = setInterval(() => {
    const now = new Date();
    fs.utimes(file, now, now, () => {});
  }, LOCK_HEARTBEAT_MS);
  beat.unref();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      if (readOr(() => fs.readFileSync(file, "utf8")) === content) fs.rmSync(file, { force: true });
      heldDirs.delete(real);
    },
  };
}
