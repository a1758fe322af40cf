import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { MAX_BODY_BYTES, SECURITY_HEADERS, requestIdFor, toTalosError } from "./app.js";
import { parseJsonObject } from "./body.js";
import { envelope } from "./errors.js";
import type { AppDeps, RequestView } from "./deps.js";

/** A handler's answer before it becomes a Response or is written to a socket. */
export interface PlainResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * A POST route served straight from node:http, ahead of Hono: verification is every customer
 * request's hot path, and Hono's Request/Response adaption costs more than the verification itself.
 * `handle` must be the very function the route's Hono handler calls, so both paths answer alike
 * (test/http/fast-route.test.ts compares them request by request).
 */
export interface FastRoute {
  path: string;
  handle(body: Record<string, unknown>, req: RequestView): Promise<PlainResponse>;
}

/**
 * The node:http listener for an app: requests for a fast route with a plain Content-Length body
 * are served directly; everything else (other methods and paths, query strings, percent-encoded or
 * chunked requests, oversized bodies, CORS) goes through Hono unchanged.
 */
export function createRequestListener(
  app: Hono<any>,
  opts: { hostname?: string; fast?: { routes: FastRoute[]; deps: AppDeps } } = {},
): RequestListener {
  // hostname: the URL host of requests that arrive without a Host header, as @hono/node-server's serve() sets it
  const viaHono = getRequestListener(app.fetch, { hostname: opts.hostname });
  if (!opts.fast || opts.fast.routes.length === 0 || opts.fast.deps.runtime.ctx.config.serve.http.cors.enabled) return viaHono;
  const { deps } = opts.fast;
  const byPath = new Map(opts.fast.routes.map((r) => [r.path, r]));
  return (req, res) => {
    const route = req.method === "POST" ? byPath.get(req.url ?? "") : undefined;
    const length = req.headers["content-length"];
    if (!route || length === undefined || req.headers["transfer-encoding"] !== undefined || !(Number(length) <= MAX_BODY_BYTES)) {
      return viaHono(req, res);
    }
    serve(deps, route, req, res).catch((err: unknown) => {
      // a bug past the error mapping (writing the head, the request log): never an unhandled rejection
      deps.logger.error({ err: { type: err instanceof Error ? err.constructor.name : typeof err } }, "fast route failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify(envelope("internal_server_error", "")));
      else if (!res.writableEnded) res.destroy();
    });
  };
}

class NodeRequestView implements RequestView {
  readonly remoteAddress: string | undefined;
  readonly #req: IncomingMessage;
  constructor(req: IncomingMessage) {
    this.#req = req;
    this.remoteAddress = req.socket.remoteAddress;
  }
  header(name: string): string | undefined {
    const v = this.#req.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
}

async function serve(deps: AppDeps, route: FastRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const view = new NodeRequestView(req);
  const requestId = requestIdFor(view.header("x-request-id"));
  const observe = (status: number, bytesIn: number, bytesOut: number) =>
    deps.observeRequest?.({ method: "POST", route: route.path, path: route.path, status, durationMs: performance.now() - started, requestId, bytesIn, bytesOut });
  deps.inFlight?.inc();
  let out: PlainResponse;
  try {
    out = await route.handle(parseJsonObject(await readText(req)), view);
  } catch (err) {
    if (err instanceof ClientClosed) {
      // nothing to answer: the client left before its body arrived (docs/wire.md#error-ids: logged only)
      deps.inFlight?.dec();
      observe(499, 0, 0);
      return;
    }
    const e = toTalosError(err, deps.logger, requestId);
    const body = envelope(e.id, e.message, e.metadata);
    out = { status: body.error.code, body };
  }
  deps.inFlight?.dec();
  const text = JSON.stringify(out.body);
  const bytesOut = Buffer.byteLength(text);
  const head = ["content-type", "application/json", "x-request-id", requestId];
  for (const [k, v] of SECURITY_HEADERS) head.push(k, v);
  if (out.headers) for (const k in out.headers) head.push(k, out.headers[k]!);
  head.push("content-length", String(bytesOut));
  if (!res.destroyed) {
    res.writeHead(out.status, head);
    res.end(text);
  }
  observe(out.status, Number(req.headers["content-length"]), bytesOut);
}

/** The body as UTF-8 text without its byte-order mark, as @hono/node-server decodes a Content-Length body. */
function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.once("end", () => {
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8");
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
    req.once("error", () => reject(new ClientClosed()));
    req.once("close", () => {
      if (!req.complete) reject(new ClientClosed());
    });
  });
}

class ClientClosed extends Error {}
