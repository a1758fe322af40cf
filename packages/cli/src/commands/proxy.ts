import { ConfigError, loadProxyConfig } from "@talos/core";
import { startProxy } from "@talos/proxy";
import { processEnv } from "../env.js";
import { createLogger } from "../logger.js";

export interface ProxyOptions {
  config?: string;
  mode?: string;
  upstream?: string;
  talos?: string;
  listen?: string;
  metricsListen?: string;
  cacheTtl?: string;
  cacheMaxSize?: string;
  trustXForwardedHost?: boolean;
  allowedHosts?: string;
  invalidation?: string;
  redis?: string;
}

/** `talos proxy` (docs/proxy.md): flags → TALOS_PROXY_* → the config file's `proxy` section. */
export async function proxyCommand(opts: ProxyOptions): Promise<number> {
  const env = processEnv();
  let config;
  try {
    config = loadProxyConfig({
      file: opts.config,
      env,
      overrides: {
        "proxy.mode": opts.mode,
        "proxy.upstream": opts.upstream,
        "proxy.talos": opts.talos,
        "proxy.listen": opts.listen,
        "proxy.metrics_listen": opts.metricsListen,
        "proxy.cache_ttl": opts.cacheTtl,
        "proxy.cache_max_size": opts.cacheMaxSize,
        "proxy.trust_x_forwarded_host": opts.trustXForwardedHost,
        "proxy.allowed_hosts": opts.allowedHosts,
        "proxy.invalidation": opts.invalidation,
        "proxy.redis.addrs": opts.redis,
      },
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const logger = createLogger({ level: env.TALOS_LOG_LEVEL ?? "info", format: env.TALOS_LOG_FORMAT ?? "json" });
  let proxy;
  try {
    proxy = await startProxy(config, logger);
  } catch (e) {
    const msg = e instanceof Error ? e.message : "start-up failed";
    logger.error({}, msg);
    logger.flush();
    process.stderr.write(`error: ${msg}\n`);
    return 1;
  }
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "proxy shutting down");
      await proxy.close();
      logger.flush();
      resolve(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });
  logger.info({ mode: config.mode, port: proxy.port, metrics_port: proxy.metricsPort, invalidation: config.invalidation }, "talos proxy is serving");
  void proxy.subscribed.then(() => logger.info({}, "invalidation feed connected"));
  if (env.TALOS_PRINT_PORTS === "1") process.stdout.write(`TALOS_PORTS ${proxy.port} ${proxy.metricsPort}\n`);
  return stopped;
}
