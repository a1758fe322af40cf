import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { randomUUID } from "node:crypto";
import { StatementTimeoutError, StoreUnavailableError, TalosError, isTalosError, type Config } from "@talos/core";
import { BODY_BYTES, jsonWithHeaderFields, type SizedResponse } from "./body.js";
import { errorResponse } from "./errors.js";
import { createDispatcher, type AppEnv, type Ctx, type RouteDef } from "./router.js";
import { createPathRedactor } from "./log-path.js";
import type { Logger } from "./logger.js";
import type { AppDeps } from "./deps.js";
import type { PlainResponse } from "./fast-route.js";

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export const SECURITY_HEADERS: [string, string][] = [
  ["Strict-Transport-Security", "max-age=31536000; includeSubDomains"],
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "strict-origin-when-cross-origin"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
];

/** Marks responses that already carry X-Request-ID and the security headers (jsonResponse). */
const COMPLETE = Symbol("talos.completeHeaders");

/**
 * json() with the request id and security headers already in its one plain header object, so the
 * middleware adds nothing afterwards and @hono/node-server writes the head directly (hot routes).
 */
export function jsonResponse(c: Ctx, status: number, body: unknown, headers?: Record<string, string>): Response {
  // same values as SECURITY_HEADERS; a literal keeps one fast object shape
  const fields: Record<string, string> = {
    "content-type": "application/json",
    "x-request-id": c.get("requestId"),
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  };
  if (headers) for (const k in headers) fields[k] = headers[k]!;
  const res = jsonWithHeaderFields(status, body, fields) as SizedResponse & { [COMPLETE]?: true };
  res[COMPLETE] = true;
  return res;
}

/** A handler's PlainResponse as a complete Response (the Hono side of a FastRoute). */
export function sendPlain(c: Ctx, out: PlainResponse): Response {
  return jsonResponse(c, out.status, out.body, out.headers);
}

const VISIBLE_ASCII = /^[\x21-\x7e]{1,128}$/;

/** The client's X-Request-ID when it is 1 to 128 visible ASCII characters, else a fresh UUID. */
export function requestIdFor(given: string | undefined): string {
  return given && VISIBLE_ASCII.test(given) ? given : randomUUID();
}

export interface RequestObserver {
  /** called once per request after the response is ready (logs, metrics) */
  /** `path`: the request path with every segment that is not a route literal or a key id replaced by `*` */
  (info: { method: string; route: string; path: string; status: number; durationMs: number; requestId: string; bytesIn: number; bytesOut: number }): void;
}


/** Maps any thrown value to the envelope; infrastructure causes are logged, never shown. */
export function toErrorResponse(err: unknown, logger: Logger, requestId?: string): Response {
  return errorResponse(toTalosError(err, logger, requestId));
}

/** The TalosError a thrown value answers as: infrastructure failures map to 503/504, the rest to 500. */
export function toTalosError(err: unknown, logger: Logger, requestId?: string): TalosError {
  if (isTalosError(err)) return err;
  if (err instanceof StoreUnavailableError) return new TalosError("service_unavailable", "the database is unavailable");
  if (err instanceof StatementTimeoutError) return new TalosError("gateway_timeout", "the database did not answer in time");
  logger.error({ err: describeError(err), request_id: requestId }, "unhandled error");
  return new TalosError("internal_server_error", "internal error");
}

/** Only the class name and a driver-free message: raw driver errors can carry bound parameters. */
function describeError(err: unknown): { type: string } {
  return { type: err instanceof Error ? err.constructor.name : typeof err };
}

/** What the shared plumbing reads of the dependencies (a cluster primary has no more than this). */
export type ShellDeps = Pick<AppDeps, "logger" | "observeRequest" | "inFlight"> & {
  runtime: { ctx: { config: { serve: { http: { cors: Config["serve"]["http"]["cors"] } } } } };
};

/** The Hono plumbing both apps share: request id, security headers, body limit, errors, routing. */
export function createApp(deps: ShellDeps, routes: RouteDef[]): Hono<AppEnv> {
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
  const logPath = createPathRedactor(routes);
  app.use(async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFor(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    deps.inFlight?.inc();
    try {
      await next();
    } finally {
      deps.inFlight?.dec();
    }
    const res = c.res as SizedResponse & { [COMPLETE]?: true };
    if (res[COMPLETE] !== true) {
      res.headers.set("X-Request-ID", requestId);
      for (const [k, v] of SECURITY_HEADERS) res.headers.set(k, v);
    }
    const route = c.get("route") ?? "unmatched";
    const path = c.req.path;
    deps.observeRequest?.({
      method: c.req.method,
      route,
      path: path === route ? path : logPath(path),
      status: res.status,
      durationMs: performance.now() - started,
      requestId,
      bytesIn: Number(c.req.header("content-length") ?? 0),
      bytesOut: res[BODY_BYTES] ?? Number(res.headers.get("content-length") ?? 0),
    });
  });
  const tooLarge = () => errorResponse(new TalosError("request_too_large", `request body exceeds ${MAX_BODY_BYTES} bytes`));
  const streamingLimit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });
  // hono's bodyLimit reads c.req.raw.body, which makes @hono/node-server build a full Request with
  // a web stream for every request (most of verify's CPU). Same rules, decided from the headers;
  // only bodies without a usable Content-Length (chunked, or app.request in tests) are streamed.
  app.use((c, next) => {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      return parseInt(length || "0", 10) > MAX_BODY_BYTES ? Promise.resolve(tooLarge()) : next();
    }
    return streamingLimit(c, next);
  });
  app.onError((err, c) => toErrorResponse(err, deps.logger, c.get("requestId")));
  const dispatch = createDispatcher(routes);
  app.all("*", (c) => dispatch(c));
  return app;
}
