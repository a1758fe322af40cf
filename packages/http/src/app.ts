import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { randomUUID } from "node:crypto";
import { StatementTimeoutError, StoreUnavailableError, TalosError, isTalosError } from "@talos/core";
import { errorResponse } from "./errors.js";
import { createDispatcher, type AppEnv, type RouteDef } from "./router.js";
import type { Logger } from "./logger.js";
import type { AppDeps } from "./deps.js";

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const SECURITY_HEADERS: [string, string][] = [
  ["Strict-Transport-Security", "max-age=31536000; includeSubDomains"],
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "strict-origin-when-cross-origin"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
];

const VISIBLE_ASCII = /^[\x21-\x7e]{1,128}$/;

export interface RequestObserver {
  /** called once per request after the response is ready (logs, metrics) */
  (info: { method: string; route: string; path: string; status: number; durationMs: number; requestId: string; bytesIn: number; bytesOut: number }): void;
}


/** Maps any thrown value to the envelope; infrastructure causes are logged, never shown. */
export function toErrorResponse(err: unknown, logger: Logger, requestId?: string): Response {
  if (isTalosError(err)) return errorResponse(err);
  if (err instanceof StoreUnavailableError) return errorResponse(new TalosError("service_unavailable", "the database is unavailable"));
  if (err instanceof StatementTimeoutError) return errorResponse(new TalosError("gateway_timeout", "the database did not answer in time"));
  logger.error({ err: describeError(err), request_id: requestId }, "unhandled error");
  return errorResponse(new TalosError("internal_server_error", "internal error"));
}

/** Only the class name and a driver-free message: raw driver errors can carry bound parameters. */
function describeError(err: unknown): { type: string } {
  return { type: err instanceof Error ? err.constructor.name : typeof err };
}

/** The Hono plumbing both apps share: request id, security headers, body limit, errors, routing. */
export function createApp(deps: AppDeps, routes: RouteDef[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const corsConfig = deps.runtime.ctx.config.serve.http.cors;
  if (corsConfig.enabled) {
    app.use(
      cors({
        origin: corsConfig.allowed_origins,
        allowMethods: corsConfig.allowed_methods,
        allowHeaders: corsConfig.allowed_headers,
        exposeHeaders: corsConfig.exposed_headers,
        credentials: corsConfig.allow_credentials,
        maxAge: corsConfig.max_age || undefined,
      }),
    );
  }
  app.use(async (c, next) => {
    const started = performance.now();
    const given = c.req.header("x-request-id");
    const requestId = given && VISIBLE_ASCII.test(given) ? given : randomUUID();
    c.set("requestId", requestId);
    await next();
    const res = c.res;
    res.headers.set("X-Request-ID", requestId);
    for (const [k, v] of SECURITY_HEADERS) res.headers.set(k, v);
    deps.observeRequest?.({
      method: c.req.method,
      route: c.get("route") ?? "unmatched",
      path: c.req.path,
      status: res.status,
      durationMs: performance.now() - started,
      requestId,
      bytesIn: Number(c.req.header("content-length") ?? 0),
      bytesOut: Number(res.headers.get("content-length") ?? 0),
    });
  });
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => errorResponse(new TalosError("request_too_large", `request body exceeds ${MAX_BODY_BYTES} bytes`)),
    }),
  );
  app.onError((err, c) => toErrorResponse(err, deps.logger, c.get("requestId")));
  const dispatch = createDispatcher(routes);
  app.all("*", (c) => dispatch(c));
  return app;
}
