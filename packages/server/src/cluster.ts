import cluster, { type Worker } from "node:cluster";
import { randomUUID } from "node:crypto";
import { TalosError, type Config } from "@talos/core";
import { clusterMetricsRoute, createRequestListener, type Logger } from "@talos/http";
import { metricsApp } from "./apps.js";
import type { TalosServer } from "./create-server.js";
import { listen, type Listening } from "./listen.js";

/**
 * `serve.workers` > 1: this process forks the workers, which share the API port (node:cluster hands
 * each new connection to one of them), and serves the metrics listener itself: /metrics summed over
 * the workers, /health/ready only when every worker is ready. It opens no database.
 */

/** Messages between primary and workers; prom-client's own metric messages travel alongside. */
export type ClusterMessage = { talos: "listening"; port: number } | { talos: "ready?"; id: string } | { talos: "ready"; id: string; error?: string };

const READY_TIMEOUT_MS = 2_000;
/** A worker that dies this often within RESTART_WINDOW_MS stops the whole server. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 500;

export interface PrimaryOptions {
  config: Config;
  logger: Logger & { flush?: () => void };
  mode: string;
  drainMs: number;
  /** prints `TALOS_PORTS <api> <metrics>` once every worker listens */
  printPorts: boolean;
}

export async function runPrimary(o: PrimaryOptions): Promise<number> {
  const { config, logger } = o;
  const count = config.serve.workers;
  let stopping = false;
  let failedCode = 0;
  const restarts: number[] = [];
  const listening = new Set<number>();
  let apiPort = 0;
  /** every first-generation worker listened: later exits are crashes, not start-up failures */
  let up = false;

  let startupDone: (ok: boolean) => void = () => {};
  const started = new Promise<boolean>((resolve) => (startupDone = resolve));

  const fork = () => {
    const w = cluster.fork();
    w.on("message", (m: ClusterMessage) => {
      if (m?.talos !== "listening") return;
      listening.add(w.id);
      apiPort = m.port;
      if (!up && listening.size === count) {
        up = true;
        startupDone(true);
      }
    });
    w.on("exit", (code, signal) => onExit(w, code, signal));
  };

  const onExit = (w: Worker, code: number | null, signal: string | null) => {
    listening.delete(w.id);
    if (stopping) return;
    if (!up) {
      // a first-generation worker that never served failed to start (schema behind, port taken,
      // bad secret): so will the rest
      logger.error({ worker: w.id, code, signal }, "a worker failed to start");
      failedCode = code || 1;
      startupDone(false);
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while (restarts.length && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      logger.error({ worker: w.id, code, signal }, `workers exited ${restarts.length} times within a minute: stopping`);
      failedCode = 1;
      void stop("worker crash loop");
      return;
    }
    logger.error({ worker: w.id, code, signal }, "a worker exited unexpectedly: starting a replacement");
    // back off a little more after each recent exit: a replacement may fail for the same reason
    const timer = setTimeout(() => stopping || fork(), RESTART_DELAY_MS * (restarts.length - 1));
    timer.unref();
  };

  const stopWorkers = async (graceMs: number) => {
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    const exits = alive.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once("exit", () => resolve()))));
    for (const w of alive) w.process.kill("SIGTERM");
    const timer = setTimeout(() => alive.forEach((w) => w.isDead() || w.process.kill("SIGKILL")), graceMs);
    await Promise.all(exits);
    clearTimeout(timer);
  };

  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let metrics: Listening | null = null;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    startupDone(false); // a signal during start-up: stop waiting for the rest to listen
    logger.info({ reason }, "shutting down: draining the workers");
    await stopWorkers(o.drainMs + 5_000);
    if (metrics) await metrics.close(1000);
    logger.info({}, "stopped");
    finish(failedCode);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));

  for (let i = 0; i < count; i++) fork();
  if (!(await started)) {
    await stop("start-up failed");
    return finished;
  }
  if (stopping) return finished;

  if (config.serve.metrics.enabled) {
    const app = metricsApp(
      { logger, http: { cors: config.serve.http.cors }, ready: allWorkersReady, draining: () => stopping },
      clusterMetricsRoute(),
    );
    metrics = await listen(createRequestListener(app, { hostname: config.serve.metrics.host }), config.serve.metrics.host, config.serve.metrics.port);
  }
  logger.info({ mode: o.mode, port: apiPort, metrics_port: metrics?.port ?? null, workers: count }, "talos is serving");
  if (o.printPorts) process.stdout.write(`TALOS_PORTS ${apiPort} ${metrics?.port ?? 0}\n`);
  return finished;
}

/** Resolves when every live worker answers that it is ready; throws the first reason it is not. */
async function allWorkersReady(): Promise<void> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
  if (workers.length === 0) throw new TalosError("service_unavailable", "no worker is running");
  await Promise.all(workers.map(askReady));
}

function askReady(w: Worker): Promise<void> {
  const id = randomUUID();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      w.off("message", onMessage);
      reject(new TalosError("service_unavailable", "a worker did not answer the readiness check"));
    }, READY_TIMEOUT_MS);
    const onMessage = (m: ClusterMessage) => {
      if (m?.talos !== "ready" || m.id !== id) return;
      clearTimeout(timer);
      w.off("message", onMessage);
      if (m.error) reject(new TalosError("service_unavailable", m.error));
      else resolve();
    };
    w.on("message", onMessage);
    w.send({ talos: "ready?", id } satisfies ClusterMessage);
  });
}

/** A cluster worker tells the primary it listens and answers its readiness checks. */
export function joinCluster(server: Pick<TalosServer, "ready">, port: number): void {
  const send = (m: ClusterMessage) => process.send?.(m);
  process.on("message", (m: ClusterMessage) => {
    if (m?.talos !== "ready?") return;
    void server.ready().then((error) => send(error === null ? { talos: "ready", id: m.id } : { talos: "ready", id: m.id, error }));
  });
  send({ talos: "listening", port });
}
