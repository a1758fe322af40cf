import { once } from "node:events";
import {
  createMemoryRateLimiter,
  createRedisClient,
  createRedisRateLimiter,
  createRuntime,
  openStore,
  redactDsn,
  TalosError,
  VERSION,
  type Clock,
  type RuntimeObservers,
  type Config,
  type Runtime,
  type Store,
} from "@talos/core";
import type { AppDeps, Logger } from "@talos/http";
type Redis = ReturnType<typeof createRedisClient>;

export type Mode = "all" | "admin" | "public";

export interface Built {
  deps: AppDeps;
  runtime: Runtime;
  store: Store;
  /** stop background work and close connections (after the listeners are closed) */
  close(): Promise<void>;
  setDraining(): void;
}

export class StartupError extends Error {}

const SCHEMA_BEHIND = 'database schema is behind: run "talos migrate up" (or start with --migrate)';

/** Opens the database, checks or applies migrations, wires rate limiter, cache invalidation and the core runtime. */
export async function buildServer(config: Config, logger: Logger, opts: { migrate: boolean; clock?: Clock; observers?: RuntimeObservers }): Promise<Built> {
  const store = await openStore(config.db.dsn, { logger: (msg) => logger.info({}, msg) });
  logger.info({ dsn: redactDsn(config.db.dsn), driver: store.driver }, "database opened");
  try {
    if (store.driver === "postgres") {
      const pending = (await store.migrationStatus()).filter((m) => m.appliedAt === null);
      if (pending.length > 0) {
        if (!(opts.migrate || config.db.migrate_on_start)) throw new StartupError(SCHEMA_BEHIND);
        await store.migrate();
        logger.info({ applied: pending.length }, "migrations applied");
      }
    }
  } catch (e) {
    await store.close();
    throw e;
  }

  let redis: Redis | null = null;
  let subscriber: Redis | null = null;
  const redisCfg = config.cache.redis;
  if (redisCfg.addrs.length > 0) {
    const cfg = { addrs: redisCfg.addrs, password: redisCfg.password, db: redisCfg.db, timeoutMs: redisCfg.timeout, tls: redisCfg.tls.enabled };
    const onError = (e: Error) => logger.warn({ err: e.message }, "redis error");
    redis = createRedisClient(cfg, { onError });
    subscriber = createRedisClient(cfg, { onError });
    await Promise.race([once(redis, "ready"), new Promise((r) => setTimeout(r, redisCfg.timeout))]);
  }
  const limiter = config.rate_limit.backend === "redis" && redis ? createRedisRateLimiter(redis) : createMemoryRateLimiter();

  const runtime = createRuntime({
    config,
    store,
    clock: opts.clock,
    limiter,
    observers: {
      ...opts.observers,
      event: (e) => {
        logger.info({ ...e }, "audit");
        opts.observers?.event?.(e);
      },
      warn: (msg) => logger.warn({}, msg),
    },
    publish: redis ? async (msg) => void (await redis.publish(REDIS_CHANNEL, JSON.stringify(msg))) : undefined,
  });
  await runtime.start();
  if (subscriber && runtime.cache) {
    const cache = runtime.cache;
    subscriber.on("message", (_channel: string, payload: string) => runtime.applyInvalidation(payload));
    // (Re)subscribing means messages may have been missed: start from an empty cache.
    subscriber.on("ready", () => {
      cache.clear();
      subscriber.subscribe(REDIS_CHANNEL).catch(() => logger.warn({}, "redis subscribe failed"));
    });
    if (subscriber.status === "ready") await subscriber.subscribe(REDIS_CHANNEL);
  }

  let draining = false;
  const deps: AppDeps = {
    runtime,
    logger,
    version: VERSION,
    tokens: null,
    draining: () => draining,
    async ready() {
      await store.ping(2000);
      if (store.driver === "postgres") {
        const pending = (await store.migrationStatus()).some((m) => m.appliedAt === null);
        if (pending) throw new TalosError("service_unavailable", "database schema is behind");
      }
    },
  };
  return {
    deps,
    runtime,
    store,
    setDraining: () => void (draining = true),
    async close() {
      await runtime.close();
      await limiter.close();
      redis?.disconnect();
      subscriber?.disconnect();
      await store.close();
    },
  };
}

export const REDIS_CHANNEL = "talos:cache:invalidate";
