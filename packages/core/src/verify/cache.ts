import { LRUCache } from "lru-cache";
import type { KeyKind, KeyRecord } from "../types.js";

/**
 * In-process cache of key records (never secrets, never "not found"), SPEC.md §13.
 * Entry lifetime is min(ttl, expire_time - now); entries under 1 s are not written.
 */
export interface KeyCache {
  get(kind: KeyKind, keyId: string): KeyRecord | undefined;
  set(rec: KeyRecord, now: number): void;
  delete(kind: KeyKind, keyId: string): void;
  clear(): void;
  readonly size: number;
}

export function createKeyCache(opts: { nid: string; ttlMs: number; maxEntries: number; now: () => number }): KeyCache {
  const lru = new LRUCache<string, KeyRecord>({
    max: opts.maxEntries,
    ttl: opts.ttlMs,
    ttlAutopurge: false,
    perf: { now: opts.now },
  });
  const k = (kind: KeyKind, keyId: string) => `${opts.nid}:${kind}:${keyId}`;
  return {
    get: (kind, keyId) => lru.get(k(kind, keyId)),
    set(rec, now) {
      const ttl = rec.expireTime ? Math.min(opts.ttlMs, rec.expireTime.getTime() - now) : opts.ttlMs;
      if (ttl < 1000) return;
      lru.set(k(rec.kind, rec.keyId), rec, { ttl });
    },
    delete: (kind, keyId) => void lru.delete(k(kind, keyId)),
    clear: () => lru.clear(),
    get size() {
      return lru.size;
    },
  };
}
