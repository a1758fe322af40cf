import type { ServiceContext, WebhookConfig } from "@talos/core";
import type { Logger } from "@talos/http";
import type { Registry } from "prom-client";
import { EventWorker } from "./dispatcher.js";
import { eventMetrics } from "./metrics.js";

export { EventWorker } from "./dispatcher.js";
export { backoffMs } from "./backoff.js";

/** The outbox's background work for one server: webhook delivery, expiry scan, pruning, metrics. */
export async function startEventWorker(
  ctx: ServiceContext,
  registry: Registry,
  logger: Logger,
  opts: { webhooks?: () => WebhookConfig[]; background?: boolean } = {},
): Promise<EventWorker> {
  const m = eventMetrics(registry, ctx.store, ctx.clock);
  let warned = false;
  const worker = new EventWorker({
    ctx,
    webhooks: opts.webhooks,
    observe: m.observe,
    // one line per streak of failures: a database that is down is reported elsewhere already
    warn: (msg) => {
      if (!warned) logger.warn({}, msg);
      warned = true;
      setTimeout(() => (warned = false), 60_000).unref();
    },
  });
  // the public surface records events (self-revocation, leak reports) but leaves delivery to admin processes
  if (opts.background ?? true) await worker.start();
  return worker;
}
