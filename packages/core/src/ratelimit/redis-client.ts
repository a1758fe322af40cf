import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";

export interface RedisClientConfig {
  /** `host:port` (`[v6]:port`); port defaults to 6379 */
  addrs: string[];
  password: string;
  db: number;
  timeoutMs: number;
  tls: boolean;
}

/** Splits `host:port`, `[::1]:port` or a bare host. */
export function parseRedisAddr(addr: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]+)(?::(\d+))?$/.exec(addr);
  const port = m?.[2] === undefined ? 6379 : Number(m[2]);
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid redis address ${JSON.stringify(addr)} (want host:port)`);
  }
  return { host: m[1], port };
}

/**
 * One ioredis connection to `addrs[0]`, which must be the primary (or a proxy in front of it); the
 * rest are ignored. Fails fast rather than queueing, reconnects in the background, and routes
 * connection errors to `onError`. Commands fail until the first `ready`: await it to warm up.
 */
export function createRedisClient(cfg: RedisClientConfig, opts: { onError?: (e: Error) => void } = {}): Redis {
  const first = cfg.addrs[0];
  if (first === undefined) throw new Error("cache.redis.addrs is empty");
  const { host, port } = parseRedisAddr(first);
  const options: RedisOptions = {
    host,
    port,
    db: cfg.db,
    connectTimeout: cfg.timeoutMs,
    commandTimeout: cfg.timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // Shutdown must not wait on a dead socket.
    disconnectTimeout: Math.min(cfg.timeoutMs, 500),
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
  if (cfg.password !== "") options.password = cfg.password;
  if (cfg.tls) options.tls = {};
  const client = new Redis(options);
  const onError = opts.onError ?? (() => {});
  client.on("error", (e: Error) => onError(e));
  return client;
}
