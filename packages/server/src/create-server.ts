import type { RequestListener } from "node:http";
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  createRuntime,
  createTokenService,
  createTokenVerifier,
  NIL_NID,
  systemClock,
  VERSION,
  type Clock,
  type Config,
  type Runtime,
  type RuntimeObservers,
  type Store,
} from "@talos/core";
import { createMetrics, createRequestListener, readinessProblem, shareMetricsWithPrimary, type AppDeps, type Logger, type Metrics, type RequestObserver } from "@talos/http";
import { appFor, listenerFor, metricsApp, type Mode } from "./apps.js";
import { auditObservers } from "./audit.js";
import { databaseReady, openDatabase } from "./database.js";
import { startEventWorker, type EventWorker } from "./events/index.js";
import { listen, type Listening, type Timeouts } from "./listen.js";
import { requestObserver, type RequestLine } from "./observe.js";
import { connectRedis } from "./redis.js";
import { signingKeys } from "./signing-keys.js";

/** What createServer takes besides the config: the process's logger and clock, and start-up flags. */
export interface ServerDeps {
  logger: Logger;
  clock?: Clock;
  /** apply pending PostgreSQL migrations (`talos serve --migrate`) */
  migrate?: boolean;
  /** `--dev`: without configured signing keys, a generated one persisted in this directory */
  devDir?: string;
  /** NODE_ENV=production: no transaction-misuse guard (a development aid with a per-call cost) */
  production?: boolean;
  /** a node:cluster worker: its metrics are summed by the primary, which serves them */
  clusterWorker?: boolean;
  /** the request log: one line per answered request (serve.http.request_log applied) */
  requestLog?: (line: RequestLine) => void;
  /** further observers (tests): after the metrics and the audit log */
  observers?: RuntimeObservers;
  observeRequest?: RequestObserver;
}

export interface ListenAt {
  host?: string;
  port?: number;
  timeouts?: Partial<Timeouts>;
}

/** One assembled server: store, caches, limiter, verifier, token service, apps and listeners. */
export interface TalosServer {
  readonly config: Config;
  readonly store: Store;
  readonly runtime: Runtime;
  /** what the apps were built with (fixed at creation) */
  readonly deps: AppDeps;
  readonly metrics: Metrics;
  /** the outbox's background work: webhook delivery, expiry warnings, pruning (docs/events.md) */
  readonly events: EventWorker;
  /** the mode's Hono app (tests drive it with app.request) */
  app(mode: Mode): ReturnType<typeof appFor>;
  /** the mode's node:http listener: the app with the verify fast route ahead of it */
  listener(mode: Mode): RequestListener;
  /** opens the API listener (serve.http.host/port unless given) */
  listen(mode: Mode, at?: ListenAt): Promise<Listening>;
  /** opens the metrics listener (health, /metrics); null when disabled or in a cluster worker */
  metricsListener(at?: ListenAt): Promise<Listening | null>;
  /** why the server is not ready (shutting down, database down, schema behind), or null */
  ready(): Promise<string | null>;
  /** reports not-ready, then closes the listeners gracefully (in-flight requests finish, up to graceMs) */
  drain(graceMs: number): Promise<void>;
  /** drains (when not done yet), then stops background work and closes every connection */
  close(graceMs?: number): Promise<void>;
}

/** Builds the whole server from a parsed config; nothing listens until listen(). */
export async function createServer(config: Config, d: ServerDeps): Promise<TalosServer> {
  const { logger } = d;
  const clock = d.clock ?? systemClock;
  const keys = await signingKeys(config, logger, d.devDir);
  const store = await openDatabase(config, logger, { migrate: d.migrate ?? false, production: d.production ?? false });
  const redis = await connectRedis(config, logger);
  const limiter = config.rate_limit.backend === "redis" && redis ? createRedisRateLimiter(redis.client) : createMemoryRateLimiter();

  const metrics = createMetrics();
  if (d.clusterWorker) shareMetricsWithPrimary(metrics.registry);
  metrics.watchStore(store.stats);
  const audit = auditObservers(logger);
  const m = metrics.observers;
  const extra = d.observers ?? {};
  const runtime = createRuntime({
    config,
    store,
    clock,
    limiter,
    tokens: createTokenVerifier({ config, clock, nid: NIL_NID, keys }),
    observers: {
      event: (e) => {
        m.event?.(e);
        audit.event?.(e);
        extra.event?.(e);
      },
      verification: (v) => {
        m.verification?.(v);
        audit.verification?.(v);
        extra.verification?.(v);
      },
      limiter: (decision, backend) => {
        m.limiter?.(decision, backend);
        extra.limiter?.(decision, backend);
      },
      invalidation: (source, outcome) => {
        m.invalidation?.(source, outcome);
        extra.invalidation?.(source, outcome);
      },
      warn: (msg) => logger.warn({}, msg),
    },
    publish: redis?.publish,
  });
  try {
    await runtime.start();
  } catch (e) {
    // the open connections would keep the process alive after the start-up error
    redis?.disconnect();
    await runtime.close().catch(() => {});
    await store.close();
    throw e;
  }
  await redis?.subscribe(runtime);
  const events = await startEventWorker(runtime.ctx, metrics.registry, logger);

  let draining = false;
  const observeRequest = requestObserver(config, metrics.observeRequest, d.requestLog, d.observeRequest);
  const deps: AppDeps = {
    ctx: runtime.ctx,
    verifier: runtime.verifier,
    http: config.serve.http,
    logger,
    version: VERSION,
    tokens: createTokenService({
      ctx: runtime.ctx,
      verifier: runtime.verifier,
      keys,
      onSignerMissing: (operation) => {
        m.signingKeyMissing?.(operation);
        extra.signingKeyMissing?.(operation);
      },
    }),
    draining: () => draining,
    ready: () => databaseReady(store),
    observeRequest,
    inFlight: metrics.inFlight,
  };

  const apis: Listening[] = [];
  const probes: Listening[] = [];
  let drained: Promise<void> | null = null;
  let closed: Promise<void> | null = null;
  const http = config.serve.http;
  const server: TalosServer = {
    config,
    store,
    runtime,
    deps,
    metrics,
    events,
    app: (mode) => appFor(mode, deps),
    listener: (mode) => listenerFor(mode, deps, http.host),
    async listen(mode, at = {}) {
      const host = at.host ?? http.host;
      const l = await listen(listenerFor(mode, deps, host), host, at.port ?? http.port, { timeouts: at.timeouts, observeRequest });
      apis.push(l);
      return l;
    },
    async metricsListener(at = {}) {
      if (!config.serve.metrics.enabled || d.clusterWorker) return null;
      const host = at.host ?? config.serve.metrics.host;
      const app = metricsApp(deps, metrics.route);
      const l = await listen(createRequestListener(app, { hostname: host }), host, at.port ?? config.serve.metrics.port, { timeouts: at.timeouts });
      probes.push(l);
      return l;
    },
    ready: () => readinessProblem(deps),
    drain(graceMs) {
      drained ??= (async () => {
        draining = true;
        // the metrics listener keeps answering (readiness: 503) while the API listeners drain
        await Promise.all(apis.map((l) => l.close(graceMs)));
        await Promise.all(probes.map((l) => l.close(1_000)));
      })();
      return drained;
    },
    close(graceMs = 1_000) {
      closed ??= (async () => {
        await server.drain(graceMs);
        await events.close(graceMs);
        await runtime.close();
        await limiter.close();
        redis?.disconnect();
        await store.close();
      })();
      return closed;
    },
  };
  return server;
}
