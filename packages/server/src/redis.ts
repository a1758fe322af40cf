import { createRedisClient, REDIS_INVALIDATION_CHANNEL, type Config, type InvalidationMessage } from "@talos/core";
import type { Logger } from "@talos/http";

type Redis = ReturnType<typeof createRedisClient>;

/** A runtime, or every network's runtime at once. */
export type InvalidationTarget = {
  readonly cache: { clear(): void } | null;
  applyInvalidation(raw: string): void;
  /** after a gap in the feed: empty the cache(s) and tell the stream's listeners */
  resync(): void;
};

export const REDIS_CHANNEL = REDIS_INVALIDATION_CHANNEL;

/** The Redis clients of cache.redis: commands (rate limits, publishing) and, when caching, a subscriber. */
export interface RedisLink {
  client: Redis;
  publish(msg: InvalidationMessage): Promise<void>;
  /** feeds invalidations from other instances into the runtime's cache (every network's, with multitenancy) */
  subscribe(runtime: InvalidationTarget): Promise<void>;
  disconnect(): void;
}

/** Null when no Redis is configured. A Redis that is down does not stop the start-up. */
export async function connectRedis(config: Config, logger: Logger): Promise<RedisLink | null> {
  const redisCfg = config.cache.redis;
  if (redisCfg.addrs.length === 0) return null;
  const cfg = { addrs: redisCfg.addrs, password: redisCfg.password, db: redisCfg.db, timeoutMs: redisCfg.timeout, tls: redisCfg.tls.enabled };
  const onError = (e: Error) => logger.warn({ err: e.message }, "redis error");
  const client = createRedisClient(cfg, { onError });
  // Invalidation messages only matter to an instance that caches.
  const caching = config.cache.enabled && config.cache.ttl > 0;
  const subscriber = caching ? createRedisClient(cfg, { onError }) : null;
  // The limiter fails open or closed per rate_limit.fail_open and the clients keep reconnecting
  // in the background.
  const ready = await Promise.all([client, subscriber].flatMap((c) => (c ? [readyWithin(c, redisCfg.timeout)] : [])));
  if (!ready.every(Boolean)) logger.warn({ timeout_ms: redisCfg.timeout }, "redis is not reachable yet; retrying in the background");
  return {
    client,
    publish: async (msg) => void (await client.publish(REDIS_CHANNEL, JSON.stringify(msg))),
    async subscribe(runtime) {
      if (!subscriber || !runtime.cache) return;
      const sub = subscriber;
      sub.on("message", (_channel: string, payload: string) => runtime.applyInvalidation(payload));
      // (Re)subscribing means messages may have been missed: start from an empty cache, cleared once
      // the subscription is active so that nothing published in between is lost.
      const subscribeNow = () =>
        sub.subscribe(REDIS_CHANNEL).then(
          () => runtime.resync(),
          () => logger.warn({}, "redis subscribe failed"),
        );
      sub.on("ready", () => void subscribeNow());
      if (sub.status === "ready") await subscribeNow();
    },
    disconnect() {
      client.disconnect();
      subscriber?.disconnect();
    },
  };
}

/** True once `client` is ready, false after `ms`; connection errors go to the client's error handler. */
function readyWithin(client: Redis, ms: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    client.once("ready", onReady);
  });
}
