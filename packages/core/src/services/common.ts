import { createHash } from "node:crypto";
import { TalosError, badRequest, notFound } from "../errors.js";
import { formatGoDuration } from "../duration.js";
import { isImportedKeyId, isUuid } from "../keys/ids.js";
import type { OutboxWrite, Repo } from "../store/types.js";
import { KeyVisibility, keyRecord, type KeyKind, type KeyRecord, type RateLimitPolicy, type RevocationReason } from "../types.js";
import type { ServiceContext } from "./context.js";

/** Limits of a key's fields (docs/keys.md#issue, docs/wire.md#nested-messages): the transport validates against these. */
export const KEY_FIELD_LIMITS = {
  nameChars: 256,
  actorIdChars: 256,
  scopes: 64,
  scopeChars: 128,
  metadataBytes: 4096,
  requestIdChars: 36,
  allowedCidrs: 64,
} as const;

/** Fields every create (issue, import) accepts, already validated by the transport. */
export interface CreateFields {
  name: string;
  actorId: string;
  scopes: string[];
  /** undefined = use the default */
  ttlMs?: number;
  metadata: Record<string, unknown> | null;
  rateLimitPolicy: RateLimitPolicy | null;
  allowedCidrs: string[] | null;
  requestId?: string;
  visibility: number;
}

/** docs/keys.md#issue expiry rule, first match wins. */
export function computeExpiry(ctx: ServiceContext, ttlMs: number | undefined, now: number): Date | null {
  const { default_ttl, max_ttl } = ctx.config.credentials.api_keys;
  if (ttlMs !== undefined) {
    if (max_ttl > 0 && ttlMs > max_ttl) {
      // exact text of docs/keys.md#issue, durations as the reference prints them (Go's Duration.String)
      const message = `ttl ${formatGoDuration(ttlMs)} exceeds the project maximum of ${formatGoDuration(max_ttl)}`;
      throw new TalosError("bad_request", message, { field: "ttl" });
    }
    return new Date(now + ttlMs);
  }
  if (default_ttl !== null) return new Date(now + default_ttl);
  if (max_ttl > 0) return new Date(now + max_ttl);
  return null;
}

/** Canonical JSON: object keys sorted at every level, so equal requests hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** A requested visibility as stored: PUBLIC, or SECRET for anything else (UNSPECIFIED means SECRET). */
export function storedVisibility(requested: number): KeyVisibility {
  return requested === KeyVisibility.PUBLIC ? KeyVisibility.PUBLIC : KeyVisibility.SECRET;
}

/** Issue and rotate: a PUBLIC key needs its own prefix (docs/keys.md#issue). */
export function checkVisibility(ctx: ServiceContext, requested: number | undefined): void {
  if (requested === KeyVisibility.PUBLIC && !ctx.crypto.hasPublicPrefix) {
    throw badRequest("visibility", "KEY_VISIBILITY_PUBLIC requires credentials.api_keys.prefix.public_current to be configured");
  }
}

/** docs/keys.md#idempotency: SHA-256 over every request field except request_id; ttl in whole seconds, enums by name. */
export function requestFingerprint(f: CreateFields, extra: Record<string, unknown> = {}): string {
  const doc = {
    name: f.name,
    actor_id: f.actorId,
    scopes: f.scopes,
    ttl: f.ttlMs === undefined ? null : Math.floor(f.ttlMs / 1000),
    metadata: f.metadata,
    rate_limit_policy: f.rateLimitPolicy,
    ip_restriction: f.allowedCidrs,
    visibility: storedVisibility(f.visibility) === KeyVisibility.PUBLIC ? "KEY_VISIBILITY_PUBLIC" : "KEY_VISIBILITY_SECRET",
    ...extra,
  };
  return createHash("sha256").update(canonicalJson(doc)).digest("hex");
}

export const idempotencyConflict = (): TalosError =>
  new TalosError("conflict", "request_id was already used with different parameters");

