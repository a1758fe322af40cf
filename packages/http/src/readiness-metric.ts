import { Gauge, type Registry } from "prom-client";
import type { AppDeps } from "./deps.js";
import { readinessProblem } from "./shared-routes.js";

/**
 * talos_ready: 1 while /health/ready would answer 200, read at scrape time (deploy/prometheus
 * alerts on it). Summed workers would hide one unready worker, so a cluster primary takes the minimum.
 */
export function watchReadiness(registry: Registry, deps: Pick<AppDeps, "ready" | "draining">): void {
  new Gauge({
    name: "talos_ready",
    help: "1 when the process is ready to serve (database reachable, schema current, not shutting down), else 0",
    registers: [registry],
    aggregator: "min",
    async collect() {
      this.set((await readinessProblem(deps)) === null ? 1 : 0);
    },
  });
}
