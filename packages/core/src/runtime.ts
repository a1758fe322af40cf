import { randomUUID } from "node:crypto";
import type { Config } from "./config/types.js";
import { systemClock, type Clock } from "./clock.js";
import { createKeyCrypto } from "./keys/key-crypto.js";
import type { Store } from "./store/types.js";
import { noopHooks, type AuditEvent, type ServiceContext } from "./services/context.js";
import { createKeyCache, type KeyCache } from "./verify/cache.js";
import { LastUsedQueue } from "./verify/last-used.js";
import { UsageCounter } from "./usage/counter.js";
import { createVerifier, type Limiter, type TokenVerifier, type Verifier, type VerifierDeps } from "./verify/verifier.js";
import { NIL_NID, type KeyKind } from "./types.js";
import type { Tracer } from "./trace.js";

/** Usage counts per upsert statement: one round trip covers many keys' hours. */
const USAGE_FLUSH_ROWS = 1000;

export const INVALIDATION_CHANNEL = "talos_cache_invalidate";
/** The Redis pub/sub channel of the same messages (cache.redis.addrs); `talos proxy --invalidation redis` listens there too. */
export const REDIS_INVALIDATION_CHANNEL = "talos:cache:invalidate";

export interface InvalidationMessage {
  nid: string;
  kind: KeyKind;
  key_id: string;
  origin: string;
}

/** What the invalidation stream relays: one key's cached state is stale, or (reset) all of it may be. */
export type InvalidationEvent = { kind: KeyKind; key_id: string } | { reset: true };
export type InvalidationListener = (e: InvalidationEvent) => void;

/** What the runtime reports upward (logs, metrics); all optional. */
export interface RuntimeObservers {
  event?: (e: AuditEvent) => void;
  verification?: VerifierDeps["observe"];
  limiter?: VerifierDeps["observeLimiter"];
  invalidation?: (source: "local" | "remote", outcome: "ok" | "error") => void;
  warn?: (msg: string, detail?: Record<string, unknown>) => void;
  /** a derive or JWKS request answered 500 because no JWT signing key is configured */
  signingKeyMissing?: (operation: "derive" | "jwks") => void;
}

export interface RuntimeOptions {
  config: Config;
  store: Store;
  clock?: Clock;
  limiter?: Limiter | null;
  tokens?: TokenVerifier | null;
  observers?: RuntimeObservers;
  /** the network this runtime serves (multitenancy); the nil network when absent */
  nid?: string;
  /** extra invalidation transport (Redis pub/sub): publish after commit */
  publish?: (msg: InvalidationMessage) => Promise<void>;
  /** spans of the verify pipeline (tracing.enabled); absent when tracing is off */
  tracer?: Tracer | null;
  /** the authenticated admin caller of the change being made (admin auth), for events */
  principalName?: () => string | undefined;
}

export interface Runtime {
  readonly instanceId: string;
  ctx: ServiceContext;
  verifier: Verifier;
  cache: KeyCache | null;
  lastUsed: LastUsedQueue;
  usage: UsageCounter;
  /** evicts an entry announced by another instance */
  applyInvalidation(raw: string): void;
  /** after a gap in the cross-instance feed: empties the cache and tells the listeners to do the same */
  resync(): void;
  /** every invalidation this instance makes or receives (the admin cacheInvalidations:stream); returns an unsubscribe */
  onInvalidation(listener: InvalidationListener): () => void;
  /** starts LISTEN (PostgreSQL) for cross-instance invalidation */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Wires the core once: key crypto, cache, last-used queue, verifier, mutation hooks. */
export function createRuntime(opts: RuntimeOptions): Runtime {
  const { config, store } = opts;
  const clock = opts.clock ?? systemClock;
  const obs = opts.observers ?? {};
  const instanceId = randomUUID();
  const nid = opts.nid ?? NIL_NID;
  const cache =
    config.cache.enabled && config.cache.ttl > 0
      ? createKeyCache({ nid, ttlMs: config.cache.ttl, maxEntries: config.cache.memory.max_entries, now: clock })
      : null;
  const lastUsed = new LastUsedQueue(store, {
    queueSize: config.last_used.queue_size,
    flushSize: config.last_used.flush_size,
    flushIntervalMs: config.last_used.flush_interval,
    onError: () => obs.warn?.("last_used flush failed"),
  });
  const usage = new UsageCounter(store, {
    maxCells: config.usage.max_pending,
    flushSize: USAGE_FLUSH_ROWS,
    flushIntervalMs: config.last_used.flush_interval,
    retentionMs: config.usage.retention,
    now: clock,
    onError: () => obs.warn?.("usage flush failed"),
  });
  const notifyInDb = store.driver === "postgres";
  const message = (kind: KeyKind, keyId: string): InvalidationMessage => ({ nid, kind, key_id: keyId, origin: instanceId });
  const listeners = new Set<InvalidationListener>();
  const relay = (e: InvalidationEvent) => {
    for (const l of listeners) l(e);
  };

  const ctx: ServiceContext = {
    config,
    store,
    clock,
    nid,
    crypto: createKeyCrypto(config, clock),
    principalName: opts.principalName,
    hooks: {
      ...noopHooks,
      afterMutation(kind, keyId) {
        cache?.delete(kind, keyId);
        obs.invalidation?.("local", "ok");
        if (listeners.size > 0) relay({ kind, key_id: keyId });
        if (opts.publish) {
          opts.publish(message(kind, keyId)).catch(() => {
            obs.invalidation?.("local", "error");
            obs.warn?.("publishing a cache invalidation failed; other instances catch up within cache.ttl");
          });
        }
      },
      invalidationPayload: notifyInDb
        ? (kind, keyId) => ({ channel: INVALIDATION_CHANNEL, payload: JSON.stringify(message(kind, keyId)) })
        : undefined,
      event: (e) => obs.event?.(e),
    },
  };

  const verifier = createVerifier(ctx, {
    cache,
    limiter: opts.limiter ?? null,
    lastUsed,
    usage,
    tokens: opts.tokens ?? null,
    observe: obs.verification,
    observeLimiter: obs.limiter,
    onLimiterError: () => obs.warn?.("rate limiter unavailable"),
    tracer: opts.tracer ?? null,
  });

  let unlisten: (() => Promise<void>) | null = null;
  const applyInvalidation = (raw: string) => {
    try {
      const m = JSON.parse(raw) as InvalidationMessage;
      if (m.origin === instanceId || m.nid !== nid) return;
      if (m.kind !== "issued" && m.kind !== "imported") return;
      cache?.delete(m.kind, m.key_id);
      obs.invalidation?.("remote", "ok");
      if (listeners.size > 0) relay({ kind: m.kind, key_id: m.key_id });
    } catch {
      obs.invalidation?.("remote", "error");
    }
  };

  const resync = () => {
    cache?.clear();
    relay({ reset: true });
  };

  return {
    instanceId,
    ctx,
    verifier,
    cache,
    lastUsed,
    usage,
    applyInvalidation,
    resync,
    onInvalidation(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async start() {
      if (!cache || !notifyInDb) return;
      // Messages may be missed while reconnecting: start from an empty cache then.
      unlisten = await store.listen(INVALIDATION_CHANNEL, applyInvalidation, resync);
    },
    async close() {
      await unlisten?.();
      await lastUsed.close();
      await usage.close();
    },
  };
}
