import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;

/** The proxy's /metrics (docs/proxy.md#metrics). */
export function createProxyMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    hits: new Counter({ name: "talos_proxy_cache_hits_total", help: "Verify answers served from the proxy cache", registers: r }),
    misses: new Counter({ name: "talos_proxy_cache_misses_total", help: "Verify requests sent upstream (cache miss or bypass)", registers: r }),
    upstreamRequests: new Counter({ name: "talos_proxy_upstream_requests_total", help: "Requests sent upstream, by response status", labelNames: ["status"], registers: r }),
    upstreamLatency: new Histogram({ name: "talos_proxy_upstream_latency_seconds", help: "Time to the upstream's response headers", registers: r }),
    duration: new Histogram({ name: "talos_proxy_request_duration_seconds", help: "Proxy request duration", labelNames: ["cached"], registers: r }),
    invalidations: new Counter({
      name: "talos_proxy_invalidations_received_total",
      help: "Invalidation messages received (invalidate: one key; reset: whole cache)",
      labelNames: ["type"],
      registers: r,
    }),
    subscribed: new Gauge({ name: "talos_proxy_invalidation_subscribed", help: "1 while the invalidation feed is connected", registers: r }),
    entries: new Gauge({ name: "talos_proxy_cache_entries", help: "Cached verify answers", registers: r }),
    rateLimited: new Counter({ name: "talos_proxy_rate_limited_total", help: "Cache hits refused by the shared rate limiter", registers: r }),
  };
}
