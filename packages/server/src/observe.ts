import type { Config } from "@talos/core";
import type { RequestObserver } from "@talos/http";

/** The fields of one "HTTP request completed" line (docs/server.md#health-version-metrics-and-logs). */
export interface RequestLine {
  method: string;
  route: string;
  path: string;
  status: number;
  bytes: number;
  duration_ms: number;
  request_id: string;
}

/** Every answered request: the metrics, the request log (serve.http.request_log rules), then `extra`. */
export function requestObserver(
  config: Config,
  metrics: RequestObserver,
  requestLog: ((line: RequestLine) => void) | undefined,
  extra: RequestObserver | undefined,
): RequestObserver {
  const skipHealth = config.serve.http.request_log.exclude_health_endpoints;
  return (r) => {
    metrics(r);
    if (requestLog && !(skipHealth && r.route.startsWith("/health/"))) {
      requestLog({
        method: r.method,
        route: r.route,
        path: r.path,
        status: r.status,
        bytes: r.bytesOut,
        duration_ms: Math.round(r.durationMs * 1000) / 1000,
        request_id: r.requestId,
      });
    }
    extra?.(r);
  };
}
