import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { ConfigError, type Config, type LoadedConfig, type Network } from "@talos/core";
import type { Logger, Metrics } from "@talos/http";
import { Counter, Gauge } from "prom-client";
import type { Tenancy } from "./tenancy.js";

/** Settings fixed for the life of the process: a reload reports them and keeps their old value. */
export const RESTART_ONLY = ["serve.http.host", "serve.http.port", "serve.metrics", "serve.workers", "db", "cache.redis", "log.format"] as const;

export interface ReloadResult {
  outcome: "applied" | "unchanged" | "rejected";
  /** the configuration now served (the old one when rejected) */
  config: Config;
  /** a fingerprint of the configuration now served (main and every network) */
  hash: string;
  /** changed settings that keep their old value until a restart */
  restartNeeded: string[];
  /** why a reload was rejected: one line per bad field */
  issues: string[];
}

interface Loaded {
  config: Config;
  networks: readonly Network[];
}

/** Applies reloads one at a time, with talos_config_reloads_total{outcome} and talos_config_info{hash}. */
export function createReloader(initial: Loaded, tenancy: Tenancy, metrics: Metrics, logger: Logger) {
  let current = initial;
  let hash = hashOf(initial);
  const registers = [metrics.registry];
  const reloads = new Counter({
    name: "talos_config_reloads_total",
    help: "Configuration reloads by outcome (applied, unchanged, rejected)",
    labelNames: ["outcome"],
    registers,
  });
  const info = new Gauge({
    name: "talos_config_info",
    help: "The configuration in service: 1 with its hash as label",
    labelNames: ["hash"],
    registers,
  });
  info.set({ hash }, 1);
  let queue: Promise<unknown> = Promise.resolve();

  async function run(load: () => LoadedConfig, trigger: string): Promise<ReloadResult> {
    const rejected = (issues: string[]): ReloadResult => {
      reloads.inc({ outcome: "rejected" });
      logger.error({ trigger, issues }, "configuration reload rejected; the previous configuration stays in service");
      return { outcome: "rejected", config: current.config, hash, restartNeeded: [], issues };
    };
    let loaded: LoadedConfig;
    try {
      loaded = load();
    } catch (e) {
      if (e instanceof ConfigError) return rejected(e.issues);
      return rejected([e instanceof Error ? e.message : "the configuration could not be read"]);
    }
    const restartNeeded = RESTART_ONLY.filter((path) => !isDeepStrictEqual(at(current.config, path), at(loaded.config, path)));
    const next: Loaded = {
      config: pin(loaded.config, current.config),
      networks: loaded.networks.map((n) => ({ ...n, config: pin(n.config, current.config) })),
    };
    if (restartNeeded.length > 0)
      logger.warn({ trigger, settings: restartNeeded }, "changed settings take effect only after a restart; they keep their old values");
    const nextHash = hashOf(next);
    if (nextHash === hash) {
      reloads.inc({ outcome: "unchanged" });
      logger.info({ trigger, hash }, "configuration unchanged");
      return { outcome: "unchanged", config: current.config, hash, restartNeeded, issues: [] };
    }
    try {
      await tenancy.apply(next.config, next.networks);
    } catch (e) {
      return rejected([e instanceof Error ? e.message : "a network could not be started"]);
    }
    current = next;
    info.reset();
    info.set({ hash: nextHash }, 1);
    hash = nextHash;
    reloads.inc({ outcome: "applied" });
    logger.info({ trigger, hash, networks: next.networks.map((n) => n.hostname) }, "configuration reloaded");
    return { outcome: "applied", config: next.config, hash, restartNeeded, issues: [] };
  }

  return {
    /** re-reads through `load` and applies a valid result; reloads never overlap */
    reload(load: () => LoadedConfig, trigger: string): Promise<ReloadResult> {
      const p = queue.then(() => run(load, trigger));
      queue = p.catch(() => {});
      return p;
    },
    current: () => current,
  };
}

/** `config` with every restart-only setting taken from `old`. */
function pin(config: Config, old: Config): Config {
  const out = structuredClone(config);
  for (const path of RESTART_ONLY) {
    const segs = path.split(".");
    let cur = out as unknown as Record<string, unknown>;
    for (const s of segs.slice(0, -1)) cur = cur[s] as Record<string, unknown>;
    cur[segs.at(-1)!] = structuredClone(at(old, path));
  }
  return out;
}

function at(config: Config, path: string): unknown {
  let cur: unknown = config;
  for (const s of path.split(".")) cur = (cur as Record<string, unknown>)[s];
  return cur;
}

/** A short fingerprint; the input holds secrets, so only a digest of it is ever shown. */
function hashOf(l: Loaded): string {
  const text = JSON.stringify({ config: l.config, networks: l.networks.map((n) => ({ id: n.id, hostname: n.hostname, config: n.config })) });
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}
