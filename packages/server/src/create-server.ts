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
  type LoadedConfig,
  type Network,
  type Runtime,
  type RuntimeObservers,
  type Store,
} from "@talos/core";
import type { ConsoleAuthenticator } from "@talos/console";
import {
  createAdminGuard,
  createMetrics,
  currentAdminPrincipal,
  createRequestListener,
  readinessProblem,
  shareMetricsWithPrimary,
  watchReadiness,
  watchUsage,
  type AppDeps,
  type Logger,
  type Metrics,
  type RequestObserver,
} from "@talos/http";
import { appFor, listenerFor, metricsApp, type Mode } from "./apps.js";
import { auditObservers } from "./audit.js";
import { consoleFor, withConsole } from "./console.js";
import { databaseReady, openDatabase } from "./database.js";
import { startEventWorker, type EventWorker } from "./events/index.js";
import { listen, type Listening, type Timeouts } from "./listen.js";
import { requestObserver, type RequestLine } from "./observe.js";
import { connectRedis } from "./redis.js";
import { refreshSigningKeys, signingKeys } from "./signing-keys.js";
import { limitersAround, stackOf, type StackShared } from "./network-stack.js";
import { createReloader, type ReloadResult } from "./reload.js";
import { createTenancy } from "./tenancy.js";
import { tracedPublish, tracedStore } from "./traced-store.js";
import { createTracing } from "./tracing.js";

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
  /** run the outbox's background work (webhook delivery, expiry scan, pruning); `talos serve public` does not. Default true */
  background?: boolean;
  /** the console's sign-in (admin authentication); absent: the console warns that there is none */
  consoleAuth?: ConsoleAuthenticator;
  /** multitenancy.enabled: the networks loadConfig resolved (docs/multitenancy.md) */
  networks?: readonly Network[];
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
  /** re-reads the configuration through `load` and applies it without a restart (docs/multitenancy.md#reloading-configuration) */
  reload(load: () => LoadedConfig, trigger: string): Promise<ReloadResult>;
  /** reports not-ready, then closes the listeners gracefully (in-flight requests finish, up to graceMs) */
  drain(graceMs: number): Promise<void>;
  /** exports the finished spans now (tracing.enabled); resolves at once when tracing is off */
  flushTraces(): Promise<void>;
  /** drains (when not done yet), then stops background work and closes every connection */
  close(graceMs?: number): Promise<void>;
}

