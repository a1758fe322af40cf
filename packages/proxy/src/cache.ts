import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";

/** A cached `is_valid: true` verify answer and what a hit needs to replay it. */
export interface CachedVerify {
  /** the upstream's JSON body, parsed */
  body: Record<string, unknown>;
  /** the same body as upstream sent it: replayed as is when a hit changes nothing */
  raw: Buffer;
  keyId: string;
  /** upstream said `Cache-Control: no-store` (IP allowlist or rate-limit policy): hits may spend quota */
  noStore: boolean;
  /** upstream's response headers a hit replays (RateLimit-Policy, Cache-Control, security headers) */
  headers: Record<string, string | string[]>;
}

/**
 * SHA-256 over length-prefixed parts: `("a", "bc")` and `("ab", "c")` differ, so no host can forge
 * another's entry. The credential never stays in memory in clear.
 */
export function cacheKey(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) {
    const b = Buffer.from(p, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.digest("base64url");
}

/** Byte-bounded LRU of verify answers with a per-entry TTL and an index by key id for invalidation. */
export class VerifyCache {
  readonly #lru: LRUCache<string, CachedVerify>;
  readonly #byKeyId = new Map<string, Set<string>>();

  constructor(maxBytes: number) {
    this.#lru = new LRUCache<string, CachedVerify>({
      maxSize: Math.max(1, maxBytes),
      // the parsed body is counted like its text: object overhead roughly matches the text's quoting
      sizeCalculation: (v, k) => 200 + k.length + 2 * v.raw.length + JSON.stringify(v.headers).length,
      ttlAutopurge: false,
      dispose: (v, k) => this.#unindex(v.keyId, k),
    });
  }

  get(key: string): CachedVerify | undefined {
    return this.#lru.get(key);
  }

  set(key: string, value: CachedVerify, ttlMs: number): void {
    this.#lru.set(key, value, { ttl: ttlMs });
    if (!this.#lru.has(key)) return; // larger than the whole cache
    let keys = this.#byKeyId.get(value.keyId);
    if (!keys) this.#byKeyId.set(value.keyId, (keys = new Set()));
    keys.add(key);
  }

  /** Drops every entry of a key id (all hosts, all credentials of it); returns how many. */
  evictKeyId(keyId: string): number {
    const keys = this.#byKeyId.get(keyId);
    if (!keys) return 0;
    const n = keys.size;
    for (const k of [...keys]) this.#lru.delete(k);
    this.#byKeyId.delete(keyId);
    return n;
  }

  clear(): void {
    this.#lru.clear();
    this.#byKeyId.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  #unindex(keyId: string, key: string): void {
    const keys = this.#byKeyId.get(keyId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.#byKeyId.delete(keyId);
  }
}
