/**
 * A bounded pool of shared, frozen values keyed by an unambiguous text of their content. The
 * verification cache holds up to millions of keys whose scope lists, rate-limit policies and CIDR
 * lists repeat across keys; one shared copy per distinct value instead of one per entry saves
 * about a quarter of the cache's heap (bench/cache-memory.ts). Past `max` distinct values the pool
 * stops growing and hands back the caller's own copy, so hostile variety costs no more than before.
 */
export interface InternPool<T> {
  intern(value: T): T;
  readonly size: number;
}

export function createInternPool<T extends object>(keyOf: (value: T) => string, max = 65_536): InternPool<T> {
  const pool = new Map<string, T>();
  return {
    intern(value) {
      const key = keyOf(value);
      const shared = pool.get(key);
      if (shared !== undefined) return shared;
      if (pool.size >= max) return value;
      // a copy: the caller's value may be shared with other readers that do not expect it frozen
      const frozen = Object.freeze((Array.isArray(value) ? value.slice() : { ...value }) as T);
      pool.set(key, frozen);
      return frozen;
    },
    get size() {
      return pool.size;
    },
  };
}
