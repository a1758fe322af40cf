import type { IncomingMessage, ServerResponse } from "node:http";
import { createRedisClient, createRedisRateLimiter, type ProxyConfig } from "@talos/core";
import { VerifyCache } from "./cache.js";
import { gatewayHandler, gatewayUpgrade } from "./gateway.js";
import { subscribeRedis, subscribeStream, type Subscription } from "./invalidation.js";
import { closeServer, listenOn } from "./listen.js";
import { createProxyMetrics } from "./metrics.js";
import { sendError, sendJson } from "./respond.js";
import { sidecarHandler } from "./sidecar.js";
import { createUpstream } from "./upstream.js";
import type { VerifyDeps } from "./verify.js";

export interface ProxyLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface RunningProxy {
  port: number;
  metricsPort: number;
  /** resolves once the invalidation feed is live (never without one) */
  subscribed: Promise<void>;
  close(): Promise<void>;
}

function firstValue(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v)?.split(",")[0]?.trim() ?? "";
}

/** Starts `talos proxy` (docs/proxy.md): the proxy listener and the health/metrics listener. */
export async function startProxy(config: ProxyConfig, logger: ProxyLogger): Promise<RunningProxy> {
  const metrics = createProxyMetrics();
  const gateway = config.mode === "gateway";
  const upstream = createUpstream(config.upstream!, metrics);
  const talos = gateway ? createUpstream(config.talos!, metrics) : upstream;
  const cache = config.cache_ttl > 0 ? new VerifyCache(config.cache_max_size) : null;
  const redis =
    config.redis.addrs.length > 0
      ? createRedisClient({ ...config.redis, timeoutMs: 3_000, tls: false }, { onError: (e) => logger.warn({ err: e.message }, "redis error") })
      : null;
  const d: VerifyDeps = { cache, ttlMs: config.cache_ttl, talos, limiter: redis ? createRedisRateLimiter(redis) : null, metrics, now: Date.now };

  const sink = { cache: cache ?? new VerifyCache(1), metrics, warn: (msg: string, f: Record<string, unknown> = {}) => logger.warn(f, msg) };
  let sub: Subscription | null = null;
  const own: Record<string, string> = config.talos_authorization ? { authorization: config.talos_authorization } : {};
  if (cache && config.invalidation === "stream") sub = subscribeStream(talos, sink, own);
  if (cache && config.invalidation === "redis") sub = subscribeRedis(config.redis, sink);

  const hostOf = (req: IncomingMessage) =>
    (config.trust_x_forwarded_host ? firstValue(req.headers["x-forwarded-host"]) : "") || (req.headers.host ?? "");
  const allowed = new Set(config.allowed_hosts.map((h) => h.toLowerCase()));
  const hostAllowed = (req: IncomingMessage) => {
    if (allowed.size === 0) return true;
    const h = hostOf(req).toLowerCase();
    return allowed.has(h) || allowed.has(h.replace(/:\d+$/, ""));
  };
  const health = async (path: string, res: ServerResponse) => {
    if (path === "/health/alive") return sendJson(res, 200, { status: "ok" });
    try {
      const r = await upstream.send("GET", "/health/alive", {});
      if (r.status === 200) return sendJson(res, 200, { status: "ok" });
    } catch {
      // reported below
    }
    sendJson(res, 503, { errors: { upstream: "upstream /health/alive is not reachable" } });
  };

  const serve = gateway ? gatewayHandler(config, d, upstream, own) : sidecarHandler(d, upstream);
  const { server, port } = await listenOn(config.listen, async (req, res) => {
    const end = metrics.duration.startTimer();
    let cached = false;
    try {
      const path = (req.url ?? "/").split("?")[0]!;
      if (req.method === "GET" && (path === "/health/alive" || path === "/health/ready")) return await health(path, res);
      if (!hostAllowed(req)) return sendError(res, 403, "host_not_allowed", "host not allowed");
      cached = await serve(req, res, hostOf(req));
    } catch (e) {
      logger.warn({ err: e instanceof Error ? e.message : String(e) }, "upstream request failed");
      if (!res.headersSent) sendError(res, gateway ? 503 : 502, "upstream_unavailable", "upstream is not reachable");
      else res.destroy();
    } finally {
      end({ cached: String(cached) });
    }
  });
  if (gateway) server.on("upgrade", gatewayUpgrade(config, d, upstream, own, hostAllowed, hostOf, logger));

  const probes = await listenOn(config.metrics_listen, async (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/metrics") {
      metrics.entries.set(cache?.size ?? 0);
      const text = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      return res.end(text);
    }
    if (path === "/health/alive" || path === "/health/ready") return health(path, res);
    sendError(res, 404, "not_found", "not found");
  });

  return {
    port,
    metricsPort: probes.port,
    subscribed: sub?.live ?? new Promise<void>(() => {}),
    async close() {
      await sub?.close();
      await Promise.all([closeServer(server), closeServer(probes.server)]);
      redis?.disconnect();
      await Promise.all([upstream.close(), talos === upstream ? null : talos.close()]);
    },
  };
}
