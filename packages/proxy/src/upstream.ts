import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Agent, type Dispatcher } from "undici";
import type { ProxyMetrics } from "./metrics.js";

// RFC 9110 7.6.1: connection-specific headers end at this hop.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"]);

export type HeaderMap = Record<string, string | string[]>;

/** The headers to send on: hop-by-hop ones (and those named in Connection) removed, `drop` too. */
export function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, drop: ReadonlySet<string> = new Set()): HeaderMap {
  const named = String(headers["connection"] ?? "")
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (v === undefined || HOP_BY_HOP.has(name) || named.includes(name) || drop.has(name)) continue;
    out[name] = v;
  }
  return out;
}

/** One upstream origin with pooled keep-alive connections (undici). */
export interface Upstream {
  readonly origin: string;
  readonly dispatcher: Dispatcher;
  /** path on the upstream for a request target of ours (the upstream URL's path is a prefix) */
  path(target: string): string;
  /** sends `req` on and streams the answer back; headers pass unchanged apart from hop-by-hop ones */
  forward(req: IncomingMessage, res: ServerResponse, opts?: { headers?: HeaderMap; target?: string; responseHeaders?: HeaderMap }): Promise<void>;
  /** a buffered request (verify, health): status, headers, body */
  send(method: "GET" | "POST", target: string, headers: HeaderMap, body?: Buffer): Promise<{ status: number; headers: HeaderMap; body: Buffer }>;
  close(): Promise<void>;
}

export function createUpstream(base: string, metrics: ProxyMetrics): Upstream {
  const url = new URL(base);
  const prefix = url.pathname.replace(/\/+$/, "");
  // connections are reused across requests; bodyTimeout 0: streamed downloads may pause
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 256, bodyTimeout: 0, headersTimeout: 30_000 });
  const origin = url.origin;
  const path = (target: string) => prefix + target;

  async function timed<T extends { statusCode: number }>(p: Promise<T>): Promise<T> {
    const end = metrics.upstreamLatency.startTimer();
    try {
      const r = await p;
      metrics.upstreamRequests.inc({ status: String(r.statusCode) });
      return r;
    } catch (e) {
      metrics.upstreamRequests.inc({ status: "error" });
      throw e;
    } finally {
      end();
    }
  }

  return {
    origin,
    dispatcher,
    path,
    async forward(req, res, opts = {}) {
      const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
      const end = metrics.upstreamLatency.startTimer();
      let answered = false;
      try {
        // stream(): undici writes the answer straight into `res` (its fast path for proxying)
        await dispatcher.stream(
          {
            origin,
            path: path(opts.target ?? req.url ?? "/"),
            method: req.method as Dispatcher.HttpMethod,
            headers: opts.headers ?? endToEnd(req.headers),
            body: hasBody ? req : null,
          },
          ({ statusCode, headers }) => {
            answered = true;
            end();
            metrics.upstreamRequests.inc({ status: String(statusCode) });
            res.writeHead(statusCode, { ...endToEnd(headers as HeaderMap), ...opts.responseHeaders });
            return res;
          },
        );
      } catch (e) {
        if (!answered) {
          end();
          metrics.upstreamRequests.inc({ status: "error" });
        }
        throw e;
      }
    },
    async send(method, target, headers, body) {
      const r = await timed(dispatcher.request({ origin, path: path(target), method, headers, body: body ?? null }));
      const chunks: Buffer[] = [];
      for await (const c of r.body) chunks.push(c as Buffer);
      return { status: r.statusCode, headers: r.headers as HeaderMap, body: Buffer.concat(chunks) };
    },
    close: () => dispatcher.close(),
  };
}