export async function checkQuota(ctx: ServiceContext, repo: Repo, adding = 1): Promise<void> {
  const max = ctx.config.quota.api_keys_max;
  if (max === null) return;
  const current = await repo.countLiveKeys(ctx.nid);
  if (current + adding > max) {
    throw new TalosError("api_key_quota_exceeded", "API key quota exceeded", {
      limit: String(max),
      current_usage: String(current),
    });
  }
}

/**
 * A create needs reads before its write (and so a transaction) only for a request_id replay or the
 * key quota; otherwise the key's INSERT, with its event, is the whole change (Repo.insertKey).
 */
export function createNeedsReads(ctx: ServiceContext, f: CreateFields): boolean {
  return Boolean(f.requestId) || ctx.config.quota.api_keys_max !== null;
}

export function newRecord(ctx: ServiceContext, kind: KeyKind, keyId: string, f: CreateFields, now: number, fingerprint: string | null): KeyRecord {
  return keyRecord(
    {
      nid: ctx.nid,
      kind,
      keyId,
      name: f.name,
      actorId: f.actorId,
      scopes: f.scopes,
      metadata: f.metadata,
      expireTime: computeExpiry(ctx, f.ttlMs, now),
      rateLimitPolicy: f.rateLimitPolicy,
      allowedCidrs: f.allowedCidrs,
      visibility: storedVisibility(f.visibility),
      requestId: f.requestId ?? null,
      requestFingerprint: fingerprint,
    },
    new Date(now),
  );
}

/**
 * Loads a key of the given kind or throws 404; a key of the other kind is "not found". An id of the
 * wrong shape is not looked up (docs/wire.md#endpoints): it cannot exist, and text such as NUL would fail in SQL.
 */
export async function loadKey(ctx: ServiceContext, repo: Repo, kind: KeyKind, keyId: string, forUpdate = false): Promise<KeyRecord> {
  if (!(kind === "issued" ? isUuid(keyId) : isImportedKeyId(keyId))) throw notFound();
  const rec = forUpdate ? await repo.getKeyForUpdate(ctx.nid, keyId) : await repo.getKey(ctx.nid, keyId);
  if (!rec || rec.kind !== kind) throw notFound();
  return rec;
}

/** Runs a mutation in one transaction, queues the cross-instance invalidation inside it, evicts locally after commit. */
export async function mutate<T>(
  ctx: ServiceContext,
  evict: { kind: KeyKind; keyId: string }[] | ((result: T) => { kind: KeyKind; keyId: string }[]),
  fn: (repo: Repo) => Promise<T>,
): Promise<T> {
  const result = await ctx.store.transaction(async (repo) => {
    const r = await fn(repo);
    const targets = typeof evict === "function" ? evict(r) : evict;
    for (const t of targets) {
      const msg = ctx.hooks.invalidationPayload?.(t.kind, t.keyId);
      if (msg) await repo.notify(msg.channel, msg.payload);
    }
    return r;
  });
  const targets = typeof evict === "function" ? evict(result) : evict;
  for (const t of targets) ctx.hooks.afterMutation(t.kind, t.keyId);
  return result;
}

/**
 * Revokes a key read without a lock, in one statement that matches only while it is still active and
 * still that key (Repo.revokeActiveKey), with its event and the cross-instance invalidation; evicts
 * locally after commit. False when a concurrent change got there first: the caller decides again
 * under a lock (mutate). Two round trips on the pool (the read, the statement) instead of five.
 */
export async function revokeAsRead(
  ctx: ServiceContext,
  current: KeyRecord,
  reason: RevocationReason,
  description: string,
  outbox: OutboxWrite | undefined,
): Promise<boolean> {
  const notify = ctx.hooks.invalidationPayload?.(current.kind, current.keyId) ?? undefined;
  const revoked = await ctx.store.repo.revokeActiveKey(current, reason, description, new Date(ctx.clock()), outbox, notify);
  if (revoked) ctx.hooks.afterMutation(current.kind, current.keyId);
  return revoked;
}
