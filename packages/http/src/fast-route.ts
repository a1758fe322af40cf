import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { RequestError, getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { MAX_BODY_BYTES, decodeBody, parseJsonObject } from "./body.js";
import type { AppDeps, RequestView } from "./deps.js";
import { clientAbortStatus } from "./client-error.js";
import { TalosError } from "@talos/core";
import { silentLogger, type Logger } from "./logger.js";
import { peerOf, type TlsSocketLike } from "./admin-auth/guard.js";
import { describeError, errorPlain, jsonResponse, requestIdFor, writeFallback, writePlain, type PlainResponse } from "./respond.js";

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
  const viaHono = honoListener(app, opts.hostname, opts.fast?.deps.logger ?? silentLogger);
  if (!opts.fast || opts.fast.routes.length === 0 || opts.fast.deps.http.cors.enabled) return viaHono;
  const { deps } = opts.fast;
  const byPath = new Map(opts.fast.routes.map((r) => [r.path, r]));
  return (req, res) => {
    const route = req.method === "POST" ? byPath.get(req.url ?? "") : undefined;
    const length = req.headers["content-length"];
    if (!route || length === undefined || req.headers["transfer-encoding"] !== undefined || !(Number(length) <= MAX_BODY_BYTES)) {
      return viaHono(req, res);
    }
    const view = new NodeRequestView(req);
    const requestId = requestIdFor(view.header("x-request-id"));
    serve(deps, route, req, res, view, requestId).catch((err: unknown) => {
      // a bug past the error mapping (writing the head, the request log): never an unhandled rejection
      deps.logger.error({ err: describeError(err), request_id: requestId }, "fast route failed");
      writeFallback(res, requestId);
    });
  };
}

/**
 * @hono/node-server's listener, except that a request target it cannot turn into a URL (`*`, no
 * leading `/`, a backslash in the path, a bad Host) gets the envelope, not its bare 400.
 */
function honoListener(app: Hono<any>, hostname: string | undefined, logger: Logger): RequestListener {
  // errorHandler gets no request: it runs synchronously inside the listener call, so this is it
  let current: IncomingMessage | undefined;
  const listener = getRequestListener(app.fetch, {
    hostname,
    errorHandler: (err) => {
      const given = current?.headers["x-request-id"];
      const requestId = requestIdFor(typeof given === "string" ? given : undefined);
      const refused = err instanceof RequestError ? new TalosError("bad_request", `invalid request target: ${err.message}`) : err;
      const out = errorPlain(refused, logger, requestId);
      return jsonResponse({ get: () => requestId }, out.status, out.body, { connection: "close" });
    },
  });
  return (req, res) => {
    current = req;
    try {
      return listener(req, res);
    } finally {
      current = undefined;
    }
  };
}

class NodeRequestView implements RequestView {
  readonly remoteAddress: string | undefined;
  readonly #req: IncomingMessage;
  constructor(req: IncomingMessage) {
    this.#req = req;
    this.remoteAddress = req.socket.remoteAddress;
  }
  /** the verified client certificate on a TLS connection (admin mTLS) */
  peerCertificate() {
    return peerOf(this.#req.socket as TlsSocketLike);
  }
  header(name: string): string | undefined {
    const v = this.#req.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
}

async function serve(
  deps: AppDeps,
  route: FastRoute,
  req: IncomingMessage,
  res: ServerResponse,
  view: RequestView,
  requestId: string,
): Promise<void> {
  const started = performance.now();
  const observe = (status: number, bytesIn: number, bytesOut: number) =>
    deps.observeRequest?.({
      method: "POST",
      route: route.path,
      path: route.path,
      status,
      durationMs: performance.now() - started,
      requestId,
      bytesIn,
      bytesOut,
    });
  deps.inFlight?.inc();
  let out: PlainResponse;
  try {
    out = await route.handle(parseJsonObject(decodeBody(await readBytes(req))), view);
  } catch (err) {
    if (err instanceof ClientClosed) {
      // nothing to answer: the client left before its body arrived (docs/wire.md#error-ids: logged only),
      // or the request timeout cut it and the client has its 408 already
      deps.inFlight?.dec();
      observe(clientAbortStatus(req) ?? 499, 0, 0);
      return;
    }
    out = errorPlain(err, deps.logger, requestId);
  }
  deps.inFlight?.dec();
  const bytesOut = writePlain(res, requestId, out);
  observe(out.status, Number(req.headers["content-length"]), bytesOut);
}

/** The body's bytes, as @hono/node-server reads a Content-Length body. */
function readBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("error", () => reject(new ClientClosed()));
    req.once("close", () => {
      if (!req.complete) reject(new ClientClosed());
    });
  });
}

class ClientClosed extends Error {}
