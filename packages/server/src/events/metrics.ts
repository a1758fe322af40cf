import type { Store } from "@talos/core";
import { Counter, Gauge, type Registry } from "prom-client";
import type { DeliveryOutcomeLabel } from "./dispatcher.js";

/** docs/events.md#metrics: deliveries by outcome, queue depth, oldest undelivered age, dead letters. */
export function eventMetrics(registry: Registry, store: Store, now: () => number) {
  const r = [registry];
  const deliveries = new Counter({
    name: "talos_event_deliveries_total",
    help: "Webhook delivery attempts by outcome",
    labelNames: ["webhook", "outcome"],
    registers: r,
  });
  // one query per scrape serves all three gauges
  let last: Promise<{ pending: number; dead: number; oldestPending: Date | null }> | null = null;
  const stats = () => (last ??= store.repo.events.stats().finally(() => setTimeout(() => (last = null), 100).unref()));
  new Gauge({
    name: "talos_event_queue_depth",
    help: "Webhook deliveries waiting (pending)",
    registers: r,
    async collect() {
      this.set((await stats().catch(() => ({ pending: Number.NaN }))).pending);
    },
  });
  new Gauge({
    name: "talos_event_dead_letters",
    help: "Webhook deliveries dead-lettered (kept until retention prunes them)",
    registers: r,
    async collect() {
      this.set((await stats().catch(() => ({ dead: Number.NaN }))).dead);
    },
  });
  new Gauge({
    name: "talos_event_oldest_undelivered_seconds",
    help: "Age of the oldest event with a pending delivery; 0 when none",
    registers: r,
    async collect() {
      const s = await stats().catch(() => null);
      this.set(!s ? Number.NaN : s.oldestPending ? Math.max(0, (now() - s.oldestPending.getTime()) / 1000) : 0);
    },
  });
  return { observe: (webhook: string, outcome: DeliveryOutcomeLabel) => deliveries.inc({ webhook, outcome }) };
}
