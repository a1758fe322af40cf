import cluster from "node:cluster";
import { ConfigError, loadConfig } from "@talos/core";
import { createServer, joinCluster, MODES, runPrimary, watchConfig, type Mode } from "@talos/server";
import { processEnv } from "../env.js";
import { createLoggers } from "../logger.js";

export interface ServeOptions {
  config?: string;
  dev?: boolean;
  migrate?: boolean;
}

const DRAIN_MS = 30_000;

/** `talos serve [all|admin|public]` (docs/cli.md#server-commands). Resolves once the process should exit. */
export async function serveCommand(modeArg: string | undefined, opts: ServeOptions): Promise<number> {
  const mode = (modeArg ?? "all") as Mode;
  if (!MODES.includes(mode)) {
    process.stderr.write(`error: unknown mode "${modeArg}"; use all, admin or public\n`);
    return 2;
  }
  let loaded;
  const load = () => loadConfig({ file: opts.config, env: processEnv(), dev: opts.dev ? { dir: ".talos" } : undefined });
  try {
    loaded = load();
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
    if (mode !== "public" && config.serve.admin_auth.mode.includes("none")) logger.warn({}, "the admin API has no built-in authentication: expose it only on a private network");
  }
  if (config.serve.workers > 1 && cluster.isPrimary) {
    // every worker watches the files itself; SIGHUP to the primary reaches each of them
    process.on("SIGHUP", () => Object.values(cluster.workers ?? {}).forEach((w) => w?.process.kill("SIGHUP")));
    const code = await runPrimary({ config, logger, mode, drainMs: DRAIN_MS, printPorts });
    logger.flush();
    return code;
  }
  const worker = cluster.isWorker;

  let server;
  try {
    server = await createServer(config, {
      logger,
      requestLog: logRequest,
      migrate: opts.migrate ?? false,
      devDir: opts.dev ? ".talos" : undefined,
      production: processEnv().NODE_ENV === "production",
      clusterWorker: worker,
      networks: loaded.networks,
      // webhooks and the expiry scan run where the admin API runs, not on the internet-facing process
      background: mode !== "public",
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : "start-up failed";
    logger.error({}, msg);
    logger.flush();
    process.stderr.write(`error: ${msg}\n`);
    return 1;
  }

  let api, metrics;
  try {
    api = await server.listen(mode);
    // a worker's metrics listener is the primary's (summed over the workers)
    metrics = await server.metricsListener();
  } catch (e) {
    await server.close();
    throw e;
  }
  // SIGTERM/SIGINT drain (a cluster primary sends SIGTERM to its workers when it stops). When a
  // primary dies without stopping its workers (SIGKILL), node:cluster exits them at once on the
  // lost IPC channel: no drain is possible there. The handlers go in before the process announces
  // that it serves: whoever reads TALOS_PORTS (or the log line) may signal at once, and a pipe
  // write can hand the CPU to the reader before the next statement runs.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      if (!worker) logger.info({ signal }, "shutting down: draining in-flight requests");
      await server.drain(DRAIN_MS);
      await server.close();
      if (!worker) logger.info({}, "stopped");
      logger.flush();
      resolve(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });

  const unwatch = watchConfig(server, { load, file: opts.config, onApplied: (c) => void (logger.level = c.log.level) });
  process.once("beforeExit", unwatch);
  if (worker) joinCluster(server, api.port);
  else {
    logger.info({ mode, port: api.port, metrics_port: metrics?.port ?? null }, "talos is serving");
    // Machine-readable line for scripts and tests that start on port 0.
    if (printPorts) process.stdout.write(`TALOS_PORTS ${api.port} ${metrics?.port ?? 0}\n`);
  }
  return stopped;
}
