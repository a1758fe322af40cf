import { setTimeout as sleep } from "node:timers/promises";
import { createRedisClient, REDIS_INVALIDATION_CHANNEL, type ProxyConfig } from "@talos/core";
import type { VerifyCache } from "./cache.js";
import type { ProxyMetrics } from "./metrics.js";
import type { Upstream } from "./upstream.js";

/** The central server's SSE relay (apps/admin cacheInvalidations:stream). */
export const INVALIDATION_STREAM_PATH = "/v2alpha1/admin/cacheInvalidations:stream";
// the server pings every 15 s: silence for longer means a dead connection
const IDLE_MS = 45_000;

export interface Subscription {
  /** resolves once the first subscription is live (or never, while the source is down) */
  readonly live: Promise<void>;
  close(): Promise<void>;
}

interface Sink {
  cache: VerifyCache;
  metrics: ProxyMetrics;
  warn: (msg: string, detail?: Record<string, unknown>) => void;
}

/** Applies one message; `reset` and (re)connection empty the cache, since messages may have been missed. */
function apply(s: Sink, event: string, data: string): void {
  if (event === "invalidate") {
    try {
      const m = JSON.parse(data) as { key_id?: unknown };
      if (typeof m.key_id === "string") s.cache.evictKeyId(m.key_id);
      s.metrics.invalidations.inc({ type: "invalidate" });
    } catch {
      s.cache.clear();
    }
  } else if (event === "reset" || event === "ready") {
    s.cache.clear();
    s.metrics.invalidations.inc({ type: event });
  }
}

/** GET cacheInvalidations:stream with reconnect (backoff up to 5 s) and a full cache clear after any gap. */
export function subscribeStream(talos: Upstream, s: Sink, headers: Record<string, string> = {}): Subscription {
  const abort = new AbortController();
  let markLive: () => void = () => {};
  const live = new Promise<void>((resolve) => (markLive = resolve));
  const run = async () => {
    let backoff = 100;
    while (!abort.signal.aborted) {
      try {
        const r = await talos.dispatcher.request({
          origin: talos.origin,
          path: talos.path(INVALIDATION_STREAM_PATH),
          method: "GET",
          headers: { accept: "text/event-stream", ...headers },
          signal: abort.signal,
          bodyTimeout: IDLE_MS,
        });
        if (r.statusCode !== 200) {
          await r.body.dump();
          throw new Error(`status ${r.statusCode}`);
        }
        let buf = "";
        for await (const chunk of r.body) {
          buf += (chunk as Buffer).toString("utf8");
          let i: number;
          while ((i = buf.indexOf("\n\n")) !== -1) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = "message";
            const data: string[] = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
            }
            if (block.startsWith(":")) continue; // ping
            apply(s, event, data.join("\n"));
            if (event === "ready") {
              s.metrics.subscribed.set(1);
              backoff = 100;
              markLive();
            }
          }
        }
        throw new Error("stream ended");
      } catch (e) {
        if (abort.signal.aborted) break;
        s.metrics.subscribed.set(0);
        s.cache.clear();
        // once per outage, not per attempt (a server without the stream answers 404 every time)
        if (backoff === 100) s.warn("invalidation stream lost; cache cleared, reconnecting", { err: e instanceof Error ? e.message : String(e) });
        await sleep(backoff).catch(() => {});
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  };
  const done = run();
  return {
    live,
    async close() {
      abort.abort();
      await done;
    },
  };
}

/** The central servers' Redis pub/sub (cache.redis.addrs): the same messages, without the stream. */
export function subscribeRedis(cfg: ProxyConfig["redis"], s: Sink): Subscription {
  let markLive: () => void = () => {};
  const live = new Promise<void>((resolve) => (markLive = resolve));
  const sub = createRedisClient({ addrs: cfg.addrs, password: cfg.password, db: cfg.db, timeoutMs: 3_000, tls: false }, { onError: (e) => s.warn("redis error", { err: e.message }) });
  sub.on("message", (_channel: string, payload: string) => apply(s, "invalidate", payload));
  const subscribeNow = () =>
    sub.subscribe(REDIS_INVALIDATION_CHANNEL).then(
      () => {
        apply(s, "ready", "{}");
        s.metrics.subscribed.set(1);
        markLive();
      },
      () => s.warn("redis subscribe failed"),
    );
  sub.on("ready", () => void subscribeNow());
  sub.on("close", () => {
    s.metrics.subscribed.set(0);
    s.cache.clear();
  });
  if (sub.status === "ready") void subscribeNow();
  return {
    live,
    async close() {
      sub.disconnect();
    },
  };
}
