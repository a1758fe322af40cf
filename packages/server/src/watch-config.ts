import { unwatchFile, watchFile, type Stats } from "node:fs";
import { resolve } from "node:path";
import type { Config, LoadedConfig } from "@talos/core";
import type { TalosServer } from "./create-server.js";
import type { ReloadResult } from "./reload.js";

export interface WatchOptions {
  /** re-reads the configuration exactly as at start-up (same file, environment and flags) */
  load: () => LoadedConfig;
  /** the main configuration file, when there is one */
  file?: string;
  /** after every applied reload (the CLI applies log.level here) */
  onApplied?: (config: Config) => void;
  /** how often the files' metadata is polled; polling survives editors that replace the file */
  intervalMs?: number;
}

/**
 * Reloads on a change of the main file or any network file, and on SIGHUP
 * (docs/multitenancy.md#reloading-configuration). Returns the function that stops watching.
 */
export function watchConfig(server: Pick<TalosServer, "reload">, o: WatchOptions): () => void {
  const interval = o.intervalMs ?? 1_000;
  const watched = new Set<string>();
  const onChange = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) void run("file change");
  };
  const watch = (files: string[]) => {
    const want = new Set(files.map((f) => resolve(f)));
    for (const f of watched) {
      if (!want.has(f)) {
        unwatchFile(f, onChange);
        watched.delete(f);
      }
    }
    for (const f of want) {
      if (!watched.has(f)) {
        watchFile(f, { interval, persistent: false }, onChange);
        watched.add(f);
      }
    }
  };
  let networkFiles: string[] = [];
  const load = () => {
    const loaded = o.load();
    networkFiles = loaded.networks.map((n) => n.file);
    return loaded;
  };
  const run = async (trigger: string): Promise<ReloadResult> => {
    const result = await server.reload(load, trigger);
    if (result.outcome === "applied") o.onApplied?.(result.config);
    // a network added or removed changes what is watched (a rejected file stays watched for its fix)
    watch([...(o.file ? [o.file] : []), ...networkFiles]);
    return result;
  };
  try {
    load();
  } catch {
    // the start-up load succeeded moments ago; a file broken since then is reported by the next reload
  }
  watch([...(o.file ? [o.file] : []), ...networkFiles]);
  const onHup = () => void run("SIGHUP");
  process.on("SIGHUP", onHup);
  return () => {
    process.off("SIGHUP", onHup);
    for (const f of watched) unwatchFile(f, onChange);
    watched.clear();
  };
}
