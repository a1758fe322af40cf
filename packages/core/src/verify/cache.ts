import { LRUCache } from "lru-cache";
import type { KeyKind, KeyRecord, KeyVisibility, RateLimitPolicy } from "../types.js";
import { createInternPool } from "./intern.js";

/**
 * What verification reads of a key record (docs/verification.md#pipeline steps 4-7), and so what the cache holds:
 * times as epoch ms instead of Dates, and none of the fields only key management reads (name,
 * create/update time, revocation details, request id). Half the heap of a KeyRecord per entry.
 */
export interface CachedKey {
  readonly kind: KeyKind;
  readonly keyId: string;
  readonly actorId: string;
  readonly scopes: string[];
  readonly metadata: Record<string, unknown> | null;
  /** ms since epoch */
  readonly expireTime: number | null;
  /** ms since epoch */
  readonly lastUsedTime: number | null;
  readonly rateLimitPolicy: RateLimitPolicy | null;
  readonly allowedCidrs: string[] | null;
  readonly revoked: boolean;
  readonly visibility: KeyVisibility;
}

export function toCachedKey(rec: KeyRecord): CachedKey {
  return {
    kind: rec.kind,
    keyId: rec.keyId,
    actorId: rec.actorId,
    scopes: rec.scopes,
    metadata: rec.metadata,
    expireTime: rec.expireTime ? rec.expireTime.getTime() : null,
    lastUsedTime: rec.lastUsedTime ? rec.lastUsedTime.getTime() : null,
    rateLimitPolicy: rec.rateLimitPolicy,
    allowedCidrs: rec.allowedCidrs,
    revoked: rec.revoked,
    visibility: rec.visibility,
  };
}

/**
 * In-process cache of key records (never secrets, never "not found"), docs/verification.md#cache.
 * Entry lifetime is min(ttl, expire_time - now); entries under 1 s are not written.
 */
export interface KeyCache {
  get(kind: KeyKind, keyId: string): CachedKey | undefined;
  set(rec: CachedKey, now: number): void;
  delete(kind: KeyKind, keyId: string): void;
  clear(): void;
  readonly size: number;
}

// Shared by every cache of the process: values repeat across networks as much as within one.
// JSON text keys are unambiguous (a scope may contain any character); numbers cannot hold a quote.
const scopeLists = createInternPool<string[]>((s) => JSON.stringify(s));
const cidrLists = createInternPool<string[]>((c) => JSON.stringify(c));
const policies = createInternPool<RateLimitPolicy>((p) => `${p.quota}/${p.windowSeconds}/${JSON.stringify(p.unit)}`);

/** The entry as stored: repeated lists and policies replaced by one shared frozen copy. */
function compact(rec: CachedKey): CachedKey {
  // a literal in toCachedKey's field order, so both share one hidden class on the verify path
  return {
    kind: rec.kind,
    keyId: rec.keyId,
    actorId: rec.actorId,
    scopes: scopeLists.intern(rec.scopes),
    metadata: rec.metadata,
    expireTime: rec.expireTime,
    lastUsedTime: rec.lastUsedTime,
    rateLimitPolicy: rec.rateLimitPolicy && policies.intern(rec.rateLimitPolicy),
    allowedCidrs: rec.allowedCidrs && cidrLists.intern(rec.allowedCidrs),
    revoked: rec.revoked,
    visibility: rec.visibility,
  };
}

/**
 * The logical key is `<nid>:<kind>:<key_id>`. One cache serves one network, and a key id names
 * one row whatever its kind (the table's key is (nid, key_id)), so the map is keyed by the
 * record's own key_id string and the kind is checked on read: no key string per entry or lookup.
 */
export function createKeyCache(opts: { nid: string; ttlMs: number; maxEntries: number; now: () => number }): KeyCache {
  const lru = new LRUCache<string, CachedKey>({
    max: opts.maxEntries,
    ttl: opts.ttlMs,
    ttlAutopurge: false,
    perf: { now: opts.now },
  });
  return {
    get(kind, keyId) {
      const rec = lru.get(keyId);
      return rec !== undefined && rec.kind === kind ? rec : undefined;
    },
    set(rec, now) {
      const ttl = rec.expireTime !== null ? Math.min(opts.ttlMs, rec.expireTime - now) : opts.ttlMs;
      if (ttl < 1000) return;
      lru.set(rec.keyId, compact(rec), { ttl });
    },
    delete(kind, keyId) {
      if (lru.peek(keyId)?.kind === kind) lru.delete(keyId);
    },
    clear: () => lru.clear(),
    get size() {
      return lru.size;
    },
  };
}
