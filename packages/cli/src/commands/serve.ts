import cluster from "node:cluster";
import { ConfigError, loadConfig } from "@talos/core";
import { createMetrics, createRequestListener, readinessProblem, shareMetricsWithPrimary, type AppDeps } from "@talos/http";
import { processEnv } from "../env.js";
import { createLoggers } from "../logger.js";
import { listenerFor, metricsApp } from "../server/apps.js";
import { buildServer, StartupError, type Mode } from "../server/build.js";
import { runPrimary, type ClusterMessage } from "../server/cluster.js";
import { closeServer, listen } from "../server/listen.js";

export interface ServeOptions {
  config?: string;
  dev?: boolean;
  migrate?: boolean;
}

const DRAIN_MS = 30_000;

/** `talos serve [all|admin|public]` (docs/cli.md#server-commands). Resolves once the process should exit. */
export async function serveCommand(modeArg: string | undefined, opts: ServeOptions): Promise<number> {
  const mode = (modeArg ?? "all") as Mode;
  if (!["all", "admin", "public"].includes(mode)) {
    process.stderr.write(`error: unknown mode "${modeArg}"; use all, admin or public\n`);
    return 2;
  }
  let loaded;
  try {
    loaded = loadConfig({ file: opts.config, env: processEnv(), dev: opts.dev ? { dir: ".talos" } : undefined });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const { config, warnings } = loaded;
  const { logger, logRequest } = createLoggers(config.log);
  const printPorts = processEnv().TALOS_PRINT_PORTS === "1";
  // start-up warnings come once, from the process the operator started
  if (!cluster.isWorker) {
    for (const w of warnings) logger.warn({}, w);
    if (opts.dev) logger.warn({}, "DEVELOPMENT MODE: generated secrets are stored under ./.talos/ — never use --dev in production");
    if (mode !== "public") logger.warn({}, "the admin API has no built-in authentication: expose it only on a private network");
  }
  if (config.serve.workers > 1 && cluster.isPrimary) {
    const code = await runPrimary({ config, logger, mode, drainMs: DRAIN_MS, printPorts });
    logger.flush();
    return code;
  }
  const worker = cluster.isWorker ? cluster.worker : undefined;

  const telemetry = createMetrics();
  if (worker) shareMetricsWithPrimary(telemetry.registry);
  let built;
  try {
    built = await buildServer(config, logger, {
      migrate: opts.migrate ?? false,
      observers: telemetry.observers,
      devDir: opts.dev ? ".talos" : undefined,
      production: processEnv().NODE_ENV === "production",
    });
  } catch (e) {
    const msg = e instanceof StartupError || e instanceof Error ? e.message : "start-up failed";
    logger.error({}, msg);
    logger.flush();
    process.stderr.write(`error: ${msg}\n`);
    return 1;
  }
  const { deps } = built;
  deps.inFlight = telemetry.inFlight;
  telemetry.watchStore(built.store.stats);
  deps.observeRequest = (r) => {
    telemetry.observeRequest(r);
    if (config.serve.http.request_log.exclude_health_endpoints && r.route.startsWith("/health/")) return;
    logRequest({ method: r.method, route: r.route, path: r.path, status: r.status, bytes: r.bytesOut, duration_ms: Math.round(r.durationMs * 1000) / 1000, request_id: r.requestId });
  };

  const api = await listen(listenerFor(mode, deps), config.serve.http.host, config.serve.http.port);
  // a worker's metrics listener is the primary's (summed over the workers)
  const metrics =
    config.serve.metrics.enabled && !worker
      ? await listen(createRequestListener(metricsApp(deps, telemetry.route), { hostname: config.serve.metrics.host }), config.serve.metrics.host, config.serve.metrics.port)
      : null;
  if (worker) joinCluster(deps, api.port);
  else {
    logger.info({ mode, port: api.port, metrics_port: metrics?.port ?? null }, "talos is serving");
    // Machine-readable line for scripts and tests that start on port 0.
    if (printPorts) process.stdout.write(`TALOS_PORTS ${api.port} ${metrics?.port ?? 0}\n`);
  }

  // SIGTERM/SIGINT drain (a cluster primary sends SIGTERM to its workers when it stops). When a
  // primary dies without stopping its workers (SIGKILL), node:cluster exits them at once on the
  // lost IPC channel: no drain is possible there.
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      if (!worker) logger.info({ signal }, "shutting down: draining in-flight requests");
      built.setDraining();
      await closeServer(api.server, DRAIN_MS);
      if (metrics) await closeServer(metrics.server, 1000);
      await built.close();
      if (!worker) logger.info({}, "stopped");
      logger.flush();
      resolve(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });
}

/** A cluster worker tells the primary it listens and answers its readiness checks. */
function joinCluster(deps: AppDeps, port: number): void {
  const send = (m: ClusterMessage) => process.send?.(m);
  process.on("message", (m: ClusterMessage) => {
    if (m?.talos !== "ready?") return;
    void readinessProblem(deps).then((error) => send(error === null ? { talos: "ready", id: m.id } : { talos: "ready", id: m.id, error }));
  });
  send({ talos: "listening", port });
}
