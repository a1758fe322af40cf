import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { ConfigurationError, StatementTimeoutError, StoreUnavailableError, TalosError, isTalosError } from "@talos/core";
import { envelope } from "./errors.js";
import type { Logger } from "./logger.js";

/**
 * The one way out (docs/architecture.md#habits): every response, from a Hono route or from the node:http
 * fast route, gets its status, error envelope, request id and security headers here.
 */

/** A handler's answer before it becomes a Response or is written to a socket. */
export interface PlainResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Once per request, after the response is ready (logs, metrics). */
export interface RequestObserver {
  /** `path`: the request path with every segment that is not a route literal or a key id replaced by `*` */
  (info: {
    method: string;
    route: string;
    path: string;
    status: number;
    durationMs: number;
    requestId: string;
    bytesIn: number;
    bytesOut: number;
  }): void;
}

export const SECURITY_HEADERS: [string, string][] = [
  ["Strict-Transport-Security", "max-age=31536000; includeSubDomains"],
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "strict-origin-when-cross-origin"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
];

const VISIBLE_ASCII = /^[\x21-\x7e]{1,128}$/;

/** The client's X-Request-ID when it is 1 to 128 visible ASCII characters, else a fresh UUID. */
export function requestIdFor(given: string | undefined): string {
  return given && VISIBLE_ASCII.test(given) ? given : randomUUID();
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
export function describeError(err: unknown): { type: string } {
  return { type: err instanceof Error ? err.constructor.name : typeof err };
}

/** The envelope of an error; a 500 shows its message only when it names a setting to fix. */
export function errorBody(err: TalosError) {
  return envelope(err.id, err.message, err.metadata, err instanceof ConfigurationError);
}

/** Any thrown value as a PlainResponse in the envelope (infrastructure causes logged, never shown). */
export function errorPlain(err: unknown, logger: Logger, requestId?: string): PlainResponse {
  const body = errorBody(toTalosError(err, logger, requestId));
  return { status: body.error.code, body };
}

// ---- Hono side -------------------------------------------------------------------------------

/** Body size of a response built here (a Response has no Content-Length until it is written). */
export const BODY_BYTES = Symbol("talos.bodyBytes");
/** Marks responses that already carry X-Request-ID and the security headers (jsonResponse). */
const COMPLETE = Symbol("talos.completeHeaders");
export type SizedResponse = Response & { [BODY_BYTES]?: number; [COMPLETE]?: true };

/** A JSON response from a complete plain header object, which @hono/node-server writes as is. */
export function jsonWithHeaderFields(status: number, body: unknown, fields: Record<string, string>): SizedResponse {
  const text = JSON.stringify(body);
  const res: SizedResponse = new Response(text, { status, headers: fields });
  res[BODY_BYTES] = Buffer.byteLength(text);
  return res;
}

/** A JSON response; the shared middleware adds the request id and security headers (completeResponse). */
export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  const fields: Record<string, string> = {};
  if (headers) for (const k in headers) fields[k] = headers[k]!;
  fields["content-type"] = "application/json";
  return jsonWithHeaderFields(status, body, fields);
}

export function empty(status: number): Response {
  return new Response(null, { status });
}

/** An error in the envelope as a Response; completed by the shared middleware like json(). */
export function errorResponse(err: TalosError, headers?: Record<string, string>): Response {
  const body = errorBody(err);
  const h = new Headers(headers);
  h.set("Content-Type", "application/json");
  return new Response(JSON.stringify(body), { status: body.error.code, headers: h });
}

/**
 * json() with the request id and security headers already in its one plain header object, so the
 * middleware adds nothing afterwards and @hono/node-server writes the head directly (hot routes).
 */
export function jsonResponse(c: { get(key: "requestId"): string }, status: number, body: unknown, headers?: Record<string, string>): Response {
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
  const res = jsonWithHeaderFields(status, body, fields);
  res[COMPLETE] = true;
  return res;
}

/** A handler's PlainResponse as a complete Response (the Hono side of a FastRoute). */
export function sendPlain(c: { get(key: "requestId"): string }, out: PlainResponse): Response {
  return jsonResponse(c, out.status, out.body, out.headers);
}

/** Adds the request id and security headers to a response that lacks them; its body size. */
export function completeResponse(res: Response, requestId: string): number {
  const r = res as SizedResponse;
  if (r[COMPLETE] !== true) {
    r.headers.set("X-Request-ID", requestId);
    for (const [k, v] of SECURITY_HEADERS) r.headers.set(k, v);
  }
  return r[BODY_BYTES] ?? Number(r.headers.get("content-length") ?? 0);
}

// ---- node:http side --------------------------------------------------------------------------

/** Writes a PlainResponse to a node:http response (the fast route); returns the body's byte count. */
export function writePlain(res: ServerResponse, requestId: string, out: PlainResponse): number {
  const text = JSON.stringify(out.body);
  const bytesOut = Buffer.byteLength(text);
  // SECURITY_HEADERS spelled out (same names and values, same bytes on the wire): no loop and no array growth per response
  const head = [
    "content-type",
    "application/json",
    "x-request-id",
    requestId,
    "Strict-Transport-Security",
    "max-age=31536000; includeSubDomains",
    "X-Frame-Options",
    "DENY",
    "X-Content-Type-Options",
    "nosniff",
    "Referrer-Policy",
    "strict-origin-when-cross-origin",
    "Content-Security-Policy",
    "default-src 'none'; frame-ancestors 'none'",
  ];
  if (out.headers) for (const k in out.headers) head.push(k, out.headers[k]!);
  head.push("content-length", String(bytesOut));
  if (!res.destroyed) {
    res.writeHead(out.status, head);
    res.end(text);
  }
  return bytesOut;
}

/**
 * The last resort when writing failed part-way (a bug past the error mapping): a bare 500 envelope
 * if no head went out yet, else the connection is cut so the client never takes a partial answer.
 */
export function writeFallback(res: ServerResponse, requestId: string): void {
  if (!res.headersSent) {
    // the failed attempt may have set headers (writeHead stores them before validating the next)
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    writePlain(res, requestId, { status: 500, body: envelope("internal_server_error", "") });
  } else if (!res.writableEnded) res.destroy();
}
