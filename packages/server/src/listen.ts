import { Server, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { TalosError } from "@talos/core";
import { writeClientError, writeEarlyError, writeSocketError, type RequestObserver } from "@talos/http";
import { listenTls, type TlsFiles } from "./tls.js";

/** docs/server.md#processes-surfaces-and-ports limits: header read 5 s, request 15 s, keep-alive idle 60 s. */
export interface Timeouts {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
}
export const DEFAULT_TIMEOUTS: Timeouts = { headersMs: 5_000, requestMs: 15_000, keepAliveMs: 60_000 };

/**
 * How often node:http looks for connections past the header/request timeouts. Its default (30 s)
 * let slow clients hold a connection up to 30 s past the limit.
 */
const CHECK_INTERVAL_MS = 250;
/**
 * At drain start, idle keep-alive connections stay open this long (and at least one event-loop
 * poll) so a request already sent on one is read and answered, not reset by the close.
 */
const DRAIN_LINGER_MS = 100;

export interface ListenOptions {
  timeouts?: Partial<Timeouts>;
  /** told about requests node:http answered itself (parse errors, timeouts) */
  observeRequest?: RequestObserver;
  /** serve over TLS (serve.http.tls / serve.metrics.tls) */
  tls?: TlsFiles;
}

export interface Listening {
  server: Server;
  port: number;
  /** stops accepting, answers what arrived (Connection: close), waits up to graceMs, then cuts the rest */
  close(graceMs: number): Promise<void>;
}

/**
 * A node:http server that drains gracefully: node's close() destroys idle keep-alive connections at
 * once, resetting a request that is already on its way (in the socket buffer, not yet parsed).
 */
class DrainingServer extends Server {
  #holdIdle = false;
  readonly #sockets = new Set<Socket>();
  #draining = false;

  constructor(timeouts: Timeouts, listener: RequestListener) {
    super({
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
      // answered in the envelope by listen() instead of node's bare 400
      requireHostHeader: false,
    });
    this.on("request", (req, res) => {
      // during the drain every answer closes its connection, so no client sends another request on it
      if (this.#draining) res.shouldKeepAlive = false;
      listener(req, res);
    });
    this.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.once("close", () => this.#sockets.delete(s));
    });
  }

  override closeIdleConnections(): void {
    if (!this.#holdIdle) super.closeIdleConnections();
  }

  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    for (const s of this.#sockets) {
      const res = (s as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (res && !res.headersSent) res.shouldKeepAlive = false;
    }
    this.#holdIdle = true;
    const closed = new Promise<void>((resolve) => this.close(() => resolve()));
    await new Promise((r) => setTimeout(r, DRAIN_LINGER_MS));
    await new Promise((r) => setImmediate(r)); // after a poll phase: pending input has been read
    this.#holdIdle = false;
    this.closeIdleConnections();
    // a connection whose answer was under way at drain start turns idle only once it is sent
    const sweep = setInterval(() => this.closeIdleConnections(), 50);
    const timer = setTimeout(() => this.closeAllConnections(), graceMs);
    await closed;
    clearInterval(sweep);
    clearTimeout(timer);
  }
}

const NO_HOST = "an HTTP/1.1 request must carry a Host header";
const CONNECT = "the CONNECT method is not supported (this server is not a proxy)";

export async function listen(listener: RequestListener, host: string, port: number, opts: ListenOptions = {}): Promise<Listening> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const observe = (method: string, started: number, answer: { status: number; requestId: string; bytesOut: number }) => {
    const route = "unmatched";
    const { status, requestId, bytesOut } = answer;
    opts.observeRequest?.({ method, route, path: route, status, durationMs: performance.now() - started, requestId, bytesIn: 0, bytesOut });
  };
  const http11 = (req: IncomingMessage) => req.httpVersionMajor === 1 && req.httpVersionMinor === 1;
  const server = new DrainingServer(timeouts, (req, res) => {
    // node's requireHostHeader check (RFC 9112 §3.2), answered in the envelope before any routing
    if (req.headers.host === undefined && http11(req)) {
      observe(req.method ?? "UNKNOWN", performance.now(), writeEarlyError(req, res, new TalosError("bad_request", NO_HOST)));
      return;
    }
    listener(req, res);
  });
  server.on("clientError", (err: Error & { code?: string }, socket) => {
    const started = performance.now();
    const answer = writeClientError(err, socket);
    // a request whose handler runs (a timed-out body) is reported by that handler
    if (answer && !answer.req) observe("UNKNOWN", started, answer);
  });
  // an Expect other than 100-continue: node's own answer is a bare 417
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    const err = new TalosError("expectation_failed", `unsupported Expect header (only "100-continue" is)`);
    observe(req.method ?? "UNKNOWN", performance.now(), writeEarlyError(req, res, err));
  });
  // with no 'connect' listener node closes the connection without an answer
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    observe("CONNECT", performance.now(), writeSocketError(socket, new TalosError("bad_request", CONNECT), req.headers["x-request-id"]));
  });
  if (opts.tls) return listenTls(server, host, port, opts.tls);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve({ server, port: (server.address() as AddressInfo).port, close: (graceMs) => server.drain(graceMs) });
    });
  });
}
