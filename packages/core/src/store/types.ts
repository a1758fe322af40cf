import type { EventRepo, OutboxWrite } from "./events-repo.js";

export type { OutboxWrite };
import type { KeyKind, KeyRecord, RevocationReason, KeyStatus } from "../types.js";

/** Fields an update may write (docs/keys.md#update); `updateTime` is always set by the caller. */
export type KeyPatch = Partial<
  Pick<KeyRecord, "name" | "scopes" | "metadata" | "rateLimitPolicy" | "allowedCidrs">
> & { updateTime: Date };

/** A pg_notify(channel, payload) sent with a change, delivered on commit. */
export interface PgNotification {
  channel: string;
  payload: string;
}

export interface ListQuery {
  kind: KeyKind;
  actorId?: string;
  status?: KeyStatus; // ACTIVE | REVOKED | EXPIRED
  /** exclusive lower bound on key_id (byte order) */
  afterKeyId?: string;
  limit: number;
  /** ms since epoch: the instant the status filter is evaluated at */
  now: number;
}

export interface LastUsedTouch {
  nid: string;
  keyId: string;
  time: Date;
}

/** One hour's verifications of a key with one outcome (docs/observability.md#usage-history). */
export interface UsageCount {
  nid: string;
  keyId: string;
  /** the UTC hour's start */
  hour: Date;
  outcome: string;
  count: number;
}

/**
 * Data access for one handle: the pool, or a transaction. Every method is scoped by nid.
 * Repos never throw TalosError for "not found"; they return null / false and the verb decides.
 * Infrastructure failures throw StoreUnavailableError (see store/errors.ts).
 */
export interface Repo {
  /** the outbox (docs/events.md): events, their deliveries, expiry marks */
  readonly events: EventRepo;
  /**
   * Inserts unless (nid,key_id) or (nid,kind,request_id) exists; true when inserted. Never aborts the
   * transaction. `outbox`: the change's events, written in the same statement, and only if inserted.
   */
  insertKey(rec: KeyRecord, outbox?: OutboxWrite): Promise<boolean>;
  /** Multi-row insert, ON CONFLICT DO NOTHING; returns the key_ids actually inserted. */
  insertKeys(recs: KeyRecord[]): Promise<Set<string>>;
  getKey(nid: string, keyId: string): Promise<KeyRecord | null>;
  /** SELECT ... FOR UPDATE inside a transaction (plain read outside one). */
  getKeyForUpdate(nid: string, keyId: string): Promise<KeyRecord | null>;
  /** One round trip for any number of ids; order of the result is unspecified. */
  getKeys(nid: string, keyIds: string[]): Promise<KeyRecord[]>;
  getKeysByRequestIds(nid: string, kind: KeyKind, requestIds: string[]): Promise<KeyRecord[]>;
  listKeys(nid: string, q: ListQuery): Promise<KeyRecord[]>;
  updateKey(nid: string, keyId: string, patch: KeyPatch): Promise<KeyRecord | null>;
  /** Marks revoked; returns the updated record, or null when absent. Does not check the prior state. `outbox` as for insertKey. */
  revokeKey(nid: string, keyId: string, reason: RevocationReason, description: string, now: Date, outbox?: OutboxWrite): Promise<KeyRecord | null>;
  /**
   * Revokes `key` if it is still active and still the key the caller read (same kind and actor): one
   * statement with `outbox` and `notify` (sent on commit), atomic on its own, so the pool repo needs
   * no transaction. False when no row matched: absent, already revoked, or replaced since the read.
   */
  revokeActiveKey(
    key: Pick<KeyRecord, "nid" | "keyId" | "kind" | "actorId">,
    reason: RevocationReason,
    description: string,
    now: Date,
    outbox?: OutboxWrite,
    notify?: PgNotification,
  ): Promise<boolean>;
  deleteKey(nid: string, keyId: string): Promise<boolean>;
  /** Non-revoked issued + imported keys of the network (for quota). */
  countLiveKeys(nid: string): Promise<number>;
  /** Batched; writes only rows whose last_used_time is null or on an earlier UTC day than `time`. */
  touchLastUsed(entries: LastUsedTouch[]): Promise<number>;
  /** pg_notify(channel, payload); inside a transaction it is delivered on commit. */
  notify(channel: string, payload: string): Promise<void>;
  /** Adds usage counts (an upsert that sums), in chunks. */
  addUsage(rows: UsageCount[]): Promise<void>;
  /** A key's hourly counts with start <= hour < end, oldest first. */
  usageOf(nid: string, keyId: string, start: Date, end: Date): Promise<UsageCount[]>;
  /** Deletes usage counts older than `before`; returns the number of rows deleted. */
  pruneUsage(before: Date): Promise<number>;
}

export interface MigrationState {
  name: string;
  appliedAt: Date | null;
  /** applied to the database but absent from this binary's migrations (a newer talos ran) */
  unknown?: true;
}

/** Live counters of a store, for metrics: read them, never write them. */
export interface StoreStats {
  /** connections the pool may open (1 for the embedded database) */
  poolMax: number;
  /** repository calls and transactions currently waiting on the database */
  inFlight: number;
  /** repository calls that failed on the database since start */
  errors: number;
}

export interface Store {
  readonly driver: "pglite" | "postgres";
  readonly stats: StoreStats;
  readonly repo: Repo;
  /** Runs fn in one transaction; fn must use only the repo it is given. */
  transaction<T>(fn: (repo: Repo) => Promise<T>): Promise<T>;
  /** SELECT 1 with a timeout; throws StoreUnavailableError on failure. */
  ping(timeoutMs: number): Promise<void>;
  migrationStatus(): Promise<MigrationState[]>;
  /** Applies pending migrations (under an advisory lock on PostgreSQL). */
  migrate(): Promise<void>;
  /** Rolls back the newest `steps` migrations with their down scripts, in one transaction; returns their names. */
  migrateDown(steps: number): Promise<string[]>;
  /** Records exactly the first `version` migrations as applied without running any SQL. */
  forceMigrationVersion(version: number): Promise<void>;
  /** LISTEN on a channel. onReconnect fires after the connection was lost and re-established. */
  listen(channel: string, onMessage: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
