import { Gauge, type Registry } from "prom-client";
import type { UsageCounter } from "@talos/core";

/** Usage history's counters (docs/observability.md#usage-history), read at scrape time like the pool gauges. */
export function watchUsage(registry: Registry, usage: Pick<UsageCounter, "stats" | "pending">): void {
  const registers = [registry];
  new Gauge({ name: "talos_usage_pending", help: "Per-key hourly usage counts waiting in memory for the next flush", registers, collect() { this.set(usage.pending); } });
  new Gauge({ name: "talos_usage_dropped", help: "Usage counts dropped since start because usage.max_pending counts were waiting", registers, collect() { this.set(usage.stats.dropped); } });
  new Gauge({ name: "talos_usage_flush_errors", help: "Usage flushes that failed since start (their counts are kept while there is room)", registers, collect() { this.set(usage.stats.errors); } });
}