/** Builds the whole server from a parsed config; nothing listens until listen(). */
export async function createServer(config: Config, d: ServerDeps): Promise<TalosServer> {
  const { logger } = d;
  const clock = d.clock ?? systemClock;
  const keys = await signingKeys(config, logger, d.devDir);
  const stopKeyRefresh = refreshSigningKeys(config, keys, logger);
  const store = await openDatabase(config, logger, { migrate: d.migrate ?? false, production: d.production ?? false });
  const redis = await connectRedis(config, logger);
  const limiter = config.rate_limit.backend === "redis" && redis ? createRedisRateLimiter(redis.client) : createMemoryRateLimiter();

  const tracing = config.tracing.enabled ? createTracing(config.tracing, VERSION, logger) : null;
  const metrics = createMetrics();
  if (d.clusterWorker) shareMetricsWithPrimary(metrics.registry);
  metrics.watchStore(store.stats);
  const audit = auditObservers(logger);
  const m = metrics.observers;
  const extra = d.observers ?? {};
  const runtime = createRuntime({
    config,
    store: tracing ? tracedStore(store, tracing.tracer) : store,
    clock,
    limiter,
    tracer: tracing?.tracer,
    principalName: () => currentAdminPrincipal()?.name,
    tokens: createTokenVerifier({ config, clock, nid: NIL_NID, keys }),
    observers: {
      event: (e) => {
        m.event?.(e);
        audit.event?.(e);
        tracing?.tracer.event(e.event, { "talos.key.id": e.keyId, "talos.key.kind": e.kind });
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
    publish: redis && tracing ? tracedPublish(redis.publish, tracing.tracer) : redis?.publish,
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

  let draining = false;
  const traceRequest = tracing?.observeRequest;
  const outer = d.observeRequest;
  const extraRequest: RequestObserver | undefined = traceRequest
    ? (r) => {
        traceRequest(r);
        outer?.(r);
      }
    : outer;
  const observeRequest = requestObserver(config, metrics.observeRequest, d.requestLog, extraRequest);
  const guardOf = (c: Config) => (c.serve.admin_auth.mode.includes("none") ? null : createAdminGuard(c.serve.admin_auth, { limiter, now: clock, http: c.serve.http }));
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
    asyncContext: tracing !== null,
    invalidations: { subscribe: (listener) => runtime.onInvalidation(listener) },
    adminGuard: guardOf(config),
  };
  watchReadiness(metrics.registry, deps);
  watchUsage(metrics.registry, runtime.usage);
  // the console works on the nil network (its store and config as started); a tenant's host never reaches it
  const consoleApp = consoleFor(config, deps, metrics, d.consoleAuth);

  const shared: StackShared = {
    store: tracing ? tracedStore(store, tracing.tracer) : store,
    tracer: tracing?.tracer,
    clock,
    logger,
    metrics,
    limiters: limitersAround(limiter, redis?.client),
    publish: redis && tracing ? tracedPublish(redis.publish, tracing.tracer) : redis?.publish,
    devDir: d.devDir,
    observers: d.observers,
    base: deps,
    bindHost: config.serve.http.host,
    adminGuard: guardOf,
    listenerFor: (mode, stackDeps, host, tenant) => listenerFor(mode, stackDeps, host, tenant ? null : consoleApp),
  };
  const tenancy = await createTenancy(config, d.networks ?? [], stackOf(config, runtime, deps, shared), shared);
  const reloader = createReloader({ config, networks: d.networks ?? [] }, tenancy, metrics, logger);
  await redis?.subscribe(tenancy.invalidation);
  // deliveries follow the webhooks of the configuration in service (reloadable)
  const events = await startEventWorker(runtime.ctx, metrics.registry, logger, {
    webhooks: () => reloader.current().config.events.webhooks,
    background: d.background ?? true,
  });
  const apiListener = (mode: Mode) => {
    const l = tenancy.listener(mode);
    return tracing ? tracing.wrapListener(l) : l;
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
    app: (mode) => withConsole(mode, appFor(mode, deps), consoleApp),
    listener: (mode) => apiListener(mode),
    async listen(mode, at = {}) {
      const host = at.host ?? http.host;
      const l = await listen(apiListener(mode), host, at.port ?? http.port, {
        timeouts: at.timeouts,
        observeRequest,
        tls: http.tls.cert_path ? http.tls : undefined,
      });
      apis.push(l);
      return l;
    },
    async metricsListener(at = {}) {
      if (!config.serve.metrics.enabled || d.clusterWorker) return null;
      const host = at.host ?? config.serve.metrics.host;
      const app = metricsApp(deps, metrics.route);
      const l = await listen(createRequestListener(app, { hostname: host }), host, at.port ?? config.serve.metrics.port, {
        timeouts: at.timeouts,
        tls: config.serve.metrics.tls.cert_path ? config.serve.metrics.tls : undefined,
      });
      probes.push(l);
      return l;
    },
    ready: () => readinessProblem(deps),
    reload: (load, trigger) => reloader.reload(load, trigger),
    flushTraces: () => tracing?.flush() ?? Promise.resolve(),
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
        stopKeyRefresh();
        consoleApp?.close();
        await events.close(graceMs);
        await tenancy.close();
        await runtime.close();
        await limiter.close();
        redis?.disconnect();
        await store.close();
        await tracing?.shutdown().catch(() => {});
      })();
      return closed;
    },
  };
  return server;
}
