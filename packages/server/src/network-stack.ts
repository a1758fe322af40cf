import type { RequestListener } from "node:http";
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  createRuntime,
  createTokenService,
  createTokenVerifier,
  bareFailure,
  VerificationError,
  type Clock,
  type RuntimeOptions,
  type TokenVerifier,
  type Config,
  type InvalidationMessage,
  type Limiter,
  type RateLimiter,
  type Runtime,
  type RuntimeObservers,
  type Store,
} from "@talos/core";
import type { AdminGuard, AppDeps, Logger, Metrics } from "@talos/http";
import type { Mode } from "./apps.js";
import { auditObservers } from "./audit.js";
import { signingKeys } from "./signing-keys.js";

/**
 * One network's share of a server (docs/multitenancy.md): its runtime (key crypto, cache, last-used
 * queue, verifier, all bound to its NID), token service and listeners, over the process's shared
 * store, limiters, Redis and metrics. Rebuilt as a whole when its configuration is reloaded.
 */
export interface NetworkStack {
  readonly nid: string;
  readonly config: Config;
  readonly runtime: Runtime;
  readonly deps: AppDeps;
  /** the mode's listener (built once per mode) */
  listener(mode: Mode): RequestListener;
  /** stops background work (LISTEN, last-used flushing after a final flush) */
  close(): Promise<void>;
}

/** What every network of one process shares. */
export interface StackShared {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** the limiter of each backend (the Redis one only with cache.redis) */
  limiters: { memory: Limiter; redis: Limiter | null };
  publish?: (msg: InvalidationMessage) => Promise<void>;
  devDir?: string;
  /** further observers (tests), after the metrics and the audit log */
  observers?: RuntimeObservers;
  /** the nil network's deps as createServer built them: the shell (readiness, draining, request observer, in-flight gauge) */
  base: AppDeps;
  /** the bind address: the URL host of requests without a Host header */
  bindHost: string;
  /** serve.admin_auth of a stack's configuration: its guard, or null for mode none */
  adminGuard: (config: Config) => AdminGuard | null;
  /** tracing.enabled: spans for each network's store calls and verifications */
  tracer?: RuntimeOptions["tracer"];
  /** builds a mode's listener for a stack's deps; `tenant`: a network of multitenancy.networks (createServer adds tracing, and the console outside tenants) */
  listenerFor: (mode: Mode, deps: AppDeps, hostname: string, tenant: boolean) => RequestListener;
}

/** Both backends' limiters around the one createServer chose (a network may pick the other). */
export function limitersAround(limiter: RateLimiter, redis: Parameters<typeof createRedisRateLimiter>[0] | undefined): StackShared["limiters"] {
  return {
    memory: limiter.backend === "memory" ? limiter : createMemoryRateLimiter(),
    redis: limiter.backend === "redis" ? limiter : redis ? createRedisRateLimiter(redis) : null,
  };
}

/** Wraps the runtime and deps createServer built for the nil network (nothing is rebuilt). */
export function stackOf(config: Config, runtime: Runtime, deps: AppDeps, s: StackShared): NetworkStack {
  return withListeners({ nid: runtime.ctx.nid, config, runtime, deps, close: async () => {} }, s, false);
}

/** Per-network metric observers (network-metrics.ts), for the networks of multitenancy.networks. */
export interface NetworkObservers {
  observeRequest: NonNullable<AppDeps["observeRequest"]>;
  observers: Pick<RuntimeObservers, "verification" | "event" | "limiter">;
}

/** Builds the stack of network `nid` with its merged configuration; `tenant`: one of multitenancy.networks, with its labelled metrics. */
export async function createNetworkStack(nid: string, config: Config, s: StackShared, tenant: NetworkObservers | null): Promise<NetworkStack> {
  const keys = await signingKeys(config, s.logger, s.devDir);
  const m = s.metrics.observers;
  const audit = auditObservers(s.logger);
  const extra = s.observers ?? {};
  const net = tenant?.observers ?? {};
  const limiter = config.rate_limit.backend === "redis" && s.limiters.redis ? s.limiters.redis : s.limiters.memory;
  const runtime = createRuntime({
    config,
    store: s.store,
    clock: s.clock,
    limiter,
    tracer: s.tracer,
    // events name the authenticated admin caller, whichever network the request was for
    principalName: s.base.ctx.principalName,
    nid,
    tokens: tenant
      ? unattributedAsNotFound(createTokenVerifier({ config, clock: s.clock, nid, keys }))
      : createTokenVerifier({ config, clock: s.clock, nid, keys }),
    observers: {
      event: (e) => {
        m.event?.(e);
        net.event?.(e);
        audit.event?.(e);
        extra.event?.(e);
      },
      verification: (v) => {
        m.verification?.(v);
        net.verification?.(v);
        extra.verification?.(v);
      },
      limiter: (decision, backend) => {
        m.limiter?.(decision, backend);
        net.limiter?.(decision, backend);
        extra.limiter?.(decision, backend);
      },
      invalidation: (source, outcome) => {
        m.invalidation?.(source, outcome);
        extra.invalidation?.(source, outcome);
      },
      warn: (msg) => s.logger.warn({ network: nid }, msg),
    },
    publish: s.publish,
  });
  await runtime.start();
  const deps: AppDeps = {
    ...s.base,
    ctx: runtime.ctx,
    verifier: runtime.verifier,
    http: config.serve.http,
    adminGuard: s.adminGuard(config),
    observeRequest: tenant ? withNetwork(s.base.observeRequest, tenant.observeRequest) : s.base.observeRequest,
    tokens: createTokenService({
      ctx: runtime.ctx,
      verifier: runtime.verifier,
      keys,
      onSignerMissing: (operation) => {
        m.signingKeyMissing?.(operation);
        extra.signingKeyMissing?.(operation);
      },
    }),
  };
  return withListeners({ nid, config, runtime, deps, close: () => runtime.close() }, s, tenant !== null);
}

/**
 * A derived token this network's keys did not sign is, for this network, an unknown credential:
 * a token of another network answers NOT_FOUND, exactly like a key of another network.
 */
function unattributedAsNotFound(tokens: TokenVerifier): TokenVerifier {
  return {
    async verify(type, credential, clientIp) {
      const v = await tokens.verify(type, credential, clientIp);
      return v.errorCode === VerificationError.SIGNATURE_INVALID ? bareFailure(VerificationError.NOT_FOUND, type) : v;
    },
  };
}

function withNetwork(shared: AppDeps["observeRequest"], own: NetworkObservers["observeRequest"]): NonNullable<AppDeps["observeRequest"]> {
  if (!shared) return own;
  return (q) => {
    shared(q);
    own(q);
  };
}

function withListeners(stack: Omit<NetworkStack, "listener">, s: StackShared, tenant: boolean): NetworkStack {
  const built = new Map<Mode, RequestListener>();
  return {
    ...stack,
    listener(mode) {
      let l = built.get(mode);
      if (!l) built.set(mode, (l = s.listenerFor(mode, stack.deps, s.bindHost, tenant)));
      return l;
    },
  };
}
