import { AsyncResource } from "node:async_hooks";
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
  /** a plain answer when nothing had to wait (a warm verify): it is written without a promise */
  handle(body: Record<string, unknown>, req: RequestView): PlainResponse | Promise<PlainResponse>;
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
    new FastExchange(deps, route, req, res, view, requestIdFor(view.header("x-request-id"))).start();
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

/**
 * One fast-route request, driven by the body's stream events rather than promises: a handler that
 * answers synchronously (a warm verify) is written in the same turn as the body's last chunk, with
 * no promise or microtask on the way. A handler that returns a promise is awaited as before.
 */
class FastExchange {
  readonly #started = performance.now();
  readonly #chunks: Buffer[] = [];
  /** the body arrived, or the client left before it did: later stream events change nothing */
  #settled = false;

  constructor(
    readonly deps: AppDeps,
    readonly route: FastRoute,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly view: RequestView,
    readonly requestId: string,
  ) {}

  start(): void {
    this.deps.inFlight?.inc();
    const req = this.req;
    let onEnd = () => this.#body();
    let onClosed = () => this.#closed();
    // Stream events run in the socket's async context, not the listener's: where request state
    // lives in AsyncLocalStorage (the tracing span), carry the listener's context over, as the
    // await on the body did before. Off by default: an AsyncResource per request is not free.
    if (this.deps.asyncContext) {
      const scope = new AsyncResource("talos.fastRoute");
      onEnd = scope.bind(onEnd);
      onClosed = scope.bind(onClosed);
    }
    // as @hono/node-server reads a Content-Length body
    req.on("data", (c: Buffer) => this.#chunks.push(c));
    req.once("end", onEnd);
    req.once("error", onClosed);
    req.once("close", () => {
      if (!req.complete) onClosed();
    });
  }

  #body(): void {
    if (this.#settled) return;
    this.#settled = true;
    const chunks = this.#chunks;
    let out: PlainResponse | Promise<PlainResponse>;
    try {
      out = this.route.handle(parseJsonObject(decodeBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))), this.view);
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (o) => this.#answer(o),
        (err: unknown) => this.#fail(err),
      );
    } else this.#answer(out);
  }

  /** nothing to answer: the client left before its body arrived (docs/wire.md#error-ids: logged only), or the request timeout cut it and the client has its 408 already */
  #closed(): void {
    if (this.#settled) return;
    this.#settled = true;
    try {
      this.deps.inFlight?.dec();
      this.#observe(clientAbortStatus(this.req) ?? 499, 0, 0);
    } catch (err) {
      this.#broken(err);
    }
  }

  /** a thrown or rejected handler: the error mapping's answer */
  #fail(err: unknown): void {
    let out: PlainResponse;
    try {
      out = errorPlain(err, this.deps.logger, this.requestId);
    } catch (e) {
      this.#broken(e);
      return;
    }
    this.#answer(out);
  }

  #answer(out: PlainResponse): void {
    try {
      this.deps.inFlight?.dec();
      const bytesOut = writePlain(this.res, this.requestId, out);
      this.#observe(out.status, Number(this.req.headers["content-length"]), bytesOut);
    } catch (err) {
      this.#broken(err);
    }
  }

  /** a bug past the error mapping (writing the head, the request log): answered, never thrown into node:http's events */
  #broken(err: unknown): void {
    this.deps.logger.error({ err: describeError(err), request_id: this.requestId }, "fast route failed");
    writeFallback(this.res, this.requestId);
  }

  #observe(status: number, bytesIn: number, bytesOut: number): void {
    this.deps.observeRequest?.({
      method: "POST",
      route: this.route.path,
      path: this.route.path,
      status,
      durationMs: performance.now() - this.#started,
      requestId: this.requestId,
      bytesIn,
      bytesOut,
    });
  }
}
