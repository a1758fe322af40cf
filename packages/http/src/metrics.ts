import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { SeriesCounter, SeriesHistogram, type CounterSeries, type HistogramSeries } from "./series-metrics.js";
import type { AuditEvent, RuntimeObservers, StoreStats, Verification } from "@talos/core";
import type { RequestObserver } from "./respond.js";
import type { RouteDef } from "./router.js";

const VERIFY_RESULT = ["valid", "invalid_format", "expired", "revoked", "not_found", "signature_invalid", "internal", "ip_not_allowed", "rate_limited"];
const REASONS = ["unspecified", "key_compromise", "affiliation_changed", "superseded", "privilege_withdrawn"];

/** Prometheus metrics of docs/server.md#health-version-metrics-and-logs, one registry per process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  const httpRequests = new SeriesCounter("http_requests_total", "HTTP requests", registry);
  const httpDuration = new SeriesHistogram("http_request_duration_seconds", "HTTP request latency", [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registry);
  const sizeBuckets = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
  const reqSize = new SeriesHistogram("http_request_size_bytes", "Request body size", sizeBuckets, registry);
  const resSize = new SeriesHistogram("http_response_size_bytes", "Response body size", sizeBuckets, registry);
  // a plain count read at scrape time: prom-client's inc()/dec() hash an empty label set on every call
  let requestsInFlight = 0;
  new Gauge({ name: "http_requests_in_flight", help: "Requests being served", registers: r, collect() { this.set(requestsInFlight); } });
  const inFlight = { inc: () => void requestsInFlight++, dec: () => void requestsInFlight-- };
  const verifications = new SeriesCounter("talos_verifications_total", "Verifications by credential type and result", registry);
  const cacheTotal = new SeriesCounter("talos_verification_cache_total", "Verification cache outcomes", registry);
  const invalidations = new Counter({ name: "talos_cache_invalidations_total", help: "Cache invalidations", labelNames: ["source", "outcome"], registers: r });
  const rateDecisions = new Counter({ name: "talos_rate_limit_decisions_total", help: "Rate limiter decisions", labelNames: ["decision", "backend"], registers: r });
  const created = new Counter({ name: "talos_api_keys_created_total", help: "Keys created", labelNames: ["kind", "operation"], registers: r });
  const revoked = new Counter({ name: "talos_api_keys_revoked_total", help: "Keys revoked", labelNames: ["kind", "reason"], registers: r });
  const deleted = new Counter({ name: "talos_api_keys_deleted_total", help: "Imported keys deleted", registers: r });
  const derived = new Counter({ name: "talos_tokens_derived_total", help: "Derived tokens minted", labelNames: ["algorithm"], registers: r });
  const signingKeyMissing = new Counter({
    name: "talos_signing_key_missing_total",
    help: "Derive and JWKS requests answered 500 because no JWT signing key is configured",
    labelNames: ["operation"],
    registers: r,
  });
  for (const operation of ["derive", "jwks"]) signingKeyMissing.inc({ operation }, 0);
  const dbErrors = new Counter({ name: "talos_database_errors_total", help: "Requests that failed on the database", labelNames: ["kind"], registers: r });

  // Series resolved once per (method, route[, status]): prom-client validates and hashes labels on
  // every call, even through labels(), a measurable share of a cache-warm verify. Routes are
  // templates, so the series are few. Keyed by method, then route: both are the same string objects
  // request after request, whose hashes V8 keeps, where a joined key would be hashed every time.
  type Bound = { duration: HistogramSeries; reqSize: HistogramSeries; resSize: HistogramSeries; byStatus: Map<number, CounterSeries> };
  const bound = new Map<string, Map<string, Bound>>();
  const observeRequest: RequestObserver = (q) => {
    let byRoute = bound.get(q.method);
    if (!byRoute) bound.set(q.method, (byRoute = new Map()));
    let b = byRoute.get(q.route);
    if (!b) {
      const labels = { method: q.method, route: q.route };
      b = { duration: httpDuration.series(labels), reqSize: reqSize.series(labels), resSize: resSize.series(labels), byStatus: new Map() };
      byRoute.set(q.route, b);
    }
    let counter = b.byStatus.get(q.status);
    if (!counter) {
      counter = httpRequests.series({ method: q.method, route: q.route, status: String(q.status) });
      b.byStatus.set(q.status, counter);
    }
    counter.inc();
    b.duration.observe(q.durationMs / 1000);
    b.reqSize.observe(q.bytesIn);
    b.resSize.observe(q.bytesOut);
    if (q.status === 503) dbErrors.inc({ kind: "unavailable" });
    if (q.status === 504) dbErrors.inc({ kind: "timeout" });
  };

  // bound like the request metrics above: a few credential types × results, three cache outcomes
  // by credential type, then by error code (a small integer: an array index, no joined key to hash)
  const boundVerifications = new Map<string, CounterSeries[]>();
  const boundCache = new Map<string, CounterSeries>();
  const observers: RuntimeObservers = {
    event(e: AuditEvent) {
      if (e.event === "APIKeyCreated") created.inc({ kind: e.kind, operation: e.operation });
      else if (e.event === "APIKeyRevoked") revoked.inc({ kind: e.kind, reason: REASONS[e.reason] ?? "unspecified" });
      // rotation revokes the old key as SUPERSEDED (docs/keys.md#rotate) without an APIKeyRevoked event
      else if (e.event === "APIKeyRotated") revoked.inc({ kind: e.kind, reason: "superseded" });
      else if (e.event === "ImportedAPIKeyDeleted") deleted.inc();
      else if (e.event === "TokenDerived") derived.inc({ algorithm: e.algorithm });
    },
    verification(v: Verification) {
      const type = v.credentialType ?? "unknown";
      let byCode = boundVerifications.get(type);
      if (!byCode) boundVerifications.set(type, (byCode = []));
      let byResult = byCode[v.errorCode];
      if (!byResult) {
        byResult = verifications.series({ credential_type: type, result: VERIFY_RESULT[v.errorCode] ?? "internal" });
        byCode[v.errorCode] = byResult;
      }
      byResult.inc();
      let byCache = boundCache.get(v.cache);
      if (!byCache) {
        byCache = cacheTotal.series({ result: v.cache.toLowerCase() });
        boundCache.set(v.cache, byCache);
      }
      byCache.inc();
    },
    limiter: (decision, backend) => rateDecisions.inc({ decision, backend }),
    invalidation: (source, outcome) => invalidations.inc({ source, outcome }),
    signingKeyMissing: (operation) => signingKeyMissing.inc({ operation }),
  };

  const route: RouteDef = {
    method: "GET",
    path: "/metrics",
    summary: "Prometheus metrics",
    tags: ["health"],
    responses: { 200: { description: "Prometheus text format 0.0.4" } },
    handler: async () => new Response(await registry.metrics(), { status: 200, headers: { "Content-Type": registry.contentType } }),
  };

  /** Database pool gauges, read at scrape time from the store's live counters. */
  function watchStore(stats: StoreStats): void {
    new Gauge({ name: "talos_db_pool_max_connections", help: "Connections the database pool may open", registers: r, collect() { this.set(stats.poolMax); } });
    new Gauge({ name: "talos_db_in_flight", help: "Database calls and transactions in progress", registers: r, collect() { this.set(stats.inFlight); } });
    new Gauge({ name: "talos_db_errors", help: "Database calls that failed since start", registers: r, collect() { this.set(stats.errors); } });
  }

  return { registry, observeRequest, observers, route, inFlight, watchStore };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** In a cluster worker: answer the primary's metric requests with this process's registry. */
export function shareMetricsWithPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // constructing one installs prom-client's worker-side IPC listener
  new AggregatorRegistry();
}

/** In a cluster primary: GET /metrics answers the sum over every worker's registry. */
export function clusterMetricsRoute(): RouteDef {
  const aggregator = new AggregatorRegistry();
  return {
    method: "GET",
    path: "/metrics",
    summary: "Prometheus metrics, summed over the workers",
    tags: ["health"],
    responses: { 200: { description: "Prometheus text format 0.0.4" } },
    handler: async () => new Response(await aggregator.clusterMetrics(), { status: 200, headers: { "Content-Type": aggregator.contentType } }),
  };
}
