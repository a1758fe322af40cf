import { VerificationError, type AuditEvent, type RuntimeObservers, type Verification } from "@talos/core";
import { SeriesCounter, type CounterSeries, type RequestObserver } from "@talos/http";
import type { Registry } from "prom-client";

const RESULTS = new Map<number, string>(
  Object.entries(VerificationError).map(([name, code]) => [code as number, code === 0 ? "valid" : name.toLowerCase()]),
);

/**
 * Per-network series (docs/multitenancy.md#metrics): the `network` label is a configured
 * hostname, never a value from the request, so the series stay bounded by the configuration.
 */
export function createNetworkMetrics(registry: Registry) {
  const requests = new SeriesCounter("talos_network_http_requests_total", "HTTP requests per network and status (multitenancy)", registry);
  const verifications = new SeriesCounter("talos_network_verifications_total", "Verifications per network and result (multitenancy)", registry);
  const events = new SeriesCounter("talos_network_api_key_events_total", "Key lifecycle events per network (multitenancy)", registry);
  const limiter = new SeriesCounter("talos_network_rate_limit_decisions_total", "Rate limiter decisions per network (multitenancy)", registry);
  const bound = (metric: SeriesCounter, cache: Map<string, CounterSeries>, labels: Record<string, string>) => {
    const key = Object.values(labels).join("\u0000");
    let s = cache.get(key);
    if (!s) cache.set(key, (s = metric.series(labels)));
    return s;
  };
  return {
    /** the observers of one network; `network` is its configured hostname */
    forNetwork(network: string): { observeRequest: RequestObserver; observers: Pick<RuntimeObservers, "verification" | "event" | "limiter"> } {
      const r = new Map<string, CounterSeries>();
      const v = new Map<string, CounterSeries>();
      const e = new Map<string, CounterSeries>();
      const l = new Map<string, CounterSeries>();
      return {
        observeRequest: (q) => bound(requests, r, { network, status: String(q.status) }).inc(),
        observers: {
          verification: (x: Verification) => bound(verifications, v, { network, result: RESULTS.get(x.errorCode) ?? "internal" }).inc(),
          event: (x: AuditEvent) => bound(events, e, { network, event: x.event }).inc(),
          limiter: (decision) => bound(limiter, l, { network, decision }).inc(),
        },
      };
    },
  };
}

export type NetworkMetrics = ReturnType<typeof createNetworkMetrics>;
