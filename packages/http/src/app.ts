import type { IncomingMessage } from "node:http";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { TalosError } from "@talos/core";
import { MAX_BODY_BYTES } from "./body.js";
import { clientAbortStatus } from "./client-error.js";
import type { AppDeps } from "./deps.js";
import { createPathRedactor } from "./log-path.js";
import { completeResponse, errorResponse, requestIdFor, toTalosError } from "./respond.js";
import { createDispatcher, type AppEnv, type RouteDef } from "./router.js";

/** What the shared plumbing reads of the dependencies (a cluster primary has no more than this). */
export type ShellDeps = Pick<AppDeps, "logger" | "observeRequest" | "inFlight"> & { http: Pick<AppDeps["http"], "cors"> };

/** A `.` or `..` segment, literal or percent-encoded (`%2e`, `.%2E`, ...), in a path before its query. */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?=[/?#]|$)/i;

const DOT_SEGMENT_MESSAGE = "request path has a '.' or '..' segment (also percent-encoded); paths are matched as sent";

/** True when the request target, as sent, has a dot segment (URL parsing would resolve it away). */
export function hasDotSegment(target: string): boolean {
  const q = target.indexOf("?");
  return DOT_SEGMENT.test(q === -1 ? target : target.slice(0, q));
}

/** The IncomingMessage @hono/node-server passes as env (undefined under app.request in tests). */
function incomingOf(env: unknown): IncomingMessage | undefined {
  return (env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/** The Hono plumbing both apps share: request id, security headers, body limit, errors, routing. */
export function createApp(deps: ShellDeps, routes: RouteDef[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const corsConfig = deps.http.cors;
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
    const bytesOut = completeResponse(c.res, requestId);
    const route = c.get("route") ?? "unmatched";
    const path = c.req.path;
    deps.observeRequest?.({
      method: c.req.method,
      route,
      path: path === route ? path : logPath(path),
      status: c.res.status,
      durationMs: performance.now() - started,
      requestId,
      bytesIn: Number(c.req.header("content-length") ?? 0),
      bytesOut,
    });
  });
  // The URL Hono sees has its dot segments resolved (also %2e%2e): a path is matched as sent, so
  // `/v2alpha1/apiKeys:selfRevoke/%2e%2e/admin/issuedApiKeys` must not reach the admin route.
  app.use((c, next) => {
    const target = incomingOf(c.env)?.url;
    if (target === undefined || !hasDotSegment(target)) return next();
    return Promise.resolve(errorResponse(new TalosError("bad_request", DOT_SEGMENT_MESSAGE)));
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
  app.onError((err, c) => {
    // a body read cut by the request timeout or by the client leaving is no server error: the
    // request is recorded as 408 (the client got that envelope already) or 499, with no answer
    const incoming = incomingOf(c.env);
    const aborted = incoming && clientAbortStatus(incoming);
    if (aborted) return new Response(null, { status: aborted });
    return errorResponse(toTalosError(err, deps.logger, c.get("requestId")));
  });
  const dispatch = createDispatcher(routes);
  app.all("*", (c) => dispatch(c));
  return app;
}
