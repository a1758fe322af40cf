import { once } from "node:events";
import {
  createMemoryRateLimiter,
  createTokenService,
  createTokenVerifier,
  ensureDevJwks,
  loadSigningKeys,
  NIL_NID,
  SigningKeyError,
  systemClock,
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
import { auditObservers } from "./audit.js";
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
export async function buildServer(
  config: Config,
  logger: Logger,
  opts: { migrate: boolean; clock?: Clock; observers?: RuntimeObservers; devDir?: string; production?: boolean },
): Promise<Built> {
  const keys = await signingKeys(config, logger, opts.devDir);
  // the transaction guard is a development aid with a per-promise cost (see OpenStoreOptions)
  const store = await openStore(config.db.dsn, { logger: (msg) => logger.info({}, msg), guardTransactions: !opts.production });
  logger.info({ dsn: redactDsn(config.db.dsn), driver: store.driver }, "database opened");
  try {
    if (store.driver === "postgres") {
      const states = await store.migrationStatus();
      if (states.some((m) => m.unknown)) logger.warn({}, "database schema is newer than this talos binary: upgrade talos");
      const pending = states.filter((m) => m.appliedAt === null);
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
    // Invalidation messages only matter to an instance that caches.
    const caching = config.cache.enabled && config.cache.ttl > 0;
    if (caching) subscriber = createRedisClient(cfg, { onError });
    // A Redis that is down must not stop the start-up: the limiter fails open or closed per
    // rate_limit.fail_open and the clients keep reconnecting in the background.
    const ready = await Promise.all([redis, subscriber].flatMap((c) => (c ? [readyWithin(c, redisCfg.timeout)] : [])));
    if (!ready.every(Boolean)) logger.warn({ timeout_ms: redisCfg.timeout }, "redis is not reachable yet; retrying in the background");
  }
  const limiter = config.rate_limit.backend === "redis" && redis ? createRedisRateLimiter(redis) : createMemoryRateLimiter();

  const audit = auditObservers(logger);
  const runtime = createRuntime({
    config,
    store,
    clock: opts.clock,
    limiter,
    tokens: createTokenVerifier({ config, clock: opts.clock ?? systemClock, nid: NIL_NID, keys }),
    observers: {
      ...opts.observers,
      event: (e) => {
        audit.event?.(e);
        opts.observers?.event?.(e);
      },
      verification: (v) => {
        audit.verification?.(v);
        opts.observers?.verification?.(v);
      },
      warn: (msg) => logger.warn({}, msg),
    },
    publish: redis ? async (msg) => void (await redis.publish(REDIS_CHANNEL, JSON.stringify(msg))) : undefined,
  });
  try {
    await runtime.start();
  } catch (e) {
    // the open connections would keep the process alive after the start-up error
    redis?.disconnect();
    subscriber?.disconnect();
    await runtime.close().catch(() => {});
    await store.close();
    throw e;
  }
  if (subscriber && runtime.cache) {
    const cache = runtime.cache;
    const sub = subscriber;
    sub.on("message", (_channel: string, payload: string) => runtime.applyInvalidation(payload));
    // (Re)subscribing means messages may have been missed: start from an empty cache, cleared once
    // the subscription is active so that nothing published in between is lost.
    const subscribe = () =>
      sub.subscribe(REDIS_CHANNEL).then(
        () => cache.clear(),
        () => logger.warn({}, "redis subscribe failed"),
      );
    sub.on("ready", () => void subscribe());
    if (sub.status === "ready") await subscribe();
  }

  let draining = false;
  const deps: AppDeps = {
    runtime,
    logger,
    version: VERSION,
    tokens: createTokenService({ ctx: runtime.ctx, verifier: runtime.verifier, keys }),
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

/** JWT signing keys (docs/derived-tokens.md#jwks); in dev mode without URLs, the persisted generated key. */
async function signingKeys(config: Config, logger: Logger, devDir: string | undefined) {
  const jwt = config.credentials.derived_tokens.jwt;
  let urls = jwt.signing_keys.urls;
  if (devDir !== undefined && urls.length === 0) {
    const dev = await ensureDevJwks(devDir);
    logger.warn(
      { file: dev.file },
      dev.created
        ? "DEV MODE: generated an Ed25519 JWT signing key and saved it (mode 0600); tokens signed now verify only while this file is kept"
        : "DEV MODE: JWT signing key loaded from the development key file",
    );
    if (dev.looseMode) logger.warn({ file: dev.file }, "the development key file is accessible to other users; restrict it with chmod 600");
    urls = [dev.url];
  }
  try {
    const keys = await loadSigningKeys(urls, { signingKeyId: jwt.signing_key_id });
    for (const w of keys.warnings) logger.warn({}, w);
    if (keys.signerProblem) logger.warn({ signing_key_id: jwt.signing_key_id }, `${keys.signerProblem}: JWT derivation answers 500`);
    return keys;
  } catch (e) {
    if (e instanceof SigningKeyError) throw new StartupError(e.message);
    throw e;
  }
}
